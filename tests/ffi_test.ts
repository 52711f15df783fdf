/**
 * The public TypeScript eBPF layer (ffi/, exported from mod.ts) without
 * Wasm: objects, programs, maps, links, ring and perf buffer readers, tc
 * attach targets, and their errors, on the real kernel.
 */
import assert from "node:assert/strict";
import { assertNoBpfLeaks, bpfSnapshot, buildGuest } from "./util.ts";
import { fastRing } from "../ffi/native.ts";
import {
  BpfError,
  BpfObject,
  openBufferReader,
  type RingBufReader,
  Waiter,
} from "../mod.ts";

const object = async () => `${await buildGuest("tests/guests/ffi")}/ffi.bpf.o`;

const libc = Deno.dlopen("libc.so.6", {
  getppid: { parameters: [], result: "i32" },
});

function u32(n: number): Uint8Array {
  return new Uint8Array(new Uint32Array([n]).buffer);
}
function u64(n: number): Uint8Array {
  return new Uint8Array(new BigUint64Array([BigInt(n)]).buffer);
}
function readU64(b: Uint8Array): number {
  return Number(
    new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(0, true),
  );
}

/** Opens, loads and points the getppid program at this process. */
async function loaded() {
  const obj = BpfObject.openFile(await object());
  obj.load();
  obj.map("cfg").update(u32(0), u64(Deno.pid));
  obj.program("on_getppid").attach();
  return obj;
}

Deno.test("object: programs, sections, maps and their sizes", async () => {
  const before = bpfSnapshot();
  {
    using obj = BpfObject.openFile(await object());
    assert.deepEqual(obj.programs.map((p) => [p.name, p.section]), [
      ["on_getppid_var", "tp/syscalls/sys_enter_getppid"],
      ["on_getppid", "tp/syscalls/sys_enter_getppid"],
      ["count_tc", "tc"],
    ]);
    const cfg = obj.map("cfg");
    assert.deepEqual([cfg.keySize, cfg.valueSize, cfg.maxEntries], [4, 8, 3]);
    assert.equal(obj.map("ring").maxEntries, 64 * 1024);
    assert(obj.findMap(".bss"), "internal maps are found by section name");
    obj.load();
    assert(obj.loaded);
    assert(obj.program("on_getppid").fd > 0);
  }
  await assertNoBpfLeaks(before);
});

Deno.test("maps: update, lookup, keys, delete, and size checks", async () => {
  using obj = await loaded();
  const cfg = obj.map("cfg");
  cfg.update(u32(1), u64(41));
  assert.equal(readU64(cfg.lookup(u32(1))!), 41);
  assert.deepEqual([...cfg.keys()].map((k) => new Uint32Array(k.buffer)[0]), [
    0,
    1,
    2,
  ]);
  assert.throws(
    () => cfg.lookup(new Uint8Array(3)),
    /map 'cfg': key is 3 bytes, the map's is 4/,
  );
  assert.throws(
    () => cfg.delete(u32(0)),
    (e: unknown) => e instanceof BpfError && e.code === "EINVAL",
  );
  assert.equal(cfg.lookup(u32(7)), undefined); // out of range of the array: absent
});

Deno.test("ring buffer: every record once, in order; a non-zero handler stops the batch and the rest stays", async () => {
  const before = bpfSnapshot();
  {
    using obj = await loaded();
    const ring = openBufferReader(obj, obj.map("ring"));
    using waiter = new Waiter(ring.pollFd);
    for (let i = 0; i < 10; i++) libc.symbols.getppid();
    assert.equal(waiter.wait(1000), "ready");
    const got: number[] = [];
    const stopped = ring.consume((data) => {
      got.push(readU64(data));
      return got.length === 4 ? 7 : 0;
    });
    assert.equal(stopped, 7);
    assert.equal(got.length, 4);
    assert(ring.available());
    assert.equal(ring.consume((data) => (got.push(readU64(data)), 0)), 6);
    assert.deepEqual(
      got,
      got.map((_, i) => got[0] + i),
      "consecutive sequence numbers",
    );
    assert.equal(ring.available(), false);
    assert.equal(waiter.wait(0), "timeout");
    // accept() can stop before a record without consuming it
    libc.symbols.getppid();
    assert.equal(ring.consume(() => 0, () => false), 0);
    assert.equal(ring.consume(() => 0), 1);
  }
  await assertNoBpfLeaks(before);
});

