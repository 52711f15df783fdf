/**
 * The wasm_bpf imports, driven by a C guest (tests/guests/abi) on the real
 * kernel, through the CLI: events for processes this test spawns, maps,
 * reloads, every error path, traps, signals; and no BPF object left behind.
 */
import assert from "node:assert/strict";
import { assertNoBpfLeaks, bpfSnapshot, buildGuest, runCli } from "./util.ts";
import { spawnAndWait, Tool } from "../examples/tool_test_util.ts";
import { fastPath } from "../ffi/native.ts";

const guest = async () => `${await buildGuest("tests/guests/abi")}/abi.wasm`;
const ME = String(Deno.pid);

function possibleCpus(): number {
  const text = Deno.readTextFileSync("/sys/devices/system/cpu/possible").trim();
  let n = 0;
  for (const part of text.split(",")) {
    const [a, b] = part.split("-").map(Number);
    n += b === undefined ? 1 : b - a + 1;
  }
  return n;
}

/** key=value pairs of the guest's output lines. */
function values(out: string): Record<string, string> {
  const v: Record<string, string> = {};
  for (const m of out.matchAll(/([a-z_0-9]+)=(-?\w+)/g)) v[m[1]] = m[2];
  return v;
}

async function eventsOf(
  cmd: string,
  spawn: () => Promise<{ pid: number }[]>,
  n: number,
) {
  const wasm = await guest();
  const before = bpfSnapshot();
  const tool = new Tool(wasm, [cmd, ME, String(n)]);
  await tool.waitFor(/^ready/);
  const children = await spawn();
  const res = await tool.wait(20_000);
  assert.equal(res.code, 0, `guest failed:\n${res.stdout}\n${res.stderr}`);
  assert.match(res.stdout, /close=0/);
  await assertNoBpfLeaks(before);
  return { lines: res.lines, children };
}

for (
  const [cmd, tag, title] of [
    [
      "ring",
      "rb",
      "ring buffer: exec events of processes we spawn reach the guest callback",
    ],
    ["perf", "pb", "perf buffer: the same events through a perf event array"],
    [
      "grow",
      "rb",
      "memory grown inside a callback: later records still land in the new memory",
    ],
  ]
) {
  Deno.test(title, async () => {
    const { lines, children } = await eventsOf(
      cmd,
      async () => [
        await spawnAndWait("/bin/true", []),
        await spawnAndWait("/bin/true", []),
      ],
      2,
    );
    for (const c of children) {
      assert(
        lines.includes(`${tag} EXEC pid=${c.pid} ppid=${ME} comm=true`),
        lines.join("\n"),
      );
    }
  });
}

Deno.test("two ring buffers of one object polled alternately, in order, with exit codes", async () => {
  const { lines, children } = await eventsOf(
    "two",
    async () => [
      await spawnAndWait("/bin/sh", ["-c", "exit 3"]),
      await spawnAndWait("/bin/true", []),
    ],
    2,
  );
  const [sh, tr] = children;
  const at = (l: string) => lines.indexOf(l);
  assert(at(`rb EXEC pid=${sh.pid} ppid=${ME} comm=sh`) >= 0, lines.join("\n"));
  assert(
    at(`rb2 EXIT pid=${sh.pid} ppid=${ME} code=3 comm=sh`) >= 0,
    lines.join("\n"),
  );
  assert(
    at(`rb EXEC pid=${tr.pid} ppid=${ME} comm=true`) >= 0,
    lines.join("\n"),
  );
  assert(
    at(`rb2 EXIT pid=${tr.pid} ppid=${ME} code=0 comm=true`) >= 0,
    lines.join("\n"),
  );
  // each buffer delivers in order
  assert(
    at(`rb EXEC pid=${sh.pid} ppid=${ME} comm=sh`) <
      at(`rb EXEC pid=${tr.pid} ppid=${ME} comm=true`),
  );
});

for (const fast of ["on", "off"]) {
  Deno.test(`map lookup/update/delete/iterate round-trips, per-CPU included (fast path ${fast})`, async () => {
    const before = bpfSnapshot();
    const ncpus = possibleCpus();
    const res = await runCli([await guest(), "maps", String(ncpus)], {
      env: fast === "off" ? { WASM_BPF_FAST: "off" } : {},
    });
    assert.equal(res.code, 0, res.stderr);
    const v = values(res.stdout);
    assert.equal(v.update_noexist, "-17"); // EEXIST
    assert.equal(v.lookup7, "0");
    assert.equal(v.val, "7000");
    assert.equal(v.iterated, "10");
    assert.equal(v.keysum, "55");
    assert.equal(v.end, "-2");
    assert.equal(v.delete7, "0");
    assert.equal(v.lookup7_after, "-2");
    assert.equal(v.delete7_again, "-2");
    assert.equal(v.update, "0");
    assert.equal(v.lookup, "0");
    // slots 100, 101, ... one per possible CPU
    assert.equal(Number(v.sum), ncpus * 100 + (ncpus * (ncpus - 1)) / 2);
    assert.equal(v.close, "0");
    assert.equal(v.after_close, "-9");
    await assertNoBpfLeaks(before);
  });
}

Deno.test("the native map fast path is built by set-up and loads", () => {
  assert(
    fastPath(),
    "build/native/libwasm_bpf_fast.so (scripts/setup.sh builds it with gcc)",
  );
});

