/**
 * The WASI layer (host/wasi/) confines a guest's filesystem: the attack
 * guest (tests/guests/wasi-attack/attack.c) runs in-process with only the
 * layer's imports and tries every way out of its preopened box that
 * node:wasi lets through (symlinks, `..`, /proc magic links, hard links,
 * renames, a rename race) plus writes to a read-only box. Outcomes are
 * judged on the host: were the secret's bytes printed, did a file outside
 * change. The ordinary things (files, dirs, args, env, clocks, sleep and
 * its interruption, stdin, exit codes, bad pointers) still work. No BPF,
 * no root needed, except by the last test, which runs the same guest
 * through the CLI (`--dir HOST:GUEST[:rw]`).
 */
import assert from "node:assert/strict";
import { buildGuest, runCli } from "./util.ts";
import { Errno, Wasi, WasiInterrupted } from "../host/wasi/mod.ts";
import { openat2 } from "../host/wasi/fs.ts";
import { libc } from "../host/wasi/libc.ts";

const dir = await buildGuest("tests/guests/wasi-attack");
const module = await WebAssembly.compile(
  await Deno.readFile(`${dir}/attack.wasm`),
);
const dec = new TextDecoder();

interface Box {
  root: string;
  box: string;
  outside: string;
  secret: string;
  secretPath: string;
  targetPath: string;
  [Symbol.dispose](): void;
}

/** tmp/{box/hello, outside/secret, outside/target}. */
function makeBox(): Box {
  const root = Deno.makeTempDirSync({ prefix: "wasi-sandbox-" });
  const box = `${root}/box`, outside = `${root}/outside`;
  Deno.mkdirSync(box);
  Deno.mkdirSync(outside);
  const secret = `TOP-SECRET-${crypto.randomUUID()}`;
  Deno.writeTextFileSync(`${outside}/secret`, secret);
  Deno.writeTextFileSync(`${outside}/target`, "ORIGINAL");
  Deno.writeTextFileSync(`${box}/hello`, "hello from the box");
  return {
    root,
    box,
    outside,
    secret,
    secretPath: `${outside}/secret`,
    targetPath: `${outside}/target`,
    [Symbol.dispose]: () => Deno.removeSync(root, { recursive: true }),
  };
}

interface RunOptions {
  writable?: boolean;
  host?: string;
  env?: Record<string, string>;
  stdin?: number;
  wakeFd?: number;
  interrupted?: () => string | false;
}

/** Runs the attack guest with `args`; its stdout and exit code. */
function run(box: Box, args: string[], o: RunOptions = {}) {
  const chunks: Uint8Array[] = [];
  const wasi = new Wasi({
    args: ["attack.wasm", ...args],
    env: o.env ?? {},
    preopens: [{
      guest: "/box",
      host: o.host ?? box.box,
      writable: o.writable ?? false,
    }],
    stdin: o.stdin,
    stdout: (b) => chunks.push(b),
    stderr: (b) => chunks.push(b),
    wakeFd: o.wakeFd,
    interrupted: o.interrupted,
  });
  const instance = new WebAssembly.Instance(module, wasi.imports);
  let code: number | Error;
  try {
    code = wasi.start(instance);
  } catch (e) {
    code = e as Error;
  }
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  chunks.reduce((at, c) => (all.set(c, at), at + c.length), 0);
  const out = dec.decode(all);
  return { out, code, lines: out.split("\n").filter(Boolean) };
}

/** The result lines of one command name, in order. */
function results(lines: string[], cmd: string): string[] {
  return lines.filter((l) => l.startsWith(`${cmd}: `)).map((l) =>
    l.slice(cmd.length + 2)
  );
}

function assertNoSecret(box: Box, out: string) {
  assert.ok(
    !out.includes(box.secret),
    `the guest read the secret outside its box:\n${out}`,
  );
}

