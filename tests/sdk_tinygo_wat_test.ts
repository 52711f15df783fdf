/**
 * The TinyGo guest shape (no exported table; records delivered through
 * `callback-wrapper`.`wasm_bpf_buffer_poll` and the export `go-callback`),
 * with the hand-written tests/guests/tinygo-wat/guest.wat. Skips, with the
 * reason, when wat2wasm (wabt) is missing.
 */
import assert from "node:assert/strict";
import { assertNoBpfLeaks, bpfSnapshot, ROOT } from "./util.ts";
import { spawnAndWait, Tool } from "../examples/tool_test_util.ts";
import { have, sdk, sdkTest } from "./sdk_util.ts";

const WAT = sdk(
  "wat",
  [[have("wat2wasm"), "no wat2wasm (apt-get install wabt)"]],
  "sdk_tinygo_wat_test",
);
const GUEST = `${ROOT}/build/tests/guests/tinygo-wat/guest.wasm`;

sdkTest(
  WAT,
  "TinyGo-shape guest gets records through go-callback",
  async () => {
    const before = bpfSnapshot();
    const tool = new Tool(GUEST);
    try {
      await tool.waitFor(/^polling$/);
      assert.deepEqual(tool.lines.slice(0, 3), [
        "loaded",
        "attached",
        "polling",
      ]);
      const pids: number[] = [];
      for (let i = 0; i < 3; i++) {
        pids.push((await spawnAndWait("/bin/true", [])).pid);
      }
      for (const pid of pids) {
        const line = await tool.waitFor(
          (l) => l.includes(` pid=${pid} `),
          10_000,
          `event of pid ${pid}`,
        );
        // ctx and the record come back exactly as the guest passed them
        assert.equal(
          line,
          `event ctx=4660 len=24 magic=${0x60C0FFEE} pid=${pid} comm=true`,
        );
      }
      // the records arrive in order
      const order = pids.map((pid) =>
        tool.lines.findIndex((l) => l.includes(` pid=${pid} `))
      );
      assert.deepEqual(order, [...order].sort((a, b) => a - b));
    } finally {
      const res = await tool.stop();
      assert.equal(res.code, 130, `exit code; stderr:\n${res.stderr}`);
      assert.doesNotMatch(res.stderr, /error/, res.stderr);
    }
    await assertNoBpfLeaks(before);
  },
);
