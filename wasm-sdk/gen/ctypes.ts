/**
 * C declarations for BTF types whose layout is the same on wasm32 and on
 * the 64-bit BPF side.
 *
 * Rules: pointers (which are 8 bytes in BPF programs and 4 on wasm32) and
 * `long` become fixed-size 64-bit integers (`uint64_t`/`int64_t`); every
 * integer becomes a `<stdint.h>` type of its BTF size; padding is explicit
 * (`char __pad_N[n]`, and `uint8_t : n` for bit gaps); bitfields keep their
 * width on a storage type of the size of their declared type. Both targets
 * lay fixed-size integers out the same way (`int64_t` is 8-aligned on
 * wasm32 too), so a struct of these members lands at the BTF offsets; when it
 * cannot (a packed struct), the struct is emitted `__attribute__((packed))`.
 *
 * @module
 */
import {
  type Btf,
  type BtfType,
  INT_BOOL,
  INT_SIGNED,
  Kind,
} from "../../objfile/btf.ts";
import { GenError } from "./errors.ts";

/** A member to place at a bit offset. */
export interface LayoutMember {
  name: string;
  type: number;
  bitOffset: number;
  /** Bitfield width, 0 for an ordinary member. */
  bitSize: number;
}

/** A laid-out body: member lines, and what C will make of it. */
export interface Body {
  lines: string[];
  packed: boolean;
  align: number;
  /** Named non-bitfield members reachable without crossing a named type: C path → byte offset. */
  offsets: [string, number][];
}

/**
 * How a type is spelled in a member declaration: `pre name post`.
 * `inlineNamed` (the skeleton's choice) spells named structs, unions and
 * enums inline or as integers, so the output defines no shared names.
 */
export interface Spelling {
  pre: string;
  post: string;
  /** Offsets inside an inline composite, relative to it. */
  inner?: [string, number][];
}

const alignUp = (x: number, a: number) => Math.ceil(x / a) * a;

/** Emits C for BTF types; collects the named types it refers to. */
export class CTypes {
  readonly btf: Btf;
  readonly inlineNamed: boolean;
  /** Named types a spelling referred to (ids of STRUCT/UNION/ENUM/TYPEDEF). */
  readonly deps = new Set<number>();
  private alignCache = new Map<number, number>();
  /** Padding names are unique per definition (anonymous members share it). */
  private padSeq = 0;

  constructor(btf: Btf, inlineNamed: boolean) {
    this.btf = btf;
    this.inlineNamed = inlineNamed;
  }

  private err(msg: string): never {
    throw new GenError(`${this.btf.file}: ${msg}`);
  }

  /** `struct foo`, `union <anon #12>` ... for messages. */
  describe(t: BtfType): string {
    const k = t.kind === Kind.UNION
      ? "union"
      : t.kind === Kind.ENUM || t.kind === Kind.ENUM64
      ? "enum"
      : t.kind === Kind.TYPEDEF
      ? "typedef"
      : "struct";
    return `${k} ${t.name || `<anonymous #${t.id}>`}`;
  }

  /** Fixed-size integer spelling for an INT/ENUM of `size` bytes. */
  intName(size: number, signed: boolean): string {
    switch (size) {
      case 1:
      case 2:
      case 4:
      case 8:
        return `${signed ? "" : "u"}int${size * 8}_t`;
      case 16:
        return signed ? "__int128" : "unsigned __int128";
    }
    return this.err(`unsupported integer size ${size}`);
  }

  private enumSigned(t: BtfType): boolean {
    return t.enumerators!.some((e) => e.value < 0n);
  }

