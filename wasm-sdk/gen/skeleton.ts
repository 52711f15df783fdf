/**
 * The skeleton generator: `NAME.skel.h` for a BPF object, over
 * wasm-sdk/c/libbpf-wasm.h (see wasm-sdk/c/README.md for the C API).
 *
 * The header embeds a rewritten copy of the object:
 *  - DWARF (`.debug_*` and their relocations) is emptied: libbpf ignores it,
 *    and it is most of the file;
 *  - each program section's name is stored in the section-name table as
 *    `"?<name>"` with `sh_name` pointing past the `?`, so the guest turns
 *    autoload off by decrementing `sh_name` (libbpf >= 0.8 reads a leading
 *    `?` as "do not load").
 *
 * @module
 */
import { Btf, Kind } from "../../objfile/btf.ts";
import { GenError } from "./errors.ts";
import { CTypes, type LayoutMember } from "./ctypes.ts";
import {
  ElfFile,
  type Section,
  SHDR_SIZE,
  SHF_ALLOC,
  SHF_EXECINSTR,
  SHT_NOBITS,
  SHT_PROGBITS,
  STB_LOCAL,
  STT_FUNC,
  STT_OBJECT,
} from "../../objfile/elf.ts";

/** The C identifier of a skeleton for an object file name: `a.bpf.o` → `a_bpf`. */
export function skeletonName(objectFile: string): string {
  const base = objectFile.replace(/^.*\//, "").replace(/\.o$/, "");
  const id = base.replace(/[^A-Za-z0-9_]/g, "_");
  return /^[0-9]/.test(id) ? `_${id}` : id;
}

/** A BPF program of the object. */
export interface ProgramInfo {
  /** Function name (libbpf's program name). */
  name: string;
  /** ELF section, without the "?" of a SEC("?...") program. */
  section: string;
  sectionIndex: number;
  /** False for a SEC("?...") program (libbpf: not loaded unless enabled). */
  autoload: boolean;
}

/** A global-variable section (`.rodata`, `.data`, `.bss`, ...). */
export interface GlobalSection {
  /** Section name, which is also the name of libbpf's internal map. */
  name: string;
  /** C identifier (`rodata`, `data_foo`). */
  ident: string;
  sectionIndex: number;
  size: number;
  bss: boolean;
  /** Global variables with their offsets in the section. */
  vars: { name: string; type: number; offset: number; size: number }[];
}

/** A map: its libbpf name and the skeleton member naming it. */
export interface MapInfo {
  name: string;
  ident: string;
  internal: boolean;
}

/** What the generator found in an object. */
export interface ObjectInfo {
  elf: ElfFile;
  btf: Btf;
  programs: ProgramInfo[];
  maps: MapInfo[];
  globals: GlobalSection[];
}

const ident = (s: string) =>
  s.replace(/^\./, "").replace(/[^A-Za-z0-9_]/g, "_");

/** Lists the programs, maps and global sections of a BPF object, as libbpf 1.x does. */
export function inspectObject(file: string, bytes: Uint8Array): ObjectInfo {
  const elf = new ElfFile(file, bytes);
  const btf = Btf.fromElf(elf);
  const syms = elf.symbols();
  const secs = elf.sections;
  const isExec = (s: Section | undefined) =>
    !!s && s.type === SHT_PROGBITS && (s.flags & BigInt(SHF_EXECINSTR)) !== 0n;

  // programs: non-static functions in executable sections other than .text
  const programs: ProgramInfo[] = [];
  for (const sym of syms) {
    if (sym.type !== STT_FUNC || sym.bind === STB_LOCAL) continue;
    const s = secs[sym.shndx];
    if (!isExec(s) || s.name === ".text") continue;
    programs.push({
      name: sym.name,
      section: s.name.replace(/^\?/, ""),
      sectionIndex: s.index,
      autoload: !s.name.startsWith("?"),
    });
  }
  // libbpf's order: by section, then by offset in it
  const at = new Map(
    syms.filter((x) => x.type === STT_FUNC && x.bind !== STB_LOCAL).map((
      x,
    ) => [`${x.shndx}/${x.name}`, x.value]),
  );
  const pos = (p: ProgramInfo) => at.get(`${p.sectionIndex}/${p.name}`) ?? 0;
  programs.sort((a, b) => a.sectionIndex - b.sectionIndex || pos(a) - pos(b));

  // BTF-defined maps: the variables of the .maps DATASEC
  const maps: MapInfo[] = [];
  const mapsSec = btf.datasec(".maps");
  if (mapsSec) {
    for (const sv of mapsSec.secVars!) {
      const v = btf.get(sv.type);
      if (v.kind === Kind.VAR) {
        maps.push({ name: v.name, ident: v.name, internal: false });
      }
    }
  } else if (elf.section(".maps")) {
    for (const sym of syms) {
      const s = secs[sym.shndx];
      if (s?.name === ".maps" && sym.type === STT_OBJECT) {
        maps.push({ name: sym.name, ident: sym.name, internal: false });
      }
    }
  }
  if (elf.section("maps")) {
    throw new GenError(
      `${file}: legacy SEC("maps") map definitions are not supported by libbpf 1.x; use SEC(".maps")`,
    );
  }

  // internal maps: .rodata*, .data*, .bss* sections, then .kconfig
  const globals: GlobalSection[] = [];
  for (const s of secs) {
    const m = /^\.(rodata|data|bss)(\..*)?$/.exec(s.name);
    if (!m || (s.flags & BigInt(SHF_ALLOC)) === 0n || s.size === 0) continue;
    if (s.type !== SHT_PROGBITS && s.type !== SHT_NOBITS) continue;
    const id = ident(s.name);
    maps.push({ name: s.name, ident: id, internal: true });
    const ds = btf.datasec(s.name);
    if (!ds) continue; // e.g. .rodata.str1.1: a map, but no variables
    const vars: GlobalSection["vars"] = [];
    for (const sv of ds.secVars!) {
      const v = btf.get(sv.type);
      if (v.kind !== Kind.VAR || v.linkage === 0) continue; // static: hidden
      const sym = syms.find((x) =>
        x.name === v.name && x.shndx === s.index && x.type === STT_OBJECT
      );
      vars.push({
        name: v.name,
        type: v.ref,
        offset: sym ? sym.value : sv.offset,
        size: btf.sizeOf(v.ref),
      });
    }
    vars.sort((a, b) => a.offset - b.offset);
    globals.push({
      name: s.name,
      ident: id,
      sectionIndex: s.index,
      size: s.size,
      bss: s.type === SHT_NOBITS,
      vars,
    });
  }
  if (btf.datasec(".kconfig")) {
    maps.push({ name: ".kconfig", ident: "kconfig", internal: true });
  }
  // struct_ops maps (libbpf creates them last): one per variable of .struct_ops / .struct_ops.link
  for (const s of secs) {
    if (s.name !== ".struct_ops" && s.name !== ".struct_ops.link") continue;
    for (const sym of syms) {
      if (
        sym.shndx === s.index && sym.type === STT_OBJECT &&
        sym.bind !== STB_LOCAL
      ) {
        maps.push({ name: sym.name, ident: sym.name, internal: false });
      }
    }
  }
  const seen = new Map<string, string>();
  for (const m of maps) {
    const prev = seen.get(m.ident);
    if (prev) {
      throw new GenError(
        `${file}: maps '${prev}' and '${m.name}' both become skeleton member '${m.ident}'`,
      );
    }
    seen.set(m.ident, m.name);
  }
  return { elf, btf, programs, maps, globals };
}

/** The rewritten object and where its editable fields are. */
export interface RewrittenObject {
  bytes: Uint8Array;
  /** Per section index: file offset of its data in `bytes`. */
  sectionOffset: Map<number, number>;
  /** Per program section index: file offset of its `sh_name` field and the value. */
  shName: Map<number, { field: number; value: number }>;
}

const isDebug = (name: string) =>
  name.startsWith(".debug_") || name.startsWith(".rel.debug_") ||
  name.startsWith(".rela.debug_");

/** Rewrites the object: DWARF emptied, program section names `?`-prefixed. */
export function rewriteObject(
  elf: ElfFile,
  programSections: Set<number>,
): RewrittenObject {
  const src = elf.bytes;
  const shstr = elf.sections[elf.shstrndx];
  // new section-name table: the old one, then "?name\0" per program section
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [elf.data(shstr)];
  let strLen = shstr.size;
  const newName = new Map<number, number>();
  for (const idx of [...programSections].sort((a, b) => a - b)) {
    const s = elf.sections[idx];
    if (s.name.startsWith("?")) {
      // SEC("?...") already has its '?': "on" points past it
      newName.set(idx, s.nameOffset + 1);
      continue;
    }
    const b = enc.encode(`?${s.name}\0`);
    newName.set(idx, strLen + 1);
    parts.push(b);
    strLen += b.length;
  }
  const strtab = new Uint8Array(strLen);
  let p = 0;
  for (const part of parts) {
    strtab.set(part, p);
    p += part.length;
  }

  // layout: header, section data in index order, then section headers
  const place: { off: number; size: number; data?: Uint8Array }[] = [];
  let cur = 64;
  for (const s of elf.sections) {
    if (s.index === 0) {
      place.push({ off: 0, size: 0 });
      continue;
    }
    const align = Math.max(1, Math.min(s.addralign, 4096));
    if (s.index === elf.shstrndx) {
      place.push({ off: cur, size: strtab.length, data: strtab });
      cur += strtab.length;
    } else if (isDebug(s.name)) {
      place.push({ off: cur, size: 0 });
    } else if (s.name === ".BTF.ext" && elf.section(".BTF")) {
      cur = Math.ceil(cur / align) * align;
      const data = btfExtWithoutQuestionMarks(elf, elf.data(s));
      place.push({ off: cur, size: s.size, data });
      cur += s.size;
    } else if (s.type === SHT_NOBITS) {
      cur = Math.ceil(cur / align) * align;
      place.push({ off: cur, size: s.size });
    } else {
      cur = Math.ceil(cur / align) * align;
      place.push({ off: cur, size: s.size, data: elf.data(s) });
      cur += s.size;
    }
  }
  const shoff = Math.ceil(cur / 8) * 8;
  const out = new Uint8Array(shoff + elf.sections.length * SHDR_SIZE);
  const v = new DataView(out.buffer);
  out.set(src.subarray(0, 64), 0);
  v.setBigUint64(40, BigInt(shoff), true); // e_shoff
  v.setBigUint64(32, 0n, true); // e_phoff: no program headers in a .o
  const sectionOffset = new Map<number, number>();
  const shName = new Map<number, { field: number; value: number }>();
  for (const s of elf.sections) {
    const pl = place[s.index];
    if (pl.data) out.set(pl.data, pl.off);
    const h = shoff + s.index * SHDR_SIZE;
    out.set(src.subarray(s.headerOffset, s.headerOffset + SHDR_SIZE), h);
    if (s.index === 0) continue;
    v.setBigUint64(h + 24, BigInt(pl.off), true);
    v.setBigUint64(h + 32, BigInt(pl.size), true);
    const nm = newName.get(s.index);
    if (nm !== undefined) {
      v.setUint32(h, nm, true);
      shName.set(s.index, { field: h, value: nm });
    }
    sectionOffset.set(s.index, pl.off);
  }
  return { bytes: out, sectionOffset, shName };
}

/**
 * .BTF.ext names the section of each record by a .BTF string. For a
 * SEC("?...") section that string is "?...", which would no longer match
 * the section's name once the guest turns autoload on (libbpf would then
 * drop its func/line info and CO-RE relocations): point it past the '?'.
 */
function btfExtWithoutQuestionMarks(elf: ElfFile, ext: Uint8Array): Uint8Array {
  const out = ext.slice();
  if (out.length < 32) return out;
  const btf = elf.data(elf.section(".BTF")!);
  const bv = new DataView(btf.buffer, btf.byteOffset, btf.byteLength);
  if (btf.length < 24 || bv.getUint16(0, true) !== 0xeb9f) return out;
  const strBase = bv.getUint32(4, true) + bv.getUint32(16, true);
  const v = new DataView(out.buffer);
  const hdrLen = v.getUint32(4, true);
  const parts: [number, number][] = [
    [v.getUint32(8, true), v.getUint32(12, true)],
    [v.getUint32(16, true), v.getUint32(20, true)],
  ];
  if (hdrLen >= 32) parts.push([v.getUint32(24, true), v.getUint32(28, true)]);
  for (const [off, len] of parts) {
    if (len === 0) continue;
    let p = hdrLen + off;
    const end = p + len;
    if (end > out.length) return ext.slice();
    const recSize = v.getUint32(p, true);
    p += 4;
    while (p + 8 <= end) {
      const nameOff = v.getUint32(p, true);
      const n = v.getUint32(p + 4, true);
      if (btf[strBase + nameOff] === 0x3f /* '?' */) {
        v.setUint32(p, nameOff + 1, true);
      }
      p += 8 + n * recSize;
    }
  }
  return out;
}

function cString(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => "\\" + c)}"`;
}

