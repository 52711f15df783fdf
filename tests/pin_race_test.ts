/**
 * Pins land only in the granted `--allow-pin` directory, even when the
 * path to it changes between the policy's check and the pin: a process
 * swaps the granted directory with a symlink to a directory outside
 * (`renameat2(RENAME_EXCHANGE)`, as fast as it can) while the guest loads
 * and closes an object with a pinned map hundreds of times; and a granted
 * directory replaced by a symlink (to outside, or to the granted directory
 * itself moved away) is refused. Judged by where pins are: nothing outside
 * the granted directory, nothing left anywhere.
 */
import assert from "node:assert/strict";
import {
  assertNoBpfLeaks,
  bpfSnapshot,
  buildGuest,
  CLI_PERMISSIONS,
  ROOT,
} from "./util.ts";

const gaps = async () =>
  `${await buildGuest("tests/guests/sandbox-gaps")}/gaps.wasm`;

/** A fresh directory on bpffs with `granted/`, `outside/` and `alt -> outside`. */
function fixture() {
  try {
    Deno.statSync("/sys/fs/bpf");
  } catch {
    new Deno.Command("mount", { args: ["-t", "bpf", "bpf", "/sys/fs/bpf"] })
      .outputSync();
  }
  const top = `/sys/fs/bpf/wbgap-pin-${Deno.pid}-${Date.now()}`;
  Deno.mkdirSync(`${top}/granted`, { recursive: true });
  Deno.mkdirSync(`${top}/outside`);
  Deno.symlinkSync(`${top}/outside`, `${top}/alt`);
  return {
    top,
    granted: `${top}/granted`,
    outside: `${top}/outside`,
    /** Entries of a directory (symlinks not followed at `dir` itself). */
    list(dir: string): string[] {
      try {
        return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
      } catch {
        return [];
      }
    },
    /** Every entry under `top`, with its path. */
    all(): string[] {
      const out: string[] = [];
      const walk = (d: string) => {
        for (const e of Deno.readDirSync(d)) {
          out.push(`${d}/${e.name}`.slice(top.length + 1));
          if (e.isDirectory) walk(`${d}/${e.name}`);
        }
      };
      walk(top);
      return out.sort();
    },
    remove() {
      Deno.removeSync(top, { recursive: true });
    },
  };
}

/**
 * A process exchanging `a` and `b` (renameat2 RENAME_EXCHANGE) in a loop
 * until killed; resolves the number of swaps when stopped.
 */
function swapper(a: string, b: string) {
  const code = `
    const lib = Deno.dlopen("libc.so.6", {
      renameat2: { parameters: ["i32", "buffer", "i32", "buffer", "u32"], result: "i32" },
    }).symbols;
    const enc = new TextEncoder();
    const a = enc.encode(${JSON.stringify(a)} + "\\0");
    const b = enc.encode(${JSON.stringify(b)} + "\\0");
    let n = 0;
    const end = Date.now() + 120_000;
    for (;;) {
      if (lib.renameat2(-100, a, -100, b, 2) !== 0) throw new Error("renameat2 failed");
      n++;
      if ((n & 1023) === 0 && Date.now() > end) break;
    }`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", code],
    stdout: "null",
    stderr: "null",
  }).spawn();
  let stopped: Promise<unknown> | undefined;
  return {
    async stop(): Promise<void> {
      if (!stopped) {
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
        stopped = child.status;
      }
      await stopped;
    },
  };
}

/** The CLI running the guest; `onStart` runs when the guest says "start". */
async function runGuest(
  args: string[],
  onStart: () => void | Promise<void>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...CLI_PERMISSIONS, `${ROOT}/mod.ts`, ...args],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
  const stderr = new Response(child.stderr).text();
  let stdout = "";
  let started = false;
  for await (
    const chunk of child.stdout.pipeThrough(new TextDecoderStream())
  ) {
    stdout += chunk;
    if (!started && stdout.includes("start\n")) {
      started = true;
      await onStart();
    }
  }
  const status = await child.status;
  clearTimeout(timer);
  return { code: status.code, stdout, stderr: await stderr };
}

