/**
 * The benchmark runner (bench/run.sh calls it): builds every case from
 * source into build/bench/, runs each case REPS rounds (native, Wasm and
 * TypeScript once per round, in an order rotated each round so machine
 * noise and warm caches fall on all of them alike), prints a table and the
 * text that reads it (both from the same run), the guests' sizes, and
 * writes bench/results/latest.json.
 *
 *   deno run -A bench/bench.ts [--reps N] [--quick]
 *
 * Ratios are costs relative to native libbpf: time / native time, or
 * native rate / rate, so 1.00 is native speed and higher is slower. They
 * are paired: each round's value divided by the same round's native value;
 * the table prints the median of those per-round ratios and their spread
 * (min–max). Values are medians of the rounds.
 *
 * @module
 */
import { parseArgs } from "node:util";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const OUT = `${ROOT}/build/bench`;
const NATIVE = `${OUT}/native`;
const DENO = Deno.execPath();
// the host keeps each object's minimal kernel BTF (host/core_btf.ts) in
// $XDG_CACHE_HOME/wasm-bpf: a cache of the bench's own, empty at the start,
// that the Deno programs may write (as the README's run commands allow)
const BTF_CACHE = Deno.makeTempDirSync({ prefix: "wasm-bpf-bench-cache-" });
Deno.env.set("XDG_CACHE_HOME", BTF_CACHE);
// Deno's own caches (transpiled modules, V8 code cache: SQLite files that
// grow with everything a machine ever ran, and with them Deno's RSS, by
// ~1.5 MiB on a development machine) in a directory of the bench's own, as
// the container image has one of its own; the warm-up runs fill it
Deno.env.set("DENO_DIR", `${OUT}/deno-dir`);
// map operations through the wasm gate, as the README's run commands have it
const GATE_FLAG = "--v8-flags=--wasm-fast-api";
const HOST_FLAGS = [
  "run",
  GATE_FLAG,
  "--allow-ffi",
  "--allow-read",
  "--allow-env",
  `--allow-write=${BTF_CACHE}`,
];

const { values: opts } = parseArgs({
  args: Deno.args,
  options: {
    reps: { type: "string", default: "5" },
    quick: { type: "boolean", default: false },
    help: { type: "boolean", short: "h" },
  },
});
if (opts.help) {
  console.log("usage: deno run -A bench/bench.ts [--reps N] [--quick]");
  Deno.exit(0);
}
const REPS = opts.quick ? 1 : Number(opts.reps);
const MAP_OPS = opts.quick ? 100_000 : 1_000_000;
const LIVE_CALLS = opts.quick ? 200_000 : 1_000_000;
const DRAIN_CALLS = 225_000; // × 4 records of 16 bytes: 14 MB of the 16 MB ring
const PER_CALL = 4;
const BOOT_SECONDS = opts.quick ? 1 : 3;

const enc = new TextEncoder();
const dec = new TextDecoder();

function log(line: string) {
  Deno.stderr.writeSync(enc.encode(`bench: ${line}\n`));
}

async function exec(cmd: string[], what = cmd.join(" ")): Promise<string> {
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdout: "piped",
    stderr: "piped",
    cwd: ROOT,
  }).output();
  if (!out.success) {
    throw new Error(`${what} failed:\n${dec.decode(out.stderr)}`);
  }
  return dec.decode(out.stdout);
}

// ---- build ----

async function build() {
  log("building guests (scripts/build.ts) and native programs (gcc -O2)");
  await exec([
    DENO,
    "run",
    "-A",
    "scripts/build.ts",
    "bench/guests/maps",
    "bench/guests/ringbuf",
    "examples/bootstrap",
  ]);
  Deno.mkdirSync(NATIVE, { recursive: true });
  const skels: [string, string][] = [
    [`${OUT}/guests/maps/maps.bpf.o`, "maps"],
    [`${OUT}/guests/ringbuf/ringbuf.bpf.o`, "ringbuf"],
    [`${ROOT}/build/examples/bootstrap/bootstrap.bpf.o`, "bootstrap"],
  ];
  for (const [obj, name] of skels) {
    const text = await exec([
      "bpftool",
      "gen",
      "skeleton",
      obj,
      "name",
      `${name}_bpf`,
    ]);
    Deno.writeTextFileSync(`${NATIVE}/${name}.skel.h`, text);
  }
  const cc = (src: string, out: string, extra: string[], libs: string[]) =>
    exec([
      "gcc",
      "-O2",
      "-Wall",
      `-I${NATIVE}`,
      ...extra,
      src,
      "-o",
      `${NATIVE}/${out}`,
      ...libs,
    ]);
  // the maps guest's own source is also the native baseline
  await cc("bench/guests/maps/maps.c", "maps", [], ["-lbpf"]);
  await cc("bench/native/ringbuf.c", "ringbuf", ["-Ibench/guests/ringbuf"], [
    "-lbpf",
  ]);
  await cc("bench/native/bootstrap.c", "bootstrap", ["-Iexamples/bootstrap"], [
    "-lbpf",
  ]);
  await cc("bench/native/gen.c", "gen", [], []);
  await cc("bench/native/launch.c", "launch", [], []);
  await cc("bench/native/rusage.c", "rusage", [], []);
  // the start-up trigger: an exec with a path no other program uses
  Deno.copyFileSync("/bin/true", `${NATIVE}/bench-trigger`);
  Deno.chmodSync(`${NATIVE}/bench-trigger`, 0o755);
}

