/**
 * Containment: one guest, one process. Guests started with spawn()/run()
 * run in a process of their own; whatever they do (spin, sleep, block in
 * an embedder's host function or in a callback, crash their runtime, lose
 * their embedder), a stop stops them within the grace period, nothing of
 * theirs stays in the kernel, and nothing of the embedder's process is
 * touched. Each test judges outcomes: the status, the guest's process, the
 * kernel's BPF objects, the embedder's own fds.
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
import { sleep, spawnAndWait } from "../examples/tool_test_util.ts";
import { type GuestProcess, type GuestStatus, run, spawn } from "../mod.ts";

const contain = async () =>
  `${await buildGuest("tests/guests/contain")}/contain.wasm`;
const hostfn = async () =>
  `${await buildGuest("tests/guests/contain")}/hostfn.wasm`;
const HOST_FUNCTIONS = `${ROOT}/tests/guests/contain/host_functions.ts`;
const CRASHING_FUNCTIONS = `${ROOT}/tests/guests/contain/crash_functions.ts`;

/** The lines a piped stream delivers, collected as they come. */
class Lines {
  readonly lines: string[] = [];
  readonly done: Promise<void>;
  constructor(stream: ReadableStream<Uint8Array> | null) {
    assert(stream, "stream is not piped");
    this.done = (async () => {
      let rest = "";
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        rest += chunk;
        const parts = rest.split("\n");
        rest = parts.pop()!;
        this.lines.push(...parts);
      }
      if (rest) this.lines.push(rest);
    })();
  }
  async waitFor(re: RegExp, ms = 15_000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = this.lines.find((l) => re.test(l));
      if (hit !== undefined) return hit;
      if (Date.now() > deadline) {
        throw new Error(
          `no line matching ${re}; got:\n${this.lines.join("\n")}`,
        );
      }
      await sleep(20);
    }
  }
}

/** This process's open fds: number → what it refers to (link target). */
function ownFds(): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of Deno.readDirSync("/proc/self/fd")) {
    try {
      out.set(e.name, Deno.readLinkSync(`/proc/self/fd/${e.name}`));
    } catch { /* the fd of the listing itself */ }
  }
  return out;
}

