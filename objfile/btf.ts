/**
 * A reader for BTF (the `.BTF` section of a BPF object) and enough of
 * `.BTF.ext` to list its function info.
 *
 * Type ids are indexes into {@link Btf.types}; id 0 is `void`.
 *
 * @module
 */
import { type ElfFile, ObjectFileError } from "./elf.ts";

/** BTF kinds, numbered as in linux/btf.h. */
export enum Kind {
  VOID = 0,
  INT = 1,
  PTR = 2,
  ARRAY = 3,
  STRUCT = 4,
  UNION = 5,
  ENUM = 6,
  FWD = 7,
  TYPEDEF = 8,
  VOLATILE = 9,
  CONST = 10,
  RESTRICT = 11,
  FUNC = 12,
  FUNC_PROTO = 13,
  VAR = 14,
  DATASEC = 15,
  FLOAT = 16,
  DECL_TAG = 17,
  TYPE_TAG = 18,
  ENUM64 = 19,
}

/** Names of the kinds as bpftool prints them. */
export const KIND_NAMES: Record<Kind, string> = {
  [Kind.VOID]: "UNKN",
  [Kind.INT]: "INT",
  [Kind.PTR]: "PTR",
  [Kind.ARRAY]: "ARRAY",
  [Kind.STRUCT]: "STRUCT",
  [Kind.UNION]: "UNION",
  [Kind.ENUM]: "ENUM",
  [Kind.FWD]: "FWD",
  [Kind.TYPEDEF]: "TYPEDEF",
  [Kind.VOLATILE]: "VOLATILE",
  [Kind.CONST]: "CONST",
  [Kind.RESTRICT]: "RESTRICT",
  [Kind.FUNC]: "FUNC",
  [Kind.FUNC_PROTO]: "FUNC_PROTO",
  [Kind.VAR]: "VAR",
  [Kind.DATASEC]: "DATASEC",
  [Kind.FLOAT]: "FLOAT",
  [Kind.DECL_TAG]: "DECL_TAG",
  [Kind.TYPE_TAG]: "TYPE_TAG",
  [Kind.ENUM64]: "ENUM64",
};

/** INT encoding bits. */
export const INT_SIGNED = 1;
export const INT_CHAR = 2;
export const INT_BOOL = 4;

/** A struct/union member; `bitOffset` from the start, `bitSize` 0 unless a bitfield. */
export interface Member {
  name: string;
  type: number;
  bitOffset: number;
  bitSize: number;
}

/** An enumerator. */
export interface Enumerator {
  name: string;
  value: bigint;
}

/** A function-prototype parameter. */
export interface Param {
  name: string;
  type: number;
}

/** A DATASEC entry. */
export interface SecVar {
  type: number;
  offset: number;
  size: number;
}

/** One BTF type. Fields beyond `kind`/`name` are set per kind. */
export interface BtfType {
  id: number;
  kind: Kind;
  name: string;
  kindFlag: boolean;
  vlen: number;
  /** Byte size: INT, STRUCT, UNION, ENUM, ENUM64, DATASEC, FLOAT. */
  size: number;
  /** Referenced type: PTR, TYPEDEF, modifiers, FUNC, VAR, DECL_TAG, TYPE_TAG. */
  ref: number;
  /** INT */
  encoding?: number;
  intOffset?: number;
  intBits?: number;
  /** ARRAY */
  elemType?: number;
  indexType?: number;
  nelems?: number;
  members?: Member[];
  enumerators?: Enumerator[];
  params?: Param[];
  /** VAR linkage (0 static, 1 global, 2 extern) or FUNC linkage. */
  linkage?: number;
  secVars?: SecVar[];
  /** DECL_TAG component index (-1: the type itself). */
  componentIdx?: number;
}

/** One func_info record of .BTF.ext. */
export interface FuncInfo {
  section: string;
  insnOff: number;
  typeId: number;
}

/** The parsed .BTF.ext header and its func_info records. */
export interface BtfExt {
  version: number;
  funcInfoLen: number;
  lineInfoLen: number;
  coreReloLen: number;
  funcInfo: FuncInfo[];
}

const VOID: BtfType = {
  id: 0,
  kind: Kind.VOID,
  name: "",
  kindFlag: false,
  vlen: 0,
  size: 0,
  ref: 0,
};

/** The parts of a `.BTF` section's header, checked (see {@link readBtfHeader}). */
export interface BtfHeader {
  /** A view of the whole section. */
  v: DataView;
  /** Throws the section's "malformed" error with `what`. */
  bad: (what: string) => never;
  /** The string section. */
  strings: Uint8Array;
  /** Where the type records start and end in the section. */
  typeStart: number;
  /** Where the type records end. */
  typeEnd: number;
}