function hexRows(bytes: Uint8Array): string {
  const lines: string[] = [];
  for (let i = 0; i < bytes.length; i += 16) {
    let row = "";
    for (const b of bytes.subarray(i, i + 16)) {
      row += `0x${b.toString(16).padStart(2, "0")},`;
    }
    lines.push(`\t${row}`);
  }
  return lines.join("\n");
}

/** Generates NAME.skel.h for the object `bytes` (`name` as from {@link skeletonName}). */
export function generateSkeleton(
  name: string,
  bytes: Uint8Array,
  file = `${name}.o`,
): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    throw new GenError(
      `'${name}' is not a valid C identifier for a skeleton name`,
    );
  }
  const info = inspectObject(file, bytes);
  const progSecs = new Set(info.programs.map((p) => p.sectionIndex));
  const rw = rewriteObject(info.elf, progSecs);
  const c = new CTypes(info.btf, true);

  // global-section structs, laid out at the ELF symbol offsets
  const secStructs: string[] = [];
  for (const g of info.globals) {
    const members: LayoutMember[] = g.vars.map((v) => ({
      name: v.name,
      type: v.type,
      bitOffset: v.offset * 8,
      bitSize: 0,
    }));
    const tag = `struct ${name}__${g.ident}`;
    c.resetPadding();
    const body = c.body(
      members,
      g.size,
      false,
      "\t",
      `${g.name} of ${file}`,
      false,
    );
    const asserts = body.offsets.map(([path, off]) =>
      `_Static_assert(offsetof(${tag}, ${path}) == ${off}, "${g.name} ${path}: offset differs from BPF");`
    );
    secStructs.push(
      `${tag} {\n${body.lines.join("\n")}\n}${
        body.packed ? " __attribute__((packed))" : ""
      };\n_Static_assert(sizeof(${tag}) >= ${g.size}, "${g.name}: size differs from BPF");\n${
        asserts.join("\n")
      }\n`,
    );
  }

  const guard = `${name.toUpperCase()}_SKEL_H`;
  const nProg = info.programs.length;
  const nMap = info.maps.length;
  const nGlob = info.globals.length;
  const progSpecs = info.programs.map((p) => {
    const sh = rw.shName.get(p.sectionIndex)!;
    return `\t\t{ ${cString(p.name)}, ${
      cString(p.section)
    }, ${sh.field}, ${sh.value}, ${p.autoload} },`;
  });
  const mapNames = info.maps.map((m) => `\t\t${cString(m.name)},`);
  const globSpecs = info.globals.map((g) =>
    `\t\t{ ${cString(g.name)}, ${
      rw.sectionOffset.get(g.sectionIndex)
    }, ${g.size}, sizeof(struct ${name}__${g.ident}), ${g.bss ? 1 : 0} },`
  );
  const arr = (n: number) => Math.max(n, 1);

  return `/* Generated by wasm-bpf gen skeleton from ${
    file.replace(/^.*\//, "")
  }. Do not edit.
 * C API: wasm-sdk/c/README.md. */
#ifndef ${guard}
#define ${guard}

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include "libbpf-wasm.h"

/* The object (DWARF removed, program sections named "?name" for autoload). */
static const unsigned char ${name}__elf_data[${rw.bytes.length}] __attribute__((aligned(8))) = {
${hexRows(rw.bytes)}
};

static inline const void *${name}__elf_bytes(size_t *sz)
{
\t*sz = sizeof(${name}__elf_data);
\treturn ${name}__elf_data;
}

${secStructs.join("\n")}
struct ${name} {
\tstruct bpf_object_skeleton *skeleton;
\tstruct {
${info.programs.map((p) => `\t\tstruct bpf_program *${p.name};`).join("\n")}
\t} progs;
\tstruct {
${info.maps.map((m) => `\t\tstruct bpf_map *${m.ident};`).join("\n")}
\t} maps;
${
    info.globals.map((g) => `\tstruct ${name}__${g.ident} *${g.ident};`).join(
      "\n",
    )
  }
\t/* storage behind the pointers above */
\tstruct bpf_object_skeleton __obj;
\tstruct bpf_program __progs[${arr(nProg)}];
\tstruct bpf_map __maps[${arr(nMap)}];
\tstruct bpf_global_section __globals[${arr(nGlob)}];
};

static inline void ${name}__destroy(struct ${name} *skel)
{
\tif (!skel)
\t\treturn;
\tbpf_object_skeleton__destroy(&skel->__obj);
\tfree(skel);
}

static inline struct ${name} *${name}__open(void)
{
\tstatic const struct bpf_program_spec progs[${arr(nProg)}] = {
${progSpecs.join("\n")}
\t};
\tstatic const char *const maps[${arr(nMap)}] = {
${mapNames.join("\n")}
\t};
\tstatic const struct bpf_global_spec globals[${arr(nGlob)}] = {
${globSpecs.join("\n")}
\t};
\tstruct ${name} *skel = (struct ${name} *)calloc(1, sizeof(*skel));
\tif (!skel) {
\t\terrno = ENOMEM;
\t\treturn NULL;
\t}
\tif (bpf_object_skeleton__setup(&skel->__obj, ${cString(name)},
\t\t\t${name}__elf_data, sizeof(${name}__elf_data),
\t\t\tprogs, ${nProg}, skel->__progs, maps, ${nMap}, skel->__maps,
\t\t\tglobals, ${nGlob}, skel->__globals) < 0) {
\t\tint err = errno;
\t\t${name}__destroy(skel);
\t\terrno = err;
\t\treturn NULL;
\t}
\tskel->skeleton = &skel->__obj;
${
    [
      ...info.programs.map((p, i) =>
        `\tskel->progs.${p.name} = &skel->__progs[${i}];`
      ),
      ...info.maps.map((m, i) =>
        `\tskel->maps.${m.ident} = &skel->__maps[${i}];`
      ),
      ...info.globals.map((g, i) =>
        `\tskel->${g.ident} = (struct ${name}__${g.ident} *)skel->__globals[${i}].mem;`
      ),
    ].join("\n")
  }
\treturn skel;
}

static inline int ${name}__load(struct ${name} *skel)
{
\treturn bpf_object_skeleton__load(&skel->__obj);
}

static inline struct ${name} *${name}__open_and_load(void)
{
\tstruct ${name} *skel = ${name}__open();
\tint err;
\tif (!skel)
\t\treturn NULL;
\terr = ${name}__load(skel);
\tif (err) {
\t\t${name}__destroy(skel);
\t\terrno = -err;
\t\treturn NULL;
\t}
\treturn skel;
}

static inline int ${name}__attach(struct ${name} *skel)
{
\treturn bpf_object_skeleton__attach(&skel->__obj);
}

static inline void ${name}__detach(struct ${name} *skel)
{
\tbpf_object_skeleton__detach(&skel->__obj);
}

#endif /* ${guard} */
`;
}
