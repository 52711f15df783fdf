/**
 * A hostile guest against the map-operation gate (host/gate.ts), run by
 * tests/gate_test.ts in its own process under several V8 flag sets: with
 * the gate (`--wasm-fast-api`), without it (the JavaScript path), and
 * with memories that move on every grow. The guest is wasm (the text
 * below); its `op` export calls the `wasm_bpf_map_operate` import as a
 * compiled guest does. Every outcome is read back from the kernel through
 * fds of this process's own (`MapFd` duplicates, not the gate), or from
 * the guest's memory, and printed as one JSON object.
 *
 *   deno run -A [--v8-flags=...] tests/gate_child.ts gate.bpf.o
 *
 * @module
 */
import { WasmBpfHost } from "../mod.ts";
import { MapFd } from "../ffi/mod.ts";
import type { OperateImport } from "../host/maps.ts";

const GUEST_WAT = `
(module
  (import "wasm_bpf" "wasm_bpf_map_operate"
    (func $op (param i32 i32 i32 i32 i32 i64) (result i32)))
  (memory (export "memory") 2)
  (func (export "op") (param i32 i32 i32 i32 i32 i64) (result i32)
    (call $op (local.get 0) (local.get 1) (local.get 2) (local.get 3)
      (local.get 4) (local.get 5)))
  ;; n lookups of the key at $key into $value: how many did not return 0
  (func (export "lookups") (param $fd i32) (param $key i32) (param $value i32)
    (param $n i32) (result i32)
    (local $bad i32)
    (block $done (loop $l
      (br_if $done (i32.eqz (local.get $n)))
      (if (call $op (local.get $fd) (i32.const 1) (local.get $key)
            (local.get $value) (i32.const 0) (i64.const 0))
        (then (local.set $bad (i32.add (local.get $bad) (i32.const 1)))))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $l)))
    (local.get $bad))
  (func (export "grow") (param i32) (result i32)
    (memory.grow (local.get 0))))`;

const [objPath] = Deno.args;
const obj = Deno.readFileSync(objPath);
function assemble(wat: string): WebAssembly.Module {
  const tmp = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(`${tmp}/g.wat`, wat);
    const asm = new Deno.Command("wat2wasm", {
      args: ["--enable-threads", `${tmp}/g.wat`, "-o", `${tmp}/g.wasm`],
    }).outputSync();
    if (!asm.success) throw new Error(new TextDecoder().decode(asm.stderr));
    return new WebAssembly.Module(Deno.readFileSync(`${tmp}/g.wasm`));
  } finally {
    Deno.removeSync(tmp, { recursive: true });
  }
}
const guestModule = assemble(GUEST_WAT);
// the same guest over a shared memory (threads): the gate is not for it
const sharedModule = assemble(
  GUEST_WAT.replace(
    '(memory (export "memory") 2)',
    '(memory (export "memory") 2 256 shared)',
  ),
);

const LOOKUP = 1, UPDATE = 2, DELETE = 3, NEXT = 4;
const NAME = 512, KEY = 1024, VALUE = 1032, NEXT_KEY = 1040, BIG = 2048;
const OBJ = 131072;
const EBADF = -9, EFAULT = -14;

/** The guest's `op` export: the import's signature (flags as a bigint). */
type Op = OperateImport["operate"];

