import assert from "node:assert/strict";
import {
  assertNoBpfLeaks,
  bpfSnapshot,
  buildGuest,
  runCli,
} from "../../tests/util.ts";
import { assertInterrupted, Tool } from "../tool_test_util.ts";

const REFUSED =
  /^lsm: the kernel refused to (load|attach) the BPF LSM program deny_rmdir \(lsm\/path_rmdir\): .*BPF LSM needs CONFIG_BPF_LSM=y/m;

/** Can this kernel load and attach the example's LSM program? Asks bpftool,
 * outside the runtime under test. */
async function kernelRunsBpfLsm(object: string): Promise<string | null> {
  const pin = `/sys/fs/bpf/wasm-bpf-lsm-probe-${Deno.pid}`;
  const out = await new Deno.Command("bpftool", {
    args: ["prog", "loadall", object, pin, "autoattach"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  await Deno.remove(pin, { recursive: true }).catch(() => {});
  if (out.success) return null;
  const err = new TextDecoder().decode(out.stderr);
  // bpftool 7.1 has no autoattach: then loading is the probe
  if (/autoattach/.test(err)) {
    const load = await new Deno.Command("bpftool", {
      args: ["prog", "loadall", object, pin],
      stdout: "piped",
      stderr: "piped",
    }).output();
    await Deno.remove(pin, { recursive: true }).catch(() => {});
    if (load.success) return null;
    return new TextDecoder().decode(load.stderr).split("\n").find((l) =>
      /load failed|Error/.test(l)
    ) ?? "bpftool prog loadall failed";
  }
  return err.split("\n").find((l) => /failed|Error/.test(l)) ??
    "bpftool prog loadall failed";
}

Deno.test("lsm denies rmdir of the chosen directory, or says why it cannot", async () => {
  const dir = await buildGuest("examples/lsm");
  const path = `${dir}/lsm.wasm`;
  const refusal = await kernelRunsBpfLsm(`${dir}/lsm.bpf.o`);
  const tmp = await Deno.makeTempDir({ prefix: "lsm-" });
  const name = `keep-me-${Deno.pid}`;
  await Deno.mkdir(`${tmp}/${name}`);
  await Deno.mkdir(`${tmp}/other`);
  const before = bpfSnapshot();
  try {
    if (refusal) {
      console.log(
        `lsm: this kernel refuses BPF LSM (${refusal.trim()}); testing the error path`,
      );
      await refuses(path, `${tmp}/${name}`);
    } else {
      await denies(path, tmp, name);
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
  await assertNoBpfLeaks(before);
});

/** The run fails with one line naming the cause, and denies nothing. */
async function refuses(path: string, target: string) {
  const res = await runCli([path, target], { timeoutMs: 30_000 });
  assert.equal(res.code, 1, `stdout:\n${res.stdout}\nstderr:\n${res.stderr}`);
  assert.match(res.stderr, REFUSED);
  await Deno.remove(target);
}

/** While the tool runs, rmdir of that name fails and is reported. */
async function denies(path: string, tmp: string, name: string) {
  const tool = new Tool(path, [`${tmp}/${name}`]);
  try {
    await tool.waitFor(/^Denying rmdir of directories named/);
    await assert.rejects(
      Deno.remove(`${tmp}/${name}`),
      Deno.errors.PermissionDenied,
    );
    await Deno.remove(`${tmp}/other`); // other names are not denied
    await tool.waitFor(
      (l) => l.includes(`DENIED rmdir ${name} pid ${Deno.pid} `),
      10_000,
      "the denial",
    );
  } finally {
    const res = await tool.stop();
    assertInterrupted(res, "lsm");
  }
}

Deno.test("lsm -h prints usage, bad arguments exit 2", async () => {
  const path = `${await buildGuest("examples/lsm")}/lsm.wasm`;
  const help = await runCli([path, "-h"]);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^usage: lsm/);
  const missing = await runCli([path]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /missing DIR/);
  const dots = await runCli([path, "/tmp/.."]);
  assert.equal(dots.code, 2);
  assert.match(dots.stderr, /invalid DIR '\/tmp\/\.\.'/);
});
