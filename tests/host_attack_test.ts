/**
 * Guests attacking the host through its imports, on the real kernel:
 *  - a ring/perf buffer callback that closes the object being polled (the
 *    host must not unmap the ring under its own reader), or polls its own
 *    buffer again (records must not be delivered twice);
 *  - a guest that guesses fd numbers and stores another guest's map in its
 *    own map of maps (or another guest's program in its program array), so
 *    that its BPF program reaches the other guest's map.
 */
import assert from "node:assert/strict";
import {
  assertNoBpfLeaks,
  bpfNewSince,
  bpfSnapshot,
  buildGuest,
} from "./util.ts";
import { spawnAndWait, Tool } from "../examples/tool_test_util.ts";
import { BpfObject, type HostOptions, WasmBpfHost } from "../mod.ts";

const DIR = "tests/guests/host-attack";
const ME = String(Deno.pid);

/** key=value pairs of the guest's output lines. */
function values(lines: string[]): Record<string, number> {
  const v: Record<string, number> = {};
  for (const l of lines) {
    for (const m of l.matchAll(/([a-z_]+)=(-?\d+)/g)) v[m[1]] = Number(m[2]);
  }
  return v;
}

async function children(n: number): Promise<number[]> {
  const pids: number[] = [];
  for (let i = 0; i < n; i++) {
    pids.push((await spawnAndWait("/bin/true", [])).pid);
  }
  return pids;
}

for (const kind of ["ring", "perf"]) {
  Deno.test(`${kind} buffer: closing the polled object inside its callback is deferred, nothing is delivered after it`, async () => {
    const before = bpfSnapshot();
    const wasm = `${await buildGuest(DIR)}/host_attack.wasm`;
    const tool = new Tool(wasm, ["close", kind, ME]);
    await tool.waitFor(/^ready/);
    const pids = await children(3);
    const res = await tool.wait(20_000);
    // the process survived (no unmapped ring walked) and exited by itself
    assert.equal(res.code, 0, `${res.stdout}\n${res.stderr}`);
    const v = values(res.lines);
    assert.equal(v.close_in_cb, 0, res.stdout);
    assert.equal(
      v.delivered,
      1,
      `one record, then the object is gone:\n${res.stdout}`,
    );
    assert.equal(v.poll, 1, res.stdout);
    // one of ours (a perf buffer's per-CPU rings need not keep their order)
    assert(pids.some((p) => res.lines.includes(`EXEC pid=${p}`)), res.stdout);
    // the handle and its fds are gone for the guest at once
    assert.equal(v.after_poll, -22, res.stdout);
    assert.equal(v.after_map, -9, res.stdout);
    assert.equal(v.after_close, -22, res.stdout);
    await assertNoBpfLeaks(before);
  });

  Deno.test(`${kind} buffer: polling the same buffer from its own callback is -EBUSY, each record delivered once`, async () => {
    const before = bpfSnapshot();
    const wasm = `${await buildGuest(DIR)}/host_attack.wasm`;
    const tool = new Tool(wasm, ["nested", kind, ME, "3"]);
    await tool.waitFor(/^ready/);
    const pids = await children(3);
    const res = await tool.wait(20_000);
    assert.equal(res.code, 0, `${res.stdout}\n${res.stderr}`);
    const v = values(res.lines);
    assert.equal(v.nested, -16, res.stdout);
    for (const pid of pids) {
      assert.equal(
        res.lines.filter((l) => l === `EXEC pid=${pid}`).length,
        1,
        `record of ${pid} delivered once:\n${res.stdout}`,
      );
    }
    assert.equal(v.delivered, 3, res.stdout);
    assert.equal(v.close, 0, res.stdout);
    await assertNoBpfLeaks(before);
  });
}

// A guest with nothing but memory, driven from here through its imports
// exactly as its code would call them.
const STUB = new WebAssembly.Module(
  new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...[0x05, 0x03, 0x01, 0x00, 0x01], // memory 1 page
    ...[0x07, 0x0a, 0x01, 0x06, ...new TextEncoder().encode("memory"), 0x02, 0],
  ]),
);

type Abi = {
  wasm_load_bpf_object(ptr: number, len: number): bigint;
  wasm_close_bpf_object(handle: bigint): number;
  wasm_attach_bpf_program(handle: bigint, name: number, target: number): number;
  wasm_bpf_map_fd_by_name(handle: bigint, name: number): number;
  wasm_bpf_map_operate(
    fd: number,
    cmd: number,
    key: number,
    value: number,
    next: number,
    flags: bigint,
  ): number;
};

