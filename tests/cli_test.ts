/**
 * The command line and the library entry points: help, usage errors, bad
 * files, missing permissions, not root, policy flags, audit log, time limit;
 * run() and WasmBpfHost used from this process, two guests at once.
 */
import assert from "node:assert/strict";
import { WASI } from "node:wasi";
import {
  assertNoBpfLeaks,
  bpfSnapshot,
  buildGuest,
  CLI_PERMISSIONS,
  ROOT,
  runCli,
} from "./util.ts";
import { Tool } from "../examples/tool_test_util.ts";
import { run, WasmBpfHost } from "../mod.ts";

const guest = async () => `${await buildGuest("tests/guests/abi")}/abi.wasm`;

Deno.test("--help and --version", async () => {
  const help = await runCli(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage:/);
  assert.match(help.stdout, /--allow-kind/);
  const v = await runCli(["--version"]);
  assert.equal(v.code, 0);
  const version =
    JSON.parse(Deno.readTextFileSync(`${ROOT}/deno.json`)).version;
  assert.equal(v.stdout.trim(), `wasm-bpf ${version}`);
});

Deno.test("usage errors exit 2 with one clear line", async () => {
  for (
    const [args, re] of [
      [[], /no app\.wasm given/],
      [["--bogus", "x.wasm"], /unknown option '--bogus'/],
      [["--env", "NOEQUALS", "x.wasm"], /--env needs NAME=VALUE/],
      [["--allow-kind", "magic", "x.wasm"], /unknown kind 'magic'/],
      [["--timeout", "-1", "x.wasm"], /--timeout needs a positive number/],
      [["--dir"], /--dir needs a value/],
      [["--audit", "x.wasm"], /--audit needs =FILE/],
    ] as [string[], RegExp][]
  ) {
    const r = await runCli(args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, re);
  }
});

