/**
 * The Rust guest SDK (wasm-sdk/rust) end to end: rust-bootstrap reports a
 * process the test spawns, and the SDK's error paths come back as values.
 * Skips, with the reason, when Debian's rustc with the wasm32-wasi std is
 * not installed (scripts/setup-sdk.sh installs it).
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { assertNoBpfLeaks, bpfSnapshot, ROOT } from "./util.ts";
import {
  bootstrapTests,
  errorsTest,
  runPokedGuest,
  sdk,
  sdkTest,
} from "./sdk_util.ts";

const RUST = sdk("rust", [
  [
    existsSync("/usr/bin/rustc"),
    "/usr/bin/rustc (Debian rustc) is not installed",
  ],
  [
    existsSync("/usr/lib/rustlib/wasm32-wasi"),
    "the wasm32-wasi Rust std (libstd-rust-dev-wasm32) is not installed",
  ],
]);
const TESTS = `${ROOT}/build/wasm-sdk/rust/tests`;

bootstrapTests(RUST, {
  name: "rust-bootstrap",
  wasm: `${ROOT}/build/examples/rust-bootstrap/rust-bootstrap.wasm`,
  exitCode: 9,
  setGlobal: "through ObjectFile",
});

errorsTest(
  RUST,
  "Rust SDK: failures are error values; maps and polling work",
  `${TESTS}/errors.wasm`,
  {
    "set-global": "ok ()",
    "get-missing": "ok None",
    "remove-missing": "ok false",
    "set-noexist": "err errno=17 update 'counts' failed: EEXIST (file exists)",
    "get": "ok Some(200)",
    "keys": "[1, 2, 3]",
    "entries": "[(1, 100), (2, 200), (3, 300)]",
    "remove": "ok true",
    "lookup-bytes": "ok (true, 300)",
    "buffer-hash-map":
      "err errno=22 buffer 'counts' failed: EINVAL (invalid argument)",
    "attach": "ok ()",
    "poll": "stopped 1 magic=0x5eed",
    "close": "ok ()",
  },
);

sdkTest(
  RUST,
  "Rust SDK: batch polling through wasm_bpf_ext, with truncation",
  async () => {
    const before = bpfSnapshot();
    const res = await runPokedGuest(`${TESTS}/batch.wasm`, /^attached$/);
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
);
