/**
 * The one build rule: takes example or test-guest folders to `build/`.
 *
 *   deno run -A scripts/build.ts [-v] DIR...
 *
 * For each DIR (e.g. `examples/bootstrap`), into `build/DIR/`:
 *  - `vmlinux.h` from the running kernel's BTF (cached in build/vmlinux/),
 *  - every `NAME.bpf.c` → `NAME.bpf.o` (clang -target bpf, CO-RE; DWARF
 *    stripped, BTF kept) →
 *    `NAME.skel.h` (the skeleton, embedding the object) and `NAME.wasm.h`
 *    (its types with wasm32-safe layouts: every type `gen types` picks by
 *    default, i.e. map keys/values and global variables' types),
 *  - every other `NAME.c` → `NAME.wasm` (clang --target=wasm32-wasi).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { GenError } from "../wasm-sdk/gen/errors.ts";
import { ObjectFileError } from "../objfile/elf.ts";
import { generateSkeleton, skeletonName } from "../wasm-sdk/gen/skeleton.ts";
import { generateTypes } from "../wasm-sdk/gen/types.ts";
import { compileHeader } from "../wasm-sdk/gen/header.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const SDK_C = `${ROOT}/wasm-sdk/c`;
const GEN = `${ROOT}/wasm-sdk/gen`;
const GEN_SOURCES = [
  "ctypes.ts",
  "header.ts",
  "skeleton.ts",
  "types.ts",
].map((f) => `${GEN}/${f}`).concat(
  ["elf.ts", "btf.ts"].map((f) => `${ROOT}/objfile/${f}`),
);

class BuildError extends Error {}

function which(cmd: string): boolean {
  const path = Deno.env.get("PATH") ?? "";
  return path.split(":").some((d) => {
    try {
      return Deno.statSync(`${d}/${cmd}`).isFile;
    } catch {
      return false;
    }
  });
}

function requireTool(cmd: string, pkg: string) {
  if (!which(cmd)) {
    throw new BuildError(
      `${cmd} not found: install it with 'apt-get install ${pkg}' (or run scripts/setup.sh)`,
    );
  }
}

async function exec(cmd: string[], what: string): Promise<Uint8Array> {
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr).trim();
    throw new BuildError(`${what} failed:\n  $ ${cmd.join(" ")}\n${err}`);
  }
  return out.stdout;
}

function mtime(path: string): number {
  try {
    return Deno.statSync(path).mtime?.getTime() ?? 0;
  } catch {
    return 0;
  }
}

/** Newer than all inputs? */
function fresh(output: string, inputs: string[]): boolean {
  const t = mtime(output);
  return t > 0 && inputs.every((i) => mtime(i) <= t);
}

/**
 * NAME.h compiled for `gen types --header`; a header that does not compile
 * on its own (e.g. it needs vmlinux.h first) is left out with a warning, and
 * NAME.wasm.h then holds the object's types only, as before.
 */
async function headerObject(
  path: string,
): Promise<{ file: string; bytes: Uint8Array } | undefined> {
  try {
    return { file: path, bytes: await compileHeader(path) };
  } catch (e) {
    if (!(e instanceof GenError)) throw e;
    console.error(
      `build: warning: ${path}: its types left out of the .wasm.h: ${e.message}`,
    );
    return undefined;
  }
}

/** Generates (once per kernel) and returns the folder holding vmlinux.h. */
export async function vmlinuxDir(): Promise<string> {
  // uname rather than Deno.osRelease(): the build needs no --allow-sys
  const release = new TextDecoder().decode(
    await exec(["uname", "-r"], "uname -r"),
  ).trim();
  const dir = `${ROOT}/build/vmlinux/${release}`;
  const header = `${dir}/vmlinux.h`;
  if (mtime(header) > 0) return dir;
  const btf = "/sys/kernel/btf/vmlinux";
  try {
    Deno.statSync(btf);
  } catch {
    throw new BuildError(
      `${btf} is missing: the kernel has no BTF, CO-RE builds need CONFIG_DEBUG_INFO_BTF=y`,
    );
  }
  requireTool("bpftool", "bpftool");
  const text = await exec([
    "bpftool",
    "btf",
    "dump",
    "file",
    btf,
    "format",
    "c",
  ], "bpftool btf dump");
  Deno.mkdirSync(dir, { recursive: true });
  Deno.writeFileSync(`${header}.tmp`, text);
  Deno.renameSync(`${header}.tmp`, header);
  return dir;
}

