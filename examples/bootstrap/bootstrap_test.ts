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

const wasm = async () =>
  `${await buildGuest("examples/bootstrap")}/bootstrap.wasm`;

const HEADER = /^TIME\s+EVENT\s+COMM\s+PID\s+PPID/;

Deno.test("bootstrap reports the exec and the exit of a process", async () => {
  const path = await wasm();
  const before = bpfSnapshot();
  const tool = new Tool(path);
  try {
    await tool.waitFor(HEADER);
    const child = await spawnAndWait("/bin/sh", ["-c", "exit 7"]);
    assert.equal(child.code, 7);

    const exec = fields(
      await tool.waitFor(
        (l) => / EXEC /.test(l) && fields(l)[3] === String(child.pid),
        10_000,
        `EXEC of pid ${child.pid}`,
      ),
    );
    // TIME EXEC COMM PID PPID FILENAME
    assert.equal(exec[2], "sh");
    assert.equal(exec[4], String(Deno.pid));
    assert.match(exec[5], /^(\/usr)?\/bin\/sh$/);

    const exit = fields(
      await tool.waitFor(
        (l) => / EXIT /.test(l) && fields(l)[3] === String(child.pid),
        10_000,
        `EXIT of pid ${child.pid}`,
      ),
    );
    // TIME EXIT COMM PID PPID [CODE] (DURATION)
    assert.equal(exit[2], "sh");
    assert.equal(exit[4], String(Deno.pid));
    assert.equal(exit[5], "[7]");
    assert.match(exit[6], /^\(\d+ms\)$/);
  } finally {
    const res = await tool.stop();
    assertInterrupted(res, "bootstrap");
  }
  await assertNoBpfLeaks(before);
});

Deno.test("bootstrap -d reports only processes that lived long enough", async () => {
  const path = await wasm();
  const before = bpfSnapshot();
  const tool = new Tool(path, ["-d", "300"]);
  try {
    await tool.waitFor(HEADER);
    const short = await spawnAndWait("/bin/sh", ["-c", "exit 5"]);
    const long = await spawnAndWait("/bin/sh", ["-c", "sleep 0.5; exit 6"]);
    const exit = fields(
      await tool.waitFor(
        (l) => / EXIT /.test(l) && fields(l)[3] === String(long.pid),
        10_000,
        `EXIT of pid ${long.pid}`,
      ),
    );
    assert.equal(exit[5], "[6]");
    const ms = Number(exit[6].match(/^\((\d+)ms\)$/)?.[1]);
    assert(ms >= 300, `duration ${exit[6]} should be at least 300ms`);
    const body = tool.lines.filter((l) => !HEADER.test(l));
    assert(
      !body.some((l) => fields(l)[3] === String(short.pid)),
      `short-lived pid ${short.pid} reported:\n${body.join("\n")}`,
    );
    assert(
      !body.some((l) => / EXEC /.test(l)),
      `EXEC lines with -d:\n${body.join("\n")}`,
    );
  } finally {
    const res = await tool.stop();
    assertInterrupted(res, "bootstrap");
  }
  await assertNoBpfLeaks(before);
});

Deno.test("bootstrap -h prints usage, bad arguments exit 2", async () => {
  const path = await wasm();
  const help = await runCli([path, "-h"]);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^usage: bootstrap/);

  const bad = await runCli([path, "-d", "soon"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /invalid duration 'soon'/);

  const extra = await runCli([path, "extra"]);
  assert.equal(extra.code, 2);
  assert.match(extra.stderr, /unexpected argument 'extra'/);
});
