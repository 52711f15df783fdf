/**
 * bootstrap through the TypeScript eBPF layer (no Wasm): the object of
 * examples/bootstrap, its ring buffer walked by `openBufferReader`,
 * printing the same lines as the C example. Runs until SIGINT/SIGTERM.
 *
 *   deno run --allow-ffi --allow-read --allow-env bench/ts_bootstrap.ts bootstrap.bpf.o
 *
 * @module
 */
import { BpfObject, openBufferReader, Waiter } from "../mod.ts";

const path = Deno.args[0];
if (!path) {
  console.error("usage: ts_bootstrap.ts bootstrap.bpf.o");
  Deno.exit(2);
}
let exiting = false;
const stop = () => exiting = true;
Deno.addSignalListener("SIGINT", stop);
Deno.addSignalListener("SIGTERM", stop);

const out = (line: string) =>
  Deno.stdout.writeSync(new TextEncoder().encode(line + "\n"));
const text = new TextDecoder();
const cstring = (b: Uint8Array) => {
  const end = b.indexOf(0);
  return text.decode(end < 0 ? b : b.subarray(0, end));
};
const pad = (s: string | number, n: number) => String(s).padEnd(n);

using obj = BpfObject.openFile(path);
obj.load();
obj.program("handle_exec").attach();
obj.program("handle_exit").attach();
out(
  `${pad("TIME", 8)} ${pad("EVENT", 5)} ${pad("COMM", 16)} ${pad("PID", 7)} ${
    pad("PPID", 7)
  } FILENAME/EXIT CODE`,
);
const reader = openBufferReader(obj, obj.map("rb"));
using waiter = new Waiter(reader.pollFd);

// struct event { u32 pid, ppid, exit_code, exit_event; u64 duration_ns;
//                char comm[16]; char filename[128]; }
const onEvent = (data: Uint8Array, size: number): number => {
  if (size < 168) return 0;
  const dv = new DataView(data.buffer, data.byteOffset, size);
  const ts = new Date().toISOString().slice(11, 19);
  const pid = dv.getUint32(0, true);
  const ppid = dv.getUint32(4, true);
  const comm = cstring(data.subarray(24, 40));
  if (dv.getUint32(12, true)) {
    const ms = dv.getBigUint64(16, true) / 1000000n;
    out(
      `${pad(ts, 8)} ${pad("EXIT", 5)} ${pad(comm, 16)} ${pad(pid, 7)} ${
        pad(ppid, 7)
      } [${dv.getUint32(8, true)}]${ms ? ` (${ms}ms)` : ""}`,
    );
  } else {
    out(
      `${pad(ts, 8)} ${pad("EXEC", 5)} ${pad(comm, 16)} ${pad(pid, 7)} ${
        pad(ppid, 7)
      } ${cstring(data.subarray(40, 168))}`,
    );
  }
  return 0;
};

while (!exiting) {
  waiter.wait(100);
  reader.consume(onEvent);
  await new Promise((r) => setTimeout(r, 0)); // lets the signal listeners run
}
