/**
 * The `gen` command line:
 *
 *   gen skeleton OBJ [--name N]       NAME.skel.h to stdout
 *   gen types [OBJ] [--header H] [--type T]...  NAME.wasm.h to stdout
 *
 * `main` returns the exit status; errors are one line on stderr. Runnable
 * directly: `deno run --allow-read wasm-sdk/gen/cli.ts skeleton x.bpf.o`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { GenError } from "./errors.ts";
import { ObjectFileError } from "../../objfile/elf.ts";
import { generateSkeleton, skeletonName } from "./skeleton.ts";
import { generateTypes } from "./types.ts";
import { compileHeader } from "./header.ts";

const USAGE = `usage: gen <command> [options]

commands:
  skeleton OBJ [--name N]     print the C skeleton header (NAME.skel.h) of a BPF object
  types [OBJ] [--header H]    print the wasm32 C types header (NAME.wasm.h) of a BPF object
                              and/or of a C header

Run 'gen <command> --help' for the options of a command.`;

const SKELETON_USAGE = `usage: gen skeleton OBJ [--name N]

Prints the skeleton header of the BPF object OBJ (clang -g -target bpf) to
stdout: the embedded object, struct N with its programs, maps and global
sections, and N__open/__load/__attach/__destroy over libbpf-wasm.h.

  --name N    C name of the skeleton (default: file name minus .o, dots to _:
              foo.bpf.o -> foo_bpf)
  -h, --help  show this help`;

const TYPES_USAGE = `usage: gen types [OBJ] [--header H] [--type T]...

Prints C definitions of the structs, unions and enums of the BPF object OBJ
with layouts identical on wasm32 and the BPF side (pointers and long become
64-bit integers, padding is explicit, sizes and offsets are _Static_assert-ed).

  --header H  also emit every struct, union, enum and typedef the C header
              H defines (compiled with clang -target bpf -g), preferred
              over OBJ's types of the same name; OBJ may then be left out
  --type T    emit type T (struct, union, enum or typedef name) and what it
              contains; repeatable. Default: the key/value types of every
              map and the types of the global variables (through one pointer)
  -h, --help  show this help`;

class UsageError extends Error {}

function parse(
  args: string[],
  options: NonNullable<Parameters<typeof parseArgs>[0]>["options"],
): { values: Record<string, unknown>; positionals: string[] } {
  try {
    const r = parseArgs({
      args,
      options,
      allowPositionals: true,
      strict: true,
    });
    return {
      values: r.values as Record<string, unknown>,
      positionals: r.positionals,
    };
  } catch (e) {
    throw new UsageError((e as Error).message.split("\n")[0]);
  }
}

async function readObject(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new GenError(`${path}: no such file`);
    }
    if (e instanceof Deno.errors.IsADirectory) {
      throw new GenError(`${path}: is a directory`);
    }
    throw new GenError(`${path}: ${(e as Error).message}`);
  }
}

async function write(text: string) {
  const bytes = new TextEncoder().encode(text);
  let off = 0;
  while (off < bytes.length) {
    off += await Deno.stdout.write(bytes.subarray(off));
  }
}

/** Runs `gen` with `args` (without the leading "gen"); returns the exit status. */
export async function main(args: string[]): Promise<number> {
  const [cmd, ...rest] = args;
  try {
    if (!cmd || cmd === "--help" || cmd === "-h" || cmd === "help") {
      console.log(USAGE);
      return cmd ? 0 : 2;
    }
    if (cmd === "skeleton") {
      const { values, positionals } = parse(rest, {
        name: { type: "string" },
        help: { type: "boolean", short: "h" },
      });
      if (values.help) {
        console.log(SKELETON_USAGE);
        return 0;
      }
      if (positionals.length !== 1) {
        throw new UsageError(
          positionals.length === 0
            ? "gen skeleton: missing the object file (see gen skeleton --help)"
            : "gen skeleton: expected one object file",
        );
      }
      const obj = positionals[0];
      const name = (values.name as string | undefined) ?? skeletonName(obj);
      const bytes = await readObject(obj);
      await write(generateSkeleton(name, bytes, obj));
      return 0;
    }
    if (cmd === "types") {
      const { values, positionals } = parse(rest, {
        type: { type: "string", multiple: true },
        header: { type: "string" },
        help: { type: "boolean", short: "h" },
      });
      if (values.help) {
        console.log(TYPES_USAGE);
        return 0;
      }
      const header = values.header as string | undefined;
      if (positionals.length > 1 || (!header && positionals.length === 0)) {
        throw new UsageError(
          positionals.length === 0
            ? "gen types: missing the object file (see gen types --help)"
            : "gen types: expected one object file",
        );
      }
      const obj = positionals[0] as string | undefined;
      const bytes = obj === undefined ? null : await readObject(obj);
      await write(
        generateTypes(bytes, {
          file: obj,
          types: values.type as string[] | undefined,
          header: header === undefined
            ? undefined
            : { file: header, bytes: await compileHeader(header) },
        }),
      );
      return 0;
    }
    throw new UsageError(
      `gen: unknown command '${cmd}' (expected skeleton or types)`,
    );
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(e.message);
      return 2;
    }
    if (e instanceof GenError || e instanceof ObjectFileError) {
      console.error(`gen: ${e.message}`);
      return 1;
    }
    // e.g. a malformed object nesting types deeper than the stack: still
    // one line, not a stack trace
    console.error(
      `gen: internal error: ${
        String((e as Error)?.message ?? e).split("\n")[0]
      }`,
    );
    return 1;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
