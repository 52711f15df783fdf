/**
 * The command line: `deno run --allow-ffi --allow-read --allow-env mod.ts
 * [options] app.wasm [guest args...]`, and `mod.ts gen ...` for the guest
 * toolchain's generators.
 *
 * @module
 */
import denoJson from "../deno.json" with { type: "json" };
import {
  DEFAULT_MAX_MAP_MEMORY_BYTES,
  DEFAULT_MAX_OBJECTS,
  parsePolicy,
  type Policy,
  PROGRAM_KINDS,
  type ProgramKind,
} from "./policy.ts";
import { compileGuest, preflight, startGuest } from "./runner.ts";
import type { GuestProcess, SpawnMetrics } from "./spawn.ts";
import { ExitCode, failed, type GuestStatus } from "./status.ts";
import type { ChildConfig, PreopenSpec } from "./protocol.ts";
import { REGISTRY_USAGE, type RegistryFlags } from "./oci/usage.ts";
import { isObjectFile, OBJECT_USAGE } from "./object_usage.ts";

const USAGE =
  `wasm-bpf ${denoJson.version}: run an eBPF application whose user space is WebAssembly

Usage:
  deno run --v8-flags=--wasm-fast-api --allow-ffi --allow-read --allow-env mod.ts [run] [options] app.wasm [args...]
  deno run --allow-read --allow-write mod.ts gen <skeleton|types> ...   (see gen --help)

Runs app.wasm (a wasm32-wasi command that imports the wasi-bpf ABI) with
libbpf, as root. The exit status is the guest's own; when the host ended it,
one line on stderr says why and the status is 130/143 (SIGINT/SIGTERM), 124
(time limit), 134 (the guest trapped) or 125 (host error); 2 for usage errors.

Options (before app.wasm; everything after it goes to the guest):
  -h, --help                  this help
  -V, --version               print the version
  -v, --verbose               log loads, attaches and libbpf's own messages
      --dir HOST[:GUEST[:ro|rw]]
                              let the guest use directory HOST (as GUEST),
                              read-only unless :rw; the kernel confines
                              every path beneath it (symlinks included)
      --env NAME=VALUE        set a guest environment variable
  Policy (default: everything existing wasi-bpf hosts allow):
      --allow-kind KINDS      only these program kinds, comma-separated:
                              ${PROGRAM_KINDS.join(", ")}
      --allow-cgroup PATH     cgroup programs only under PATH (repeatable)
      --allow-interface IF    network programs only on IF (repeatable)
      --allow-binary PATH     uprobes only on PATH (repeatable)
      --allow-helper NAMES    (with --restricted) programs may call these
                              acting helpers or kfuncs, comma-separated or
                              repeated (bpf_send_signal, bpf_probe_write_user,
                              bpf_override_return, ...; kfuncs by name)
      --allow-pin DIR         maps declared with pinning are pinned under DIR
                              (the first one given; repeatable); without it
                              no map may be pinned
      --read-only-maps        the guest may look up but not change map entries
      --allow-map-writes      (with --restricted) it may change them
      --restricted            least privilege: nothing is allowed but what
                              --allow-* flags or --policy grant
      --max-objects N         at most N BPF objects open at once
                              (default ${DEFAULT_MAX_OBJECTS})
      --max-map-memory MIB    the guest's maps may use at most MIB of kernel
                              memory, estimated (default ${
    DEFAULT_MAX_MAP_MEMORY_BYTES / 2 ** 20
  })
      --timeout SECONDS       stop the guest after SECONDS (exit 124)
      --max-memory MIB        the guest's memory may not grow past MIB (its
                              linear memory, and its JavaScript heap: the
                              guest then runs in a process of its own, deno
                              needs --allow-run, the guest gets no stdin)
      --policy FILE.json      read the policy from FILE (flags add to it)
      --imports MODULE.ts     host functions for the guest: the module's
                              default export is { module: { name: fn } } or a
                              function returning it (deno needs --allow-read)
      --audit=FILE            log loads, attaches, map writes and denials as
                              JSON lines to FILE, never to the stream the
                              guest writes to (deno needs --allow-write for
                              FILE; /dev/fd/N names a descriptor the shell
                              opened)
      --metrics HOST:PORT     serve Prometheus metrics at /metrics while the
                              guest or object runs (':9464': every interface,
                              '127.0.0.1:0': a free port; the address is
                              printed on stderr): host counters labelled
                              guest= and digest= (deno needs --allow-net)
      --metrics-config FILE.json
                              also export BPF maps: counters, gauges and log2
                              histograms, labels decoded by BTF from the key
                              (see README.md, "Metrics")

${OBJECT_USAGE}
${REGISTRY_USAGE}

Least Deno permissions: --allow-ffi (libbpf, libc) --allow-read (the .wasm
file) --allow-env (optional: WASM_BPF_LIBBPF / WASM_BPF_LIBC overrides, and
HOME / XDG_CACHE_HOME for the cache). Optional: --allow-write=$HOME/.cache/wasm-bpf
lets the host keep the minimal kernel BTF of each object's CO-RE relocations
there (made on the first start on a kernel; later starts skip libbpf's parse of
the kernel's 5 MB of BTF: ~15 ms and ~10 MiB less); runs without it use what
is there. --v8-flags=--wasm-fast-api lets map operations go from the guest's
wasm to the system call with no JavaScript in between (~100 ns less each;
without it they take the JavaScript path, which checks the same). Where memory
matters more than the guest's speed, --v8-flags=--liftoff-only keeps the
guest's code unoptimized: ~5 MiB less peak RSS once its functions get hot,
slower guest code, and map operations on the JavaScript path.
`;

