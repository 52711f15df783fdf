/**
 * Helpers shared by the generator's tests (tests/gen_*_test.ts): compiling
 * BPF and wasm32 C, running tools, reading `bpftool btf dump` output, and
 * running a wasm32-wasi guest under the host's WASI layer with extra imports.
 *
 * @module
 */
import { Wasi } from "../../../host/wasi/mod.ts";
import { vmlinuxDir } from "../../../scripts/build.ts";

/** Absolute path of the repository root. */
export const ROOT: string = new URL("../../..", import.meta.url).pathname
  .replace(/\/$/, "");

/** Result of a finished command. */
export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion. */
export async function run(cmd: string, args: string[]): Promise<Run> {
  const out = await new Deno.Command(cmd, {
    args,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

/** Runs a command and throws with its stderr when it fails. */
export async function runOk(cmd: string, args: string[]): Promise<Run> {
  const r = await run(cmd, args);
  if (r.code !== 0) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed (${r.code}):\n${r.stderr}`,
    );
  }
  return r;
}

/** Compiles BPF C source `src` (a path) to `out` with clang -target bpf. */
export async function compileBpf(
  src: string,
  out: string,
  opts: { debug?: boolean; include?: string[] } = {},
): Promise<string> {
  const vmlinux = await vmlinuxDir();
  await runOk("clang", [
    "-O2",
    ...(opts.debug === false ? [] : ["-g"]),
    "-target",
    "bpf",
    "-D__TARGET_ARCH_x86",
    "-I",
    vmlinux,
    ...(opts.include ?? []).flatMap((d) => ["-I", d]),
    "-c",
    src,
    "-o",
    out,
  ]);
  return out;
}

/** Compiles a wasm32-wasi guest. */
export async function compileWasm(
  src: string,
  out: string,
  include: string[],
): Promise<string> {
  await runOk("clang", [
    "--target=wasm32-wasi",
    "-O2",
    "-Wall",
    "-Werror",
    ...include.flatMap((d) => ["-I", d]),
    "-Wl,--export-table",
    src,
    "-o",
    out,
  ]);
  return out;
}

/** One type of `bpftool btf dump file X`: its header fields and indented lines. */
export interface DumpedType {
  id: number;
  kind: string;
  name: string;
  fields: Record<string, string>;
  lines: string[];
}

/** Parses `bpftool btf dump file X` (raw format). */
export async function bpftoolBtf(obj: string): Promise<DumpedType[]> {
  const r = await runOk("bpftool", ["btf", "dump", "file", obj]);
  const out: DumpedType[] = [];
  for (const line of r.stdout.split("\n")) {
    const m = /^\[(\d+)\] (\S+) '([^']*)'(.*)$/.exec(line);
    if (m) {
      const fields: Record<string, string> = {};
      for (const f of m[4].matchAll(/(\w+)=([^\s,]+)/g)) fields[f[1]] = f[2];
      out.push({
        id: Number(m[1]),
        kind: m[2],
        name: m[3] === "(anon)" ? "" : m[3],
        fields,
        lines: [],
      });
    } else if (line.startsWith("\t") && out.length > 0) {
      out[out.length - 1].lines.push(line.slice(1));
    }
  }
  return out;
}

/** Fields of an indented line: `'name' type_id=3 bits_offset=0`. */
export function lineFields(line: string): Record<string, string> {
  const f: Record<string, string> = {};
  const n = /^'([^']*)'/.exec(line);
  if (n) f.name = n[1] === "(anon)" ? "" : n[1];
  for (const m of line.matchAll(/(\w+)=([^\s,)]+)/g)) f[m[1]] = m[2];
  return f;
}

/** A wasm32-wasi guest run: what it printed and its exit code. */
export interface WasmRun {
  stdout: string;
  code: number;
}

/**
 * Runs a wasm32-wasi module under the host's own WASI layer
 * (host/wasi/mod.ts). `extra(getInstance)` returns more import modules
 * (e.g. `wasm_bpf`); stdout is captured, stderr goes to the test's.
 */
export async function runWasm(
  wasmPath: string,
  extra: (
    instance: () => WebAssembly.Instance,
  ) => Record<string, Record<string, unknown>> = () => ({}),
): Promise<WasmRun> {
  const chunks: Uint8Array[] = [];
  const wasi = new Wasi({
    args: ["guest"],
    env: {},
    preopens: [],
    stdout: (bytes) => chunks.push(bytes.slice()),
    stderr: 2,
  });
  const ref: { instance?: WebAssembly.Instance } = {};
  const module = await WebAssembly.compile(await Deno.readFile(wasmPath));
  ref.instance = await WebAssembly.instantiate(module, {
    ...wasi.imports,
    ...extra(() => ref.instance!),
  } as WebAssembly.Imports);
  const code = wasi.start(ref.instance);
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    all.set(c, off);
    off += c.length;
  }
  const stdout = new TextDecoder().decode(all);
  return { stdout, code };
}
