/**
 * Events per second delivered as JSON lines: a bare object run by the CLI
 * (`mod.ts objrun.bpf.o --set targ_tgid=PID --json`, decoded by BTF) vs
 * the C guest printing the same events with printf (`mod.ts objrun.wasm
 * PID`). As root, not part of the test suite:
 *
 * ```sh
 * deno run -A bench/objrun.ts [--calls N] [--reps N]
 * ```
 *
 * The generator (`bench/native/gen.c`) calls getppid() CALLS times once
 * the consumer is attached; each call emits 4 records of 96 bytes
 * (`bench/guests/objrun/`). The consumer's stdout is a pipe read by this
 * script, which counts lines: the rate is lines from the first to the
 * last, over that time. Records the ring could not hold are reported.
 *
 * @module
 */
const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const args = Deno.args;
const opt = (name: string, dflt: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const CALLS = opt("--calls", 100_000);
const REPS = opt("--reps", 3);
const PER_CALL = 4;

async function sh(cmd: string, a: string[]) {
  const r = await new Deno.Command(cmd, { args: a, cwd: ROOT }).output();
  if (!r.success) {
    throw new Error(
      `${cmd} ${a.join(" ")}: ${new TextDecoder().decode(r.stderr)}`,
    );
  }
}

await sh(Deno.execPath(), [
  "run",
  "-A",
  "scripts/build.ts",
  "bench/guests/objrun",
]);
const gen = `${ROOT}/build/bench/native/gen`;
try {
  Deno.statSync(gen);
} catch {
  Deno.mkdirSync(`${ROOT}/build/bench/native`, { recursive: true });
  await sh("gcc", ["-O2", "-o", gen, "bench/native/gen.c"]);
}
const dir = `${ROOT}/build/bench/guests/objrun`;

interface Result {
  lines: number;
  seconds: number;
  rate: number;
}

async function once(kind: "object" | "wasm"): Promise<Result> {
  const g = new Deno.Command(gen, {
    args: [String(CALLS)],
    stdin: "piped",
    stdout: "null",
  }).spawn();
  const consumerArgs = kind === "object"
    ? [
      "-v",
      `${dir}/objrun.bpf.o`,
      "--set",
      `targ_tgid=${g.pid}`,
      "--json",
    ]
    : [`${dir}/objrun.wasm`, String(g.pid)];
  const c = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-ffi",
      "--allow-read",
      "--allow-env",
      `${ROOT}/mod.ts`,
      ...consumerArgs,
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // ready: the bare run says "attached" (-v), the guest "ready"
  const errReader = c.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let err = "";
  while (!/attached \d+ programs|ready/.test(err)) {
    const { value, done } = await errReader.read();
    if (done) throw new Error(`${kind}: consumer ended: ${err}`);
    err += value;
  }
  (async () => {
    for (;;) if ((await errReader.read()).done) break;
  })();
  const want = CALLS * PER_CALL;
  let lines = 0, first = 0, last = 0;
  const reader = c.stdout.getReader();
  const w = g.stdin.getWriter();
  await w.write(new Uint8Array([1]));
  await w.close();
  const genDone = g.status;
  let quietTimer: ReturnType<typeof setTimeout> | undefined;
  const quiet = () =>
    new Promise<"quiet">((r) => {
      clearTimeout(quietTimer);
      quietTimer = setTimeout(() => r("quiet"), 1000);
    });
  // a read outstanding when the quiet timer wins is kept for later
  let pendingRead = reader.read();
  for (;;) {
    const next = await Promise.race([pendingRead, quiet()]);
    if (next === "quiet") break;
    pendingRead = reader.read();
    if (next.done) break;
    for (const b of next.value) if (b === 10) lines++;
    const now = performance.now();
    if (!first) first = now;
    last = now;
    if (lines >= want) break;
  }
  clearTimeout(quietTimer);
  await genDone;
  c.kill("SIGINT");
  // what a guest still held in its stdio buffer comes at exit: counted,
  // not timed
  if (lines < want) {
    for (;;) {
      const { value, done } = await pendingRead;
      if (done) break;
      for (const b of value) if (b === 10) lines++;
      pendingRead = reader.read();
    }
  } else {
    (async () => {
      try {
        for (;;) if ((await reader.read()).done) break;
      } catch { /* closed */ }
    })();
  }
  await c.status;
  const seconds = (last - first) / 1000;
  return { lines, seconds, rate: seconds > 0 ? lines / seconds : NaN };
}

const results: Record<string, Result[]> = { object: [], wasm: [] };
for (let i = 0; i < REPS; i++) {
  for (const k of ["object", "wasm"] as const) results[k].push(await once(k));
}
const median = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1];
console.log(
  `${CALLS * PER_CALL} events of 96 bytes, ${REPS} runs each, medians:`,
);
for (const [k, rs] of Object.entries(results)) {
  const rate = median(rs.map((r) => r.rate));
  const lost = CALLS * PER_CALL - median(rs.map((r) => r.lines));
  console.log(
    `${k === "object" ? "bare object --json" : "C guest (printf) "} ${
      Math.round(rate).toLocaleString("en")
    } events/s${lost ? ` (${lost} not delivered)` : ""}`,
  );
}
