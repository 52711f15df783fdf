import assert from "node:assert/strict";
import { Btf } from "../objfile/btf.ts";
import { ElfFile } from "../objfile/elf.ts";
import { buildObject } from "../objfile/_test_object.ts";
import { BtfBuilder } from "../objfile/_test_btf.ts";
import {
  applySets,
  decodeHistogram,
  decodeValue,
  formatHistogram,
  histogramSpec,
  RecordDecoder,
  recordType,
  SetError,
  settableGlobals,
  toJson,
} from "./decode.ts";

const enc = new TextEncoder();

/** bootstrap's struct event, its ring buffer map and a rodata global. */
function bootstrapLike(opts: { unused?: boolean; mapValue?: boolean } = {}) {
  const b = new BtfBuilder();
  const u32 = b.int("unsigned int", 4);
  const u64 = b.int("unsigned long long", 8);
  const s32 = b.int("int", 4, 1);
  const ch = b.int("char", 1, 1);
  const boolT = b.int("_Bool", 1, 4);
  const comm = b.array(ch, 16, u32);
  const kind = b.enum("kind", 4, [["EXEC", 0], ["EXIT", 1]]);
  const ev = b.struct("ev_t", 48, [
    ["pid", u32, 0],
    ["ret", s32, 4],
    ["duration_ns", u64, 8],
    ["comm", comm, 16],
    ["kind", kind, 32],
    ["ok", boolT, 36],
    ["big", u64, 40],
  ]);
  // the map definition: struct { int (*type)[27]; struct ev_t *value; }
  const arr27 = b.array(s32, 27, u32);
  const members: [string, number, number][] = [["type", b.ptr(arr27), 0]];
  if (opts.mapValue) members.push(["value", b.ptr(ev), 8]);
  const def = b.struct("", 16, members);
  const rbVar = b.variable("rb", def);
  b.datasec(".maps", 16, [[rbVar, 0, 16]]);
  if (opts.unused) b.variable("unused", b.ptr(b.const(ev)));
  const minVar = b.variable("min_ns", b.const(b.volatile(u64)));
  const levelVar = b.variable("level", b.const(b.volatile(s32)));
  const kindVar = b.variable("mode", b.const(b.volatile(kind)));
  const tagVar = b.variable("tag", b.const(b.volatile(comm)));
  const okVar = b.variable("on", b.const(b.volatile(boolT)));
  // clang leaves the offsets 0: the ELF symbols hold them
  b.datasec(".rodata", 40, [
    [minVar, 0, 8],
    [levelVar, 0, 4],
    [kindVar, 0, 4],
    [tagVar, 0, 16],
    [okVar, 0, 1],
  ]);
  return b.bytes();
}

function event(): Uint8Array {
  const r = new Uint8Array(48);
  const v = new DataView(r.buffer);
  v.setUint32(0, 1234, true);
  v.setInt32(4, -2, true);
  v.setBigUint64(8, 5_000_000n, true);
  r.set(enc.encode("sh"), 16);
  v.setUint32(32, 1, true);
  r[36] = 1;
  v.setBigUint64(40, 0xffffffffffffffffn, true);
  return r;
}

Deno.test("the record type: the map's value type, else an 'unused' pointer, else hex", () => {
  const none = new Btf("t", bootstrapLike());
  assert.equal(recordType(none, "rb"), undefined);
  for (const o of [{ unused: true }, { mapValue: true }]) {
    const btf = new Btf("t", bootstrapLike(o));
    const id = recordType(btf, "rb");
    assert.ok(id !== undefined);
    assert.equal(new RecordDecoder(btf, id).name, "struct ev_t");
  }
});

Deno.test("records decode by BTF: ints, signed, u64 past 2^53, char arrays, enums, bools", () => {
  const btf = new Btf("t", bootstrapLike({ unused: true }));
  const d = new RecordDecoder(btf, recordType(btf, "rb"));
  const e = d.decode(event());
  assert.deepEqual(e, {
    pid: 1234,
    ret: -2,
    duration_ns: 5_000_000,
    comm: "sh",
    kind: "EXIT",
    ok: true,
    big: 0xffffffffffffffffn,
  });
  assert.equal(
    toJson(e),
    '{"pid":1234,"ret":-2,"duration_ns":5000000,"comm":"sh","kind":"EXIT","ok":true,"big":18446744073709551615}',
  );
  // the compiled reader and the BTF walk agree
  assert.deepEqual(decodeValue(btf, recordType(btf, "rb")!, event()), e);
  assert.deepEqual(d.columns(), [
    "pid",
    "ret",
    "duration_ns",
    "comm",
    "kind",
    "ok",
    "big",
  ]);
  // short records and records without a type: hex with their size
  assert.deepEqual(d.decode(new Uint8Array([1, 2, 0xff])), {
    size: 3,
    hex: "0102ff",
  });
  assert.deepEqual(new RecordDecoder(btf, undefined).decode(event()), {
    size: 48,
    hex: [...event()].map((b) => b.toString(16).padStart(2, "0")).join(""),
  });
});