/** A guest: its host, memory and the import's caller. */
function guest(
  name: string,
  options: ConstructorParameters<typeof WasmBpfHost>[0] = {},
  module = guestModule,
) {
  const logs: string[] = [];
  const host = new WasmBpfHost({
    name,
    log: (l) => logs.push(l),
    mapGateAfter: 0, // the gate from the first operation
    ...options,
  });
  const abi = host.imports().wasm_bpf as unknown as {
    wasm_load_bpf_object(ptr: number, len: number): bigint;
    wasm_close_bpf_object(handle: bigint): number;
    wasm_bpf_map_fd_by_name(handle: bigint, name: number): number;
    wasm_attach_bpf_program(handle: bigint, name: number, to: number): number;
  };
  const inst = new WebAssembly.Instance(module, {
    wasm_bpf: host.imports().wasm_bpf,
  });
  host.bind(inst);
  const ex = inst.exports as {
    memory: WebAssembly.Memory;
    op: Op;
    lookups(fd: number, key: number, value: number, n: number): number;
    grow(pages: number): number;
  };
  const bytes = () => new Uint8Array(ex.memory.buffer);
  const view = () => new DataView(ex.memory.buffer);
  return {
    host,
    logs,
    ex,
    bytes,
    view,
    load(): bigint {
      const need = Math.ceil((OBJ + obj.length) / 65536);
      const have = ex.memory.buffer.byteLength / 65536;
      if (need > have) ex.grow(need - have);
      bytes().set(obj, OBJ);
      const h = abi.wasm_load_bpf_object(OBJ, obj.length);
      if (h <= 0n) throw new Error(`${name}: load failed: ${logs.join("\n")}`);
      return h;
    },
    close: (h: bigint) => abi.wasm_close_bpf_object(h),
    attach(h: bigint, prog: string): number {
      bytes().set(new TextEncoder().encode(prog + "\0"), NAME);
      return abi.wasm_attach_bpf_program(h, NAME, 0);
    },
    fd(h: bigint, map: string): number {
      bytes().set(new TextEncoder().encode(map + "\0"), NAME);
      return abi.wasm_bpf_map_fd_by_name(h, NAME);
    },
    /** key (u32) at KEY, value (u64) at VALUE, then the operation */
    op(fd: number, cmd: number, key: number, value = 0n, flags = 0n): number {
      view().setUint32(KEY, key, true);
      view().setBigUint64(VALUE, value, true);
      return ex.op(fd, cmd, KEY, VALUE, NEXT_KEY, flags);
    },
  };
}

/** The kernel's view of a map, through a duplicate of its fd. */
function kernel(fd: number) {
  const m = new MapFd(MapFd.dup(fd));
  const cpus = m.type === 6 ? navigator.hardwareConcurrency : 1; // PERCPU_ARRAY
  return {
    get(key: number): bigint | undefined {
      const v = new BigUint64Array(cpus);
      const ok = m.lookup(
        new Uint8Array(new Uint32Array([key]).buffer),
        new Uint8Array(v.buffer),
      );
      return ok ? v[0] : undefined;
    },
    keys(): number[] {
      const out: number[] = [];
      let prev: Uint8Array | null = null;
      const next = new Uint8Array(4);
      while (m.nextKey(prev, next)) {
        out.push(new DataView(next.buffer).getUint32(0, true));
        prev = next.slice();
      }
      return out.sort((a, b) => a - b);
    },
    close: () => m.close(),
  };
}

const out: Record<string, unknown> = {};

// an observer counts this process's map calls that reach the kernel
const observer = guest("observer");
const oh = observer.load();
if (observer.attach(oh, "count_bpf") !== 0) {
  throw new Error(`attach: ${observer.logs.join("\n")}`);
}
observer.op(observer.fd(oh, "who"), UPDATE, 0, BigInt(Deno.pid));
const calls = kernel(observer.fd(oh, "calls"));
/** How many map calls `run` made that reached the kernel. */
function reached(run: () => void): number {
  const before = calls.get(0)!; // this read is counted before it reads
  run();
  return Number(calls.get(0)! - before) - 1; // so is this one
}
const reachedKernel: Record<string, number> = {};
out.reachedKernel = reachedKernel;

const g = guest("attacker");
out.mapGate = g.host.mapGate;
const h = g.load();
const hashFd = g.fd(h, "h"), pcFd = g.fd(h, "pc"), jmpFd = g.fd(h, "jmp");
const hash = kernel(hashFd);

// the steady state: enough calls that V8 optimizes the gate's code
out.warmUpdate = g.op(hashFd, UPDATE, 1, 5n);
out.warmFailures = g.ex.lookups(hashFd, KEY, VALUE, 150_000);

