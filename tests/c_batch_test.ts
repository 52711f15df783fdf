/**
 * The C SDK's bpf_buffer__poll_batch (libbpf-wasm.h over the host's
 * wasm_bpf_ext.wasm_bpf_buffer_poll_batch) on the real kernel: every record
 * once and in order, records after a callback's stop kept for the next
 * call, and fewer host calls than records.
 */
import assert from "node:assert/strict";
import { assertNoBpfLeaks, bpfSnapshot, buildGuest } from "./util.ts";
import { Tool } from "../examples/tool_test_util.ts";

const libc = Deno.dlopen("libc.so.6", {
  getppid: { parameters: [], result: "i32" },
});

Deno.test("C SDK batch polling: all records, in order, none lost after a stop", async () => {
  const before = bpfSnapshot();
  const wasm = `${await buildGuest("tests/guests/batch")}/batch.wasm`;
  const tool = new Tool(wasm, [String(Deno.pid), "500", "100"]);
  await tool.waitFor(/^ready/);
  for (let i = 0; i < 500; i++) libc.symbols.getppid();
  const res = await tool.wait(20_000);
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stdout, /got=500 out_of_order=0 stops=1 fewer_calls=1/);
  await assertNoBpfLeaks(before);
});
