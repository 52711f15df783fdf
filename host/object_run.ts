/**
 * Bare BPF objects, as eunomia-bpf's `ecli` runs them: a `.bpf.o` loaded
 * through the same checks as a guest's (ELF/BTF validation, policy,
 * map-memory cap, audit), its read-only globals set, every program
 * attached by section, and its output typed by BTF: records of every ring
 * buffer and perf event array decoded into plain objects, and log2
 * histogram maps (a value struct with a `slots` array).
 *
 * How a buffer's record type is found: see {@link ./decode.ts} (the map's
 * `__type(value, struct event)`, else a global `const struct event *unused
 * __attribute__((unused))`, else a struct named `MAP_event` or `event`;
 * else records come as `{ size, hex }`).
 *
 * @example Collect bootstrap's events as data
 * ```ts
 * import { runObject } from "@wasm-bpf/run";
 *
 * using run = runObject("bootstrap.bpf.o", { set: { min_duration_ns: 0 } });
 * const signal = AbortSignal.timeout(5_000);
 * for await (const ev of run.events({ signal })) {
 *   const e = ev.data as { pid: number; comm: string; exit_event: number };
 *   console.log(e.exit_event ? "exit" : "exec", e.pid, e.comm);
 * }
 * ```
 *
 * @module
 */
import {
  type BpfObject,
  type BufferReader,
  type LibbpfLogger,
  MapType,
  openBufferReader,
  Waiter,
} from "../ffi/mod.ts";
import { Btf } from "../objfile/btf.ts";
import { ObjectFileError } from "../objfile/elf.ts";
import { validateBpfObject } from "../objfile/validate.ts";
import {
  applySets,
  cell,
  decodeHistogram,
  formatHistogram,
  type Histogram,
  type HistogramSpec,
  histogramSpec,
  type RawRecord,
  RecordDecoder,
  recordType,
  SetError,
  toJson,
  type Value,
} from "./decode.ts";
import { AbiError } from "./errors.ts";
import { openAndLoad } from "./load.ts";
import {
  actingHelpers,
  type Policy,
  resolvePolicy,
  sectionHead,
} from "./policy.ts";
import { ExitCode } from "./status.ts";

export { formatHistogram, SetError };
export { isElf, isObjectFile, OBJECT_USAGE } from "./object_usage.ts";
export type { Histogram, HistogramSpec, RawRecord, Value };

/** Options of {@link runObject}. */
export interface ObjectRunOptions {
  /** The object's name in messages (default: the file's name). */
  name?: string;
  /** What the object may do; default: what wasm guests are allowed. */
  policy?: Policy;
  /**
   * Read-only globals (`const volatile`) to set before load, by name:
   * values as on the command line (`"0x10"`, `-1`, `true`, an enum's
   * name, a string for `char` arrays). Bad names or values throw
   * {@link SetError} listing the settable globals.
   */
  set?: Record<string, string | number | bigint | boolean> | string[];
  /** Where libbpf's lines go. */
  logger?: LibbpfLogger;
  /** One JSON object per load and attach, as for guests. */
  audit?: (event: Record<string, unknown>) => void;
  /**
   * Attach targets by program name, for programs whose section does not
   * say where ({@link attachTargetNeeded}): an interface for xdp, socket
   * and tc (`lo`, `eth0:egress`), a cgroup v2 directory for sockops and
   * cgroup programs, `BINARY:FUNCTION[:PID]` for a bare `uprobe`. Checked
   * by the policy as a guest's targets are (`--allow-interface`,
   * `--allow-cgroup`, `--allow-binary`).
   */
  attach?: Record<string, string>;
}

/**
 * What program section `section` needs as an attach target (a phrase for
 * messages), or undefined when libbpf attaches it by its section alone.
 */
