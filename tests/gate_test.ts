/**
 * The map-operation gate (host/gate.ts): a hostile guest gets the same
 * answers through the gate as through the JavaScript path, including when
 * its memory moves on every grow; the gate is in place exactly when deno
 * runs with `--wasm-fast-api`, and V8 then calls the fast path directly;
 * the wasm bytes in the sources are the assembled texts beside them.
 *
 * @module
 */
import assert from "node:assert/strict";
import { GATE_WASM } from "../host/gate.ts";
import { OPERATE_WASM } from "../host/maps.ts";
import { buildGuest, ROOT } from "./util.ts";

const CPUS = navigator.hardwareConcurrency;

async function child(
  script: string,
  v8: string[],
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<Record<string, unknown>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      ...(v8.length ? [`--v8-flags=${v8.join(",")}`] : []),
      `${ROOT}/tests/${script}`,
      ...args,
    ],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  assert(out.success, `${script} ${v8.join(",")} failed:\n${stderr}${stdout}`);
  return JSON.parse(stdout.trim().split("\n").at(-1)!);
}

// what every mode must answer (tests/gate_child.ts names each case)
const EXPECTED = {
  // map calls the host refused that reached the kernel anyway (counted by
  // a BPF program on bpf(2)'s entry): none
  reachedKernel: {
    bounds: 0,
    fds: 0,
    closed: 0,
    stale: 0,
    hostClosed: 0,
    readonly: 0,
  },
  warmUpdate: 0,
  warmFailures: 0,
  update: 0,
  kernelAfterUpdate: "1122334455667788",
  lookup: 0,
  lookedUp: "5",
  nextKeys: { keys: [1, 7], end: -2 },
  kernelKeys: [1, 7],
  delete: 0,
  kernelAfterDelete: null,
  // pointers at and past the end of the memory: -EFAULT, nothing written
  keyStraddles: -14,
  keyAtEnd: 0,
  kernel99: "1",
  keyPastEnd: -14,
  keyWraps: -14,
  keyNull: -14,
  deleteStraddles: -14,
  keysUnchanged: true,
  valueStraddles: -14,
  valueNull: -14,
  percpuStraddles: -14,
  tailUntouched: true,
  nextStraddles: -14,
  nextKeyStraddles: -14,
  // per-CPU values: one u64 per CPU
  percpuUpdate: 0,
  percpuLookup: 0,
  percpuValues: true,
  percpuKernel: "100",
  // another guest's map, own program fds, fds it never got: -EBADF
  foreignUpdate: -9,
  foreignLookup: -9,
  foreignDelete: -9,
  victimValue: "42",
  leakedValue: false,
  programFd: -9,
  bigFd: -9,
  negativeFd: -9,
  // a program array's value is another guest's program: refused, unset
  jmpForeign: -9,
  jmpKernel: null,
  // flags above 32 bits (the kernel's -EINVAL), unknown commands
  bigFlags: -22,
  kernel8: null,
  cmd0: -22,
  cmd9: -22,
  // after the memory grew: new pages and old ones at the right address
  grownUpdate: 0,
  kernel21: "feed",
  grownLookup: 0,
  grownValue: "feed",
  lowAfterGrow: 0,
  lowValue: "feed",
  // a closed object's fd, now another guest's map: -EBADF, untouched
  afterClose: -9,
  fdReusedByOther: true,
  staleUpdate: -9,
  staleLookup: -9,
  staleLeak: false,
  otherValue: "60",
  newObjectUpdate: 0,
  newObjectKernel: "44",
  afterHostClose: -22,
  gateAfterHostClose: false,
  // read-only maps (policy): -EPERM, unchanged; audited writes recorded
  readonlyUpdate: -1,
  readonlyDelete: -1,
  readonlyKernel: null,
  readonlyLookup: -2,
  auditRecords: 4,
  lazyEarly: 0,
  lazyLater: 0,
  // the counters: 1500 lookups (5 more refused), 700 updates, 300
  // deletes, 200 next keys, whichever path took them
  counted: [1500, 700, 300, 200],
  // a shared memory: the JavaScript path
  sharedGate: false,
  sharedUpdate: 0,
  sharedLookup: 0,
  sharedValue: "99",
  sharedStraddles: -14,
};