/** A command-line mistake: printed with a hint, exit status 2. */
export class UsageError extends Error {}

/** What a command line asks for ({@link parseCommandLine}). */
export interface Parsed {
  /** `-h`/`--help`. */
  help: boolean;
  /** `-V`/`--version`. */
  version: boolean;
  /** `-v`/`--verbose`. */
  verbose: boolean;
  /** `--dir` preopens, in order. */
  dirs: PreopenSpec[];
  /** `--env` variables. */
  env: Record<string, string>;
  /** The policy the flags build (before `--policy FILE` is merged). */
  policy: Policy;
  /** `--policy FILE`. */
  policyFile?: string;
  /** `--restricted`. */
  restricted?: boolean;
  /** `--audit=FILE`. */
  audit?: string;
  /** The guest's `.wasm` path (the first non-option argument). */
  wasm?: string;
  /** `--imports` as a URL. */
  imports?: string;
  /** Everything after the `.wasm` path. */
  guestArgs: string[];
  /** `--username`, `--password-stdin`, `--insecure`, `--require-digest`. */
  registry?: RegistryFlags;
  /** `--metrics HOST:PORT`. */
  metrics?: string;
  /** `--metrics-config FILE`. */
  metricsConfig?: string;
}

const WITH_VALUE = new Set([
  "--dir",
  "--env",
  "--allow-kind",
  "--allow-cgroup",
  "--allow-interface",
  "--allow-binary",
  "--allow-helper",
  "--allow-pin",
  "--max-map-memory",
  "--max-objects",
  "--timeout",
  "--max-memory",
  "--policy",
  "--imports",
  "--username",
  "--metrics",
  "--metrics-config",
]);

/** The flags that take no value (`--flag=x` is refused). */
const WITHOUT_VALUE = new Set([
  "--help",
  "--version",
  "--verbose",
  "--read-only-maps",
  "--allow-map-writes",
  "--restricted",
  "--password-stdin",
  "--insecure",
  "--require-digest",
]);

/**
 * Parses the options before the `.wasm` path (no I/O). Throws
 * {@link UsageError} naming the flag at fault.
 */
