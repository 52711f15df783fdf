/**
 * The Rust guest SDK (wasm-sdk/rust) end to end: rust-bootstrap reports a
 * process the test spawns, and the SDK's error paths come back as values.
 * Skips, with the reason, when Debian's rustc with the wasm32-wasi std is
 * not installed (scripts/setup-sdk.sh installs it).
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

const missing = !existsSync("/usr/bin/rustc")
  ? "/usr/bin/rustc (Debian rustc) is not installed"
  : !existsSync("/usr/lib/rustlib/wasm32-wasi")
  ? "the wasm32-wasi Rust std (libstd-rust-dev-wasm32) is not installed"
  : "";
if (missing) {
  console.log(`sdk_rust_test: skipping: ${missing} (run scripts/setup-sdk.sh)`);
}

let built: Promise<void> | undefined;
/** Builds the Rust guests once (scripts/build-sdk.sh rust). */
function build(): Promise<void> {
  built ??= (async () => {
    const out = await new Deno.Command("bash", {
      args: [`${ROOT}/scripts/build-sdk.sh`, "rust"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(
        `build-sdk.sh rust failed:\n${new TextDecoder().decode(out.stderr)}`,
      );
    }
  })();
  return built;
}

const BOOTSTRAP = `${ROOT}/build/examples/rust-bootstrap/rust-bootstrap.wasm`;
const ERRORS = `${ROOT}/build/wasm-sdk/rust/tests/errors.wasm`;
const HEADER = /^TIME\s+EVENT\s+COMM\s+PID\s+PPID/;

Deno.test({
  name: "rust-bootstrap reports the exec and the exit of a process",
  ignore: !!missing,
  async fn() {
    await build();
    const before = bpfSnapshot();
    const tool = new Tool(BOOTSTRAP);
    try {
      await tool.waitFor(HEADER);
      const child = await spawnAndWait("/bin/sh", ["-c", "exit 9"]);
      assert.equal(child.code, 9);
      const exec = fields(
        await tool.waitFor(
          (l) => / EXEC /.test(l) && fields(l)[3] === String(child.pid),
          10_000,
          `EXEC of pid ${child.pid}`,
        ),
      );
      // TIME EXEC COMM PID PPID FILENAME
      assert.match(exec[0], /^\d\d:\d\d:\d\d$/);
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
      assert.equal(exit[5], "[9]");
      assert.match(exit[6], /^\(\d+ms\)$/);
    } finally {
      const res = await tool.stop();
      assertInterrupted(res, "rust-bootstrap");
    }
    await assertNoBpfLeaks(before);
  },
});

Deno.test({
  name: "rust-bootstrap -d sets the rodata filter through ObjectFile",
  ignore: !!missing,
  async fn() {
    await build();
    const before = bpfSnapshot();
    const tool = new Tool(BOOTSTRAP, ["-d", "300"]);
    try {
      await tool.waitFor(HEADER);
      const short = await spawnAndWait("/bin/sh", ["-c", "exit 3"]);
      const long = await spawnAndWait("/bin/sh", ["-c", "sleep 0.5; exit 4"]);
      const exit = fields(
        await tool.waitFor(
          (l) => / EXIT /.test(l) && fields(l)[3] === String(long.pid),
          10_000,
          `EXIT of pid ${long.pid}`,
        ),
      );
      assert.equal(exit[5], "[4]");
      const ms = Number(exit[6].match(/^\((\d+)ms\)$/)?.[1]);
      assert(ms >= 300, `duration ${exit[6]} should be at least 300ms`);
      const body = tool.lines.filter((l) => !HEADER.test(l));
      assert(!body.some((l) => fields(l)[3] === String(short.pid)));
      assert(!body.some((l) => / EXEC /.test(l)), body.join("\n"));
    } finally {
      const res = await tool.stop();
      assertInterrupted(res, "rust-bootstrap");
    }
    await assertNoBpfLeaks(before);
  },
});

Deno.test({
  name: "rust-bootstrap usage and argument errors",
  ignore: !!missing,
  async fn() {
    await build();
    const help = await runCli([BOOTSTRAP, "-h"]);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^usage: rust-bootstrap/);
    const bad = await runCli([BOOTSTRAP, "-d", "soon"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /invalid duration 'soon'/);
  },
});

/** Runs the errors guest while poking getppid() until it reports. */
async function runErrorsGuest(): Promise<Map<string, string>> {
  const tool = new Tool(ERRORS);
  let res;
  try {
    await tool.waitFor(/^attach:/, 20_000);
    // every sh start calls getppid(); the guest waits for one record
    for (let i = 0; i < 20 && !tool.lines.some((l) => l === "done"); i++) {
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
  name: "Rust SDK: failures are error values; maps and polling work",
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
    assert.equal(get("set-global"), "ok ()");
    assert.equal(get("load"), "ok");
    assert.match(get("map-unknown"), /^err errno=\d+ map 'no_such_map' failed/);
    assert.notEqual(get("map-unknown"), "err errno=0");
    assert.match(get("attach-unknown"), /^err errno=\d+ attach 'no_such_prog'/);
    assert.match(get("buffer-unknown"), /^err errno=\d+ map 'no_such_map'/);
    assert.equal(get("get-missing"), "ok None");
    assert.equal(get("remove-missing"), "ok false");
    assert.equal(
      get("set-noexist"),
      "err errno=17 update 'counts' failed: EEXIST (File exists)",
    );
    assert.equal(get("get"), "ok Some(200)");
    assert.equal(get("keys"), "[1, 2, 3]");
    assert.equal(get("entries"), "[(1, 100), (2, 200), (3, 300)]");
    assert.equal(get("remove"), "ok true");
    assert.equal(get("lookup-bytes"), "ok (true, 300)");
    assert.equal(
      get("buffer-hash-map"),
      "err errno=22 buffer 'counts' failed: EINVAL (Invalid argument)",
    );
    assert.equal(get("attach"), "ok ()");
    assert.equal(get("poll"), "stopped 1 magic=0x5eed");
    assert.equal(get("close"), "ok ()");
    assert(out.has("done"));
    await assertNoBpfLeaks(before);
  },
});

Deno.test({
  name: "Rust SDK: batch polling through wasm_bpf_ext, with truncation",
  ignore: !!missing,
  async fn() {
    await build();
    const before = bpfSnapshot();
    const tool = new Tool(`${ROOT}/build/wasm-sdk/rust/tests/batch.wasm`);
    let res;
    try {
      await tool.waitFor(/^attached$/, 20_000);
      for (let i = 0; i < 40 && !tool.lines.includes("done"); i++) {
        await spawnAndWait("/bin/sh", ["-c", "echo $PPID >/dev/null"]);
        await sleep(100);
      }
      res = await tool.wait(10_000);
    } finally {
      res ??= await tool.stop();
    }
    assert.equal(res.code, 0, `stdout:\n${res.stdout}\nstderr:\n${res.stderr}`);
    assert.deepEqual(res.lines, [
      "attached",
      "raw-short-buffer: -22",
      "raw-bad-pointer: -14",
      "small: size=24 copied=8 truncated=true",
      "batch: size=24 copied=24",
      "done",
    ]);
    await assertNoBpfLeaks(before);
  },
});
