;; The guest's wasm_bpf_map_operate import (host/maps.ts holds these bytes,
;; wat2wasm --enable-all; tests/gate_test.ts checks that they match).
;;
;; It calls through a one-entry table. At first, and whenever the gate is
;; off, the entry is $split: a JavaScript import with an i64 parameter
;; gets a new BigInt on every call, so $split passes the flags to the
;; JavaScript path ("host" "op") as two i32 halves (low, high). Once the
;; guest's memory is known, host/gate.ts may put the gate's "op"
;; (host/gate.wat) in the entry. The table is exported to the host only.
(module
  (type $op (func (param i32 i32 i32 i32 i32 i64) (result i32)))
  (import "host" "op"
    (func $js (param i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (table $t (export "table") 1 1 funcref)
  (elem (table $t) (i32.const 0) func $split)
  (func $split (export "slow") (type $op)
    (call $js (local.get 0) (local.get 1) (local.get 2) (local.get 3)
      (local.get 4) (i32.wrap_i64 (local.get 5))
      (i32.wrap_i64 (i64.shr_u (local.get 5) (i64.const 32)))))
  (func (export "wasm_bpf_map_operate") (type $op)
    (call_indirect $t (type $op) (local.get 0) (local.get 1) (local.get 2)
      (local.get 3) (local.get 4) (local.get 5) (i32.const 0))))
