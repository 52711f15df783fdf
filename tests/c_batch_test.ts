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

Deno.test("SDK guests are portable by default; LIBBPF_WASM_BATCH builds name the extension they need", async () => {
  const modules = async (dir: string, file: string) => {
    const wasm = `${await buildGuest(dir)}/${file}`;
    const m = new WebAssembly.Module(await Deno.readFile(wasm));
    return new Set(WebAssembly.Module.imports(m).map((i) => i.module));
  };
  // a default build (tests/guests/gen-api uses bpf_buffer__open/__poll)
  const plain = await modules("tests/guests/gen-api", "gen_api.wasm");
  assert.deepEqual([...plain].sort(), ["wasi_snapshot_preview1", "wasm_bpf"]);
  // the examples are built with the batch macro: the import says so, and a
  // host without it refuses the guest at instantiation, never silently
  const batch = await modules("examples/bootstrap", "bootstrap.wasm");
  assert(batch.has("wasm_bpf_ext"), [...batch].join(", "));
});