export function parseCommandLine(args: string[]): Parsed {
  const p: Parsed = {
    help: false,
    version: false,
    verbose: false,
    dirs: [],
    env: {},
    policy: {},
    guestArgs: [],
  };
  for (let i = 0; i < args.length; i++) {
    let a = args[i];
    if (!a.startsWith("-") || a === "-") {
      p.wasm = a;
      p.guestArgs = args.slice(i + 1);
      break;
    }
    if (a === "--") {
      p.wasm = args[i + 1];
      p.guestArgs = args.slice(i + 2);
      break;
    }
    let value: string | undefined;
    const eq = a.indexOf("=");
    if (a.startsWith("--") && eq > 0) {
      value = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    if (WITH_VALUE.has(a) && value === undefined) {
      if (i + 1 >= args.length) throw new UsageError(`${a} needs a value`);
      value = args[++i];
    }
    if (value !== undefined && WITHOUT_VALUE.has(a)) {
      // --restricted=no or --allow-map-writes=false must not pass as the flag
      throw new UsageError(`${a} takes no value, got '${args[i]}'`);
    }
    switch (a) {
      case "-h":
      case "--help":
        p.help = true;
        break;
      case "-V":
      case "--version":
        p.version = true;
        break;
      case "-v":
      case "--verbose":
        p.verbose = true;
        break;
      case "--dir": {
        const [host, guest, mode = "ro", ...extra] = value!.split(":");
        if (!host || extra.length || (mode !== "ro" && mode !== "rw")) {
          throw new UsageError(
            `--dir needs HOST[:GUEST[:ro|rw]], got '${value}'`,
          );
        }
        p.dirs.push({ host, guest: guest || host, writable: mode === "rw" });
        break;
      }
      case "--env": {
        const k = value!.indexOf("=");
        if (k <= 0) {
          throw new UsageError(`--env needs NAME=VALUE, got '${value}'`);
        }
        p.env[value!.slice(0, k)] = value!.slice(k + 1);
        break;
      }
      case "--allow-kind": {
        const kinds = value!.split(",").filter(Boolean);
        for (const k of kinds) {
          if (!(PROGRAM_KINDS as readonly string[]).includes(k)) {
            throw new UsageError(
              `--allow-kind: unknown kind '${k}' (kinds: ${
                PROGRAM_KINDS.join(", ")
              })`,
            );
          }
        }
        p.policy.programKinds = [
          ...(p.policy.programKinds ?? []),
          ...kinds as ProgramKind[],
        ];
        break;
      }
      case "--allow-cgroup":
        (p.policy.cgroups ??= []).push(value!);
        break;
      case "--allow-interface":
        (p.policy.interfaces ??= []).push(value!);
        break;
      case "--allow-binary":
        (p.policy.binaries ??= []).push(value!);
        break;
      case "--allow-helper":
        (p.policy.helpers ??= []).push(...value!.split(",").filter(Boolean));
        break;
      case "--allow-pin":
        (p.policy.pinDirs ??= []).push(value!);
        break;
      case "--max-map-memory": {
        const mb = Number(value);
        if (!(mb > 0)) {
          throw new UsageError(
            `--max-map-memory needs a positive number of MiB, got '${value}'`,
          );
        }
        p.policy.maxMapMemoryBytes = Math.round(mb * 2 ** 20);
        break;
      }
      case "--read-only-maps":
        p.policy.mapWrites = false;
        break;
      case "--allow-map-writes":
        p.policy.mapWrites = true;
        break;
      case "--restricted":
        p.restricted = true;
        break;
      case "--max-objects": {
        const n = Number(value);
        if (!Number.isInteger(n) || n < 0) {
          throw new UsageError(
            `--max-objects needs a whole number, got '${value}'`,
          );
        }
        p.policy.maxObjects = n;
        break;
      }
      case "--timeout": {
        const s = Number(value);
        if (!(s > 0)) {
          throw new UsageError(
            `--timeout needs a positive number of seconds, got '${value}'`,
          );
        }
        p.policy.timeoutMs = Math.round(s * 1000);
        break;
      }
      case "--max-memory": {
        const mb = Number(value);
        if (!(mb > 0)) {
          throw new UsageError(
            `--max-memory needs a positive number of MiB, got '${value}'`,
          );
        }
        p.policy.maxMemoryBytes = Math.round(mb * 2 ** 20);
        break;
      }
      case "--policy":
        p.policyFile = value;
        break;
      case "--imports":
        p.imports = new URL(value!, `file://${Deno.cwd()}/`).href;
        break;
      case "--audit":
        if (!value) {
          throw new UsageError(
            "--audit needs =FILE: audit records never share the guest's stderr (try --audit=/dev/fd/3 3>audit.jsonl)",
          );
        }
        p.audit = value;
        break;
      case "--username":
        (p.registry ??= {}).username = value;
        break;
      case "--password-stdin":
        (p.registry ??= {}).passwordStdin = true;
        break;
      case "--insecure":
        (p.registry ??= {}).insecure = true;
        break;
      case "--require-digest":
        (p.registry ??= {}).requireDigest = true;
        break;
      case "--metrics":
        p.metrics = value;
        break;
      case "--metrics-config":
        p.metricsConfig = value;
        break;
      default:
        throw new UsageError(`unknown option '${args[i]}'`);
    }
  }
  return p;
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** Runs the CLI with `args` (without the script name); resolves to the exit status. */
export async function main(args: string[]): Promise<number> {
  if (args[0] === "run" && !isFile("run")) {
    // `wasm-bpf run APP` (as ecli and the container image's users write it)
    // is `wasm-bpf APP`; a file named run in this directory is still a guest
    args = args.slice(1);
  }
  if (args[0] === "push" || args[0] === "pull") {
    return await (await import("./oci/cli.ts")).main(args);
  }
  if (args[0] === "gen") {
    const gen = await import("../wasm-sdk/gen/cli.ts");
    return await gen.main(args.slice(1));
  }
  let p: Parsed;
  try {
    p = parseCommandLine(args);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`wasm-bpf: ${e.message}\nRun with --help for usage.`);
    return ExitCode.USAGE;
  }
  if (p.help) {
    console.log(USAGE);
    return 0;
  }
  if (p.version) {
    console.log(`wasm-bpf ${denoJson.version}`);
    return 0;
  }
  if (!p.wasm) {
    console.error("wasm-bpf: no app.wasm given\nRun with --help for usage.");
    return ExitCode.USAGE;
  }
  let policy = p.policy;
  if (p.policyFile) {
    try {
      const fromFile = parsePolicy(
        await Deno.readTextFile(p.policyFile),
        p.policyFile,
      );
      // flags add to (and override) the file
      policy = {
        ...fromFile,
        ...Object.fromEntries(
          Object.entries(p.policy).filter(([, v]) => v !== undefined),
        ),
      };
    } catch (e) {
      console.error(`wasm-bpf: --policy: ${(e as Error).message}`);
      return ExitCode.USAGE;
    }
  }
  if (p.restricted) {
    // least privilege: only what --allow-* flags or the policy file grant
    policy = {
      ...policy,
      programKinds: policy.programKinds ?? [],
      cgroups: policy.cgroups ?? [],
      interfaces: policy.interfaces ?? [],
      binaries: policy.binaries ?? [],
      helpers: policy.helpers ?? [],
      pinDirs: policy.pinDirs ?? [],
      mapWrites: policy.mapWrites ?? false,
    };
  }
  if (p.metricsConfig !== undefined && p.metrics === undefined) {
    console.error(
      "wasm-bpf: --metrics-config needs --metrics HOST:PORT\nRun with --help for usage.",
    );
    return ExitCode.USAGE;
  }
  // checked before anything is pulled or loaded; host/metrics loads only here
  const metricsCli = p.metrics !== undefined
    ? await import("./metrics/cli.ts")
    : undefined;
  const metricsPlan = metricsCli
    ? await metricsCli.planMetrics(p.metrics!, p.metricsConfig)
    : undefined;
  if (typeof metricsPlan === "number") return metricsPlan;
  let metrics: import("./metrics/cli.ts").CliMetrics | undefined;
  // with --max-memory the guest's own process serves them (spawn's metrics)
  let apartMetrics: SpawnMetrics | undefined;
  let audit: ((e: Record<string, unknown>) => void) | undefined;
  let auditFile: Deno.FsFile | undefined;
  if (p.audit) {
    const enc = new TextEncoder();
    try {
      auditFile = await Deno.open(p.audit, { append: true, create: true });
    } catch (e) {
      console.error(
        `wasm-bpf: --audit: cannot open '${p.audit}': ${(e as Error).message}`,
      );
      return ExitCode.USAGE;
    }
    const f = auditFile;
    audit = (e) => f.writeSync(enc.encode(JSON.stringify(e) + "\n"));
  }
  try {
    // the guest's name in messages: the file's name, or the reference
    let name = p.wasm.split("/").pop()!;
    let pulled: { ref: string; digest: string } | undefined;
    // a reference where app.wasm is expected (a path that exists is a file)
    if (!(await Deno.stat(p.wasm).then(() => true, () => false))) {
      const { runTarget } = await import("./oci/cli.ts");
      const image = await runTarget(p.wasm, p.registry, policy.allowImages);
      if (typeof image === "string") {
        console.error(`wasm-bpf: ${image}`);
        return ExitCode.ERROR;
      }
      if (image) {
        audit?.({
          time: new Date().toISOString(),
          event: "image",
          ref: image.ref,
          digest: image.digest,
        });
        p.wasm = image.path;
        name = image.ref;
        pulled = image;
      }
    }
    const isObject = await isObjectFile(p.wasm);
    if (metricsCli && metricsPlan && !isObject && policy.maxMemoryBytes) {
      const m = await metricsCli.checkForCli(
        metricsPlan,
        p.wasm,
        false,
        pulled,
      );
      if (typeof m === "number") return m;
      apartMetrics = {
        listen: metricsPlan.listen,
        config: metricsPlan.config,
        configPath: metricsPlan.configPath,
        guest: m.name,
        digest: m.digest,
      };
    } else if (metricsCli && metricsPlan) {
      const m = await metricsCli.startForCli(
        metricsPlan,
        p.wasm,
        isObject,
        pulled,
      );
      if (typeof m === "number") return m;
      metrics = m;
    }
    if (isObject) {
      // the object runner (and its BTF decoder) loads only for objects
      const { runObjectCommand } = await import("./object_run.ts");
      return await runObjectCommand(p.wasm, p.guestArgs, {
        name,
        policy,
        verbose: p.verbose,
        audit,
        metrics: metrics?.objectHook,
      });
    }
    const config: Omit<ChildConfig, "wasm"> = {
      name,
      args: p.guestArgs,
      env: p.env,
      preopens: p.dirs,
      verbose: p.verbose,
      policy,
      audit: !!audit,
      imports: p.imports,
      graceMs: 2000,
      metrics: metrics?.server.link,
    };
    // a memory ceiling must hold for the JavaScript heap too (WasmGC
    // objects live there), and V8 sets that per process: the guest then
    // runs in a process of its own
    const status = policy.maxMemoryBytes === undefined
      ? await runHere(p.wasm, config, audit)
      : await runApart(p.wasm, config, audit, apartMetrics);
    if (status.kind !== "exited") {
      console.error(`wasm-bpf: ${status.message} (exit ${status.code})`);
    }
    if (status.forced) {
      // the guest did not unwind: end the process, and with it the guest
      auditFile?.close();
      Deno.exit(status.code);
    }
    return status.code;
  } finally {
    auditFile?.close();
    await metrics?.server.close();
  }
}

/**
 * Runs the guest in a process of its own (spawn.ts); SIGINT and
 * SIGTERM are passed on. Its stdin is not the guest's.
 */
async function runApart(
  file: string,
  config: Omit<ChildConfig, "wasm">,
  audit: ((e: Record<string, unknown>) => void) | undefined,
  metrics: SpawnMetrics | undefined,
): Promise<GuestStatus> {
  let guest: GuestProcess;
  const { spawn } = await import("./spawn.ts"); // only with --max-memory
  try {
    guest = spawn(file, {
      ...config,
      audit,
      metrics,
      log: (line) => console.error(line),
    });
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable) {
      return failed(
        `--max-memory runs the guest in a process of its own: deno needs --allow-run (${e.message})`,
      );
    }
    return failed((e as Error).message);
  }
  const onInt = () => guest.kill("SIGINT");
  const onTerm = () => guest.kill("SIGTERM");
  Deno.addSignalListener("SIGINT", onInt);
  Deno.addSignalListener("SIGTERM", onTerm);
  try {
    return await guest.status;
  } finally {
    Deno.removeSignalListener("SIGINT", onInt);
    Deno.removeSignalListener("SIGTERM", onTerm);
  }
}

/** Runs the guest in this process (a Worker) and waits for its status. */
async function runHere(
  file: string,
  config: Omit<ChildConfig, "wasm">,
  audit: ((e: Record<string, unknown>) => void) | undefined,
): Promise<GuestStatus> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(file);
  } catch (e) {
    return failed(`cannot read ${file}: ${(e as Error).message}`);
  }
  const module = await compileGuest(bytes, file, config.policy.maxMemoryBytes);
  if (!(module instanceof WebAssembly.Module)) return module;
  const missing = preflight();
  if (missing) return missing;
  return await startGuest(module, config, {
    log: (line) => console.error(line),
    audit,
    handleSignals: true,
    stdin: true,
    forcedExit: (status) =>
      `wasm-bpf: ${status.message} (exit ${status.code})\n`,
  }).status;
}