Deno.test("an absolute symlink to a file outside cannot be opened (follow or not)", () => {
  using box = makeBox();
  const r = run(box, [
    "symlink",
    box.secretPath,
    "abs",
    "read",
    "abs",
    "0",
    "read",
    "abs",
    "1",
  ], { writable: true });
  assertNoSecret(box, r.out);
  assert.deepEqual(results(r.lines, "symlink"), ["ok"]); // the attack was set up
  assert.deepEqual(results(r.lines, "read"), [
    `err ${Errno.LOOP}`, // no follow flag: never follow the last component
    `err ${Errno.NOTCAPABLE}`, // follow: absolute targets are outside
  ]);
});

Deno.test("relative escapes: ../ paths, ../ symlinks, chains of symlinks", () => {
  using box = makeBox();
  const r = run(box, [
    "read",
    "../outside/secret",
    "1",
    "symlink",
    "../outside/secret",
    "rel",
    "read",
    "rel",
    "1",
    "mkdir",
    "sub",
    "symlink",
    "b",
    "sub/a",
    "symlink",
    "../../outside/secret",
    "sub/b",
    "read",
    "sub/a",
    "1",
    "symlink",
    "..",
    "up",
    "read",
    "up/outside/secret",
    "1",
  ], { writable: true });
  assertNoSecret(box, r.out);
  assert.deepEqual(results(r.lines, "symlink"), ["ok", "ok", "ok", "ok"]);
  for (const res of results(r.lines, "read")) {
    assert.equal(res, `err ${Errno.NOTCAPABLE}`);
  }
});

Deno.test("/proc magic links: via an absolute symlink, and under a preopened /proc/self", () => {
  using box = makeBox();
  const secretFd = openat2(
    -100,
    new TextEncoder().encode(box.secretPath + "\0"),
    0o2000000,
    0,
    0,
  );
  assert.ok(secretFd >= 0);
  try {
    const viaSymlink = run(box, [
      "symlink",
      `/proc/self/root${box.secretPath}`,
      "root",
      "read",
      "root",
      "1",
      "symlink",
      "/proc/self/fd",
      "fds",
      "read",
      `fds/${secretFd}`,
      "1",
    ], { writable: true });
    assertNoSecret(box, viaSymlink.out);
    assert.deepEqual(results(viaSymlink.lines, "symlink"), ["ok", "ok"]);
    // a box that is /proc/self itself: fd/N and root/... are magic links
    const inProc = run(box, [
      "read",
      `fd/${secretFd}`,
      "1",
      "read",
      `root${box.secretPath}`,
      "1",
      "read",
      `cwd/../../../../../../../..${box.secretPath}`,
      "1",
    ], { host: "/proc/self" });
    assertNoSecret(box, inProc.out);
    assert.equal(results(inProc.lines, "read").length, 3);
    for (const res of results(inProc.lines, "read")) {
      assert.match(res, /^err /);
    }
  } finally {
    libc().close(secretFd);
  }
});

Deno.test("hard links: to a symlink pointing outside, and through it with follow", () => {
  using box = makeBox();
  const r = run(box, [
    "symlink",
    box.secretPath,
    "abs",
    "link",
    "abs",
    "hard",
    "0", // a second name for the symlink itself
    "read",
    "hard",
    "1",
    "link",
    "abs",
    "hard2",
    "1", // follow: the kernel would link the secret itself
  ], { writable: true });
  assertNoSecret(box, r.out);
  assert.deepEqual(results(r.lines, "link"), [
    "ok",
    `err ${Errno.NOTCAPABLE}`,
  ]);
  assert.deepEqual(results(r.lines, "read"), [`err ${Errno.NOTCAPABLE}`]);
  assert.equal(Deno.statSync(box.secretPath).isFile, true);
  assert.throws(() => Deno.lstatSync(`${box.box}/hard2`));
});

