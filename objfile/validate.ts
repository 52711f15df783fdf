/**
 * The structural check of an untrusted BPF object before libbpf opens it.
 *
 * libbpf trusts its input: its maintainers say it should not be given
 * untrusted ELF files, and 1.1.2 segfaults on a relocation section that
 * targets a debug section marked executable. A host of hostile guests
 * therefore checks, in TypeScript and without system calls, every offset,
 * size and index libbpf follows: section data in bounds, every section
 * index of a section header, symbol or relocation in range and of the
 * right type, every relocation inside its target, and the `.BTF` and
 * `.BTF.ext` sections with the instruction offsets they name.
 *
 * ```ts
 * import { validateBpfObject } from "./validate.ts";
 * const bytes = Deno.readFileSync("build/examples/bootstrap/bootstrap.bpf.o");
 * const elf = validateBpfObject("bootstrap.bpf.o", bytes); // throws ObjectFileError
 * console.log(elf.sections.length);
 * ```
 *
 * @module
 */
import { Kind, readBtfHeader, recordTail } from "./btf.ts";
import {
  ElfFile,
  type ElfSymbol,
  EM_BPF,
  ObjectFileError,
  type Section,
  SHF_EXECINSTR,
  SHT_NOBITS,
  SHT_NULL,
  SHT_PROGBITS,
  SHT_REL,
  SHT_STRTAB,
  SHT_SYMTAB,
} from "./elf.ts";

/** e_type of a relocatable object (the only kind libbpf opens). */
export const ET_REL = 1;
/** Section type: relocations with addends. */
export const SHT_RELA = 4;
/** Section type: notes. */
export const SHT_NOTE = 7;
/** Section type: LLVM's address-significance table (`.llvm_addrsig`). */
export const SHT_LLVM_ADDRSIG = 0x6fff4c03;
/** st_shndx of an undefined (extern) symbol. */
export const SHN_UNDEF = 0;
/** The first reserved st_shndx. */
export const SHN_LORESERVE = 0xff00;
/** st_shndx of an absolute symbol. */
export const SHN_ABS = 0xfff1;
/** st_shndx of a common symbol. */
export const SHN_COMMON = 0xfff2;

const SYM_SIZE = 24;
const EXEC = BigInt(SHF_EXECINSTR);
const INSN_SIZE = 8;
/** BPF relocation types (R_BPF_*) and the bytes each one patches. */
const RELOC_WIDTH: Record<number, number> = {
  0: 0, // R_BPF_NONE
  1: 8, // R_BPF_64_64: ld_imm64 (16 bytes in code, checked below)
  2: 8, // R_BPF_64_ABS64
  3: 4, // R_BPF_64_ABS32
  4: 4, // R_BPF_64_NODYLD32
  10: 4, // R_BPF_64_32: the imm of a call
};
/** The highest `enum bpf_core_relo_kind` (BPF_CORE_TYPE_MATCHES). */
const MAX_CORE_RELO_KIND = 12;

const ALLOWED_TYPES = new Set([
  SHT_NULL,
  SHT_PROGBITS,
  SHT_SYMTAB,
  SHT_STRTAB,
  SHT_RELA,
  SHT_NOTE,
  SHT_NOBITS,
  SHT_REL,
  SHT_LLVM_ADDRSIG,
]);

/**
 * Checks that `bytes` is a BPF relocatable object whose every offset, size
 * and index is in bounds and of the right kind, so that libbpf may open it.
 * Pure: no system calls. Throws {@link ObjectFileError} with a one-line
 * reason naming `name`; returns the parsed file.
 */
export function validateBpfObject(name: string, bytes: Uint8Array): ElfFile {
  try {
    const elf = new ElfFile(name, bytes);
    new Validator(elf).run();
    return elf;
  } catch (e) {
    if (e instanceof RangeError) {
      throw new ObjectFileError(`${name}: malformed object (${e.message})`);
    }
    throw e;
  }
}

class Validator {
  readonly elf: ElfFile;
  readonly v: DataView;
  readonly name: string;
  symtab!: Section;
  symbols: ElfSymbol[] = [];

