import assert from "node:assert/strict";
import dgram from "node:dgram";
import {
  assertNoBpfLeaks,
  bpfSnapshot,
  buildGuest,
  runCli,
} from "../../tests/util.ts";
import { assertInterrupted, fields, Tool } from "../tool_test_util.ts";

const wasm = async () =>
  `${await buildGuest("examples/sockfilter")}/sockfilter.wasm`;

const HEADER = /^IFACE\s+PROTO\s+SOURCE\s+DESTINATION\s+TYPE\s+LEN/;

function bound(): Promise<dgram.Socket> {
  const s = dgram.createSocket("udp4");
  return new Promise((resolve, reject) => {
    s.once("error", reject);
    s.bind(0, "127.0.0.1", () => resolve(s));
  });
}

Deno.test("sockfilter reports a UDP datagram sent on lo", async () => {
  const path = await wasm();
  const before = bpfSnapshot();
  const tool = new Tool(path, ["-i", "lo"]);
  const receiver = await bound();
  const sender = await bound();
  try {
    await tool.waitFor(HEADER);
    const dport = receiver.address().port;
    const sport = sender.address().port;
    const got = new Promise((r) => receiver.once("message", r));
    await new Promise<void>((resolve, reject) =>
      sender.send(
        "hello sockfilter",
        dport,
        "127.0.0.1",
        (e) => e ? reject(e) : resolve(),
      )
    );
    await got;
    // IFACE PROTO SOURCE -> DESTINATION TYPE LEN
    const line = fields(
      await tool.waitFor(
        (l) =>
          l.includes(`127.0.0.1:${sport} `) &&
          l.includes(`127.0.0.1:${dport} `) && / host /.test(l),
        10_000,
        `UDP 127.0.0.1:${sport} -> 127.0.0.1:${dport}`,
      ),
    );
    assert.deepEqual(line.slice(0, 6), [
      "lo",
      "UDP",
      `127.0.0.1:${sport}`,
      "->",
      `127.0.0.1:${dport}`,
      "host",
    ]);
    // 20 (IPv4) + 8 (UDP) + 16 payload + 14 (Ethernet)
    assert.equal(line[6], String(14 + 20 + 8 + 16));
  } finally {
    sender.close();
    receiver.close();
    const res = await tool.stop();
    assertInterrupted(res, "sockfilter");
  }
  await assertNoBpfLeaks(before);
});

Deno.test("sockfilter on a missing interface fails with a clear error", async () => {
  const path = await wasm();
  const before = bpfSnapshot();
  const res = await runCli([path, "-i", "nosuch0"], { timeoutMs: 30_000 });
  assert.equal(res.code, 1, res.stderr);
  assert.match(
    res.stderr,
    /failed to attach the socket filter to interface 'nosuch0'/,
  );
  await assertNoBpfLeaks(before);
});

Deno.test("sockfilter -h prints usage, bad arguments exit 2", async () => {
  const path = await wasm();
  const help = await runCli([path, "-h"]);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^usage: sockfilter/);
  const bad = await runCli([path, "-i", "a/b"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /invalid interface name 'a\/b'/);
});
