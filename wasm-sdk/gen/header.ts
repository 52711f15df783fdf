/**
 * A user's types header (`NAME.h`, shared by NAME.bpf.c and the guest) as a
 * BPF object whose BTF holds its structs, unions, enums and typedefs, for
 * `gen types --header`. Types a BPF program only uses through a local
 * pointer are not in the program object's BTF; compiling the header with
 * one unused global pointer per type it defines puts every one of them there.
 *
 * @module
 */
import { GenError } from "./errors.ts";

/**
 * The names of the types `text` (a C header) defines: `struct`/`union`/
 * `enum` tags with a body, and typedef names of tagged or anonymous
 * composite types, in order of appearance. Comments are skipped.
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
  found.sort((a, b) => a.at - b.at);
  const seen = new Set<string>();
  return found.map((f) => f.decl).filter((d) =>
    seen.has(d) ? false : (seen.add(d), true)
  );
}

/** The C file that pulls every type of header `path` into BTF. */
export function headerProbeSource(path: string, text: string): string {
  const lines = [`#include "${path.replace(/["\\]/g, "\\$&")}"`];
  headerTypeNames(text).forEach((d, i) =>
    lines.push(`${d} *__wasm_bpf_gen_type_${i};`)
  );
  return lines.join("\n") + "\n";
}

/**
 * Compiles header `path` for the BPF target with -g (clang must be on PATH)
 * and returns the object's bytes. GenError when the header does not
 * compile or clang is missing.
 */
export async function compileHeader(path: string): Promise<Uint8Array> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
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
    await w.write(new TextEncoder().encode(headerProbeSource(abs, text)));
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
