/**
 * Builds small BPF ELF objects for the unit tests of this folder: sections,
 * symbols and relocations as given, laid out the way clang does (data, then
 * the section headers). No BTF unless a `.BTF` section is passed;
 * {@link minimalBtf} and {@link minimalBtfExt} make small valid ones.
 *
 * @module
 */

/** A section to build. `link`/`info` may name a section by name. */
export interface SectionSpec {
  name: string;
  type: number;
  flags?: number;
  data?: Uint8Array;
  /** NOBITS size. */
  size?: number;
  link?: number | string;
  info?: number | string;
  entsize?: number;
}

/** A symbol to build; `section` by name (or a raw st_shndx number). */
export interface SymbolSpec {
  name: string;
  section: string | number;
  value?: number;
  size?: number;
  type?: number;
  bind?: number;
}

/** A relocation of `section` (by name) against symbol `symbol` (by name). */
export interface RelocSpec {
  section: string;
  offset: number;
  symbol: string;
  type: number;
}

/** Where the pieces of a built object are, for corrupting them. */
export interface Layout {
  bytes: Uint8Array;
  /** File offset of each section's header, by name. */
  header: Record<string, number>;
  /** File offset of each section's data, by name. */
  data: Record<string, number>;
  /** Section index by name. */
  index: Record<string, number>;
  /** Symbol index by name. */
  symbol: Record<string, number>;
}

const enc = new TextEncoder();

/** One BPF instruction. */
export function insn(
  code: number,
  dst: number,
  src: number,
  off: number,
  imm: number,
): Uint8Array {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  b[0] = code;
  b[1] = (src << 4) | dst;
  v.setInt16(2, off, true);
  v.setInt32(4, imm, true);
  return b;
}

/** Concatenates byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** `call helper` / `r0 = 0` / `exit`. */
export const CALL = (imm: number, src = 0) => insn(0x85, 0, src, 0, imm);
export const MOV0 = insn(0xb7, 0, 0, 0, 0);
export const EXIT = insn(0x95, 0, 0, 0, 0);

/** Builds the object. `.strtab`, `.symtab` and the `.rel*` sections are added. */
export function buildObject(
  sections: SectionSpec[],
  symbols: SymbolSpec[],
  relocs: RelocSpec[] = [],
): Layout {
  const all: SectionSpec[] = [{ name: "", type: 0 }, ...sections];
  // relocation sections, one per relocated section
  const relocated = [...new Set(relocs.map((r) => r.section))];
  for (const s of relocated) {
    all.push({
      name: `.rel${s}`,
      type: 9,
      flags: 0x40,
      link: ".symtab",
      info: s,
      entsize: 16,
    });
  }
  all.push({ name: ".strtab", type: 3 });
  all.push({ name: ".symtab", type: 2, link: ".strtab", entsize: 24 });
  const index: Record<string, number> = {};
  all.forEach((s, i) => index[s.name] = i);
  // one string table for section and symbol names
  const strs: number[] = [0];
  const strOff = new Map<string, number>([["", 0]]);
  const str = (s: string) => {
    if (!strOff.has(s)) {
      strOff.set(s, strs.length);
      strs.push(...enc.encode(s), 0);
    }
    return strOff.get(s)!;
  };
  all.forEach((s) => str(s.name));
  // symbols: null, then locals (sections), then globals
  const symIndex: Record<string, number> = {};
  const sym = new Uint8Array(24 * (symbols.length + 1));
  const sv = new DataView(sym.buffer);
  const sorted = [...symbols].sort((a, b) => (a.bind ?? 1) - (b.bind ?? 1));
  let firstGlobal = sorted.length + 1;
  sorted.forEach((s, i) => {
    const o = (i + 1) * 24;
    symIndex[s.name] = i + 1;
    if ((s.bind ?? 1) !== 0 && firstGlobal > i + 1) firstGlobal = i + 1;
    sv.setUint32(o, str(s.name), true);
    sym[o + 4] = ((s.bind ?? 1) << 4) | (s.type ?? 2);
    sv.setUint16(
      o + 6,
      typeof s.section === "number" ? s.section : index[s.section],
      true,
    );
    sv.setBigUint64(o + 8, BigInt(s.value ?? 0), true);
    sv.setBigUint64(o + 16, BigInt(s.size ?? 0), true);
  });
  const relData = new Map<string, Uint8Array>();
  for (const s of relocated) {
    const rs = relocs.filter((r) => r.section === s);
    const b = new Uint8Array(16 * rs.length);
    const v = new DataView(b.buffer);
    rs.forEach((r, i) => {
      v.setBigUint64(i * 16, BigInt(r.offset), true);
      v.setBigUint64(
        i * 16 + 8,
        (BigInt(symIndex[r.symbol]) << 32n) | BigInt(r.type),
        true,
      );
    });
    relData.set(`.rel${s}`, b);
  }
  const dataOf = (s: SectionSpec): Uint8Array => {
    if (s.name === ".strtab") return new Uint8Array(strs);
    if (s.name === ".symtab") return sym;
    return relData.get(s.name) ?? s.data ?? new Uint8Array(0);
  };
  // layout: ELF header, section data (8-aligned), section headers
  let off = 64;
  const dataOff: Record<string, number> = {};
  const datas = all.map((s) => {
    const d = s.type === 8 || s.type === 0 ? new Uint8Array(0) : dataOf(s);
    off = Math.ceil(off / 8) * 8;
    dataOff[s.name] = off;
    off += d.length;
    return d;
  });
  const shoff = Math.ceil(off / 8) * 8;
  const bytes = new Uint8Array(shoff + 64 * all.length);
  const v = new DataView(bytes.buffer);
  bytes.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  v.setUint16(16, 1, true); // ET_REL
  v.setUint16(18, 247, true); // EM_BPF
  v.setUint32(20, 1, true);
  v.setBigUint64(40, BigInt(shoff), true);
  v.setUint16(52, 64, true);
  v.setUint16(58, 64, true);
  v.setUint16(60, all.length, true);
  v.setUint16(62, index[".strtab"], true);
  const header: Record<string, number> = {};
  all.forEach((s, i) => {
    const d = datas[i];
    bytes.set(d, dataOff[s.name]);
    const h = shoff + i * 64;
    header[s.name] = h;
    if (i === 0) return;
    const ref = (x: number | string | undefined) =>
      typeof x === "string" ? index[x] : x ?? 0;
    v.setUint32(h, str(s.name), true);
    v.setUint32(h + 4, s.type, true);
    v.setBigUint64(h + 8, BigInt(s.flags ?? 0), true);
    v.setBigUint64(h + 24, BigInt(dataOff[s.name]), true);
    v.setBigUint64(h + 32, BigInt(s.type === 8 ? s.size ?? 0 : d.length), true);
    v.setUint32(h + 40, ref(s.link), true);
    v.setUint32(
      h + 44,
      s.name === ".symtab" ? firstGlobal : ref(s.info),
      true,
    );
    v.setBigUint64(h + 48, 8n, true);
    v.setBigUint64(h + 56, BigInt(s.entsize ?? 0), true);
  });
  return { bytes, header, data: dataOff, index, symbol: symIndex };
}

