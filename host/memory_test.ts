// Root-free: GuestMemory's bounds checks against a real WebAssembly.Memory.
import * as assert from "node:assert/strict";
import { GuestFault, GuestMemory } from "./memory.ts";

const PAGE = 65536;

Deno.test("GuestMemory: in bounds up to exactly the end, not a byte past it", () => {
  const g = new GuestMemory(new WebAssembly.Memory({ initial: 1 }));
  assert.equal(g.size, PAGE);
  g.check(1, PAGE - 1, "x");
  g.check(PAGE - 8, 8, "x");
  g.check(PAGE, 0, "x"); // empty range at the end
  assert.equal(g.view(PAGE - 4, 4, "x").length, 4);
  assert.throws(() => g.check(PAGE - 8, 9, "x"), GuestFault);
  assert.throws(() => g.check(PAGE, 1, "x"), GuestFault);
  assert.throws(() => g.view(PAGE - 3, 4, "x"), GuestFault);
});

Deno.test("GuestMemory: NULL, negative lengths and pointers, ranges past 2^32", () => {
  const g = new GuestMemory(new WebAssembly.Memory({ initial: 1 }));
  assert.throws(() => g.check(0, 1, "x"), /\(NULL\)/);
  assert.throws(() => g.check(0, 0, "x"), GuestFault); // NULL even if empty
  assert.throws(() => g.check(16, -1, "x"), GuestFault);
  assert.throws(() => g.check(16, -PAGE, "x"), GuestFault);
  // an i32 pointer that is negative is a u32 near 4 GiB
  assert.throws(() => g.check(-16, 8, "x"), /\[4294967280, 4294967288\)/);
  // ptr + len past 2^32 does not wrap around to a small address
  assert.throws(() => g.check(0xfffffff0, 0x20, "x"), GuestFault);
  assert.throws(() => g.check(1, 0xffffffff, "x"), GuestFault);
  assert.throws(() => g.check(PAGE - 8, 2 ** 32 + 8, "x"), GuestFault);
  // the message names what and of what
  assert.throws(
    () => g.check(PAGE, 4, "lookup in map: key of", "counts"),
    /^GuestFault: lookup in map: key of 'counts': \[65536, 65540\) is outside the guest's 65536-byte memory$/,
  );
});

Deno.test("GuestMemory: growth is seen, and views read the new buffer", () => {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 4 });
  const g = new GuestMemory(memory);
  g.check(8, 8, "x");
  assert.throws(() => g.check(PAGE, 8, "x"), GuestFault);
  memory.grow(1);
  assert.equal(g.size, 2 * PAGE);
  g.check(PAGE, 8, "x");
  new Uint8Array(memory.buffer).set([1, 2, 3], PAGE + 5);
  assert.deepEqual([...g.view(PAGE + 5, 3, "x")], [1, 2, 3]);
  assert.equal(g.bytes.buffer, memory.buffer);
  assert.throws(() => g.check(2 * PAGE, 1, "x"), GuestFault);
});

Deno.test("GuestMemory: a shared memory grows without detaching and is still seen", () => {
  const memory = new WebAssembly.Memory({
    initial: 1,
    maximum: 4,
    shared: true,
  });
  const g = new GuestMemory(memory);
  g.check(8, 8, "x"); // takes its view
  memory.grow(2);
  g.check(2 * PAGE, PAGE, "x"); // the last byte of the grown memory
  assert.throws(() => g.check(3 * PAGE, 1, "x"), GuestFault);
});

Deno.test("GuestMemory: cstring stops at NUL, refuses unterminated or outside strings", () => {
  const memory = new WebAssembly.Memory({ initial: 1 });
  const g = new GuestMemory(memory);
  const bytes = new Uint8Array(memory.buffer);
  bytes.set(new TextEncoder().encode("héllo\0rest"), 100);
  assert.equal(g.cstring(100, "x"), "héllo");
  bytes.fill(0x41, 200, 300);
  assert.throws(
    () => g.cstring(200, "name", 50),
    /not NUL-terminated within 50/,
  );
  assert.equal(g.cstring(200, "name", 100), "A".repeat(100));
  bytes.fill(0x41, PAGE - 10, PAGE); // runs into the end of memory
  assert.throws(() => g.cstring(PAGE - 10, "x"), /within 10 bytes/);
  assert.throws(() => g.cstring(0, "x"), /outside/);
  assert.throws(() => g.cstring(PAGE, "x"), /outside/);
});

Deno.test("GuestMemory: address() is the native address of the checked offset", () => {
  const memory = new WebAssembly.Memory({ initial: 1 });
  const g = new GuestMemory(memory);
  const a = g.address(64, 8, "x");
  const b = g.address(128, 8, "x");
  assert.equal(b - a, 64);
  assert.equal(g.baseLo + g.baseHi * 2 ** 32, a - 64);
  assert.throws(() => g.address(PAGE, 1, "x"), GuestFault);
});
