/**
 * `--metrics` and `--metrics-config` against real guests, real BPF maps
 * and Debian's real Prometheus (installed by scripts/setup-metrics.sh;
 * the tests that need it skip, saying so, when it is absent). Each test
 * starts its own host on a free 127.0.0.1 port, and Prometheus on another
 * with a temporary config (scrape every second) and storage.
 */
import assert from "node:assert/strict";
import {
  assertNoBpfLeaks,
  bpfSnapshot,
  buildGuest,
  CLI_PERMISSIONS,
  ROOT,
  runCli,
} from "./util.ts";
import { sampleLines } from "../host/metrics/_test_util.ts";
import { spawn } from "../host/spawn.ts";

const PROMETHEUS = "/usr/bin/prometheus";
const PROM_SKIP = (() => {
  try {
    Deno.statSync(PROMETHEUS);
    return "";
  } catch {
    return `${PROMETHEUS} is absent (scripts/setup-metrics.sh installs Debian's prometheus)`;
  }
})();
if (PROM_SKIP) {
  console.log(`metrics_test: Prometheus tests skipped: ${PROM_SKIP}`);
}

const NET = [...CLI_PERMISSIONS, "--allow-net"];
const dec = new TextDecoder();

let built: { wasm: string; obj: string; runqlat: string } | undefined;
async function guests() {
  if (!built) {
    const dir = await buildGuest("tests/guests/metrics");
    const rq = await buildGuest("examples/runqlat");
    built = {
      wasm: `${dir}/metrics.wasm`,
      obj: `${dir}/metrics.bpf.o`,
      runqlat: `${rq}/runqlat.bpf.o`,
    };
  }
  return built;
}

async function tempJson(v: unknown): Promise<string> {
  const f = await Deno.makeTempFile({ suffix: ".json" });
  await Deno.writeTextFile(f, JSON.stringify(v));
  return f;
}

/** A running `mod.ts --metrics 127.0.0.1:0 ...`. */
interface Host {
  child: Deno.ChildProcess;
  /** `http://127.0.0.1:PORT/metrics`. */
  url: string;
  port: number;
  stdout(): string;
  stderr(): string;
  /** Resolves when stdout matches. */
  waitOut(re: RegExp, ms?: number): Promise<void>;
  status: Promise<Deno.CommandStatus>;
  [Symbol.asyncDispose](): Promise<void>;
}