  /** Alignment of the emitted spelling of `id` (equal on both targets). */
  alignOf(id: number): number {
    const hit = this.alignCache.get(id);
    if (hit !== undefined) return hit;
    const t = this.btf.get(id);
    let a: number;
    switch (t.kind) {
      case Kind.INT:
      case Kind.ENUM:
      case Kind.ENUM64:
      case Kind.FLOAT:
        a = Math.min(Math.max(t.size, 1), 16);
        break;
      case Kind.PTR:
        a = 8;
        break;
      case Kind.ARRAY:
        a = this.alignOf(t.elemType!);
        break;
      case Kind.STRUCT:
      case Kind.UNION:
        a = this.layout(t).align;
        break;
      case Kind.TYPEDEF:
      case Kind.VOLATILE:
      case Kind.CONST:
      case Kind.RESTRICT:
      case Kind.TYPE_TAG:
      case Kind.VAR:
        a = this.alignOf(t.ref);
        break;
      default:
        return this.err(
          `${this.describe(t)} (BTF #${id}) cannot be a member by value`,
        );
    }
    this.alignCache.set(id, a);
    return a;
  }

  /** The member list of a struct/union with bitfields normalised. */
  members(t: BtfType): LayoutMember[] {
    return t.members!.map((m) => {
      let bitOffset = m.bitOffset;
      let bitSize = m.bitSize;
      if (!t.kindFlag) {
        const r = this.btf.resolve(m.type);
        if (
          r.kind === Kind.INT &&
          (r.intBits! !== r.size * 8 || r.intOffset! !== 0)
        ) {
          bitOffset += r.intOffset!;
          bitSize = r.intBits!;
        }
      }
      return { name: m.name, type: m.type, bitOffset, bitSize };
    });
  }

  /** Lays out a struct or union type to its BTF offsets. */
  layout(t: BtfType, indent = "\t"): Body {
    return this.body(
      this.members(t),
      t.size,
      t.kind === Kind.UNION,
      indent,
      this.describe(t),
    );
  }

  /**
   * Places `members` at their bit offsets in a body of `size` bytes:
   * natural alignment if it reproduces the offsets, else packed.
   * With `exactSize` false, trailing alignment may make sizeof larger.
   */
  body(
    members: LayoutMember[],
    size: number,
    isUnion: boolean,
    indent: string,
    what: string,
    exactSize = true,
  ): Body {
    return this.tryBody(members, size, isUnion, indent, false, exactSize) ??
      this.tryBody(members, size, isUnion, indent, true, exactSize) ??
      this.err(`cannot reproduce the layout of ${what}`);
  }

