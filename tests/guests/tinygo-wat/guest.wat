;; A guest shaped like the ones TinyGo builds (no exported function table):
;; it imports callback-wrapper.wasm_bpf_buffer_poll and receives each record
;; through its export "go-callback". Hand-written so that the host's TinyGo
;; path is tested without TinyGo (which Debian does not package).
;;
;; Prints, through WASI fd_write on stdout:
;;   loaded / attached / polling
;;   event ctx=4660 len=24 magic=1623261166 pid=PID comm=COMM   (per record)
;; and on stderr "poll error -ERRNO" (exit 1) or, when the host says EINTR,
;; "interrupted" (exit 0). Any failure before polling exits 1.
;;
;; scripts/build-sdk.sh wat replaces the marker line below with a data
;; segment holding probe.bpf.o at 16384 and the globals $obj_ptr, $obj_len.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit"
    (func $proc_exit (param i32)))
  (import "wasm_bpf" "wasm_load_bpf_object"
    (func $load (param i32 i32) (result i64)))
  (import "wasm_bpf" "wasm_attach_bpf_program"
    (func $attach (param i64 i32 i32) (result i32)))
  (import "wasm_bpf" "wasm_bpf_map_fd_by_name"
    (func $map_fd (param i64 i32) (result i32)))
  (import "wasm_bpf" "wasm_close_bpf_object"
    (func $close (param i64) (result i32)))
  (import "callback-wrapper" "wasm_bpf_buffer_poll"
    (func $poll (param i64 i32 i32 i32 i32 i32) (result i32)))

  (memory (export "memory") 4)

  ;; scratch: iovec at 0, nwritten at 8, digits at 16..40,
  ;; record buffer at 64 (DATA_MAX 256 bytes)
  (data (i32.const 1024) "on_exec\00")
  (data (i32.const 1040) "events\00")
  (data (i32.const 1056) "loaded\0a")            ;; 7
  (data (i32.const 1072) "attached\0a")          ;; 9
  (data (i32.const 1088) "polling\0a")           ;; 8
  (data (i32.const 1104) "load failed\0a")       ;; 12
  (data (i32.const 1120) "attach error ")        ;; 13
  (data (i32.const 1136) "map error ")           ;; 10
  (data (i32.const 1152) "poll error ")          ;; 11
  (data (i32.const 1168) "interrupted\0a")       ;; 12
  (data (i32.const 1184) "event ctx=")           ;; 10
  (data (i32.const 1200) " len=")                ;; 5
  (data (i32.const 1208) " magic=")              ;; 7
  (data (i32.const 1216) " pid=")                ;; 5
  (data (i32.const 1224) " comm=")               ;; 6
  (data (i32.const 1232) "\0a")                  ;; 1
  (data (i32.const 1236) "-")                    ;; 1
  ;; @BPF_OBJECT_DATA@

  (global $handle (mut i64) (i64.const 0))

  (func $write (param $fd i32) (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8))))

  (func $print (param $ptr i32) (param $len i32)
    (call $write (i32.const 1) (local.get $ptr) (local.get $len)))

  ;; decimal of an unsigned 32-bit value to fd
  (func $write_u32 (param $fd i32) (param $n i32)
    (local $p i32)
    (local.set $p (i32.const 40))
    (loop $digits
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p)
        (i32.add (i32.const 48) (i32.rem_u (local.get $n) (i32.const 10))))
      (local.set $n (i32.div_u (local.get $n) (i32.const 10)))
      (br_if $digits (local.get $n)))
    (call $write (local.get $fd) (local.get $p) (i32.sub (i32.const 40) (local.get $p))))

  ;; "-N" for a negative errno result
  (func $write_err (param $r i32)
    (call $write (i32.const 2) (i32.const 1236) (i32.const 1))
    (call $write_u32 (i32.const 2) (i32.sub (i32.const 0) (local.get $r)))
    (call $write (i32.const 2) (i32.const 1232) (i32.const 1)))

  (func $fail (param $msg i32) (param $len i32) (param $r i32)
    (call $write (i32.const 2) (local.get $msg) (local.get $len))
    (call $write_err (local.get $r))
    (if (i64.ne (global.get $handle) (i64.const 0))
      (then (drop (call $close (global.get $handle)))))
    (call $proc_exit (i32.const 1)))

  ;; the TinyGo callback: (ctx, data, len) -> 0 to go on
  (func (export "go-callback") (param $ctx i32) (param $data i32) (param $len i32) (result i32)
    (local $n i32)
    (call $print (i32.const 1184) (i32.const 10))
    (call $write_u32 (i32.const 1) (local.get $ctx))
    (call $print (i32.const 1200) (i32.const 5))
    (call $write_u32 (i32.const 1) (local.get $len))
    (if (i32.ge_u (local.get $len) (i32.const 24))
      (then
        (call $print (i32.const 1208) (i32.const 7))
        (call $write_u32 (i32.const 1) (i32.load (local.get $data)))
        (call $print (i32.const 1216) (i32.const 5))
        (call $write_u32 (i32.const 1) (i32.load offset=4 (local.get $data)))
        (call $print (i32.const 1224) (i32.const 6))
        ;; comm: up to 16 bytes, NUL-terminated
        (block $end
          (loop $scan
            (br_if $end (i32.ge_u (local.get $n) (i32.const 16)))
            (br_if $end (i32.eqz (i32.load8_u offset=8
              (i32.add (local.get $data) (local.get $n)))))
            (local.set $n (i32.add (local.get $n) (i32.const 1)))
            (br $scan)))
        (call $print (i32.add (local.get $data) (i32.const 8)) (local.get $n))))
    (call $print (i32.const 1232) (i32.const 1))
    (i32.const 0))

  (func (export "_start")
    (local $fd i32)
    (local $r i32)
    (global.set $handle (call $load (global.get $obj_ptr) (global.get $obj_len)))
    (if (i64.eqz (global.get $handle))
      (then
        (call $write (i32.const 2) (i32.const 1104) (i32.const 12))
        (call $proc_exit (i32.const 1))))
    (call $print (i32.const 1056) (i32.const 7))
    (local.set $r (call $attach (global.get $handle) (i32.const 1024) (i32.const 0)))
    (if (i32.lt_s (local.get $r) (i32.const 0))
      (then (call $fail (i32.const 1120) (i32.const 13) (local.get $r))))
    (call $print (i32.const 1072) (i32.const 9))
    (local.set $fd (call $map_fd (global.get $handle) (i32.const 1040)))
    (if (i32.lt_s (local.get $fd) (i32.const 0))
      (then (call $fail (i32.const 1136) (i32.const 10) (local.get $fd))))
    (call $print (i32.const 1088) (i32.const 8))
    (loop $forever
      ;; ctx 0x1234 comes back as the callback's first argument
      (local.set $r (call $poll (global.get $handle) (local.get $fd)
        (i32.const 0x1234) (i32.const 64) (i32.const 256) (i32.const 100)))
      (if (i32.eq (local.get $r) (i32.const -4))
        (then
          (call $write (i32.const 2) (i32.const 1168) (i32.const 12))
          (drop (call $close (global.get $handle)))
          (call $proc_exit (i32.const 0))))
      (if (i32.lt_s (local.get $r) (i32.const 0))
        (then (call $fail (i32.const 1152) (i32.const 11) (local.get $r))))
      (br $forever)))
)