// the common operations do what they say
out.update = g.op(hashFd, UPDATE, 7, 0x1122334455667788n);
out.kernelAfterUpdate = hash.get(7)?.toString(16);
out.lookup = g.op(hashFd, LOOKUP, 1);
out.lookedUp = g.view().getBigUint64(VALUE, true).toString();
out.nextKeys = (() => {
  const keys: number[] = [];
  let rc = g.ex.op(hashFd, NEXT, 0, 0, NEXT_KEY, 0n); // key 0: the first
  while (rc === 0 && keys.length < 100) {
    const k = g.view().getUint32(NEXT_KEY, true);
    keys.push(k);
    g.view().setUint32(KEY, k, true);
    rc = g.ex.op(hashFd, NEXT, KEY, 0, NEXT_KEY, 0n);
  }
  return { keys: keys.sort((a, b) => a - b), end: rc };
})();
out.kernelKeys = hash.keys();
out.delete = g.op(hashFd, DELETE, 7);
out.kernelAfterDelete = hash.get(7)?.toString() ?? null;

// pointers at the end of the memory and past it
{
  const size = g.ex.memory.buffer.byteLength;
  const before = hash.keys();
  g.view().setUint32(size - 4, 99, true);
  g.view().setBigUint64(VALUE, 1n, true);
  out.keyAtEnd = g.ex.op(hashFd, UPDATE, size - 4, VALUE, 0, 0n); // fits
  out.kernel99 = hash.get(99)?.toString() ?? null;
  g.op(hashFd, DELETE, 99);
  g.bytes().fill(0xab, size - 16);
  // none of these reaches the kernel
  reachedKernel.bounds = reached(() => {
    out.keyStraddles = g.ex.op(hashFd, UPDATE, size - 2, VALUE, 0, 0n);
    out.keyPastEnd = g.ex.op(hashFd, UPDATE, size, VALUE, 0, 0n);
    out.keyWraps = g.ex.op(hashFd, UPDATE, 0xfffffffe, VALUE, 0, 0n);
    out.keyNull = g.ex.op(hashFd, UPDATE, 0, VALUE, 0, 0n);
    out.deleteStraddles = g.ex.op(hashFd, DELETE, size - 2, 0, 0, 0n);
    // a lookup whose value would end past the memory writes nothing
    g.view().setUint32(KEY, 1, true);
    out.valueStraddles = g.ex.op(hashFd, LOOKUP, KEY, size - 4, 0, 0n);
    out.valueNull = g.ex.op(hashFd, LOOKUP, KEY, 0, 0, 0n);
    // per-CPU values are one u64 per CPU: 8 bytes before the end is too few
    out.percpuStraddles = navigator.hardwareConcurrency > 1
      ? g.ex.op(pcFd, LOOKUP, KEY, size - 8, 0, 0n)
      : EFAULT;
    // a next key past the end, from the first key (NULL) or another
    out.nextStraddles = g.ex.op(hashFd, NEXT, 0, 0, size - 2, 0n);
    out.nextKeyStraddles = g.ex.op(hashFd, NEXT, size - 2, 0, KEY, 0n);
  });
  out.keysUnchanged = JSON.stringify(hash.keys()) === JSON.stringify(before);
  out.tailUntouched = g.bytes().subarray(size - 16).every((b) => b === 0xab);
}

// a per-CPU lookup fills one value per CPU
{
  const pc = kernel(pcFd);
  const cpus = navigator.hardwareConcurrency;
  g.view().setUint32(KEY, 2, true);
  for (let i = 0; i < cpus; i++) {
    g.view().setBigUint64(BIG + 8 * i, BigInt(100 + i), true);
  }
  out.percpuUpdate = g.ex.op(pcFd, UPDATE, KEY, BIG, 0, 0n);
  g.bytes().fill(0, BIG, BIG + 8 * cpus);
  out.percpuLookup = g.ex.op(pcFd, LOOKUP, KEY, BIG, 0, 0n);
  out.percpuValues = Array.from(
    { length: cpus },
    (_, i) => g.view().getBigUint64(BIG + 8 * i, true) === BigInt(100 + i),
  ).every(Boolean);
  out.percpuKernel = pc.get(2)?.toString() ?? null;
  pc.close();
}

