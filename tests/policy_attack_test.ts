/**
 * A hostile guest against the policy, through the CLI with real guests and
 * the real kernel (issue 11): attach targets spelled to look granted (`..`,
 * a symlink named like the granted binary), a tracepoint that kills another
 * process with bpf_send_signal, maps sized to eat kernel memory, and more
 * objects than a guest needs. Each attack is paired with the run that the
 * policy allows, so the test shows the refusal is the policy's doing.
 */
import assert from "node:assert/strict";
import {
  assertNoBpfLeaks,
  bpfSnapshot,
  buildGuest,
  CLI_PERMISSIONS,
  type ProcResult,
  runCli,
} from "./util.ts";

const CGROUP_ROOT = "/sys/fs/cgroup/unified";

async function guest(): Promise<string> {
  return `${await buildGuest("tests/guests/policy-attack")}/policy_attack.wasm`;
}

/** A process making system calls all the time until it is killed. */
function victim() {
  const child = new Deno.Command("sh", {
    args: ["-c", "while :; do sleep 0.05; done"],
    stdout: "null",
    stderr: "null",
  }).spawn();
  return {
    pid: child.pid,
    /** Whether it died (by SIGKILL) within `ms`. */
    async killedWithin(ms: number): Promise<boolean> {
      const timer = new Promise<"alive">((r) =>
        setTimeout(() => r("alive"), ms)
      );
      const s = await Promise.race([child.status, timer]);
      if (s === "alive") return false;
      assert.equal(s.signal, "SIGKILL");
      return true;
    },
    async stop() {
      try {
        child.kill("SIGKILL");
      } catch {
        // gone already
      }
      await child.status;
    },
  };
}

/** The host's denial line (the guest's own stderr may run into it). */
function denial(r: ProcResult): string {
  const m = r.stderr.match(/wasm-bpf: denied:[^\n]*/);
  assert(m, `no denial in stderr:\n${r.stderr}`);
  return m[0];
}

Deno.test("acting helpers: bpf_send_signal in a tracepoint kills another process only when granted", async () => {
  const wasm = await guest();
  const before = bpfSnapshot();
  const run = async (flags: string[]) => {
    const v = victim();
    try {
      const r = await runCli([...flags, wasm, "signal", String(v.pid), "1"]);
      return { r, killed: await v.killedWithin(500) };
    } finally {
      await v.stop();
    }
  };
  const restricted = await run(["--restricted", "--allow-kind=tracing"]);
  assert.equal(restricted.killed, false, "the victim survives --restricted");
  assert.notEqual(restricted.r.code, 0);
  assert(!restricted.r.stdout.includes("loaded"), restricted.r.stdout);
  assert.match(
    denial(restricted.r),
    /program 'kill_victim' .* calls bpf_send_signal.*--allow-helper=bpf_send_signal/,
  );
  // the same guest kills it when nothing is restricted, or the helper granted
  const open = await run([]);
  assert.equal(open.killed, true, `not killed:\n${open.r.stderr}`);
  const granted = await run([
    "--restricted",
    "--allow-kind=tracing",
    "--allow-helper=bpf_send_signal",
  ]);
  assert.equal(granted.killed, true, `not killed:\n${granted.r.stderr}`);
  await assertNoBpfLeaks(before);
});

Deno.test("map memory: 1 GiB of ring buffers is refused by the default cap and by the finding's flags", async () => {
  const wasm = await guest();
  const before = bpfSnapshot();
  for (
    const flags of [[], [
      "--restricted",
      "--allow-kind=tracing",
      "--max-objects=1",
      "--max-memory=16",
    ]]
  ) {
    const r = await runCli([...flags, wasm, "bigmaps"], {
      permissions: [...CLI_PERMISSIONS, "--allow-run"], // --max-memory
    });
    assert.notEqual(r.code, 0);
    assert(!r.stdout.includes("loaded"), r.stdout);
    assert.match(
      denial(r),
      /map 'big\d', 513 MiB.*limit is 256 MiB.*--max-map-memory/,
    );
  }
  const raised = await runCli(["--max-map-memory=1100", wasm, "bigmaps"]);
  assert.equal(raised.code, 0, raised.stderr);
  assert.match(raised.stdout, /loaded/);
  await assertNoBpfLeaks(before);
});

Deno.test("object count: 64 objects by default (the fd table stays safe), --max-objects N", async () => {
  const wasm = await guest();
  const before = bpfSnapshot();
  const r = await runCli([wasm, "many", "100"], { timeoutMs: 60_000 });
  assert.match(r.stdout, /^objects 64$/m, r.stderr);
  assert.match(
    denial(r),
    /object number 65, the limit is 64 \(--max-objects\)/,
  );
  const three = await runCli(["--max-objects=3", wasm, "many", "100"]);
  assert.match(three.stdout, /^objects 3$/m, three.stderr);
  await assertNoBpfLeaks(before);
});

