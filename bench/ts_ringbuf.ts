/**
 * Ring-buffer delivery benchmark through the TypeScript eBPF layer (no
 * Wasm): `openBufferReader` walks the ring in TypeScript. Same object,
 * stop rule and output as bench/guests/ringbuf/ and bench/native/ringbuf.c.
 *
 *   deno run --allow-ffi --allow-read --allow-env bench/ts_ringbuf.ts \
 *     ringbuf.bpf.o TGID PER_CALL CALLS [drain]
 *
 * @module
 */
import { BpfObject, openBufferReader, Waiter } from "../mod.ts";

const [path, tgid, perCall, calls, mode] = Deno.args;
if (!calls) {
  console.error(
    "usage: ts_ringbuf.ts ringbuf.bpf.o TGID PER_CALL CALLS [drain]",
  );
  Deno.exit(2);
}
const drain = mode === "drain";
const expected = Number(calls) * Number(perCall);

using obj = BpfObject.openFile(path);
obj.load();
obj.map("cfg_map").update(
  new Uint8Array(4),
  new Uint8Array(new Uint32Array([Number(tgid), Number(perCall)]).buffer),
);
obj.program("on_getppid").attach();
const countsMap = obj.map("counts");
const counts = () => {
  const v = (k: number) =>
    new DataView(
      countsMap.lookup(new Uint8Array(new Uint32Array([k]).buffer))!.buffer,
    ).getBigUint64(0, true);
  return { produced: Number(v(0)), dropped: Number(v(1)) };
};
const reader = openBufferReader(obj, obj.map("rb"));
using waiter = new Waiter(reader.pollFd);

let delivered = 0;
let seqErrors = 0;
let tFirstRecord = 0;
const onRecord = (data: Uint8Array): number => {
  if (delivered === 0) tFirstRecord = performance.now();
  // seq < 2^32 here: its low word is enough
  const seq = (data[0] | (data[1] << 8) | (data[2] << 16) | (data[3] << 24)) >>>
    0;
  if (seq !== delivered || data[4] | data[5] | data[6] | data[7]) seqErrors++;
  delivered++;
  return 0;
};

console.log("ready");
let { produced, dropped } = { produced: 0, dropped: 0 };
if (drain) {
  for (;;) {
    ({ produced, dropped } = counts());
    if (produced + dropped >= expected) break;
    await new Promise((r) => setTimeout(r, 10));
  }
}
const start = performance.now();
let tFirst = drain ? start : 0;
let nFirst = 0;
let tLast = 0;
for (;;) {
  if (!drain && !reader.available()) waiter.wait(100);
  const n = reader.consume(onRecord);
  if (n > 0) {
    tLast = performance.now();
    if (drain && delivered >= produced) break;
    if (!tFirst) {
      tFirst = tLast;
      nFirst = delivered;
    }
    continue;
  }
  ({ produced, dropped } = counts());
  if (produced + dropped >= expected && delivered >= produced) break;
  if (performance.now() - start > 120_000) break;
}
if (!drain) {
  // from the first record's arrival to the end of the batch with the last
  tFirst = tFirstRecord;
  nFirst = 1;
}
const windowNs = (tLast - tFirst) * 1e6;
console.log(
  `mode=${
    drain ? "drain" : "live"
  } delivered=${delivered} produced=${produced} dropped=${dropped} seq_errors=${seqErrors} window_ns=${
    windowNs.toFixed(0)
  } events_per_s=${
    windowNs > 0 ? ((delivered - nFirst) * 1e9 / windowNs).toFixed(0) : 0
  }`,
);
await new Promise((r) => setTimeout(r, 300)); // the runner reads our CPU time