/**
 * Checks a `.BTF` section's header (size, magic, byte order, the type and
 * string sections inside the bytes) for both readers of it: {@link Btf} and
 * the load-time check in validate.ts. `file` names it in errors.
 */
export function readBtfHeader(file: string, bytes: Uint8Array): BtfHeader {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bad = (what: string): never => {
    throw new ObjectFileError(`${file}: malformed .BTF section (${what})`);
  };
  if (bytes.length < 24) bad("header is incomplete");
  if (v.getUint16(0, true) !== 0xeb9f) {
    if (v.getUint16(0, false) === 0xeb9f) {
      throw new ObjectFileError(`${file}: big-endian BTF is not supported`);
    }
    bad("bad magic");
  }
  const hdrLen = v.getUint32(4, true);
  const typeOff = v.getUint32(8, true);
  const typeLen = v.getUint32(12, true);
  const strOff = v.getUint32(16, true);
  const strLen = v.getUint32(20, true);
  if (
    hdrLen < 24 || hdrLen + typeOff + typeLen > bytes.length ||
    hdrLen + strOff + strLen > bytes.length
  ) {
    bad("type or string section extends past its end");
  }
  return {
    v,
    bad,
    strings: bytes.subarray(hdrLen + strOff, hdrLen + strOff + strLen),
    typeStart: hdrLen + typeOff,
    typeEnd: hdrLen + typeOff + typeLen,
  };
}

/** Parsed BTF of an object. */
export class Btf {
  readonly file: string;
  readonly types: BtfType[] = [VOID];
  readonly strings: Uint8Array;
  private strCache = new Map<number, string>();

  /** Parses the raw bytes of a .BTF section; `file` names it in errors. */
  constructor(file: string, bytes: Uint8Array) {
    this.file = file;
    const { v, bad, strings, typeStart, typeEnd } = readBtfHeader(file, bytes);
    this.strings = strings;
    let p = typeStart;
    const end = typeEnd;
    const u32 = () => {
      if (p + 4 > end) bad("type data is truncated");
      const x = v.getUint32(p, true);
      p += 4;
      return x;
    };
    const i32 = () => u32() | 0;
    while (p < end) {
      const nameOff = u32();
      const info = u32();
      const sizeOrType = u32();
      const kind = ((info >>> 24) & 0x1f) as Kind;
      const vlen = info & 0xffff;
      const kindFlag = (info >>> 31) === 1;
      const t: BtfType = {
        id: this.types.length,
        kind,
        name: this.str(nameOff),
        kindFlag,
        vlen,
        size: 0,
        ref: 0,
      };
      switch (kind) {
        case Kind.INT: {
          t.size = sizeOrType;
          const enc = u32();
          t.encoding = (enc >>> 24) & 0xf;
          t.intOffset = (enc >>> 16) & 0xff;
          t.intBits = enc & 0xff;
          break;
        }
        case Kind.PTR:
        case Kind.TYPEDEF:
        case Kind.VOLATILE:
        case Kind.CONST:
        case Kind.RESTRICT:
        case Kind.TYPE_TAG:
          t.ref = sizeOrType;
          break;
        case Kind.FUNC:
          t.ref = sizeOrType;
          t.linkage = vlen;
          break;
        case Kind.FWD:
          break;
        case Kind.FLOAT:
          t.size = sizeOrType;
          break;
        case Kind.ARRAY:
          t.elemType = u32();
          t.indexType = u32();
          t.nelems = u32();
          break;
        case Kind.STRUCT:
        case Kind.UNION: {
          t.size = sizeOrType;
          t.members = [];
          for (let i = 0; i < vlen; i++) {
            const name = this.str(u32());
            const type = u32();
            const off = u32();
            t.members.push(
              kindFlag
                ? { name, type, bitOffset: off & 0xffffff, bitSize: off >>> 24 }
                : { name, type, bitOffset: off, bitSize: 0 },
            );
          }
          break;
        }
        case Kind.ENUM: {
          t.size = sizeOrType;
          t.enumerators = [];
          for (let i = 0; i < vlen; i++) {
            const name = this.str(u32());
            const val = kindFlag ? BigInt(i32()) : BigInt(u32());
            // kind_flag 0 means "unsigned or unknown"; clang <15 writes
            // signed values without the flag, so read them as signed.
            t.enumerators.push({
              name,
              value: kindFlag ? val : BigInt.asIntN(32, val),
            });
          }
          break;
        }
        case Kind.ENUM64: {
          t.size = sizeOrType;
          t.enumerators = [];
          for (let i = 0; i < vlen; i++) {
            const name = this.str(u32());
            const lo = BigInt(u32());
            const hi = BigInt(u32());
            const val = (hi << 32n) | lo;
            t.enumerators.push({
              name,
              value: kindFlag ? BigInt.asIntN(64, val) : val,
            });
          }
          break;
        }
        case Kind.FUNC_PROTO: {
          t.ref = sizeOrType;
          t.params = [];
          for (let i = 0; i < vlen; i++) {
            t.params.push({ name: this.str(u32()), type: u32() });
          }
          break;
        }
        case Kind.VAR:
          t.ref = sizeOrType;
          t.linkage = u32();
          break;
        case Kind.DATASEC:
          t.size = sizeOrType;
          t.secVars = [];
          for (let i = 0; i < vlen; i++) {
            t.secVars.push({ type: u32(), offset: u32(), size: u32() });
          }
          break;
        case Kind.DECL_TAG:
          t.ref = sizeOrType;
          t.componentIdx = i32();
          break;
        default:
          bad(`unknown type kind ${kind} at type #${t.id}`);
      }
      this.types.push(t);
    }
    for (const t of this.types) {
      for (const r of this.refsOf(t)) {
        if (r >= this.types.length) {
          bad(`type #${t.id} refers to missing type #${r}`);
        }
      }
    }
  }

