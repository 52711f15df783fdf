/**
 * Typed views of a bare BPF object's data by its BTF (pure: no kernel):
 * the record type of each ring buffer / perf event array, records decoded
 * into plain objects, log2 histogram maps, and the read-only globals
 * (`const volatile` in `.rodata`) a caller may set before load.
 *
 * **Record type convention** (as ecli and cilium/ebpf objects declare it),
 * first match wins for a buffer map `M`:
 * 1. the map's own value type, `__type(value, struct event)`;
 * 2. a global pointer to a struct, the usual way to make clang emit it:
 *    `const struct event *unused __attribute__((unused));` (with several,
 *    the one whose name contains `M`, else the first);
 * 3. a struct named `M_event`, then one named `event`.
 *
 * Without one, records are shown as hex with their size, never dropped.
 *
 * @module
 */
import { SetError } from "./object_usage.ts";
import {
  type Btf,
  type BtfType,
  INT_BOOL,
  INT_CHAR,
  INT_SIGNED,
  Kind,
} from "../objfile/btf.ts";
import { type ElfFile, ObjectFileError } from "../objfile/elf.ts";

export { SetError };

/** The most fields a record type's decoder is compiled from. */
export const MAX_READER_NODES = 20_000;

/** A decoded value: numbers (64-bit ones past 2^53 as bigint), strings, booleans, arrays, objects. */
export type Value =
  | number
  | bigint
  | string
  | boolean
  | null
  | Value[]
  | { [field: string]: Value };

/** A record no BTF type describes (or shorter than its type). */
export interface RawRecord {
  /** The record's size in bytes. */
  size: number;
  /** Its bytes as lowercase hex. */
  hex: string;
}

/** The map definition's `key`/`value` types, from the `.maps` DATASEC. */
export interface MapTypes {
  /** Type id of the key (0: none declared). */
  key: number;
  /** Type id of the value (0: none declared). */
  value: number;
}

/** Key and value types of every BTF-defined map, by name. */
export function mapTypes(btf: Btf): Map<string, MapTypes> {
  const out = new Map<string, MapTypes>();
  const sec = btf.datasec(".maps");
  for (const sv of sec?.secVars ?? []) {
    const v = btf.get(sv.type);
    if (v.kind !== Kind.VAR) continue;
    const def = btf.resolve(v.ref);
    if (def.kind !== Kind.STRUCT) continue;
    const t: MapTypes = { key: 0, value: 0 };
    for (const m of def.members!) {
      if (m.name !== "key" && m.name !== "value") continue;
      const p = btf.resolve(m.type);
      if (p.kind === Kind.PTR) t[m.name] = p.ref;
    }
    out.set(v.name, t);
  }
  return out;
}

function isStruct(t: BtfType): boolean {
  return t.kind === Kind.STRUCT || t.kind === Kind.UNION;
}

/**
 * The type id of the records of buffer map `mapName` by the convention in
 * the module doc, or undefined (show them as hex).
 */
export function recordType(btf: Btf, mapName: string): number | undefined {
  const declared = mapTypes(btf).get(mapName)?.value;
  if (declared && isStruct(btf.resolve(declared))) return declared;
  const pointers: { name: string; type: number }[] = [];
  for (const t of btf.types) {
    if (t.kind !== Kind.VAR) continue;
    const p = btf.resolve(t.ref);
    if (p.kind !== Kind.PTR || !p.ref) continue;
    if (isStruct(btf.resolve(p.ref))) {
      pointers.push({ name: t.name, type: p.ref });
    }
  }
  const hit = pointers.find((p) => p.name.includes(mapName)) ?? pointers[0];
  if (hit) return hit.type;
  for (const name of [`${mapName}_event`, "event"]) {
    const s = btf.types.find((t) => t.kind === Kind.STRUCT && t.name === name);
    if (s && s.size > 0) return s.id;
  }
  return undefined;
}

/** The C name of type `id` (`struct event`, `u32`, ...), for messages. */
export function typeName(btf: Btf, id: number): string {
  const t = btf.stripModifiers(id);
  switch (t.kind) {
    case Kind.STRUCT:
      return `struct ${t.name || "(anon)"}`;
    case Kind.UNION:
      return `union ${t.name || "(anon)"}`;
    case Kind.ENUM:
    case Kind.ENUM64:
      return `enum ${t.name || "(anon)"}`;
    case Kind.PTR:
      return `${typeName(btf, t.ref)} *`;
    case Kind.ARRAY:
      return `${typeName(btf, t.elemType!)}[${t.nelems}]`;
    case Kind.VOID:
      return "void";
    default:
      return t.name || "(anon)";
  }
}