Deno.test("writing through a symlink cannot change a file outside", () => {
  using box = makeBox();
  const r = run(box, [
    "symlink",
    box.targetPath,
    "evil",
    "symlink",
    "../outside/target",
    "evil2",
    "write",
    "evil",
    "0",
    "PWNED",
    "write",
    "evil",
    "1",
    "PWNED",
    "overwrite",
    "evil2",
    "1",
    "PWNED",
    "append",
    "evil",
    "PWNED",
    "settimes",
    "evil",
    "1",
    "symlink",
    `${box.outside}/created`, // dangling: O_CREAT would make it
    "dangling",
    "write",
    "dangling",
    "1",
    "PWNED",
  ], { writable: true });
  assert.equal(Deno.readTextFileSync(box.targetPath), "ORIGINAL");
  assert.throws(() => Deno.lstatSync(`${box.outside}/created`));
  assert.deepEqual(results(r.lines, "symlink"), ["ok", "ok", "ok"]);
  assert.deepEqual(results(r.lines, "write"), [
    `err ${Errno.LOOP}`,
    `err ${Errno.NOTCAPABLE}`,
    `err ${Errno.NOTCAPABLE}`, // "overwrite" prints as "write"
    `err ${Errno.NOTCAPABLE}`,
  ]);
  assert.deepEqual(results(r.lines, "append"), [`err ${Errno.LOOP}`]);
  assert.deepEqual(results(r.lines, "settimes"), [`err ${Errno.NOTCAPABLE}`]);
  assert.notEqual(
    Deno.statSync(box.targetPath).mtime?.getTime(),
    86400_000,
  );
});

Deno.test("renames: out of the box fails; a renamed symlink still cannot be followed", () => {
  using box = makeBox();
  const r = run(box, [
    "rename",
    "hello",
    "../moved",
    "rename",
    "../outside/secret",
    "stolen",
    "symlink",
    box.secretPath,
    "abs",
    "rename",
    "abs",
    "innocent",
    "read",
    "innocent",
    "1",
    "rename",
    "hello",
    "/tmp/moved",
  ], { writable: true });
  assertNoSecret(box, r.out);
  assert.deepEqual(results(r.lines, "rename"), [
    `err ${Errno.NOTCAPABLE}`,
    `err ${Errno.NOTCAPABLE}`,
    "ok",
    `err ${Errno.NOTCAPABLE}`,
  ]);
  assert.deepEqual(results(r.lines, "read"), [`err ${Errno.NOTCAPABLE}`]);
  assert.equal(Deno.readTextFileSync(`${box.box}/hello`), "hello from the box");
  assert.equal(Deno.readTextFileSync(box.secretPath), box.secret);
  assert.throws(() => Deno.statSync(`${box.root}/moved`));
  assert.throws(() => Deno.statSync(`${box.box}/stolen`));
});

Deno.test("a read-only box: no file, dir, link, rename, removal, time or size change", () => {
  using box = makeBox();
  Deno.mkdirSync(`${box.box}/dir`);
  const before = Deno.statSync(`${box.box}/hello`).mtime?.getTime();
  const r = run(box, [
    "write",
    "new",
    "0",
    "x",
    "overwrite",
    "hello",
    "0",
    "x",
    "append",
    "hello",
    "x",
    "seek",
    "hello", // opens with TRUNC, writes, sets the size
    "mkdir",
    "d",
    "rmdir",
    "dir",
    "unlink",
    "hello",
    "symlink",
    "hello",
    "s",
    "link",
    "hello",
    "l",
    "0",
    "rename",
    "hello",
    "renamed",
    "settimes",
    "hello",
    "1",
    "read",
    "hello",
    "0", // reading is fine
    "fdwrite",
    "hello", // but not changing what was opened for reading
  ]);
  // write, pwrite: the kernel (opened O_RDONLY); size, times, allocate: ROFS
  assert.deepEqual(results(r.lines, "fdwrite"), [
    [Errno.BADF, Errno.BADF, Errno.ROFS, Errno.ROFS, Errno.ROFS, Errno.BADF]
      .join(" "),
  ]);
  const errs = r.lines.filter((l) =>
    !l.startsWith("read: ") && !l.startsWith("fdwrite: ")
  );
  assert.equal(errs.length, 11, r.out);
  for (const l of errs) assert.match(l, new RegExp(`: err ${Errno.ROFS}$`));
  assert.deepEqual(results(r.lines, "read"), ["ok hello from the box"]);
  assert.deepEqual(
    [...Deno.readDirSync(box.box)].map((e) => e.name).sort(),
    ["dir", "hello"],
  );
  assert.equal(Deno.readTextFileSync(`${box.box}/hello`), "hello from the box");
  assert.equal(Deno.statSync(`${box.box}/hello`).mtime?.getTime(), before);
});