/** The embedder's own files, opened before a guest runs. */
async function embedderFiles() {
  const dir = await Deno.makeTempDir({ prefix: "embedder-" });
  const files = await Promise.all(
    [0, 1, 2].map((i) =>
      Deno.open(`${dir}/own-${i}`, { read: true, write: true, create: true })
    ),
  );
  for (const [i, f] of files.entries()) {
    await f.write(new TextEncoder().encode(`embedder file ${i}\n`));
  }
  const fdsBefore = ownFds();
  return {
    /** The embedder's files are open, unchanged, and still its own. */
    async check() {
      for (const [i, f] of files.entries()) {
        await f.seek(0, Deno.SeekMode.Start);
        const buf = new Uint8Array(64);
        const n = await f.read(buf);
        assert.equal(
          new TextDecoder().decode(buf.subarray(0, n ?? 0)),
          `embedder file ${i}\n`,
        );
      }
      const now = ownFds();
      for (const [fd, target] of fdsBefore) {
        if (!target.startsWith(dir)) continue;
        assert.equal(now.get(fd), target, `embedder fd ${fd} was replaced`);
      }
    },
    async close() {
      for (const f of files) f.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

function processGone(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}

/**
 * Runs `body` with a guest; afterwards the guest's process is gone, no BPF
 * object of it exists, and the embedder's own files are untouched.
 */
async function contained(
  body: (before: ReturnType<typeof bpfSnapshot>) => Promise<GuestProcess>,
) {
  const files = await embedderFiles();
  const before = bpfSnapshot();
  let guest: GuestProcess | undefined;
  try {
    guest = await body(before);
    await guest.status;
    assert(processGone(guest.pid), `guest process ${guest.pid} still exists`);
    await assertNoBpfLeaks(before);
    await files.check();
  } finally {
    if (guest) await guest[Symbol.asyncDispose]();
    await files.close();
  }
}

/** Asserts the status is a stop by `signal`, within the grace period. */
function assertStopped(
  status: GuestStatus,
  signal: string,
  elapsedMs: number,
  graceMs: number,
) {
  assert.equal(status.kind, "interrupted", JSON.stringify(status));
  assert.equal(status.signal, signal);
  assert(
    elapsedMs < graceMs + 2500,
    `took ${elapsedMs} ms to stop, grace ${graceMs} ms`,
  );
}

Deno.test("tracing guests stopped after 3 s leave nothing (events captured while running)", async () => {
  const cases: [string, string[], RegExp][] = [
    ["examples/bootstrap", [], /^TIME\s+EVENT/],
    ["examples/runqlat", ["1"], /usecs\s+:\s+count/],
  ];
  for (const [dir, args, seen] of cases) {
    const name = dir.split("/").pop()!;
    const wasm = `${await buildGuest(dir)}/${name}.wasm`;
    await contained(async () => {
      const guest = spawn(wasm, { args, stdout: "piped" });
      const out = new Lines(guest.stdout);
      const load = setInterval(() => spawnAndWait("/bin/true", []), 100);
      try {
        await out.waitFor(seen); // read while the guest runs
        await sleep(3000 - 0);
      } finally {
        clearInterval(load);
      }
      guest.kill();
      const status = await guest.status;
      assert.equal(
        status.kind,
        "interrupted",
        `${name}: ${JSON.stringify(status)}`,
      );
      assert.equal(status.forced, undefined, `${name} unwound by itself`);
      await out.done;
      assert(out.lines.length > 1, `${name} printed ${out.lines}`);
      return guest;
    });
  }
});

Deno.test("bootstrap's exec events reach the embedder as stdout lines", async () => {
  const wasm = `${await buildGuest("examples/bootstrap")}/bootstrap.wasm`;
  await contained(async () => {
    const guest = spawn(wasm, { stdout: "piped" });
    const out = new Lines(guest.stdout);
    await out.waitFor(/^TIME\s+EVENT/);
    const child = await spawnAndWait("/bin/true", []);
    await out.waitFor(new RegExp(`EXEC\\s+true\\s+${child.pid}\\b`));
    guest.kill("SIGINT");
    assert.equal((await guest.status).signal, "SIGINT");
    return guest;
  });
});

const CGROUP2 = "/sys/fs/cgroup/unified";
const haveCgroup2 = (() => {
  try {
    return Deno.statSync(`${CGROUP2}/cgroup.procs`).isFile;
  } catch {
    return false;
  }
})();

Deno.test("network guests (socket filter on lo, sockops on a cgroup) stopped leave nothing attached", async () => {
  const cgroup = `${CGROUP2}/wasm-bpf-contain-${Deno.pid}`;
  const cases: [string, string[]][] = [["examples/sockfilter", ["-i", "lo"]]];
  if (haveCgroup2) {
    await Deno.mkdir(cgroup);
    cases.push(["examples/sockops", ["-c", cgroup]]);
  } else {
    console.log(`sockops case skipped: no cgroup v2 at ${CGROUP2}`);
  }
  try {
    for (const [dir, args] of cases) {
      const name = dir.split("/").pop()!;
      const wasm = `${await buildGuest(dir)}/${name}.wasm`;
      await contained(async () => {
        const guest = spawn(wasm, { args, stdout: "piped" });
        const out = new Lines(guest.stdout);
        await out.waitFor(/\S/);
        await sleep(1000);
        guest.kill();
        assert.equal((await guest.status).kind, "interrupted");
        return guest;
      });
      if (name === "sockops") {
        const show = await new Deno.Command("bpftool", {
          args: ["cgroup", "show", cgroup],
          stdout: "piped",
        }).output();
        assert.doesNotMatch(
          new TextDecoder().decode(show.stdout),
          /sock_ops/,
          "a sockops program is still attached to the cgroup",
        );
      }
    }
  } finally {
    if (haveCgroup2) await Deno.remove(cgroup).catch(() => {});
  }
});

Deno.test("an LSM guest this kernel refuses ends cleanly, the reason delivered to log", async () => {
  const wasm = `${await buildGuest("examples/lsm")}/lsm.wasm`;
  const tmp = await Deno.makeTempDir({ prefix: "contain-lsm-" });
  const logs: string[] = [];
  try {
    await contained(async () => {
      const guest = spawn(wasm, {
        args: [tmp],
        stdout: "null",
        stderr: "null",
        log: (l) => logs.push(l),
      });
      const status = await guest.status;
      if (status.kind === "exited" && status.guestCode === 0) {
        console.log(
          "lsm: this kernel runs BPF LSM; the refusal path is not taken",
        );
        return guest;
      }
      assert.equal(status.kind, "exited", JSON.stringify(status));
      assert.notEqual(status.guestCode, 0);
      assert(
        logs.some((l) => /cannot (load|attach).*deny_rmdir|lsm/i.test(l)),
        `no reason in the log:\n${logs.join("\n")}`,
      );
      return guest;
    });
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("the go-callback convention works through spawn()", async () => {
  const dir = await buildGuest("tests/guests/tinygo-wat").catch(() => null);
  const wasm = `${ROOT}/build/tests/guests/tinygo-wat/guest.wasm`;
  try {
    Deno.statSync(wasm);
  } catch {
    console.log(`tinygo-wat guest not built (${dir}): wat2wasm missing`);
    return;
  }
  await contained(async () => {
    const guest = spawn(wasm, { stdout: "piped" });
    const out = new Lines(guest.stdout);
    await out.waitFor(/^polling$/);
    const child = await spawnAndWait("/bin/true", []);
    await out.waitFor(new RegExp(`^event ctx=4660 .* pid=${child.pid} `));
    guest.kill();
    await guest.status;
    return guest;
  });
});

Deno.test("a paused guest prints nothing; resumed, it ticks again", async () => {
  const wasm = await contain();
  await contained(async () => {
    const guest = spawn(wasm, { args: ["tick", "20"], stdout: "piped" });
    const out = new Lines(guest.stdout);
    await out.waitFor(/^tick 3$/);
    guest.pause();
    assert(guest.paused);
    await sleep(300); // what was in the pipe arrives
    const atPause = out.lines.length;
    await sleep(700);
    assert.equal(out.lines.length, atPause, "ticks while paused");
    guest.resume();
    await out.waitFor(new RegExp(`^tick ${atPause + 3}$`));
    guest.kill();
    await guest.status;
    return guest;
  });
});

Deno.test("a paused guest can still be stopped", async () => {
  const wasm = await contain();
  await contained(async () => {
    const guest = spawn(wasm, { args: ["events", "1"], stdout: "piped" });
    const out = new Lines(guest.stdout);
    await out.waitFor(/^ready$/);
    guest.pause();
    const t0 = Date.now();
    guest.kill();
    assertStopped(await guest.status, "SIGTERM", Date.now() - t0, 2000);
    return guest;
  });
});

Deno.test("embedder host functions: plus_i32 from a module of the embedder", async () => {
  const wasm = await hostfn();
  await contained(async () => {
    const guest = spawn(wasm, {
      args: ["plus", "40", "2"],
      stdout: "piped",
      imports: HOST_FUNCTIONS,
    });
    const out = new Lines(guest.stdout);
    const status = await guest.status;
    await out.done;
    assert.deepEqual(status, {
      kind: "exited",
      code: 0,
      success: true,
      guestCode: 0,
    });
    assert.deepEqual(out.lines, ["plus_i32(40, 2) = 42"]);
    return guest;
  });
  // the CLI takes the same module
  const cli = await runCli([
    "--imports",
    HOST_FUNCTIONS,
    wasm,
    "plus",
    "-5",
    "7",
  ]);
  assert.equal(cli.code, 0, cli.stderr);
  assert.equal(cli.stdout, "plus_i32(-5, 7) = 2\n");
});

Deno.test("stops within the grace period: a 10 s host function, a 5 s sleep in a callback, a WASI sleep, a pure loop", async () => {
  const graceMs = 1000;
  const cases: [string, () => Promise<string>, string[], RegExp, boolean][] = [
    ["host function", hostfn, ["block", "10000"], /^blocking$/, true],
    [
      "sleep in callback",
      contain,
      ["cbsleep", String(Deno.pid)],
      /^in callback$/,
      false,
    ],
    ["WASI sleep", contain, ["sleep", "30"], /^sleeping$/, false],
    ["pure loop", contain, ["spin"], /^ready$/, false],
  ];
  for (const [what, wasm, args, ready, imports] of cases) {
    await contained(async () => {
      const guest = spawn(await wasm(), {
        args,
        stdout: "piped",
        graceMs,
        imports: imports ? HOST_FUNCTIONS : undefined,
      });
      const out = new Lines(guest.stdout);
      if (what === "sleep in callback") {
        await out.waitFor(/^ready$/);
        await spawnAndWait("/bin/true", []);
      }
      await out.waitFor(ready);
      const t0 = Date.now();
      guest.kill();
      const status = await guest.status;
      assertStopped(status, "SIGTERM", Date.now() - t0, graceMs);
      assert(
        !out.lines.includes("returned") && !out.lines.includes("woke"),
        `${what}: the guest went on after the stop: ${out.lines}`,
      );
      return guest;
    });
  }
});

Deno.test("a guest that goes on loading objects after the stop is ended, and nothing it loaded stays", async () => {
  const wasm = await contain();
  await contained(async (before) => {
    const guest = spawn(wasm, {
      args: ["loadloop"],
      stdout: "piped",
      graceMs: 500,
    });
    const out = new Lines(guest.stdout);
    await out.waitFor(/^ready$/);
    guest.kill();
    const status = await guest.status;
    assert.equal(status.kind, "interrupted");
    // nothing appears later either
    await sleep(500);
    await assertNoBpfLeaks(before);
    return guest;
  });
});

Deno.test("exit codes are the guest's own: 0, 1, and 255 for main returning -1", async () => {
  const wasm = await contain();
  for (
    const [args, code] of [[["exit", "0"], 0], [["exit", "1"], 1], [[
      "ret-1",
    ], 255]] as [string[], number][]
  ) {
    const status = await run(wasm, { args, stdout: "null" });
    assert.deepEqual(status, {
      kind: "exited",
      code,
      success: code === 0,
      guestCode: code,
    });
    const cli = await runCli([wasm, ...args]);
    assert.equal(cli.code, code);
    assert.equal(cli.stderr, "", "no host message for a guest's own exit");
  }
  // the host's own failure is not a guest code
  const bad = await run(`${ROOT}/README.md`);
  assert.equal(bad.kind, "failed");
  assert.equal(bad.code, 125);
});

Deno.test("a guest that crashes its process leaves the embedder running and is reported", async () => {
  const wasm = await hostfn();
  await contained(async () => {
    const guest = spawn(wasm, {
      args: ["plus", "1", "2"],
      stdout: "null",
      stderr: "null",
      log: () => {},
      imports: CRASHING_FUNCTIONS,
    });
    const status = await guest.status;
    assert.equal(status.kind, "crashed", JSON.stringify(status));
    assert.equal(status.signal, "SIGSEGV");
    assert.equal(status.code, 128 + 11);
    return guest;
  });
});

Deno.test("a guest whose embedder dies is stopped, and its BPF objects go", async () => {
  const wasm = await contain();
  const before = bpfSnapshot();
  const embedder = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { spawn } from "${ROOT}/mod.ts";
       const g = spawn(${
        JSON.stringify(wasm)
      }, { args: ["events", "1"], stdout: "piped" });
       const r = g.stdout.getReader();
       await r.read();
       console.log(g.pid);
       await new Promise(() => {});`,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = embedder.stdout.pipeThrough(new TextDecoderStream())
    .getReader();
  const first = await reader.read();
  const guestPid = Number(first.value?.trim());
  assert(guestPid > 0, `no guest pid: ${first.value}`);
  assert(!processGone(guestPid));
  embedder.kill("SIGKILL");
  await embedder.status;
  reader.releaseLock();
  await embedder.stdout.cancel().catch(() => {});
  const deadline = Date.now() + 5000;
  while (!processGone(guestPid) && Date.now() < deadline) await sleep(50);
  assert(processGone(guestPid), "the guest outlived its embedder");
  await assertNoBpfLeaks(before);
});

Deno.test("many runs leak no fd of the embedder", async () => {
  const wasm = await contain();
  // the count once pipes of finished runs have closed (closing completes
  // a moment after the status settles)
  const settled = async () => {
    let n = ownFds().size;
    for (let i = 0; i < 20; i++) {
      await sleep(50);
      const m = ownFds().size;
      if (m === n) return m;
      n = m;
    }
    return n;
  };
  await run(wasm, { args: ["exit", "0"] });
  const before = await settled();
  for (let i = 0; i < 15; i++) {
    const s = await run(wasm, { args: ["exit", "0"] });
    assert.equal(s.kind, "exited");
  }
  // a leak of one fd per run would show as 15 more
  assert.equal(await settled(), before);
});

Deno.test("the CLI names the host's outcome in one line; a guest cannot pass for it", async () => {
  const wasm = await contain();
  const limited = await runCli(["--timeout", "1", wasm, "spin"], {
    permissions: CLI_PERMISSIONS,
  });
  assert.equal(limited.code, 124);
  assert.match(limited.stderr, /time limit/);
  const own = await runCli([wasm, "exit", "124"]);
  assert.equal(own.code, 124);
  assert.equal(own.stderr, "");
});

Deno.test("a guest cannot forge the host's status, audit records or messages", async () => {
  const wasm = await contain();
  const audit: Record<string, unknown>[] = [];
  const logs: string[] = [];
  await contained(async () => {
    const guest = spawn(wasm, {
      args: ["forge"],
      stdout: "piped",
      stderr: "piped",
      audit: (r) => audit.push(r),
      log: (l) => logs.push(l),
    });
    const out = new Lines(guest.stdout);
    const err = new Lines(guest.stderr);
    const status = await guest.status;
    await Promise.all([out.done, err.done]);
    assert.equal(status.kind, "exited");
    assert.equal(status.guestCode, 7, "the forged status was taken");
    assert.deepEqual(audit, [], "a forged audit record was taken");
    assert.deepEqual(logs, [], "a forged host message reached the log");
    // the guest's bytes still reach its own streams, as it wrote them
    assert.equal(err.lines.length, 4);
    assert(err.lines[0].startsWith(`\x1e{"t":"status"`), err.lines[0]);
    assert.deepEqual(out.lines, err.lines);
    return guest;
  });
});

/**
 * A guest that allocates WasmGC arrays (1 MiB each, kept in a table) until
 * something stops it: its linear memory stays small, its JavaScript heap
 * does not.
 *
 *   (module (type $a (array (mut i8))) (type $f (func))
 *     (table $t 0 (ref null $a)) (memory (export "memory") 1)
 *     (func (export "_start")
 *       (loop $l
 *         (drop (table.grow $t (array.new_default $a (i32.const 1048576))
 *                              (i32.const 1)))
 *         (br $l))))
 */
const GC_HOG = new Uint8Array([
  0,
  97,
  115,
  109,
  1,
  0,
  0,
  0,
  1,
  7,
  2,
  94,
  120,
  1,
  96,
  0,
  0,
  3,
  2,
  1,
  1,
  4,
  5,
  1,
  99,
  0,
  0,
  0,
  5,
  3,
  1,
  0,
  1,
  7,
  19,
  2,
  6,
  109,
  101,
  109,
  111,
  114,
  121,
  2,
  0,
  6,
  95,
  115,
  116,
  97,
  114,
  116,
  0,
  0,
  10,
  23,
  1,
  21,
  0,
  3,
  64,
  65,
  128,
  128,
  192,
  0,
  251,
  7,
  0,
  65,
  1,
  252,
  15,
  0,
  26,
  12,
  0,
  11,
  11,
]);

Deno.test("--max-memory holds for WasmGC objects too: the guest is stopped naming the limit, the embedder lives", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const wasm = `${dir}/gc_hog.wasm`;
    await Deno.writeFile(wasm, GC_HOG);
    const logs: string[] = [];
    const status = await run(wasm, {
      policy: { maxMemoryBytes: 64 * 2 ** 20 },
      log: (l) => logs.push(l),
    });
    assert.equal(status.kind, "crashed", JSON.stringify(status));
    assert.match(status.message!, /out of memory \(the limit is 64 MiB/);
    // the CLI: the same guest in a process of its own
    const cli = await runCli(["--max-memory", "64", wasm], {
      permissions: [...CLI_PERMISSIONS, "--allow-run"],
      timeoutMs: 60_000,
    });
    assert.notEqual(cli.code, 0);
    assert.match(cli.stderr, /out of memory \(the limit is 64 MiB/);
    // without --allow-run the CLI says what it needs, and runs nothing
    const denied = await runCli(["--max-memory", "64", wasm]);
    assert.equal(denied.code, 125);
    assert.match(denied.stderr, /deno needs --allow-run/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("WasmBpfHost.interrupt(): an in-process guest gets -EINTR, then is unwound, nothing left", async () => {
  const { Wasi } = await import("../host/wasi/mod.ts");
  const { GuestInterrupted, WasmBpfHost } = await import("../mod.ts");
  const before = bpfSnapshot();
  const module = await WebAssembly.compile(
    await Deno.readFile(await contain()),
  );
  const host = new WasmBpfHost({ name: "in-process", log: () => {} });
  const out: string[] = [];
  const wasi = new Wasi({
    args: ["contain", "events", "1"],
    env: {},
    preopens: [],
    // the embedder stops the guest once it says it is ready
    stdout: (bytes) => {
      out.push(new TextDecoder().decode(bytes));
      if (out.join("").includes("ready")) host.interrupt("embedder");
    },
    stderr: () => {},
  });
  const instance = new WebAssembly.Instance(module, {
    ...wasi.imports,
    ...host.imports(),
  });
  host.bind(instance);
  try {
    // the guest ignores -EINTR and polls again: that call unwinds it
    assert.throws(() => wasi.start(instance), GuestInterrupted);
    assert.equal(host.objectCount, 1, "the guest's object is still open");
  } finally {
    host.close();
  }
  assert.equal(host.objectCount, 0);
  await assertNoBpfLeaks(before);
});

Deno.test("without the native watchdog (a Worker runs the guest), stops stop too", async () => {
  const wasm = await contain();
  const env = { WASM_BPF_WATCHDOG: "off" };
  const before = bpfSnapshot();
  // a pure loop at the time limit: ended after the grace period
  const t0 = Date.now();
  const spin = await runCli(["--timeout", "1", wasm, "spin"], { env });
  assert.equal(spin.code, 124, spin.stderr);
  assert.match(spin.stderr, /did not stop within 2000 ms and was ended/);
  assert(Date.now() - t0 < 10_000);
  // a guest that honours the stop
  const sleepy = await runCli(["--timeout", "1", wasm, "sleep", "30"], { env });
  assert.equal(sleepy.code, 124, sleepy.stderr);
  assert.doesNotMatch(sleepy.stderr, /was ended/);
  await assertNoBpfLeaks(before);
});

Deno.test("with the native watchdog, a guest in a pure loop is ended at the grace period", async () => {
  const wasm = await contain();
  const before = bpfSnapshot();
  const spin = await runCli(["--timeout", "1", wasm, "spin"]);
  assert.equal(spin.code, 124, spin.stderr);
  assert.match(spin.stderr, /did not stop within 2000 ms and was ended/);
  await assertNoBpfLeaks(before);
});