  constructor(elf: ElfFile) {
    this.elf = elf;
    this.v = elf.view;
    this.name = elf.file;
  }

  fail(why: string): never {
    throw new ObjectFileError(`${this.name}: ${why}`);
  }

  sec(s: Section): string {
    return `section #${s.index} '${s.name}'`;
  }

  run(): void {
    const { elf } = this;
    const type = this.v.getUint16(16, true);
    if (type !== ET_REL) {
      this.fail(
        `not a relocatable object (ELF type ${type}, expected ${ET_REL})`,
      );
    }
    if (elf.machine !== EM_BPF) {
      this.fail(
        `not a BPF object (ELF machine ${elf.machine}, expected ${EM_BPF})`,
      );
    }
    this.sections();
    this.symbolTable();
    for (const s of elf.sections) {
      if (s.type === SHT_REL || s.type === SHT_RELA) this.relocations(s);
    }
    const btfSec = elf.section(".BTF");
    let btf: BtfIndex | undefined;
    if (btfSec) {
      if (btfSec.type !== SHT_PROGBITS) {
        this.fail(`${this.sec(btfSec)} is not PROGBITS`);
      }
      btf = checkBtf(this.name, elf.data(btfSec));
      this.datasecs(btf);
    }
    const ext = elf.section(".BTF.ext");
    if (ext) {
      if (!btf) this.fail(".BTF.ext without .BTF");
      if (ext.type !== SHT_PROGBITS) {
        this.fail(`${this.sec(ext)} is not PROGBITS`);
      }
      this.btfExt(btf, elf.data(ext));
    }
  }

  sections(): void {
    const { elf } = this;
    const n = elf.sections.length;
    const s0 = elf.sections[0];
    if (s0.type !== SHT_NULL || s0.flags !== 0n || s0.info !== 0) {
      this.fail("section #0 is not the null section");
    }
    if (elf.sections[elf.shstrndx].type !== SHT_STRTAB) {
      this.fail("the section name table is not a string table");
    }
    let symtabs = 0;
    for (const s of elf.sections.slice(1)) {
      if (!ALLOWED_TYPES.has(s.type)) {
        this.fail(
          `${this.sec(s)} has type 0x${
            s.type.toString(16)
          }, which BPF objects do not use`,
        );
      }
      if (s.type === SHT_NULL) this.fail(`${this.sec(s)} is a null section`);
      if ((s.flags & EXEC) && s.type !== SHT_PROGBITS) {
        this.fail(`${this.sec(s)} is executable but not PROGBITS`);
      }
      if ((s.flags & EXEC) && s.size % INSN_SIZE) {
        this.fail(
          `${this.sec(s)} size ${s.size} is not a whole number of instructions`,
        );
      }
      if (s.link >= n) {
        this.fail(`${this.sec(s)} sh_link ${s.link} is past the last section`);
      }
      if (s.type === SHT_SYMTAB) symtabs++;
    }
    if (symtabs !== 1) {
      this.fail(
        symtabs ? "more than one symbol table" : "no symbol table (stripped?)",
      );
    }
  }

  symbolTable(): void {
    const { elf } = this;
    const st = elf.sections.find((s) => s.type === SHT_SYMTAB)!;
    this.symtab = st;
    if (st.entsize !== SYM_SIZE || st.size % SYM_SIZE || st.size === 0) {
      this.fail(
        `symbol table: entry size ${st.entsize} / size ${st.size} are not those of ELF64 symbols`,
      );
    }
    const strtab = elf.sections[st.link];
    if (st.link === 0 || strtab.type !== SHT_STRTAB) {
      this.fail(`symbol table sh_link ${st.link} is not a string table`);
    }
    const count = st.size / SYM_SIZE;
    if (st.info > count) {
      this.fail(`symbol table sh_info ${st.info} is past its ${count} symbols`);
    }
    this.symbols = elf.symbols();
    const execs = elf.sections.map((s) => (s.flags & EXEC) !== 0n);
    this.symbols.forEach((sym, i) => {
      const sh = sym.shndx;
      const what = () => `symbol #${i} '${sym.name}'`;
      if (sh === SHN_UNDEF || sh === SHN_ABS || sh === SHN_COMMON) return;
      if (sh >= SHN_LORESERVE) {
        this.fail(`${what()} has reserved section index 0x${sh.toString(16)}`);
      }
      const s = elf.sections[sh];
      if (!s) {
        this.fail(`${what()} names section #${sh}, past the last section`);
      }
      if (s.type !== SHT_PROGBITS && s.type !== SHT_NOBITS) {
        this.fail(
          `${what()} is defined in ${this.sec(s)}, which holds no data`,
        );
      }
      if (sym.value + sym.size > s.size) {
        this.fail(
          `${what()} (offset ${sym.value}, size ${sym.size}) extends past the end of ${
            this.sec(s)
          } (${s.size} bytes)`,
        );
      }
      if (
        execs[sh] && sym.type === 2 /* FUNC */ &&
        (sym.value % INSN_SIZE || sym.size % INSN_SIZE)
      ) {
        this.fail(`${what()} does not start and end on an instruction`);
      }
    });
  }