export function attachTargetNeeded(section: string): string | undefined {
  const sec = section.replace(/^\?/, "");
  const kind = sectionHead(sec);
  if (kind === "sockops" || kind.startsWith("cgroup")) {
    return "a cgroup v2 directory";
  }
  if (kind === "xdp" || kind === "socket") return "a network interface";
  if (kind === "tc" || kind === "tcx" || kind === "classifier") {
    return "a network interface[:ingress|:egress]";
  }
  if ((kind === "uprobe" || kind === "uretprobe") && !sec.includes("/")) {
    return "BINARY:FUNCTION[:PID]";
  }
  return undefined;
}

/** `--attach` flag syntax for `target` (in messages). */
const attachHint = (prog: string, what: string) =>
  `give one with --attach ${prog}=${
    what.startsWith("a cgroup")
      ? "CGROUP_DIR"
      : what.startsWith("BINARY")
      ? "BINARY:FUNCTION"
      : "IFNAME"
  }`;

/** One decoded record ({@link ObjectRun.events}). */
export interface TypedEvent {
  /** The buffer map it came from. */
  map: string;
  /** Its C type (`struct event`), undefined when shown as hex. */
  type: string | undefined;
  /** The record as a plain object, or `{ size, hex }` without a type. */
  data: { [field: string]: Value } | RawRecord;
}

/** A buffer of the object and the type of its records. */
export interface TypedBuffer {
  /** The map's name. */
  map: string;
  /** Its reader. */
  reader: BufferReader;
  /** Its records' C type (`struct event`), undefined: shown as hex. */
  type: string | undefined;
  /** The records' top-level fields (table columns). */
  columns: string[];
  /** A table width per column. */
  widths: number[];
  /** Why a record type found is not used (records then print as hex). */
  problem: string | undefined;
}

/** A loaded, attached bare object; {@link close} detaches everything. */
export class ObjectRun implements Disposable {
  /** The loaded object. */
  readonly obj: BpfObject;
  /** Every ring buffer and perf event array, with decoders. */
  readonly buffers: TypedBuffer[];
  /** Every histogram map. */
  readonly histogramMaps: HistogramSpec[];
  #waiters: Waiter[];
  #btf: Btf;
  #decoders: RecordDecoder[];

  /** Wraps a loaded, attached object (see {@link runObject}). */
  constructor(obj: BpfObject, btf: Btf) {
    this.obj = obj;
    this.#btf = btf;
    const maps = obj.maps.filter((m) =>
      m.type === MapType.RINGBUF || m.type === MapType.PERF_EVENT_ARRAY
    );
    this.#decoders = maps.map((m) =>
      new RecordDecoder(btf, recordType(btf, m.name))
    );
    this.buffers = maps.map((m, i) => ({
      map: m.name,
      reader: openBufferReader(obj, m),
      type: this.#decoders[i].name,
      columns: this.#decoders[i].columns(),
      widths: this.#decoders[i].widths(),
      problem: this.#decoders[i].problem,
    }));
    this.#waiters = this.buffers.map((b) => new Waiter(b.reader.pollFd));
    for (const w of this.#waiters) obj.own(w);
    // per-CPU maps too: their values are summed over the CPUs
    this.histogramMaps = obj.maps
      .map((m) => histogramSpec(btf, m.name, m.perCpu ? m.valueSize : 0))
      .filter((h): h is HistogramSpec => h !== undefined);
  }

  /** Decodes the records ready now, in order per buffer. */
  ready(): TypedEvent[] {
    const out: TypedEvent[] = [];
    for (const [i, b] of this.buffers.entries()) {
      const decoder = this.#decoders[i];
      b.reader.consume((data) => {
        out.push({ map: b.map, type: b.type, data: decoder.decode(data) });
        return 0;
      });
    }
    return out;
  }