const NAME = 1024, KEY = 2048, VALUE = 2056, OBJ = 65536;

function stubGuest(
  name: string,
  logs: string[],
  options: Omit<HostOptions, "name" | "log"> = {},
) {
  const host = new WasmBpfHost({
    name,
    log: (l) => logs.push(l),
    ...options,
  });
  const abi = host.imports().wasm_bpf as unknown as Abi;
  const instance = new WebAssembly.Instance(STUB, {});
  host.bind(instance);
  const memory = instance.exports.memory as WebAssembly.Memory;
  const bytes = () => new Uint8Array(memory.buffer);
  const str = (s: string) => {
    bytes().set(new TextEncoder().encode(s + "\0"), NAME);
    return NAME;
  };
  return {
    host,
    /** The handle, or 0n when the host refused the object. */
    tryLoad(obj: Uint8Array): bigint {
      const need = Math.ceil((OBJ + obj.length) / 65536);
      const have = memory.buffer.byteLength / 65536;
      if (need > have) memory.grow(need - have);
      bytes().set(obj, OBJ);
      return abi.wasm_load_bpf_object(OBJ, obj.length);
    },
    load(obj: Uint8Array): bigint {
      const h = this.tryLoad(obj);
      assert(h > 0n, logs.join("\n"));
      return h;
    },
    fd: (h: bigint, map: string) => abi.wasm_bpf_map_fd_by_name(h, str(map)),
    close: (h: bigint) => abi.wasm_close_bpf_object(h),
    attach: (h: bigint, prog: string) =>
      abi.wasm_attach_bpf_program(h, str(prog), 0),
    /** update(fd, key, value): the import's result */
    update(fd: number, key: number, value: Uint8Array): number {
      new DataView(memory.buffer).setUint32(KEY, key, true);
      bytes().set(value, VALUE);
      return abi.wasm_bpf_map_operate(fd, 2, KEY, VALUE, 0, 0n);
    },
    lookupU64(fd: number, key: number): bigint {
      new DataView(memory.buffer).setUint32(KEY, key, true);
      assert.equal(abi.wasm_bpf_map_operate(fd, 1, KEY, VALUE, 0, 0n), 0);
      return new DataView(memory.buffer).getBigUint64(VALUE, true);
    },
  };
}

const u32 = (n: number) => new Uint8Array(new Uint32Array([n]).buffer);
const u64 = (n: bigint) => new Uint8Array(new BigUint64Array([n]).buffer);
const MAPS = [
  "cfg",
  "rb",
  "pb",
  "secret",
  "outer",
  "jmp",
  "cgroups",
  "devs",
  ".bss",
];

