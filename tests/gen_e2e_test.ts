/**
 * End to end through the real host (`mod.ts app.wasm`) and kernel: the
 * gen-basic guest sets .rodata, .data and .bss globals through its generated
 * skeleton before load, turns off autoload of its fentry program (which this
 * kernel refuses), loads and attaches, then reads the internal maps back
 * from the kernel, gets a Linux ENOENT as its libc's ENOENT, and reads a
 * ring-buffer record with the types header while the test runs processes.
 */
import assert from "node:assert/strict";
import { assertNoBpfLeaks, bpfSnapshot, buildGuest, runCli } from "./util.ts";

async function ensureTracefs() {
  try {
    Deno.statSync("/sys/kernel/tracing/events");
  } catch {
    await new Deno.Command("mount", {
      args: ["-t", "tracefs", "tracefs", "/sys/kernel/tracing"],
    }).output();
  }
}

Deno.test("globals set before load reach the kernel; records read with gen types", async () => {
  await ensureTracefs();
  const dir = await buildGuest("tests/guests/gen-basic");
  const before = bpfSnapshot();
  // processes to exec while the guest waits for a record
  let running = true;
  const spawner = (async () => {
    while (running) {
      await new Deno.Command("/bin/true").output();
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  let r;
  try {
    r = await runCli([`${dir}/gen_basic.wasm`], { timeoutMs: 30_000 });
  } finally {
    running = false;
    await spawner;
  }
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  // the record may come as soon as the buffer opens, or later
  const all = r.stdout.trim().split("\n");
  const event = all.filter((l) => l.startsWith("event "));
  assert.equal(event.length, 1, r.stdout);
  assert.match(
    event[0],
    /^event kind=1 pid=[1-9]\d* comm_len=[1-9]\d* ts_nonzero=1$/,
  );
  const lines = all.filter((l) => !l.startsWith("event "));
  const [maybe, load, busy, ...rest] = lines;
  assert.equal(maybe, "maybe_autoload 0");
  assert.equal(load, "load 0", r.stderr);
  assert.match(busy, /^autoload_after_load -\d+$/);
  assert.equal(rest[0], "attach 0");
  // read back from the kernel's .rodata/.bss maps
  assert.equal(
    rest[1],
    "rodata_lookup 0 min_duration_ns=123456789 verbose=1 prefix=xyz",
  );
  assert.equal(rest[2], "bss_lookup 0 bss_total_ge=1 inner_s=-7");
  assert.equal(rest[3], "missing_key 1");
  assert.equal(rest[4], "buffer ok");
  assert.equal(rest[5], "events_seen 1");
  assert.equal(rest[6], "data_lookup 0 data_counter_ge=1");
  assert.equal(rest[7], "done");
  await assertNoBpfLeaks(before);
});
