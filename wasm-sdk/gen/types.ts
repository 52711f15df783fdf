/**
 * The types header (`NAME.wasm.h`): the structs, unions and enums of a BPF
 * object, with layouts identical on wasm32 and on the BPF side (see
 * ctypes.ts for the rules), so a guest reads map values and ring-buffer
 * records with the program's own types.
 *
 * Which types: with `--type NAME` (repeatable), those types; by default the
 * named types the object's global variables use: the key and value types of
 * every map in `.maps`, and the type of every global variable of
 * `.rodata*`/`.data*`/`.bss*` (through one pointer: declaring
 * `struct event *unused_event;` in the BPF program is the usual way to get a
 * ring-buffer record type into BTF). Types they contain by value come along
 * (pointer members become `uint64_t`, so pointees do not).
 *
 * @module
 */
import { Btf, type BtfType, Kind } from "../../objfile/btf.ts";
import { CTypes } from "./ctypes.ts";
import { ElfFile } from "../../objfile/elf.ts";
import { GenError } from "./errors.ts";
import { ANON_ENUM_PREFIX, MACRO_SECTION } from "./header.ts";

/** Options of {@link generateTypes}. */
export interface TypesOptions {
  /** Emit these named types (and what they contain) instead of the default set. */
  types?: string[];
  /** Name used in messages and the header guard (default "object"). */
  file?: string;
  /**
   * The object compiled from the user's header (see header.ts): its named
   * types come first and win over the program object's same-named types.
   */
  header?: { file: string; bytes: Uint8Array };
}

const isDataSection = (name: string) => /^\.(rodata|data|bss)(\.|$)/.test(name);

/** The type a map definition or global variable stands for, or undefined. */
function rootOf(
  btf: Btf,
  id: number,
  throughPointer: boolean,
): number | undefined {
  let t = btf.stripModifiers(id);
  if (throughPointer && t.kind === Kind.PTR) t = btf.stripModifiers(t.ref);
  while (t.kind === Kind.ARRAY) t = btf.stripModifiers(t.elemType!);
  if (t.kind === Kind.TYPEDEF) {
    const r = btf.resolve(t.id);
    const composite = r.kind === Kind.STRUCT || r.kind === Kind.UNION ||
      r.kind === Kind.ENUM || r.kind === Kind.ENUM64;
    if (!composite) return undefined;
    return r.name ? r.id : t.id;
  }
  if (
    (t.kind === Kind.STRUCT || t.kind === Kind.UNION ||
      t.kind === Kind.ENUM || t.kind === Kind.ENUM64) && t.name
  ) return t.id;
  return undefined;
}

/** The default roots: map key/value types and global variable types. */
export function defaultTypeRoots(btf: Btf): number[] {
  const roots: number[] = [];
  for (const sec of btf.types) {
    if (sec.kind !== Kind.DATASEC) continue;
    for (const sv of sec.secVars!) {
      const v = btf.get(sv.type);
      if (v.kind !== Kind.VAR) continue;
      if (sec.name === ".maps") {
        const def = btf.resolve(v.ref);
        if (def.kind !== Kind.STRUCT) continue;
        for (const m of def.members!) {
          if (m.name !== "key" && m.name !== "value") continue;
          const r = rootOf(btf, m.type, true);
          if (r !== undefined) roots.push(r);
        }
      } else if (isDataSection(sec.name) && v.linkage !== 0) {
        const r = rootOf(btf, v.ref, true);
        if (r !== undefined) roots.push(r);
      }
    }
  }
  return roots;
}

/**
 * The roots of a header's object (header.ts): the type behind each probe
 * pointer, typedefs of any type included (scalar, array, function
 * pointer), and the carriers of anonymous enums.
 */
export function headerTypeRoots(btf: Btf): number[] {
  const roots: number[] = [];
  for (const sec of btf.types) {
    if (sec.kind !== Kind.DATASEC || !isDataSection(sec.name)) continue;
    for (const sv of sec.secVars!) {
      const v = btf.get(sv.type);
      if (v.kind !== Kind.VAR || !v.name.startsWith("__wasm_bpf_gen_")) {
        continue;
      }
      const p = btf.stripModifiers(v.ref);
      if (p.kind !== Kind.PTR) continue;
      const t = btf.stripModifiers(p.ref);
      if (t.kind === Kind.TYPEDEF) roots.push(t.id);
      else {
        const r = rootOf(btf, v.ref, true);
        if (r !== undefined) roots.push(r);
      }
    }
  }
  return roots;
}

