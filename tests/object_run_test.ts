/**
 * Bare BPF objects run by the CLI (`mod.ts prog.bpf.o`) and the library
 * (`runObject`), on the real kernel: the examples' objects and a test
 * object whose record type BTF does not name.
 */
import assert from "node:assert/strict";
import { numPossibleCpus } from "../ffi/mod.ts";
import { runObject } from "../host/object_run.ts";
import {
  assertNoBpfLeaks,
  bpfSnapshot,
  buildGuest,
  CLI_PERMISSIONS,
  ROOT,
  runCli,
} from "./util.ts";

const obj = async (dir: string, name = dir.split("/").pop()!) =>
  `${await buildGuest(dir)}/${name}.bpf.o`;

/** The CLI on an object: stdout lines as they come, stderr collected. */
class ObjectCli {
  readonly child: Deno.ChildProcess;
  readonly lines: string[] = [];
  stderr = "";
  #ready: Promise<void>;
  #done: Promise<void>;
  constructor(args: string[]) {
    const child = this.child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...CLI_PERMISSIONS, `${ROOT}/mod.ts`, "-v", ...args],
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
    }).spawn();
    let ready!: () => void;
    this.#ready = new Promise((r) => ready = r);
    const err = (async () => {
      for await (
        const chunk of child.stderr.pipeThrough(new TextDecoderStream())
      ) {
        this.stderr += chunk;
        if (/attached \d+ programs/.test(this.stderr)) ready();
      }
      ready();
    })();
    const out = (async () => {
      let rest = "";
      for await (
        const chunk of child.stdout.pipeThrough(new TextDecoderStream())
      ) {
        const parts = (rest + chunk).split("\n");
        rest = parts.pop()!;
        this.lines.push(...parts);
      }
    })();
    this.#done = Promise.all([err, out]).then(() => {});
  }
  /** Resolves once every program is attached. */
  ready(): Promise<void> {
    return this.#ready;
  }
  /** Every stdout line that parses as JSON. */
  json(): Record<string, unknown>[] {
    return this.lines.filter((l) => l.startsWith("{")).map((l) =>
      JSON.parse(l)
    );
  }
  /** Waits until `pred` holds for a JSON line (or the deadline). */
  async waitFor(
    pred: (e: Record<string, unknown>) => boolean,
    ms = 10_000,
  ): Promise<Record<string, unknown> | undefined> {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      const hit = this.json().find(pred);
      if (hit) return hit;
      await new Promise((r) => setTimeout(r, 50));
    }
    return undefined;
  }
  /** Sends `signal` and waits for the exit status. */
  async stop(signal: Deno.Signal = "SIGINT"): Promise<number> {
    try {
      this.child.kill(signal);
    } catch { /* already gone */ }
    const st = await this.child.status;
    await this.#done;
    return st.code;
  }
}

async function spawnProcess(cmd: string, args: string[]): Promise<number> {
  const c = new Deno.Command(cmd, { args, stdout: "null", stderr: "null" })
    .spawn();
  await c.status;
  return c.pid;
}

Deno.test("bootstrap.bpf.o: exec and exit events of a process arrive as JSON with its pid, comm and filename", async () => {
  const path = await obj("examples/bootstrap");
  const before = bpfSnapshot();
  const cli = new ObjectCli([path, "--json"]);
  let code: number;
  try {
    await cli.ready();
    const pid = await spawnProcess("/bin/sh", ["-c", "exit 3"]);
    const exec = await cli.waitFor((e) => e.pid === pid && e.exit_event === 0);
    const exit = await cli.waitFor((e) => e.pid === pid && e.exit_event === 1);
    assert.ok(exec, `no exec event of pid ${pid}: ${cli.stderr}`);
    assert.ok(exit, `no exit event of pid ${pid}`);
    assert.equal(exec.comm, "sh");
    assert.match(String(exec.filename), /^(\/usr)?\/bin\/sh$/);
    assert.equal(exec.ppid, Deno.pid);
    assert.equal(exit.exit_code, 3);
    assert.equal(typeof exit.duration_ns, "number");
  } finally {
    code = await cli.stop("SIGINT");
  }
  assert.equal(code, 130, cli.stderr);
  await assertNoBpfLeaks(before);
});