/** Whether `id` is an array of `char` (shown as a string). */
function isCharArray(btf: Btf, t: BtfType): boolean {
  if (t.kind !== Kind.ARRAY) return false;
  const e = btf.resolve(t.elemType!);
  return e.kind === Kind.INT && e.size === 1 &&
    (e.name === "char" || ((e.encoding ?? 0) & INT_CHAR) !== 0);
}

function hex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

/** `bytes` as a {@link RawRecord}. */
export function rawRecord(bytes: Uint8Array): RawRecord {
  return { size: bytes.length, hex: hex(bytes) };
}

function readInt(
  v: DataView,
  off: number,
  size: number,
  signed: boolean,
): number | bigint {
  switch (size) {
    case 1:
      return signed ? v.getInt8(off) : v.getUint8(off);
    case 2:
      return signed ? v.getInt16(off, true) : v.getUint16(off, true);
    case 4:
      return signed ? v.getInt32(off, true) : v.getUint32(off, true);
    case 8: {
      const x = signed ? v.getBigInt64(off, true) : v.getBigUint64(off, true);
      return x <= BigInt(Number.MAX_SAFE_INTEGER) &&
          x >= BigInt(Number.MIN_SAFE_INTEGER)
        ? Number(x)
        : x;
    }
    default: {
      // 16-byte integers: unsigned, as one number
      let x = 0n;
      for (let i = size - 1; i >= 0; i--) {
        x = (x << 8n) | BigInt(v.getUint8(off + i));
      }
      return x;
    }
  }
}

function small(x: bigint): number | bigint {
  return x <= BigInt(Number.MAX_SAFE_INTEGER) &&
      x >= BigInt(Number.MIN_SAFE_INTEGER)
    ? Number(x)
    : x;
}

const UTF8 = new TextDecoder();

/** The string in `bytes[off, off+n)` up to the first NUL (UTF-8). */
function cString(bytes: Uint8Array, off: number, n: number): string {
  let end = off, ascii = true;
  const stop = off + n;
  while (end < stop && bytes[end] !== 0) {
    if (bytes[end] >= 0x80) ascii = false;
    end++;
  }
  if (!ascii || end - off > 64) return UTF8.decode(bytes.subarray(off, end));
  let out = "";
  for (let i = off; i < end; i++) out += String.fromCharCode(bytes[i]);
  return out;
}

/** A decoder of one type compiled from BTF: (view, bytes, offset) → value. */
type Reader = (v: DataView, b: Uint8Array, off: number) => Value;

/**
 * Compiles type `id` into a {@link Reader}: the BTF is walked once, not
 * per record. Same results as {@link decodeValue}.
 */
