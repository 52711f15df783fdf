/**
 * A user's types header (`NAME.h`, shared by NAME.bpf.c and the guest) as a
 * BPF object whose BTF holds its structs, unions, enums and typedefs, for
 * `gen types --header`. Types a BPF program only uses through a local
 * pointer are not in the program object's BTF; compiling the header with
 * one unused global pointer per type it defines puts every one of them there.
 *
 * The header is read after preprocessing for the BPF target (clang -E -dD:
 * conditionals decided, comments gone), only its own lines (not what it
 * includes). Besides named types the object also carries:
 * - scalar and function-pointer typedefs (`typedef unsigned long long
 *   __u64;`, `typedef int (*handler_fn)(void *, int);`);
 * - the constants of anonymous enums (`enum { A = 1, B };`), evaluated by
 *   clang into an enum named `__wasm_bpf_gen_anon_N` whose enumerators are
 *   `__wasm_bpf_gen_anon_N__A`... (types.ts emits them as `enum { A = 1,
 *   B = 2, };`);
 * - the header's own `#define`s with a body, as text in ELF section
 *   {@link MACRO_SECTION} (one per line).
 *
 * @module
 */
import { GenError } from "./errors.ts";

/**
 * The names of the types `text` (a C header) defines: `struct`/`union`/
 * `enum` tags with a body, and typedef names (of composite, scalar, array
 * and function-pointer types), in order of appearance. Comments are
 * skipped.
 */