function rodataObject() {
  const btf = bootstrapLike();
  const l = buildObject(
    [
      { name: ".rodata", type: 1, flags: 2, data: new Uint8Array(40) },
      { name: ".BTF", type: 1, data: btf },
    ],
    [
      { name: "min_ns", section: ".rodata", value: 0, size: 8, type: 1 },
      { name: "level", section: ".rodata", value: 8, size: 4, type: 1 },
      { name: "mode", section: ".rodata", value: 12, size: 4, type: 1 },
      { name: "tag", section: ".rodata", value: 16, size: 16, type: 1 },
      { name: "on", section: ".rodata", value: 32, size: 1, type: 1 },
    ],
  );
  const elf = new ElfFile("t.o", l.bytes);
  return { elf, btf: Btf.fromElf(elf), rodata: l.data[".rodata"] };
}

Deno.test("--set writes typed values at the symbols' offsets of .rodata", () => {
  const { elf, btf, rodata } = rodataObject();
  assert.deepEqual(
    settableGlobals(btf, elf).map((s) => [s.name, s.offset, s.typeName]),
    [
      ["min_ns", 0, "unsigned long long"],
      ["level", 8, "int"],
      ["mode", 12, "enum kind"],
      ["tag", 16, "char[16]"],
      ["on", 32, "_Bool"],
    ],
  );
  const out = applySets(elf, btf, [
    "min_ns=0x10",
    "level=-3",
    "mode=EXIT",
    "tag=hello",
    "on=true",
  ]);
  const v = new DataView(out.buffer, rodata);
  assert.equal(v.getBigUint64(0, true), 16n);
  assert.equal(v.getInt32(8, true), -3);
  assert.equal(v.getUint32(12, true), 1);
  assert.equal(
    new TextDecoder().decode(out.subarray(rodata + 16, rodata + 21)),
    "hello",
  );
  assert.equal(out[rodata + 21], 0);
  assert.equal(out[rodata + 32], 1);
  // the input is untouched
  assert.equal(elf.bytes[rodata + 8], 0);
  // unsigned -1: all ones, as in C
  const all = applySets(elf, btf, ["min_ns=-1"]);
  assert.equal(
    new DataView(all.buffer, rodata).getBigUint64(0, true),
    2n ** 64n - 1n,
  );
});

Deno.test("--set refuses unknown names and bad values, listing the settable globals", () => {
  const { elf, btf } = rodataObject();
  for (
    const bad of [
      "nope=1",
      "level=1.5",
      "level=2147483648",
      "level=x",
      "min_ns=18446744073709551616",
      "mode=MAYBE",
      "tag=0123456789abcdef",
      "on=yes",
      "level",
      "=3",
    ]
  ) {
    assert.throws(
      () => applySets(elf, btf, [bad]),
      (e: Error) =>
        e instanceof SetError && !e.message.includes("\n") &&
        e.message.includes(
          "settable: min_ns (unsigned long long), level (int)",
        ),
      bad,
    );
  }
});

Deno.test("histograms: a value struct with 'slots', printed as runqlat does", () => {
  const b = new BtfBuilder();
  const u32 = b.int("unsigned int", 4);
  const ch = b.int("char", 1, 1);
  const slots = b.array(u32, 4, u32);
  const hist = b.struct("hist", 32, [
    ["slots", slots, 0],
    ["comm", b.array(ch, 16, u32), 16],
  ]);
  const def = b.struct("", 16, [["key", b.ptr(u32), 0], [
    "value",
    b.ptr(hist),
    8,
  ]]);
  b.datasec(".maps", 16, [[b.variable("hists", def), 0, 16]]);
  const btf = new Btf("t", b.bytes());
  const spec = histogramSpec(btf, "hists")!;
  assert.equal(spec.slots, 4);
  const value = new Uint8Array(32);
  new Uint32Array(value.buffer, 0, 4).set([0, 5, 10, 0]);
  value.set(enc.encode("cc1"), 16);
  const h = decodeHistogram(
    btf,
    spec,
    new Uint8Array([7, 0, 0, 0]),
    value,
  );
  assert.deepEqual(h, {
    map: "hists",
    key: 7,
    fields: { comm: "cc1" },
    slots: [0, 5, 10, 0],
  });
  assert.equal(
    formatHistogram(h.slots),
    [
      "          usecs          : count    distribution",
      "         0 -> 1          : 0        |                                        |",
      "         2 -> 3          : 5        |********************                    |",
      "         4 -> 7          : 10       |****************************************|",
    ].join("\n"),
  );
});

Deno.test("a record type of exponential fan-out (struct of two structs of two ...) is refused, records as hex", () => {
  const b = new BtfBuilder();
  let t = b.int("unsigned int", 4);
  let size = 4;
  for (let k = 0; k < 18; k++) {
    size *= 2;
    t = b.struct(`s${k}`, size, [["a", t, 0], ["b", t, size / 2]]);
  }
  const def = b.struct("", 8, [["value", b.ptr(t), 0]]);
  b.datasec(".maps", 8, [[b.variable("rb", def), 0, 8]]);
  const btf = new Btf("t", b.bytes());
  const start = performance.now();
  const d = new RecordDecoder(btf, recordType(btf, "rb"));
  assert.ok(performance.now() - start < 500, "compiling took too long");
  assert.equal(d.type, undefined);
  assert.match(d.problem!, /too complex/);
  assert.deepEqual(d.decode(new Uint8Array([1, 2])), { size: 2, hex: "0102" });
});