// ---- running programs ----

type Values = Record<string, number>;

/** key=value pairs of a line (numbers only). */
function parseKv(text: string): Values {
  const out: Values = {};
  for (const m of text.matchAll(/([a-z_]+)=(-?[\d.]+)/g)) out[m[1]] = +m[2];
  return out;
}

/** Lines of a child's stdout, one at a time. */
class Lines {
  #reader: ReadableStreamDefaultReader<string>;
  #buf = "";
  readonly all: string[] = [];
  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  }
  async next(): Promise<string | undefined> {
    for (;;) {
      const nl = this.#buf.indexOf("\n");
      if (nl >= 0) {
        const line = this.#buf.slice(0, nl);
        this.#buf = this.#buf.slice(nl + 1);
        this.all.push(line);
        return line;
      }
      const { value, done } = await this.#reader.read();
      if (done) return undefined;
      this.#buf += value;
    }
  }
  async until(test: (l: string) => boolean, what: string): Promise<string> {
    for (;;) {
      const l = await this.next();
      if (l === undefined) {
        throw new Error(
          `output ended before ${what}:\n${this.all.join("\n")}`,
        );
      }
      if (test(l)) return l;
    }
  }
}

/** CPU seconds (user + system, all threads) of a live process. */
function cpuSeconds(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime: 100 Hz ticks
}

async function runOnce(cmd: string[]): Promise<Values> {
  const out = await exec(cmd);
  return parseKv(out);
}

interface Variant {
  name: string;
  label: string;
}
const VARIANTS = {
  native: { name: "native", label: "native C (libbpf)" },
  wasm: { name: "wasm", label: "C wasm guest, Deno host" },
  wasmBatch: {
    name: "wasm_batch",
    label: "the same C guest built with -DLIBBPF_WASM_BATCH",
  },
  ts: { name: "ts", label: "TypeScript API (ffi/), no Wasm" },
} satisfies Record<string, Variant>;

const wasmCmd = (wasm: string, args: string[]) => [
  DENO,
  ...HOST_FLAGS,
  `${ROOT}/mod.ts`,
  wasm,
  ...args,
];
const tsCmd = (script: string, args: string[]) => [
  DENO,
  ...HOST_FLAGS,
  `${ROOT}/bench/${script}`,
  ...args,
];

/** The list rotated left by `k` (round k starts with a different variant). */
function rotate<T>(xs: T[], k: number): T[] {
  const n = k % xs.length;
  return [...xs.slice(n), ...xs.slice(0, n)];
}

// ---- case 1: map operations ----

function mapCommands(n = MAP_OPS): [Variant, string[]][] {
  const c = String(n);
  return [
    [VARIANTS.native, [`${NATIVE}/maps`, c]],
    [VARIANTS.wasm, wasmCmd(`${OUT}/guests/maps/maps.wasm`, [c])],
    [VARIANTS.ts, tsCmd("ts_maps.ts", [`${OUT}/guests/maps/maps.bpf.o`, c])],
  ];
}

/** A command under bench/native/rusage.c (user/system CPU, peak RSS). */
const underRusage = (cmd: string[]) => [`${NATIVE}/rusage`, ...cmd];

// ---- case 2: ring-buffer delivery ----

function ringCommands(
  calls: number,
  mode: string,
): [Variant, (pid: number) => string[]][] {
  const args = (pid: number) => [
    String(pid),
    String(PER_CALL),
    String(calls),
    ...(mode === "drain" ? ["drain"] : []),
  ];
  const rb = `${OUT}/guests/ringbuf`;
  return [
    [VARIANTS.native, (pid) => [`${NATIVE}/ringbuf`, ...args(pid)]],
    [VARIANTS.wasm, (pid) => wasmCmd(`${rb}/ringbuf.wasm`, args(pid))],
    [
      VARIANTS.wasmBatch,
      (pid) => wasmCmd(`${rb}/ringbuf_sdk_batch.wasm`, args(pid)),
    ],
    [
      VARIANTS.ts,
      (pid) => tsCmd("ts_ringbuf.ts", [`${rb}/ringbuf.bpf.o`, ...args(pid)]),
    ],
  ];
}

