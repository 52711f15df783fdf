/**
 * What one process per guest costs: the time from `spawn()` to the guest's
 * first event and the memory each guest's process takes, for 1 and for 10
 * guests at once, next to the native C bootstrap started the same way.
 * Not part of the tests.
 *
 *   deno run -A bench/spawn.ts [--reps N]
 *
 * Each round starts, in a rotated order: the native program (1 copy), and
 * `spawn()` of the bootstrap example with 1 and with 10 guests. A unique
 * copy of /bin/true is executed every 2 ms until every guest printed an
 * EXEC line naming it. Memory is each process's peak RSS (VmHWM) after
 * 1 s, and its PSS then (shared pages, such as the deno binary's code,
 * divided among the processes that map them, so a sum counts them once);
 * "per extra guest" is (total for 10 − total for 1) ÷ 9. Ratios are
 * paired per round (this round's wasm ÷ this round's native), then the
 * median and the spread (min–max) of the rounds are printed.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { spawn } from "../mod.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const OUT = `${ROOT}/build/bench/spawn`;
const { values: opts } = parseArgs({
  args: Deno.args,
  options: {
    reps: { type: "string", default: "5" },
    help: { type: "boolean", short: "h" },
  },
});
if (opts.help) {
  console.log("usage: deno run -A bench/spawn.ts [--reps N]");
  Deno.exit(0);
}
const REPS = Number(opts.reps);

async function exec(cmd: string[]): Promise<string> {
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `${cmd.join(" ")}: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return new TextDecoder().decode(out.stdout);
}

async function build() {
  await exec([
    Deno.execPath(),
    "run",
    "-A",
    "scripts/build.ts",
    "examples/bootstrap",
  ]);
  Deno.mkdirSync(OUT, { recursive: true });
  const obj = `${ROOT}/build/examples/bootstrap/bootstrap.bpf.o`;
  Deno.writeTextFileSync(
    `${OUT}/bootstrap.skel.h`,
    await exec(["bpftool", "gen", "skeleton", obj, "name", "bootstrap_bpf"]),
  );
  await exec([
    "gcc",
    "-O2",
    `-I${OUT}`,
    "-Iexamples/bootstrap",
    "bench/native/bootstrap.c",
    "-o",
    `${OUT}/bootstrap`,
    "-lbpf",
  ]);
  Deno.copyFileSync("/bin/true", `${OUT}/spawn-trigger`);
  Deno.chmodSync(`${OUT}/spawn-trigger`, 0o755);
}

/**
 * Proportional set size (kB): the process's private pages plus its share
 * of pages other processes map too (the deno binary's code, libraries),
 * so that a sum over processes counts shared pages once.
 */
function pssKb(pid: number): number {
  const r = Deno.readTextFileSync(`/proc/${pid}/smaps_rollup`);
  return Number(/^Pss:\s+(\d+)/m.exec(r)?.[1]);
}

function vmKb(pid: number, field: "VmHWM" | "VmRSS"): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(status)?.[1]);
}

/** Waits until `first` says every stream printed an EXEC line of the trigger. */
async function triggerUntil(done: () => boolean): Promise<void> {
  const trigger = `${OUT}/spawn-trigger`;
  const deadline = Date.now() + 60_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error("no event within 60 s");
    await new Deno.Command(trigger).output();
    await new Promise((r) => setTimeout(r, 2));
  }
}

function watch(stream: ReadableStream<Uint8Array>, onEvent: () => void) {
  (async () => {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      rest += chunk;
      const lines = rest.split("\n");
      rest = lines.pop()!;
      if (lines.some((l) => / EXEC /.test(l) && l.includes("spawn-trigger"))) {
        onEvent();
      }
    }
  })().catch(() => {});
}

interface Sample {
  startupMs: number; // median over the guests of this start
  totalKb: number; // sum of the processes' VmHWM
  pssKb: number; // sum of the processes' PSS after 1 s
}

async function runNative(): Promise<Sample> {
  const t0 = performance.now();
  const child = new Deno.Command(`${OUT}/bootstrap`, {
    stdout: "piped",
    stderr: "null",
  }).spawn();
  let at = 0;
  watch(child.stdout, () => at ||= performance.now());
  await triggerUntil(() => at > 0);
  await new Promise((r) => setTimeout(r, 1000));
  const kb = vmKb(child.pid, "VmHWM");
  const pss = pssKb(child.pid);
  child.kill("SIGINT");
  await child.status;
  return { startupMs: at - t0, totalKb: kb, pssKb: pss };
}