export function compileReader(
  btf: Btf,
  id: number,
  budget: { left: number } = { left: MAX_READER_NODES },
  depth = 0,
): Reader {
  if (depth > 32) return () => null;
  // shared subtypes are compiled once per use: a crafted BTF (struct A of
  // two B, B of two C, ...) would take exponential time without a cap
  if (--budget.left < 0) {
    throw new ObjectFileError(
      `${btf.file}: BTF type #${id} is too complex to decode (over ${MAX_READER_NODES} fields)`,
    );
  }
  const t = btf.resolve(id);
  switch (t.kind) {
    case Kind.INT: {
      const enc = t.encoding ?? 0;
      if (enc & INT_BOOL) return (v, _b, o) => v.getUint8(o) !== 0;
      const signed = (enc & INT_SIGNED) !== 0;
      switch (t.size) {
        case 1:
          return signed
            ? (v, _b, o) => v.getInt8(o)
            : (v, _b, o) => v.getUint8(o);
        case 2:
          return signed
            ? (v, _b, o) => v.getInt16(o, true)
            : (v, _b, o) => v.getUint16(o, true);
        case 4:
          return signed
            ? (v, _b, o) => v.getInt32(o, true)
            : (v, _b, o) => v.getUint32(o, true);
        case 8:
          return signed
            ? (v, _b, o) => {
              const lo = v.getUint32(o, true), hi = v.getInt32(o + 4, true);
              return hi >= -0x200000 && hi < 0x200000
                ? hi * 4294967296 + lo
                : v.getBigInt64(o, true);
            }
            : (v, _b, o) => {
              const hi = v.getUint32(o + 4, true);
              return hi < 0x200000
                ? hi * 4294967296 + v.getUint32(o, true)
                : v.getBigUint64(o, true);
            };
      }
      return (v, _b, o) => readInt(v, o, t.size, signed);
    }
    case Kind.ARRAY: {
      const n = t.nelems!;
      if (isCharArray(btf, t)) return (_v, b, o) => cString(b, o, n);
      const es = btf.sizeOf(t.elemType!);
      if (es === 0) return () => [];
      const elem = compileReader(btf, t.elemType!, budget, depth + 1);
      return (v, b, o) => {
        const out: Value[] = new Array(n);
        for (let i = 0; i < n; i++) out[i] = elem(v, b, o + i * es);
        return out;
      };
    }
    case Kind.STRUCT:
    case Kind.UNION: {
      // anonymous struct/union members inline; anonymous bitfields (padding) skipped
      const fields = t.members!.filter((m) =>
        m.name || (isStruct(btf.resolve(m.type)) && !m.bitSize)
      ).map((m) => {
        const inline = !m.name;
        const name = m.name;
        const off = m.bitOffset / 8;
        const read: Reader = m.bitSize
          ? (v, _b, o) => bitfield(btf, m.type, v, o, m.bitOffset, m.bitSize)
          : compileReader(btf, m.type, budget, depth + 1);
        return { name, off, read, inline, bits: m.bitSize !== 0 };
      });
      return (v, b, o) => {
        const out: { [k: string]: Value } = {};
        for (const f of fields) {
          const val = f.read(v, b, f.bits ? o : o + f.off);
          if (f.inline) Object.assign(out, val as object);
          else out[f.name] = val;
        }
        return out;
      };
    }
    default:
      return (v, _b, o) => decodeLeaf(btf, id, v, o);
  }
}

/**
 * Decodes type `id` at byte `off` of `bytes` (which must hold it): integers
 * as numbers (64-bit ones past 2^53 as bigint), `bool` as booleans, enums
 * by enumerator name (else the number), `char` arrays as strings up to the
 * first NUL, other arrays as arrays, structs and unions as objects (members
 * of anonymous ones inline), pointers as hex strings.
 */
export function decodeValue(
  btf: Btf,
  id: number,
  bytes: Uint8Array,
  off = 0,
): Value {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return cachedReader(btf, id)(v, bytes, off);
}

const READERS = new WeakMap<Btf, Map<number, Reader>>();

/** {@link compileReader}, once per BTF and type. */
function cachedReader(btf: Btf, id: number): Reader {
  let m = READERS.get(btf);
  if (!m) READERS.set(btf, m = new Map());
  let r = m.get(id);
  if (!r) m.set(id, r = compileReader(btf, id));
  return r;
}

/** A leaf value (int, enum, pointer, float) of type `id`; null for others. */
function decodeLeaf(
  btf: Btf,
  id: number,
  v: DataView,
  off: number,
): Value {
  const t = btf.resolve(id);
  switch (t.kind) {
    case Kind.INT: {
      const enc = t.encoding ?? 0;
      if (enc & INT_BOOL) return v.getUint8(off) !== 0;
      return readInt(v, off, t.size, (enc & INT_SIGNED) !== 0);
    }
    case Kind.ENUM:
    case Kind.ENUM64: {
      const raw = readInt(v, off, t.size, t.kindFlag);
      const x = BigInt(raw);
      const e = t.enumerators!.find((e) =>
        e.value === x || BigInt.asUintN(t.size * 8, e.value) === x
      );
      return e ? e.name : raw;
    }
    case Kind.PTR:
      return `0x${v.getBigUint64(off, true).toString(16)}`;
    case Kind.FLOAT:
      return t.size === 4 ? v.getFloat32(off, true) : v.getFloat64(off, true);
    default:
      return null;
  }
}