  relocations(r: Section): void {
    const { elf } = this;
    const rela = r.type === SHT_RELA;
    const size = rela ? 24 : 16;
    if (r.entsize !== size || r.size % size) {
      this.fail(
        `relocation ${
          this.sec(r)
        }: entry size ${r.entsize} / size ${r.size} are not those of ELF64 ${
          rela ? "Rela" : "Rel"
        } entries`,
      );
    }
    if (r.link !== this.symtab.index) {
      this.fail(
        `relocation ${
          this.sec(r)
        } sh_link ${r.link} is not the symbol table (#${this.symtab.index})`,
      );
    }
    const t = elf.sections[r.info];
    if (r.info === 0 || !t) {
      this.fail(
        `relocation ${
          this.sec(r)
        } sh_info ${r.info} names no section to relocate`,
      );
    }
    if (t.type !== SHT_PROGBITS) {
      this.fail(
        `relocation ${this.sec(r)} targets ${
          this.sec(t)
        }, which is not PROGBITS`,
      );
    }
    const exec = (t.flags & EXEC) !== 0n;
    const nsyms = this.symbols.length;
    const v = this.v;
    for (let i = 0, o = r.offset; o < r.offset + r.size; i++, o += size) {
      // r_offset, then r_info: type in the low word, symbol in the high
      const off = v.getUint32(o, true) + v.getUint32(o + 4, true) * 4294967296;
      const type = v.getUint32(o + 8, true);
      const sym = v.getUint32(o + 12, true);
      const what = () => `relocation #${i} of ${this.sec(r)}`;
      if (sym === 0 || sym >= nsyms) {
        this.fail(`${what()} names symbol #${sym}, not in the symbol table`);
      }
      const width = RELOC_WIDTH[type];
      if (width === undefined) {
        this.fail(`${what()} has type ${type}, not a BPF relocation`);
      }
      if (exec) {
        const need = type === 1 ? 2 * INSN_SIZE : INSN_SIZE;
        if (off % INSN_SIZE || off + need > t.size) {
          this.fail(
            `${what()} offset ${off} is not an instruction of ${this.sec(t)}`,
          );
        }
      } else if (off + width > t.size) {
        this.fail(`${what()} offset ${off} is past the end of ${this.sec(t)}`);
      }
    }
  }

  datasecs(btf: BtfIndex): void {
    const v = btf.view;
    for (const [nameOff, at, vlen] of btf.datasecs) {
      const name = btf.str(nameOff);
      const s = this.elf.section(name);
      if (!s) continue;
      for (let i = 0, p = at; i < vlen; i++, p += 12) {
        const offset = v.getUint32(p + 4, true);
        const size = v.getUint32(p + 8, true);
        if (offset + size > s.size) {
          this.fail(
            `BTF DATASEC '${name}' variable #${i} (offset ${offset}, size ${size}) extends past the end of ${
              this.sec(s)
            } (${s.size} bytes)`,
          );
        }
      }
    }
  }