/** `enum { A = 1, B = 2, };` for a header's anonymous-enum carrier. */
function anonymousEnum(c: CTypes, t: BtfType): string {
  const prefix = `${t.name}__`;
  const vals = t.enumerators!.map((e) =>
    `\t${e.name.slice(prefix.length)} = ${c.enumValue(e.value, t.size)},`
  );
  return `enum {\n${vals.join("\n")}\n};\n`;
}

/** The `#define` lines a header's object carries (header.ts). */
function headerMacroLines(elf: ElfFile): string[] {
  const sec = elf.section(MACRO_SECTION);
  if (!sec) return [];
  const text = new TextDecoder().decode(elf.data(sec)).replace(/\0+$/, "");
  return text.split("\n").filter((l) => l.startsWith("#define "));
}

/** Finds the definition of named type `name` (GenError when there is none). */
export function findNamedType(btf: Btf, name: string): BtfType {
  const all = btf.named(name);
  const def = all.find((t) =>
    t.kind === Kind.STRUCT || t.kind === Kind.UNION || t.kind === Kind.ENUM ||
    t.kind === Kind.ENUM64 || t.kind === Kind.TYPEDEF
  );
  if (def) return def;
  if (all.some((t) => t.kind === Kind.FWD)) {
    throw new GenError(
      `type '${name}' is only declared, not defined, in ${btf.file}`,
    );
  }
  throw new GenError(`unknown type '${name}' in ${btf.file}`);
}

/**
 * Generates the types header for the object `bytes` (null: for
 * `options.header` alone).
 */
export function generateTypes(
  bytes: Uint8Array | null,
  options: TypesOptions = {},
): string {
  const file = options.file ?? options.header?.file ?? "object";
  const sources: { btf: Btf; roots: number[] }[] = [];
  let macros: string[] = [];
  if (options.header) {
    const elf = new ElfFile(options.header.file, options.header.bytes);
    const btf = Btf.fromElf(elf);
    sources.push({ btf, roots: headerTypeRoots(btf) });
    macros = headerMacroLines(elf);
  }
  if (bytes) {
    const btf = Btf.fromElf(new ElfFile(file, bytes));
    const roots = options.types && options.types.length > 0 && !options.header
      ? options.types.map((n) => findNamedType(btf, n).id)
      : defaultTypeRoots(btf);
    sources.push({ btf, roots });
  }
  if (options.header && options.types && options.types.length > 0) {
    // --type with a header: look each name up in the header first
    const wanted = options.types;
    for (const s of sources) s.roots = [];
    for (const n of wanted) {
      const s = sources.find((s) =>
        s.btf.named(n).some((t) => t.kind !== Kind.FWD)
      ) ?? sources[0];
      s.roots.push(findNamedType(s.btf, n).id);
    }
  }

  // depth-first, dependencies before dependents; one definition per name
  // (the header's first)
  const names = new Set<string>();
  const out: string[] = [];
  for (const { btf, roots } of sources) {
    const c = new CTypes(btf, false);
    const done = new Set<number>();
    const onPath = new Set<number>();
    const visit = (id: number) => {
      if (done.has(id)) return;
      const t = btf.get(id);
      const key = `${t.kind === Kind.TYPEDEF ? "typedef" : "tag"} ${t.name}`;
      if (names.has(key)) return;
      if (onPath.has(id)) {
        throw new GenError(`${file}: ${t.name} contains itself by value`);
      }
      onPath.add(id);
      c.deps.clear();
      const text = t.kind === Kind.ENUM && t.name.startsWith(ANON_ENUM_PREFIX)
        ? anonymousEnum(c, t)
        : c.define(id);
      const deps = [...c.deps].filter((d) => d !== id);
      for (const d of deps) visit(d);
      onPath.delete(id);
      done.add(id);
      names.add(key);
      out.push(text);
    };
    for (const r of roots) visit(r);
  }

  const base = file.replace(/^.*\//, "");
  const guard = `${base.replace(/[^A-Za-z0-9]+/g, "_").toUpperCase()}_WASM_H`;
  return `/* Generated by wasm-bpf gen types from ${base}. Do not edit.
 * Layouts equal the BPF side's: pointers and long are 64-bit integers,
 * padding is explicit, and every struct checks its size and offsets. */
#ifndef ${guard}
#define ${guard}

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
${macroBlock(macros, options.header?.file)}
${out.join("\n")}
#endif /* ${guard} */
`;
}

/** The header's `#define`s, each kept unless already defined. */
function macroBlock(macros: string[], file: string | undefined): string {
  if (!macros.length) return "";
  const base = (file ?? "").replace(/^.*\//, "");
  const lines = [`\n/* #define constants of ${base} */`];
  for (const m of macros) {
    const name = /^#define ([A-Za-z_]\w*)/.exec(m)![1];
    lines.push(`#ifndef ${name}`, m, "#endif");
  }
  return lines.join("\n") + "\n";
}