Deno.test("fd-carrying maps: a guest cannot store another guest's map, program or a cgroup fd (found by guessing)", async () => {
  const before = bpfSnapshot();
  const obj = await Deno.readFile(`${await buildGuest(DIR)}/host_attack.bpf.o`);
  const libc = Deno.dlopen("libc.so.6", {
    getppid: { parameters: [], result: "i32" },
  });
  const cgroup = Deno.openSync("/sys/fs/cgroup/unified", { read: true });
  const logs: string[] = [];
  const victim = stubGuest("victim", logs);
  const attacker = stubGuest("attacker", logs);
  try {
    const hb = victim.load(obj);
    const secretB = victim.fd(hb, "secret");
    assert.equal(victim.update(secretB, 0, u64(42n)), 0);
    const victimMaps = new Set(MAPS.map((m) => victim.fd(hb, m)));
    const victimProgs = victim.host.fds().filter((fd) => !victimMaps.has(fd));
    assert(victimProgs.length >= 2, "the victim has program fds");

    const ha = attacker.load(obj);
    const own = new Set(MAPS.map((m) => attacker.fd(ha, m)));
    assert.equal(
      attacker.update(attacker.fd(ha, "cfg"), 0, u64(BigInt(Deno.pid))),
      0,
    );
    assert.equal(attacker.attach(ha, "poke"), 0);
    const outer = attacker.fd(ha, "outer");
    const jmp = attacker.fd(ha, "jmp");
    const cgroups = attacker.fd(ha, "cgroups");
    const devs = attacker.fd(ha, "devs");

    // guess: every fd number of this process that is not one of ours
    const stored: number[] = [];
    const progs: number[] = [];
    const cgroupFds: number[] = [];
    const devProgs: number[] = [];
    for (let fd = 0; fd < 1024; fd++) {
      if (own.has(fd)) continue;
      if (attacker.update(outer, 0, u32(fd)) === 0) stored.push(fd);
      if (attacker.update(jmp, 0, u32(fd)) === 0) progs.push(fd);
      if (attacker.update(cgroups, 0, u32(fd)) === 0) cgroupFds.push(fd);
      // lo, and the program it runs
      const dev = new Uint8Array([...u32(1), ...u32(fd)]);
      if (fd > 0 && attacker.update(devs, 0, dev) === 0) devProgs.push(fd);
    }
    libc.symbols.getppid(); // the attacker's program writes through outer[0]
    assert.equal(
      victim.lookupU64(secretB, 0),
      42n,
      "the victim's map is untouched",
    );
    assert.deepEqual(stored, [], "no foreign map went into the map of maps");
    assert.deepEqual(
      progs.filter((fd) => victimProgs.includes(fd)),
      [],
      "no foreign program went into the program array",
    );
    assert(
      progs.length > 0,
      "the attacker's own programs may go into its program array",
    );
    assert.deepEqual(
      cgroupFds,
      [],
      "no cgroup fd went into the cgroup array",
    );
    assert.deepEqual(
      devProgs.filter((fd) => victimProgs.includes(fd)),
      [],
      "no foreign program went into the device map",
    );
    assert.equal(devProgs.length, 1, "its own devmap program may go there");
    assert(
      logs.some((l) => /update of map 'outer' refused/.test(l)),
      logs.join("\n"),
    );

    // the legitimate use still works: its own inner map, written by its program
    const secretA = attacker.fd(ha, "secret");
    assert.equal(attacker.update(outer, 0, u32(secretA)), 0, logs.join("\n"));
    libc.symbols.getppid();
    assert.equal(attacker.lookupU64(secretA, 0), 0xdeadbeefn);
  } finally {
    attacker.host.close();
    victim.host.close();
    cgroup.close();
    libc.close();
  }
  await assertNoBpfLeaks(before);
});

/** Every path under the BPF filesystem. */
function bpffs(dir = "/sys/fs/bpf"): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(dir)) {
    out.push(`${dir}/${e.name}`);
    if (e.isDirectory) out.push(...bpffs(`${dir}/${e.name}`));
  }
  return out.sort();
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("pinned maps: refused unless granted; a guest never gets another program's pinned map, and leaves no pin behind", async () => {
  const PIN = "/sys/fs/bpf/wbpf_pin_test";
  if (exists(PIN)) Deno.removeSync(PIN); // a previous run that died
  const before = bpfSnapshot();
  const pinsBefore = bpffs();
  const file = `${await buildGuest(DIR)}/host_pin.bpf.o`;
  const obj = await Deno.readFile(file);
  const logs: string[] = [];
  /** The value in the map pinned at PIN, as its owner sees it. */
  const pinnedValue = () => {
    using other = BpfObject.openFile(file, { pinRoot: "/sys/fs/bpf" });
    other.load(); // reuses the pin
    const v = other.map("wbpf_pin_test").lookup(u32(0))!;
    return new DataView(v.buffer).getBigUint64(0, true);
  };
  try {
    // another tool's map, pinned where the guest's object would pin its own
    {
      using other = BpfObject.openFile(file, { pinRoot: "/sys/fs/bpf" });
      other.load();
      other.map("wbpf_pin_test").update(u32(0), u64(42n));
    }
    assert(exists(PIN));
    // pinning is refused unless a directory is granted
    const denied = stubGuest("no-pins", logs);
    try {
      assert.equal(denied.tryLoad(obj), 0n, "pinned without --allow-pin");
    } finally {
      denied.host.close();
    }
    assert.equal(pinnedValue(), 42n);
    // granted the directory: still never another program's pin
    const grant = { policy: { pinDirs: ["/sys/fs/bpf"] } };
    const g = stubGuest("pinner", logs, grant);
    let loaded = 0n;
    try {
      const h = loaded = g.tryLoad(obj);
      if (h) {
        // had it loaded, its map would be the other tool's: write to it
        g.update(g.fd(h, "wbpf_pin_test"), 0, u64(0xdeadbeefn));
      }
    } finally {
      g.host.close();
    }
    assert(exists(PIN), "the other tool's pin is still there");
    assert.equal(pinnedValue(), 42n, "the other tool's map is untouched");
    assert.equal(loaded, 0n, "the object reusing a foreign pin is refused");
    Deno.removeSync(PIN);

    // nothing pinned: whatever the guest pins goes away with it
    const g2 = stubGuest("pinner2", logs, grant);
    try {
      const h = g2.tryLoad(obj);
      if (h) assert.notDeepEqual(bpffs(), pinsBefore, "pinned while loaded");
    } finally {
      g2.host.close();
    }
    assert.deepEqual(bpffs(), pinsBefore, "no pin outlives the guest");
  } finally {
    if (exists(PIN)) Deno.removeSync(PIN);
  }
  await assertNoBpfLeaks(before);
});

