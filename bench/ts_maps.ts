/**
 * Map-operation benchmark through the TypeScript eBPF layer (no Wasm):
 * N updates then N lookups of one existing key of the hash map of
 * `maps.bpf.o`, with the raw calls (`updateRaw`/`lookupRaw` at fixed
 * addresses, what the Wasm host uses) and, with `alloc`, also the
 * convenience calls (`update`/`lookup`, which allocate).
 *
 *   deno run --allow-ffi --allow-read --allow-env bench/ts_maps.ts maps.bpf.o [N] [raw|alloc]
 *
 * @module
 */
import { BpfObject, UpdateFlags } from "../mod.ts";

const [path, count = "1000000", mode = "raw"] = Deno.args;
if (!path || (mode !== "raw" && mode !== "alloc")) {
  console.error("usage: ts_maps.ts maps.bpf.o [N] [raw|alloc]");
  Deno.exit(2);
}
const n = Number(count);
using obj = BpfObject.openFile(path);
obj.load();
const map = obj.map("hmap");

const key = new Uint8Array(new Uint32Array([42]).buffer);
const value = new BigUint64Array([1n]);
const valueBytes = new Uint8Array(value.buffer);
const addr = (b: Uint8Array) =>
  Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(b)));
const keyAddr = addr(key);
const valueAddr = addr(valueBytes);
map.update(key, valueBytes, UpdateFlags.ANY);

let errors = 0;
let sum = 0n;
const ns = (ms: number) => (ms * 1e6 / n).toFixed(2);
const t0 = performance.now();
for (let i = 0; i < n; i++) {
  value[0] = BigInt(i);
  if (map.updateRaw(keyAddr, valueAddr, 0) !== 0) errors++;
}
const t1 = performance.now();
for (let i = 0; i < n; i++) {
  if (map.lookupRaw(keyAddr, valueAddr, 0) !== 0) errors++;
  sum += value[0];
}
const t2 = performance.now();
// "alloc" also times the allocating API (the bench's user-time column
// needs the default run to do the same 2 × N operations as the others)
if (mode === "alloc") {
  for (let i = 0; i < n; i++) map.update(key, valueBytes);
  const t3 = performance.now();
  for (let i = 0; i < n; i++) if (!map.lookup(key)) errors++;
  const t4 = performance.now();
  console.log(`update_alloc_ns_per_op=${ns(t3 - t2)}`);
  console.log(`lookup_alloc_ns_per_op=${ns(t4 - t3)}`);
}

console.log(`update_ns_per_op=${ns(t1 - t0)}`);
console.log(`lookup_ns_per_op=${ns(t2 - t1)}`);
console.log(`errors=${errors} checksum=${sum}`);
if (errors) Deno.exit(1);
