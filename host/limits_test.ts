// Root-free: capMemory on hand-made modules, judged by what the compiled
// module then allows (initial size, memory.grow past the cap).
import * as assert from "node:assert/strict";
import { capMemory, leb } from "./limits.ts";

const PAGE = 65536;
const HEADER = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];

function section(id: number, content: number[]): number[] {
  return [id, ...leb(content.length), ...content];
}

/** A module defining one memory (flags, min, max?) exported as "mem". */
function moduleWithMemory(flags: number, min: number, max?: number) {
  const limits = [flags, ...leb(min), ...(max === undefined ? [] : leb(max))];
  return new Uint8Array([
    ...HEADER,
    ...section(5, [1, ...limits]),
    ...section(7, [1, 3, 0x6d, 0x65, 0x6d, 0x02, 0]), // export "mem"
  ]);
}

function memoryOf(wasm: Uint8Array): WebAssembly.Memory {
  const inst = new WebAssembly.Instance(
    new WebAssembly.Module(wasm as Uint8Array<ArrayBuffer>),
  );
  return inst.exports.mem as WebAssembly.Memory;
}

/** How many pages the memory can reach by growing one page at a time. */
function reachablePages(mem: WebAssembly.Memory, limit = 4096): number {
  for (let i = 0; i < limit; i++) {
    try {
      mem.grow(1);
    } catch {
      break;
    }
  }
  return mem.buffer.byteLength / PAGE;
}

Deno.test("capMemory: a module without a memory section is returned unchanged", () => {
  const empty = new Uint8Array(HEADER);
  assert.equal(capMemory(empty, PAGE), empty);
  // an imported memory is the embedder's to size: unchanged too
  const imported = new Uint8Array([
    ...HEADER,
    ...section(2, [1, 3, 0x65, 0x6e, 0x76, 3, 0x6d, 0x65, 0x6d, 0x02, 0, 1]),
  ]);
  new WebAssembly.Module(imported); // valid
  assert.equal(capMemory(imported, PAGE), imported);
});

Deno.test("capMemory: an unbounded memory gets the cap as its maximum", () => {
  const wasm = moduleWithMemory(0x00, 1);
  assert.ok(reachablePages(memoryOf(wasm), 40) > 20, "the original grows");
  const capped = capMemory(wasm, 4 * PAGE);
  const mem = memoryOf(capped);
  assert.equal(mem.buffer.byteLength, PAGE);
  assert.equal(reachablePages(mem), 4);
});

Deno.test("capMemory: a maximum above the cap is lowered, one below it kept", () => {
  assert.equal(
    reachablePages(
      memoryOf(capMemory(moduleWithMemory(0x01, 1, 100), 8 * PAGE)),
    ),
    8,
  );
  assert.equal(
    reachablePages(memoryOf(capMemory(moduleWithMemory(0x01, 1, 2), 8 * PAGE))),
    2,
  );
  // sizes whose LEB128 length changes (the section is re-encoded and the
  // sections after it still parse: the export is found)
  const big = capMemory(moduleWithMemory(0x01, 200, 70000), 300 * PAGE);
  const mem = memoryOf(big);
  assert.equal(mem.buffer.byteLength, 200 * PAGE);
  assert.equal(reachablePages(mem), 300);
  // a cap below one page still allows one page
  assert.equal(
    reachablePages(memoryOf(capMemory(moduleWithMemory(0x00, 0), 100))),
    1,
  );
});

Deno.test("capMemory: a module that needs more than the cap to start is refused", () => {
  assert.throws(
    () => capMemory(moduleWithMemory(0x00, 20), 16 * PAGE),
    /needs 1280 KiB of memory to start, more than the 1024 KiB allowed/,
  );
  // exactly at the cap is fine
  assert.equal(
    memoryOf(capMemory(moduleWithMemory(0x00, 16), 16 * PAGE)).buffer
      .byteLength,
    16 * PAGE,
  );
});

Deno.test("capMemory: shared and 64-bit memories are refused, not left uncapped", () => {
  assert.throws(
    () => capMemory(moduleWithMemory(0x03, 1, 100), 4 * PAGE),
    /memory 0 is shared or 64-bit \(flags 3\)/,
  );
  assert.throws(
    () => capMemory(moduleWithMemory(0x04, 1), 4 * PAGE),
    /shared or 64-bit \(flags 4\)/,
  );
});

Deno.test("capMemory: truncated input is refused", () => {
  assert.throws(() => capMemory(new Uint8Array(4), PAGE), /not a WebAssembly/);
  const wasm = moduleWithMemory(0x00, 1);
  assert.throws(
    () => capMemory(wasm.subarray(0, HEADER.length + 3), PAGE),
    /truncated/,
  );
  assert.throws(
    () => capMemory(new Uint8Array([...HEADER, 5, 0x80, 0x80]), PAGE),
    /truncated LEB128/,
  );
});