async function runSpawned(n: number): Promise<Sample> {
  const wasm = `${ROOT}/build/examples/bootstrap/bootstrap.wasm`;
  const t0 = performance.now();
  const guests = Array.from(
    { length: n },
    () => spawn(wasm, { stdout: "piped", stderr: "null", log: () => {} }),
  );
  const at = guests.map(() => 0);
  guests.forEach((g, i) => watch(g.stdout!, () => at[i] ||= performance.now()));
  await triggerUntil(() => at.every((t) => t > 0));
  await new Promise((r) => setTimeout(r, 1000));
  const totalKb = guests.reduce((s, g) => s + vmKb(g.pid, "VmHWM"), 0);
  const pss = guests.reduce((s, g) => s + pssKb(g.pid), 0);
  for (const g of guests) g.kill("SIGINT");
  await Promise.all(guests.map((g) => g.status));
  const times = at.map((t) => t - t0).sort((a, b) => a - b);
  return {
    startupMs: times[Math.floor(times.length / 2)],
    totalKb,
    pssKb: pss,
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2
    ? s[(s.length - 1) / 2]
    : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const spread = (xs: number[], f = (x: number) => x.toFixed(2)) =>
  `${f(Math.min(...xs))}–${f(Math.max(...xs))}`;

await build();
const variants: [string, () => Promise<Sample>][] = [
  ["native", runNative],
  ["spawn x1", () => runSpawned(1)],
  ["spawn x10", () => runSpawned(10)],
];
const rounds: Record<string, Sample>[] = [];
for (let r = 0; r < REPS; r++) {
  const order = [...variants.slice(r % 3), ...variants.slice(0, r % 3)];
  const round: Record<string, Sample> = {};
  for (const [name, f] of order) round[name] = await f();
  rounds.push(round);
  console.error(
    `round ${r + 1}/${REPS}: ${
      order.map(([n]) => `${n} ${round[n].startupMs.toFixed(0)} ms`).join(", ")
    }`,
  );
}
const col = (name: string, f: (s: Sample) => number) =>
  rounds.map((r) => f(r[name]));
const startNative = col("native", (s) => s.startupMs);
const memNative = col("native", (s) => s.totalKb / 1024);
const rows: string[][] = [];
for (const name of ["spawn x1", "spawn x10"]) {
  const start = col(name, (s) => s.startupMs);
  const ratio = start.map((v, i) => v / startNative[i]);
  rows.push([
    name,
    "spawn() to first event (median guest)",
    "ms",
    median(startNative).toFixed(1),
    median(start).toFixed(1),
    `${median(ratio).toFixed(2)}× (${spread(ratio)})`,
  ]);
}
const mem1 = col("spawn x1", (s) => s.totalKb / 1024);
const mem10 = col("spawn x10", (s) => s.totalKb / 1024);
const memRatio = mem1.map((v, i) => v / memNative[i]);
rows.push([
  "spawn x1",
  "peak RSS of the guest's process",
  "MiB",
  median(memNative).toFixed(1),
  median(mem1).toFixed(1),
  `${median(memRatio).toFixed(2)}× (${spread(memRatio)})`,
]);
const extra = mem10.map((v, i) => (v - mem1[i]) / 9);
const extraRatio = extra.map((v, i) => v / memNative[i]);
rows.push([
  "spawn x10",
  "RSS each extra guest adds",
  "MiB",
  median(memNative).toFixed(1),
  median(extra).toFixed(1),
  `${median(extraRatio).toFixed(2)}× (${spread(extraRatio)})`,
]);
// shared pages counted once: what each guest really adds to the machine
const pssNative = col("native", (s) => s.pssKb / 1024);
const pss1 = col("spawn x1", (s) => s.pssKb / 1024);
const pss10 = col("spawn x10", (s) => s.pssKb / 1024);
const pssRatio = pss1.map((v, i) => v / pssNative[i]);
rows.push([
  "spawn x1",
  "PSS of the guest's process (after 1 s)",
  "MiB",
  median(pssNative).toFixed(1),
  median(pss1).toFixed(1),
  `${median(pssRatio).toFixed(2)}× (${spread(pssRatio)})`,
]);
const extraPss = pss10.map((v, i) => (v - pss1[i]) / 9);
const extraPssRatio = extraPss.map((v, i) => v / pssNative[i]);
rows.push([
  "spawn x10",
  "PSS each extra guest adds",
  "MiB",
  median(pssNative).toFixed(1),
  median(extraPss).toFixed(1),
  `${median(extraPssRatio).toFixed(2)}× (${spread(extraPssRatio)})`,
]);
const header = ["case", "metric", "unit", "native", "wasm", "ratio (spread)"];
const widths = header.map((h, i) =>
  Math.max(h.length, ...rows.map((r) => r[i].length))
);
const line = (cells: string[]) =>
  `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
console.log(line(header));
console.log(`| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`);
for (const r of rows) console.log(line(r));
console.log(
  `${REPS} rounds, order rotated each round; ratio = wasm ÷ native of the same round.`,
);