Deno.test("a rename race (box/d: directory <-> symlink to outside) never reads the secret", async () => {
  using box = makeBox();
  Deno.mkdirSync(`${box.box}/d`);
  Deno.writeTextFileSync(`${box.box}/d/secret`, "DECOY");
  const stop = new Int32Array(new SharedArrayBuffer(4));
  for (const link of ["../outside", box.outside]) {
    const worker = new Worker(
      new URL("./guests/wasi-attack/helper_worker.ts", import.meta.url),
      { type: "module" },
    );
    const msgs: Record<string, number | boolean>[] = [];
    const started = Promise.withResolvers<void>();
    const done = Promise.withResolvers<void>();
    worker.onmessage = (ev) => {
      msgs.push(ev.data);
      if (ev.data.started) started.resolve();
      if ("swaps" in ev.data) done.resolve();
    };
    Atomics.store(stop, 0, 0);
    worker.postMessage({ task: "swap", box: box.box, link, ms: 1000, stop });
    await started.promise;
    const r = run(box, ["race", "d/secret", "20000"]);
    Atomics.store(stop, 0, 1);
    await done.promise;
    worker.terminate();
    assertNoSecret(box, r.out);
    const swaps = msgs.find((m) => "swaps" in m)!.swaps as number;
    const [summary] = results(r.lines, "race");
    console.log(`  symlink ${link}: ${swaps} swaps; guest ${summary}`);
    assert.ok(swaps > 10, "the host side swapped too rarely to race");
    assert.match(summary, /^ok reads=\d+ fails=\d+$/);
  }
});

Deno.test("a writable box: create, write, seek, read, stat, readdir, rename, link, unlink, rmdir", () => {
  using box = makeBox();
  const r = run(box, [
    "write",
    "new",
    "0",
    "fresh data",
    "read",
    "new",
    "0",
    "seek",
    "seekme",
    "mkdir",
    "sub",
    "write",
    "sub/inner",
    "0",
    "inner",
    "symlink",
    "sub/inner",
    "rel-ok",
    "read",
    "rel-ok",
    "1", // a symlink that stays inside is followed
    "readlink",
    "rel-ok",
    "stat",
    "new",
    "0",
    "stat",
    "rel-ok",
    "0",
    "stat",
    "rel-ok",
    "1",
    "stat",
    "sub",
    "1",
    "link",
    "new",
    "new-hard",
    "0",
    "stat",
    "new",
    "0",
    "rename",
    "new",
    "renamed",
    "append",
    "renamed",
    "+more",
    "readdir",
    ".",
    "unlink",
    "new-hard",
    "unlink",
    "sub/inner",
    "rmdir",
    "sub",
    "settimes",
    "renamed",
    "0",
  ], { writable: true });
  assert.deepEqual(results(r.lines, "read"), ["ok fresh data", "ok inner"]);
  assert.deepEqual(results(r.lines, "seek"), [
    "ok pos=4 read=456 tell=7 size=5",
  ]);
  assert.deepEqual(results(r.lines, "readlink"), ["ok sub/inner"]);
  const stats = results(r.lines, "stat");
  assert.equal(stats.length, 5);
  assert.equal(stats[0], "ok type=4 size=10 nlink=1"); // new
  assert.equal(stats[1], "ok type=7 size=9 nlink=1"); // rel-ok, not followed
  assert.equal(stats[2], "ok type=4 size=5 nlink=1"); // rel-ok, followed
  assert.match(stats[3], /^ok type=3 /); // sub
  assert.equal(stats[4], "ok type=4 size=10 nlink=2"); // new, once linked
  const names = results(r.lines, "readdir")[0].slice(3).split(" ").filter(
    Boolean,
  )
    .sort();
  assert.deepEqual(names, [
    "hello",
    "new-hard",
    "rel-ok",
    "renamed",
    "seekme",
    "sub/",
  ]);
  for (
    const cmd of ["write", "mkdir", "symlink", "link", "rename", "unlink"]
  ) {
    for (const res of results(r.lines, cmd)) assert.equal(res, "ok", cmd);
  }
  assert.equal(
    Deno.readTextFileSync(`${box.box}/renamed`),
    "fresh data+more",
  );
  assert.equal(Deno.readTextFileSync(`${box.box}/seekme`), "01234");
  assert.equal(
    Deno.statSync(`${box.box}/renamed`).mtime?.getTime(),
    86400_000,
  );
  assert.deepEqual(
    [...Deno.readDirSync(box.box)].map((e) => e.name).sort(),
    ["hello", "rel-ok", "renamed", "seekme"],
  );
});