Deno.test("ring buffer batches: whole records in the ABI's batch layout, discarded ones skipped, the rest kept", async () => {
  const before = bpfSnapshot();
  {
    using obj = await loaded();
    obj.map("cfg").update(u32(2), u64(1)); // the kernel discards odd records
    const ring = openBufferReader(obj, obj.map("ring")) as RingBufReader;
    for (let i = 0; i < 10; i++) libc.symbols.getppid();
    // room for two records of 8 bytes (8-byte header + 8 bytes each)
    const small = new Uint8Array(40);
    assert.equal(ring.consumeInto(small), 32);
    const dv = new DataView(small.buffer);
    const first = Number(dv.getBigUint64(8, true));
    assert.deepEqual([dv.getUint32(0, true), dv.getUint32(4, true)], [8, 8]);
    assert.equal(Number(dv.getBigUint64(24, true)), first + 2);
    const big = new Uint8Array(4096);
    assert.equal(ring.consumeInto(big), 48); // the other three of five
    const rest = new DataView(big.buffer);
    assert.deepEqual(
      [0, 16, 32].map((o) => Number(rest.getBigUint64(o + 8, true))),
      [
        first + 4,
        first + 6,
        first + 8,
      ],
    );
    assert.equal(ring.consumeInto(big), 0);
  }
  await assertNoBpfLeaks(before);
});

Deno.test("ring buffer batches of three record sizes, discards and truncation: the C copy and the TypeScript walk give what the records make", async () => {
  assert(fastRing(), "native/fastpath.c is built (scripts/setup.sh)");
  const before = bpfSnapshot();
  // out buffers of these sizes in turn; every other one starts at an odd
  // address (the TypeScript walk then writes through a DataView)
  const LENGTHS = [16, 64, 100, 256, 4096, 24, 208, 1000, 48];
  for (const impl of ["C", "TypeScript"]) {
    using obj = BpfObject.openFile(await object());
    obj.load();
    obj.map("cfg").update(u32(0), u64(Deno.pid));
    obj.program("on_getppid_var").attach();
    const ring = openBufferReader(obj, obj.map("vring")) as RingBufReader;
    const consume = (b: Uint8Array) =>
      impl === "C" ? ring.consumeInto(b) : ring.consumeIntoTs(b);
    const N = 90;
    for (let i = 0; i < N; i++) libc.symbols.getppid();
    // the records the program made: sizes by n % 3, every fourth discarded
    const pending: { n: number; size: number }[] = [];
    for (let n = 0; n < N; n++) {
      if ((n & 3) !== 3) pending.push({ n, size: [8, 40, 200][n % 3] });
    }
    const bytesOf = (r: { n: number; size: number }) => {
      const w = new BigUint64Array(r.size / 8);
      for (let k = 0; k < w.length; k++) {
        w[k] = BigInt(k === 0 ? r.n : r.n * 1000 + k);
      }
      return new Uint8Array(w.buffer);
    };
    for (let call = 0; pending.length; call++) {
      const len = LENGTHS[call % LENGTHS.length];
      const at = call & 1;
      const out = new Uint8Array(len + 1).subarray(at, at + len);
      // what the batch layout of host/ABI.md holds for this call
      const want: number[] = [];
      let records = 0;
      while (pending.length) {
        const r = pending[0];
        const total = 8 + r.size;
        if (want.length + total > len) {
          if (want.length === 0) { // larger than out: truncated
            const head = new DataView(new ArrayBuffer(8));
            head.setUint32(0, r.size, true);
            head.setUint32(4, len - 8, true);
            want.push(...new Uint8Array(head.buffer));
            want.push(...bytesOf(r).subarray(0, len - 8));
            pending.shift();
            records = 1;
          }
          break;
        }
        const head = new DataView(new ArrayBuffer(8));
        head.setUint32(0, r.size, true);
        head.setUint32(4, r.size, true);
        want.push(...new Uint8Array(head.buffer), ...bytesOf(r));
        pending.shift();
        records++;
      }
      const got = consume(out);
      assert.deepEqual(
        [...out.subarray(0, got)],
        want,
        `${impl}, call ${call} (${len} bytes)`,
      );
      assert.equal(ring.batchRecords, records, `${impl}, call ${call}`);
    }
    assert.equal(consume(new Uint8Array(64)), 0, `${impl}: all consumed`);
    assert.throws(
      () => consume(new Uint8Array(8)),
      /batch buffer smaller than 16 bytes/,
    );
  }
  await assertNoBpfLeaks(before);
});

Deno.test("perf buffer: the same records, same stop semantics", async () => {
  const before = bpfSnapshot();
  {
    using obj = await loaded();
    const perf = openBufferReader(obj, obj.map("perf"));
    using waiter = new Waiter(perf.pollFd);
    for (let i = 0; i < 5; i++) libc.symbols.getppid();
    assert.equal(waiter.wait(1000), "ready");
    const got: number[] = [];
    assert.equal(
      perf.consume((d) => (got.push(readU64(d)), got.length === 2 ? 1 : 0)),
      1,
    );
    assert.equal(perf.consume((d) => (got.push(readU64(d)), 0)), 3);
    assert.equal(got.length, 5);
    assert.deepEqual(got, got.map((_, i) => got[0] + i));
    assert.equal(perf.lost, 0);
  }
  await assertNoBpfLeaks(before);
});

