/**
 * The minimal kernel BTF an object's CO-RE relocations need, as bpftool's
 * `gen min_core_btf` makes it: the candidate types of each relocation,
 * with only the members its access path goes through (each at its own bit
 * offset, in a struct of its own size), the types those members have, and
 * whole enums. libbpf resolves the relocations against it (its
 * `btf_custom_path`) exactly as against `/sys/kernel/btf/vmlinux`, without
 * reading and indexing the kernel's 5 MB of BTF on every load.
 *
 * Two steps, so that the result can be cached per kernel:
 * {@link coreNeeds} reads what an object's relocations ask for (a short
 * canonical text; objects that ask the same share it), and
 * {@link minimalCoreBtf} answers it from the kernel's BTF.
 *
 * Every type and member in the result is a copy of the kernel's, so a
 * wrong answer can only be a missing one (a relocation that fails), never
 * a wrong offset. Where the answer would differ from the kernel's own
 * (`bpf_core_type_id_kernel()` gives an id in the BTF it was resolved
 * against; a type with no candidate in vmlinux makes libbpf search module
 * BTF, which a custom path turns off), there is no answer: null.
 *
 * @module
 */
import { extRecords, Kind, readBtfHeader, recordTail } from "./btf.ts";
import { ObjectFileError } from "./elf.ts";

/** `enum bpf_core_relo_kind`. */
export enum CoreReloKind {
  FIELD_BYTE_OFFSET = 0,
  FIELD_BYTE_SIZE = 1,
  FIELD_EXISTS = 2,
  FIELD_SIGNED = 3,
  FIELD_LSHIFT_U64 = 4,
  FIELD_RSHIFT_U64 = 5,
  TYPE_ID_LOCAL = 6,
  TYPE_ID_TARGET = 7,
  TYPE_EXISTS = 8,
  TYPE_SIZE = 9,
  ENUMVAL_EXISTS = 10,
  ENUMVAL_VALUE = 11,
  TYPE_MATCHES = 12,
}

/** One CO-RE relocation record of `.BTF.ext`. */
export interface CoreRelo {
  /** The program section it is in. */
  section: string;
  insnOff: number;
  /** The local root type. */
  typeId: number;
  /** The access string, e.g. `0:1:2`. */
  access: string;
  kind: CoreReloKind;
}

const decoder = new TextDecoder();

/**
 * A BTF section indexed in place: the offset of each type record, nothing
 * decoded until asked. Enough to walk types and members of a 5 MB kernel
 * BTF in a few milliseconds.
 */
export class RawBtf {
  readonly v: DataView;
  readonly strings: Uint8Array;
  /** Record offset of type #id (1-based; [0] unused). */
  readonly offs: Uint32Array;
  /** Number of types, void included. */
  readonly count: number;

  constructor(file: string, bytes: Uint8Array) {
    const h = readBtfHeader(file, bytes);
    this.v = h.v;
    this.strings = h.strings;
    const offs = new Uint32Array(
      Math.floor((h.typeEnd - h.typeStart) / 12) + 2,
    );
    let n = 1;
    for (let p = h.typeStart; p < h.typeEnd; n++) {
      if (p + 12 > h.typeEnd) h.bad("type data is truncated");
      offs[n] = p;
      const info = h.v.getUint32(p + 4, true);
      p += 12 + recordTail((info >>> 24) & 0x1f, info & 0xffff, h.bad, n);
    }
    offs[n] = h.typeEnd;
    this.offs = offs;
    this.count = n;
  }

