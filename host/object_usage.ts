/**
 * What the CLI needs of bare objects on every run: telling an object from
 * a `.wasm`, the help text, and the error of a bad `--set`. The runner itself (host/object_run.ts,
 * with the BTF decoder) loads only when an object is run.
 *
 * @module
 */

/** Whether `bytes` start like an ELF file (a BPF object), not `\0asm`. */
export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 &&
    bytes[2] === 0x4c && bytes[3] === 0x46;
}

/**
 * Whether `file` is a BPF object (ELF magic) rather than a `.wasm`; false
 * when it cannot be read (the wasm path then reports that).
 */
export async function isObjectFile(file: string): Promise<boolean> {
  let f: Deno.FsFile | undefined;
  try {
    f = await Deno.open(file);
    const head = new Uint8Array(4);
    const n = await f.read(head);
    return n === 4 && isElf(head);
  } catch {
    return false;
  } finally {
    f?.close();
  }
}

/** The CLI's usage lines for bare objects (appended to its help). */
export const OBJECT_USAGE =
  `  deno run --allow-ffi --allow-read mod.ts [options] prog.bpf.o
      [--set NAME=VALUE]... [--attach PROG=TARGET]... [--json | --table]
      [--interval S]

A BPF object (told from a .wasm by its ELF magic) runs bare, as ecli runs
it: the same checks, policy flags and limits as a guest's objects; --set
assigns a const volatile global (integers, hex, negative, true/false, enum
names, strings for char arrays); every program is attached by its section;
programs whose section names no target take one from --attach PROG=TARGET
(xdp/socket: IFNAME; tc: IFNAME[:ingress|:egress]; sockops/cgroup*: a
cgroup v2 directory; bare uprobe: BINARY:FUNCTION[:PID]), checked against
--allow-interface/--allow-cgroup/--allow-binary as a guest's targets are;
every ring buffer / perf event array record is printed decoded by its BTF
type (the map's __type(value, struct X), else a global
'const struct X *unused', else struct MAP_event or event; else as hex with
its size), as a table on a terminal (or with --table), else (or with
--json) as JSON lines; histogram maps (value struct with a 'slots' array)
print as log2 tables every --interval seconds and at exit (per-CPU maps
summed over the CPUs). Stops on Ctrl-C (130), SIGTERM (143), --timeout
(124); bad --set or --attach: 2; object refused or a target missing: 125.
`;

/** An unknown name or a value that does not fit its type (one line). */
export class SetError extends Error {
  /** `message`, naming the global and listing the settable ones. */
  constructor(message: string) {
    super(message);
    this.name = "SetError";
  }
}