Deno.test("missing file, not wasm, no _start: exit 125 naming the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r1 = await runCli([`${dir}/nope.wasm`]);
    assert.equal(r1.code, 125);
    assert.match(r1.stderr, /cannot read .*nope\.wasm/);
    await Deno.writeTextFile(`${dir}/junk.wasm`, "definitely not wasm");
    const r2 = await runCli([`${dir}/junk.wasm`]);
    assert.equal(r2.code, 125);
    assert.match(r2.stderr, /junk\.wasm is not a valid WebAssembly module/);
    // a valid module without _start: (module (memory (export "memory") 1))
    await Deno.writeFile(
      `${dir}/lib.wasm`,
      new Uint8Array([
        0,
        97,
        115,
        109,
        1,
        0,
        0,
        0,
        5,
        3,
        1,
        0,
        1,
        7,
        10,
        1,
        6,
        109,
        101,
        109,
        111,
        114,
        121,
        2,
        0,
      ]),
    );
    const r3 = await runCli([`${dir}/lib.wasm`]);
    assert.equal(r3.code, 125);
    assert.match(r3.stderr, /lib\.wasm exports no '_start'/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("without --allow-ffi: a clear line saying which flag is missing", async () => {
  const r = await runCli([await guest(), "maps", "1"], {
    permissions: ["--allow-read", "--allow-env"],
  });
  assert.equal(r.code, 125);
  assert.match(
    r.stderr,
    /wasm-bpf: cannot load (libbpf\.so\.1|libc\.so\.6).*--allow-ffi/s,
  );
});

Deno.test("not root: the load fails with one line saying root is needed", async () => {
  const wasm = await guest();
  // copies of deno, the runtime and the guest that an unprivileged user can
  // read wherever this checkout lives
  const dir = await Deno.makeTempDir();
  await Deno.chmod(dir, 0o755);
  const cp = await new Deno.Command("cp", {
    args: [
      "-r",
      "--parents",
      "mod.ts",
      "deno.json",
      "host",
      "ffi",
      "objfile",
      "wasm-sdk/gen",
      dir,
    ],
    cwd: ROOT,
  }).output();
  assert(cp.success, "copying the runtime");
  await Deno.copyFile(Deno.execPath(), `${dir}/deno`);
  await Deno.copyFile(wasm, `${dir}/abi.wasm`);
  await new Deno.Command("chmod", { args: ["-R", "a+rX", dir] }).output();
  try {
    const out = await new Deno.Command("setpriv", {
      args: [
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--inh-caps=-all",
        `${dir}/deno`,
        "run",
        "--allow-ffi",
        "--allow-read",
        "--allow-env",
        `${dir}/mod.ts`,
        `${dir}/abi.wasm`,
        "maps",
        "1",
      ],
      env: { DENO_DIR: `${dir}/deno-cache`, HOME: dir },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 10, stderr); // the guest's own "load failed" status
    assert.match(
      stderr,
      /not running as root: loading BPF programs needs root/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("policy: --read-only-maps denies updates with -EPERM and says which flag", async () => {
  const before = bpfSnapshot();
  const r = await runCli(["--read-only-maps", await guest(), "maps", "2"]);
  assert.match(r.stdout, /update 1 = -1/);
  assert.match(
    r.stderr,
    /denied: guest asked to update an entry of map 'kv', maps are read-only; allow it with --allow-map-writes/,
  );
  await assertNoBpfLeaks(before);
});

Deno.test("policy: --allow-kind denies other program kinds at load, naming the program", async () => {
  const before = bpfSnapshot();
  const r = await runCli([
    "--allow-kind",
    "networking",
    await guest(),
    "maps",
    "2",
  ]);
  assert.equal(r.code, 10); // the guest's "load failed"
  assert.match(
    r.stderr,
    /denied: guest asked to load program 'handle_exec' \(section 'tp\/sched\/sched_process_exec', kind tracing\); allow it with --allow-kind=tracing/,
  );
  const ok = await runCli(["--allow-kind=tracing", await guest(), "maps", "2"]);
  assert.equal(ok.code, 0, ok.stderr);
  await assertNoBpfLeaks(before);
});

Deno.test("policy: --max-objects and a JSON policy file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await runCli(["--max-objects", "1", await guest(), "reload"]);
    assert.equal(r.code, 10, r.stderr); // the second object at once is refused
    assert.match(
      r.stderr,
      /denied: guest asked to load BPF object number 2, the limit is 1/,
    );
    await Deno.writeTextFile(
      `${dir}/p.json`,
      JSON.stringify({ mapWrites: false }),
    );
    const r2 = await runCli([
      "--policy",
      `${dir}/p.json`,
      await guest(),
      "maps",
      "2",
    ]);
    assert.match(r2.stdout, /update 1 = -1/);
    await Deno.writeTextFile(
      `${dir}/bad.json`,
      JSON.stringify({ mapWritez: false }),
    );
    const r3 = await runCli([
      "--policy",
      `${dir}/bad.json`,
      await guest(),
      "maps",
      "2",
    ]);
    assert.equal(r3.code, 2);
    assert.match(r3.stderr, /bad\.json: unknown field 'mapWritez'/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--restricted: nothing but what --allow-* flags grant", async () => {
  const before = bpfSnapshot();
  const denied = await runCli(["--restricted", await guest(), "maps", "2"]);
  assert.equal(denied.code, 10); // the guest's "load failed"
  assert.match(
    denied.stderr,
    /denied: guest asked to load program 'handle_exec' .*--allow-kind=tracing/,
  );
  const readOnly = await runCli([
    "--restricted",
    "--allow-kind=tracing",
    await guest(),
    "maps",
    "2",
  ]);
  assert.match(readOnly.stdout, /update 1 = -1/);
  assert.match(readOnly.stderr, /allow it with --allow-map-writes/);
  const ok = await runCli([
    "--restricted",
    "--allow-kind=tracing",
    "--allow-map-writes",
    await guest(),
    "maps",
    "2",
  ]);
  assert.equal(ok.code, 0, ok.stderr);
  await assertNoBpfLeaks(before);
});

Deno.test("--audit writes JSON lines for loads, attaches and map writes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await runCli([
      `--audit=${dir}/audit.jsonl`,
      await guest(),
      "reload",
    ], {
      permissions: [
        "--allow-ffi",
        "--allow-read",
        "--allow-env",
        `--allow-write=${dir}`,
      ],
    });
    assert.equal(r.code, 0, r.stderr);
    const events = Deno.readTextFileSync(`${dir}/audit.jsonl`).trim().split(
      "\n",
    ).map((l) => JSON.parse(l));
    const loads = events.filter((e) => e.event === "load");
    assert.equal(loads.length, 5); // three rounds, then two at once
    assert.deepEqual(loads[0].programs.map((p: { name: string }) => p.name), [
      "handle_exec",
      "handle_exit",
    ]);
    const attaches = events.filter((e) => e.event === "attach");
    assert.equal(attaches.length, 6);
    assert.equal(attaches[0].section, "tp/sched/sched_process_exec");
    assert.equal(events.filter((e) => e.event === "map_update").length, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("'run APP' is 'APP' (the form ecli users and the DaemonSet write)", async () => {
  const before = bpfSnapshot();
  const res = await runCli(["run", "--timeout", "1", await guest(), "wait"], {
    timeoutMs: 15_000,
  });
  // the guest ran and waited in its poll until the time limit: not a
  // missing file named "run" (125)
  assert.equal(res.code, 124, res.stderr);
  await assertNoBpfLeaks(before);
});

Deno.test("--timeout stops a guest waiting in a poll: exit 124, nothing left", async () => {
  const before = bpfSnapshot();
  const tool = new Tool("--timeout", ["1", await guest(), "wait"]);
  const res = await tool.wait(15_000);
  assert.equal(res.code, 124, res.stderr);
  await assertNoBpfLeaks(before);
});

Deno.test("--max-memory: the guest's memory stops growing at the ceiling", async () => {
  const withRun = { permissions: [...CLI_PERMISSIONS, "--allow-run"] };
  const r = await runCli(["--max-memory", "8", await guest(), "oom"], withRun);
  assert.equal(r.code, 3, r.stderr);
  const mib = Number(/allocated (\d+) MiB/.exec(r.stdout)?.[1]);
  assert(mib >= 1 && mib < 8, r.stdout);
  const tiny = await runCli(
    ["--max-memory", "0.1", await guest(), "oom"],
    withRun,
  );
  assert.equal(tiny.code, 125);
  assert.match(
    tiny.stderr,
    /abi\.wasm: the guest needs \d+ KiB of memory to start, more than the 64 KiB allowed/,
  );
});

Deno.test("WASI sandbox: no files or environment unless granted with --dir and --env", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/secret.txt`, "the secret\n");
    const denied = await runCli([await guest(), "cat", `${dir}/secret.txt`]);
    assert.equal(denied.code, 1);
    assert.match(denied.stdout, /open .*secret\.txt failed/);
    assert.doesNotMatch(denied.stdout, /the secret/);
    const granted = await runCli([
      "--dir",
      `${dir}:/data`,
      await guest(),
      "cat",
      "/data/secret.txt",
    ], {
      permissions: [
        "--allow-ffi",
        "--allow-read",
        "--allow-env",
        `--allow-write=${dir}`,
      ],
    });
    assert.equal(granted.code, 0, granted.stderr);
    assert.equal(granted.stdout, "the secret\n");
    Deno.env.set("WASM_BPF_TEST_SECRET", "leak");
    const noEnv = await runCli([
      await guest(),
      "getenv",
      "WASM_BPF_TEST_SECRET",
    ]);
    assert.equal(noEnv.stdout.trim(), "WASM_BPF_TEST_SECRET=(unset)");
    const env = await runCli([
      "--env",
      "GREETING=hi there",
      await guest(),
      "getenv",
      "GREETING",
    ]);
    assert.equal(env.stdout.trim(), "GREETING=hi there");
  } finally {
    Deno.env.delete("WASM_BPF_TEST_SECRET");
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--verbose shows libbpf's own messages and the host's decisions", async () => {
  const r = await runCli(["-v", await guest(), "reload"]);
  assert.equal(r.code, 0);
  assert.match(r.stderr, /libbpf\(\d\): /);
  assert.match(
    r.stderr,
    /loaded object abi\.wasm#1: programs handle_exec \(tp\/sched\/sched_process_exec\)/,
  );
});

Deno.test("library: two guests run at once, each in its own process with its own objects", async () => {
  const before = bpfSnapshot();
  const wasm = await guest();
  const [a, b] = await Promise.all([
    run(wasm, { args: ["reload"], verbose: true }), // both print libbpf's log: the hook is taken in turns
    run(wasm, { args: ["maps", "2"], verbose: true }),
  ]);
  assert.equal(a.kind, "exited");
  assert.equal(a.guestCode, 0);
  assert.equal(b.guestCode, 0);
  await assertNoBpfLeaks(before);
});

Deno.test("library: WasmBpfHost adds the imports to an instance we create ourselves", async () => {
  const before = bpfSnapshot();
  const module = await WebAssembly.compile(await Deno.readFile(await guest()));
  const logs: string[] = [];
  const host = new WasmBpfHost({ name: "mine", log: (l) => logs.push(l) });
  const wasi = new WASI({
    version: "preview1",
    args: ["abi", "errors"],
    returnOnExit: true,
  });
  let custom = 0;
  const instance = new WebAssembly.Instance(module, {
    wasi_snapshot_preview1: wasi
      .wasiImport as unknown as WebAssembly.ModuleImports,
    ...host.imports(),
    env: { unused: () => custom++ },
  });
  host.bind(instance);
  try {
    assert.equal(wasi.start(instance), 0);
  } finally {
    host.close();
  }
  assert(
    logs.some((l) =>
      l.includes("no program 'no_such_prog' in BPF object 'mine#1'")
    ),
    logs.join("\n"),
  );
  assert.equal(host.objectCount, 0);
  await assertNoBpfLeaks(before);
});

Deno.test("library: an AbortSignal stops a guest waiting in a poll", async () => {
  const before = bpfSnapshot();
  const ac = new AbortController();
  const p = run(await guest(), { args: ["wait"], signal: ac.signal });
  await new Promise((r) => setTimeout(r, 1500));
  ac.abort();
  const status = await p;
  assert.equal(status.kind, "interrupted");
  assert.equal(status.code, 130);
  await assertNoBpfLeaks(before);
});