  /** Whether `id` names a type here (void included). */
  has(id: number): boolean {
    return id >= 0 && id < this.count;
  }
  info(id: number): number {
    return id === 0 ? 0 : this.v.getUint32(this.offs[id] + 4, true);
  }
  kind(id: number): Kind {
    return (this.info(id) >>> 24) & 0x1f;
  }
  vlen(id: number): number {
    return this.info(id) & 0xffff;
  }
  nameOff(id: number): number {
    return id === 0 ? 0 : this.v.getUint32(this.offs[id], true);
  }
  /** The size/type word of the record. */
  ref(id: number): number {
    return id === 0 ? 0 : this.v.getUint32(this.offs[id] + 8, true);
  }
  /** The string at `off` as raw bytes (without its NUL). */
  strBytes(off: number): Uint8Array {
    const s = this.strings;
    if (off >= s.length) return new Uint8Array(0);
    const end = s.indexOf(0, off);
    return s.subarray(off, end < 0 ? s.length : end);
  }
  str(off: number): string {
    return decoder.decode(this.strBytes(off));
  }
  name(id: number): string {
    return this.str(this.nameOff(id));
  }
  /** Offset of the i-th 12- or 8-byte entry after the record's header. */
  entry(id: number, i: number, size: number): number {
    return this.offs[id] + 12 + i * size;
  }
  /** Follows typedefs and modifiers (as libbpf's skip_mods_and_typedefs). */
  skip(id: number): number {
    for (let depth = 0; depth < 64 && id < this.count; depth++) {
      const k = this.kind(id);
      if (
        k !== Kind.TYPEDEF && k !== Kind.CONST && k !== Kind.VOLATILE &&
        k !== Kind.RESTRICT && k !== Kind.TYPE_TAG
      ) {
        return id;
      }
      id = this.ref(id);
    }
    return 0;
  }
}

const isComposite = (k: Kind) => k === Kind.STRUCT || k === Kind.UNION;

/** The CO-RE relocation records of a `.BTF.ext` section (none if it has none). */
export function coreRelocations(btf: RawBtf, ext: Uint8Array): CoreRelo[] {
  const v = new DataView(ext.buffer, ext.byteOffset, ext.byteLength);
  const bad = (why: string): never => {
    throw new ObjectFileError(`malformed .BTF.ext section (${why})`);
  };
  if (ext.length < 24 || v.getUint16(0, true) !== 0xeb9f) bad("header");
  const out: CoreRelo[] = [];
  extRecords(
    ext,
    24,
    "core_relo",
    16,
    (off) => btf.str(off),
    bad,
    (p, sec) =>
      out.push({
        section: sec,
        insnOff: v.getUint32(p, true),
        typeId: v.getUint32(p + 4, true),
        access: btf.str(v.getUint32(p + 8, true)),
        kind: v.getUint32(p + 12, true),
      }),
  );
  return out;
}

/**
 * libbpf's essential name: `name` without a `___flavor` suffix (the last
 * `X___Y` where X and Y are not underscores).
 */
export function essentialName(name: string): string {
  for (let i = name.length - 5; i >= 0; i--) {
    if (
      name[i] !== "_" && name[i + 1] === "_" && name[i + 2] === "_" &&
      name[i + 3] === "_" && name[i + 4] !== "_"
    ) {
      return name.slice(0, i + 1);
    }
  }
  return name;
}

/**
 * One thing a relocation asks of the kernel's BTF: `[class, kind, name,
 * ...path]` where class is "field" (path: member names, "[]" for an
 * array index), "type" or "enum", kind the local root's BTF kind
 * and name its essential name.
 */
export type CoreNeed = [string, number, string, ...string[]];

/**
 * What an object's CO-RE relocations ask of the kernel's BTF, as one
 * canonical JSON text (sorted, without duplicates): the key of a cached
 * {@link minimalCoreBtf}. Null when the object has no CO-RE relocations,
 * or has one whose answer must come from the kernel's own BTF
 * (`TYPE_ID_TARGET`) or that this code does not answer (`TYPE_MATCHES`). Throws ObjectFileError on malformed sections.
 */