Deno.test("bootstrap.bpf.o --set min_duration_ns filters as bootstrap -d does", async () => {
  const path = await obj("examples/bootstrap");
  const cli = new ObjectCli([
    path,
    "--json",
    "--set",
    "min_duration_ns=200000000",
  ]);
  try {
    await cli.ready();
    const quick = await spawnProcess("/bin/true", []);
    const slow = await spawnProcess("/bin/sleep", ["0.4"]);
    const exit = await cli.waitFor((e) => e.pid === slow);
    assert.ok(exit, `no exit event of the slow pid ${slow}`);
    assert.equal(exit.exit_event, 1);
    assert.ok((exit.duration_ns as number) >= 200_000_000);
    await new Promise((r) => setTimeout(r, 300));
    const events = cli.json();
    assert.equal(events.filter((e) => e.pid === quick).length, 0);
    assert.equal(events.filter((e) => e.exit_event === 0).length, 0);
  } finally {
    assert.equal(await cli.stop("SIGTERM"), 143, cli.stderr);
  }
});

Deno.test("execve.bpf.o (perf event array) and opensnoop.bpf.o: typed records", async () => {
  const execve = new ObjectCli([await obj("examples/execve"), "--json"]);
  const open = new ObjectCli([await obj("examples/opensnoop"), "--json"]);
  try {
    await execve.ready();
    await open.ready();
    const pid = await spawnProcess("/bin/cat", ["/etc/hostname"]);
    const e = await execve.waitFor((e) => e.pid === pid);
    assert.ok(e, `no execve record of pid ${pid}: ${execve.stderr}`);
    assert.equal(e.filename, "/bin/cat");
    const o = await open.waitFor((e) =>
      e.pid === pid && e.fname === "/etc/hostname"
    );
    assert.ok(o, `no openat record of pid ${pid}: ${open.stderr}`);
    assert.equal(o.comm, "cat");
    assert.ok((o.ret as number) >= 0);
  } finally {
    await execve.stop();
    await open.stop();
  }
});

Deno.test("runqlat.bpf.o: its histogram counts under load, as a table and as JSON", async () => {
  const path = await obj("examples/runqlat");
  const before = bpfSnapshot();
  const load = async () => {
    const ps = [];
    for (let i = 0; i < 20; i++) ps.push(spawnProcess("/bin/sleep", ["0.01"]));
    await Promise.all(ps);
  };
  const json = await runCliWhile(["--timeout", "1.5", path, "--json"], load);
  assert.equal(json.code, 124, json.stderr);
  const h = json.stdout.trim().split("\n").map((l) => JSON.parse(l))
    .filter((h) => h.histogram === "hists");
  assert.ok(h.length >= 1, json.stdout);
  const slots = h.at(-1).slots as number[];
  assert.equal(slots.length, 26);
  assert.ok(slots.reduce((a, b) => a + b, 0) > 0, "no counts under load");

  const table = await runCliWhile(
    ["--timeout", "1.5", path, "--interval", "0.5"],
    load,
    true,
  );
  assert.equal(table.code, 124, table.stderr);
  assert.match(table.stdout, /usecs\s+: count\s+distribution/);
  assert.match(table.stdout, /\d+ -> \d+\s+: [1-9]\d*\s+\|\*+ *\|/);
  // printed at each interval and at exit
  assert.ok((table.stdout.match(/distribution/g) ?? []).length >= 3);
  await assertNoBpfLeaks(before);
});

