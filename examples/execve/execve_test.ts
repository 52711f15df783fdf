import assert from "node:assert/strict";
import {
  assertNoBpfLeaks,
  bpfSnapshot,
  buildGuest,
  runCli,
} from "../../tests/util.ts";
import {
  assertInterrupted,
  fields,
  spawnAndWait,
  Tool,
} from "../tool_test_util.ts";

const wasm = async () => `${await buildGuest("examples/execve")}/execve.wasm`;

const HEADER = /^PID\s+PPID\s+UID\s+COMM\s+FILENAME\s+ARGV0/;

Deno.test("execve reports execve() calls through a perf buffer", async () => {
  const path = await wasm();
  const before = bpfSnapshot();
  const tool = new Tool(path);
  try {
    await tool.waitFor(HEADER);
    const t = await spawnAndWait("/bin/true", []);
    assert.equal(t.code, 0);
    // PID PPID UID COMM FILENAME ARGV0
    const line = fields(
      await tool.waitFor(
        (l) => fields(l)[0] === String(t.pid) && l.includes("/bin/true"),
        10_000,
        `execve of /bin/true by pid ${t.pid}`,
      ),
    );
    assert.equal(line[1], String(Deno.pid));
    assert.equal(line[2], "0");
    assert.equal(line.at(-2), "/bin/true");
    assert.equal(line.at(-1), "/bin/true");

    // argv[0] differs from the file when the caller says so
    const b = await spawnAndWait("/bin/bash", [
      "-c",
      "exec -a wasm-bpf-argv0 /bin/true",
    ]);
    assert.equal(b.code, 0);
    const renamed = fields(
      await tool.waitFor(
        (l) => fields(l)[0] === String(b.pid) && l.endsWith(" wasm-bpf-argv0"),
        10_000,
        `execve with argv[0] wasm-bpf-argv0 by pid ${b.pid}`,
      ),
    );
    assert.equal(renamed[3], "bash");
    assert.equal(renamed[4], "/bin/true");
  } finally {
    const res = await tool.stop();
    assertInterrupted(res, "execve");
  }
  await assertNoBpfLeaks(before);
});

Deno.test("execve -h prints usage, bad arguments exit 2", async () => {
  const path = await wasm();
  const help = await runCli([path, "-h"]);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^usage: execve/);
  const bad = await runCli([path, "-x"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /usage: execve/);
});