/**
 * A .BTF with `int` (#1), `int (void)` (#2) and one FUNC per name in
 * `funcs` (#3...); strings "", "int", the function names, "a.c", "0" and
 * the `sections` names (for .BTF.ext).
 */
export function minimalBtf(
  funcs: string[],
  sections: string[] = [],
): Uint8Array {
  const strs: number[] = [0];
  const offs = new Map<string, number>();
  const str = (s: string) => {
    if (!offs.has(s)) {
      offs.set(s, strs.length);
      strs.push(...enc.encode(s), 0);
    }
    return offs.get(s)!;
  };
  const types: number[] = [];
  types.push(str("int"), 1 << 24, 4, (1 << 24) | 32); // INT signed 32
  types.push(0, 13 << 24, 1); // FUNC_PROTO returning int
  for (const f of funcs) types.push(str(f), (12 << 24) | 1, 2); // global FUNC
  str("a.c");
  str("0");
  sections.forEach(str);
  const t = new Uint8Array(new Uint32Array(types).buffer);
  const hdr = new DataView(new ArrayBuffer(24));
  hdr.setUint16(0, 0xeb9f, true);
  hdr.setUint8(2, 1);
  hdr.setUint32(4, 24, true);
  hdr.setUint32(8, 0, true);
  hdr.setUint32(12, t.length, true);
  hdr.setUint32(16, t.length, true);
  hdr.setUint32(20, strs.length, true);
  return concat(new Uint8Array(hdr.buffer), t, new Uint8Array(strs));
}

/** The offset of string `s` in {@link minimalBtf}'s string section. */
export function btfStr(btf: Uint8Array, s: string): number {
  const v = new DataView(btf.buffer, btf.byteOffset);
  const start = 24 + v.getUint32(16, true);
  const strs = btf.subarray(start);
  const want = enc.encode(s + "\0");
  for (let i = 0; i + want.length <= strs.length; i++) {
    if (want.every((b, j) => strs[i + j] === b)) return i;
  }
  throw new Error(`no string ${s}`);
}

/**
 * A .BTF.ext (header of 32 bytes) with one func_info, one line_info and
 * one core_relo record for section `sec` at instruction 0, FUNC type 3.
 */
export function minimalBtfExt(btf: Uint8Array, sec: string): Uint8Array {
  const s = btfStr(btf, sec);
  const u32 = (...xs: number[]) => new Uint8Array(new Uint32Array(xs).buffer);
  const fi = u32(8, s, 1, 0, 3);
  const li = u32(16, s, 1, 0, btfStr(btf, "a.c"), btfStr(btf, "0"), 1 << 10);
  const cr = u32(16, s, 1, 0, 1, btfStr(btf, "0"), 0);
  const hdr = new DataView(new ArrayBuffer(32));
  hdr.setUint16(0, 0xeb9f, true);
  hdr.setUint8(2, 1);
  hdr.setUint32(4, 32, true);
  hdr.setUint32(8, 0, true);
  hdr.setUint32(12, fi.length, true);
  hdr.setUint32(16, fi.length, true);
  hdr.setUint32(20, li.length, true);
  hdr.setUint32(24, fi.length + li.length, true);
  hdr.setUint32(28, cr.length, true);
  return concat(new Uint8Array(hdr.buffer), fi, li, cr);
}