  btfExt(btf: BtfIndex, bytes: Uint8Array): void {
    const bad: (why: string) => never = (why) =>
      this.fail(`malformed .BTF.ext section (${why})`);
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.length < 24) bad("header is incomplete");
    if (v.getUint16(0, true) !== 0xeb9f) bad("bad magic");
    if (bytes[2] !== 1) bad(`version ${bytes[2]}`);
    if (bytes[3] !== 0) bad(`flags ${bytes[3]}`);
    const hdrLen = v.getUint32(4, true);
    if (hdrLen < 24 || hdrLen > bytes.length) bad(`header length ${hdrLen}`);
    const parts: [string, number, number, number][] = [
      ["func_info", 8, v.getUint32(8, true), v.getUint32(12, true)],
      ["line_info", 16, v.getUint32(16, true), v.getUint32(20, true)],
    ];
    if (hdrLen >= 32) {
      parts.push([
        "core_relo",
        16,
        v.getUint32(24, true),
        v.getUint32(28, true),
      ]);
    }
    const nstr = btf.strings.length;
    const str = (off: number, what: string) => {
      if (off >= nstr) bad(`${what}: bad string offset ${off}`);
      return btf.str(off);
    };
    for (const [what, minRec, off, len] of parts) {
      if (len === 0) continue;
      const start = hdrLen + off;
      const end = start + len;
      if (off % 4 || end > bytes.length || len < 4) {
        bad(`${what} (offset ${off}, length ${len}) is out of bounds`);
      }
      const rec = v.getUint32(start, true);
      if (rec < minRec || rec % 4) bad(`${what} record size ${rec}`);
      let p = start + 4;
      while (p < end) {
        if (p + 8 > end) bad(`${what} is truncated`);
        const secName = str(v.getUint32(p, true), `${what} section name`);
        const n = v.getUint32(p + 4, true);
        p += 8;
        // libbpf matches these by name to its programs' sections and
        // ignores the others (a skeleton renames '?sections' for autoload)
        const sec = this.elf.section(secName);
        if (sec && !(sec.flags & EXEC)) {
          bad(`${what} names '${secName}', not a code section of the object`);
        }
        if (n === 0 || p + n * rec > end) {
          bad(`${what} of '${secName}' has ${n} records of ${rec} bytes`);
        }
        const at = (i: number) => `${what} #${i} of '${secName}'`;
        for (let i = 0; i < n; i++, p += rec) {
          const insnOff = v.getUint32(p, true);
          if (insnOff % INSN_SIZE || (sec && insnOff >= sec.size)) {
            bad(`${at(i)} names offset ${insnOff}, not an instruction`);
          }
          const a = v.getUint32(p + 4, true);
          // strings: offsets checked in bounds, not decoded
          if (what === "func_info") {
            if (a >= btf.count || btf.kinds[a] !== Kind.FUNC) {
              bad(`${at(i)} names BTF type #${a}, not a FUNC`);
            }
          } else if (what === "line_info") {
            if (a >= nstr) bad(`${at(i)} file name: bad string offset ${a}`);
            const line = v.getUint32(p + 8, true);
            if (line >= nstr) bad(`${at(i)} line: bad string offset ${line}`);
          } else {
            if (a === 0 || a >= btf.count) {
              bad(`${at(i)} names BTF type #${a}, not in .BTF`);
            }
            const acc = v.getUint32(p + 8, true);
            if (acc >= nstr) {
              bad(`${at(i)} access string: bad string offset ${acc}`);
            }
            const kind = v.getUint32(p + 12, true);
            if (kind > MAX_CORE_RELO_KIND) bad(`${at(i)} has kind ${kind}`);
          }
        }
      }
    }
  }
}

/**
 * What the object check needs of a `.BTF` section, read without building
 * its types: the type count, each type's kind, where the DATASECs' entries
 * are, and the string section.
 */
export interface BtfIndex {
  /** Number of types, void (#0) included. */
  count: number;
  /** Kind of type #i (0 for void). */
  kinds: Uint8Array;
  /** The string section. */
  strings: Uint8Array;
  /** The section's bytes. */
  view: DataView;
  /** DATASECs: name offset, offset of the first entry, entry count. */
  datasecs: [number, number, number][];
  /** The string at `off` (checked in bounds by the caller). */
  str(off: number): string;
}