/**
 * One ring-buffer run: the generator waits on its stdin; the consumer is
 * told its pid, and once it prints "ready" the generator is let go.
 */
async function ringOnce(
  calls: number,
  consumer: (pid: number) => string[],
): Promise<Values> {
  const gen = new Deno.Command(`${NATIVE}/gen`, {
    args: [String(calls)],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const cmd = consumer(gen.pid);
  const cons = new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdout: "piped",
    stderr: "inherit",
    cwd: ROOT,
  }).spawn();
  const lines = new Lines(cons.stdout);
  try {
    await lines.until((l) => l === "ready", "'ready'");
    const cpu0 = cpuSeconds(cons.pid);
    const w = gen.stdin.getWriter();
    await w.write(enc.encode("x"));
    await w.close();
    const genOut = parseKv(dec.decode((await gen.output()).stdout));
    const result = parseKv(
      await lines.until((l) => l.includes("delivered="), "the result line"),
    );
    const cpu = cpuSeconds(cons.pid) - cpu0;
    const status = await cons.status;
    if (!status.success) throw new Error(`${cmd.join(" ")}: ${status.code}`);
    return {
      ...result,
      gen_calls_per_s: genOut.calls / (genOut.gen_ns / 1e9),
      consumer_cpu_s: cpu,
      cpu_ns_per_event: result.delivered ? cpu * 1e9 / result.delivered : 0,
      lost_by_host: result.produced - result.delivered,
    };
  } catch (e) {
    try {
      gen.kill("SIGKILL");
    } catch { /* gone */ }
    try {
      cons.kill("SIGKILL");
    } catch { /* gone */ }
    throw e;
  }
}

// ---- cases 3 and 4: bootstrap start-up and memory ----

function bootCommands(): [Variant, string[]][] {
  const obj = `${ROOT}/build/examples/bootstrap/bootstrap.bpf.o`;
  return [
    [VARIANTS.native, [`${NATIVE}/bootstrap`]],
    [
      VARIANTS.wasm,
      wasmCmd(`${ROOT}/build/examples/bootstrap/bootstrap.wasm`, []),
    ],
    [VARIANTS.ts, tsCmd("ts_bootstrap.ts", [obj])],
  ];
}

/**
 * One bootstrap run under bench/native/launch.c. With `loadMs`, a process
 * is started every `loadMs` ms during the run, and each must be printed.
 */
const bootOnce = (cmd: string[], loadMs?: number) =>
  runOnce([
    `${NATIVE}/launch`,
    `${NATIVE}/bench-trigger`,
    String(BOOT_SECONDS),
    ...(loadMs ? [String(loadMs)] : []),
    "--",
    ...cmd,
  ]);

/** The interval of the busy bootstrap runs: 100 processes a second. */
const LOAD_MS = 10;
const BUSY_RSS = `peak RSS, busy (a process every ${LOAD_MS} ms)`;
const BUSY_MISSED = "busy: processes not printed";
const LIFTOFF = ", --liftoff-only";

/** `cmd` with V8's optimizing tier for wasm off (wasm code stays Liftoff). */
const liftoffOnly = (cmd: string[]) =>
  cmd.map((a) => a === GATE_FLAG ? `${GATE_FLAG},--liftoff-only` : a);

// ---- statistics ----

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

interface Metric {
  case: string;
  metric: string;
  unit: string;
  /**
   * "time": lower is better (ratio = x / native); "rate": higher is better
   * (ratio = native / x); "count": no ratio (also every "live" ring row:
   * there a slower consumer lets the generator run faster).
   */
  kind: "time" | "rate" | "count";
  /** runs[variant][round], undefined where a round has no value. */
  runs: Record<string, (number | undefined)[]>;
}

const metrics: Metric[] = [];
function record(
  round: number,
  caseName: string,
  metric: string,
  unit: string,
  kind: Metric["kind"],
  variant: string,
  value: number,
) {
  let m = metrics.find((x) => x.case === caseName && x.metric === metric);
  if (!m) {
    m = { case: caseName, metric, unit, kind, runs: {} };
    metrics.push(m);
  }
  (m.runs[variant] ??= [])[round] = value;
}

