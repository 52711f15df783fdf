/**
 * Test helpers: the sample lines of an exposition (each checked whole), and the BTF of maps like those the
 * metrics tests export (a struct key with a char array and an enum, a
 * log2 histogram value, a slot-per-key histogram, a ring buffer).
 *
 * @module
 */
import assert from "node:assert/strict";
import { Btf } from "../../objfile/btf.ts";
import { BtfBuilder } from "../../objfile/_test_btf.ts";

export { BtfBuilder };

/**
 * Maps: `execs` (hash, key `struct { char comm[32]; enum kind kind; u32
 * pid; }`, value u64), `totals` (percpu array, key u32, value `struct {
 * u64 count; u64 bytes; }`), `hists` (hash, key u32, value `struct hist {
 * u32 slots[4]; char comm[16]; }`), `slots` (percpu hash, key `struct {
 * u32 cpu; u32 slot; }`, value u64), `rb` (ring buffer).
 */
export function testBtf(): Btf {
  const b = new BtfBuilder();
  const u32 = b.int("unsigned int", 4);
  const u64 = b.int("unsigned long long", 8);
  const s32 = b.int("int", 4, 1);
  const ch = b.int("char", 1, 1);
  const comm32 = b.array(ch, 32, u32);
  const comm16 = b.array(ch, 16, u32);
  const kind = b.enum("kind", 4, [["READ", 1], ["WRITE", 2]]);
  const execKey = b.struct("exec_key", 40, [
    ["comm", comm32, 0],
    ["kind", kind, 32],
    ["pid", u32, 36],
  ]);
  const total = b.struct("total", 16, [["count", u64, 0], ["bytes", u64, 8]]);
  const slots4 = b.array(u32, 4, u32);
  const hist = b.struct("hist", 32, [["slots", slots4, 0], [
    "comm",
    comm16,
    16,
  ]]);
  const slotKey = b.struct("slot_key", 8, [["cpu", u32, 0], ["slot", u32, 4]]);
  const def = (type: number, key?: number, value?: number) => {
    const members: [string, number, number][] = [
      ["type", b.ptr(b.array(s32, type, u32)), 0],
    ];
    if (key) members.push(["key", b.ptr(key), 8]);
    if (value) members.push(["value", b.ptr(value), 16]);
    return b.struct("", 24, members);
  };
  const vars = [
    b.variable("execs", def(1, execKey, u64)),
    b.variable("totals", def(6, u32, total)),
    b.variable("hists", def(1, u32, hist)),
    b.variable("slots", def(5, slotKey, u64)),
    b.variable("rb", def(27)),
  ];
  b.datasec(".maps", 120, vars.map((v, i) => [v, i * 24, 24]));
  return new Btf("test.bpf.o", b.bytes());
}

/** The sample lines of an exposition: `name{labels} value`, every one whole. */
export function sampleLines(text: string): string[] {
  // a label value: anything but a bare quote, backslash or newline, or an escape
  const sample =
    /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*",?)*\})? \S+$/;
  const out: string[] = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("# HELP ") || line.startsWith("# TYPE ")) {
      continue;
    }
    assert.match(
      line,
      sample,
      `not a whole sample line: ${JSON.stringify(line)}`,
    );
    out.push(line);
  }
  return out;
}