Deno.test("close and reload; two objects at once stay apart", async () => {
  const before = bpfSnapshot();
  const res = await runCli([await guest(), "reload"]);
  assert.equal(res.code, 0, res.stderr);
  for (let i = 0; i < 3; i++) {
    assert.match(
      res.stdout,
      new RegExp(`round ${i} handle=\\d+ fd_ok=1 close=0`),
    );
  }
  assert.match(res.stdout, /two objects: a=11 b=22/);
  assert.match(res.stdout, /cross_poll=-9/); // another object's fd: EBADF
  assert.match(res.stdout, /close=0,0/);
  assert.match(res.stdout, /close_again=-22/);
  await assertNoBpfLeaks(before);
});

Deno.test("error paths: bad pointers, foreign fds, unknown handles and names, malformed ELF", async () => {
  const before = bpfSnapshot();
  const res = await runCli([await guest(), "errors"]);
  assert.equal(res.code, 0, res.stderr);
  const expected: Record<string, string> = {
    load_out_of_range: "0",
    load_null: "0",
    load_malformed: "0",
    load_truncated: "0",
    name_unterminated: "-14",
    name_out_of_range: "-14",
    key_out_of_range: "-14",
    value_out_of_range: "-14",
    value_null: "-14",
    fd_stdout: "-9",
    fd_negative: "-9",
    bad_cmd: "-22",
    poll_stdout: "-9",
    poll_not_buffer: "-22",
    poll_bad_callback: "-22",
    poll_bad_data: "-14",
    handle_unknown: "-22",
    attach_unknown_handle: "-22",
    attach_unknown_program: "-2",
    attach_bad_target: "-22",
    map_unknown: "-2",
    close: "0",
    close_closed: "-22",
    fd_after_close: "-9",
  };
  assert.deepEqual(
    Object.fromEntries(
      Object.keys(expected).map((k) => [k, values(res.stdout)[k]]),
    ),
    expected,
  );
  // the messages name what was at fault
  assert.match(
    res.stderr,
    /no program 'no_such_prog' in BPF object 'abi\.wasm#1' \(it has: handle_exec, handle_exit\)/,
  );
  assert.match(res.stderr, /no map 'no_such_map'/);
  assert.match(
    res.stderr,
    /cannot open BPF object 'abi\.wasm#\d+': not an ELF file/,
  );
  assert.match(
    res.stderr,
    /cannot open BPF object 'abi\.wasm#\d+': truncated ELF/,
  );
  assert.match(
    res.stderr,
    /program 'handle_exec' \(section 'tp\/sched\/sched_process_exec'\) to 'eth0'/,
  );
  await assertNoBpfLeaks(before);
});

Deno.test("a guest that traps inside a callback: exit 134, one clear line, nothing left", async () => {
  const before = bpfSnapshot();
  const tool = new Tool(await guest(), ["trap", ME, "1"]);
  await tool.waitFor(/^ready/);
  await spawnAndWait("/bin/true", []);
  const res = await tool.wait(20_000);
  assert.equal(res.code, 134, res.stderr);
  assert.match(res.stderr, /abi\.wasm: the guest trapped: unreachable/);
  assert.doesNotMatch(res.stderr, /internal error/);
  await assertNoBpfLeaks(before);
});

Deno.test("SIGINT during a poll: -EINTR once, then the guest is unwound; exit 130", async () => {
  const before = bpfSnapshot();
  const tool = new Tool(await guest(), ["wait"]);
  await tool.waitFor(/^ready/);
  const t0 = performance.now();
  const res = await tool.stop();
  assert.equal(res.code, 130, res.stderr);
  assert.equal(res.lines.filter((l) => l === "got EINTR").length, 1);
  assert.doesNotMatch(res.stderr, /did not stop/);
  assert(performance.now() - t0 < 1500, "the poll should be woken at once");
  await assertNoBpfLeaks(before);
});

Deno.test("SIGTERM: exit 143 and everything released", async () => {
  const before = bpfSnapshot();
  const tool = new Tool(await guest(), ["wait"]);
  await tool.waitFor(/^ready/);
  Deno.kill(tool.pid, "SIGTERM");
  const res = await tool.wait();
  assert.equal(res.code, 143, res.stderr);
  await assertNoBpfLeaks(before);
});

Deno.test("a guest spinning without calling the host is terminated after the grace period", async () => {
  const before = bpfSnapshot();
  const tool = new Tool(await guest(), ["spin"]);
  await tool.waitFor(/^ready/);
  const res = await tool.stop();
  assert.equal(res.code, 130, res.stderr);
  assert.match(
    res.stderr,
    /SIGINT; it did not stop within \d+ ms and was ended/,
  );
  await assertNoBpfLeaks(before);
});

Deno.test("a guest spinning inside a callback: stopped by SIGINT and by the time limit", async () => {
  const before = bpfSnapshot();
  const tool = new Tool(await guest(), ["spincb", ME, "1"]);
  await tool.waitFor(/^ready/);
  await spawnAndWait("/bin/true", []);
  await tool.waitFor(/^spinning/);
  const res = await tool.stop();
  assert.equal(res.code, 130, res.stderr);
  assert.match(
    res.stderr,
    /SIGINT; it did not stop within \d+ ms and was ended/,
  );
  await assertNoBpfLeaks(before);

  const limited = new Tool("--timeout", ["1", await guest(), "spin"]);
  const r2 = await limited.wait(15_000);
  assert.equal(r2.code, 124, r2.stderr);
  assert.match(
    r2.stderr,
    /1000 ms time limit; it did not stop within \d+ ms and was ended/,
  );
  await assertNoBpfLeaks(before);
});

Deno.test("exit without closing: the guest's status, and the host releases its objects", async () => {
  const before = bpfSnapshot();
  const res = await runCli([await guest(), "exit", "42"]);
  assert.equal(res.code, 42, res.stderr);
  await assertNoBpfLeaks(before);
});
