/**
 * A small reader for 64-bit little-endian ELF relocatable objects, as clang
 * `-target bpf` writes them: header, section headers and names, symbols.
 *
 * Every offset is checked against the file size; a malformed file raises a
 * {@link ObjectFileError} with a one-line message naming the file.
 *
 * @module
 */

/**
 * A malformed or unsupported object file: its message is one line that
 * names the file, fit for a CLI.
 */
export class ObjectFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ObjectFileError";
  }
}

/** Section types used here. */
const decoder = new TextDecoder();

export const SHT_NULL = 0;
export const SHT_PROGBITS = 1;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_REL = 9;
export const SHT_NOBITS = 8;
/** Section flags. */
export const SHF_WRITE = 0x1;
export const SHF_ALLOC = 0x2;
export const SHF_EXECINSTR = 0x4;
/** Symbol types and bindings. */
export const STT_NOTYPE = 0;
export const STT_OBJECT = 1;
export const STT_FUNC = 2;
export const STT_SECTION = 3;
export const STB_LOCAL = 0;
export const STB_GLOBAL = 1;
export const STB_WEAK = 2;
/** e_machine of BPF objects. */
export const EM_BPF = 247;

/** Size of one ELF64 section header. */
export const SHDR_SIZE = 64;

/** One section header. */
export interface Section {
  index: number;
  name: string;
  /** sh_name: offset of the name in the section-name string table. */
  nameOffset: number;
  type: number;
  flags: bigint;
  offset: number;
  size: number;
  link: number;
  info: number;
  addralign: number;
  entsize: number;
  /** File offset of this section's header. */
  headerOffset: number;
}

/** One symbol of .symtab. */
export interface ElfSymbol {
  name: string;
  value: number;
  size: number;
  type: number;
  bind: number;
  /** Section index (st_shndx). */
  shndx: number;
}

/** A parsed ELF64 little-endian object. */
export class ElfFile {
  readonly file: string;
  readonly bytes: Uint8Array;
  readonly view: DataView;
  readonly machine: number;
  readonly shoff: number;
  readonly shstrndx: number;
  readonly sections: Section[];

  /** Parses `bytes`; `file` names it in error messages. */
  constructor(file: string, bytes: Uint8Array) {
    this.file = file;
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (
      bytes.length < 4 || bytes[0] !== 0x7f || bytes[1] !== 0x45 ||
      bytes[2] !== 0x4c || bytes[3] !== 0x46
    ) {
      throw new ObjectFileError(`${file}: not an ELF file`);
    }
    if (bytes.length < 64) {
      throw new ObjectFileError(
        `${file}: truncated ELF (header is incomplete)`,
      );
    }
    if (bytes[4] !== 2) {
      throw new ObjectFileError(`${file}: not a 64-bit ELF file`);
    }
    if (bytes[5] !== 1) {
      throw new ObjectFileError(
        `${file}: big-endian ELF is not supported (compile with -target bpf, i.e. bpfel)`,
      );
    }
    const v = this.view;
    this.machine = v.getUint16(18, true);
    this.shoff = this.u64(40, "e_shoff");
    const shentsize = v.getUint16(58, true);
    let shnum = v.getUint16(60, true);
    let shstrndx = v.getUint16(62, true);
    if (this.shoff === 0) {
      throw new ObjectFileError(`${file}: ELF file has no section headers`);
    }
    if (shentsize !== SHDR_SIZE) {
      throw new ObjectFileError(
        `${file}: bad ELF section header size ${shentsize}`,
      );
    }
    if (this.shoff + SHDR_SIZE > bytes.length) {
      throw new ObjectFileError(
        `${file}: truncated ELF (section headers extend past end of file)`,
      );
    }
    // extended numbering: the real counts live in section header 0
    if (shnum === 0) shnum = Number(v.getBigUint64(this.shoff + 32, true));
    if (shstrndx === 0xffff) shstrndx = v.getUint32(this.shoff + 40, true);
    if (this.shoff + shnum * SHDR_SIZE > bytes.length) {
      throw new ObjectFileError(
        `${file}: truncated ELF (section headers extend past end of file)`,
      );
    }
    if (shstrndx >= shnum) {
      throw new ObjectFileError(`${file}: bad ELF section name table index`);
    }
    this.shstrndx = shstrndx;
    const raw: Section[] = [];
    for (let i = 0; i < shnum; i++) {
      const h = this.shoff + i * SHDR_SIZE;
      raw.push({
        index: i,
        name: "",
        nameOffset: v.getUint32(h, true),
        type: v.getUint32(h + 4, true),
        flags: v.getBigUint64(h + 8, true),
        offset: this.u64(h + 24, "sh_offset"),
        size: this.u64(h + 32, "sh_size"),
        link: v.getUint32(h + 40, true),
        info: v.getUint32(h + 44, true),
        addralign: this.u64(h + 48, "sh_addralign"),
        entsize: this.u64(h + 56, "sh_entsize"),
        headerOffset: h,
      });
    }
    this.sections = raw;
    const shstr = raw[shstrndx];
    this.checkSection(shstr, "section name table");
    for (const s of raw) {
      s.name = this.cstr(shstr.offset, shstr.size, s.nameOffset);
    }
    for (const s of raw) {
      if (s.type !== SHT_NOBITS && s.type !== SHT_NULL) this.checkSection(s);
    }
  }