Deno.test("allocate, advise, sync, append flag and renumber on a file of a writable box", () => {
  using box = makeBox();
  const r = run(box, ["fdmisc", "f"], { writable: true });
  // renumbered onto 2, the old number is gone (BADF) and writes to 2
  // land in the file, after the 100 allocated bytes (APPEND)
  assert.deepEqual(results(r.lines, "fdmisc"), [
    `0 size=100 0 0 0 0 flags=1 type=4 0 ${Errno.BADF} 0`,
  ]);
  const data = Deno.readFileSync(`${box.box}/f`);
  assert.equal(data.length, 104);
  assert.equal(dec.decode(data.subarray(100)), "via2");
});

Deno.test("a readdir of many entries through a small buffer lists each once", () => {
  using box = makeBox();
  const want = ["hello"];
  for (let i = 0; i < 200; i++) {
    const name = `file-with-a-longish-name-${i}`;
    Deno.writeTextFileSync(`${box.box}/${name}`, "");
    want.push(name);
  }
  const r = run(box, ["readdir", "."]);
  const got = results(r.lines, "readdir")[0].slice(3).split(" ").filter(
    Boolean,
  );
  assert.deepEqual(got.sort(), want.sort());
});

Deno.test("args, only the given environment, clocks, unknown imports, exit codes", () => {
  using box = makeBox();
  const r = run(box, [
    "args",
    "env",
    "GREETING",
    "env",
    "HOME",
    "clock",
    "misc",
    "exit",
    "-1",
  ], { env: { GREETING: "hi there" } });
  assert.deepEqual(results(r.lines, "arg"), [
    "attack.wasm",
    "args",
    "env",
    "GREETING",
    "env",
    "HOME",
    "clock",
    "misc",
    "exit",
    "-1",
  ]);
  assert.deepEqual(results(r.lines, "env"), [
    "GREETING=hi there",
    "HOME=(unset)",
  ]);
  const [clock] = results(r.lines, "clock");
  const m = clock.match(/realtime_s=(\d+) mono_ordered=1 cpu_positive=1/);
  assert.ok(m, clock);
  assert.ok(Math.abs(Number(m[1]) - Date.now() / 1000) < 5);
  assert.deepEqual(results(r.lines, "misc"), [
    `nosys=${Errno.NOSYS} sock=${Errno.NOTSOCK} sock_badf=${Errno.BADF}`,
  ]);
  assert.equal(r.code, 255); // main returned -1
  assert.equal(run(box, ["exit", "3"]).code, 3);
  assert.equal(run(box, []).code, 0);
});