export function coreNeeds(
  btfBytes: Uint8Array,
  ext: Uint8Array,
): string | null {
  const btf = new RawBtf("object", btfBytes);
  const relos = coreRelocations(btf, ext);
  if (relos.length === 0) return null;
  const needs = new Set<string>();
  for (const r of relos) {
    if (r.kind === CoreReloKind.TYPE_ID_LOCAL) continue; // not the kernel's
    if (r.kind === CoreReloKind.TYPE_ID_TARGET) return null;
    if (!btf.has(r.typeId) || r.typeId === 0) continue; // libbpf refuses it
    const kind = btf.kind(r.typeId);
    const name = essentialName(btf.name(r.typeId));
    if (!name) continue; // an anonymous root: libbpf refuses it
    let need: CoreNeed;
    switch (r.kind) {
      case CoreReloKind.FIELD_BYTE_OFFSET:
      case CoreReloKind.FIELD_BYTE_SIZE:
      case CoreReloKind.FIELD_EXISTS:
      case CoreReloKind.FIELD_SIGNED:
      case CoreReloKind.FIELD_LSHIFT_U64:
      case CoreReloKind.FIELD_RSHIFT_U64:
        need = ["field", kind, name, ...fieldPath(btf, r)];
        break;
      case CoreReloKind.TYPE_EXISTS:
      case CoreReloKind.TYPE_SIZE:
        need = ["type", kind, name];
        break;
      case CoreReloKind.ENUMVAL_EXISTS:
      case CoreReloKind.ENUMVAL_VALUE:
        need = ["enum", kind, name];
        break;
      default:
        // TYPE_MATCHES (clang 15 emits it; untested with clang 14 here)
        // and kinds this code does not know: the kernel's BTF decides
        return null;
    }
    needs.add(JSON.stringify(need));
  }
  if (needs.size === 0) return null;
  return `[${[...needs].sort().join(",")}]`;
}

/**
 * The named steps of a field relocation's access string, as libbpf's
 * bpf_core_parse_spec takes them: the first index is an array index on
 * the root; then a member index (anonymous members only move the offset)
 * or an array index per step.
 */
function fieldPath(btf: RawBtf, r: CoreRelo): string[] {
  const raw = r.access.split(":").map(Number);
  const path: string[] = [];
  let id = r.typeId;
  for (let i = 1; i < raw.length; i++) {
    const t = btf.skip(id);
    const k = btf.kind(t);
    const idx = raw[i];
    if (isComposite(k)) {
      if (!(idx < btf.vlen(t))) break;
      const m = btf.entry(t, idx, 12);
      const nameOff = btf.v.getUint32(m, true);
      if (nameOff) path.push(btf.str(nameOff));
      id = btf.v.getUint32(m + 4, true);
    } else if (k === Kind.ARRAY) {
      path.push("[]");
      id = btf.v.getUint32(btf.entry(t, 0, 12), true);
    } else {
      break;
    }
  }
  return path;
}

/** Marks of the types and members to keep. */
class Marks {
  readonly types: Uint8Array;
  readonly members = new Map<number, Set<number>>();
  readonly #seen = new Set<number>();
  constructor(readonly btf: RawBtf) {
    this.types = new Uint8Array(btf.count);
  }

  member(id: number, i: number) {
    let s = this.members.get(id);
    if (!s) this.members.set(id, s = new Set());
    s.add(i);
  }

