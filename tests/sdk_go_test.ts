/**
 * The Go guest SDK (wasm-sdk/go, GOOS=wasip1, Go 1.23) end to end: go-execve
 * reports an execve() the test makes, go-lsm names the kernel's refusal of
 * BPF LSM, and the SDK's error paths come back as values. Records come
 * through the wasm_bpf_ext batch extension. Skips, with the reason, when Go
 * 1.23 is not installed (scripts/setup-sdk.sh installs it).
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { assertNoBpfLeaks, bpfSnapshot, ROOT, runCli } from "./util.ts";
import { fields, spawnAndWait } from "../examples/tool_test_util.ts";
import { assertUsage, errorsTest, sdk, sdkTest, withTool } from "./sdk_util.ts";

const GO_BIN = "/usr/lib/go-1.23/bin/go";
const GO = sdk("go", [[
  existsSync(GO_BIN),
  `${GO_BIN} is not installed (golang-1.23-go from bookworm-backports)`,
]]);
const EXECVE = `${ROOT}/build/examples/go-execve/go-execve.wasm`;
const LSM = `${ROOT}/build/examples/go-lsm/go-lsm.wasm`;

sdkTest(
  GO,
  "go-execve reports an execve() with filename and argv[0]",
  () =>
    withTool(EXECVE, [], "go-execve", async (tool) => {
      await tool.waitFor(/^PID\s+PPID\s+UID\s+COMM\s+FILENAME\s+ARGV0$/);
      const child = await spawnAndWait("/bin/sh", [
        "-c",
        "exec /bin/echo go-execve-marker",
      ]);
      // sh execs /bin/echo in the same process: pid, ppid = the test
      const line = fields(
        await tool.waitFor(
          (l) => fields(l)[0] === String(child.pid) && l.endsWith("/bin/echo"),
          10_000,
          `execve of /bin/echo by pid ${child.pid}`,
        ),
      );
      // PID PPID UID COMM FILENAME ARGV0
      assert.equal(line[1], String(Deno.pid));
      assert.equal(line[2], "0");
      assert.equal(line[3], "sh");
      assert.equal(line[4], "/bin/echo");
      assert.equal(line[5], "/bin/echo");
    }),
);

sdkTest(
  GO,
  "go-execve usage and argument errors",
  () =>
    assertUsage(EXECVE, "go-execve", [
      [["extra"], /unexpected argument 'extra'/],
    ]),
);

/** Can this kernel load the go-lsm program? Asks bpftool, outside the
 * runtime under test; null if it can, else bpftool's complaint. */
async function kernelLoadsBpfLsm(object: string): Promise<string | null> {
  const pin = `/sys/fs/bpf/wasm-bpf-go-lsm-probe-${Deno.pid}`;
  const out = await new Deno.Command("bpftool", {
    args: ["prog", "loadall", object, pin],
    stdout: "piped",
    stderr: "piped",
  }).output();
  await Deno.remove(pin, { recursive: true }).catch(() => {});
  if (out.success) return null;
  return new TextDecoder().decode(out.stderr).split("\n").find((l) =>
    /failed|Error/.test(l)
  ) ?? "bpftool prog loadall failed";
}

sdkTest(
  GO,
  "go-lsm reports execs, or names the kernel's refusal of BPF LSM",
  async () => {
    const refusal = await kernelLoadsBpfLsm(
      `${ROOT}/examples/go-lsm/bpfobj/go-lsm.bpf.o`,
    );
    if (refusal === null) {
      await withTool(LSM, [], "go-lsm", async (tool) => {
        await tool.waitFor(/^PID\s+UID\s+COMM\s+FILENAME$/);
        const child = await spawnAndWait("/bin/true", []);
        await tool.waitFor(
          (l) => fields(l)[0] === String(child.pid) && l.endsWith("/bin/true"),
        );
      });
      return;
    }
    console.log(
      `go-lsm: this kernel refuses BPF LSM (${refusal.trim()}); testing the error path`,
    );
    const before = bpfSnapshot();
    const res = await runCli([LSM]);
    assert.equal(res.code, 1, `stdout:\n${res.stdout}\nstderr:\n${res.stderr}`);
    const ours = res.stderr.split("\n").filter((l) => l.startsWith("go-lsm:"));
    assert.equal(ours.length, 1, res.stderr);
    assert.match(
      ours[0],
      /^go-lsm: the kernel refused the BPF LSM program check_exec \(lsm\/bprm_check_security\) while ordinary BPF programs load: BPF LSM needs CONFIG_BPF_LSM=y/,
    );
    assert.doesNotMatch(res.stderr, /RuntimeError|unreachable|panic:/);
    await assertNoBpfLeaks(before);
  },
);

errorsTest(
  GO,
  "Go SDK: failures are error values; maps and batch polling work",
  `${ROOT}/build/wasm-sdk/go/tests/errors.wasm`,
  {
    "set-global": "ok <nil>",
    "get-missing": "ok 0 false",
    "remove-missing": "ok false",
    "set-noexist": "err errno=17 update 'counts' failed: EEXIST (file exists)",
    "get": "ok 200 true",
    "keys": "[1 2 3]",
    "remove": "ok true",
    "buffer-hash-map":
      "err errno=22 buffer 'counts' failed: EINVAL (invalid argument)",
    "attach": "ok <nil>",
    "poll-truncated": "size=24 copied=8 magic=0x5eed",
    "poll": "size=24 magic=0x5eed",
    "close": "ok <nil>",
    "close-again": "ok <nil>",
  },
);
