/**
 * What each layer of a guest's map operation costs on the host: wall, user
 * and system time per call, with and without the system call, for
 *  - the fast-path FFI call (`native/fastpath.c`) alone,
 *  - the `wasm_bpf_map_operate` import called from TypeScript (checks,
 *    policy, then `BpfMap`'s raw operation, i.e. that call),
 *  - a wasm loop calling the `wasm_bpf_map_operate` import.
 * Command 9 is invalid: it measures the layers without the system call.
 *
 *   deno run -A bench/layers.ts [maps.bpf.o] [N]
 *
 * The wasm module, from this text (wat2wasm):
 *
 * ```wat
 * (module
 *   (import "wasm_bpf" "wasm_bpf_map_operate"
 *     (func $op (param i32 i32 i32 i32 i32 i64) (result i32)))
 *   (memory (export "memory") 2)
 *   (func (export "loop") (param $fd i32) (param $cmd i32) (param $n i32) (result i32)
 *     (local $i i32) (local $acc i32)
 *     (block $done (loop $l
 *       (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
 *       (local.set $acc (i32.or (local.get $acc)
 *         (call $op (local.get $fd) (local.get $cmd) (i32.const 1024)
 *                   (i32.const 2048) (i32.const 0) (i64.const 0))))
 *       (local.set $i (i32.add (local.get $i) (i32.const 1)))
 *       (br $l)))
 *     (local.get $acc)))
 * ```
 *
 * @module
 */
import process from "node:process";
import { WasmBpfHost } from "../mod.ts";
import { fastPath } from "../ffi/native.ts";

const LOOP_WASM =
  "AGFzbQEAAAABEgJgBn9/f39/fgF/YAN/f38BfwIhAQh3YXNtX2JwZhR3YXNtX2JwZl9tYXBfb3BlcmF0ZQAAAwIBAQUDAQACBxECBm1lbW9yeQIABGxvb3AAAQozATEBAn8CQANAIAMgAk8NASAEIAAgAUGACEGAEEEAQgAQAHIhBCADQQFqIQMMAAsLIAQL";

const root = new URL("..", import.meta.url).pathname;
const objPath = Deno.args[0] ?? `${root}build/bench/guests/maps/maps.bpf.o`;
const N = Number(Deno.args[1] ?? 500_000);

const host = new WasmBpfHost({ name: "layers", log: () => {} });
// the imports, called from here exactly as the guest calls them
const abi = host.imports().wasm_bpf as unknown as {
  wasm_load_bpf_object(ptr: number, len: number): bigint;
  wasm_bpf_map_fd_by_name(handle: bigint, name: number): number;
  wasm_bpf_map_operate(
    fd: number,
    cmd: number,
    key: number,
    value: number,
    next: number,
    flags: bigint,
  ): number;
};
const instance = new WebAssembly.Instance(
  new WebAssembly.Module(
    Uint8Array.from(atob(LOOP_WASM), (c) => c.charCodeAt(0)),
  ),
  { wasm_bpf: abi as unknown as WebAssembly.ModuleImports },
);
host.bind(instance);
const memory = instance.exports.memory as WebAssembly.Memory;
const loop = instance.exports.loop as (
  fd: number,
  cmd: number,
  n: number,
) => number;

// the object goes into guest memory, as a guest would hand it over
const elf = Deno.readFileSync(objPath);
const at = memory.grow(Math.ceil(elf.length / 65536)) * 65536;
new Uint8Array(memory.buffer).set(elf, at);
const handle = abi.wasm_load_bpf_object(at, elf.length);
if (!handle) throw new Error(`cannot load ${objPath}`);
new Uint8Array(memory.buffer).set(new TextEncoder().encode("hmap\0"), 4096);
const fd = abi.wasm_bpf_map_fd_by_name(handle, 4096);
new DataView(memory.buffer).setUint32(1024, 42, true); // key 42 at 1024
if (abi.wasm_bpf_map_operate(fd, 2, 1024, 2048, 0, 0n) !== 0) {
  throw new Error("update failed");
}

const fast = fastPath();
const base = Number(
  Deno.UnsafePointer.value(
    Deno.UnsafePointer.of(new Uint8Array(memory.buffer)),
  ),
);
const split = (a: number) => [a % 2 ** 32, Math.floor(a / 2 ** 32)];
const [klo, khi] = split(base + 1024), [vlo, vhi] = split(base + 2048);

function bench(name: string, f: () => void) {
  f(); // warm-up
  const c0 = process.cpuUsage();
  const t = performance.now();
  f();
  const wall = (performance.now() - t) * 1e6 / N;
  const c = process.cpuUsage(c0);
  console.log(
    `${name.padEnd(40)} ${wall.toFixed(0).padStart(5)} ns wall ${
      (c.user * 1e3 / N).toFixed(0).padStart(5)
    } ns user ${(c.system * 1e3 / N).toFixed(0).padStart(5)} ns system`,
  );
}

console.log(`${N} calls each; fast path ${fast ? "present" : "absent"}`);
for (
  const [cmd, what] of [[9, "checks only"], [1, "lookup"], [
    2,
    "update",
  ]] as const
) {
  if (fast) {
    bench(`fast-path FFI call, ${what}`, () => {
      for (let i = 0; i < N; i++) {
        fast.wasm_bpf_fast_map_op_abs(fd, cmd, klo, khi, vlo, vhi, 0, 0, 0);
      }
    });
  }
  bench(`wasm_bpf_map_operate from TS, ${what}`, () => {
    for (let i = 0; i < N; i++) {
      abi.wasm_bpf_map_operate(fd, cmd, 1024, 2048, 0, 0n);
    }
  });
  bench(`wasm → wasm_bpf_map_operate, ${what}`, () => loop(fd, cmd, N));
}
host.close();