  private tryBody(
    members: LayoutMember[],
    size: number,
    isUnion: boolean,
    indent: string,
    packed: boolean,
    exactSize: boolean,
  ): Body | undefined {
    const lines: string[] = [];
    const offsets: [string, number][] = [];
    let align = 1;
    let c = 0; // cursor, in bits
    let maxEnd = 0;
    const padTo = (target: number) => {
      while (c < target) {
        if (c % 8 !== 0 || target - c < 8) {
          const k = Math.min(8 - (c % 8), target - c);
          lines.push(`${indent}uint8_t : ${k};`);
          c += k;
        } else {
          const n = Math.floor((target - c) / 8);
          lines.push(`${indent}char __pad_${this.padSeq++}[${n}];`);
          c += n * 8;
        }
      }
    };
    const sorted = isUnion
      ? members
      : [...members].sort((a, b) => a.bitOffset - b.bitOffset);
    for (const m of sorted) {
      if (isUnion) c = 0;
      if (m.bitOffset < c) return undefined;
      if (m.bitSize > 0) {
        const r = this.btf.resolve(m.type);
        let storage: string;
        let bytes: number;
        if (r.kind === Kind.INT) {
          bytes = r.size;
          storage = this.intName(
            r.size,
            (r.encoding! & INT_SIGNED) !== 0 && (r.encoding! & INT_BOOL) === 0,
          );
        } else if (r.kind === Kind.ENUM || r.kind === Kind.ENUM64) {
          bytes = r.size;
          storage = this.intName(r.size, this.enumSigned(r));
        } else {
          return this.err(`bitfield ${m.name} of a non-integer type`);
        }
        if (!isUnion) padTo(m.bitOffset);
        const unit = bytes * 8;
        let p = c;
        if (
          !packed &&
          Math.floor(p / unit) !== Math.floor((p + m.bitSize - 1) / unit)
        ) p = alignUp(p, unit);
        if (p !== m.bitOffset) return undefined;
        if (!packed) align = Math.max(align, this.alignOf(m.type));
        const name = m.name || `__unnamed_${this.padSeq++}`;
        lines.push(`${indent}${storage} ${name} : ${m.bitSize};`);
        c = p + m.bitSize;
      } else {
        if (!isUnion) padTo(m.bitOffset);
        const a = packed ? 1 : this.alignOf(m.type);
        const p = alignUp(alignUp(c, 8), a * 8);
        if (p !== m.bitOffset) return undefined;
        align = Math.max(align, a);
        const sp = this.spell(m.type, indent);
        lines.push(
          `${indent}${sp.pre}${m.name ? " " + m.name : ""}${sp.post};`,
        );
        const base = p / 8;
        if (m.name) offsets.push([m.name, base]);
        for (const [path, off] of sp.inner ?? []) {
          offsets.push([m.name ? `${m.name}.${path}` : path, base + off]);
        }
        c = p + this.btf.sizeOf(m.type) * 8;
      }
      maxEnd = Math.max(maxEnd, c);
    }
    c = maxEnd;
    if (c > size * 8) return undefined;
    if (alignUp(c, 8) < size * 8) {
      if (isUnion) {
        lines.push(`${indent}char __pad_${this.padSeq++}[${size}];`);
        c = size * 8;
      } else padTo(size * 8);
    }
    const natural = alignUp(alignUp(c, 8), align * 8) / 8;
    if (exactSize ? natural !== size : natural < size) return undefined;
    return { lines, packed, align: packed ? 1 : align, offsets };
  }

  /** The spelling of type `id` in a member declaration. */
  spell(id: number, indent: string): Spelling {
    const t = this.btf.get(id);
    switch (t.kind) {
      case Kind.INT:
        if (t.encoding! & INT_BOOL) return { pre: "bool", post: "" };
        if (t.name === "char" && t.size === 1) return { pre: "char", post: "" };
        return {
          pre: this.intName(t.size, (t.encoding! & INT_SIGNED) !== 0),
          post: "",
        };
      case Kind.PTR:
        return { pre: "uint64_t", post: "" };
      case Kind.FLOAT:
        if (t.size === 4) return { pre: "float", post: "" };
        if (t.size === 8) return { pre: "double", post: "" };
        return { pre: "long double", post: "" };
      case Kind.ENUM:
      case Kind.ENUM64:
        if (t.name && !this.inlineNamed) {
          // the definition comes along for its constants; a member of an
          // enum that is not 4 bytes (packed, enum64) is a sized integer
          this.deps.add(t.id);
          if (t.size === 4) return { pre: `enum ${t.name}`, post: "" };
        }
        return { pre: this.intName(t.size, this.enumSigned(t)), post: "" };
      case Kind.ARRAY: {
        const e = this.spell(t.elemType!, indent);
        return { pre: e.pre, post: `[${t.nelems}]${e.post}` };
      }
      case Kind.STRUCT:
      case Kind.UNION: {
        const kw = t.kind === Kind.UNION ? "union" : "struct";
        if (t.name && !this.inlineNamed) {
          this.deps.add(t.id);
          return { pre: `${kw} ${t.name}`, post: "" };
        }
        const b = this.layout(t, indent + "\t");
        return {
          pre: `${kw}${b.packed ? " __attribute__((packed))" : ""} {\n${
            b.lines.join("\n")
          }\n${indent}}`,
          post: "",
          inner: b.offsets,
        };
      }
      case Kind.TYPEDEF: {
        const r = this.btf.resolve(id);
        const composite = r.kind === Kind.STRUCT || r.kind === Kind.UNION ||
          (r.kind === Kind.ENUM && r.size === 4);
        if (composite && !r.name && !this.inlineNamed) {
          // typedef struct { ... } name_t: only the typedef names it
          this.deps.add(t.id);
          return { pre: t.name, post: "" };
        }
        return this.spell(t.ref, indent);
      }
      case Kind.VOLATILE:
      case Kind.CONST:
      case Kind.RESTRICT:
      case Kind.TYPE_TAG:
      case Kind.VAR:
        return this.spell(t.ref, indent);
      case Kind.FWD:
        return this.err(
          `${t.name} is only declared (BTF FWD), it cannot be a member by value`,
        );
      default:
        return this.err(`BTF #${id} (kind ${t.kind}) cannot be a member`);
    }
  }