  /**
   * Waits up to `ms` for a record, then lets the event loop run (timers,
   * signal listeners). With buffers the wait blocks this thread in
   * epoll (keep `ms` short); without, it is a timer. True when a record
   * may be ready.
   */
  async idle(ms: number): Promise<boolean> {
    if (!this.#waiters.length) {
      await new Promise((r) => setTimeout(r, ms));
      return false;
    }
    let ready = false;
    const each = Math.max(1, Math.floor(ms / this.#waiters.length));
    for (const w of this.#waiters) {
      if (w.wait(this.#waiters.length === 1 ? ms : each) === "ready") {
        ready = true;
        break;
      }
    }
    await new Promise((r) => setTimeout(r, 0));
    return ready;
  }

  /**
   * Every record of every buffer, decoded, until `signal` aborts (then the
   * records already queued are still delivered). Polls every `pollMs`
   * (default 50) so the event loop keeps running.
   */
  async *events(
    opts: { signal?: AbortSignal; pollMs?: number } = {},
  ): AsyncGenerator<TypedEvent> {
    const pollMs = opts.pollMs ?? 50;
    for (;;) {
      const batch = this.ready();
      yield* batch;
      if (opts.signal?.aborted) {
        yield* this.ready();
        return;
      }
      if (!batch.length) {
        await this.idle(pollMs);
      }
    }
  }

  /**
   * Every histogram of every histogram map now (counts since load); a
   * per-CPU map's counts are the sums over all possible CPUs.
   */
  histograms(): Histogram[] {
    const out: Histogram[] = [];
    for (const spec of this.histogramMaps) {
      const m = this.obj.map(spec.map);
      for (const key of m.keys()) {
        const value = m.lookup(key);
        if (value) out.push(decodeHistogram(this.#btf, spec, key, value));
      }
    }
    return out;
  }

  /** Detaches and unloads everything (links, buffers, maps). */
  close(): void {
    this.obj.close();
  }

  /** Same as {@link close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}

function setList(set: ObjectRunOptions["set"]): string[] {
  if (!set) return [];
  if (Array.isArray(set)) return set;
  return Object.entries(set).map(([k, v]) => `${k}=${v}`);
}

/**
 * Loads a bare BPF object (a path or its bytes) through the guests' checks
 * and policy, sets its read-only globals, attaches every program by its
 * section and opens its buffers. Throws {@link SetError} for bad `set`
 * entries, AbiError for a malformed object, PolicyDenied or BpfError.
 */
export function runObject(
  file: string | Uint8Array,
  options: ObjectRunOptions = {},
): ObjectRun {
  const bytes = typeof file === "string" ? Deno.readFileSync(file) : file;
  const name = options.name ??
    (typeof file === "string" ? file.split("/").pop()! : "object");
  let patched: Uint8Array;
  let btf: Btf;
  try {
    const elf = validateBpfObject(name, bytes);
    btf = Btf.fromElf(elf);
    patched = applySets(elf, btf, setList(options.set));
  } catch (e) {
    if (e instanceof ObjectFileError || e instanceof RangeError) {
      throw new AbiError(
        `cannot open BPF object '${name}': ${
          e.message.replace(`${name}: `, "")
        }`,
        22,
      );
    }
    throw e;
  }
  const policy = resolvePolicy(options.policy ?? {});
  policy.checkObjectCount(0);
  const { obj, programs, heldBytes, pins } = openAndLoad(name, patched, {
    policy,
    heldBytes: 0,
    logger: options.logger,
  });
  // as for a guest, nothing pinned outlives the run (and the directory's fd
  // is closed): released after every other resource of the object
  if (pins) obj.own({ close: () => pins.release() });
  try {
    options.audit?.({
      event: "load",
      handle: 1,
      programs: programs.map((p) => ({
        name: p.name,
        section: p.section,
        helpers: actingHelpers(p),
      })),
      maps: obj.maps.map((m) => m.name),
      heldBytes,
    });
    const targets = options.attach ?? {};
    for (const want of Object.keys(targets)) {
      if (!obj.programs.some((p) => p.name === want)) {
        throw new AbiError(
          `--attach ${want}=...: object '${name}' has no program '${want}' (its programs: ${
            obj.programs.map((p) => p.name).join(", ") || "none"
          })`,
          22,
        );
      }
    }
    // every program that needs a target has one, before anything attaches
    for (const prog of obj.programs) {
      if (prog.fd < 0) continue;
      const need = attachTargetNeeded(prog.section);
      if (need && !targets[prog.name]) {
        throw new AbiError(
          `program '${prog.name}' (section '${prog.section}') of '${name}' needs an attach target, ${need}: ${
            attachHint(prog.name, need)
          }`,
          22,
        );
      }
    }
    for (const prog of obj.programs) {
      if (prog.fd < 0) continue; // autoload off
      const target = policy.checkAttach(
        prog.name,
        prog.section,
        targets[prog.name] ?? "",
      );
      prog.attach(target, options.logger);
      options.audit?.({
        event: "attach",
        handle: 1,
        program: prog.name,
        section: prog.section,
        target,
      });
    }
    return new ObjectRun(obj, btf);
  } catch (e) {
    obj.close();
    throw e;
  }
}

/** Command-line options after the object's path. */
export interface ObjectArgs {
  /** `--set NAME=VALUE`, in order. */
  sets: string[];
  /** `--json`. */
  json: boolean;
  /** `--table`: a table even when stdout is not a terminal. */
  table?: boolean;
  /** `--interval S` in ms (histograms), 0: only at exit. */
  intervalMs: number;
  /** `--attach PROG=TARGET`, by program name. */
  attach: Record<string, string>;
}

/** Parses the options after a `.bpf.o` path; throws Error on a mistake. */
export function parseObjectArgs(args: string[]): ObjectArgs {
  const out: ObjectArgs = {
    sets: [],
    json: false,
    intervalMs: 0,
    attach: {},
  };
  for (let i = 0; i < args.length; i++) {
    let a = args[i];
    let value: string | undefined;
    const eq = a.indexOf("=");
    if (
      a.startsWith("--") && eq > 0 && a.slice(0, eq) !== "--set" &&
      a.slice(0, eq) !== "--attach"
    ) {
      value = a.slice(eq + 1);
      a = a.slice(0, eq);
    } else if (a.startsWith("--set=")) {
      value = a.slice(6);
      a = "--set";
    } else if (a.startsWith("--attach=")) {
      value = a.slice(9);
      a = "--attach";
    }
    const need = () => {
      if (value !== undefined) return value;
      if (i + 1 >= args.length) throw new Error(`${a} needs a value`);
      return args[++i];
    };
    switch (a) {
      case "--set":
        out.sets.push(need());
        break;
      case "--attach": {
        const v = need();
        const at = v.indexOf("=");
        if (at <= 0 || at === v.length - 1) {
          throw new Error(
            `--attach needs PROGRAM=TARGET (an interface, a cgroup directory or BINARY:FUNCTION), got '${v}'`,
          );
        }
        const prog = v.slice(0, at);
        if (prog in out.attach) {
          throw new Error(`--attach: program '${prog}' given twice`);
        }
        out.attach[prog] = v.slice(at + 1);
        break;
      }
      case "--json":
      case "--table":
        if (value !== undefined) throw new Error(`${a} takes no value`);
        if (a === "--json") out.json = true;
        else out.table = true;
        break;
      case "--interval": {
        const v = need();
        const s = Number(v);
        if (!(s > 0)) {
          throw new Error(
            `--interval needs a positive number of seconds, got '${v}'`,
          );
        }
        out.intervalMs = Math.round(s * 1000);
        break;
      }
      default:
        throw new Error(
          `unknown option '${
            args[i]
          }' for a BPF object (--set NAME=VALUE, --attach PROG=TARGET, --json, --table, --interval S)`,
        );
    }
  }
  return out;
}

/** Options the CLI passes to {@link runObjectCommand}. */
export interface ObjectCommandOptions {
  /** The policy the flags built. */
  policy: Policy;
  /** `-v`. */
  verbose: boolean;
  /** The audit sink. */
  audit?: (e: Record<string, unknown>) => void;
  /** Where output goes: one or more lines, without the last newline (default: stdout). */
  write?: (line: string) => void;
  /** Whether to print a table (default: stdout is a terminal). */
  table?: boolean;
  /** `--metrics`: told of the loaded object and of each round of reading records. */
  metrics?: ObjectMetricsHook;
  /** The object's name in messages (default: the file's name). */
  name?: string;
}

/** What `--metrics` learns of a running bare object. */
export interface ObjectMetricsHook {
  /** The object loaded: its bytes (for BTF) and its maps. */
  loaded(elf: Uint8Array, maps: readonly { name: string; fd: number }[]): void;
  /** One round of reading: `events` records decoded; the buffers (lost counts). */
  polled(events: number, buffers: readonly TypedBuffer[]): void;
}

/**
 * `mod.ts prog.bpf.o [--set ...] [--json] [--interval S]`: runs the
 * object until SIGINT/SIGTERM/`--timeout`; resolves to the exit status.
 */
export async function runObjectCommand(
  file: string,
  args: string[],
  opts: ObjectCommandOptions,
): Promise<number> {
  const err = (line: string) => console.error(`wasm-bpf: ${line}`);
  let a: ObjectArgs;
  try {
    a = parseObjectArgs(args);
  } catch (e) {
    err(`${(e as Error).message}\nRun with --help for usage.`);
    return ExitCode.USAGE;
  }
  const enc = new TextEncoder();
  let stop: { code: number; why: string } | undefined;
  // lines are gathered per batch of records and written at once
  let pending: string[] = [];
  const flush = () => {
    if (!pending.length) return;
    const text = pending.join("\n") + "\n";
    pending = [];
    if (opts.write) opts.write(text.slice(0, -1));
    else if (!writeAll(enc.encode(text))) {
      stop ??= { code: 0, why: "" }; // the reader went away (| head): done
    }
  };
  const write = (line: string) => {
    pending.push(line);
    if (pending.length >= 4096) flush();
  };
  const table = !a.json &&
    (a.table || (opts.table ?? Deno.stdout.isTerminal()));
  let run: ObjectRun;
  try {
    run = runObject(file, {
      name: opts.name,
      set: a.sets,
      attach: a.attach,
      policy: opts.policy,
      audit: opts.audit,
      logger: opts.verbose
        ? (level, line) => console.error(`libbpf(${level}): ${line.trimEnd()}`)
        : undefined,
    });
  } catch (e) {
    if (e instanceof SetError) {
      err(e.message);
      return ExitCode.USAGE;
    }
    err((e as Error).message);
    return ExitCode.ERROR;
  }
  if (opts.metrics) {
    try {
      opts.metrics.loaded(Deno.readFileSync(file), run.obj.maps);
    } catch (e) {
      err(`metrics: ${(e as Error).message}`);
    }
  }
  const onInt = () => stop ??= { code: ExitCode.SIGINT, why: "SIGINT" };
  const onTerm = () => stop ??= { code: ExitCode.SIGTERM, why: "SIGTERM" };
  Deno.addSignalListener("SIGINT", onInt);
  Deno.addSignalListener("SIGTERM", onTerm);
  const started = Date.now();
  const timeoutMs = opts.policy.timeoutMs;
  const several = run.buffers.length > 1;
  const printer = new EventPrinter(table, several, write);
  if (opts.verbose) {
    err(
      `${file}: attached ${
        run.obj.programs.filter((p) => p.fd >= 0).length
      } programs; ${run.buffers.length} buffers, ${run.histogramMaps.length} histogram maps`,
    );
    for (const b of run.buffers) {
      err(
        `buffer '${b.map}': records ${
          b.type ?? `as hex (${b.problem ?? "no record type in BTF"})`
        }`,
      );
    }
  }
  let nextHist = a.intervalMs ? started + a.intervalMs : Infinity;
  try {
    for (;;) {
      const batch = run.ready();
      opts.metrics?.polled(batch.length, run.buffers);
      for (const ev of batch) printer.print(ev, run);
      const now = Date.now();
      if (now >= nextHist) {
        printHistograms(run, table, write);
        nextHist = now + a.intervalMs;
      }
      flush();
      if (!stop && timeoutMs !== undefined && now - started >= timeoutMs) {
        stop = { code: ExitCode.TIMEOUT, why: "its time limit" };
      }
      if (stop) break;
      if (!batch.length) {
        await run.idle(Math.min(50, Math.max(1, nextHist - now)));
      }
    }
    for (const ev of run.ready()) printer.print(ev, run);
    if (run.histogramMaps.length) printHistograms(run, table, write);
    flush();
    for (const b of run.buffers) {
      if (b.reader.lost) {
        err(
          `${file}: ${b.reader.lost} records of '${b.map}' were lost (the perf buffer was full)`,
        );
      }
    }
  } catch (e) {
    err(`${opts.name ?? file}: ${(e as Error).message}`);
    return ExitCode.ERROR;
  } finally {
    Deno.removeSignalListener("SIGINT", onInt);
    Deno.removeSignalListener("SIGTERM", onTerm);
    run.close();
  }
  if (stop.why) {
    err(`${opts.name ?? file} stopped by ${stop.why} (exit ${stop.code})`);
  }
  return stop.code;
}

/** Writes `bytes` to stdout; false when the reader went away. */
function writeAll(bytes: Uint8Array): boolean {
  let off = 0;
  while (off < bytes.length) {
    try {
      off += Deno.stdout.writeSync(bytes.subarray(off));
    } catch (e) {
      if (e instanceof Deno.errors.BrokenPipe) return false;
      throw e;
    }
  }
  return true;
}

/** Prints events as table rows (header per buffer) or JSON lines. */
class EventPrinter {
  #headers = new Map<string, number[]>();
  constructor(
    readonly table: boolean,
    readonly several: boolean,
    readonly write: (line: string) => void,
  ) {}

  print(ev: TypedEvent, run: ObjectRun) {
    if (!this.table) {
      this.write(toJson(this.several ? { _map: ev.map, ...ev.data } : ev.data));
      return;
    }
    const b = run.buffers.find((b) => b.map === ev.map)!;
    const raw = "hex" in ev.data && "size" in ev.data &&
      Object.keys(ev.data).length === 2 && b.type !== undefined;
    const cols = raw ? ["size", "hex"] : b.columns;
    const key = raw ? `${ev.map}#raw` : ev.map;
    let widths = this.#headers.get(key);
    if (!widths) {
      widths = raw ? [4, 0] : [...b.widths];
      this.#headers.set(key, widths);
      const head = ["TIME", ...cols.map((c) => c.toUpperCase())];
      this.write(
        (this.several ? `${ev.map}: ` : "") +
          head.map((h, i) => i ? h.padEnd(widths![i - 1]) : h.padEnd(8))
            .join(" ").trimEnd(),
      );
    }
    const t = new Date().toTimeString().slice(0, 8);
    const data = ev.data as Record<string, unknown>;
    const cells = cols.map((c, i) => {
      const s = cell(data[c]);
      return s.padEnd(widths![i]);
    });
    this.write(
      ((this.several ? `${ev.map}: ` : "") + [t, ...cells].join(" "))
        .trimEnd(),
    );
  }
}

function printHistograms(
  run: ObjectRun,
  table: boolean,
  write: (line: string) => void,
) {
  for (const h of run.histograms()) {
    if (!table) {
      write(
        toJson({ histogram: h.map, key: h.key, ...h.fields, slots: h.slots }),
      );
      continue;
    }
    const label = [
      h.key === null ? "" : `key = ${cell(h.key)}`,
      ...Object.entries(h.fields).filter(([, v]) => v !== "").map((
        [k, v],
      ) => `${k} = ${cell(v)}`),
    ].filter(Boolean).join(" ");
    write(`\n${h.map}${label ? ` (${label})` : ""}`);
    write(formatHistogram(h.slots));
  }
}
