/**
 * For tests/gate_test.ts: what this process's V8 does with the map gate's
 * import of the fast path. Prints `{ flag, direct }`: whether
 * `wasmFastApi()` reads `--wasm-fast-api` from how deno was started, and
 * whether V8 calls the fast path directly from the gate's optimized code
 * (the gate's `probe` export, called until V8 has optimized it, throws
 * TypeError on a receiver that is not the global object only then).
 *
 *   deno run -A [--v8-flags=...] tests/gate_probe_child.ts [args...]
 *
 * @module
 */
import { GATE_WASM, wasmFastApi } from "../host/gate.ts";
import { fastPath } from "../ffi/native.ts";
import { statsMemory } from "../host/metrics/stats.ts";

const fast = fastPath();
if (!fast) throw new Error("the fast path is not built (scripts/setup.sh)");
const instance = new WebAssembly.Instance(new WebAssembly.Module(GATE_WASM), {
  g: {
    memory: new WebAssembly.Memory({ initial: 1 }),
    stats: statsMemory(),
    receiver: new WebAssembly.Global(
      { value: "externref" as WebAssembly.ValueType, mutable: false },
      globalThis,
    ),
    fast: Function.prototype.call.bind(fast.wasm_bpf_fast_map_op_i32),
    lo: new WebAssembly.Global({ value: "i32", mutable: true }, 0),
    hi: new WebAssembly.Global({ value: "i32", mutable: true }, 0),
    pages: new WebAssembly.Global({ value: "i32", mutable: true }, -1),
    slow: () => -22,
    rebase: () => {},
  },
});
const probe = instance.exports.probe as (receiver: unknown) => number;
let direct = false;
for (let i = 0; i < 400_000 && !direct; i++) {
  try {
    if (probe({}) !== -22) throw new Error("command -1 did not give -EINVAL");
  } catch (e) {
    if (!(e instanceof TypeError)) throw e;
    direct = true;
  }
}
console.log(JSON.stringify({ flag: wasmFastApi(), direct }));
