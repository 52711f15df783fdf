/**
 * The AssemblyScript guest SDK (wasm-sdk/assemblyscript, npm assemblyscript
 * pinned in build/tools) end to end: as-bootstrap reports a process the test
 * spawns (records through the exported table), and the SDK's error paths,
 * maps and batch polling work. Skips, with the reason, when asc or node is
 * missing (scripts/setup-sdk.sh installs asc).
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

function have(cmd: string): boolean {
  return (Deno.env.get("PATH") ?? "").split(":").some((d) =>
    existsSync(`${d}/${cmd}`)
  );
}

const ASC = `${ROOT}/build/tools/node_modules/.bin/asc`;
const missing = !existsSync(ASC)
  ? `${ASC} is not installed (npm assemblyscript)`
  : !have("node")
  ? "node (runs asc) is not on PATH"
  : !have("wasm2wat")
  ? "wasm2wat (apt-get install wabt)"
  : "";
if (missing) {
  console.log(`sdk_as_test: skipping: ${missing} (run scripts/setup-sdk.sh)`);
}

let built: Promise<void> | undefined;
/** Builds the AssemblyScript guests once (scripts/build-sdk.sh as). */
function build(): Promise<void> {
  built ??= (async () => {
    const out = await new Deno.Command("bash", {
      args: [`${ROOT}/scripts/build-sdk.sh`, "as"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(
        `build-sdk.sh as failed:\n${new TextDecoder().decode(out.stderr)}`,
      );
    }
  })();
  return built;
}

const BOOTSTRAP = `${ROOT}/build/examples/as-bootstrap/as-bootstrap.wasm`;
const ERRORS = `${ROOT}/build/wasm-sdk/assemblyscript/tests/errors.wasm`;
const HEADER = /^TIME\s+EVENT\s+COMM\s+PID\s+PPID/;

Deno.test({
  name: "as-bootstrap reports the exec and the exit of a process",
  ignore: !!missing,
  async fn() {
    await build();
    const before = bpfSnapshot();
    const tool = new Tool(BOOTSTRAP);
    try {
      await tool.waitFor(HEADER);
      const child = await spawnAndWait("/bin/sh", ["-c", "exit 11"]);
      assert.equal(child.code, 11);
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
      assert.equal(exit[5], "[11]");
      assert.match(exit[6], /^\(\d+ms\)$/);
    } finally {
      const res = await tool.stop();
      assertInterrupted(res, "as-bootstrap");
    }
    await assertNoBpfLeaks(before);
  },
});

Deno.test({
  name: "as-bootstrap -d sets the rodata filter with setGlobal",
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
      assertInterrupted(res, "as-bootstrap");
    }
    await assertNoBpfLeaks(before);
  },
});

Deno.test({
  name: "as-bootstrap usage and argument errors",
  ignore: !!missing,
  async fn() {
    await build();
    const help = await runCli([BOOTSTRAP, "-h"]);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^usage: as-bootstrap/);
    const bad = await runCli([BOOTSTRAP, "-d", "soon"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /invalid duration 'soon'/);
    const extra = await runCli([BOOTSTRAP, "extra"]);
    assert.equal(extra.code, 2);
    assert.match(extra.stderr, /unexpected argument 'extra'/);
  },
});

/** Runs the errors guest while poking getppid() until it finishes. */
async function runErrorsGuest(): Promise<Map<string, string>> {
  const tool = new Tool(ERRORS);
  let res;
  try {
    await tool.waitFor(/^attach:/, 20_000);
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
  name:
    "AssemblyScript SDK: failures are error values; maps and batch polling work",
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
    assert.equal(get("set-global"), "ok");
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
    assert.match(get("get-missing"), /^err errno=2 lookup 'counts'/);
    assert.equal(get("delete-missing"), "ok false");
    assert.equal(
      get("set-noexist"),
      "err errno=17 update 'counts' failed: EEXIST (file exists)",
    );
    assert.equal(get("get"), "ok 200");
    assert.equal(get("keys"), "ok 1,2,3");
    assert.equal(get("delete"), "ok true");
    assert.equal(get("get-3"), "ok 333");
    assert.equal(
      get("buffer-hash-map"),
      "err errno=22 buffer 'counts' failed: EINVAL (invalid argument)",
    );
    assert.equal(get("attach"), "ok");
    assert.equal(get("poll-truncated"), "size=24 copied=8 magic=0x5eed");
    assert.equal(get("poll"), "size=24 copied=24 magic=0x5eed");
    assert.equal(get("close"), "ok");
    assert.equal(get("close-again"), "ok");
    assert(out.has("done"));
    await assertNoBpfLeaks(before);
  },
});
