// deno-fmt-ignore-file
// (AssemblyScript, not Deno TypeScript: deno fmt would drop the @external
// decorators on the import declarations.)
// wasm-bpf SDK for AssemblyScript guests: the user-space half of an eBPF
// application, compiled by asc to a wasm32-wasi command. See README.md.

export * from "./wasi";
import { eprintln, exit } from "./wasi";

// ---- the raw host ABI (module "wasm_bpf", version 1) ----

@external("wasm_bpf", "wasm_load_bpf_object")
declare function wasm_load_bpf_object(obj: usize, objLen: i32): u64;

@external("wasm_bpf", "wasm_close_bpf_object")
declare function wasm_close_bpf_object(handle: u64): i32;

@external("wasm_bpf", "wasm_attach_bpf_program")
declare function wasm_attach_bpf_program(handle: u64, name: usize, target: usize): i32;

@external("wasm_bpf", "wasm_bpf_buffer_poll")
declare function wasm_bpf_buffer_poll(
  handle: u64, mapFd: i32, sampleFn: i32, ctx: i32, data: usize, dataMax: i32, timeoutMs: i32,
): i32;

@external("wasm_bpf", "wasm_bpf_map_fd_by_name")
declare function wasm_bpf_map_fd_by_name(handle: u64, name: usize): i32;

@external("wasm_bpf", "wasm_bpf_map_operate")
declare function wasm_bpf_map_operate(
  fd: i32, cmd: i32, key: usize, value: usize, nextKey: usize, flags: u64,
): i32;

// the batch extension (module "wasm_bpf_ext"): imported only if used
@external("wasm_bpf_ext", "wasm_bpf_buffer_poll_batch")
declare function wasm_bpf_buffer_poll_batch(
  handle: u64, mapFd: i32, buf: usize, bufLen: i32, timeoutMs: i32,
): i32;

// ---- errors ----

/** Linux errno numbers the host reports (negated in results). */
export enum Errno {
  EPERM = 1,
  ENOENT = 2,
  EINTR = 4,
  E2BIG = 7,
  EBADF = 9,
  ENOMEM = 12,
  EACCES = 13,
  EFAULT = 14,
  EEXIST = 17,
  EINVAL = 22,
  ENOSPC = 28,
  EOPNOTSUPP = 95,
}

/** The name of a (positive) errno. */
export function errnoName(e: i32): string {
  switch (e) {
    case 1: return "EPERM (operation not permitted)";
    case 2: return "ENOENT (no such file or directory)";
    case 4: return "EINTR (interrupted system call)";
    case 7: return "E2BIG (argument list too long)";
    case 9: return "EBADF (bad file descriptor)";
    case 12: return "ENOMEM (cannot allocate memory)";
    case 13: return "EACCES (permission denied)";
    case 14: return "EFAULT (bad address)";
    case 17: return "EEXIST (file exists)";
    case 22: return "EINVAL (invalid argument)";
    case 28: return "ENOSPC (no space left on device)";
    case 95: return "EOPNOTSUPP (operation not supported)";
    default: return "errno " + e.toString();
  }
}

/**
 * What failed, as a value (AssemblyScript has no exceptions: a thrown
 * error would abort the guest). `errno` is positive, 0 for a failed load
 * (the host gives no errno; its stderr has the cause).
 */
export class BpfError {
  constructor(public op: string, public name: string, public errno: i32) {}

  toString(): string {
    let s: string;
    if (this.op == "load") {
      s = "loading the BPF object failed (the host reports the cause on its stderr)";
    } else {
      s = this.op + (this.name.length > 0 ? " '" + this.name + "'" : "") + " failed";
    }
    if (this.errno != 0) s += ": " + errnoName(this.errno);
    return s;
  }
}

/** Either a value or a BpfError. */
export class Result<T> {
  constructor(public value: T, public error: BpfError | null) {}

  get ok(): bool {
    return this.error === null;
  }

  /** The value; on an error, prints it on stderr and exits 1. */
  unwrap(): T {
    const e = this.error;
    if (e !== null) {
      eprintln("error: " + e.toString());
      exit(1);
      unreachable();
    }
    return this.value;
  }
}

function cstr(s: string): ArrayBuffer {
  return String.UTF8.encode(s, true);
}

// ---- objects ----

/** A loaded BPF object: programs loaded, maps created. */
export class BpfObject {
  private constructor(public handle: u64) {}

  /** Loads a BPF ELF object held in guest memory. */
  static load(obj: ArrayBuffer): Result<BpfObject | null> {
    return BpfObject.loadRaw(changetype<usize>(obj), obj.byteLength);
  }

