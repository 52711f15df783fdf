/**
 * What the guest-SDK tests (tests/sdk_{rust,go,as}_test.ts) share: the
 * toolchain check that skips a file with the reason, building the guests
 * once through scripts/build-sdk.sh, the bootstrap twins' tests (the same
 * tool as examples/bootstrap in another language), usage checks, and the
 * SDK test guests that print one `name: result` line per check while the
 * test pokes getppid() (wasm-sdk/tests/errors.bpf.c).
 *
 * @module
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
  type ToolResult,
} from "../examples/tool_test_util.ts";

/** Is `cmd` an existing file in a folder of $PATH? */
export function have(cmd: string): boolean {
  return (Deno.env.get("PATH") ?? "").split(":").some((d) =>
    existsSync(`${d}/${cmd}`)
  );
}

/** One SDK under test: its build-sdk.sh part, and why it is skipped (or ""). */
export interface Sdk {
  /** `scripts/build-sdk.sh` part: rust, go, as or wat. */
  part: "rust" | "go" | "as" | "wat";
  /** Why this machine cannot build the guests; "" when it can. */
  missing: string;
  /** Builds the part's guests, once per test file. */
  build(): Promise<void>;
}

/**
 * The SDK `part`, checked against `needs`: pairs of (is it there?, what is
 * missing). The first missing one is the reason to skip, which is printed
 * with the name of the test file, `file`.
 */
export function sdk(
  part: Sdk["part"],
  needs: [boolean, string][],
  file = `sdk_${part}_test`,
): Sdk {
  const missing = needs.find(([there]) => !there)?.[1] ?? "";
  if (missing) {
    console.log(`${file}: skipping: ${missing} (run scripts/setup-sdk.sh)`);
  }
  let built: Promise<void> | undefined;
  return {
    part,
    missing,
    build() {
      built ??= (async () => {
        const out = await new Deno.Command("bash", {
          args: [`${ROOT}/scripts/build-sdk.sh`, part],
          stdout: "piped",
          stderr: "piped",
        }).output();
        if (!out.success) {
          throw new Error(
            `build-sdk.sh ${part} failed:\n${
              new TextDecoder().decode(out.stderr)
            }`,
          );
        }
      })();
      return built;
    },
  };
}

/** A test of `sdk` that builds its guests first; skipped when it cannot. */
export function sdkTest(sdk: Sdk, name: string, fn: () => Promise<void>) {
  Deno.test({
    name,
    ignore: !!sdk.missing,
    async fn() {
      await sdk.build();
      await fn();
    },
  });
}

/**
 * Runs `wasm` with `args` as a long-lived tool through `body`, then stops it
 * with SIGINT (it must exit 130 without an error of its own, `name:`) and
 * checks that it left no BPF object behind.
 */
export async function withTool(
  wasm: string,
  args: string[],
  name: string,
  body: (tool: Tool) => Promise<void>,
): Promise<void> {
  const before = bpfSnapshot();
  const tool = new Tool(wasm, args);
  try {
    await body(tool);
  } finally {
    assertInterrupted(await tool.stop(), name);
  }
  await assertNoBpfLeaks(before);
}

/** `-h` prints the usage; each of `bad` (arguments, stderr) exits 2. */
export async function assertUsage(
  wasm: string,
  name: string,
  bad: [string[], RegExp][],
): Promise<void> {
  const help = await runCli([wasm, "-h"]);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, new RegExp(`^usage: ${name}`));
  for (const [args, stderr] of bad) {
    const res = await runCli([wasm, ...args]);
    assert.equal(res.code, 2, `${args.join(" ")}: ${res.stderr}`);
    assert.match(res.stderr, stderr);
  }
}

const BOOTSTRAP_HEADER = /^TIME\s+EVENT\s+COMM\s+PID\s+PPID/;

/** The fields of the bootstrap line of `event` (EXEC, EXIT) for `pid`. */
async function bootstrapEvent(
  tool: Tool,
  event: "EXEC" | "EXIT",
  pid: number,
): Promise<string[]> {
  return fields(
    await tool.waitFor(
      (l) => l.includes(` ${event} `) && fields(l)[3] === String(pid),
      10_000,
      `${event} of pid ${pid}`,
    ),
  );
}

/** What a bootstrap twin's tests need to know. */
export interface BootstrapTwin {
  /** The tool's name, as in its usage and error messages. */
  name: string;
  /** The built guest. */
  wasm: string;
  /** The exit code of the process the first test spawns. */
  exitCode: number;
  /** How the guest sets the rodata filter, for the test's name. */
  setGlobal: string;
}

/**
 * The three tests of a bootstrap twin (same output and options as the C
 * examples/bootstrap): the EXEC and EXIT lines of a process the test
 * spawns, `-d` (a .rodata global set before load), and usage errors.
 */