async function startHost(
  args: string[],
  listen = "127.0.0.1:0",
  env?: Record<string, string>,
  permissions: string[] = NET,
): Promise<Host> {
  const child = new Deno.Command(Deno.execPath(), {
    env,
    args: [
      "run",
      ...permissions,
      `${ROOT}/mod.ts`,
      "--metrics",
      listen,
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  let out = "", err = "";
  const pump = async (
    s: ReadableStream<Uint8Array>,
    add: (t: string) => void,
  ) => {
    for await (const chunk of s) add(dec.decode(chunk, { stream: true }));
  };
  const pumps = Promise.all([
    pump(child.stdout, (t) => out += t),
    pump(child.stderr, (t) => err += t),
  ]);
  const status = pumps.then(() => child.status);
  let done = false;
  status.then(() => done = true);
  const until = async (ok: () => boolean, ms: number, what: string) => {
    const end = Date.now() + ms;
    while (!ok()) {
      if (done || Date.now() > end) {
        throw new Error(`${what} did not come\nstdout: ${out}\nstderr: ${err}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  const host: Host = {
    child,
    url: "",
    port: 0,
    stdout: () => out,
    stderr: () => err,
    waitOut: (re, ms = 15_000) => until(() => re.test(out), ms, `${re}`),
    status,
    async [Symbol.asyncDispose]() {
      if (!done) {
        try {
          child.kill("SIGKILL");
        } catch { /* ended meanwhile */ }
      }
      await status;
    },
  };
  try {
    await until(
      () => /metrics at http:\/\/\S+\/metrics/.test(err),
      15_000,
      "the address line",
    );
  } catch (e) {
    await host[Symbol.asyncDispose]();
    throw e;
  }
  host.url = /metrics at (http:\/\/\S+\/metrics)/.exec(err)![1];
  host.port = Number(/:(\d+)\/metrics/.exec(host.url)![1]);
  return host;
}

async function scrape(url: string): Promise<string> {
  const r = await fetch(url);
  assert.equal(r.status, 200);
  assert.match(
    r.headers.get("content-type") ?? "",
    /^text\/plain; version=0\.0\.4/,
  );
  return await r.text();
}

/** The value of the sample of `name` whose labels include `labels`. */
function value(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const line of sampleLines(text)) {
    const m = /^([^{ ]+)(\{.*\})? (\S+)$/.exec(line)!;
    if (m[1] !== name) continue;
    const set = m[2] ?? "";
    if (Object.entries(labels).every(([k, v]) => set.includes(`${k}="${v}"`))) {
      return Number(m[3]);
    }
  }
  return undefined;
}

async function portClosed(port: number): Promise<boolean> {
  try {
    const c = await Deno.connect({ hostname: "127.0.0.1", port });
    c.close();
    return false;
  } catch {
    return true;
  }
}

function execTrue(n: number) {
  for (let i = 0; i < n; i++) {
    new Deno.Command("/bin/true").outputSync();
  }
}

/** The BPF objects the audit log at `file` records as loaded (then removed). */
async function loads(file: string): Promise<number> {
  const text = await Deno.readTextFile(file);
  await Deno.remove(file);
  return text.split("\n").filter((l) => l && JSON.parse(l).event === "load")
    .length;
}

const COUNTERS = {
  metrics: [
    {
      name: "execs_total",
      kind: "counter",
      map: "execs",
      labels: ["comm"],
      help: "execs by command name",
    },
    {
      name: "comm_length",
      kind: "histogram",
      map: "comm_len",
      bucketField: "slot",
      bucketMax: 5,
    },
  ],
};

Deno.test("metrics: without --allow-net, one line naming the flag, exit 2, nothing loaded", async () => {
  const g = await guests();
  const audit = await Deno.makeTempFile();
  const r = await runCli(
    [`--audit=${audit}`, "--metrics", ":0", g.wasm, "poll"],
    { permissions: [...CLI_PERMISSIONS, "--allow-write"] },
  );
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert.match(r.stderr, /--allow-net/);
  assert.doesNotMatch(r.stdout, /ready/);
  assert.equal(await loads(audit), 0);
});

Deno.test("metrics: a config mistake names the entry, exit 2, before anything loads", async () => {
  const g = await guests();
  const cases: [Record<string, unknown>, RegExp][] = [
    [
      { name: "x_total", kind: "counter", map: "nope" },
      /metrics\[0\]\.map: no map 'nope'.*maps: .*execs/,
    ],
    [
      { name: "x_total", kind: "counter", map: "execs", labels: ["pid"] },
      /metrics\[0\]\.labels: .*no field 'pid' \(fields: comm\)/,
    ],
    [
      { name: "x_total", kind: "histogram", map: "execs" },
      /metrics\[0\]\.kind: /,
    ],
    [
      { name: "x_total", kind: "counter", map: "rb" },
      /metrics\[0\]\.map: map 'rb' is of type 27/,
    ],
  ];
  for (const target of [[g.wasm, "poll"], [g.obj]]) {
    for (const [e, re] of cases) {
      const cfg = await tempJson({ metrics: [e] });
      const audit = await Deno.makeTempFile();
      const r = await runCli(
        [
          `--audit=${audit}`,
          "--metrics",
          "127.0.0.1:0",
          "--metrics-config",
          cfg,
          ...target,
        ],
        { permissions: [...NET, "--allow-write"] },
      );
      await Deno.remove(cfg);
      assert.equal(r.code, 2, `${target[0]}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(cfg.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")),
      );
      assert.match(r.stderr, re);
      assert.doesNotMatch(r.stderr, /metrics at/);
      assert.equal(await loads(audit), 0);
    }
  }
});

Deno.test("metrics: GET /metrics only; the port is freed when the guest ends", async () => {
  const g = await guests();
  const before = bpfSnapshot();
  await using host = await startHost(["--timeout", "2", g.wasm, "poll"]);
  await host.waitOut(/ready/);
  const text = await scrape(host.url);
  assert.equal(
    value(text, "wasm_bpf_objects_loaded_total", { guest: "metrics.wasm" }),
    1,
  );
  assert.match(text, /digest="sha256:[0-9a-f]{64}"/);
  const base = host.url.replace(/\/metrics$/, "");
  for (const path of ["/", "/metrics/x", "/other"]) {
    const r = await fetch(base + path);
    await r.body?.cancel();
    assert.equal(r.status, 404, path);
  }
  const post = await fetch(host.url, { method: "POST" });
  await post.body?.cancel();
  assert.equal(post.status, 404);
  const st = await host.status;
  assert.equal(st.code, 124);
  assert.ok(await portClosed(host.port), "the port is still open");
  await assertNoBpfLeaks(before);
});

Deno.test("metrics: ':PORT' listens on every interface and prints the address once", async () => {
  const g = await guests();
  await using host = await startHost(["--timeout", "10", g.obj], ":0");
  assert.match(host.url, /^http:\/\/0\.0\.0\.0:\d+\/metrics$/);
  assert.equal(host.stderr().match(/metrics at/g)?.length, 1);
  // the server listens before the object loads: wait for it
  const end = Date.now() + 10_000;
  while (
    value(
      await scrape(`http://127.0.0.1:${host.port}/metrics`),
      "wasm_bpf_objects_loaded_total",
      { guest: "metrics.bpf.o" },
    ) !== 1
  ) {
    assert.ok(Date.now() < end, host.stderr());
    await new Promise((r) => setTimeout(r, 50));
  }
  host.child.kill("SIGTERM");
  assert.equal((await host.status).code, 143);
  assert.ok(await portClosed(host.port), "the port is still open");
});

Deno.test("metrics: a guest-written map key cannot inject a line or a series", async () => {
  const g = await guests();
  const cfg = await tempJson(COUNTERS);
  await using host = await startHost([
    "--metrics-config",
    cfg,
    "--timeout",
    "5",
    g.wasm,
    "inject",
  ]);
  await host.waitOut(/ready/);
  const text = await scrape(host.url);
  await Deno.remove(cfg);
  // every line is a whole comment or sample: a raw quote or newline fails here
  sampleLines(text);
  assert.ok(!text.split("\n").some((l) => l.startsWith("fake_metric")), text);
  assert.ok(
    text.includes('execs_total{comm="\\"} 1\\nfake_metric 1"} 7'),
    text,
  );
  assert.ok(text.includes('execs_total{comm="a\\\\\\"b"} 3'), text);
  assert.equal(
    value(text, "wasm_bpf_map_operations_total", {
      guest: "metrics.wasm",
      op: "update",
    }),
    2,
  );
});

Deno.test("metrics: a guest in a Worker (no native watchdog) feeds the server too", async () => {
  const g = await guests();
  const cfg = await tempJson(COUNTERS);
  await using host = await startHost(
    ["--metrics-config", cfg, "--timeout", "5", g.wasm, "inject"],
    "127.0.0.1:0",
    { WASM_BPF_WATCHDOG: "off" },
  );
  await host.waitOut(/ready/);
  const text = await scrape(host.url);
  await Deno.remove(cfg);
  assert.equal(
    value(text, "wasm_bpf_map_operations_total", { op: "update" }),
    2,
  );
  assert.equal(value(text, "execs_total", { comm: 'a\\\\\\"b' }), 3);
});

Deno.test("metrics: with --max-memory the guest's own process serves them", async () => {
  const g = await guests();
  const cfg = await tempJson(COUNTERS);
  await using host = await startHost(
    [
      "--max-memory=64",
      "--metrics-config",
      cfg,
      "--timeout",
      "5",
      g.wasm,
      "inject",
    ],
    "127.0.0.1:0",
    undefined,
    [...NET, "--allow-run"],
  );
  await host.waitOut(/ready/);
  const text = await scrape(host.url);
  await Deno.remove(cfg);
  assert.equal(
    value(text, "wasm_bpf_map_operations_total", {
      op: "update",
      guest: "metrics.wasm",
    }),
    2,
  );
  assert.equal(value(text, "execs_total", { comm: 'a\\\\\\"b' }), 3);
  host.child.kill("SIGINT");
  assert.equal((await host.status).code, 130, host.stderr());
  assert.ok(await portClosed(host.port), "the port is still bound");
});

Deno.test("metrics: spawn({ metrics }) serves them from the guest's process, labelled by the guest", async () => {
  const g = await guests();
  // a bad address is one clear error before any process starts
  assert.throws(
    () => spawn(g.wasm, { metrics: { listen: "localhost" } }),
    /--metrics needs HOST:PORT/,
  );
  const lines: string[] = [];
  const guest = spawn(g.wasm, {
    args: ["inject"],
    stdout: "piped",
    log: (l) => lines.push(l),
    metrics: { listen: "127.0.0.1:0", config: COUNTERS, guest: "injector" },
  });
  try {
    const reader = guest.stdout!.pipeThrough(new TextDecoderStream())
      .getReader();
    let out = "";
    while (!/ready/.test(out)) {
      const { value: chunk, done } = await reader.read();
      if (done) break;
      out += chunk;
    }
    reader.releaseLock();
    assert.match(out, /ready/, lines.join("\n"));
    const at = lines.map((l) => /metrics at (http:\/\/\S+\/metrics)/.exec(l))
      .find((m) => m);
    assert.ok(at, `no address line: ${lines.join("\n")}`);
    const text = await scrape(at[1]);
    assert.equal(
      value(text, "wasm_bpf_map_operations_total", {
        op: "update",
        guest: "injector",
      }),
      2,
    );
    assert.match(text, /digest="sha256:[0-9a-f]{64}"/);
    assert.equal(value(text, "execs_total", { comm: 'a\\\\\\"b' }), 3);
    guest.kill("SIGINT");
    const st = await guest.status;
    assert.equal(st.kind, "interrupted", st.message);
    const port = Number(/:(\d+)\/metrics/.exec(at[1])![1]);
    assert.ok(await portClosed(port), "the port is still bound");
  } finally {
    await guest[Symbol.asyncDispose]();
  }
});

Deno.test("metrics: a guest filling a map gets maxSeries series and a count of the rest", async () => {
  const g = await guests();
  const cfg = await tempJson({ ...COUNTERS, maxSeries: 50 });
  await using host = await startHost([
    "--metrics-config",
    cfg,
    "--timeout",
    "8",
    g.wasm,
    "fill",
    "400",
  ]);
  await host.waitOut(/ready/);
  const text = await scrape(host.url);
  await Deno.remove(cfg);
  const series = sampleLines(text).filter((l) => l.startsWith("execs_total{"));
  assert.equal(series.length, 50);
  const left = value(text, "wasm_bpf_metrics_series_truncated_total", {
    metric: "execs_total",
  })!;
  assert.ok(left >= 350, `truncated ${left}`);
  // summed over scrapes: a second scrape adds as many again
  const again = await scrape(host.url);
  assert.ok(
    value(again, "wasm_bpf_metrics_series_truncated_total", {
      metric: "execs_total",
    })! >= 2 * 350,
  );
});

Deno.test("metrics: a guest spinning on the main thread is still scraped; SIGINT ends it and frees the port", async () => {
  const g = await guests();
  const before = bpfSnapshot();
  await using host = await startHost([g.wasm, "spin"]);
  await host.waitOut(/ready/);
  for (let i = 0; i < 3; i++) {
    const text = await scrape(host.url);
    assert.equal(
      value(text, "wasm_bpf_map_operations_total", { op: "lookup" }),
      5,
    );
    await new Promise((r) => setTimeout(r, 200));
  }
  const t0 = Date.now();
  host.child.kill("SIGINT");
  const st = await host.status;
  assert.equal(st.code, 130, host.stderr());
  assert.ok(Date.now() - t0 < 6000);
  assert.ok(await portClosed(host.port), "the port is still open");
  await assertNoBpfLeaks(before);
});

Deno.test("metrics: a guest spinning past --timeout is ended and the port freed", async () => {
  const g = await guests();
  await using host = await startHost(["--timeout", "2", g.wasm, "spin"]);
  await host.waitOut(/ready/);
  assert.equal(
    value(await scrape(host.url), "wasm_bpf_map_operations_total", {
      op: "lookup",
    }),
    5,
  );
  const st = await host.status;
  assert.equal(st.code, 124, host.stderr());
  assert.ok(await portClosed(host.port), "the port is still open");
});

// ---- with the real Prometheus ----

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Prometheus scraping `target` (HOST:PORT) every second, until disposed. */
async function prometheus(target: string) {
  const dir = await Deno.makeTempDir({ prefix: "wasm-bpf-prom-" });
  const port = freePort();
  await Deno.writeTextFile(
    `${dir}/prometheus.yml`,
    [
      "global:",
      "  scrape_interval: 1s",
      "  evaluation_interval: 1s",
      "scrape_configs:",
      "  - job_name: wasm-bpf",
      "    scrape_interval: 1s",
      "    scrape_timeout: 900ms",
      "    static_configs:",
      `      - targets: ["${target}"]`,
      "",
    ].join("\n"),
  );
  const child = new Deno.Command(PROMETHEUS, {
    args: [
      `--config.file=${dir}/prometheus.yml`,
      `--storage.tsdb.path=${dir}/data`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
    ],
    stdout: "null",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  let log = "";
  const pumped = (async () => {
    for await (const c of child.stderr) log += dec.decode(c);
  })();
  const base = `http://127.0.0.1:${port}`;
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* ended */ }
    await child.status;
    await pumped;
    await Deno.remove(dir, { recursive: true });
  };
  const end = Date.now() + 20_000;
  for (;;) {
    try {
      const r = await fetch(`${base}/-/ready`);
      await r.body?.cancel();
      if (r.ok) break;
    } catch { /* not yet */ }
    if (Date.now() > end) {
      await stop();
      throw new Error(`prometheus did not start: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  /** The instant vector of `q`: [labels, value] pairs. */
  const query = async (q: string) => {
    const r = await fetch(
      `${base}/api/v1/query?query=${encodeURIComponent(q)}`,
    );
    const j = await r.json();
    assert.equal(j.status, "success", JSON.stringify(j));
    return (j.data.result as {
      metric: Record<string, string>;
      value: [number, string];
    }[])
      .map((x) => [x.metric, Number(x.value[1])] as const);
  };
  /** Polls `q` until `ok` holds for its result (20 s at most). */
  const until = async (
    q: string,
    ok: (r: (readonly [Record<string, string>, number])[]) => boolean,
    ms = 20_000,
  ) => {
    const end = Date.now() + ms;
    let last: (readonly [Record<string, string>, number])[] = [];
    for (;;) {
      last = await query(q);
      if (ok(last)) return last;
      if (Date.now() > end) {
        throw new Error(
          `${q}: ${JSON.stringify(last)} did not satisfy the test\n${log}`,
        );
      }
      await new Promise((r) => setTimeout(r, 300));
    }
  };
  return { query, until, [Symbol.asyncDispose]: stop };
}

const scalar = (r: (readonly [Record<string, string>, number])[]) =>
  r.length === 1 ? r[0][1] : NaN;

Deno.test({
  name: "prometheus: runqlat's latency histogram, buckets that grow under load",
  ignore: !!PROM_SKIP,
  async fn() {
    const g = await guests();
    const cfg = await tempJson({
      metrics: [{
        name: "runq_latency_seconds",
        kind: "histogram",
        map: "hists",
        labels: [],
        multiplier: 1e-6,
        help: "run queue latency",
      }],
    });
    await using host = await startHost([
      "--metrics-config",
      cfg,
      "--timeout",
      "60",
      g.runqlat,
      "--json",
    ]);
    await using prom = await prometheus(`127.0.0.1:${host.port}`);
    const first = scalar(
      await prom.until(
        "runq_latency_seconds_count",
        (r) => r.length === 1 && r[0][1] > 0,
      ),
    );
    // 27 buckets: 26 log2 slots and +Inf, bounds in seconds
    const buckets = await prom.query("runq_latency_seconds_bucket");
    assert.equal(buckets.length, 27);
    const les = buckets.map(([m]) => m.le);
    assert.ok(
      les.includes("+Inf") && les.includes("0.000002") &&
        les.includes("0.000004"),
      les.join(" "),
    );
    // load: processes that wake and wait for a CPU
    const load = new Deno.Command("sh", {
      args: ["-c", "i=0; while [ $i -lt 300 ]; do /bin/true; i=$((i+1)); done"],
    }).output();
    await load;
    await prom.until("runq_latency_seconds_count", (r) => scalar(r) > first);
    const q = await prom.query(
      "histogram_quantile(0.5, runq_latency_seconds_bucket)",
    );
    assert.equal(q.length, 1);
    assert.ok(q[0][1] > 0);
    await Deno.remove(cfg);
  },
});

Deno.test({
  name:
    "prometheus: a counter of execs by command name grows as /bin/true runs",
  ignore: !!PROM_SKIP,
  async fn() {
    const g = await guests();
    const cfg = await tempJson(COUNTERS);
    await using host = await startHost([
      "--metrics-config",
      cfg,
      "--timeout",
      "60",
      g.obj,
      "--json",
    ]);
    await using prom = await prometheus(`127.0.0.1:${host.port}`);
    execTrue(4);
    const n = scalar(
      await prom.until('execs_total{comm="true"}', (r) => scalar(r) >= 4),
    );
    execTrue(3);
    await prom.until('execs_total{comm="true"}', (r) => scalar(r) >= n + 3);
    // the slot-per-key histogram from a per-CPU map, an enum label by name
    await prom.until(
      'comm_length_count{kind="EXEC_SHORT"}',
      (r) => scalar(r) >= 7,
    );
    // and the bare object's host counters
    await prom.until(
      'wasm_bpf_events_delivered_total{guest="metrics.bpf.o"}',
      (r) => scalar(r) >= 7,
    );
    await Deno.remove(cfg);
  },
});

Deno.test({
  name:
    "prometheus: a wasm guest's host counters (events delivered, polls) grow",
  ignore: !!PROM_SKIP,
  async fn() {
    const g = await guests();
    await using host = await startHost(["--timeout", "60", g.wasm, "poll"]);
    await host.waitOut(/ready/);
    await using prom = await prometheus(`127.0.0.1:${host.port}`);
    const sel = '{guest="metrics.wasm",job="wasm-bpf"}';
    await prom.until(`wasm_bpf_polls_total${sel}`, (r) => scalar(r) > 0);
    const before =
      scalar(await prom.query(`wasm_bpf_events_delivered_total${sel}`)) || 0;
    execTrue(5);
    const r = await prom.until(
      `wasm_bpf_events_delivered_total${sel}`,
      (r) => scalar(r) >= before + 5,
    );
    assert.match(r[0][0].digest, /^sha256:[0-9a-f]{64}$/);
  },
});

Deno.test({
  name:
    "prometheus: a hostile map key leaves the scrape healthy and adds no series",
  ignore: !!PROM_SKIP,
  async fn() {
    const g = await guests();
    const cfg = await tempJson(COUNTERS);
    await using host = await startHost([
      "--metrics-config",
      cfg,
      "--timeout",
      "60",
      g.wasm,
      "inject",
    ]);
    await host.waitOut(/ready/);
    await using prom = await prometheus(`127.0.0.1:${host.port}`);
    await prom.until('up{job="wasm-bpf"}', (r) => scalar(r) === 1);
    const r = await prom.until(
      "execs_total",
      (r) => r.some(([m]) => m.comm?.includes("fake_metric")),
    );
    assert.ok(r.some(([m, v]) => m.comm === '"} 1\nfake_metric 1' && v === 7));
    assert.equal((await prom.query("fake_metric")).length, 0);
    await Deno.remove(cfg);
  },
});