  /** Reads the .BTF section of an ELF object (ObjectFileError when there is none). */
  static fromElf(elf: ElfFile): Btf {
    const s = elf.section(".BTF");
    if (!s) {
      throw new ObjectFileError(
        `${elf.file}: no .BTF section (compile with clang -g)`,
      );
    }
    return new Btf(elf.file, elf.data(s));
  }

  /** The string at `off` of the string section. */
  str(off: number): string {
    const hit = this.strCache.get(off);
    if (hit !== undefined) return hit;
    if (off >= this.strings.length && off !== 0) {
      throw new ObjectFileError(
        `${this.file}: malformed .BTF section (bad string offset ${off})`,
      );
    }
    let end = off;
    while (end < this.strings.length && this.strings[end] !== 0) end++;
    const s = new TextDecoder().decode(this.strings.subarray(off, end));
    this.strCache.set(off, s);
    return s;
  }

  /** Type ids `t` refers to directly. */
  refsOf(t: BtfType): number[] {
    switch (t.kind) {
      case Kind.ARRAY:
        return [t.elemType!, t.indexType!];
      case Kind.STRUCT:
      case Kind.UNION:
        return t.members!.map((m) => m.type);
      case Kind.FUNC_PROTO:
        return [t.ref, ...t.params!.map((p) => p.type)];
      case Kind.DATASEC:
        return t.secVars!.map((s) => s.type);
      case Kind.PTR:
      case Kind.TYPEDEF:
      case Kind.VOLATILE:
      case Kind.CONST:
      case Kind.RESTRICT:
      case Kind.TYPE_TAG:
      case Kind.FUNC:
      case Kind.VAR:
      case Kind.DECL_TAG:
        return [t.ref];
      default:
        return [];
    }
  }

  /** Type `id`. */
  get(id: number): BtfType {
    const t = this.types[id];
    if (!t) throw new ObjectFileError(`${this.file}: no BTF type #${id}`);
    return t;
  }

  /** Skips typedefs, modifiers and type tags. */
  resolve(id: number): BtfType {
    let t = this.get(id);
    for (let n = 0; n < 64; n++) {
      switch (t.kind) {
        case Kind.TYPEDEF:
        case Kind.VOLATILE:
        case Kind.CONST:
        case Kind.RESTRICT:
        case Kind.TYPE_TAG:
          t = this.get(t.ref);
          continue;
      }
      return t;
    }
    throw new ObjectFileError(
      `${this.file}: BTF type #${id} is a reference loop`,
    );
  }

  /** Skips modifiers and type tags, but not typedefs. */
  stripModifiers(id: number): BtfType {
    let t = this.get(id);
    while (
      t.kind === Kind.VOLATILE || t.kind === Kind.CONST ||
      t.kind === Kind.RESTRICT || t.kind === Kind.TYPE_TAG
    ) {
      t = this.get(t.ref);
    }
    return t;
  }