function cgroupV2(): boolean {
  try {
    return Deno.statSync(`${CGROUP_ROOT}/cgroup.procs`).isFile;
  } catch {
    return false;
  }
}

/** The sock_ops programs `bpftool cgroup show DIR` lists. */
function sockOpsAt(dir: string): number {
  const out = new Deno.Command("bpftool", {
    args: ["cgroup", "show", dir, "-j"],
    stdout: "piped",
    stderr: "null",
  }).outputSync();
  const text = new TextDecoder().decode(out.stdout).trim();
  const list = text ? JSON.parse(text) as { attach_type: string }[] : [];
  return list.filter((e) =>
    e.attach_type === "cgroup_sock_ops" || e.attach_type === "sock_ops"
  ).length;
}

Deno.test({
  name:
    "cgroups by identity: --allow-cgroup A refuses A/.. and A/../B, allows A/child",
  ignore: !cgroupV2(),
  fn: async () => {
    const wasm = `${await buildGuest("examples/sockops")}/sockops.wasm`;
    const parent = `${CGROUP_ROOT}/wbpf-policy-${Deno.pid}`;
    const a = `${parent}/a`;
    await Deno.mkdir(`${a}/child`, { recursive: true });
    await Deno.mkdir(`${parent}/b`);
    const before = bpfSnapshot();
    try {
      const attempt = (target: string, extra: string[] = []) =>
        runCli([`--allow-cgroup=${a}`, ...extra, wasm, "-c", target]);
      const norm = (line: string, target: string) =>
        line.replaceAll(target, "T");
      const lines: string[] = [];
      for (
        const target of [
          `${a}/..`,
          `${a}/../b`,
          `${a}/missing`,
          `${CGROUP_ROOT}/wbpf-nothing/..`,
        ]
      ) {
        const r = await attempt(target);
        assert.notEqual(r.code, 0);
        lines.push(norm(denial(r), target));
      }
      // the same refusal whether the path exists or not
      assert.equal(new Set(lines).size, 1, lines.join("\n"));
      assert.equal(sockOpsAt(parent), 0);
      assert.equal(sockOpsAt(`${parent}/b`), 0);
      // a descendant is granted: attached while it runs
      const running = attempt(`${a}/child`, ["--timeout=3"]);
      let seen = 0;
      for (let i = 0; i < 25 && !seen; i++) {
        await new Promise((r) => setTimeout(r, 100));
        seen = sockOpsAt(`${a}/child`);
      }
      const r = await running;
      assert.equal(seen, 1, `not attached to a/child:\n${r.stderr}`);
      assert.equal(r.code, 124, r.stderr);
      assert.equal(sockOpsAt(`${a}/child`), 0);
      await assertNoBpfLeaks(before);
    } finally {
      await Deno.remove(`${a}/child`);
      await Deno.remove(a);
      await Deno.remove(`${parent}/b`);
      await Deno.remove(parent);
    }
  },
});

Deno.test("binaries by identity: a symlink named .../usr/bin/bash to libc is not /usr/bin/bash", async () => {
  const libc = "/lib/x86_64-linux-gnu/libc.so.6";
  const wasm = `${await buildGuest("examples/uprobe")}/uprobe.wasm`;
  const dir = await Deno.makeTempDir();
  const before = bpfSnapshot();
  const v = victim();
  try {
    await Deno.mkdir(`${dir}/usr/bin`, { recursive: true });
    await Deno.symlink(libc, `${dir}/usr/bin/bash`);
    const attempt = (binary: string, grant: string, extra: string[] = []) =>
      runCli([
        `--allow-binary=${grant}`,
        ...extra,
        wasm,
        "-b",
        binary,
        "-f",
        "malloc",
        "-p",
        String(v.pid),
      ]);
    const lines: string[] = [];
    for (const binary of [`${dir}/usr/bin/bash`, `${dir}/usr/bin/nothing`]) {
      const r = await attempt(binary, "/usr/bin/bash");
      assert.notEqual(r.code, 0);
      lines.push(denial(r).replaceAll(binary, "T"));
    }
    assert.equal(lines[0], lines[1], "the same refusal for a missing path");
    // granted by identity: libc itself, reached through the symlink
    const r = await attempt(`${dir}/usr/bin/bash`, libc, ["--timeout=2"]);
    assert.equal(r.code, 124, r.stderr);
    assert.match(r.stdout, /malloc|TIME|->|<-/, r.stdout);
    await assertNoBpfLeaks(before);
  } finally {
    await v.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
