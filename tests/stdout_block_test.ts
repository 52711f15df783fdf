/**
 * A guest blocked writing to a full stdout pipe (the embedder spawned it
 * with stdout "piped" and never reads) is woken by a stop: it ends
 * promptly, interrupted, not ended at the grace period; nothing of its
 * stays in the kernel. Under the native watchdog and in the Worker that
 * runs guests without it (`WASM_BPF_WATCHDOG=off`).
 */
import assert from "node:assert/strict";
import { assertNoBpfLeaks, bpfSnapshot, buildGuest } from "./util.ts";
import { spawn } from "../mod.ts";

const gaps = async () =>
  `${await buildGuest("tests/guests/sandbox-gaps")}/gaps.wasm`;

/** Resolves once the stream has said `word`, then drains it. */
async function said(
  stream: ReadableStream<Uint8Array> | null,
  word: string,
): Promise<void> {
  assert(stream, "stderr is not piped");
  let text = "";
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the guest ended before '${word}': ${text}`);
    text += value;
    if (text.includes(word)) break;
  }
  (async () => {
    while (!(await reader.read()).done) { /* drained */ }
  })();
}

for (const watchdog of ["on", "off"]) {
  Deno.test(`a guest blocked on a full stdout pipe stops at SIGINT, well within the grace period (watchdog ${watchdog})`, async () => {
    const wasm = await gaps();
    const before = bpfSnapshot();
    const graceMs = 5000;
    const old = Deno.env.get("WASM_BPF_WATCHDOG");
    if (watchdog === "off") Deno.env.set("WASM_BPF_WATCHDOG", "off");
    let guest;
    try {
      guest = spawn(wasm, {
        args: ["print"],
        stdout: "piped", // never read: the pipe fills and stays full
        stderr: "piped",
        graceMs,
      });
    } finally {
      if (old === undefined) Deno.env.delete("WASM_BPF_WATCHDOG");
      else Deno.env.set("WASM_BPF_WATCHDOG", old);
    }
    try {
      await said(guest.stderr, "ready");
      // long enough to fill a 64 KiB pipe many times over
      await new Promise((r) => setTimeout(r, 500));
      const t0 = Date.now();
      guest.kill("SIGINT");
      const status = await guest.status;
      const ms = Date.now() - t0;
      console.log(`stopped in ${ms} ms: ${JSON.stringify(status)}`);
      assert.equal(status.kind, "interrupted", JSON.stringify(status));
      assert.equal(status.signal, "SIGINT");
      assert(!status.forced, `ended at the grace period: ${status.message}`);
      assert(ms < 2000, `took ${ms} ms to stop, grace ${graceMs} ms`);
      await assertNoBpfLeaks(before);
    } finally {
      await guest.stdout?.cancel();
      await guest[Symbol.asyncDispose]();
    }
  });
}