  /** Loads the BPF ELF object of `len` bytes at `ptr` (e.g. a
   * memory.data<u8>([...]) segment). */
  static loadRaw(ptr: usize, len: i32): Result<BpfObject | null> {
    const h = wasm_load_bpf_object(ptr, len);
    if (h == 0) return new Result<BpfObject | null>(null, new BpfError("load", "", 0));
    return new Result<BpfObject | null>(new BpfObject(h), null);
  }

  /** Attaches program `name` by its ELF section (or to `target`: cgroup v2
   * directory for sockops/cgroup programs, interface for xdp). */
  attach(name: string, target: string = ""): BpfError | null {
    const r = wasm_attach_bpf_program(
      this.handle, changetype<usize>(cstr(name)), changetype<usize>(cstr(target)),
    );
    return r < 0 ? new BpfError("attach", name, -r) : null;
  }

  /** Map `name`. */
  map(name: string): Result<BpfMap | null> {
    const fd = wasm_bpf_map_fd_by_name(this.handle, changetype<usize>(cstr(name)));
    if (fd < 0) return new Result<BpfMap | null>(null, new BpfError("map", name, -fd));
    return new Result<BpfMap | null>(new BpfMap(fd, name), null);
  }

  /**
   * A consumer of ring buffer / perf event array `name` with a record
   * buffer of `size` bytes (at least 16). The host's consumer starts here,
   * with a zero-timeout poll (as libbpf's ring_buffer__new and
   * perf_buffer__new do), so a perf buffer loses nothing written before the
   * first poll; records already there are kept for it. A map the host
   * cannot consume is an error (EINVAL) here.
   */
  buffer(name: string, size: i32 = 65536): Result<BpfBuffer | null> {
    const fd = wasm_bpf_map_fd_by_name(this.handle, changetype<usize>(cstr(name)));
    if (fd < 0) return new Result<BpfBuffer | null>(null, new BpfError("map", name, -fd));
    const b = new BpfBuffer(this.handle, fd, name, size < 16 ? 16 : size);
    earlyRecords = new Array<ArrayBuffer>();
    const collect: SampleFn = collectEarly;
    const r = wasm_bpf_buffer_poll(this.handle, fd, <i32>collect.index, 0, b.data, b.capacity, 0);
    if (r < 0) {
      heap.free(b.data);
      return new Result<BpfBuffer | null>(null, new BpfError("buffer", name, -r));
    }
    b.pending = earlyRecords;
    earlyRecords = new Array<ArrayBuffer>();
    return new Result<BpfBuffer | null>(b, null);
  }

  /** Destroys the object's links, consumers, maps and programs. */
  close(): BpfError | null {
    if (this.handle == 0) return null;
    const r = wasm_close_bpf_object(this.handle);
    this.handle = 0;
    return r < 0 ? new BpfError("close", "", -r) : null;
  }
}

// ---- maps ----

/** Update flags. */
export const BPF_ANY: u64 = 0;
export const BPF_NOEXIST: u64 = 1;
export const BPF_EXIST: u64 = 2;

/**
 * A map of a loaded object. The host reads and writes the map's own key and
 * value sizes: pointers must reach that many bytes. The typed methods take
 * number types (u32, u64, ...) or `@unmanaged` classes (passed by pointer,
 * sized with offsetof<T>()).
 */
export class BpfMap {
  constructor(public fd: i32, public name: string) {}

  /** Raw operation; negative errno or 0. */
  operate(cmd: i32, key: usize, value: usize, nextKey: usize, flags: u64): i32 {
    return wasm_bpf_map_operate(this.fd, cmd, key, value, nextKey, flags);
  }

  /** Copies the value of the key at `key` to `value`: 1 found, 0 absent,
   * negative errno. */
  lookupRaw(key: usize, value: usize): i32 {
    const r = this.operate(1, key, value, 0, 0);
    return r == -Errno.ENOENT ? 0 : r < 0 ? r : 1;
  }

  /** The value of `key` (a number type); the error is ENOENT if absent. */
  get<K, V>(key: K): Result<V> {
    const kp = boxed<K>(key, memory.data(64));
    const v = memory.data(64);
    const r = this.lookupRaw(kp, v);
    if (r < 0) return new Result<V>(<V>0, new BpfError("lookup", this.name, -r));
    if (r == 0) return new Result<V>(<V>0, new BpfError("lookup", this.name, Errno.ENOENT));
    return new Result<V>(load<V>(v), null);
  }