async function runCliWhile(
  args: string[],
  load: () => Promise<void>,
  table = false,
) {
  const p = runCli(table ? [...args, "--table"] : args);
  await new Promise((r) => setTimeout(r, 500));
  await load();
  return await p;
}

Deno.test("a record type BTF does not name prints as hex with its size; --set reaches the program", async () => {
  const path = await obj("tests/guests/object-run");
  const cli = new ObjectCli([
    path,
    "--json",
    "--set=level=-5",
    "--set",
    "mode=MODE_ON",
    "--set",
    "tag=hi",
    "--set",
    "flag=true",
    "--set",
    "big=0xffffffffffffffff",
  ]);
  try {
    await cli.ready();
    const pid = await spawnProcess("/bin/true", []);
    const pidHex = new Uint8Array(new Uint32Array([pid]).buffer);
    const want = [...pidHex].map((b) => b.toString(16).padStart(2, "0"))
      .join("") + "efbeedfe";
    const r = await cli.waitFor((e) =>
      typeof e.hex === "string" && e.hex.startsWith(want)
    );
    assert.ok(r, `no hex record of pid ${pid}: ${cli.lines.slice(0, 3)}`);
    assert.deepEqual(Object.keys(r).sort(), ["hex", "size"]);
    assert.equal(r.size, 40);
    const hex = r.hex as string;
    assert.equal(hex.slice(16, 24), "fbffffff"); // level = -5
    assert.equal(hex.slice(24, 32), "07000000"); // mode = MODE_ON
    assert.equal(hex.slice(32, 48), "6869000000000000"); // tag = "hi"
    assert.equal(hex.slice(48, 64), "ffffffffffffffff"); // big
    assert.equal(hex.slice(64, 66), "01"); // flag
  } finally {
    assert.equal(await cli.stop(), 130, cli.stderr);
  }
});

Deno.test("bad --set names and values fail with one line listing the settable globals; nothing loads", async () => {
  const path = await obj("tests/guests/object-run");
  const before = bpfSnapshot();
  for (
    const set of [
      "nosuch=1",
      "level=abc",
      "level=99999999999",
      "mode=MODE_MAYBE",
      "tag=far-too-long",
      "flag=2",
      "level",
    ]
  ) {
    const r = await runCli([path, "--set", set]);
    assert.equal(r.code, 2, `${set}: ${r.stderr}`);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0],
      /settable: level \(int\), flag \(bool\), mode \(enum run_mode\), tag \(char\[8\]\), big \(unsigned long long\)/,
    );
  }
  await assertNoBpfLeaks(before);
});