Deno.test("tc: 'lo:ingress' counts packets; bad directions and interfaces are named", async () => {
  const before = bpfSnapshot();
  {
    using obj = await loaded();
    const prog = obj.program("count_tc");
    const link = prog.attach("lo:ingress");
    const ping = await new Deno.Command("ping", {
      args: ["-c", "3", "-i", "0.2", "127.0.0.1"],
      stdout: "null",
    })
      .output();
    assert(ping.success, "ping 127.0.0.1");
    assert(readU64(obj.map("cfg").lookup(u32(1))!) >= 3, "tc saw the pings");
    link.close();
    assert(link.closed);
    assert.throws(
      () => prog.attach("lo:sideways"),
      /direction must be 'ingress' or 'egress', not 'sideways'/,
    );
    assert.throws(
      () => prog.attach("nosuchif0"),
      /no network interface 'nosuchif0'/,
    );
    assert.throws(
      () => prog.attach(),
      /this section needs a target: 'ifname:ingress' or 'ifname:egress'/,
    );
  }
  await assertNoBpfLeaks(before);
});

Deno.test("errors name the file, program or map", async () => {
  assert.throws(
    () => BpfObject.openFile("/nonexistent/x.bpf.o"),
    /cannot read BPF object '\/nonexistent\/x\.bpf\.o'/,
  );
  assert.throws(
    () =>
      BpfObject.open(new TextEncoder().encode("not elf"), { name: "junk.o" }),
    /junk\.o/,
  );
  const obj = BpfObject.openFile(await object());
  assert.throws(
    () => obj.program("nope"),
    /no program 'nope' in BPF object 'ffi\.bpf\.o' \(it has: on_getppid_var, on_getppid, count_tc\)/,
  );
  assert.throws(() => obj.map("nope"), /no map 'nope'/);
  assert.throws(() => obj.program("on_getppid").attach(), /it is not loaded/);
  obj.close();
  obj.close(); // twice is harmless
  assert.throws(() => obj.map("cfg").fd, /BPF object 'ffi\.bpf\.o' is closed/);
});

Deno.test("a missing libbpf is reported with how to install it", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { BpfObject } from "${new URL("../mod.ts", import.meta.url)}";
      try { BpfObject.open(new Uint8Array(8)); } catch (e) { console.log(String(e)); }`,
    ],
    env: { WASM_BPF_LIBBPF: "/nonexistent/libbpf.so.1" },
    stdout: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.match(
    text,
    /cannot load \/nonexistent\/libbpf\.so\.1: .*\n.*apt-get install libbpf1/,
  );
});

Deno.test("pinning: maps declared with pinning go under the pin root; unpin removes the pin", async () => {
  const before = bpfSnapshot();
  const file = `${await buildGuest("tests/guests/host-attack")}/host_pin.bpf.o`;
  const root = Deno.makeTempDirSync({ dir: "/sys/fs/bpf", prefix: "ffi_" });
  try {
    using obj = BpfObject.openFile(file, { pinRoot: root });
    const map = obj.map("wbpf_pin_test");
    assert.equal(map.pinPath, `${root}/wbpf_pin_test`);
    assert.equal(map.pinned, false);
    obj.load();
    assert.equal(map.pinned, true);
    assert(Deno.lstatSync(`${root}/wbpf_pin_test`));
    assert.equal(map.unpin(), 0);
    assert.throws(() => Deno.lstatSync(`${root}/wbpf_pin_test`));
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
  await assertNoBpfLeaks(before);
});

Deno.test("map sizes are the kernel's once loaded: a struct_ops value is larger than its declaration", async () => {
  const file = `${await buildGuest(
    "tests/guests/struct-ops",
  )}/struct_ops.bpf.o`;
  const before = bpfSnapshot();
  {
    using obj = BpfObject.openFile(file);
    const map = obj.map("wbpf_cc");
    const declared = map.valueSize;
    try {
      obj.load();
    } catch (e) {
      console.log(
        `struct_ops refused by this kernel (${e}); size test skipped`,
      );
      return;
    }
    const info = JSON.parse(
      new TextDecoder().decode(
        new Deno.Command("bpftool", {
          args: ["map", "list", "-j"],
          stdout: "piped",
        }).outputSync().stdout,
      ),
    ) as { name: string; bytes_value: number; type: string }[];
    const kernel = info.find((m) =>
      m.type === "struct_ops" && m.name.startsWith("wbpf_cc")
    );
    assert(kernel, "the struct_ops map is not in the kernel");
    assert(kernel.bytes_value > declared, "the kernel's value is larger");
    // every bounds check of the host uses this size
    assert.equal(map.valueSize, kernel.bytes_value);
    assert.equal(map.valueBufferSize, kernel.bytes_value);
  }
  await assertNoBpfLeaks(before);
});