// fds that are not this guest's maps
{
  const v = guest("victim");
  const vh = v.load();
  const vfd = v.fd(vh, "h");
  const victim = kernel(vfd);
  v.op(vfd, UPDATE, 3, 42n);
  const MAP_NAMES = ["h", "pc", "jmp", "who", "calls"];
  const vmaps = MAP_NAMES.map((m) => v.fd(vh, m));
  const vprog = v.host.fds().find((fd) => !vmaps.includes(fd));
  const gmaps = MAP_NAMES.map((m) => g.fd(h, m));
  const progs = g.host.fds().filter((fd) => !gmaps.includes(fd));
  reachedKernel.fds = reached(() => {
    out.foreignUpdate = g.op(vfd, UPDATE, 3, 666n);
    out.foreignLookup = g.op(vfd, LOOKUP, 3);
    out.foreignDelete = g.op(vfd, DELETE, 3);
    // the guest's own program fds, and fd numbers it never got
    out.programFd = progs.length ? g.op(progs[0], LOOKUP, 0) : EBADF;
    out.bigFd = g.op(4096 + hashFd, LOOKUP, 1);
    out.negativeFd = g.op(-1, LOOKUP, 1);
    // a program array's values are program fds: the victim's are refused
    g.view().setUint32(KEY, 0, true);
    g.view().setUint32(VALUE, vprog ?? 0, true);
    out.jmpForeign = g.ex.op(jmpFd, UPDATE, KEY, VALUE, 0, 0n);
    // unknown commands
    out.cmd0 = g.op(hashFd, 0, 1);
    out.cmd9 = g.op(hashFd, 9, 1);
  });
  out.victimValue = victim.get(3)?.toString() ?? null;
  out.leakedValue = g.view().getBigUint64(VALUE, true) === 42n;
  const jmp = kernel(jmpFd);
  out.jmpKernel = jmp.get(0)?.toString() ?? null; // a program's id, when one is set
  jmp.close();
  victim.close();
  v.host.close();
}

// flags above 32 bits take the JavaScript path (the kernel refuses them)
out.bigFlags = g.op(hashFd, UPDATE, 8, 1n, 1n << 32n);
out.kernel8 = hash.get(8)?.toString() ?? null;

// the memory grows (a moving memory moves): the address is taken again
{
  const address = () =>
    Deno.UnsafePointer.value(
      Deno.UnsafePointer.of(new Uint8Array(g.ex.memory.buffer)),
    );
  const was = address();
  const pages = g.ex.grow(3);
  out.moved = address() !== was;
  const at = (pages + 2) * 65536 + 8;
  g.view().setUint32(at, 21, true);
  g.view().setBigUint64(at + 8, 0xfeedn, true);
  out.grownUpdate = g.ex.op(hashFd, UPDATE, at, at + 8, 0, 0n);
  out.kernel21 = hash.get(21)?.toString(16) ?? null;
  g.view().setBigUint64(at + 16, 0n, true);
  out.grownLookup = g.ex.op(hashFd, LOOKUP, at, at + 16, 0, 0n);
  out.grownValue = g.view().getBigUint64(at + 16, true).toString(16);
  out.lowAfterGrow = g.op(hashFd, LOOKUP, 21);
  out.lowValue = g.view().getBigUint64(VALUE, true).toString(16);
}

// a closed object's fds are no longer the guest's, even when the numbers
// come back as another guest's maps; a new object's are
{
  g.close(h);
  hash.close();
  reachedKernel.closed = reached(() => {
    out.afterClose = g.op(hashFd, LOOKUP, 1);
  });
  const other = guest("next-door");
  const xh = other.load();
  const ofd = other.fd(xh, "h");
  out.fdReusedByOther = ofd === hashFd;
  const theirs = kernel(ofd);
  other.op(ofd, UPDATE, 6, 60n);
  reachedKernel.stale = reached(() => {
    out.staleUpdate = g.op(hashFd, UPDATE, 6, 666n);
    out.staleLookup = g.op(hashFd, LOOKUP, 6);
  });
  out.staleLeak = g.view().getBigUint64(VALUE, true) === 60n;
  out.otherValue = theirs.get(6)?.toString() ?? null;
  theirs.close();
  const h2 = g.load();
  const fd2 = g.fd(h2, "h");
  out.newObjectUpdate = g.op(fd2, UPDATE, 4, 44n);
  const again = kernel(fd2);
  out.newObjectKernel = again.get(4)?.toString() ?? null;
  again.close();
  out.gateAfterReload = g.host.mapGate;
  other.host.close();
  // after the host is closed, every call fails
  g.host.close();
  reachedKernel.hostClosed = reached(() => {
    out.afterHostClose = g.op(fd2, LOOKUP, 4);
  });
  out.gateAfterHostClose = g.host.mapGate;
}

