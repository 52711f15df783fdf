;; The map-operation gate: wasm_bpf_map_operate checked in wasm and passed
;; straight to native/fastpath.c as a V8 fast API call, with no JavaScript
;; in between. host/gate.ts holds these bytes (wat2wasm --enable-all) and
;; tests/gate_test.ts checks that they match this text.
;;
;; Anything this gate does not handle itself goes to $slow, the JavaScript
;; path (host/maps.ts), which checks everything again and reports the
;; error: an fd that is no map of this guest's open objects (or >= 4096),
;; a pointer outside the guest's memory or NULL, flags above 32 bits, a
;; command the descriptor does not allow (writes the policy refuses, maps
;; whose values carry fds, any write while auditing), an unknown command.
;;
;; Descriptors, one per kernel fd below 4096, 16 bytes at fd*16 of $desc
;; (written by host/gate.ts while objects load and close):
;;   +0 allowed commands, bit 1<<cmd (0: not a map of this guest)
;;   +4 key size, +8 value buffer size
;; The guest cannot reach $desc or $stats: they are not exported to it.
(module
  (type $op (func (param i32 i32 i32 i32 i32 i64) (result i32)))
  (import "g" "memory" (memory $guest 0))
  (import "g" "stats" (memory $stats 1 1 shared))
  (import "g" "receiver" (global $receiver externref))
  ;; the guest memory's address and its size in pages when last taken
  ;; (host/gate.ts sets them in $rebase; pages starts at -1: never taken)
  (import "g" "lo" (global $lo (mut i32)))
  (import "g" "hi" (global $hi (mut i32)))
  (import "g" "pages" (global $pages (mut i32)))
  (import "g" "fast"
    (func $fast (param externref i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "g" "slow" (func $slow (type $op)))
  (import "g" "rebase" (func $rebase))
  (memory $desc (export "desc") 1 1)

  ;; The checks are written out in place (no calls): each case checks that
  ;; [ptr, ptr+size) lies inside the guest's memory of $size bytes and
  ;; that ptr is not NULL, bumps its counter (a Float64Array slot of
  ;; host/metrics/stats.ts: 3 lookups, 4 updates, 5 deletes, 6 next keys)
  ;; and calls native/fastpath.c.
  (func (export "op") (type $op)
    (local $d i32) (local $ks i32) (local $vs i32) (local $size i64)
    (block $slow
      ;; an fd with a descriptor, 32-bit flags, a command it allows
      (br_if $slow (i32.ge_u (local.get 0) (i32.const 4096)))
      (br_if $slow (i64.ne (i64.shr_u (local.get 5) (i64.const 32))
        (i64.const 0)))
      (br_if $slow (i32.ge_u (local.get 1) (i32.const 5)))
      (local.set $d (i32.shl (local.get 0) (i32.const 4)))
      (br_if $slow (i32.eqz (i32.and (i32.load $desc (local.get $d))
        (i32.shl (i32.const 1) (local.get 1)))))
      (local.set $ks (i32.load $desc offset=4 (local.get $d)))
      (local.set $vs (i32.load $desc offset=8 (local.get $d)))
      ;; the memory grew (and may have moved) since its address was taken
      (if (i32.ne (memory.size $guest) (global.get $pages))
        (then (call $rebase)))
      (local.set $size
        (i64.shl (i64.extend_i32_u (global.get $pages)) (i64.const 16)))
      (block $next (block $delete (block $write (block $lookup
        (br_table $slow $lookup $write $delete $next (local.get 1)))
        ;; 1: lookup
        (br_if $slow (i32.or (i32.eqz (local.get 2))
          (i64.gt_u (i64.add (i64.extend_i32_u (local.get 2))
            (i64.extend_i32_u (local.get $ks))) (local.get $size))))
        (br_if $slow (i32.or (i32.eqz (local.get 3))
          (i64.gt_u (i64.add (i64.extend_i32_u (local.get 3))
            (i64.extend_i32_u (local.get $vs))) (local.get $size))))
        (f64.store $stats offset=24 (i32.const 0)
          (f64.add (f64.load $stats offset=24 (i32.const 0)) (f64.const 1)))
        (return (call $fast (global.get $receiver) (local.get 0)
          (i32.const 1) (global.get $lo) (global.get $hi) (local.get 2) (local.get 3)
          (i32.const 0) (i32.wrap_i64 (local.get 5)))))
        ;; 2: update
        (br_if $slow (i32.or (i32.eqz (local.get 2))
          (i64.gt_u (i64.add (i64.extend_i32_u (local.get 2))
            (i64.extend_i32_u (local.get $ks))) (local.get $size))))
        (br_if $slow (i32.or (i32.eqz (local.get 3))
          (i64.gt_u (i64.add (i64.extend_i32_u (local.get 3))
            (i64.extend_i32_u (local.get $vs))) (local.get $size))))
        (f64.store $stats offset=32 (i32.const 0)
          (f64.add (f64.load $stats offset=32 (i32.const 0)) (f64.const 1)))
        (return (call $fast (global.get $receiver) (local.get 0)
          (i32.const 2) (global.get $lo) (global.get $hi) (local.get 2) (local.get 3)
          (i32.const 0) (i32.wrap_i64 (local.get 5)))))
      ;; 3: delete
      (br_if $slow (i32.or (i32.eqz (local.get 2))
          (i64.gt_u (i64.add (i64.extend_i32_u (local.get 2))
            (i64.extend_i32_u (local.get $ks))) (local.get $size))))
      (f64.store $stats offset=40 (i32.const 0)
          (f64.add (f64.load $stats offset=40 (i32.const 0)) (f64.const 1)))
      (return (call $fast (global.get $receiver) (local.get 0)
          (i32.const 3) (global.get $lo) (global.get $hi) (local.get 2) (i32.const 0)
          (i32.const 0) (i32.wrap_i64 (local.get 5)))))
    ;; 4: next key (key 0: the first), flags ignored as on the slow path
    (br_if $slow (i32.and (i32.ne (local.get 2) (i32.const 0))
      (i32.or (i32.eqz (local.get 2))
          (i64.gt_u (i64.add (i64.extend_i32_u (local.get 2))
            (i64.extend_i32_u (local.get $ks))) (local.get $size)))))
    (br_if $slow (i32.or (i32.eqz (local.get 4))
          (i64.gt_u (i64.add (i64.extend_i32_u (local.get 4))
            (i64.extend_i32_u (local.get $ks))) (local.get $size))))
    (f64.store $stats offset=48 (i32.const 0)
          (f64.add (f64.load $stats offset=48 (i32.const 0)) (f64.const 1)))
    (return (call $fast (global.get $receiver) (local.get 0)
          (i32.const 4) (global.get $lo) (global.get $hi) (local.get 2) (i32.const 0)
          (local.get 4) (i32.const 0))))
    (call $slow (local.get 0) (local.get 1) (local.get 2) (local.get 3)
      (local.get 4) (local.get 5)))

  ;; for tests/gate_test.ts: whether $fast goes to C directly. Called with a
  ;; receiver that is not the global object, the direct call refuses it
  ;; (TypeError), while V8's generic call runs it (command 0: -EINVAL, no
  ;; system call). The host does not call it.
  (func (export "probe") (param $r externref) (result i32)
    (call $fast (local.get $r) (i32.const -1) (i32.const 0) (i32.const 0)
      (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0))))