const valuesOf = (xs: (number | undefined)[] | undefined): number[] =>
  (xs ?? []).filter((x): x is number => x !== undefined && Number.isFinite(x));

/** The median of a variant's values over the rounds. */
function med(m: Metric, v: string): number | undefined {
  const xs = valuesOf(m.runs[v]);
  return xs.length ? median(xs) : undefined;
}

interface Ratio {
  median: number;
  min: number;
  max: number;
  rounds: number;
}

/** Paired ratios: round r's value against round r's native value. */
function ratioOf(m: Metric, v: string): Ratio | undefined {
  if (m.kind === "count") return undefined;
  const xs = m.runs[v] ?? [], ns = m.runs.native ?? [];
  const rs: number[] = [];
  for (let r = 0; r < xs.length; r++) {
    const x = xs[r], n = ns[r];
    if (x === undefined || n === undefined || !n || !x) continue;
    rs.push(m.kind === "time" ? x / n : n / x);
  }
  if (!rs.length) return undefined;
  return {
    median: median(rs),
    min: Math.min(...rs),
    max: Math.max(...rs),
    rounds: rs.length,
  };
}

function fmtRatio(r: Ratio | undefined): string {
  if (!r) return "";
  const x = (n: number) => n.toFixed(2);
  return r.rounds > 1
    ? `${x(r.median)}× (${x(r.min)}–${x(r.max)})`
    : `${x(r.median)}×`;
}

