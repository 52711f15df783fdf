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
  sleep,
  spawnAndWait,
  Tool,
} from "../tool_test_util.ts";

const wasm = async () =>
  `${await buildGuest("examples/opensnoop")}/opensnoop.wasm`;

const HEADER = /^PID\s+COMM\s+FD\s+ERR\s+FLAGS\s+PATH/;

// PID COMM FD ERR FLAGS PATH
function opened(tool: Tool, pid: number, path: string) {
  return tool.waitFor(
    (l) => fields(l)[0] === String(pid) && fields(l).at(-1) === path,
    10_000,
    `openat of ${path} by pid ${pid}`,
  ).then(fields);
}

Deno.test("opensnoop reports openat() with fd, errno, flags and path", async () => {
  const path = await wasm();
  const dir = await Deno.makeTempDir({ prefix: "opensnoop-" });
  const file = `${dir}/present`;
  await Deno.writeTextFile(file, "hello\n");
  const before = bpfSnapshot();
  const tool = new Tool(path);
  try {
    await tool.waitFor(HEADER);
    const ok = await spawnAndWait("/bin/cat", [file]);
    assert.equal(ok.stdout, "hello\n");
    const missing = await spawnAndWait("/bin/cat", [`${dir}/missing`], {
      stderr: "null",
    });
    assert.equal(missing.code, 1);
    const created = await spawnAndWait("/bin/sh", [
      "-c",
      `echo hi > ${dir}/created`,
    ]);
    assert.equal(created.code, 0);

    const a = await opened(tool, ok.pid, file);
    assert.equal(a[1], "cat");
    assert(Number(a[2]) >= 0, `fd ${a[2]}`);
    assert.equal(a[3], "0");
    assert.equal(Number.parseInt(a[4], 8) & 3, 0, "O_RDONLY");

    const b = await opened(tool, missing.pid, `${dir}/missing`);
    assert.deepEqual(b.slice(1, 4), ["cat", "-1", "2"]); // ENOENT

    const c = await opened(tool, created.pid, `${dir}/created`);
    assert.equal(c[1], "sh");
    // O_WRONLY | O_CREAT | O_TRUNC
    assert.equal(Number.parseInt(c[4], 8) & 0o1103, 0o1101, `flags ${c[4]}`);
  } finally {
    const res = await tool.stop();
    assertInterrupted(res, "opensnoop");
    await Deno.remove(dir, { recursive: true });
  }
  await assertNoBpfLeaks(before);
});

Deno.test("opensnoop -p traces only that process", async () => {
  const path = await wasm();
  const dir = await Deno.makeTempDir({ prefix: "opensnoop-" });
  const file = `${dir}/target`;
  await Deno.writeTextFile(file, "x\n");
  // a process whose pid is known before it opens the file
  const target = new Deno.Command("/bin/sh", {
    args: ["-c", `read go; exec cat ${file}`],
    stdin: "piped",
    stdout: "null",
  }).spawn();
  const before = bpfSnapshot();
  const tool = new Tool(path, ["-p", String(target.pid)]);
  try {
    await tool.waitFor(HEADER);
    const other = await spawnAndWait("/bin/cat", [file]);
    const w = target.stdin.getWriter();
    await w.write(new TextEncoder().encode("go\n"));
    await w.close();
    assert.equal((await target.status).code, 0);
    const line = await opened(tool, target.pid, file);
    assert.equal(line[1], "cat");
    await sleep(300);
    const body = tool.lines.filter((l) => !HEADER.test(l));
    assert(
      body.every((l) => fields(l)[0] === String(target.pid)),
      `lines from other processes than ${target.pid} (e.g. ${other.pid}):\n${
        body.join("\n")
      }`,
    );
  } finally {
    const res = await tool.stop();
    assertInterrupted(res, "opensnoop");
    await Deno.remove(dir, { recursive: true });
  }
  await assertNoBpfLeaks(before);
});

Deno.test("opensnoop -h prints usage, bad arguments exit 2", async () => {
  const path = await wasm();
  const help = await runCli([path, "-h"]);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^usage: opensnoop/);
  const bad = await runCli([path, "-p", "abc"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /invalid PID 'abc'/);
});