Deno.test("stdin: end of file by default, a host fd when given", () => {
  using box = makeBox();
  assert.deepEqual(results(run(box, ["stdin"]).lines, "stdin"), ["ok 0 []"]);
  const fd = openat2(
    -100,
    new TextEncoder().encode(`${box.box}/hello\0`),
    0o2000000,
    0,
    0,
  );
  try {
    const r = run(box, ["stdin"], { stdin: fd });
    assert.deepEqual(results(r.lines, "stdin"), [
      "ok 18 [hello from the box]",
    ]);
  } finally {
    libc().close(fd);
  }
});

Deno.test("the guest's fds are its own table: 0-2 and its preopen, no host fd", () => {
  using box = makeBox();
  const held = [...Deno.readDirSync("/proc/self/fd")].length;
  assert.ok(held > 4, "the test process holds host fds to look for");
  const r = run(box, ["probefds"]);
  assert.deepEqual(results(r.lines, "probefds"), [
    "4 open, first beyond 3: -1",
  ]);
});

Deno.test("bad pointers and lengths are EFAULT, not a host exception", () => {
  using box = makeBox();
  const r = run(box, ["efault", "exit", "0"]);
  assert.equal(r.code, 0);
  const [line] = results(r.lines, "efault");
  assert.deepEqual(line.split(" ").map(Number), Array(11).fill(Errno.FAULT));
});

Deno.test("sleep sleeps, and a wake of the eventfd from another thread ends it at once", async () => {
  using box = makeBox();
  const t0 = performance.now();
  const slept = run(box, ["sleep", "150"]);
  const elapsed = performance.now() - t0;
  assert.match(
    results(slept.lines, "sleep")[0],
    // at least the 150 ms asked for; the upper bound only catches a sleep
    // that is not a sleep of 150 ms at all (a loaded machine runs late)
    /^ok events=1 userdata=42 type=0 ms=(1[5-9]\d|[2-4]\d\d)$/,
  );
  assert.ok(elapsed >= 150);

  const { WakeFd } = await import("../ffi/mod.ts");
  using wake = WakeFd.create();
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const wokeAt = new Float64Array(new SharedArrayBuffer(8));
  const worker = new Worker(
    new URL("./guests/wasi-attack/helper_worker.ts", import.meta.url),
    { type: "module" },
  );
  const woke = Promise.withResolvers<void>();
  worker.onmessage = () => woke.resolve();
  worker.postMessage({ task: "wake", fd: wake.fd, ms: 300, flag, wokeAt });
  const r = run(box, ["sleep", "5000"], {
    wakeFd: wake.fd,
    interrupted: () => Atomics.load(flag, 0) ? "SIGINT" : false,
  });
  const end = performance.timeOrigin + performance.now();
  await woke.promise;
  worker.terminate();
  assert.ok(r.code instanceof WasiInterrupted, String(r.code));
  assert.equal((r.code as WasiInterrupted).reason, "SIGINT");
  const late = end - wokeAt[0];
  console.log(`  sleep ended ${late.toFixed(1)} ms after the wake`);
  // a 5 s sleep ended by the wake (well under a second on a loaded machine)
  assert.ok(late >= 0 && late < 500, `${late} ms`);
});

Deno.test("poll_oneoff on fds: ready stdio, a bad fd; a non-blocking read of a silent stdin", async () => {
  using box = makeBox();
  const t0 = performance.now();
  const r = run(box, ["pollfd"]);
  // null stdin: readable, hung up; a sink: writable; fd 99: BADF; the 1 s
  // clock does not hold the answer back
  assert.deepEqual(results(r.lines, "pollfd"), [
    `ok 10:1:0:1 11:2:0:0 12:1:${Errno.BADF}:0`,
  ]);
  assert.ok(performance.now() - t0 < 900);
  const { WakeFd } = await import("../ffi/mod.ts");
  using quiet = WakeFd.create();
  const nb = run(box, ["nbread"], { stdin: quiet.fd });
  assert.deepEqual(results(nb.lines, "nbread"), [
    `flags=4 read=${Errno.AGAIN}`,
  ]);
});