function fmt(x: number | undefined): string {
  if (x === undefined || Number.isNaN(x)) return "-";
  const a = Math.abs(x);
  if (a >= 1e6) return `${(x / 1e6).toFixed(2)}M`;
  if (a >= 1000) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

function existsFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

async function machine(): Promise<Record<string, string | number>> {
  const cpuinfo = Deno.readTextFileSync("/proc/cpuinfo");
  const model = /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? "unknown";
  let libbpf = "unknown";
  try {
    libbpf = (await exec(["dpkg-query", "-W", "-f=${Version}", "libbpf1"]))
      .trim();
  } catch { /* not Debian */ }
  let commit = "unknown";
  try {
    commit = (await exec(["git", "rev-parse", "--short", "HEAD"])).trim();
    const dirty = (await exec(["git", "status", "--porcelain", "--", "."]))
      .trim();
    if (dirty) commit += " (with uncommitted changes in the tree)";
  } catch { /* no git */ }
  return {
    cpu: model,
    cores: navigator.hardwareConcurrency,
    kernel: Deno.osRelease(),
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    libbpf,
    gcc: (await exec(["gcc", "-dumpfullversion"])).trim(),
    clang: /version ([\d.]+)/.exec(await exec(["clang", "--version"]))?.[1] ??
      "?",
    commit,
    host_map_fast_path: existsFile(`${ROOT}/build/native/libwasm_bpf_fast.so`)
      ? "build/native/libwasm_bpf_fast.so present"
      : "absent (libbpf path)",
    loadavg_before: Deno.readTextFileSync("/proc/loadavg").trim(),
  };
}

async function progNames(): Promise<Map<number, string>> {
  const out = JSON.parse(await exec(["bpftool", "-j", "prog", "list"])) as {
    id: number;
    name?: string;
  }[];
  return new Map(out.map((p) => [p.id, p.name ?? "?"]));
}

// ---- main ----

const info = await machine();
await build();
const progsBefore = await progNames();
log(
  `machine: ${info.cpu}, ${info.cores} cores, kernel ${info.kernel}, deno ${info.deno}, libbpf ${info.libbpf}`,
);
log(`load average before: ${info.loadavg_before}`);

// warm Deno's module cache so no run pays for the first transpile
log("warm-up run of each Deno program (not counted)");
for (const [, cmd] of mapCommands(1000).slice(1)) await runOnce(cmd);
const EMPTY = `${OUT}/empty.ts`;
Deno.writeTextFileSync(EMPTY, "");
await runOnce([DENO, "run", EMPTY]);

const FAST_SO = existsFile(`${ROOT}/build/native/libwasm_bpf_fast.so`);
let ringRuns = 0;
for (let rep = 1; rep <= REPS; rep++) {
  const round = rep - 1;
  const rec = (
    c: string,
    metric: string,
    unit: string,
    kind: Metric["kind"],
    v: string,
    x: number,
  ) => record(round, c, metric, unit, kind, v, x);
  log(`round ${rep}/${REPS}: map operations (${MAP_OPS} of each)`);
  const zero = new Map(mapCommands(0).map(([v, cmd]) => [v.name, cmd]));
  for (const [v, cmd] of rotate(mapCommands(), round)) {
    const r = await runOnce(underRusage(cmd));
    if (r.errors) throw new Error(`${v.name}: ${r.errors} map errors`);
    // the same program doing no operation: its start-up and exit
    const z = await runOnce(underRusage(zero.get(v.name)!));
    rec("map", "lookup", "ns/op", "time", v.name, r.lookup_ns_per_op);
    rec("map", "update", "ns/op", "time", v.name, r.update_ns_per_op);
    const per = (us: number, us0: number) => (us - us0) * 1000 / (2 * MAP_OPS);
    rec(
      "map",
      "user CPU (update+lookup)",
      "ns/op",
      "time",
      v.name,
      per(r.user_us, z.user_us),
    );
    rec(
      "map",
      "system CPU (update+lookup)",
      "ns/op",
      "time",
      v.name,
      per(r.sys_us, z.sys_us),
    );
    if (v === VARIANTS.wasm) {
      // the same guest without the map gate (host/gate.ts): the JavaScript
      // path between the guest and the fast path
      const noGate = (c: string[]) => c.filter((a) => a !== GATE_FLAG);
      const g = await runOnce(underRusage(noGate(cmd)));
      const g0 = await runOnce(underRusage(noGate(zero.get(v.name)!)));
      rec(
        "map",
        "lookup, no gate",
        "ns/op",
        "time",
        v.name,
        g.lookup_ns_per_op,
      );
      rec(
        "map",
        "update, no gate",
        "ns/op",
        "time",
        v.name,
        g.update_ns_per_op,
      );
      rec(
        "map",
        "user CPU (update+lookup), no gate",
        "ns/op",
        "time",
        v.name,
        per(g.user_us, g0.user_us),
      );
    }
    if (v === VARIANTS.wasm && FAST_SO) {
      // the same guest with the host's map fast path disabled (libbpf calls)
      const off = parseKv(await exec(["env", "WASM_BPF_FAST=off", ...cmd]));
      rec(
        "map",
        "lookup, host fast path off",
        "ns/op",
        "time",
        v.name,
        off.lookup_ns_per_op,
      );
      rec(
        "map",
        "update, host fast path off",
        "ns/op",
        "time",
        v.name,
        off.update_ns_per_op,
      );
    }
  }
  for (
    const [mode, calls] of [["live", LIVE_CALLS], ["drain", DRAIN_CALLS]] as [
      string,
      number,
    ][]
  ) {
    log(
      `round ${rep}/${REPS}: ring buffer, ${mode} (${calls} getppid × ${PER_CALL} records)`,
    );
    for (const [v, cmd] of rotate(ringCommands(calls, mode), round)) {
      const r = await ringOnce(calls, cmd);
      ringRuns++;
      const c = `ringbuf ${mode}`;
      // live rows: no ratio (a slower consumer raises the generator's rate)
      const kind = mode === "live" ? "count" : "rate";
      rec(c, "delivered", "records/s", kind, v.name, r.events_per_s);
      if (mode === "live") {
        rec(
          c,
          "dropped by kernel (ring full)",
          "%",
          "count",
          v.name,
          100 * r.dropped / (r.produced + r.dropped),
        );
        rec(
          c,
          "generator speed",
          "calls/s",
          "count",
          v.name,
          r.gen_calls_per_s,
        );
        rec(
          c,
          "consumer CPU",
          "ns/record",
          "count",
          v.name,
          r.cpu_ns_per_event,
        );
      }
      rec(
        c,
        "produced − delivered (host losses)",
        "records",
        "count",
        v.name,
        r.lost_by_host,
      );
      rec(
        c,
        "out-of-order/duplicate records",
        "records",
        "count",
        v.name,
        r.seq_errors,
      );
    }
  }
  log(
    `round ${rep}/${REPS}: bootstrap start-up and memory (${BOOT_SECONDS} s each)`,
  );
  if (rep === 1) {
    // the first start on this kernel: no minimal kernel BTF for bootstrap yet
    const [, wasmBoot] = bootCommands()[1];
    const first = await bootOnce(wasmBoot);
    rec(
      "bootstrap",
      "first start (kernel BTF cache empty)",
      "ms",
      "count",
      VARIANTS.wasm.name,
      first.startup_ms,
    );
    rec(
      "bootstrap",
      "first start: peak RSS",
      "MiB",
      "count",
      VARIANTS.wasm.name,
      first.vmhwm_kb / 1024,
    );
    for (const [, cmd] of bootCommands()) await bootOnce(cmd); // warm-up
  }
  for (const [v, cmd] of rotate(bootCommands(), round)) {
    const r = await bootOnce(cmd);
    rec(
      "bootstrap",
      "start to first event",
      "ms",
      "time",
      v.name,
      r.startup_ms,
    );
    rec(
      "bootstrap",
      `peak RSS (VmHWM, ${BOOT_SECONDS} s run)`,
      "MiB",
      "time",
      v.name,
      r.vmhwm_kb / 1024,
    );
  }
  // the same, busy: a machine where processes start (here 100 a second)
  // makes the guest's hot functions (printf's) reach V8's optimizing tier
  const busy = bootCommands().map(([v, cmd]): [Variant, string[], string] => [
    v,
    cmd,
    "",
  ]);
  const [, wasmBusy] = busy.find(([v]) => v === VARIANTS.wasm)!;
  busy.push([VARIANTS.wasm, liftoffOnly(wasmBusy), LIFTOFF]);
  for (const [v, cmd, tag] of rotate(busy, round)) {
    const r = await bootOnce(cmd, LOAD_MS);
    rec(
      "bootstrap",
      `${BUSY_RSS}${tag}`,
      "MiB",
      tag ? "count" : "time",
      v.name,
      r.vmhwm_kb / 1024,
    );
    rec(
      "bootstrap",
      `${BUSY_MISSED}${tag}`,
      "count",
      "count",
      v.name,
      r.missed,
    );
  }
  // Deno's floor: `deno run` of an empty file (wall time and peak RSS)
  const e = await runOnce(underRusage([DENO, "run", EMPTY]));
  rec(
    "deno floor",
    "deno run (empty file): wall",
    "ms",
    "count",
    "ts",
    e.wall_ms,
  );
  rec(
    "deno floor",
    "deno run (empty file): peak RSS",
    "MiB",
    "count",
    "ts",
    e.maxrss_kb / 1024,
  );
}

const progsAfter = await progNames();
const ours = new Set([
  "on_getppid",
  "unused_prog",
  "handle_exec",
  "handle_exit",
]);
const leftover = [...progsAfter].filter(([id, name]) =>
  !progsBefore.has(id) && ours.has(name)
);
info.loadavg_after = Deno.readTextFileSync("/proc/loadavg").trim();

// ---- tables ----

/** A Markdown table with padded columns. */
function markdown(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) =>
    Math.max(h.length, ...rows.map((r) => r[i].length))
  );
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  return [
    line(header),
    `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`,
    ...rows.map(line),
  ].join("\n");
}