function bitfield(
  btf: Btf,
  type: number,
  v: DataView,
  off: number,
  bitOffset: number,
  bitSize: number,
): Value {
  const t = btf.resolve(type);
  let x = 0n;
  const first = Math.floor(bitOffset / 8);
  const last = Math.floor((bitOffset + bitSize - 1) / 8);
  for (let i = last; i >= first; i--) {
    x = (x << 8n) | BigInt(v.getUint8(off + i));
  }
  x = (x >> BigInt(bitOffset - first * 8)) & ((1n << BigInt(bitSize)) - 1n);
  const signed = (t.kind === Kind.INT && ((t.encoding ?? 0) & INT_SIGNED)) ||
    ((t.kind === Kind.ENUM || t.kind === Kind.ENUM64) && t.kindFlag);
  if (signed) x = BigInt.asIntN(bitSize, x);
  if (t.kind === Kind.ENUM || t.kind === Kind.ENUM64) {
    const e = t.enumerators!.find((e) => e.value === x);
    if (e) return e.name;
  }
  if (t.kind === Kind.INT && ((t.encoding ?? 0) & INT_BOOL)) return x !== 0n;
  return small(x);
}

/** Decodes records of one BTF type; see {@link decodeValue}. */
export class RecordDecoder {
  /** The record type's id, undefined when records print as hex. */
  readonly type: number | undefined;
  /** Its size in bytes (0 without a type). */
  readonly size: number;
  /** Its C name, e.g. `struct event` (undefined without a type). */
  readonly name: string | undefined;
  #read: Reader | undefined;

  /** A decoder of records of `type` (undefined: every record as hex). */
  constructor(readonly btf: Btf, type: number | undefined) {
    let read: Reader | undefined, size = 0;
    if (type !== undefined) {
      try {
        size = btf.sizeOf(type);
        read = compileReader(btf, type);
      } catch (e) {
        if (!(e instanceof ObjectFileError)) throw e;
        this.problem = e.message; // then as hex
        type = undefined;
        size = 0;
      }
    }
    this.type = type;
    this.size = size;
    this.#read = read;
    this.name = type === undefined ? undefined : typeName(btf, type);
  }

  /** Why a record type found was not usable (records then print as hex). */
  readonly problem: string | undefined;

  /**
   * One record as a plain object; a {@link RawRecord} when there is no
   * type or the record is shorter than it.
   */
  decode(bytes: Uint8Array): { [field: string]: Value } | RawRecord {
    if (this.type === undefined || bytes.length < this.size) {
      return rawRecord(bytes);
    }
    let v: Value;
    try {
      v = this.#read!(
        new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength),
        bytes,
        0,
      );
    } catch (e) {
      // a member placed past the type's size (lying BTF): the bytes as they are
      if (e instanceof RangeError) return rawRecord(bytes);
      throw e;
    }
    return v && typeof v === "object" && !Array.isArray(v)
      ? v as { [field: string]: Value }
      : { value: v };
  }

  /** The top-level field names (table columns). */
  columns(): string[] {
    return this.#fields().map((f) => f.name);
  }

  /**
   * A column width per field, from its type: integers by their largest
   * value, `char` arrays by their length (at most 16), the header's at
   * least.
   */
  widths(): number[] {
    return this.#fields().map(({ name, type }) => {
      let w = 12;
      if (type !== undefined) {
        const t = this.btf.resolve(type);
        if (t.kind === Kind.INT) w = t.size >= 8 ? 13 : t.size === 4 ? 10 : 5;
        else if (isCharArray(this.btf, t)) w = Math.min(t.nelems! - 1, 16);
        else if (t.kind === Kind.ENUM) w = 10;
      }
      return Math.max(w, name.length);
    });
  }

  #fields(): { name: string; type?: number }[] {
    if (this.type === undefined) {
      return [{ name: "size" }, { name: "hex" }];
    }
    const t = this.btf.resolve(this.type);
    if (!isStruct(t)) return [{ name: "value", type: this.type }];
    const out: { name: string; type?: number }[] = [];
    const walk = (s: BtfType) => {
      for (const m of s.members!) {
        const mt = this.btf.resolve(m.type);
        if (!m.name && isStruct(mt) && !m.bitSize) walk(mt);
        else if (m.name) out.push({ name: m.name, type: m.type });
      }
    };
    walk(t);
    return out;
  }
}

/** JSON text of a decoded value: bigints as numbers (exact digits). */
export function toJson(v: unknown): string {
  try {
    return JSON.stringify(v);
  } catch (e) {
    if (!(e instanceof TypeError)) throw e; // a bigint: the slow path
  }
  const marks: string[] = [];
  const s = JSON.stringify(v, (_k, x) => {
    if (typeof x !== "bigint") return x;
    marks.push(x.toString());
    return `\u0000big${marks.length - 1}\u0000`;
  });
  return marks.length
    ? s.replace(/"\\u0000big(\d+)\\u0000"/g, (_m, i) => marks[Number(i)])
    : s;
}