Deno.test("a malformed object is refused with the reason, nothing loaded", async () => {
  const path = await obj("tests/guests/object-run");
  const bytes = await Deno.readFile(path);
  const dir = await Deno.makeTempDir();
  const before = bpfSnapshot();
  try {
    await Deno.writeFile(`${dir}/cut.o`, bytes.subarray(0, 200));
    const bad = bytes.slice();
    bad[4] = 1; // ELFCLASS32
    await Deno.writeFile(`${dir}/class.o`, bad);
    for (const [f, why] of [["cut.o", /truncated/], ["class.o", /64-bit/]]) {
      const r = await runCli([`${dir}/${f}`]);
      assert.equal(r.code, 125, r.stderr);
      assert.match(r.stderr, why as RegExp);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  await assertNoBpfLeaks(before);
});

Deno.test("the policy flags hold for bare objects (--allow-kind)", async () => {
  const path = await obj("examples/bootstrap");
  const before = bpfSnapshot();
  const r = await runCli(["--allow-kind", "networking", path]);
  assert.equal(r.code, 125, r.stderr);
  assert.match(r.stderr, /handle_exec/);
  await assertNoBpfLeaks(before);
});

Deno.test("a bare object's pins (--allow-pin) are there while it runs and gone after, as a guest's are", async () => {
  const path = await obj("tests/guests/sandbox-gaps", "pin");
  const dir = `/sys/fs/bpf/wb-objpin-${Deno.pid}-${Date.now()}`;
  Deno.mkdirSync(dir);
  const before = bpfSnapshot();
  try {
    const cli = new ObjectCli(["--allow-pin", dir, path]);
    await cli.ready();
    const pinned = [...Deno.readDirSync(dir)].map((e) => e.name);
    const code = await cli.stop("SIGINT");
    assert.deepEqual(pinned, ["wbgap_pin"], cli.stderr);
    assert.equal(code, 130, cli.stderr);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), []);
    await assertNoBpfLeaks(before);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("bare objects are audited like guests' objects: load and every attach", async () => {
  const path = await obj("examples/bootstrap");
  const dir = await Deno.makeTempDir();
  try {
    const r = await runCli([
      `--audit=${dir}/audit.jsonl`,
      "--timeout",
      "0.5",
      path,
      "--json",
    ], { permissions: [...CLI_PERMISSIONS, `--allow-write=${dir}`] });
    assert.equal(r.code, 124, r.stderr);
    const recs = (await Deno.readTextFile(`${dir}/audit.jsonl`)).trim()
      .split("\n").map((l) => JSON.parse(l));
    assert.equal(recs[0].event, "load");
    assert.deepEqual(
      recs[0].programs.map((p: { name: string }) => p.name).sort(),
      ["handle_exec", "handle_exit"],
    );
    assert.deepEqual(
      recs.filter((r) => r.event === "attach").map((r) => r.program).sort(),
      ["handle_exec", "handle_exit"],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the run ends (status 0, nothing loaded) when its reader goes away, as with | head", async () => {
  const path = await obj("examples/bootstrap");
  const before = bpfSnapshot();
  const cli = new Deno.Command(Deno.execPath(), {
    args: ["run", ...CLI_PERMISSIONS, `${ROOT}/mod.ts`, path, "--json"],
    stdout: "piped",
    stderr: "null",
    stdin: "null",
  }).spawn();
  const reader = cli.stdout.getReader();
  // events keep coming (this test's own processes), then the reader leaves
  const spawner = setInterval(() => spawnProcess("/bin/true", []), 50);
  try {
    const { value } = await reader.read();
    assert.ok(value && value.length > 0);
    await reader.cancel();
    const timer = setTimeout(() => cli.kill("SIGKILL"), 10_000);
    const st = await cli.status;
    clearTimeout(timer);
    assert.equal(st.code, 0);
  } finally {
    clearInterval(spawner);
  }
  await assertNoBpfLeaks(before);
});

Deno.test("runObject: typed events as data, histograms", async () => {
  const before = bpfSnapshot();
  {
    using run = runObject(await obj("examples/bootstrap"));
    const ac = new AbortController();
    const pid = await spawnProcess("/bin/true", []);
    const seen: Record<string, unknown>[] = [];
    const timer = setTimeout(() => ac.abort(), 10_000);
    for await (const ev of run.events({ signal: ac.signal })) {
      assert.equal(ev.map, "rb");
      assert.equal(ev.type, "struct event");
      const e = ev.data as Record<string, unknown>;
      if (e.pid === pid) seen.push(e);
      if (seen.length === 2) break;
    }
    clearTimeout(timer);
    assert.deepEqual(seen.map((e) => [e.exit_event, e.comm]), [
      [0, "true"],
      [1, "true"],
    ]);
  }
  {
    using run = runObject(await obj("examples/runqlat"));
    await spawnProcess("/bin/sleep", ["0.2"]);
    const hs = run.histograms();
    assert.equal(hs[0].map, "hists");
    assert.ok(hs[0].slots.some((n) => n > 0));
  }
  await assertNoBpfLeaks(before);
});

// ---- attach targets (--attach PROG=TARGET) ----

const OBJ_RUN = "tests/guests/object-run";

function xdpOnLo(): boolean {
  const out = new Deno.Command("ip", { args: ["-d", "link", "show", "lo"] })
    .outputSync();
  return /\bxdp/.test(new TextDecoder().decode(out.stdout));
}

/** Ids of the programs attached to cgroup `dir` (bpftool cgroup show). */
function cgroupProgs(dir: string): number[] {
  const out = new Deno.Command("bpftool", {
    args: ["cgroup", "show", dir, "-j"],
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!text) return [];
  return (JSON.parse(text) as { id: number }[]).map((p) => p.id);
}

Deno.test("a bare xdp object runs with --attach count_packets=lo: pings arrive as records and in its histogram, and it leaves lo after", async () => {
  const path = await obj(OBJ_RUN, "xdp_count");
  assert(!xdpOnLo(), "an XDP program is already on lo");
  const before = bpfSnapshot();
  const cli = new ObjectCli([path, "--json", "--attach", "count_packets=lo"]);
  let code: number;
  try {
    await cli.ready();
    assert(xdpOnLo(), `no XDP program on lo while it runs: ${cli.stderr}`);
    const ping = new Deno.Command("ping", {
      args: ["-c", "2", "-i", "0.2", "-W", "1", "127.0.0.1"],
      stdout: "null",
      stderr: "null",
    });
    assert.equal((await ping.output()).code, 0);
    // 2 echo requests and 2 replies of 98 bytes (14 + 20 + 8 + 56) on lo
    const pings = () =>
      cli.json().filter((e) => e.len === 98 && e.ifindex === 1).length;
    const until = Date.now() + 5_000;
    while (pings() < 4 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert(pings() >= 4, `${pings()} ping records: ${cli.lines.join("\n")}`);
  } finally {
    code = await cli.stop("SIGINT");
  }
  assert.equal(code, 130, cli.stderr);
  // at exit: the histogram of packet lengths, the pings in 64 -> 127
  const hist = cli.json().find((e) => e.histogram === "sizes");
  assert(hist, cli.lines.slice(-5).join("\n"));
  assert((hist.slots as number[])[6] >= 4, JSON.stringify(hist));
  assert(!xdpOnLo(), "the XDP program stayed on lo");
  await assertNoBpfLeaks(before);
});

Deno.test("a program that needs a target and has none, or --attach naming no program, is a one-line error naming it; nothing stays loaded", async () => {
  const path = await obj(OBJ_RUN, "xdp_count");
  const before = bpfSnapshot();
  const none = await runCli([path, "--json"]);
  assert.notEqual(none.code, 0);
  assert.equal(none.stderr.trim().split("\n").length, 1, none.stderr);
  assert.match(none.stderr, /'count_packets'.*--attach count_packets=/);
  const unknown = await runCli([path, "--attach", "nope=lo"]);
  assert.notEqual(unknown.code, 0);
  assert.equal(unknown.stderr.trim().split("\n").length, 1, unknown.stderr);
  assert.match(unknown.stderr, /'nope'.*count_packets/);
  const bad = await runCli([path, "--attach", "count_packets"]);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /--attach needs PROGRAM=TARGET/);
  assert(!xdpOnLo(), "an XDP program was left on lo");
  await assertNoBpfLeaks(before);
});

const CGROUP2 = "/sys/fs/cgroup/unified";
let haveCgroup2 = false;
try {
  haveCgroup2 = Deno.statSync(`${CGROUP2}/cgroup.procs`).isFile;
} catch { /* none */ }
if (!haveCgroup2) console.log(`bare cgroup objects: skipped: no ${CGROUP2}`);

Deno.test({
  name:
    "attack: --allow-cgroup holds for a bare object's --attach (a cgroup outside the grant, also by '..', is refused; inside it attaches)",
  ignore: !haveCgroup2,
}, async () => {
  const path = await obj(OBJ_RUN, "cgroup_skb");
  const top = `${CGROUP2}/wasm-bpf-objrun-${Deno.pid}`;
  const granted = `${top}/granted`, outside = `${top}/outside`;
  await Deno.mkdir(`${granted}/child`, { recursive: true });
  await Deno.mkdir(outside);
  const before = bpfSnapshot();
  try {
    // inside the grant (a child of it): attached while it runs
    const ok = new ObjectCli([
      "--allow-cgroup",
      granted,
      path,
      "--attach",
      `count_egress=${granted}/child`,
    ]);
    try {
      await ok.ready();
      assert.equal(cgroupProgs(`${granted}/child`).length, 1, ok.stderr);
    } finally {
      await ok.stop();
    }
    assert.equal(cgroupProgs(`${granted}/child`).length, 0);
    // outside it, directly and through '..': refused, never attached
    for (const target of [outside, `${granted}/../outside`]) {
      const bad = new ObjectCli([
        "--allow-cgroup",
        granted,
        path,
        "--attach",
        `count_egress=${target}`,
      ]);
      const ended = await Promise.race([
        bad.child.status.then((s) => s.code),
        new Promise<undefined>((r) => setTimeout(() => r(undefined), 8_000)),
      ]);
      const attached = cgroupProgs(outside);
      const code = ended ?? await bad.stop();
      assert.deepEqual(attached, [], `attached to ${target}: ${bad.stderr}`);
      assert.notEqual(ended, undefined, `still running: ${bad.stderr}`);
      assert.equal(code, 125, bad.stderr);
      assert.match(bad.stderr, /count_egress.*--allow-cgroup/);
    }
  } finally {
    // cgroup directories go one by one (their files cannot be removed)
    for (const d of [`${granted}/child`, granted, outside, top]) {
      await Deno.remove(d).catch(() => {});
    }
  }
  await assertNoBpfLeaks(before);
});

// ---- per-CPU histograms ----

Deno.test("per-CPU histogram maps (PERCPU_ARRAY, PERCPU_HASH) are summed over the CPUs", async (t) => {
  const cpus = numPossibleCpus();
  if (cpus < 2) {
    console.log("per-CPU histograms: skipped: one possible CPU");
    return;
  }
  const online = Number(
    new TextDecoder().decode(
      new Deno.Command("nproc").outputSync().stdout,
    ).trim(),
  );
  const path = await obj(OBJ_RUN, "percpu_hist");
  const before = bpfSnapshot();
  {
    using run = runObject(path, { set: { targ_ppid: Deno.pid } });
    assert.deepEqual(
      run.histogramMaps.map((h) => h.map).sort(),
      ["execs_arr", "execs_hash"],
    );
    // each run execs twice (taskset, then /bin/true on CPU i)
    const runs = 3 * Math.min(online, 4);
    for (let i = 0; i < runs; i++) {
      const c = new Deno.Command("taskset", {
        args: ["-c", String(i % Math.min(online, 4)), "/bin/true"],
        stdout: "null",
        stderr: "null",
      });
      assert.equal((await c.output()).code, 0);
    }
    // the counts really are spread over several CPUs (the raw values)
    const raw = run.obj.map("execs_arr").lookup(new Uint8Array(4))!;
    const perCpu = Array.from(
      { length: cpus },
      (_, c) =>
        Number(new DataView(raw.buffer, raw.byteOffset).getBigUint64(
          c * 64 + 3 * 8,
          true,
        )),
    );
    assert(
      perCpu.filter((n) => n > 0).length >= 2,
      `counts on one CPU only: ${perCpu}`,
    );
    const hists = run.histograms();
    await t.step("PERCPU_ARRAY, u64 slots", () => {
      const h = hists.find((h) => h.map === "execs_arr")!;
      assert.equal(h.key, 0);
      assert.equal(h.slots[3], 2 * runs, JSON.stringify(h));
      assert.equal(h.slots.reduce((a, b) => a + b, 0), 2 * runs);
    });
    await t.step(
      "PERCPU_HASH keyed by a struct, u32 slots, 36-byte values 8-aligned per CPU",
      () => {
        const h = hists.find((h) => h.map === "execs_hash")!;
        assert.deepEqual(h.key, { kind: 7 });
        assert.deepEqual(h.slots, [0, 0, 0, 2 * runs, 0], JSON.stringify(h));
        assert.match(String(h.fields.comm), /^(true|taskset)$/);
      },
    );
  }
  await assertNoBpfLeaks(before);
});

/** A veth pair made here (its peer counts what is sent out of it), or why not. */
function vethPair(): { name: string; peer: string; remove(): void } | string {
  const name = `wbrd${Deno.pid % 100000}`;
  const ip = (...args: string[]) =>
    new Deno.Command("ip", { args, stdout: "null", stderr: "null" })
      .outputSync().success;
  if (!ip("link", "add", name, "type", "veth", "peer", "name", `${name}p`)) {
    return "this kernel makes no veth pair (ip link add ... type veth)";
  }
  // no IPv6 on the pair: a new link's own router and listener messages
  // would count as packets sent out of it
  for (const dev of [name, `${name}p`]) {
    try {
      Deno.writeTextFileSync(
        `/proc/sys/net/ipv6/conf/${dev}/disable_ipv6`,
        "1",
      );
    } catch { /* no IPv6 here at all */ }
    ip("link", "set", dev, "up");
  }
  return { name, peer: `${name}p`, remove: () => ip("link", "del", name) };
}

Deno.test("bpf_redirect sends packets past --allow-interface, so --restricted needs --allow-helper for it (judged by the packets that leave)", async (t) => {
  const veth = vethPair();
  if (typeof veth === "string") {
    console.log(`skipped: ${veth}`);
    return;
  }
  try {
    const path = await obj(OBJ_RUN, "redirect");
    const target = Deno.readTextFileSync(`/sys/class/net/${veth.name}/ifindex`)
      .trim();
    const sock = (await import("node:dgram")).createSocket("udp4");
    const port = 40000 + Deno.pid % 20000;
    const rx = () =>
      Number(
        Deno.readTextFileSync(
          `/sys/class/net/${veth.peer}/statistics/rx_packets`,
        ),
      );
    /** Packets that reach the peer while the object runs with `flags`. */
    const leaked = async (flags: string[]) => {
      const before = bpfSnapshot();
      const cli = new ObjectCli([
        ...flags,
        path,
        "--attach",
        "redirect_out=lo:egress",
        "--set",
        `target_ifindex=${target}`,
        "--set",
        `port=${port}`,
      ]);
      // attached, or refused and gone: the packets are sent either way
      await Promise.race([cli.ready(), cli.child.status]);
      const start = rx();
      for (let i = 0; i < 20; i++) {
        await new Promise((r) =>
          sock.send(new Uint8Array(8), port, "127.0.0.1", r)
        );
      }
      await new Promise((r) => setTimeout(r, 200));
      const n = rx() - start;
      await cli.stop("SIGINT");
      await assertNoBpfLeaks(before);
      return { n, stderr: cli.stderr };
    };
    const restrict = [
      "--restricted",
      "--allow-kind=networking",
      "--allow-interface=lo",
    ];
    await t.step("restricted: refused, nothing leaves", async () => {
      const r = await leaked(restrict);
      assert.equal(r.n, 0, r.stderr);
      assert.match(r.stderr, /redirect_out.*bpf_redirect/);
    });
    await t.step("granted: the same object sends them out", async () => {
      const r = await leaked([...restrict, "--allow-helper=bpf_redirect"]);
      assert(
        r.n >= 20,
        `only ${r.n} packets left through ${veth.name}:\n${r.stderr}`,
      );
    });
    sock.close();
  } finally {
    veth.remove();
  }
});