Deno.test("pin race: a directory swapped with a symlink to outside never lands a pin outside", async () => {
  const wasm = await gaps();
  const f = fixture();
  const before = bpfSnapshot();
  let swap: ReturnType<typeof swapper> | undefined;
  // every entry ever made outside (a pin that landed there and was
  // removed again by an unpin through the same symlink counts too)
  const watcher = Deno.watchFs(f.outside, { recursive: false });
  const madeOutside: string[] = [];
  const watching = (async () => {
    for await (const ev of watcher) {
      if (ev.kind === "create") madeOutside.push(...ev.paths);
    }
  })();
  try {
    const r = await runGuest(
      ["--allow-pin", f.granted, wasm, "pinloop", "400"],
      () => {
        swap = swapper(f.granted, `${f.top}/alt`);
      },
    );
    await swap?.stop();
    assert.equal(r.code, 0, r.stderr);
    const m = /pinned (\d+) refused (\d+)/.exec(r.stdout);
    assert(m, r.stdout + r.stderr);
    const [pinned, refused] = [Number(m[1]), Number(m[2])];
    console.log(`pinned ${pinned}, refused ${refused} of 400 loads`);
    await new Promise((r) => setTimeout(r, 200)); // the last events
    watcher.close();
    await watching;
    assert.deepEqual(
      madeOutside,
      [],
      `pins landed outside the granted directory (${f.all()})`,
    );
    assert.deepEqual(f.list(f.outside), [], `pins outside: ${f.all()}`);
    // both states of the swap were met
    assert(pinned > 0 && refused > 0, r.stdout);
    // the swap ends in either state: look at both directories by name
    const grantedNow = Deno.lstatSync(f.granted).isSymlink
      ? `${f.top}/alt`
      : f.granted;
    assert.deepEqual(f.list(grantedNow), [], `pins left: ${f.all()}`);
    await assertNoBpfLeaks(before);
  } finally {
    await swap?.stop();
    try {
      watcher.close();
    } catch { /* closed */ }
    f.remove();
  }
});

Deno.test("pin: a granted directory replaced by a symlink is refused, whether it leads outside or to the granted directory moved away", async () => {
  const wasm = await gaps();
  for (const to of ["outside", "moved"] as const) {
    const f = fixture();
    const before = bpfSnapshot();
    try {
      let seen: string[] = [];
      const r = await runGuest(
        ["--allow-pin", f.granted, wasm, "pinhold", "2"],
        async () => {
          Deno.renameSync(f.granted, `${f.top}/moved`);
          Deno.symlinkSync(`${f.top}/${to}`, f.granted);
          // while the guest holds what it loaded
          await new Promise((r) => setTimeout(r, 2000));
          seen = f.all();
        },
      );
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^start\nrefused\n$/, `${to}: ${r.stderr}`);
      assert.deepEqual(
        seen,
        ["alt", "granted", "moved", "outside"],
        `${to}: a pin was made`,
      );
      await assertNoBpfLeaks(before);
    } finally {
      f.remove();
    }
  }
});

Deno.test("pin: the granted directory, unchanged, gets the pin while the guest holds it, and loses it when the guest ends", async () => {
  const wasm = await gaps();
  const f = fixture();
  const before = bpfSnapshot();
  try {
    let seen: string[] = [];
    const r = await runGuest(
      ["--allow-pin", f.granted, wasm, "pinhold", "3"],
      async () => {
        await new Promise((r) => setTimeout(r, 2500));
        seen = f.list(f.granted);
      },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^start\npinned\n$/, r.stderr);
    assert.deepEqual(seen, ["wbgap_pin"]);
    assert.deepEqual(f.all(), ["alt", "granted", "outside"]);
    await assertNoBpfLeaks(before);
  } finally {
    f.remove();
  }
});