  private u64(off: number, what: string): number {
    // two 32-bit reads: no BigInt on the start-up path
    const hi = this.view.getUint32(off + 4, true);
    if (hi > 0x1fffff) {
      const x = this.view.getBigUint64(off, true);
      throw new ObjectFileError(`${this.file}: bad ELF ${what} value ${x}`);
    }
    return hi * 4294967296 + this.view.getUint32(off, true);
  }

  private checkSection(s: Section, what?: string) {
    if (s.offset + s.size > this.bytes.length) {
      throw new ObjectFileError(
        `${this.file}: truncated ELF (section ${
          what ?? (s.name || `#${s.index}`)
        } extends past end of file)`,
      );
    }
  }

  /** A NUL-terminated string at `off` of a string table at [base, base+size). */
  cstr(base: number, size: number, off: number): string {
    if (off >= size && !(off === 0 && size === 0)) {
      throw new ObjectFileError(`${this.file}: bad ELF string offset ${off}`);
    }
    const b = this.bytes;
    const start = base + off;
    const limit = base + size;
    let end = start;
    let ascii = true;
    for (; end < limit && b[end] !== 0; end++) if (b[end] > 0x7f) ascii = false;
    // names are ASCII: no decoder for them (this runs cold, per symbol)
    if (ascii && end - start <= 64) {
      return String.fromCharCode(...b.subarray(start, end));
    }
    return decoder.decode(b.subarray(start, end));
  }

  /** The section called `name`, if any. */
  section(name: string): Section | undefined {
    return this.sections.find((s) => s.name === name);
  }

  /** The bytes of a section (empty for NOBITS). */
  data(s: Section): Uint8Array {
    if (s.type === SHT_NOBITS) return new Uint8Array(0);
    return this.bytes.subarray(s.offset, s.offset + s.size);
  }

  #symbols: ElfSymbol[] | undefined;

  /** The symbols of .symtab (empty when there is none); one array, read once. */
  symbols(): ElfSymbol[] {
    this.#symbols ??= this.readSymbols();
    return this.#symbols;
  }

  private readSymbols(): ElfSymbol[] {
    const symtab = this.sections.find((s) => s.type === SHT_SYMTAB);
    if (!symtab) return [];
    const strtab = this.sections[symtab.link];
    if (!strtab || strtab.type !== SHT_STRTAB) {
      throw new ObjectFileError(`${this.file}: bad ELF symbol string table`);
    }
    const out: ElfSymbol[] = [];
    const n = Math.floor(symtab.size / 24);
    for (let i = 0; i < n; i++) {
      const o = symtab.offset + i * 24;
      const info = this.bytes[o + 4];
      out.push({
        name: this.cstr(
          strtab.offset,
          strtab.size,
          this.view.getUint32(o, true),
        ),
        type: info & 0xf,
        bind: info >> 4,
        shndx: this.view.getUint16(o + 6, true),
        value: this.u64(o + 8, "st_value"),
        size: this.u64(o + 16, "st_size"),
      });
    }
    return out;
  }
}