/** One cell of a table: strings as is, nested values as JSON. */
export function cell(v: unknown): string {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "bigint") return String(v);
  if (typeof v === "boolean" || v === null) return String(v);
  return toJson(v);
}

/** A log2 histogram map: a value struct with a `slots` array of counts. */
export interface HistogramSpec {
  /** The map's name. */
  map: string;
  /** Key type id (0: none declared). */
  keyType: number;
  /** The value struct's type id. */
  valueType: number;
  /** Byte offset of `slots` in the value. */
  slotsOffset: number;
  /** Number of slots. */
  slots: number;
  /** Bytes per slot (4 or 8). */
  slotSize: number;
  /**
   * A per-CPU map (PERCPU_ARRAY, PERCPU_HASH...): the bytes from one CPU's
   * value to the next (the value size rounded up to 8, as the kernel lays
   * them out); 0 or absent for an ordinary map.
   */
  perCpuStride?: number;
}

/**
 * The histogram layout of map `name` when its BTF value type is a struct
 * holding `slots`, an array of 4- or 8-byte unsigned integers.
 * `perCpuValueSize`: the map's value size when it is a per-CPU map (its
 * lookups then hold one value per possible CPU, 8-byte aligned), else 0.
 */
export function histogramSpec(
  btf: Btf,
  name: string,
  perCpuValueSize = 0,
): HistogramSpec | undefined {
  const types = mapTypes(btf).get(name);
  if (!types?.value) return undefined;
  const t = btf.resolve(types.value);
  if (t.kind !== Kind.STRUCT) return undefined;
  const m = t.members!.find((m) => m.name === "slots" && !m.bitSize);
  if (!m) return undefined;
  const a = btf.resolve(m.type);
  if (a.kind !== Kind.ARRAY || !a.nelems) return undefined;
  const e = btf.resolve(a.elemType!);
  if (e.kind !== Kind.INT || (e.size !== 4 && e.size !== 8)) return undefined;
  try {
    if (types.key) cachedReader(btf, types.key);
    cachedReader(btf, types.value);
  } catch (err) {
    if (err instanceof ObjectFileError) return undefined; // too complex
    throw err;
  }
  return {
    map: name,
    keyType: types.key,
    valueType: types.value,
    slotsOffset: m.bitOffset / 8,
    slots: a.nelems,
    slotSize: e.size,
    perCpuStride: perCpuValueSize ? Math.ceil(perCpuValueSize / 8) * 8 : 0,
  };
}

/** One histogram of a map: its key and counts (slot i: [2^i, 2^(i+1))). */
export interface Histogram {
  /** The map it came from. */
  map: string;
  /** The decoded key (null without a key type). */
  key: Value;
  /** Other fields of the value struct (e.g. `comm`), decoded. */
  fields: { [field: string]: Value };
  /** Count per slot. */
  slots: number[];
}

/**
 * Decodes one entry of a histogram map. For a per-CPU map (`perCpuStride`)
 * `value` holds one value per CPU: the slots are summed over the CPUs, and
 * the other fields are those of the first CPU that counted anything (of
 * CPU 0 when none did).
 */
export function decodeHistogram(
  btf: Btf,
  spec: HistogramSpec,
  key: Uint8Array,
  value: Uint8Array,
): Histogram {
  const v = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const stride = spec.perCpuStride || value.byteLength;
  const cpus = spec.perCpuStride
    ? Math.floor(value.byteLength / spec.perCpuStride)
    : 1;
  const slots = new Array<number>(spec.slots).fill(0);
  let fieldsAt = -1;
  for (let cpu = 0; cpu < cpus; cpu++) {
    let any = false;
    for (let i = 0; i < spec.slots; i++) {
      const o = cpu * stride + spec.slotsOffset + i * spec.slotSize;
      const n = spec.slotSize === 4
        ? v.getUint32(o, true)
        : Number(v.getBigUint64(o, true));
      if (n) any = true;
      slots[i] += n;
    }
    if (any && fieldsAt < 0) fieldsAt = cpu * stride;
  }
  const one = spec.perCpuStride
    ? value.subarray(Math.max(fieldsAt, 0), Math.max(fieldsAt, 0) + stride)
    : value;
  const all = decodeValue(btf, spec.valueType, one) as {
    [k: string]: Value;
  };
  delete all.slots;
  return {
    map: spec.map,
    key: spec.keyType ? decodeValue(btf, spec.keyType, key) : null,
    fields: all,
    slots,
  };
}

