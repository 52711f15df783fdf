// Root-free: tiered binding against libc (getpid, strlen, usleep).
import * as assert from "node:assert/strict";
import { HOT_CALLS, tieredLibrary } from "./tiered.ts";

const TABLE = {
  getpid: { parameters: [], result: "i32" },
  strlen: { parameters: ["buffer"], result: "usize" },
  no_such_symbol_here: { parameters: [], result: "i32" },
  usleep: { parameters: ["u32"], result: "i32", nonblocking: true },
} as const;

/** A libc table whose compiled binds are counted. */
function counted() {
  const opened: string[] = [];
  const lib = tieredLibrary("libc.so.6", TABLE, {
    libc: "libc.so.6",
    open: (one) => {
      opened.push(...Object.keys(one));
      return Deno.dlopen("libc.so.6", one).symbols;
    },
  });
  return { lib, opened };
}

Deno.test("tiered: a symbol runs on the general path, then compiled once hot", () => {
  const { lib, opened } = counted();
  const first = lib.getpid;
  for (let i = 1; i < HOT_CALLS; i++) {
    assert.equal(lib.getpid(), Deno.pid);
  }
  assert.deepEqual(opened, [], "nothing compiled before the symbol is hot");
  assert.equal(lib.getpid(), Deno.pid); // the HOT_CALLS-th call
  assert.deepEqual(opened, ["getpid"]);
  assert.notEqual(
    lib.getpid,
    first,
    "the table now holds the compiled symbol",
  );
  for (let i = 0; i < 10; i++) assert.equal(lib.getpid(), Deno.pid);
  // a caller that kept the first function reaches the compiled one
  assert.equal(first(), Deno.pid);
  assert.deepEqual(opened, ["getpid"], "compiled once");
});

Deno.test("tiered: buffers and 64-bit results pass on both paths", () => {
  const { lib } = counted();
  const s = new TextEncoder().encode("wasm-bpf\0");
  for (let i = 0; i < HOT_CALLS + 5; i++) {
    assert.equal(Number(lib.strlen(s)), 8);
  }
});

Deno.test("tiered: a missing symbol fails with the caller's error, where it is used", () => {
  const { lib, opened } = counted();
  assert.throws(() => lib.no_such_symbol_here(), Error);
  assert.deepEqual(opened, ["no_such_symbol_here"]);
  assert.equal(lib.getpid(), Deno.pid, "the other symbols still work");
});

Deno.test("tiered: a missing library fails at the probe with the caller's error", () => {
  class Missing extends Error {}
  assert.throws(
    () =>
      tieredLibrary("/nonexistent/libnothing.so", TABLE, {
        libc: "libc.so.6",
        probe: "getpid",
        open: (one) => {
          try {
            return Deno.dlopen("/nonexistent/libnothing.so", one).symbols;
          } catch (e) {
            throw new Missing(String(e));
          }
        },
      }),
    Missing,
  );
});

Deno.test("tiered: a nonblocking symbol is bound compiled at once", async () => {
  const { lib, opened } = counted();
  const r = lib.usleep(1000);
  assert.ok(r instanceof Promise);
  assert.equal(await r, 0);
  assert.deepEqual(opened, ["usleep"]);
});