  /** Sets `key` to `value` (flags BPF_ANY, BPF_NOEXIST, BPF_EXIST). */
  set<K, V>(key: K, value: V, flags: u64 = BPF_ANY): BpfError | null {
    const kp = boxed<K>(key, memory.data(64));
    const vp = boxed<V>(value, memory.data(64));
    const r = this.operate(2, kp, vp, 0, flags);
    return r < 0 ? new BpfError("update", this.name, -r) : null;
  }

  /** Deletes `key`: true if it was there. */
  delete<K>(key: K): Result<bool> {
    const r = this.operate(3, boxed<K>(key, memory.data(64)), 0, 0, 0);
    if (r == -Errno.ENOENT) return new Result<bool>(false, null);
    if (r < 0) return new Result<bool>(false, new BpfError("delete", this.name, -r));
    return new Result<bool>(true, null);
  }

  /** All keys (number key types). */
  keys<K>(): Result<K[]> {
    const out = new Array<K>();
    const cur = memory.data(64);
    const next = memory.data(64);
    let prev: usize = 0;
    for (;;) {
      const r = this.operate(4, prev, 0, next, 0);
      if (r == -Errno.ENOENT) break;
      if (r < 0) return new Result<K[]>(out, new BpfError("next key", this.name, -r));
      out.push(load<K>(next));
      memory.copy(cur, next, sizeof<K>());
      prev = cur;
    }
    return new Result<K[]>(out, null);
  }
}

// numbers are stored into `scratch`; @unmanaged objects are their pointer
function boxed<T>(v: T, scratch: usize): usize {
  if (isReference<T>()) return changetype<usize>(v);
  store<T>(scratch, v);
  return scratch;
}

// ---- ring and perf buffers ----

/** A record callback for `BpfBuffer.poll`: a top-level function
 * `(ctx, data, size) => i32` (0 to go on; non-zero stops the batch). It is
 * called through the exported table: build with --exportTable. */
export type SampleFn = (ctx: i32, data: usize, size: i32) => i32;

/** One record of a batch (BpfBuffer.pollBatch). */
export class BatchRecord {
  constructor(public size: u32, public data: usize, public copied: u32) {}

  get truncated(): bool {
    return this.copied < this.size;
  }
}

// records the starting poll of BpfObject.buffer receives
let earlyRecords = new Array<ArrayBuffer>();

function collectEarly(_ctx: i32, data: usize, size: i32): i32 {
  const b = new ArrayBuffer(size);
  memory.copy(changetype<usize>(b), data, <usize>size);
  earlyRecords.push(b);
  return 0;
}

/** A ring buffer or perf event array consumer, from BpfObject.buffer. */
export class BpfBuffer {
  data: usize;
  /** Records received when the consumer started, for the first poll. */
  pending: ArrayBuffer[] = [];
  // keeps the pending records pollBatch hands out alive until the next poll
  private held: ArrayBuffer[] = [];

  constructor(public handle: u64, public fd: i32, public name: string, public capacity: i32) {
    this.data = heap.alloc(<usize>capacity);
  }

  /**
   * Waits at most `timeoutMs`, then calls `fn(ctx, data, size)` for each
   * record. Returns the number of records (or the callback's stop value);
   * a negative errno on failure (-EINTR: the host is shutting down).
   */
  poll(timeoutMs: i32, fn: SampleFn, ctx: i32 = 0): i32 {
    let count = 0;
    if (this.pending.length > 0) {
      const pending = this.pending;
      this.pending = [];
      for (let i = 0; i < pending.length; i++) {
        const rec = pending[i];
        count++;
        const v = fn(ctx, changetype<usize>(rec), rec.byteLength);
        if (v != 0) {
          this.pending = pending.slice(i + 1);
          return v;
        }
      }
      timeoutMs = 0;
    }
    const r = wasm_bpf_buffer_poll(this.handle, this.fd, <i32>fn.index, ctx, this.data, this.capacity, timeoutMs);
    return r < 0 ? r : count + r;
  }

  /**
   * The batch extension: the host copies as many whole records as fit in
   * one call; they are returned as BatchRecords (valid until the next poll).
   * Fails with a BpfError (EINTR when the host shuts down).
   */
  pollBatch(timeoutMs: i32): Result<BatchRecord[]> {
    const out = new Array<BatchRecord>();
    this.held = this.pending;
    this.pending = [];
    for (let i = 0; i < this.held.length; i++) {
      const rec = this.held[i];
      const len = <u32>rec.byteLength;
      out.push(new BatchRecord(len, changetype<usize>(rec), len));
      timeoutMs = 0;
    }
    const n = wasm_bpf_buffer_poll_batch(this.handle, this.fd, this.data, this.capacity, timeoutMs);
    if (n < 0) return new Result<BatchRecord[]>(out, new BpfError("poll", this.name, -n));
    let p = this.data;
    const end = this.data + <usize>min(n, this.capacity);
    while (p + 8 <= end) {
      const size = load<u32>(p);
      const copied = load<u32>(p, 4);
      out.push(new BatchRecord(size, p + 8, copied));
      p += 8 + ((<usize>copied + 7) & ~7);
    }
    return new Result<BatchRecord[]>(out, null);
  }
}