Deno.test("a read of a stdin that never has data ends at the wake", async () => {
  using box = makeBox();
  const { WakeFd } = await import("../ffi/mod.ts");
  using wake = WakeFd.create();
  using quiet = WakeFd.create(); // an eventfd nobody writes: stdin
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const wokeAt = new Float64Array(new SharedArrayBuffer(8));
  const worker = new Worker(
    new URL("./guests/wasi-attack/helper_worker.ts", import.meta.url),
    { type: "module" },
  );
  const woke = Promise.withResolvers<void>();
  worker.onmessage = () => woke.resolve();
  worker.postMessage({ task: "wake", fd: wake.fd, ms: 200, flag, wokeAt });
  const r = run(box, ["stdin"], {
    stdin: quiet.fd,
    wakeFd: wake.fd,
    interrupted: () => Atomics.load(flag, 0) ? "SIGTERM" : false,
  });
  const end = performance.timeOrigin + performance.now();
  await woke.promise;
  worker.terminate();
  assert.ok(r.code instanceof WasiInterrupted, String(r.code));
  assert.equal((r.code as WasiInterrupted).reason, "SIGTERM");
  assert.ok(end - wokeAt[0] < 100, `${end - wokeAt[0]} ms`);
});

Deno.test("close() releases every host fd the guest opened, and the preopens", () => {
  using box = makeBox();
  // fds of this process open on the box (other fds come and go with
  // whatever else the process is doing)
  const count = () =>
    [...Deno.readDirSync("/proc/self/fd")].filter((e) => {
      try {
        return Deno.readLinkSync(`/proc/self/fd/${e.name}`) === box.box;
      } catch {
        return false;
      }
    }).length;
  const before = count();
  const wasi = new Wasi({
    args: ["attack.wasm", "read", "hello", "0"],
    env: {},
    preopens: [{ guest: "/box", host: box.box, writable: false }],
    stdout: () => {},
    stderr: () => {},
  });
  assert.equal(count(), before + 1);
  wasi.close();
  wasi.close();
  assert.equal(count(), before);
  assert.throws(
    () =>
      new Wasi({
        args: [],
        env: {},
        preopens: [{
          guest: "/x",
          host: `${box.root}/missing`,
          writable: false,
        }],
        stdout: 1,
        stderr: 2,
      }),
    /cannot open the directory '.*missing' for the guest's '\/x': no such file/,
  );
});

Deno.test("the CLI: --dir HOST:GUEST is read-only, :rw writable, both confined", async () => {
  using box = makeBox();
  const attack = `${dir}/attack.wasm`;
  const ro = await runCli([
    "--dir",
    `${box.box}:/box`,
    attack,
    "write",
    "new",
    "0",
    "x",
    "symlink",
    box.secretPath,
    "abs",
    "read",
    "hello",
    "0",
  ]);
  assert.equal(ro.code, 0, ro.stderr);
  assert.deepEqual(ro.stdout.trim().split("\n"), [
    `write: err ${Errno.ROFS}`,
    `symlink: err ${Errno.ROFS}`,
    "read: ok hello from the box",
  ]);
  const rw = await runCli([
    "--dir",
    `${box.box}:/box:rw`,
    attack,
    "write",
    "new",
    "0",
    "x",
    "symlink",
    box.secretPath,
    "abs",
    "read",
    "abs",
    "1",
    "exit",
    "-1",
  ]);
  assertNoSecret(box, rw.stdout);
  assert.equal(rw.code, 255, rw.stderr);
  assert.deepEqual(rw.stdout.trim().split("\n"), [
    "write: ok",
    "symlink: ok",
    `read: err ${Errno.NOTCAPABLE}`,
  ]);
  assert.equal(Deno.readTextFileSync(`${box.box}/new`), "x");
});
