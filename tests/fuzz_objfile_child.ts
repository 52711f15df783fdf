/**
 * The child process of tests/fuzz_objfile_test.ts: opens (and closes) BPF
 * objects with libbpf, one after another, so that a libbpf crash kills this
 * process and not the test. Reads a file of length-prefixed objects (u32
 * little-endian length, then the bytes) named by its first argument and
 * prints the index of each object before opening it, so the parent knows
 * which object was being opened when the process died.
 *
 *   deno run --allow-ffi --allow-read --allow-env tests/fuzz_objfile_child.ts FILE [FIRST]
 *
 * @module
 */
import { BpfObject } from "../ffi/mod.ts";

const [file, first = "0"] = Deno.args;
const all = Deno.readFileSync(file);
const view = new DataView(all.buffer);
const enc = new TextEncoder();
let off = 0;
for (let i = 0; off + 4 <= all.length; i++) {
  const len = view.getUint32(off, true);
  const bytes = all.subarray(off + 4, off + 4 + len);
  off += 4 + len;
  if (i < Number(first)) continue;
  Deno.stdout.writeSync(enc.encode(`${i}\n`));
  try {
    BpfObject.open(bytes, { name: `mutant${i}`, logger: () => {} }).close();
  } catch {
    // a refusal is fine; only a crash counts
  }
}
Deno.stdout.writeSync(enc.encode("done\n"));