export function headerTypeNames(text: string): string[] {
  const src = text.replace(/\/\*[\s\S]*?\*\//g, " ").replace(/\/\/.*$/gm, " ");
  const found: { at: number; decl: string }[] = [];
  for (
    const m of src.matchAll(/\b(struct|union|enum)\s+([A-Za-z_]\w*)\s*\{/g)
  ) {
    found.push({ at: m.index!, decl: `${m[1]} ${m[2]}` });
  }
  // typedef struct [tag] { ... } NAME;  (one level of nested braces)
  for (
    const m of src.matchAll(
      /\btypedef\s+(?:struct|union|enum)\s*\w*\s*\{(?:[^{}]|\{[^{}]*\})*\}\s*([A-Za-z_]\w*)\s*;/g,
    )
  ) found.push({ at: m.index!, decl: m[1] });
  // typedef struct tag NAME;
  for (
    const m of src.matchAll(
      /\btypedef\s+(?:struct|union|enum)\s+[A-Za-z_]\w*\s+([A-Za-z_]\w*)\s*;/g,
    )
  ) found.push({ at: m.index!, decl: m[1] });
  // typedef unsigned long long u64;  typedef char name_t[16];
  for (
    const m of src.matchAll(
      /\btypedef\s+[^;{}()]*?[\s*]([A-Za-z_]\w*)\s*(?:\[[^\];{}]*\]\s*)*;/g,
    )
  ) found.push({ at: m.index!, decl: m[1] });
  // typedef int (*handler_fn)(void *ctx, int x);
  for (
    const m of src.matchAll(
      /\btypedef\s+[^;{}()]*\(\s*\*\s*([A-Za-z_]\w*)\s*\)\s*\(/g,
    )
  ) found.push({ at: m.index!, decl: m[1] });
  found.sort((a, b) => a.at - b.at);
  const seen = new Set<string>();
  return found.map((f) => f.decl).filter((d) =>
    seen.has(d) ? false : (seen.add(d), true)
  );
}

/** Name prefix of the enums that carry anonymous enums' constants. */
export const ANON_ENUM_PREFIX = "__wasm_bpf_gen_anon_";

/** ELF section of a header's object holding its `#define` lines. */
export const MACRO_SECTION = ".wasm_bpf_gen.macros";

/**
 * The enumerator names of each anonymous enum `text` defines (`enum { A = 1,
 * B };`, also one declaring a variable or member), not those of
 * `typedef enum { ... } name;` (the typedef carries them). Comments are
 * skipped.
 */
export function anonymousEnums(text: string): string[][] {
  const src = text.replace(/\/\*[\s\S]*?\*\//g, " ").replace(/\/\/.*$/gm, " ");
  const out: string[][] = [];
  for (const m of src.matchAll(/\benum\s*\{([^{}]*)\}/g)) {
    if (/\btypedef\s*$/.test(src.slice(0, m.index!))) continue;
    const names: string[] = [];
    let depth = 0, part = "";
    for (const ch of m[1] + ",") {
      if (ch === "(") depth++;
      if (ch === ")") depth--;
      if (ch === "," && depth === 0) {
        const n = /^\s*([A-Za-z_]\w*)/.exec(part);
        if (n) names.push(n[1]);
        part = "";
      } else part += ch;
    }
    if (names.length) out.push(names);
  }
  return out;
}

/**
 * The `#define` lines of header `path`'s own text in `clang -E -dD` output
 * `pre` (not those of files it includes, nor built-ins), with a body
 * (include guards and flags without a value are left out), in order.
 */
export function headerMacros(pre: string, path: string): string[] {
  const out: string[] = [];
  let inHeader = false;
  for (const line of pre.split("\n")) {
    const mark = /^# \d+ "((?:[^"\\]|\\.)*)"/.exec(line);
    if (mark) {
      inHeader = mark[1].replace(/\\(.)/g, "$1") === path;
      continue;
    }
    if (!inHeader) continue;
    const d = /^#define ([A-Za-z_]\w*(?:\([^)]*\))?)(?:\s+(.*))?$/.exec(line);
    if (d && d[2] !== undefined && d[2].trim() !== "") {
      out.push(`#define ${d[1]} ${d[2].trim()}`);
    }
  }
  return out;
}

/** The lines of `clang -E -dD` output `pre` that come from `path` itself. */
export function ownLines(pre: string, path: string): string {
  const out: string[] = [];
  let inHeader = false;
  for (const line of pre.split("\n")) {
    const mark = /^# \d+ "((?:[^"\\]|\\.)*)"/.exec(line);
    if (mark) {
      inHeader = mark[1].replace(/\\(.)/g, "$1") === path;
      continue;
    }
    if (inHeader && !line.startsWith("#")) out.push(line);
  }
  return out.join("\n");
}

/** `s` as a C string literal (control characters as octal escapes). */
function cString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const code = ch.charCodeAt(0);
    if (ch === "\\" || ch === '"') out += `\\${ch}`;
    else if (code < 0x20) out += `\\${code.toString(8).padStart(3, "0")}`;
    else out += ch;
  }
  return out + '"';
}

/**
 * The C file that pulls every type of header `path` into BTF: `text` is
 * the header's own text (preprocessed, see {@link ownLines}), `macros` its
 * `#define` lines (kept in {@link MACRO_SECTION}).
 */
export function headerProbeSource(
  path: string,
  text: string,
  macros: string[] = [],
): string {
  const lines = [`#include "${path.replace(/["\\]/g, "\\$&")}"`];
  headerTypeNames(text).forEach((d, i) =>
    lines.push(`${d} *__wasm_bpf_gen_type_${i};`)
  );
  anonymousEnums(text).forEach((names, i) => {
    const tag = `${ANON_ENUM_PREFIX}${i}`;
    lines.push(
      `enum ${tag} { ${
        names.map((n) => `${tag}__${n} = (${n})`).join(", ")
      } };`,
      `enum ${tag} *${tag}_p;`,
    );
  });
  if (macros.length) {
    lines.push(
      `__attribute__((section("${MACRO_SECTION}"), used)) static const char __wasm_bpf_gen_macros[] = ${
        cString(macros.join("\n") + "\n")
      };`,
    );
  }
  return lines.join("\n") + "\n";
}

/**
 * Compiles header `path` for the BPF target with -g (clang must be on PATH)
 * and returns the object's bytes. GenError when the header does not
 * compile or clang is missing.
 */
export async function compileHeader(path: string): Promise<Uint8Array> {
  try {
    await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new GenError(`${path}: no such file`);
    }
    throw new GenError(`${path}: ${(e as Error).message}`);
  }
  const abs = path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
  const dir = await Deno.makeTempDir({ prefix: "wasm-bpf-gen-" });
  try {
    const obj = `${dir}/header.o`;
    let pre: Deno.CommandOutput;
    try {
      pre = await new Deno.Command("clang", {
        args: ["-target", "bpf", "-E", "-dD", "-x", "c", abs],
        stdout: "piped",
        stderr: "piped",
      }).output();
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw new GenError(
          `--header ${path}: clang not found (install clang to read headers)`,
        );
      }
      throw e;
    }
    if (!pre.success) {
      const err = new TextDecoder().decode(pre.stderr).split("\n").find((l) =>
        l.includes("error")
      ) ?? "clang failed";
      throw new GenError(`--header ${path}: does not compile: ${err}`);
    }
    const preText = new TextDecoder().decode(pre.stdout);
    const own = ownLines(preText, abs);
    const macros = headerMacros(preText, abs);
    let child;
    try {
      child = new Deno.Command("clang", {
        args: ["-target", "bpf", "-g", "-O0", "-c", "-x", "c", "-", "-o", obj],
        stdin: "piped",
        stdout: "null",
        stderr: "piped",
      }).spawn();
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw new GenError(
          `--header ${path}: clang not found (install clang to read headers)`,
        );
      }
      throw e;
    }
    const w = child.stdin.getWriter();
    await w.write(
      new TextEncoder().encode(headerProbeSource(abs, own, macros)),
    );
    await w.close();
    const r = await child.output();
    if (!r.success) {
      const err = new TextDecoder().decode(r.stderr).split("\n").find((l) =>
        l.includes("error")
      ) ?? "clang failed";
      throw new GenError(`--header ${path}: does not compile: ${err}`);
    }
    return await Deno.readFile(obj);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