  /** Size in bytes of type `id` on the BPF target (pointers 8). */
  sizeOf(id: number): number {
    const t = this.resolve(id);
    switch (t.kind) {
      case Kind.INT:
      case Kind.STRUCT:
      case Kind.UNION:
      case Kind.ENUM:
      case Kind.ENUM64:
      case Kind.FLOAT:
      case Kind.DATASEC:
        return t.size;
      case Kind.PTR:
        return 8;
      case Kind.ARRAY:
        return t.nelems! * this.sizeOf(t.elemType!);
      case Kind.VAR:
        return this.sizeOf(t.ref);
      default:
        throw new ObjectFileError(
          `${this.file}: BTF type #${t.id} (${KIND_NAMES[t.kind]}) has no size`,
        );
    }
  }

  /** The DATASEC called `name`, if any. */
  datasec(name: string): BtfType | undefined {
    return this.types.find((t) => t.kind === Kind.DATASEC && t.name === name);
  }

  /** Every type named `name` (any kind). */
  named(name: string): BtfType[] {
    return this.types.filter((t) => t.name === name);
  }
}

/**
 * Walks one record section of a `.BTF.ext` (header `at` 8: func_info, 16:
 * line_info, 24: core_relo): `visit` gets each record's offset in `bytes`
 * and its program section's name (`str` reads the .BTF string section).
 * Records are at least `minRec` bytes; `bad` throws for malformed data.
 */
export function extRecords(
  bytes: Uint8Array,
  at: 8 | 16 | 24,
  what: string,
  minRec: number,
  str: (off: number) => string,
  bad: (what: string) => never,
  visit: (p: number, section: string) => void,
): void {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hdrLen = v.getUint32(4, true);
  if (hdrLen < at + 8 || bytes.length < at + 8) return;
  const len = v.getUint32(at + 4, true);
  if (len === 0) return;
  let p = hdrLen + v.getUint32(at, true);
  const end = p + len;
  if (end > bytes.length || len < 4) bad(`${what} extends past its end`);
  const recSize = v.getUint32(p, true);
  if (recSize < minRec) bad(`${what} record size ${recSize}`);
  p += 4;
  while (p < end) {
    if (p + 8 > end) bad(`${what} is truncated`);
    const section = str(v.getUint32(p, true));
    const n = v.getUint32(p + 4, true);
    p += 8;
    if (p + n * recSize > end) bad(`${what} is truncated`);
    for (let i = 0; i < n; i++, p += recSize) visit(p, section);
  }
}

/** Parses .BTF.ext: header and func_info (line_info/CO-RE only counted). */
export function parseBtfExt(btf: Btf, bytes: Uint8Array): BtfExt {
  const file = btf.file;
  const bad = (what: string): never => {
    throw new ObjectFileError(`${file}: malformed .BTF.ext section (${what})`);
  };
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 24) bad("header is incomplete");
  if (v.getUint16(0, true) !== 0xeb9f) bad("bad magic");
  const hdrLen = v.getUint32(4, true);
  const fiLen = v.getUint32(12, true);
  const liLen = v.getUint32(20, true);
  const crLen = hdrLen >= 32 && bytes.length >= 32 ? v.getUint32(28, true) : 0;
  const funcInfo: FuncInfo[] = [];
  extRecords(
    bytes,
    8,
    "func_info",
    8,
    (off) => btf.str(off),
    bad,
    (p, sec) =>
      funcInfo.push({
        section: sec,
        insnOff: v.getUint32(p, true),
        typeId: v.getUint32(p + 4, true),
      }),
  );
  return {
    version: bytes[2],
    funcInfoLen: fiLen,
    lineInfoLen: liLen,
    coreReloLen: crLen,
    funcInfo,
  };
}

/**
 * Bytes after a type record's 12-byte header, by kind; `bad` reports an
 * unknown kind (at type `id`). The one table of record sizes for the
 * readers that walk `.BTF` without decoding it (objfile/validate.ts,
 * objfile/core_btf.ts).
 */
export function recordTail(
  kind: number,
  vlen: number,
  bad: (what: string) => never,
  id: number,
): number {
  switch (kind) {
    case Kind.INT:
    case Kind.VAR:
    case Kind.DECL_TAG:
      return 4;
    case Kind.ARRAY:
      return 12;
    case Kind.STRUCT:
    case Kind.UNION:
    case Kind.DATASEC:
    case Kind.ENUM64:
      return 12 * vlen;
    case Kind.ENUM:
    case Kind.FUNC_PROTO:
      return 8 * vlen;
    case Kind.PTR:
    case Kind.TYPEDEF:
    case Kind.VOLATILE:
    case Kind.CONST:
    case Kind.RESTRICT:
    case Kind.TYPE_TAG:
    case Kind.FUNC:
    case Kind.FWD:
    case Kind.FLOAT:
      return 0;
    default:
      return bad(`unknown type kind ${kind} at type #${id}`);
  }
}