/** The maps the kernel has now, by id. */
function kernelMaps(): Map<number, { name?: string; bytes_memlock?: number }> {
  const out = new TextDecoder().decode(
    new Deno.Command("bpftool", { args: ["-j", "map", "show"] }).outputSync()
      .stdout,
  );
  const maps = JSON.parse(out || "[]") as {
    id: number;
    name?: string;
    bytes_memlock?: number;
  }[];
  return new Map(maps.map((m) => [m.id, m]));
}

Deno.test("kernel memory: an object with two 1 GiB ring buffers is refused under the default cap", async () => {
  const before = bpfSnapshot();
  const obj = await Deno.readFile(`${await buildGuest(DIR)}/host_ring.bpf.o`);
  const logs: string[] = [];
  const g = stubGuest("hog", logs);
  try {
    const h = g.tryLoad(obj);
    const fresh = bpfNewSince(before).maps;
    const big = [...kernelMaps()].filter(([id, m]) =>
      fresh.has(id) && (m.name === "big1" || m.name === "big2")
    );
    assert.deepEqual(big, [], "no 1 GiB ring buffer was created");
    assert.equal(h, 0n, "the object is refused");
  } finally {
    g.host.close();
  }
  await assertNoBpfLeaks(before);
});

Deno.test("objects: loading object after object is refused at the default cap, and closing one makes room", async () => {
  const before = bpfSnapshot();
  const obj = await Deno.readFile(`${await buildGuest(DIR)}/host_tiny.bpf.o`);
  const logs: string[] = [];
  const g = stubGuest("hoarder", logs);
  const BOUND = 1000;
  try {
    let n = 0;
    let last = 0n;
    for (; n < BOUND; n++) {
      const h = g.tryLoad(obj);
      if (!h) break;
      last = h;
    }
    assert(n < BOUND, `all ${BOUND} objects loaded: there is no cap`);
    assert(n > 0, logs.join("\n"));
    assert.equal(g.host.objectCount, n);
    assert.equal(g.close(last), 0);
    assert(g.tryLoad(obj) > 0n, "a closed object's place can be taken");
  } finally {
    g.host.close();
  }
  await assertNoBpfLeaks(before);
});

Deno.test("kernel memory: what a guest's open objects hold counts against its cap, and closing one gives it back", async () => {
  const before = bpfSnapshot();
  const obj = await Deno.readFile(`${await buildGuest(DIR)}/host_tiny.bpf.o`);
  const logs: string[] = [];
  // each object holds a 1 MiB ring buffer and a little more
  const g = stubGuest("saver", logs, {
    policy: { maxMapMemoryBytes: 3 * 2 ** 20 },
  });
  try {
    const first = g.load(obj);
    g.load(obj);
    assert.equal(g.tryLoad(obj), 0n, "a third object is past the cap");
    assert.equal(g.host.objectCount, 2);
    assert.equal(g.close(first), 0);
    assert(g.tryLoad(obj) > 0n, logs.join("\n"));
  } finally {
    g.host.close();
  }
  await assertNoBpfLeaks(before);
});

Deno.test("audit: the record of a load lists each program's acting helpers", async () => {
  const before = bpfSnapshot();
  const obj = await Deno.readFile(`${await buildGuest(DIR)}/host_tiny.bpf.o`);
  const logs: string[] = [];
  const events: Record<string, unknown>[] = [];
  const g = stubGuest("audited", logs, { audit: (e) => events.push(e) });
  try {
    g.load(obj);
  } finally {
    g.host.close();
  }
  const load = events.find((e) => e.event === "load");
  assert(load, JSON.stringify(events));
  assert.deepEqual(load.programs, [
    { name: "count", section: "tp/syscalls/sys_enter_getppid", helpers: [] },
    {
      name: "nudge",
      section: "tp/syscalls/sys_enter_getpgid",
      helpers: ["bpf_send_signal"],
    },
  ]);
  assert(Number(load.heldBytes) >= 2 ** 20, "the 1 MiB ring is counted");
  await assertNoBpfLeaks(before);
});
