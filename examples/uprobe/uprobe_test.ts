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

const wasm = async () => `${await buildGuest("examples/uprobe")}/uprobe.wasm`;

const HEADER = /^TIME\s+PID\s+COMM\s+CALL\/RETURN$/;

/** A native target: calls scaled_sum(i, -10 * i, 3) for i = 1..N, after
 * reading a line from stdin when its second argument is "wait". */
const TARGET_C = `
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
__attribute__((noinline)) int scaled_sum(int a, int b, int scale)
{
	return (a + b) * scale;
}
int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 3, total = 0;
	char line[16];
	if (argc > 2 && !strcmp(argv[2], "wait") && !fgets(line, sizeof(line), stdin))
		return 1;
	for (int i = 1; i <= n; i++)
		total += scaled_sum(i, -10 * i, 3);
	printf("%d\\n", total);
	return 0;
}
`;

function haveGcc(): boolean {
  try {
    return new Deno.Command("gcc", { args: ["--version"], stdout: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

const noGcc = !haveGcc();
if (noGcc) console.log("uprobe: tests skipped: no gcc to build the target");

async function buildTarget(): Promise<{ dir: string; bin: string }> {
  const dir = await Deno.makeTempDir({ prefix: "uprobe-" });
  await Deno.writeTextFile(`${dir}/target.c`, TARGET_C);
  const cc = await spawnAndWait("gcc", [
    "-O1",
    "-o",
    `${dir}/target`,
    `${dir}/target.c`,
  ]);
  assert.equal(cc.code, 0, "gcc failed");
  return { dir, bin: `${dir}/target` };
}

// TIME PID COMM -> scaled_sum(A, B, C)   or   TIME PID COMM <- scaled_sum = R
function calls(lines: string[], pid: number): string[] {
  return lines.filter((l) => fields(l)[1] === String(pid)).map((l) =>
    fields(l).slice(3).join(" ")
  );
}

Deno.test({
  name: "uprobe reports calls with arguments and return values",
  ignore: noGcc,
}, async () => {
  const path = await wasm();
  const { dir, bin } = await buildTarget();
  const before = bpfSnapshot();
  const tool = new Tool(path, ["-b", bin, "-f", "scaled_sum"]);
  try {
    await tool.waitFor(HEADER);
    const run = await spawnAndWait(bin, ["3"]);
    assert.equal(run.stdout, `${-27 - 54 - 81}\n`);
    await tool.waitFor(
      (l) => fields(l)[1] === String(run.pid) && l.endsWith("= -81"),
      10_000,
      "the third return",
    );
    assert.deepEqual(calls(tool.lines, run.pid), [
      "-> scaled_sum(1, -10, 3)",
      "<- scaled_sum = -27",
      "-> scaled_sum(2, -20, 3)",
      "<- scaled_sum = -54",
      "-> scaled_sum(3, -30, 3)",
      "<- scaled_sum = -81",
    ]);
    const line = tool.lines.find((l) => fields(l)[1] === String(run.pid))!;
    assert.equal(fields(line)[2], "target");
  } finally {
    const res = await tool.stop();
    await Deno.remove(dir, { recursive: true });
    assertInterrupted(res, "uprobe");
  }
  await assertNoBpfLeaks(before);
});

Deno.test({
  name: "uprobe -p traces only that process",
  ignore: noGcc,
}, async () => {
  const path = await wasm();
  const { dir, bin } = await buildTarget();
  const waiting = new Deno.Command(bin, {
    args: ["2", "wait"],
    stdin: "piped",
    stdout: "null",
  }).spawn();
  const before = bpfSnapshot();
  const tool = new Tool(path, [
    "-b",
    bin,
    "-f",
    "scaled_sum",
    "-p",
    String(waiting.pid),
    "-a",
    "2",
  ]);
  try {
    await tool.waitFor(HEADER);
    const other = await spawnAndWait(bin, ["1"]);
    const w = waiting.stdin.getWriter();
    await w.write(new TextEncoder().encode("go\n"));
    await w.close();
    assert.equal((await waiting.status).code, 0);
    await tool.waitFor(
      (l) => fields(l)[1] === String(waiting.pid) && l.endsWith("= -54"),
      10_000,
      "the second return",
    );
    await sleep(200);
    assert.deepEqual(calls(tool.lines, waiting.pid), [
      "-> scaled_sum(1, -10)",
      "<- scaled_sum = -27",
      "-> scaled_sum(2, -20)",
      "<- scaled_sum = -54",
    ]);
    assert.deepEqual(calls(tool.lines, other.pid), []);
  } finally {
    try {
      waiting.kill("SIGKILL");
    } catch { /* exited */ }
    await waiting.status;
    const res = await tool.stop();
    await Deno.remove(dir, { recursive: true });
    assertInterrupted(res, "uprobe");
  }
  await assertNoBpfLeaks(before);
});

Deno.test({
  name: "uprobe on a missing function fails with a clear error",
  ignore: noGcc,
}, async () => {
  const path = await wasm();
  const { dir, bin } = await buildTarget();
  const before = bpfSnapshot();
  try {
    const res = await runCli([path, "-b", bin, "-f", "no_such_function"], {
      timeoutMs: 30_000,
    });
    assert.equal(res.code, 1, res.stderr);
    assert(
      res.stderr.includes(`failed to attach to ${bin}:no_such_function`),
      res.stderr,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  await assertNoBpfLeaks(before);
});

Deno.test("uprobe -h prints usage, bad arguments exit 2", async () => {
  const path = await wasm();
  const help = await runCli([path, "-h"]);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^usage: uprobe/);
  const missing = await runCli([path, "-f", "main"]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /-b BINARY and -f FUNCTION are required/);
  const relative = await runCli([path, "-b", "bin/x", "-f", "main"]);
  assert.equal(relative.code, 2);
  assert.match(relative.stderr, /invalid binary 'bin\/x'/);
  const nargs = await runCli([path, "-b", "/bin/x", "-f", "main", "-a", "9"]);
  assert.equal(nargs.code, 2);
  assert.match(nargs.stderr, /invalid NARGS '9'/);
});