const rows: string[][] = [];
const summary: Record<string, unknown>[] = [];
for (const m of metrics) {
  const cells = [m.case, m.metric, m.unit];
  const medians: Record<string, number | undefined> = {};
  const ratios: Record<string, Ratio | undefined> = {};
  for (const v of ["native", "wasm", "wasm_batch", "ts"]) {
    medians[v] = med(m, v);
    if (v !== "native") ratios[v] = ratioOf(m, v);
  }
  // the Deno floor is one process, not a variant: print it in the TS column
  cells.push(fmt(medians.native));
  for (const v of ["wasm", "wasm_batch", "ts"]) {
    cells.push(fmt(medians[v]), fmtRatio(ratios[v]));
  }
  rows.push(cells);
  summary.push({ ...m, median: medians, ratio: ratios });
}
const table = markdown([
  "case",
  "metric",
  "unit",
  "native",
  "wasm (CLI)",
  "ratio",
  "wasm batch",
  "ratio",
  "TS API",
  "ratio",
], rows);

// every example guest's size, as built in build/examples/
const sizes: [string, number][] = [];
try {
  for (const d of Deno.readDirSync(`${ROOT}/build/examples`)) {
    if (!d.isDirectory) continue;
    for (const f of Deno.readDirSync(`${ROOT}/build/examples/${d.name}`)) {
      if (f.name.endsWith(".wasm")) {
        const p = `build/examples/${d.name}/${f.name}`;
        sizes.push([p, Deno.statSync(`${ROOT}/${p}`).size]);
      }
    }
  }
} catch { /* no build/examples */ }
sizes.sort((a, b) => a[0].localeCompare(b[0]));
const sizeTable = markdown(
  ["guest", "bytes", "KiB"],
  sizes.map(([p, n]) => [p, String(n), (n / 1024).toFixed(1)]),
);

// ---- the text under the table, from this run ----

const metric = (c: string, name: string) =>
  metrics.find((m) => m.case === c && m.metric.startsWith(name))!;