const MODES: [string, string[], boolean][] = [
  ["the JavaScript path (no --wasm-fast-api)", [], false],
  ["the gate", ["--wasm-fast-api"], true],
  [
    "the gate, over memories that move on every grow",
    [
      "--wasm-fast-api",
      "--wasm-enforce-bounds-checks",
      "--stress-wasm-memory-moving",
    ],
    true,
  ],
];

for (const [name, v8, gated] of MODES) {
  Deno.test(`a hostile guest's map operations through ${name}`, async () => {
    const obj = `${await buildGuest("tests/guests/gate")}/gate.bpf.o`;
    const got = await child("gate_child.ts", v8, [obj]);
    assert.equal(got.mapGate, gated, "the gate is in place with the flag");
    assert.equal(got.gateAfterReload, gated);
    assert.equal(got.lazyBefore, false, "no gate before 1024 operations");
    assert.equal(got.lazyAfter, gated, "the gate after 1024 operations");
    assert.equal(got.countedGate, gated);
    if (v8.includes("--stress-wasm-memory-moving")) {
      assert.equal(got.moved, true, "the memory moved when it grew");
    }
    const {
      mapGate: _g,
      gateAfterReload: _r,
      moved: _m,
      lazyBefore: _b,
      lazyAfter: _a,
      countedGate: _c,
      ...rest
    } = got;
    if (CPUS < 2) rest.percpuStraddles = -14; // one CPU: 8 bytes fit
    assert.deepEqual(rest, EXPECTED);
  });
}

Deno.test("the gate's flag is read as deno passes it to V8, and V8 then calls the fast path directly", async () => {
  const cases: [string, string[], string[], Record<string, string>, boolean][] =
    [
      ["no flag", [], [], {}, false],
      ["--v8-flags", ["--wasm-fast-api"], [], {}, true],
      ["underscores", ["--wasm_fast_api"], [], {}, true],
      [
        "turned off again",
        ["--wasm-fast-api", "--no-wasm-fast-api"],
        [],
        {},
        false,
      ],
      ["DENO_V8_FLAGS", [], [], { DENO_V8_FLAGS: "--wasm-fast-api" }, true],
      [
        "the command line after DENO_V8_FLAGS",
        ["--no-wasm-fast-api"],
        [],
        { DENO_V8_FLAGS: "--wasm-fast-api" },
        false,
      ],
      ["a script argument", [], ["--v8-flags=--wasm-fast-api"], {}, false],
      // wasm code that is never optimized never calls directly
      [
        "the baseline tier only",
        ["--wasm-fast-api", "--liftoff-only"],
        [],
        {},
        false,
      ],
      [
        "the baseline tier only, turned off again",
        ["--liftoff-only", "--wasm-fast-api", "--no-liftoff-only"],
        [],
        {},
        true,
      ],
    ];
  for (const [what, v8, args, env, on] of cases) {
    const got = await child("gate_probe_child.ts", v8, args, env);
    assert.equal(got.flag, on, `${what}: read as ${got.flag}`);
    // what the gate relies on: with the flag (only), V8's optimized code
    // calls the fast path directly
    assert.equal(got.direct, on, `${what}: direct call ${got.direct}`);
  }
});

Deno.test("the wasm bytes in host/gate.ts and host/maps.ts are host/gate.wat and host/operate.wat assembled", async () => {
  for (
    const [wat, bytes] of [["gate", GATE_WASM], [
      "operate",
      OPERATE_WASM,
    ]] as const
  ) {
    const tmp = await Deno.makeTempFile({ suffix: ".wasm" });
    try {
      const out = await new Deno.Command("wat2wasm", {
        args: ["--enable-all", `${ROOT}/host/${wat}.wat`, "-o", tmp],
        stderr: "piped",
      }).output();
      assert(out.success, new TextDecoder().decode(out.stderr));
      assert.deepEqual(
        await Deno.readFile(tmp),
        bytes,
        `host/${wat}.wat changed: assemble it (wat2wasm --enable-all) into the literal`,
      );
    } finally {
      await Deno.remove(tmp);
    }
  }
});
