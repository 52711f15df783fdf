/**
 * The benchmark runner (bench/run.sh calls it): builds every case from
 * source into build/bench/, runs each case REPS times, interleaving native,
 * Wasm and TypeScript runs so machine noise falls on all of them alike,
 * prints a table of medians with the ratio to native, and writes
 * bench/results/latest.json.
 *
 *   deno run -A bench/bench.ts [--reps N] [--quick]
 *
 * Ratios are costs relative to native libbpf: time / native time, or
 * native rate / rate, so 1.00 is native speed and higher is slower.
 *
 * @module
 */
import { parseArgs } from "node:util";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const OUT = `${ROOT}/build/bench`;
const NATIVE = `${OUT}/native`;
const DENO = Deno.execPath();
const HOST_FLAGS = ["run", "--allow-ffi", "--allow-read", "--allow-env"];

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
  wasmBatch: { name: "wasm_batch", label: "C wasm guest, poll_batch import" },
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

// ---- case 1: map operations ----

function mapCommands(): [Variant, string[]][] {
  const n = String(MAP_OPS);
  return [
    [VARIANTS.native, [`${NATIVE}/maps`, n]],
    [VARIANTS.wasm, wasmCmd(`${OUT}/guests/maps/maps.wasm`, [n])],
    [VARIANTS.ts, tsCmd("ts_maps.ts", [`${OUT}/guests/maps/maps.bpf.o`, n])],
  ];
}

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
      (pid) => wasmCmd(`${rb}/ringbuf_batch.wasm`, args(pid)),
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

const bootOnce = (cmd: string[]) =>
  runOnce([
    `${NATIVE}/launch`,
    `${NATIVE}/bench-trigger`,
    String(BOOT_SECONDS),
    "--",
    ...cmd,
  ]);

// ---- statistics and report ----

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

interface Metric {
  case: string;
  metric: string;
  unit: string;
  /** "time": lower is better (ratio = x / native); "rate": higher is better. */
  kind: "time" | "rate" | "count";
  runs: Record<string, number[]>;
}

const metrics: Metric[] = [];
function record(
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
  (m.runs[variant] ??= []).push(value);
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
for (const [, cmd] of [...mapCommands().slice(1)]) {
  await runOnce(cmd.slice(0, -1).concat("1000"));
}

for (let rep = 1; rep <= REPS; rep++) {
  log(`round ${rep}/${REPS}: map operations (${MAP_OPS} of each)`);
  for (const [v, cmd] of mapCommands()) {
    const r = await runOnce(cmd);
    if (r.errors) throw new Error(`${v.name}: ${r.errors} map errors`);
    record("map", "lookup", "ns/op", "time", v.name, r.lookup_ns_per_op);
    record("map", "update", "ns/op", "time", v.name, r.update_ns_per_op);
    if (
      v === VARIANTS.wasm &&
      existsFile(`${ROOT}/build/native/libwasm_bpf_fast.so`)
    ) {
      // the same guest with the host's map fast path disabled (libbpf calls)
      const off = parseKv(
        await exec(["env", "WASM_BPF_FAST=off", ...cmd]),
      );
      record(
        "map",
        "lookup, host fast path off",
        "ns/op",
        "time",
        v.name,
        off.lookup_ns_per_op,
      );
      record(
        "map",
        "update, host fast path off",
        "ns/op",
        "time",
        v.name,
        off.update_ns_per_op,
      );
    }
    if (r.lookup_alloc_ns_per_op) {
      record(
        "map",
        "lookup, allocating API",
        "ns/op",
        "time",
        v.name,
        r.lookup_alloc_ns_per_op,
      );
      record(
        "map",
        "update, allocating API",
        "ns/op",
        "time",
        v.name,
        r.update_alloc_ns_per_op,
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
    for (const [v, cmd] of ringCommands(calls, mode)) {
      const r = await ringOnce(calls, cmd);
      const c = `ringbuf ${mode}`;
      record(c, "delivered", "events/s", "rate", v.name, r.events_per_s);
      if (mode === "live") {
        record(
          c,
          "dropped by kernel (ring full)",
          "%",
          "count",
          v.name,
          100 * r.dropped / (r.produced + r.dropped),
        );
        record(
          c,
          "generator speed",
          "calls/s",
          "count",
          v.name,
          r.gen_calls_per_s,
        );
        record(
          c,
          "consumer CPU",
          "ns/event",
          "time",
          v.name,
          r.cpu_ns_per_event,
        );
      }
      record(
        c,
        "produced − delivered (host losses)",
        "events",
        "count",
        v.name,
        r.lost_by_host,
      );
      record(
        c,
        "out-of-order/duplicate records",
        "events",
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
    for (const [, cmd] of bootCommands()) await bootOnce(cmd); // warm-up
  }
  for (const [v, cmd] of bootCommands()) {
    const r = await bootOnce(cmd);
    record(
      "bootstrap",
      "start to first event",
      "ms",
      "time",
      v.name,
      r.startup_ms,
    );
    record(
      "bootstrap",
      `peak RSS (VmHWM, ${BOOT_SECONDS} s run)`,
      "MiB",
      "time",
      v.name,
      r.vmhwm_kb / 1024,
    );
  }
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

// ---- table ----

const order = ["native", "wasm", "wasm_batch", "ts"];
const header = [
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
];
const rows: string[][] = [];
const summary: Record<string, unknown>[] = [];
for (const m of metrics) {
  const med: Record<string, number> = {};
  for (const v of order) if (m.runs[v]) med[v] = median(m.runs[v]);
  const ratio = (v: string) => {
    if (m.kind === "count" || med[v] === undefined || !med.native) return "";
    const r = m.kind === "time" ? med[v] / med.native : med.native / med[v];
    return `${r.toFixed(2)}×`;
  };
  rows.push([
    m.case,
    m.metric,
    m.unit,
    fmt(med.native),
    fmt(med.wasm),
    ratio("wasm"),
    fmt(med.wasm_batch),
    ratio("wasm_batch"),
    fmt(med.ts),
    ratio("ts"),
  ]);
  summary.push({ ...m, median: med });
}
const widths = header.map((h, i) =>
  Math.max(h.length, ...rows.map((r) => r[i].length))
);
const line = (cells: string[]) =>
  `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
const table = [
  line(header),
  `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`,
  ...rows.map(line),
].join("\n");

const about = [
  `commit ${info.commit}, ${
    new Date().toISOString().slice(0, 16)
  }Z, ${REPS} runs per cell (median)`,
  `CPU ${info.cpu}, ${info.cores} cores, kernel ${info.kernel}, deno ${info.deno} (V8 ${info.v8}), libbpf ${info.libbpf}, gcc ${info.gcc}, clang ${info.clang}`,
  `host map fast path: ${info.host_map_fast_path}`,
  `load average before/after: ${info.loadavg_before} / ${info.loadavg_after}`,
  "ratio: cost relative to native (time ÷ native time, or native rate ÷ rate): 1.00× is native speed, higher is slower",
];
console.log(about.join("\n"));
console.log();
console.log(table);
if (leftover.length) {
  console.log(
    `\nWARNING: BPF programs left behind: ${
      leftover.map(([id, n]) => `${id} ${n}`).join(", ")
    } (may belong to another process started meanwhile)`,
  );
} else {
  console.log(
    "\nBPF programs left behind: none (bpftool prog list before/after)",
  );
}

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
      leftover_programs: leftover,
    },
    null,
    2,
  ) + "\n",
);
log("wrote bench/results/latest.json");