const r2 = (x: number | undefined) => x === undefined ? "-" : x.toFixed(2);
const rs = (m: Metric, v: string) => fmtRatio(ratioOf(m, v)) || "-";
const goal = (ok: boolean) => ok ? "met" : "NOT met";
const notes: string[] = [];
{
  const lk = metric("map", "lookup"), up = metric("map", "update");
  const uc = metric("map", "user CPU"), sc = metric("map", "system CPU");
  const lr = ratioOf(lk, "wasm"), ur = ratioOf(up, "wasm");
  const nl = metric("map", "lookup, no gate");
  const nu = metric("map", "update, no gate");
  const nc = metric("map", "user CPU (update+lookup), no gate");
  notes.push(
    `Map operations (goal ≤ 1.15× native, ${
      goal((lr?.median ?? 9) <= 1.15 && (ur?.median ?? 9) <= 1.15)
    }): wasm lookup ${rs(lk, "wasm")}, update ${
      rs(up, "wasm")
    } (median of the per-round ratios, min–max); TS API ${rs(lk, "ts")} / ${
      rs(up, "ts")
    }. User CPU per operation (process user time of the run minus a 0-operation run of the same program, ÷ 2N): native ${
      fmt(med(uc, "native"))
    } ns, wasm ${fmt(med(uc, "wasm"))} ns, TS ${
      fmt(med(uc, "ts"))
    } ns; system CPU native ${fmt(med(sc, "native"))} ns, wasm ${
      fmt(med(sc, "wasm"))
    } ns. The host's cost shows in user time; the system call hides most of it in the elapsed-time ratio. The wasm guest without the map gate (no --wasm-fast-api: the JavaScript path): lookup ${
      fmt(med(nl, "wasm"))
    } ns, update ${fmt(med(nu, "wasm"))} ns, user CPU ${
      fmt(med(nc, "wasm"))
    } ns per operation.`,
  );
  const lost = metrics.filter((m) => m.metric.startsWith("produced"))
    .flatMap((m) => Object.values(m.runs).flatMap(valuesOf));
  const seq = metrics.filter((m) => m.metric.startsWith("out-of-order"))
    .flatMap((m) => Object.values(m.runs).flatMap(valuesOf));
  const dr = metric("ringbuf drain", "delivered");
  const cb = med(dr, "wasm") ?? 0, bt = med(dr, "wasm_batch") ?? 0;
  notes.push(
    `Ring buffer, drain (the consumer's throughput): native ${
      fmt(med(dr, "native"))
    }/s; standard C SDK API through the callback import ${
      fmt(cb)
    }/s (goal ≥ 15M, ${
      goal(cb >= 15e6)
    }); the same source built with -DLIBBPF_WASM_BATCH (batch import) ${
      fmt(bt)
    }/s (goal ≥ 30M, ${goal(bt >= 30e6)}); TS reader ${
      fmt(med(dr, "ts"))
    }/s. Host losses (produced − delivered) ${
      lost.every((x) => x === 0) ? "0" : `NOT 0 (max ${Math.max(...lost)})`
    } and out-of-order/duplicate records ${
      seq.every((x) => x === 0) ? "0" : `NOT 0 (max ${Math.max(...seq)})`
    } over all ${ringRuns} ring-buffer runs.`,
  );
  const lv = metric("ringbuf live", "delivered");
  const gs = metric("ringbuf live", "generator speed");
  notes.push(
    `Ring buffer, live: rates only, no ratio: a consumer that keeps up empties the ring and the kernel wakes it for nearly every record, which slows the generator (native ${
      fmt(med(gs, "native"))
    } calls/s, callback guest ${fmt(med(gs, "wasm"))}, batch ${
      fmt(med(gs, "wasm_batch"))
    }, TS ${fmt(med(gs, "ts"))}); delivered native ${
      fmt(med(lv, "native"))
    }/s, callback ${fmt(med(lv, "wasm"))}/s, batch ${
      fmt(med(lv, "wasm_batch"))
    }/s, TS ${fmt(med(lv, "ts"))}/s.`,
  );
  const st = metric("bootstrap", "start");
  const rss = metric("bootstrap", "peak RSS (VmHWM");
  const fw = metric("deno floor", "deno run (empty file): wall");
  const fr = metric("deno floor", "deno run (empty file): peak");
  const s = med(st, "wasm") ?? 0, m = med(rss, "wasm") ?? 0;
  const fs = metric("bootstrap", "first start (kernel");
  const fm = metric("bootstrap", "first start: peak");
  notes.push(
    `bootstrap through the CLI: start to first event ${r2(s)} ms (goal ≤ 80, ${
      goal(s <= 80)
    }; native ${r2(med(st, "native"))} ms, TS API ${
      r2(med(st, "ts"))
    } ms), peak RSS ${r2(m)} MiB (goal ≤ 48, ${goal(m <= 48)}; native ${
      r2(med(rss, "native"))
    }, TS API ${
      r2(med(rss, "ts"))
    }), with the minimal kernel BTF of its CO-RE relocations from the cache; the first start on a kernel makes it: ${
      r2(med(fs, "wasm"))
    } ms, ${
      r2(med(fm, "wasm"))
    } MiB. Deno's floor, \`deno run\` of an empty file: ${
      r2(med(fw, "ts"))
    } ms wall, ${r2(med(fr, "ts"))} MiB peak RSS.`,
  );
  const exact = (name: string) =>
    metrics.find((m) => m.case === "bootstrap" && m.metric === name)!;
  const br = exact(BUSY_RSS), bl = exact(BUSY_RSS + LIFTOFF);
  const missed = metrics.filter((m) => m.metric.startsWith(BUSY_MISSED))
    .flatMap((m) => Object.values(m.runs).flatMap(valuesOf));
  notes.push(
    `bootstrap busy (a process started every ${LOAD_MS} ms during the run, as on a real machine; the idle row above is the goal's measure): peak RSS native ${
      r2(med(br, "native"))
    } MiB, wasm ${r2(med(br, "wasm"))} MiB (${rs(br, "wasm")}), TS API ${
      r2(med(br, "ts"))
    } MiB. The guest's printf becomes hot and V8 compiles it with its optimizing tier: a transient compiler zone of ~5 MB and ~4 MiB of the compiler's code in the deno binary. With --v8-flags=--wasm-fast-api,--liftoff-only (wasm code stays in V8's baseline tier, so guests compute slower, and the host keeps map operations on the JavaScript path) the wasm peak is ${
      r2(med(bl, "wasm"))
    } MiB. Processes not printed: ${
      missed.every((x) => x === 0) ? "0" : `NOT 0 (max ${Math.max(...missed)})`
    } over all busy runs.`,
  );
  const boot = sizes.find(([p]) => p.endsWith("bootstrap/bootstrap.wasm"));
  if (boot) {
    notes.push(
      `Guest size: bootstrap.wasm ${
        (boot[1] / 1024).toFixed(1)
      } KiB (goal ≤ 90 KB, ${goal(boot[1] <= 90_000)}).`,
    );
  }
}

