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
import {
  assertInterrupted,
  fields,
  sleep,
  spawnAndWait,
  Tool,
} from "../examples/tool_test_util.ts";

const GO = "/usr/lib/go-1.23/bin/go";
const missing = existsSync(GO)
  ? ""
  : `${GO} is not installed (golang-1.23-go from bookworm-backports)`;
if (missing) {
  console.log(`sdk_go_test: skipping: ${missing} (run scripts/setup-sdk.sh)`);
}

let built: Promise<void> | undefined;
/** Builds the Go guests once (scripts/build-sdk.sh go). */
function build(): Promise<void> {
  built ??= (async () => {
    const out = await new Deno.Command("bash", {
      args: [`${ROOT}/scripts/build-sdk.sh`, "go"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(
        `build-sdk.sh go failed:\n${new TextDecoder().decode(out.stderr)}`,
      );
    }
  })();
  return built;
}

const EXECVE = `${ROOT}/build/examples/go-execve/go-execve.wasm`;
const LSM = `${ROOT}/build/examples/go-lsm/go-lsm.wasm`;
const ERRORS = `${ROOT}/build/wasm-sdk/go/tests/errors.wasm`;

Deno.test({
  name: "go-execve reports an execve() with filename and argv[0]",
  ignore: !!missing,
  async fn() {
    await build();
    const before = bpfSnapshot();
    const tool = new Tool(EXECVE);
    try {
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
    } finally {
      const res = await tool.stop();
      assertInterrupted(res, "go-execve");
    }
    await assertNoBpfLeaks(before);
  },
});

Deno.test({
  name: "go-execve usage and argument errors",
  ignore: !!missing,
  async fn() {
    await build();
    const help = await runCli([EXECVE, "-h"]);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^usage: go-execve/);
    const bad = await runCli([EXECVE, "extra"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unexpected argument 'extra'/);
  },
});

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

Deno.test({
  name: "go-lsm reports execs, or names the kernel's refusal of BPF LSM",
  ignore: !!missing,
  async fn() {
    await build();
    const refusal = await kernelLoadsBpfLsm(
      `${ROOT}/examples/go-lsm/bpfobj/go-lsm.bpf.o`,
    );
    const before = bpfSnapshot();
    if (refusal === null) {
      const tool = new Tool(LSM);
      try {
        await tool.waitFor(/^PID\s+UID\s+COMM\s+FILENAME$/);
        const child = await spawnAndWait("/bin/true", []);
        await tool.waitFor(
          (l) => fields(l)[0] === String(child.pid) && l.endsWith("/bin/true"),
        );
      } finally {
        const res = await tool.stop();
        assertInterrupted(res, "go-lsm");
      }
    } else {
      console.log(
        `go-lsm: this kernel refuses BPF LSM (${refusal.trim()}); testing the error path`,
      );
      const res = await runCli([LSM]);
      assert.equal(
        res.code,
        1,
        `stdout:\n${res.stdout}\nstderr:\n${res.stderr}`,
      );
      const ours = res.stderr.split("\n").filter((l) =>
        l.startsWith("go-lsm:")
      );
      assert.equal(ours.length, 1, res.stderr);
      assert.match(
        ours[0],
        /^go-lsm: the kernel refused the BPF LSM program check_exec \(lsm\/bprm_check_security\) while ordinary BPF programs load: BPF LSM needs CONFIG_BPF_LSM=y/,
      );
      assert.doesNotMatch(res.stderr, /RuntimeError|unreachable|panic:/);
    }
    await assertNoBpfLeaks(before);
  },
});

/** Runs the errors guest while poking getppid() until it finishes. */
async function runErrorsGuest(): Promise<Map<string, string>> {
  const tool = new Tool(ERRORS);
  let res;
  try {
    await tool.waitFor(/^attach:/, 20_000);
    // every sh start calls getppid()
    for (let i = 0; i < 40 && !tool.lines.includes("done"); i++) {
      await spawnAndWait("/bin/sh", ["-c", "echo $PPID >/dev/null"]);
      await sleep(100);
    }
    res = await tool.wait(10_000);
  } finally {
    res ??= await tool.stop();
  }
  assert.equal(
    res.code,
    0,
    `exit code; stdout:\n${res.stdout}\nstderr:\n${res.stderr}`,
  );
  const out = new Map<string, string>();
  for (const l of res.lines) {
    const i = l.indexOf(": ");
    out.set(i < 0 ? l : l.slice(0, i), i < 0 ? "" : l.slice(i + 2));
  }
  return out;
}

Deno.test({
  name: "Go SDK: failures are error values; maps and batch polling work",
  ignore: !!missing,
  async fn() {
    await build();
    const before = bpfSnapshot();
    const out = await runErrorsGuest();
    const get = (k: string) => {
      assert(out.has(k), `no '${k}' line in ${[...out.keys()]}`);
      return out.get(k)!;
    };
    assert.match(
      get("load-garbage"),
      /^err errno=0 loading the BPF object failed/,
    );
    assert.match(get("load-empty"), /^err errno=0 /);
    assert.match(get("set-global-unknown"), /^err errno=2 .*'no_such_global'/);
    assert.match(get("set-global-size"), /^err errno=22 /);
    assert.equal(get("set-global"), "ok <nil>");
    assert.equal(get("load"), "ok");
    assert.match(get("map-unknown"), /^err errno=[1-9]\d* map 'no_such_map'/);
    assert.match(
      get("attach-unknown"),
      /^err errno=[1-9]\d* attach 'no_such_prog'/,
    );
    assert.match(
      get("buffer-unknown"),
      /^err errno=[1-9]\d* map 'no_such_map'/,
    );
    assert.equal(get("get-missing"), "ok 0 false");
    assert.equal(get("remove-missing"), "ok false");
    assert.equal(
      get("set-noexist"),
      "err errno=17 update 'counts' failed: EEXIST (file exists)",
    );
    assert.equal(get("get"), "ok 200 true");
    assert.equal(get("keys"), "[1 2 3]");
    assert.equal(get("remove"), "ok true");
    assert.equal(
      get("buffer-hash-map"),
      "err errno=22 buffer 'counts' failed: EINVAL (invalid argument)",
    );
    assert.equal(get("attach"), "ok <nil>");
    assert.equal(get("poll-truncated"), "size=24 copied=8 magic=0x5eed");
    assert.equal(get("poll"), "size=24 magic=0x5eed");
    assert.equal(get("close"), "ok <nil>");
    assert.equal(get("close-again"), "ok <nil>");
    assert(out.has("done"));
    await assertNoBpfLeaks(before);
  },
});
