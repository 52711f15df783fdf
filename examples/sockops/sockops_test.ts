import assert from "node:assert/strict";
import {
  assertNoBpfLeaks,
  bpfSnapshot,
  buildGuest,
  runCli,
} from "../../tests/util.ts";
import { assertInterrupted, fields, Tool } from "../tool_test_util.ts";

const wasm = async () => `${await buildGuest("examples/sockops")}/sockops.wasm`;

const HEADER = /^TIME\s+DIR\s+FAM\s+LOCAL -> REMOTE$/;
const CGROUP2 = "/sys/fs/cgroup/unified";

function haveCgroup2(): boolean {
  try {
    return Deno.statSync(`${CGROUP2}/cgroup.procs`).isFile;
  } catch {
    return false;
  }
}

const noCgroup2 = !haveCgroup2();
if (noCgroup2) {
  console.log(`sockops: cgroup test skipped: no cgroup v2 at ${CGROUP2}`);
}

Deno.test({
  name: "sockops reports a TCP connection made in a child cgroup",
  ignore: noCgroup2,
}, async () => {
  const path = await wasm();
  const cgroup = `${CGROUP2}/wasm-bpf-sockops-${Deno.pid}`;
  await Deno.mkdir(cgroup);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const before = bpfSnapshot();
  const tool = new Tool(path, ["-c", cgroup]);
  // a client that connects only once it sits in the cgroup
  const client = new Deno.Command("/bin/bash", {
    args: ["-c", `read go; exec 3<>/dev/tcp/127.0.0.1/${port}`],
    stdin: "piped",
    stdout: "null",
  }).spawn();
  try {
    await tool.waitFor(HEADER);
    await Deno.writeTextFile(`${cgroup}/cgroup.procs`, `${client.pid}\n`);
    const w = client.stdin.getWriter();
    await w.write(new TextEncoder().encode("go\n"));
    await w.close();
    const conn = await listener.accept();
    const cport = (conn.remoteAddr as Deno.NetAddr).port;
    conn.close();
    assert.equal((await client.status).code, 0);

    // TIME DIR FAM LOCAL -> REMOTE
    const line = fields(
      await tool.waitFor(
        (l) => l.includes(`127.0.0.1:${cport} -> 127.0.0.1:${port}`),
        10_000,
        `active 127.0.0.1:${cport} -> 127.0.0.1:${port}`,
      ),
    );
    assert.deepEqual(line.slice(1), [
      "active",
      "IPv4",
      `127.0.0.1:${cport}`,
      "->",
      `127.0.0.1:${port}`,
    ]);
    // the accepting side is outside the cgroup: no passive event for it
    assert(
      !tool.lines.some((l) => / passive /.test(l) && l.includes(`:${port} `)),
      tool.lines.join("\n"),
    );
  } finally {
    listener.close();
    try {
      client.kill("SIGKILL");
    } catch { /* exited */ }
    await client.status;
    const res = await tool.stop();
    await Deno.remove(cgroup);
    assertInterrupted(res, "sockops");
  }
  await assertNoBpfLeaks(before);
});

Deno.test("sockops on a missing cgroup fails with a clear error", async () => {
  const path = await wasm();
  const before = bpfSnapshot();
  const res = await runCli([path, "-c", "/nonexistent/cgroup"], {
    timeoutMs: 30_000,
  });
  assert.equal(res.code, 1, res.stderr);
  assert.match(
    res.stderr,
    /failed to attach to cgroup '\/nonexistent\/cgroup'/,
  );
  await assertNoBpfLeaks(before);
});

Deno.test("sockops -h prints usage, bad arguments exit 2", async () => {
  const path = await wasm();
  const help = await runCli([path, "-h"]);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^usage: sockops/);
  const bad = await runCli([path, "-c", "relative"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /invalid cgroup 'relative'/);
});