  /** bpftool's btfgen_mark_type: the type and what it needs (no members). */
  type(id: number, followPointers: boolean): void {
    const b = this.btf;
    // each (id, mode) once: chains through arrays and prototypes repeat
    const key = id * 2 + (followPointers ? 1 : 0);
    if (id === 0 || this.#seen.has(key)) return;
    this.#seen.add(key);
    this.types[id] = 1;
    switch (b.kind(id)) {
      case Kind.PTR:
        if (followPointers) this.type(b.ref(id), true);
        break;
      case Kind.CONST:
      case Kind.VOLATILE:
      case Kind.RESTRICT:
      case Kind.TYPEDEF:
      case Kind.TYPE_TAG:
        this.type(b.ref(id), followPointers);
        break;
      case Kind.ARRAY: {
        const a = b.entry(id, 0, 12);
        this.type(b.v.getUint32(a, true), followPointers);
        this.type(b.v.getUint32(a + 4, true), followPointers);
        break;
      }
      case Kind.FUNC_PROTO:
        this.type(b.ref(id), followPointers);
        for (let i = 0; i < b.vlen(id); i++) {
          this.type(b.v.getUint32(b.entry(id, i, 8) + 4, true), followPointers);
        }
        break;
    }
  }
}

const encoder = new TextEncoder();

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The first member named `name` of composite `id`, looking inside
 * anonymous struct/union members on the way, as libbpf's
 * bpf_core_match_member: the chain of [composite, member index] pairs, or
 * undefined.
 */
function findMember(
  b: RawBtf,
  id: number,
  name: Uint8Array,
  depth = 0,
): [number, number][] | undefined {
  const t = b.skip(id);
  if (!isComposite(b.kind(t)) || depth > 32) return undefined;
  for (let i = 0; i < b.vlen(t); i++) {
    const m = b.entry(t, i, 12);
    const nameOff = b.v.getUint32(m, true);
    if (nameOff === 0) {
      const inner = findMember(b, b.v.getUint32(m + 4, true), name, depth + 1);
      if (inner) return [[t, i], ...inner];
    } else if (sameBytes(b.strBytes(nameOff), name)) {
      return [[t, i]];
    }
  }
  return undefined;
}

/**
 * The minimal BTF (a raw `.BTF` blob libbpf's btf__parse reads) that
 * answers `needs` (from {@link coreNeeds}) as `kernel` would, or null
 * when a need has no candidate type in it (libbpf would then look in the
 * modules' BTF, which a custom BTF turns off).
 */
export function minimalCoreBtf(
  needs: string,
  kernel: Uint8Array,
): Uint8Array | null {
  const list = JSON.parse(needs) as CoreNeed[];
  const b = new RawBtf("kernel BTF", kernel);
  // candidates: same kind (enum and enum64 alike), same essential name
  const wanted = new Map<string, number[]>();
  for (const [, , name] of list) wanted.set(name, []);
  // names compared as bytes (a kernel has ~130k named types); a match
  // followed by '_' may be a flavor: decoded and checked in full
  const names = [...wanted.keys()].map((n) => [n, encoder.encode(n)] as const);
  const firsts = new Set(names.map(([, nb]) => nb[0]));
  const str = b.strings;
  for (let id = 1; id < b.count; id++) {
    const off = b.nameOff(id);
    if (off === 0 || !firsts.has(str[off])) continue;
    for (const [name, nb] of names) {
      let i = 0;
      while (i < nb.length && str[off + i] === nb[i]) i++;
      if (i < nb.length) continue;
      const next = str[off + i];
      if (next === 0 || (next === 0x5f && essentialName(b.str(off)) === name)) {
        wanted.get(name)!.push(id);
      }
    }
  }
  const compat = (a: Kind, k: Kind) =>
    a === k ||
    ((a === Kind.ENUM || a === Kind.ENUM64) &&
      (k === Kind.ENUM || k === Kind.ENUM64));
  const marks = new Marks(b);
  for (const [cls, kind, name, ...path] of list) {
    const cands = wanted.get(name)!.filter((id) => compat(b.kind(id), kind));
    if (cands.length === 0) return null;
    for (const root of cands) {
      if (cls === "field") markField(b, marks, root, path);
      else marks.type(root, cls === "type");
    }
  }
  return writeBtf(b, marks);
}

/** Marks what a field access from `root` along `path` goes through. */
function markField(b: RawBtf, marks: Marks, root: number, path: string[]) {
  marks.type(root, false);
  let id = root;
  for (const step of path) {
    const t = b.skip(id);
    if (step === "[]") {
      if (b.kind(t) !== Kind.ARRAY) return;
      id = b.v.getUint32(b.entry(t, 0, 12), true);
      continue;
    }
    const chain = findMember(b, t, encoder.encode(step));
    if (!chain) return;
    for (const [sid, i] of chain) {
      marks.member(sid, i);
      marks.type(b.v.getUint32(b.entry(sid, i, 12) + 4, true), false);
    }
    const [sid, i] = chain[chain.length - 1];
    id = b.v.getUint32(b.entry(sid, i, 12) + 4, true);
  }
}

/** The marked types as a new BTF blob: ids renumbered, unmarked references void. */
function writeBtf(b: RawBtf, marks: Marks): Uint8Array {
  const newId = new Uint32Array(b.count);
  let n = 0;
  for (let id = 1; id < b.count; id++) if (marks.types[id]) newId[id] = ++n;
  const strs: number[] = [0];
  const strIndex = new Map<string, number>([["", 0]]);
  const str = (off: number) => {
    const s = b.str(off);
    let at = strIndex.get(s);
    if (at === undefined) {
      at = strs.length;
      strIndex.set(s, at);
      strs.push(...encoder.encode(s), 0);
    }
    return at;
  };
  const words: number[] = [];
  const v = b.v;
  for (let id = 1; id < b.count; id++) {
    if (!marks.types[id]) continue;
    const p = b.offs[id];
    const info = b.info(id);
    const kind = b.kind(id);
    const vlen = info & 0xffff;
    const head = (infoWord: number, third: number) =>
      words.push(str(b.nameOff(id)), infoWord, third);
    switch (kind) {
      case Kind.INT:
        head(info, b.ref(id));
        words.push(v.getUint32(p + 12, true));
        break;
      case Kind.PTR:
      case Kind.TYPEDEF:
      case Kind.VOLATILE:
      case Kind.CONST:
      case Kind.RESTRICT:
      case Kind.TYPE_TAG:
        head(info, newId[b.ref(id)]);
        break;
      case Kind.FWD:
      case Kind.FLOAT:
        head(info, b.ref(id));
        break;
      case Kind.ARRAY:
        head(info, 0);
        words.push(
          newId[v.getUint32(p + 12, true)],
          newId[v.getUint32(p + 16, true)],
          v.getUint32(p + 20, true),
        );
        break;
      case Kind.STRUCT:
      case Kind.UNION: {
        const keep = [...(marks.members.get(id) ?? [])].sort((x, y) => x - y);
        head((info & ~0xffff) | keep.length, b.ref(id));
        for (const i of keep) {
          const m = p + 12 + 12 * i;
          words.push(
            str(v.getUint32(m, true)),
            newId[v.getUint32(m + 4, true)],
            v.getUint32(m + 8, true),
          );
        }
        break;
      }
      case Kind.ENUM:
        head(info, b.ref(id));
        for (let i = 0; i < vlen; i++) {
          const e = p + 12 + 8 * i;
          words.push(str(v.getUint32(e, true)), v.getUint32(e + 4, true));
        }
        break;
      case Kind.ENUM64:
        head(info, b.ref(id));
        for (let i = 0; i < vlen; i++) {
          const e = p + 12 + 12 * i;
          words.push(
            str(v.getUint32(e, true)),
            v.getUint32(e + 4, true),
            v.getUint32(e + 8, true),
          );
        }
        break;
      case Kind.FUNC_PROTO:
        head(info, newId[b.ref(id)]);
        for (let i = 0; i < vlen; i++) {
          const e = p + 12 + 8 * i;
          words.push(
            str(v.getUint32(e, true)),
            newId[v.getUint32(e + 4, true)],
          );
        }
        break;
      default:
        // FUNC, VAR, DATASEC and DECL_TAG are never marked
        throw new Error(`min CO-RE BTF: unexpected kind ${kind} (#${id})`);
    }
  }
  const typeLen = words.length * 4;
  const out = new Uint8Array(24 + typeLen + strs.length);
  const o = new DataView(out.buffer);
  o.setUint16(0, 0xeb9f, true);
  out[2] = 1; // version
  o.setUint32(4, 24, true); // hdr_len
  o.setUint32(8, 0, true); // type_off
  o.setUint32(12, typeLen, true);
  o.setUint32(16, typeLen, true); // str_off
  o.setUint32(20, strs.length, true);
  for (let i = 0; i < words.length; i++) {
    o.setUint32(24 + 4 * i, words[i], true);
  }
  out.set(strs, 24 + typeLen);
  return out;
}
