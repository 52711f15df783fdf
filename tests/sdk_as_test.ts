/**
 * The AssemblyScript guest SDK (wasm-sdk/assemblyscript, npm assemblyscript
 * pinned in build/tools) end to end: as-bootstrap reports a process the test
 * spawns (records through the exported table), and the SDK's error paths,
 * maps and batch polling work. Skips, with the reason, when asc or node is
 * missing (scripts/setup-sdk.sh installs asc).
 */
import { existsSync } from "node:fs";
import { ROOT } from "./util.ts";
import { bootstrapTests, errorsTest, have, sdk } from "./sdk_util.ts";

const ASC = `${ROOT}/build/tools/node_modules/.bin/asc`;
const AS = sdk("as", [
  [existsSync(ASC), `${ASC} is not installed (npm assemblyscript)`],
  [have("node"), "node (runs asc) is not on PATH"],
  [have("wasm2wat"), "wasm2wat (apt-get install wabt)"],
]);

bootstrapTests(AS, {
  name: "as-bootstrap",
  wasm: `${ROOT}/build/examples/as-bootstrap/as-bootstrap.wasm`,
  exitCode: 11,
  setGlobal: "with setGlobal",
});

errorsTest(
  AS,
  "AssemblyScript SDK: failures are error values; maps and batch polling work",
  `${ROOT}/build/wasm-sdk/assemblyscript/tests/errors.wasm`,
  {
    "set-global": "ok",
    "get-missing": /^err errno=2 lookup 'counts'/,
    "delete-missing": "ok false",
    "set-noexist": "err errno=17 update 'counts' failed: EEXIST (file exists)",
    "get": "ok 200",
    "keys": "ok 1,2,3",
    "delete": "ok true",
    "get-3": "ok 333",
    "buffer-hash-map":
      "err errno=22 buffer 'counts' failed: EINVAL (invalid argument)",
    "attach": "ok",
    "poll-truncated": "size=24 copied=8 magic=0x5eed",
    "poll": "size=24 copied=24 magic=0x5eed",
    "close": "ok",
    "close-again": "ok",
  },
);