export function bootstrapTests(sdk: Sdk, twin: BootstrapTwin) {
  const { name, wasm, exitCode } = twin;
  sdkTest(
    sdk,
    `${name} reports the exec and the exit of a process`,
    () =>
      withTool(wasm, [], name, async (tool) => {
        await tool.waitFor(BOOTSTRAP_HEADER);
        const child = await spawnAndWait("/bin/sh", ["-c", `exit ${exitCode}`]);
        assert.equal(child.code, exitCode);
        // TIME EXEC COMM PID PPID FILENAME
        const exec = await bootstrapEvent(tool, "EXEC", child.pid);
        assert.match(exec[0], /^\d\d:\d\d:\d\d$/);
        assert.equal(exec[2], "sh");
        assert.equal(exec[4], String(Deno.pid));
        assert.match(exec[5], /^(\/usr)?\/bin\/sh$/);
        // TIME EXIT COMM PID PPID [CODE] (DURATION)
        const exit = await bootstrapEvent(tool, "EXIT", child.pid);
        assert.equal(exit[2], "sh");
        assert.equal(exit[4], String(Deno.pid));
        assert.equal(exit[5], `[${exitCode}]`);
        assert.match(exit[6], /^\(\d+ms\)$/);
      }),
  );

  sdkTest(
    sdk,
    `${name} -d sets the rodata filter ${twin.setGlobal}`,
    () =>
      withTool(wasm, ["-d", "300"], name, async (tool) => {
        await tool.waitFor(BOOTSTRAP_HEADER);
        const short = await spawnAndWait("/bin/sh", ["-c", "exit 3"]);
        const long = await spawnAndWait("/bin/sh", ["-c", "sleep 0.5; exit 4"]);
        const exit = await bootstrapEvent(tool, "EXIT", long.pid);
        assert.equal(exit[5], "[4]");
        const ms = Number(exit[6].match(/^\((\d+)ms\)$/)?.[1]);
        assert(ms >= 300, `duration ${exit[6]} should be at least 300ms`);
        const body = tool.lines.filter((l) => !BOOTSTRAP_HEADER.test(l));
        assert(!body.some((l) => fields(l)[3] === String(short.pid)));
        assert(!body.some((l) => / EXEC /.test(l)), body.join("\n"));
      }),
  );

  sdkTest(
    sdk,
    `${name} usage and argument errors`,
    () =>
      assertUsage(wasm, name, [
        [["-d", "soon"], /invalid duration 'soon'/],
        [["extra"], /unexpected argument 'extra'/],
      ]),
  );
}

/**
 * Runs a test guest to its own exit (status 0) once it printed a line
 * matching `ready`, starting shells (each start calls getppid(), which
 * feeds the ring buffer of wasm-sdk/tests/errors.bpf.c) until it prints
 * `done`.
 */
export async function runPokedGuest(
  wasm: string,
  ready: RegExp,
): Promise<ToolResult> {
  const tool = new Tool(wasm);
  let res;
  try {
    await tool.waitFor(ready, 20_000);
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
  return res;
}

/**
 * The error paths every SDK's errors guest reports alike: a bad object, an
 * unknown or ill-sized global, and unknown map and program names (with the
 * kernel's or libbpf's errno).
 */
export const COMMON_ERRORS: Readonly<Record<string, RegExp | string>> = {
  "load-garbage": /^err errno=0 loading the BPF object failed/,
  "load-empty": /^err errno=0 /,
  "set-global-unknown": /^err errno=2 .*'no_such_global'/,
  "set-global-size": /^err errno=22 /,
  "load": "ok",
  "map-unknown": /^err errno=[1-9]\d* map 'no_such_map' failed/,
  "attach-unknown": /^err errno=[1-9]\d* attach 'no_such_prog'/,
  "buffer-unknown": /^err errno=[1-9]\d* map 'no_such_map'/,
};

/**
 * A test that runs an SDK's errors guest (one `name: result` line per
 * check, then `done`) and compares each named result with COMMON_ERRORS
 * and `expected` (the SDK's own results): a string is the whole result, a
 * RegExp must match it. Every failure must come back as a value the guest
 * prints, never a trap.
 */
export function errorsTest(
  sdk: Sdk,
  name: string,
  wasm: string,
  expected: Record<string, string | RegExp>,
) {
  sdkTest(sdk, name, async () => {
    const before = bpfSnapshot();
    const res = await runPokedGuest(wasm, /^attach:/);
    const out = new Map<string, string>();
    for (const l of res.lines) {
      const i = l.indexOf(": ");
      out.set(i < 0 ? l : l.slice(0, i), i < 0 ? "" : l.slice(i + 2));
    }
    for (
      const [key, want] of Object.entries({ ...COMMON_ERRORS, ...expected })
    ) {
      assert(out.has(key), `no '${key}' line in ${[...out.keys()]}`);
      if (typeof want === "string") assert.equal(out.get(key), want, key);
      else assert.match(out.get(key)!, want, key);
    }
    assert(out.has("done"), `no 'done' line in ${[...out.keys()]}`);
    await assertNoBpfLeaks(before);
  });
}