  /** Formats an enumerator value as a C constant. */
  enumValue(v: bigint, size: number): string {
    if (v >= -2147483648n && v <= 2147483647n) return v.toString();
    if (v >= 0n && v <= 0xffffffffn && size <= 4) return `${v}U`;
    if (v < 0n) {
      return v === -9223372036854775808n
        ? "(-9223372036854775807LL - 1)"
        : `${v}LL`;
    }
    return `${v}ULL`;
  }

  /** Restarts the numbering of padding members (once per definition). */
  resetPadding() {
    this.padSeq = 0;
  }

  /** The C definition of a named struct/union/enum or typedef, with layout checks. */
  define(id: number): string {
    this.resetPadding();
    const t = this.btf.get(id);
    if (t.kind === Kind.ENUM || t.kind === Kind.ENUM64) {
      return this.defineEnum(t, t.name ? `enum ${t.name}` : "enum") + ";\n";
    }
    if (t.kind === Kind.TYPEDEF) {
      const r = this.btf.resolve(id);
      if (
        r.kind === Kind.PTR && this.btf.resolve(r.ref).kind === Kind.FUNC_PROTO
      ) {
        return this.defineFunctionPointer(t.name, this.btf.resolve(r.ref));
      }
      if (r.kind === Kind.ENUM || r.kind === Kind.ENUM64) {
        return `typedef ${this.defineEnum(r, "enum")} ${t.name};\n`;
      }
      if (r.kind !== Kind.STRUCT && r.kind !== Kind.UNION) {
        const sp = this.spell(t.ref, "");
        return `typedef ${sp.pre} ${t.name}${sp.post};\n`;
      }
      if (r.name) {
        this.deps.add(r.id);
        const kw = r.kind === Kind.UNION ? "union" : "struct";
        return `typedef ${kw} ${r.name} ${t.name};\n`;
      }
      const b = this.layout(r);
      const kw = r.kind === Kind.UNION ? "union" : "struct";
      return `typedef ${kw}${b.packed ? " __attribute__((packed))" : ""} {\n${
        b.lines.join("\n")
      }\n} ${t.name};\n${this.asserts(t.name, r.size, b.offsets)}`;
    }
    if (t.kind !== Kind.STRUCT && t.kind !== Kind.UNION) {
      return this.err(`BTF #${id} is not a struct, union, enum or typedef`);
    }
    const kw = t.kind === Kind.UNION ? "union" : "struct";
    const b = this.layout(t);
    const tag = `${kw} ${t.name}`;
    return `${tag} {\n${b.lines.join("\n")}\n}${
      b.packed ? " __attribute__((packed))" : ""
    };\n${this.asserts(tag, t.size, b.offsets)}`;
  }