/**
 * A histogram as runqlat prints it: `unit : count distribution`, one line
 * per slot up to the last non-zero one, 40 stars for the largest count.
 */
export function formatHistogram(slots: number[], unit = "usecs"): string {
  let last = -1, max = 0;
  slots.forEach((n, i) => {
    if (n > 0) last = i;
    if (n > max) max = n;
  });
  const lines = [`${" ".repeat(10)}${unit.padEnd(14)} : count    distribution`];
  for (let i = 0; i <= last; i++) {
    const low = i === 0 ? 0n : 1n << BigInt(i);
    const high = (1n << BigInt(i + 1)) - 1n;
    let stars = max ? Math.floor(slots[i] * 40 / max) : 0;
    if (slots[i] > 0 && stars === 0) stars = 1;
    lines.push(
      `${String(low).padStart(10)} -> ${String(high).padEnd(10)} : ${
        String(slots[i]).padEnd(8)
      } |${"*".repeat(stars).padEnd(40)}|`,
    );
  }
  return lines.join("\n");
}

/** A global a caller may set before load: a `const volatile` in `.rodata`. */
export interface Settable {
  /** The variable's name. */
  name: string;
  /** Its type id. */
  type: number;
  /** Its C type name. */
  typeName: string;
  /** Byte offset in `.rodata`. */
  offset: number;
  /** Size in bytes. */
  size: number;
}

/**
 * The read-only globals of the object (`.rodata` variables), by BTF. Their
 * offsets come from `elf`'s symbols when given (clang leaves the DATASEC
 * offsets 0 in objects; libbpf fills them in from the symbols at open).
 */
export function settableGlobals(btf: Btf, elf?: ElfFile): Settable[] {
  const out: Settable[] = [];
  const rodata = elf?.sections.find((s) => s.name === ".rodata");
  const symOffsets = new Map<string, number>();
  if (elf && rodata) {
    for (const sym of elf.symbols()) {
      if (sym.shndx === rodata.index && sym.name) {
        symOffsets.set(sym.name, sym.value);
      }
    }
  }
  for (const sec of btf.types) {
    if (sec.kind !== Kind.DATASEC || !sec.name.startsWith(".rodata")) continue;
    if (sec.name !== ".rodata") continue; // .rodata.str1.1 and the like: strings
    for (const sv of sec.secVars!) {
      const v = btf.get(sv.type);
      if (v.kind !== Kind.VAR) continue;
      out.push({
        name: v.name,
        type: v.ref,
        typeName: typeName(btf, v.ref),
        offset: symOffsets.get(v.name) ?? sv.offset,
        size: sv.size || btf.sizeOf(v.ref),
      });
    }
  }
  return out;
}

/** "name (type), ..." for messages. */
export function describeSettable(list: Settable[]): string {
  return list.length
    ? list.map((s) => `${s.name} (${s.typeName})`).join(", ")
    : "none: the object has no const volatile globals";
}

const MIN_INT = (bits: number) => -(1n << BigInt(bits - 1));
const MAX_INT = (bits: number, signed: boolean) =>
  (1n << BigInt(signed ? bits - 1 : bits)) - 1n;

/**
 * The bytes of `text` as a value of type `id`: integers (decimal, `0x`
 * hex, `0o`, `0b`, negative), `true`/`false`/`1`/`0` for `bool`, enums by
 * enumerator name or number, `char` arrays as strings (NUL-padded, one
 * byte kept for the NUL). Throws {@link SetError}.
 */
