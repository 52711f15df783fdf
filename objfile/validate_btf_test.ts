/**
 * checkBtf (the object check's allocation-free reading of `.BTF`) against
 * Btf's parser: on a section holding every kind and on each of its fields
 * set to values at and past every bound, both accept with the same type
 * count and kinds, or both refuse with the same message.
 */
import assert from "node:assert/strict";
import { Btf } from "./btf.ts";
import { ObjectFileError } from "./elf.ts";
import { checkBtf } from "./validate.ts";

const enc = new TextEncoder();

/** A .BTF section with one type of every kind (ids in the comments). */
function everyKind(): Uint8Array {
  const strs: number[] = [0];
  const str = (s: string) => {
    const at = strs.length;
    strs.push(...enc.encode(s), 0);
    return at;
  };
  const k = (kind: number, vlen = 0, flag = 0) =>
    (flag << 31) | (kind << 24) | vlen;
  const t: number[] = [];
  t.push(str("int"), k(1), 4, (1 << 24) | 32); // 1 INT
  t.push(0, k(2), 1); // 2 PTR -> 1
  t.push(0, k(3), 0, 1, 1, 4); // 3 ARRAY of 1, index 1, 4 elems
  t.push(str("s"), k(4, 2), 8, str("a"), 1, 0, str("b"), 1, 32); // 4 STRUCT
  t.push(str("u"), k(5, 1, 1), 4, str("c"), 1, (3 << 24) | 0); // 5 UNION, bitfield
  t.push(str("e"), k(6, 2), 4, str("E0"), 0, str("E1"), -1 >>> 0); // 6 ENUM
  t.push(str("fwd"), k(7), 0); // 7 FWD
  t.push(str("td"), k(8), 1); // 8 TYPEDEF -> 1
  t.push(0, k(9), 1); // 9 VOLATILE
  t.push(0, k(10), 1); // 10 CONST
  t.push(0, k(11), 2); // 11 RESTRICT
  t.push(0, k(13, 2), 1, str("x"), 1, 0, 2); // 12 FUNC_PROTO (int x, int *)
  t.push(str("f"), k(12, 1), 12); // 13 FUNC -> 12
  t.push(str("v"), k(14), 1, 1); // 14 VAR global
  t.push(str(".data"), k(15, 1), 4, 14, 0, 4); // 15 DATASEC
  t.push(str("float"), k(16), 4); // 16 FLOAT
  t.push(str("tag"), k(17), 4, -1 >>> 0); // 17 DECL_TAG on 4
  t.push(str("tt"), k(18), 1); // 18 TYPE_TAG
  t.push(str("e64"), k(19, 1, 1), 8, str("X"), 1, 2); // 19 ENUM64 signed
  const types = new Uint8Array(new Uint32Array(t).buffer);
  const hdr = new DataView(new ArrayBuffer(24));
  hdr.setUint16(0, 0xeb9f, true);
  hdr.setUint8(2, 1);
  hdr.setUint32(4, 24, true);
  hdr.setUint32(8, 0, true);
  hdr.setUint32(12, types.length, true);
  hdr.setUint32(16, types.length, true);
  hdr.setUint32(20, strs.length, true);
  const out = new Uint8Array(24 + types.length + strs.length);
  out.set(new Uint8Array(hdr.buffer));
  out.set(types, 24);
  out.set(strs, 24 + types.length);
  return out;
}

/** What a reader says of `bytes`: its error, or the type count and kinds. */
function outcome(read: () => { count: number; kinds: number[] }): string {
  try {
    const { count, kinds } = read();
    return `ok ${count} ${kinds.join(",")}`;
  } catch (e) {
    if (e instanceof ObjectFileError || e instanceof RangeError) {
      return `${e.name}: ${e.message}`;
    }
    throw e;
  }
}

function same(bytes: Uint8Array, what: string) {
  const a = outcome(() => {
    const b = new Btf("t.bpf.o", bytes);
    return { count: b.types.length, kinds: b.types.map((t) => t.kind) };
  });
  const b = outcome(() => {
    const x = checkBtf("t.bpf.o", bytes);
    return { count: x.count, kinds: [...x.kinds.subarray(0, x.count)] };
  });
  assert.equal(b, a, what);
}

Deno.test("checkBtf: every kind is read as Btf reads it", () => {
  const bytes = everyKind();
  same(bytes, "unchanged");
  assert.match(
    outcome(() => {
      const x = checkBtf("t.bpf.o", bytes);
      return { count: x.count, kinds: [...x.kinds.subarray(0, x.count)] };
    }),
    /^ok 20 0,1,2,3,4,5,6,7,8,9,10,11,13,12,14,15,16,17,18,19$/,
  );
});

Deno.test("checkBtf: each field at and past its bounds, as Btf", () => {
  const base = everyKind();
  const v = new DataView(base.buffer);
  const strLen = v.getUint32(20, true);
  let n = 0;
  for (let at = 0; at + 4 <= base.length - strLen; at += 4) {
    const old = v.getUint32(at, true);
    const values = [
      0,
      1,
      19,
      20,
      21,
      strLen - 1,
      strLen,
      0xffffffff,
      old + 1,
      old - 1,
      old ^ (1 << 24), // another kind
      old ^ (20 << 24), // unknown kinds
      (old & ~0xffff) | 0xffff, // a huge vlen
      (old & ~0xffff) | ((old & 0xffff) + 1),
    ];
    for (const x of values) {
      const bytes = new Uint8Array(base);
      new DataView(bytes.buffer).setUint32(at, x >>> 0, true);
      same(bytes, `u32 at ${at} = ${x >>> 0}`);
      n++;
    }
  }
  // cut short anywhere
  for (let len = 0; len < base.length; len += 3) {
    same(base.subarray(0, len), `first ${len} bytes`);
    n++;
  }
  assert(n > 500);
});

Deno.test("checkBtf: the project's objects, when built, as Btf", () => {
  const root = new URL("../build/examples/", import.meta.url).pathname;
  let files: string[] = [];
  try {
    files = [...Deno.readDirSync(root)].flatMap((d) =>
      d.isDirectory
        ? [...Deno.readDirSync(root + d.name)]
          .filter((f) => f.name.endsWith(".bpf.o"))
          .map((f) => `${root}${d.name}/${f.name}`)
        : []
    );
  } catch { /* not built */ }
  if (!files.length) {
    console.log("skipped: no build/examples/*/*.bpf.o (scripts/build.ts)");
    return;
  }
  for (const f of files) {
    const bytes = Deno.readFileSync(f);
    // the .BTF section of a real object: everything after its magic
    const at = findBtf(bytes);
    if (at < 0) continue;
    same(bytes.subarray(at), f);
  }
});

/** Offset of the .BTF section (magic, version 1, header length 24). */
function findBtf(bytes: Uint8Array): number {
  for (let i = 0; i + 8 < bytes.length; i += 4) {
    if (
      bytes[i] === 0x9f && bytes[i + 1] === 0xeb && bytes[i + 2] === 1 &&
      bytes[i + 4] === 24 && bytes[i + 5] === 0
    ) return i;
  }
  return -1;
}
