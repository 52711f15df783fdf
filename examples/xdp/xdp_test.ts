import assert from "node:assert/strict";
import dgram from "node:dgram";
import {
  assertNoBpfLeaks,
  bpfSnapshot,
  buildGuest,
  runCli,
} from "../../tests/util.ts";
import {
  assertInterrupted,
  fields,
  spawnAndWait,
  Tool,
} from "../tool_test_util.ts";

const wasm = async () => `${await buildGuest("examples/xdp")}/xdp.wasm`;

const HEADER = /^TIME\s+PROTO\s+PACKETS\s+BYTES$/;

async function sendUdp(n: number) {
  const rx = dgram.createSocket("udp4");
  const tx = dgram.createSocket("udp4");
  await new Promise<void>((r) => rx.bind(0, "127.0.0.1", r));
  let got = 0;
  const all = new Promise<void>((r) =>
    rx.on("message", () => {
      if (++got === n) r();
    })
  );
  for (let i = 0; i < n; i++) {
    await new Promise<void>((resolve, reject) =>
      tx.send(
        `datagram ${i}`,
        rx.address().port,
        "127.0.0.1",
        (e) => e ? reject(e) : resolve(),
      )
    );
  }
  await all;
  tx.close();
  rx.close();
}

/** The counts of the latest line for `proto`, or 0. */
function latest(lines: string[], proto: string): number {
  const line = lines.findLast((l) => fields(l)[1] === proto);
  return line ? Number(fields(line)[2]) : 0;
}

Deno.test("xdp counts UDP datagrams and pings received on lo", async () => {
  const path = await wasm();
  const before = bpfSnapshot();
  const tool = new Tool(path, ["-i", "lo", "1"]);
  try {
    await tool.waitFor(HEADER);
    await sendUdp(5);
    const ping = await spawnAndWait("ping", [
      "-c",
      "2",
      "-i",
      "0.2",
      "127.0.0.1",
    ]);
    assert.equal(ping.code, 0);
    // both echo requests and both replies come in on lo: 4 ICMP packets
    await tool.waitFor(
      () => latest(tool.lines, "UDP") >= 5 && latest(tool.lines, "ICMP") >= 4,
      10_000,
      "UDP >= 5 and ICMP >= 4 packets",
    );
    const udp = tool.lines.findLast((l) => fields(l)[1] === "UDP")!;
    // each datagram is 14 + 20 + 8 + 10 bytes long ("datagram N")
    assert(Number(fields(udp)[3]) >= 5 * 52, udp);
  } finally {
    const res = await tool.stop();
    assertInterrupted(res, "xdp");
  }
  await assertNoBpfLeaks(before);
});

Deno.test("xdp stops by itself after COUNT intervals", async () => {
  const path = await wasm();
  const before = bpfSnapshot();
  const res = await runCli([path, "1", "2"], { timeoutMs: 30_000 });
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stdout, /^Counting packets received on lo\.\.\. 2 time/);
  await assertNoBpfLeaks(before);
});

Deno.test("xdp on a missing interface fails with a clear error", async () => {
  const path = await wasm();
  const before = bpfSnapshot();
  const res = await runCli([path, "-i", "nosuch0"], { timeoutMs: 30_000 });
  assert.equal(res.code, 1, res.stderr);
  assert.match(
    res.stderr,
    /failed to attach the XDP program to interface 'nosuch0'/,
  );
  await assertNoBpfLeaks(before);
});

Deno.test("xdp -h prints usage, bad arguments exit 2", async () => {
  const path = await wasm();
  const help = await runCli([path, "-h"]);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^usage: xdp/);
  const bad = await runCli([path, "-i", "lo", "0"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /invalid interval '0'/);
});