  /**
   * `typedef RET (*name)(PARAMS);` for a function-pointer typedef, as a
   * real wasm32 function pointer (4 bytes), usable for the guest's own
   * callbacks. Struct members of this type are still spelled `uint64_t`
   * ({@link spell}: every pointer is 8 bytes on the BPF side), so shared
   * layouts do not change. Parameter and return types are spelled as the
   * guest's own: pointers are real pointers, integers sized as on BPF
   * (`long` is `int64_t`); a tag seen only through a pointer is declared
   * ahead (`struct foo;`).
   */
  private defineFunctionPointer(name: string, proto: BtfType): string {
    const fwd = new Set<string>();
    const ret = this.nativeSpell(proto.ref, fwd, false);
    const params = proto.params!.map((p) =>
      p.type === 0 ? "..." : this.nativeSpell(p.type, fwd, false)
    );
    const list = params.length ? params.join(", ") : "void";
    const head = [...fwd].map((f) => `${f};\n`).join("");
    const sep = ret.endsWith("*") ? "" : " ";
    return `${head}typedef ${ret}${sep}(*${name})(${list});\n`;
  }

  /** A parameter or return type as the guest spells it (see above). */
  private nativeSpell(
    id: number,
    fwd: Set<string>,
    underPointer: boolean,
  ): string {
    const t = this.btf.get(id);
    const star = (inner: string) =>
      inner.endsWith("*") ? `${inner}*` : `${inner} *`;
    switch (t.kind) {
      case Kind.VOID:
        return "void";
      case Kind.INT:
      case Kind.FLOAT:
        return this.spell(id, "").pre;
      case Kind.ENUM:
      case Kind.ENUM64:
        if (t.name && t.size === 4) {
          this.deps.add(t.id);
          return `enum ${t.name}`;
        }
        return this.intName(t.size, this.enumSigned(t));
      case Kind.PTR: {
        const to = this.btf.resolve(t.ref);
        if (to.kind === Kind.FUNC_PROTO) return "void *";
        return star(this.nativeSpell(t.ref, fwd, true));
      }
      case Kind.ARRAY:
        return star(this.nativeSpell(t.elemType!, fwd, true));
      case Kind.CONST:
        return `const ${this.nativeSpell(t.ref, fwd, underPointer)}`;
      case Kind.VOLATILE:
        return `volatile ${this.nativeSpell(t.ref, fwd, underPointer)}`;
      case Kind.RESTRICT:
      case Kind.TYPE_TAG:
        return this.nativeSpell(t.ref, fwd, underPointer);
      case Kind.TYPEDEF: {
        const r = this.btf.resolve(id);
        const composite = r.kind === Kind.STRUCT || r.kind === Kind.UNION;
        if (composite && !r.name) {
          this.deps.add(t.id);
          return t.name;
        }
        return this.nativeSpell(t.ref, fwd, underPointer);
      }
      case Kind.STRUCT:
      case Kind.UNION:
      case Kind.FWD: {
        const union = t.kind === Kind.UNION ||
          (t.kind === Kind.FWD && t.kindFlag);
        const tag = `${union ? "union" : "struct"} ${t.name}`;
        if (!t.name) {
          return underPointer ? "void" : this.err(
            `an anonymous ${union ? "union" : "struct"} cannot be a parameter`,
          );
        }
        if (underPointer) fwd.add(tag);
        else if (t.kind !== Kind.FWD) this.deps.add(t.id);
        return tag;
      }
      default:
        return this.err(`BTF #${id} (kind ${t.kind}) cannot be a parameter`);
    }
  }

  private defineEnum(t: BtfType, head: string): string {
    const vals = t.enumerators!.map((e) =>
      `\t${e.name} = ${this.enumValue(e.value, t.size)},`
    );
    return `${head} {\n${vals.join("\n")}\n}`;
  }

  /** _Static_assert lines for sizeof and member offsets of `ctype`. */
  asserts(ctype: string, size: number, offsets: [string, number][]): string {
    const id = ctype.replace(/[^A-Za-z0-9_]+/g, "_");
    const out = [
      `_Static_assert(sizeof(${ctype}) == ${size}, "${id}: size differs from BPF");`,
    ];
    for (const [path, off] of offsets) {
      out.push(
        `_Static_assert(offsetof(${ctype}, ${path}) == ${off}, "${id}.${path}: offset differs from BPF");`,
      );
    }
    return out.join("\n") + "\n";
  }
}