// maps read-only by policy, and audited writes
{
  const ro = guest("readonly", { policy: { mapWrites: false } });
  const rh = ro.load();
  const rfd = ro.fd(rh, "h");
  const k = kernel(rfd);
  reachedKernel.readonly = reached(() => {
    out.readonlyUpdate = ro.op(rfd, UPDATE, 5, 55n);
    out.readonlyDelete = ro.op(rfd, DELETE, 5);
  });
  out.readonlyKernel = k.get(5)?.toString() ?? null;
  out.readonlyLookup = ro.op(rfd, LOOKUP, 5);
  k.close();
  ro.host.close();

  const records: Record<string, unknown>[] = [];
  const au = guest("audited", { audit: (r) => records.push(r) });
  const ah = au.load();
  const afd = au.fd(ah, "h");
  for (let i = 0; i < 3; i++) au.op(afd, UPDATE, 10 + i, 1n);
  au.op(afd, DELETE, 10);
  out.auditRecords =
    records.filter((r) => r.event === "map_update" || r.event === "map_delete")
      .length;
  au.host.close();
}

calls.close();
observer.host.close();
// a guest whose memory is shared keeps the JavaScript path, which works
{
  const sh = guest("shared", {}, sharedModule);
  const shh = sh.load();
  const sfd = sh.fd(shh, "h");
  out.sharedGate = sh.host.mapGate;
  out.sharedUpdate = sh.op(sfd, UPDATE, 9, 99n);
  out.sharedLookup = sh.op(sfd, LOOKUP, 9);
  out.sharedValue = sh.view().getBigUint64(VALUE, true).toString();
  const size = sh.ex.memory.buffer.byteLength;
  out.sharedStraddles = sh.ex.op(sfd, UPDATE, size - 2, VALUE, 0, 0n);
  sh.host.close();
}

// the host's counters (what --metrics serves) count the same on both paths:
// the first 1023 operations take the JavaScript path, the rest the gate
{
  const stats = new WebAssembly.Memory({
    initial: 1,
    maximum: 1,
    shared: true,
  });
  const c = guest("counted", {
    mapGateAfter: undefined,
    metrics: {
      stats: stats.buffer as unknown as SharedArrayBuffer,
      statsMemory: stats,
      maps: [],
    },
  });
  const ch = c.load();
  const cfd = c.fd(ch, "h");
  for (let i = 0; i < 700; i++) c.op(cfd, UPDATE, i % 50, BigInt(i));
  c.ex.lookups(cfd, KEY, VALUE, 1500);
  for (let i = 0; i < 300; i++) c.op(cfd, DELETE, 100 + i); // absent keys
  for (let i = 0; i < 200; i++) c.ex.op(cfd, NEXT, 0, 0, NEXT_KEY, 0n);
  const size = c.ex.memory.buffer.byteLength;
  for (let i = 0; i < 5; i++) c.ex.op(cfd, LOOKUP, size - 2, VALUE, 0, 0n);
  out.countedGate = c.host.mapGate;
  // slots 3-6 of host/metrics/stats.ts: lookups, updates, deletes, next keys
  out.counted = Array.from(new Float64Array(stats.buffer, 24, 4));
  c.host.close();
}

// by default the gate comes after 1024 operations on the JavaScript path
{
  const lazy = guest("lazy", { mapGateAfter: undefined });
  const lh = lazy.load();
  const lfd = lazy.fd(lh, "h");
  lazy.op(lfd, UPDATE, 1, 1n);
  out.lazyEarly = lazy.ex.lookups(lfd, KEY, VALUE, 1022);
  out.lazyBefore = lazy.host.mapGate;
  out.lazyLater = lazy.ex.lookups(lfd, KEY, VALUE, 10);
  out.lazyAfter = lazy.host.mapGate;
  lazy.host.close();
}

console.log(JSON.stringify(out));
