// Root-free: the frame protocol between spawn() and the guest's process.
import * as assert from "node:assert/strict";
import {
  encodeFrame,
  type Frame,
  type FrameEvent,
  FrameReader,
  fromBase64,
  toBase64,
} from "./protocol.ts";

const enc = new TextEncoder();

function feed(r: FrameReader, bytes: Uint8Array, sizes: number[]) {
  const out: FrameEvent[] = [];
  let off = 0;
  let k = 0;
  while (off < bytes.length) {
    const n = sizes[k++ % sizes.length];
    out.push(...r.push(bytes.subarray(off, off + n)));
    off += n;
  }
  return [...out, ...r.end()];
}

const frames: Frame[] = [
  { t: "log", line: "loaded — ünïcode ✓" },
  { t: "audit", record: { event: "attach", program: "p" } },
  { t: "stderr", data: toBase64(enc.encode("guest\nwrote\x1e{}\n")) },
  { t: "status", status: { kind: "exited", code: 0, success: true } },
];

Deno.test("FrameReader: frames survive any split into chunks", () => {
  const all = new Uint8Array(
    frames.flatMap((f) => [...encodeFrame(f)]),
  );
  for (const sizes of [[1], [2], [3, 7], [5, 1, 64], [all.length]]) {
    const events = feed(new FrameReader(), all, sizes);
    assert.deepEqual(events, frames.map((frame) => ({ frame })), `${sizes}`);
  }
});

Deno.test("FrameReader: other lines are text, including frame-looking ones that are not JSON", () => {
  const input = enc.encode(
    [
      "plain text",
      "",
      "\x1e{not json",
      "\x1e[1,2]", // JSON, not an object with a type
      '\x1e{"x":1}', // an object without t
      '\x1e{"t":5}', // t not a string
      "\x1enull",
      ' \x1e{"t":"log","line":"indented"}', // RS not first
      "fatal error: out of memory",
    ].join("\n") + "\n",
  );
  const events = feed(new FrameReader(), input, [4]);
  assert.deepEqual(events, [
    { text: "plain text" },
    { text: "" },
    { text: "\x1e{not json" },
    { text: "\x1e[1,2]" },
    { text: '\x1e{"x":1}' },
    { text: '\x1e{"t":5}' },
    { text: "\x1enull" },
    { text: ' \x1e{"t":"log","line":"indented"}' },
    { text: "fatal error: out of memory" },
  ]);
});

Deno.test("FrameReader: a last line without newline comes out at end(), once", () => {
  const r = new FrameReader();
  assert.deepEqual(r.push(enc.encode("a\nb")), [{ text: "a" }]);
  assert.deepEqual(r.push(enc.encode("c")), []);
  assert.deepEqual(r.end(), [{ text: "bc" }]);
  assert.deepEqual(r.end(), []);
  // a frame cut off by the end of the stream still parses
  const half = new FrameReader();
  const bytes = encodeFrame({ t: "log", line: "x" });
  half.push(bytes.subarray(0, bytes.length - 1));
  assert.deepEqual(half.end(), [{ frame: { t: "log", line: "x" } }]);
});

Deno.test("FrameReader: a chunk it was given is not kept by reference", () => {
  const r = new FrameReader();
  const chunk = enc.encode("abc");
  r.push(chunk);
  chunk.fill(0x7a); // the caller reuses its buffer
  assert.deepEqual(r.end(), [{ text: "abc" }]);
});

Deno.test("base64 round trip: empty, every byte value, larger than one 32 KiB step", () => {
  assert.equal(toBase64(new Uint8Array(0)), "");
  assert.deepEqual(fromBase64(""), new Uint8Array(0));
  const every = Uint8Array.from({ length: 256 }, (_, i) => i);
  assert.deepEqual(fromBase64(toBase64(every)), every);
  const big = new Uint8Array(100_003);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7919) & 0xff;
  const text = toBase64(big);
  assert.match(text, /^[A-Za-z0-9+/]*=*$/);
  assert.equal(text.length, Math.ceil(big.length / 3) * 4);
  assert.deepEqual(fromBase64(text), big);
  assert.equal(toBase64(enc.encode("hi")), btoa("hi"));
});