const decoder = new TextDecoder();

/**
 * Checks a `.BTF` section as {@link Btf}'s parser does (header, every type
 * record complete and of a known kind, every name offset inside the string
 * section, every referenced type id present), with the same messages, but
 * without objects per type or decoded names: this runs on every load.
 */
export function checkBtf(file: string, bytes: Uint8Array): BtfIndex {
  const { v, bad, strings, typeStart: start, typeEnd: end } = readBtfHeader(
    file,
    bytes,
  );
  const nstr = strings.length;
  const typeLen = end - start;
  const name = (off: number) => {
    if (off >= nstr && off !== 0) bad(`bad string offset ${off}`);
  };
  // every record is at least 12 bytes: at most typeLen / 12 types
  const kinds = new Uint8Array(Math.floor(typeLen / 12) + 1);
  const datasecs: [number, number, number][] = [];
  let count = 1;
  // pass 1: the records (sizes, kinds, names), as Btf's constructor reads
  // them; pass 2 (refs) needs the count
  for (let p = start; p < end;) {
    if (p + 12 > end) bad("type data is truncated");
    const nameOff = v.getUint32(p, true);
    const info = v.getUint32(p + 4, true);
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    p += 12;
    name(nameOff);
    const entry = recordTail(kind, vlen, bad, count);
    const names = kind === Kind.STRUCT || kind === Kind.UNION ||
      kind === Kind.ENUM || kind === Kind.ENUM64 || kind === Kind.FUNC_PROTO;
    if (kind === Kind.DATASEC) datasecs.push([nameOff, p, vlen]);
    if (names) {
      // each entry starts with a name offset; Btf reads them in order
      const step = entry / vlen;
      for (let i = 0; i < vlen; i++, p += step) {
        if (p + 4 > end) bad("type data is truncated");
        name(v.getUint32(p, true));
        if (p + step > end) bad("type data is truncated");
      }
    } else {
      if (p + entry > end) bad("type data is truncated");
      p += entry;
    }
    kinds[count++] = kind;
  }
  // pass 2: every referenced type exists
  for (let p = start, id = 1; p < end; id++) {
    const info = v.getUint32(p + 4, true);
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    const ref = (r: number) => {
      if (r >= count) bad(`type #${id} refers to missing type #${r}`);
    };
    const sizeOrType = v.getUint32(p + 8, true);
    p += 12;
    switch (kind) {
      case Kind.INT:
        p += 4;
        break;
      case Kind.PTR:
      case Kind.TYPEDEF:
      case Kind.VOLATILE:
      case Kind.CONST:
      case Kind.RESTRICT:
      case Kind.TYPE_TAG:
      case Kind.FUNC:
        ref(sizeOrType);
        break;
      case Kind.ARRAY:
        ref(v.getUint32(p, true));
        ref(v.getUint32(p + 4, true));
        p += 12;
        break;
      case Kind.STRUCT:
      case Kind.UNION:
        for (let i = 0; i < vlen; i++, p += 12) ref(v.getUint32(p + 4, true));
        break;
      case Kind.ENUM:
        p += 8 * vlen;
        break;
      case Kind.ENUM64:
        p += 12 * vlen;
        break;
      case Kind.FUNC_PROTO:
        ref(sizeOrType);
        for (let i = 0; i < vlen; i++, p += 8) ref(v.getUint32(p + 4, true));
        break;
      case Kind.VAR:
      case Kind.DECL_TAG:
        ref(sizeOrType);
        p += 4;
        break;
      case Kind.DATASEC:
        for (let i = 0; i < vlen; i++, p += 12) ref(v.getUint32(p, true));
        break;
    }
  }
  const cache = new Map<number, string>();
  return {
    count,
    kinds,
    strings,
    view: v,
    datasecs,
    str(off) {
      let s = cache.get(off);
      if (s === undefined) {
        const n = strings.indexOf(0, off);
        s = decoder.decode(strings.subarray(off, n < 0 ? nstr : n));
        cache.set(off, s);
      }
      return s;
    },
  };
}