const about = [
  `commit ${info.commit}, ${
    new Date().toISOString().slice(0, 16)
  }Z, ${REPS} round(s), variants in an order rotated each round`,
  `CPU ${info.cpu}, ${info.cores} cores, kernel ${info.kernel}, deno ${info.deno} (V8 ${info.v8}), libbpf ${info.libbpf}, gcc ${info.gcc}, clang ${info.clang}`,
  `host map fast path: ${info.host_map_fast_path}`,
  `load average before/after: ${info.loadavg_before} / ${info.loadavg_after}`,
  "values: medians of the rounds; ratio: cost relative to native (time ÷ native time, or native rate ÷ rate; 1.00× is native speed, higher is slower), the median of the per-round paired ratios and their spread (min–max); no ratio for counts and for the live ring-buffer rows",
];
const leftText = leftover.length
  ? `WARNING: BPF programs left behind: ${
    leftover.map(([id, n]) => `${id} ${n}`).join(", ")
  } (may belong to another process started meanwhile)`
  : "BPF programs left behind: none (bpftool prog list before/after)";
const report = [
  about.join("\n"),
  "",
  table,
  "",
  ...notes.map((n) => `- ${n}`),
  "",
  leftText,
  "",
  "Guest sizes (build/examples/*/*.wasm):",
  "",
  sizeTable,
].join("\n");
console.log(report);

Deno.mkdirSync(`${ROOT}/bench/results`, { recursive: true });
Deno.writeTextFileSync(
  `${ROOT}/bench/results/latest.json`,
  JSON.stringify(
    {
      machine: info,
      config: {
        reps: REPS,
        map_ops: MAP_OPS,
        live_calls: LIVE_CALLS,
        drain_calls: DRAIN_CALLS,
        records_per_call: PER_CALL,
        bootstrap_seconds: BOOT_SECONDS,
      },
      metrics: summary,
      table,
      notes,
      sizes: Object.fromEntries(sizes),
      report,
      leftover_programs: leftover,
    },
    null,
    2,
  ) + "\n",
);
log("wrote bench/results/latest.json");
Deno.removeSync(BTF_CACHE, { recursive: true });