/** Builds one folder; returns the paths it produced. */
export async function buildDir(srcDir: string): Promise<string[]> {
  const abs = srcDir.startsWith("/") ? srcDir : `${Deno.cwd()}/${srcDir}`;
  const rel = abs.startsWith(ROOT + "/")
    ? abs.slice(ROOT.length + 1)
    : abs.replace(/^\//, "");
  const outDir = `${ROOT}/build/${rel}`;
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(abs)];
  } catch {
    throw new BuildError(`${srcDir}: no such folder`);
  }
  Deno.mkdirSync(outDir, { recursive: true });
  const files = entries.filter((e) => e.isFile).map((e) => e.name).sort();
  const bpfSources = files.filter((f) => f.endsWith(".bpf.c"));
  const guestSources = files.filter((f) =>
    f.endsWith(".c") && !f.endsWith(".bpf.c")
  );
  const headers = files.filter((f) => f.endsWith(".h")).map((f) =>
    `${abs}/${f}`
  );
  const produced: string[] = [];

  if (bpfSources.length > 0) {
    requireTool("clang", "clang");
    const vmlinux = await vmlinuxDir();
    for (const src of bpfSources) {
      const base = src.slice(0, -".c".length); // NAME.bpf
      const obj = `${outDir}/${base}.o`;
      const skel = `${outDir}/${base.replace(/\.bpf$/, "")}.skel.h`;
      // the rule itself is an input: a change of flags rebuilds
      const inputs = [
        `${abs}/${src}`,
        ...headers,
        new URL(import.meta.url).pathname,
      ];
      if (!fresh(obj, inputs)) {
        await exec([
          "clang",
          "-O2",
          "-g",
          "-target",
          "bpf",
          "-D__TARGET_ARCH_x86",
          "-I",
          vmlinux,
          "-I",
          abs,
          "-I",
          outDir,
          "-c",
          `${abs}/${src}`,
          "-o",
          obj,
        ], `compiling ${rel}/${src}`);
        // DWARF is only for debuggers: the object keeps its BTF and
        // BTF.ext (CO-RE and the generators need those), and the guest that
        // embeds it gets ~20x smaller
        await exec(["llvm-strip", "-g", obj], `stripping ${rel}/${src}`);
      }
      const types = `${outDir}/${base.replace(/\.bpf$/, "")}.wasm.h`;
      // NAME.h next to NAME.bpf.c: its types go into NAME.wasm.h too, even
      // those the object's BTF lacks (upstream's `ecc NAME.h --header-only`)
      const userHeader = `${abs}/${base.replace(/\.bpf$/, "")}.h`;
      const hasHeader = headers.includes(userHeader);
      for (
        const [out, gen, extra] of [
          [
            skel,
            (b: Uint8Array) =>
              Promise.resolve(generateSkeleton(skeletonName(obj), b, obj)),
            [],
          ],
          [
            types,
            async (b: Uint8Array) =>
              generateTypes(b, {
                file: obj,
                header: hasHeader ? await headerObject(userHeader) : undefined,
              }),
            hasHeader ? [userHeader] : [],
          ],
        ] as const
      ) {
        if (fresh(out, [obj, ...GEN_SOURCES, ...extra])) continue;
        let text: string;
        try {
          text = await gen(Deno.readFileSync(obj));
        } catch (e) {
          if (e instanceof GenError || e instanceof ObjectFileError) {
            throw new BuildError(`generating ${out}: ${e.message}`);
          }
          throw e;
        }
        Deno.writeTextFileSync(`${out}.tmp`, text);
        Deno.renameSync(`${out}.tmp`, out);
      }
      produced.push(obj, skel, types);
    }
  }

  if (guestSources.length > 0) {
    requireTool("clang", "clang");
    try {
      Deno.statSync("/usr/lib/wasm32-wasi/libc.a");
    } catch {
      throw new BuildError(
        "wasi-libc not found (/usr/lib/wasm32-wasi/libc.a): apt-get install wasi-libc libclang-rt-dev-wasm32 lld",
      );
    }
    const skels = produced.filter((p) =>
      p.endsWith(".skel.h") || p.endsWith(".wasm.h")
    );
    for (const src of guestSources) {
      const wasm = `${outDir}/${src.slice(0, -".c".length)}.wasm`;
      if (
        !fresh(wasm, [
          `${abs}/${src}`,
          // a source may include a sibling source (bench/guests/ringbuf)
          ...guestSources.map((g) => `${abs}/${g}`),
          ...headers,
          ...skels,
          `${SDK_C}/libbpf-wasm.h`,
          `${SDK_C}/wasm-bpf-abi.h`,
        ])
      ) {
        await exec([
          "clang",
          "--target=wasm32-wasi",
          "-O2",
          "-g0",
          "-I",
          SDK_C,
          "-I",
          abs,
          "-I",
          outDir,
          "-Wl,--export-table",
          // wasi-libc's DWARF is dead weight in a guest (names stay)
          "-Wl,--strip-debug",
          "-Wl,-z,stack-size=65536",
          // this repo's examples poll through this host's batch import
          // (wasm-sdk/c/README.md); other guests keep the portable default
          ...(rel.startsWith("examples/") ? ["-DLIBBPF_WASM_BATCH"] : []),
          `${abs}/${src}`,
          "-o",
          wasm,
        ], `compiling ${rel}/${src}`);
      }
      produced.push(wasm);
    }
  }
  return produced;
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      help: { type: "boolean", short: "h" },
      verbose: { type: "boolean", short: "v" },
    },
  });
  if (values.help || positionals.length === 0) {
    console.log(
      "usage: deno run -A scripts/build.ts [-v] DIR...\n\nBuilds NAME.bpf.c → NAME.bpf.o + NAME.skel.h + NAME.wasm.h and NAME.c → NAME.wasm into build/DIR/.",
    );
    Deno.exit(values.help ? 0 : 2);
  }
  try {
    for (const dir of positionals) {
      const out = await buildDir(dir);
      if (values.verbose) { for (const p of out) console.log(p); }
    }
  } catch (e) {
    if (e instanceof BuildError) {
      console.error(`build: ${e.message}`);
      Deno.exit(1);
    }
    throw e;
  }
}
