import assert from "node:assert/strict";
import {
  assertNoBpfLeaks,
  bpfSnapshot,
  buildGuest,
  runCli,
} from "../../tests/util.ts";

const wasm = async () => `${await buildGuest("examples/runqlat")}/runqlat.wasm`;

/** Busy loops, more than the CPUs, so tasks wait on the run queue. */
function load(n = 4): Deno.ChildProcess[] {
  return Array.from({ length: n }, () =>
    new Deno.Command("/bin/sh", {
      args: ["-c", "while :; do :; done"],
      stdout: "null",
      stderr: "null",
      stdin: "null",
    }).spawn());
}

async function unload(procs: Deno.ChildProcess[]) {
  for (const p of procs) p.kill("SIGKILL");
  await Promise.all(procs.map((p) => p.status));
}

interface Histogram {
  pid?: number;
  comm?: string;
  total: number;
}

/** Parses the printed histograms: "HH:MM:SS" starts an interval. */
function parse(stdout: string): Histogram[][] {
  const intervals: Histogram[][] = [];
  let cur: Histogram | undefined;
  let owner: { pid: number; comm: string } | undefined;
  for (const line of stdout.split("\n")) {
    let m;
    if (/^\d\d:\d\d:\d\d$/.test(line)) {
      intervals.push([]);
      cur = undefined;
    } else if ((m = line.match(/^pid = (\d+) (.*)$/))) {
      owner = { pid: Number(m[1]), comm: m[2] };
    } else if (/^\s+usecs\s+: count\s+distribution$/.test(line)) {
      cur = { total: 0, ...owner };
      owner = undefined;
      intervals.at(-1)?.push(cur);
    } else if ((m = line.match(/^\s*\d+ -> \d+\s+: (\d+)\s+\|[* ]+\|$/))) {
      assert(cur, `row outside a histogram: ${line}`);
      cur.total += Number(m[1]);
    }
  }
  return intervals;
}

Deno.test("runqlat prints two histograms with counts under load", async () => {
  const path = await wasm();
  const before = bpfSnapshot();
  const busy = load();
  let res;
  try {
    res = await runCli([path, "1", "2"], { timeoutMs: 30_000 });
  } finally {
    await unload(busy);
  }
  assert.equal(res.code, 0, res.stderr);
  const intervals = parse(res.stdout);
  assert.equal(intervals.length, 2, res.stdout);
  for (const hists of intervals) {
    assert.equal(hists.length, 1, res.stdout);
    assert(hists[0].total > 0, `empty histogram:\n${res.stdout}`);
  }
  await assertNoBpfLeaks(before);
});

Deno.test("runqlat -P prints one histogram per process", async () => {
  const path = await wasm();
  const before = bpfSnapshot();
  const busy = load();
  let res;
  try {
    res = await runCli([path, "-P", "1", "1"], { timeoutMs: 30_000 });
  } finally {
    await unload(busy);
  }
  assert.equal(res.code, 0, res.stderr);
  const [hists] = parse(res.stdout);
  assert(hists.length > 1, res.stdout);
  const mine = hists.filter((h) => busy.some((p) => p.pid === h.pid));
  assert(mine.length > 0, `no histogram for the busy loops:\n${res.stdout}`);
  for (const h of mine) {
    assert.equal(h.comm, "sh");
    assert(h.total > 0);
  }
  await assertNoBpfLeaks(before);
});

Deno.test("runqlat -h prints usage, bad arguments exit 2", async () => {
  const path = await wasm();
  const help = await runCli([path, "-h"]);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^usage: runqlat/);
  const bad = await runCli([path, "soon"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /invalid interval 'soon'/);
  const extra = await runCli([path, "1", "1", "1"]);
  assert.equal(extra.code, 2);
  assert.match(extra.stderr, /unexpected argument '1'/);
});