// ---- editing the object before load ----

function cstrEq(p: usize, s: ArrayBuffer): bool {
  const n = s.byteLength;
  for (let i = 0; i < n; i++) {
    if (load<u8>(p + <usize>i) != load<u8>(changetype<usize>(s) + <usize>i)) return false;
  }
  return load<u8>(p + <usize>n) == 0;
}

function startsWith(p: usize, prefix: string): bool {
  const b = String.UTF8.encode(prefix);
  for (let i = 0; i < b.byteLength; i++) {
    if (load<u8>(p + <usize>i) != load<u8>(changetype<usize>(b) + <usize>i)) return false;
  }
  return true;
}

function secAt(obj: usize, shoff: usize, shentsize: usize, i: usize): usize {
  return obj + shoff + i * shentsize;
}

/**
 * Sets global `name` (a `const volatile` in .rodata, or an initialised
 * .data variable) of the BPF ELF object of `len` bytes at `obj`, in place,
 * to the `size` bytes at `value`, before load (what libbpf skeletons do
 * with `skel->rodata->var = ...`). ENOENT: no such variable; EINVAL: size
 * mismatch or not a 64-bit little-endian ELF.
 */
export function setGlobalRaw(obj: usize, len: usize, name: string, value: usize, size: usize): BpfError | null {
  if (len < 64 || load<u32>(obj) != 0x464c457f || load<u8>(obj, 4) != 2 || load<u8>(obj, 5) != 1) {
    return new BpfError("set global", name, Errno.EINVAL);
  }
  const shoff = <usize>load<u64>(obj, 0x28);
  const shentsize = <usize>load<u16>(obj, 0x3a);
  const shnum = <usize>load<u16>(obj, 0x3c);
  const shstrndx = <usize>load<u16>(obj, 0x3e);
  if (shentsize < 64 || shoff + shnum * shentsize > len || shstrndx >= shnum) {
    return new BpfError("set global", name, Errno.EINVAL);
  }
  const shstr = <usize>load<u64>(secAt(obj, shoff, shentsize, shstrndx), 24);
  const want = String.UTF8.encode(name);
  for (let i: usize = 0; i < shnum; i++) {
    const s = secAt(obj, shoff, shentsize, i);
    if (load<u32>(s, 4) != 2) continue; // SHT_SYMTAB
    const symOff = <usize>load<u64>(s, 24);
    const symSize = <usize>load<u64>(s, 32);
    const strtab = <usize>load<u64>(secAt(obj, shoff, shentsize, <usize>load<u32>(s, 40)), 24);
    for (let at = symOff; at + 24 <= symOff + symSize && at + 24 <= len; at += 24) {
      const sym = obj + at;
      if (!cstrEq(obj + strtab + <usize>load<u32>(sym), want)) continue;
      const shndx = <usize>load<u16>(sym, 6);
      if (shndx == 0 || shndx >= shnum) continue;
      const t = secAt(obj, shoff, shentsize, shndx);
      const tname = obj + shstr + <usize>load<u32>(t);
      if (load<u32>(t, 4) == 8) continue; // SHT_NOBITS (.bss)
      if (!startsWith(tname, ".rodata") && !startsWith(tname, ".data")) continue;
      const off = <usize>load<u64>(t, 24) + <usize>load<u64>(sym, 8);
      const vsize = <usize>load<u64>(sym, 16);
      if (vsize != size) return new BpfError("set global", name, Errno.EINVAL);
      if (off + size > len) return new BpfError("set global", name, Errno.EINVAL);
      memory.copy(obj + off, value, size);
      return null;
    }
  }
  return new BpfError("set global", name, Errno.ENOENT);
}

/** setGlobalRaw for a number value (u32, u64, i32, ...). */
export function setGlobal<T>(obj: usize, len: usize, name: string, value: T): BpfError | null {
  const tmp = memory.data(16);
  store<T>(tmp, value);
  return setGlobalRaw(obj, len, name, tmp, sizeof<T>());
}