export function encodeValue(
  btf: Btf,
  id: number,
  text: string,
  what: string,
): Uint8Array {
  const t = btf.resolve(id);
  const fail = (why: string): never => {
    throw new SetError(
      `--set ${what}: '${text}' is not ${why}`,
    );
  };
  const int = (bits: number, signed: boolean, kindName: string): bigint => {
    const s = text.trim();
    if (!/^-?(0x[0-9a-f]+|0o[0-7]+|0b[01]+|\d+)$/i.test(s)) {
      fail(`an integer (${kindName})`);
    }
    const x = s.startsWith("-") ? -BigInt(s.slice(1)) : BigInt(s);
    const min = signed ? MIN_INT(bits) : 0n;
    // negative values of unsigned types wrap, as in C (-1 = all ones)
    const lowest = signed ? min : MIN_INT(bits);
    if (
      x < lowest || x > MAX_INT(bits, false) ||
      (signed && x > MAX_INT(bits, true))
    ) {
      fail(
        `in range for ${kindName} (${signed ? min : 0} to ${
          MAX_INT(bits, signed)
        })`,
      );
    }
    return x;
  };
  const put = (x: bigint, size: number) => {
    const out = new Uint8Array(size);
    let u = BigInt.asUintN(size * 8, x);
    for (let i = 0; i < size; i++) {
      out[i] = Number(u & 0xffn);
      u >>= 8n;
    }
    return out;
  };
  switch (t.kind) {
    case Kind.INT: {
      const enc = t.encoding ?? 0;
      if (enc & INT_BOOL) {
        const m = { true: 1n, false: 0n, "1": 1n, "0": 0n }[text.trim()];
        if (m === undefined) fail("a bool (true, false, 1 or 0)");
        return put(m!, t.size);
      }
      const signed = (enc & INT_SIGNED) !== 0;
      return put(int(t.size * 8, signed, t.name || "integer"), t.size);
    }
    case Kind.ENUM:
    case Kind.ENUM64: {
      const e = t.enumerators!.find((e) => e.name === text.trim());
      if (e) return put(e.value, t.size);
      const names = t.enumerators!.map((e) => e.name).join(", ");
      if (!/^-?(0x[0-9a-f]+|\d+)$/i.test(text.trim())) {
        fail(`one of ${typeName(btf, id)}: ${names}`);
      }
      return put(int(t.size * 8, true, `${typeName(btf, id)} value`), t.size);
    }
    case Kind.ARRAY: {
      if (!isCharArray(btf, t)) break;
      const b = new TextEncoder().encode(text);
      if (b.length >= t.nelems!) {
        fail(`a string of at most ${t.nelems! - 1} bytes`);
      }
      const out = new Uint8Array(t.nelems!);
      out.set(b);
      return out;
    }
    case Kind.FLOAT: {
      const x = Number(text);
      if (text.trim() === "" || !Number.isFinite(x)) fail("a number");
      const out = new Uint8Array(t.size);
      const dv = new DataView(out.buffer);
      if (t.size === 4) dv.setFloat32(0, x, true);
      else dv.setFloat64(0, x, true);
      return out;
    }
  }
  throw new SetError(
    `--set ${what}: its type ${
      typeName(btf, id)
    } cannot be set from the command line`,
  );
}

/**
 * Writes `NAME=VALUE` assignments into a copy of the object's bytes (the
 * `.rodata` section libbpf copies into the map at open). Throws
 * {@link SetError} for unknown names (listing the settable globals), bad
 * values, or an object without a `.rodata` section to write.
 */
export function applySets(
  elf: ElfFile,
  btf: Btf,
  sets: string[],
): Uint8Array {
  const out = elf.bytes.slice();
  if (!sets.length) return out;
  const list = settableGlobals(btf, elf);
  const sec = elf.sections.find((s) => s.name === ".rodata");
  for (const a of sets) {
    const eq = a.indexOf("=");
    if (eq <= 0) {
      throw new SetError(
        `--set needs NAME=VALUE, got '${a}' (settable: ${
          describeSettable(list)
        })`,
      );
    }
    const name = a.slice(0, eq);
    const g = list.find((s) => s.name === name);
    if (!g) {
      throw new SetError(
        `--set ${name}: no such read-only global (settable: ${
          describeSettable(list)
        })`,
      );
    }
    let bytes: Uint8Array;
    try {
      bytes = encodeValue(btf, g.type, a.slice(eq + 1), name);
    } catch (e) {
      if (!(e instanceof SetError)) throw e;
      throw new SetError(
        `${e.message} (settable: ${describeSettable(list)})`,
      );
    }
    if (!sec || sec.type !== 1 /* PROGBITS */ || g.offset + g.size > sec.size) {
      throw new SetError(
        `--set ${name}: the object's .rodata section does not hold it`,
      );
    }
    out.set(bytes.subarray(0, g.size), sec.offset + g.offset);
  }
  return out;
}
