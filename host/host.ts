/**
 * The wasi-bpf host: the six `wasm_bpf` imports, the `callback-wrapper`
 * import of TinyGo guests, and this project's `wasm_bpf_ext` extension,
 * over the eBPF layer in `ffi/`.
 *
 * ```ts
 * const host = new WasmBpfHost();
 * const wasi = new WASI({ version: "preview1", args, returnOnExit: true });
 * const instance = new WebAssembly.Instance(module, {
 *   wasi_snapshot_preview1: wasi.wasiImport,
 *   ...host.imports(),
 *   env: { my_function: () => 0 }, // callers may add their own
 * });
 * host.bind(instance);
 * try {
 *   wasi.start(instance);
 * } finally {
 *   host.close(); // releases every BPF object the guest left open
 * }
 * ```
 *
 * Every import returns a negative errno on failure (the load import 0) and
 * never throws, except to unwind the guest when the host is interrupted
 * ({@link GuestInterrupted}) or when the guest itself traps inside a
 * callback.
 *
 * @module
 */
import {
  BpfError,
  type BpfMap,
  BpfObject,
  type BufferReader,
  type LibbpfLogger,
  openBufferReader,
  RingBufReader,
  Waiter,
} from "../ffi/mod.ts";
import { c, fastPath } from "../ffi/native.ts";
import { GuestFault, GuestMemory } from "./memory.ts";
import { ElfFile, EM_BPF, ObjectFileError } from "../objfile/elf.ts";
import { Btf } from "../objfile/btf.ts";
import { type Policy, PolicyDenied, resolvePolicy } from "./policy.ts";

/** Linux errno values the imports return (negated). */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EBADF: 9,
  ENOMEM: 12,
  EFAULT: 14,
  EINVAL: 22,
} as const;

/** Thrown out of an import to unwind a guest after an interrupt. */
export class GuestInterrupted extends Error {
  constructor(readonly signal = "SIGINT") {
    super(`guest interrupted by ${signal}`);
    this.name = "GuestInterrupted";
  }
}

/** Options of a {@link WasmBpfHost}. */
export interface HostOptions {
  /** Name of the guest in messages (e.g. its file name). */
  name?: string;
  /** Where host messages go (errors always; details when `verbose`). */
  log?: (line: string) => void;
  /** Also report libbpf's info/debug lines and every denied pointer/fd. */
  verbose?: boolean;
  /** Where libbpf's own lines go; default: `log` when verbose. */
  libbpfLogger?: LibbpfLogger;
  /** An fd (eventfd) that becomes readable when the host is interrupted. */
  wakeFd?: number;
  /** Whether the host has been interrupted; checked while polling. */
  interrupted?: () => string | false;
  /** Module name of the TinyGo callback import (default "callback-wrapper"). */
  callbackModule?: string;
  /** Guest export called back by that import (default "go-callback"). */
  callbackExport?: string;
  /** What the guest may do; default: what existing hosts allow. */
  policy?: Policy;
  /** Called with every kernel fd the host holds, after each change. */
  onFds?: (fds: number[]) => void;
  /** One JSON object per load, attach, map write and denial. */
  audit?: (event: Record<string, unknown>) => void;
}

interface LoadedObject {
  handle: bigint;
  obj: BpfObject;
  readers: Map<number, { reader: BufferReader; waiter: Waiter }>;
}

type SampleFn = (ctx: number, data: number, size: number) => number;

/**
 * One guest's view of eBPF: the objects it loaded, the fds it was given,
 * and the imports that act on them. One host per guest instance.
 */
export class WasmBpfHost {
  readonly #opts: HostOptions;
  readonly #policy: ReturnType<typeof resolvePolicy>;
  #memory: GuestMemory | undefined;
  #table: WebAssembly.Table | undefined;
  #exports: WebAssembly.Exports | undefined;
  readonly #objects = new Map<bigint, LoadedObject>();
  readonly #fds = new Map<number, { entry: LoadedObject; map: BpfMap }>();
  #nextHandle = 1n;
  #fromGuest: unknown = undefined;
  #interruptSeen = false;
  #closed = false;
  readonly #fast = fastPath();

  constructor(options: HostOptions = {}) {
    this.#opts = options;
    this.#policy = resolvePolicy(options.policy);
  }

  /** The guest's name in messages. */
  get name(): string {
    return this.#opts.name ?? "guest";
  }

  /** Number of BPF objects the guest holds open. */
  get objectCount(): number {
    return this.#objects.size;
  }

  /** Every kernel fd held for the guest (maps, programs, links, sockets). */
  fds(): number[] {
    const out: number[] = [];
    for (const { obj } of this.#objects.values()) {
      if (!obj.loaded || obj.closed) continue;
      for (const m of obj.maps) out.push(m.fd);
      for (const p of obj.programs) if (p.fd >= 0) out.push(p.fd);
    }
    return out;
  }

  #log(line: string) {
    (this.#opts.log ?? ((l: string) => console.error(l)))(`wasm-bpf: ${line}`);
  }
  #debug(line: string) {
    if (this.#opts.verbose) this.#log(line);
  }
  #audit(event: Record<string, unknown>) {
    this.#opts.audit?.({
      time: new Date().toISOString(),
      guest: this.name,
      ...event,
    });
  }
  #fdsChanged() {
    this.#opts.onFds?.(this.fds());
  }

  #libbpfLogger(): LibbpfLogger | undefined {
    if (this.#opts.libbpfLogger) return this.#opts.libbpfLogger;
    if (!this.#opts.verbose) return undefined;
    return (level, line) => this.#log(`libbpf(${level}): ${line.trimEnd()}`);
  }

  /**
   * The import object entries: `wasm_bpf`, the TinyGo `callback-wrapper`
   * and `wasm_bpf_ext`. Spread them into your import object.
   */
  imports(): WebAssembly.Imports {
    return {
      wasm_bpf: {
        wasm_load_bpf_object: (ptr: number, len: number): bigint =>
          this.#guard("wasm_load_bpf_object", 0n, () => this.load(ptr, len)),
        wasm_close_bpf_object: (handle: bigint): number =>
          this.#guard(
            "wasm_close_bpf_object",
            -Errno.EINVAL,
            () => this.closeObject(handle),
          ),
        wasm_attach_bpf_program: (
          handle: bigint,
          name: number,
          target: number,
        ): number =>
          this.#guard(
            "wasm_attach_bpf_program",
            -Errno.EINVAL,
            () => this.attach(handle, name, target),
          ),
        wasm_bpf_buffer_poll: (
          handle: bigint,
          fd: number,
          sampleFn: number,
          ctx: number,
          data: number,
          max: number,
          timeout: number,
        ): number =>
          this.#guard(
            "wasm_bpf_buffer_poll",
            -Errno.EINVAL,
            () =>
              this.poll(
                handle,
                fd,
                this.#tableFn(sampleFn),
                ctx,
                data,
                max,
                timeout,
              ),
          ),
        wasm_bpf_map_fd_by_name: (handle: bigint, name: number): number =>
          this.#guard(
            "wasm_bpf_map_fd_by_name",
            -Errno.EINVAL,
            () => this.mapFdByName(handle, name),
          ),
        wasm_bpf_map_operate: (
          fd: number,
          cmd: number,
          key: number,
          value: number,
          next: number,
          flags: bigint,
        ): number => {
          // the hot path: no closure per call, unlike the other imports
          if (this.#closed) return -Errno.EINVAL;
          try {
            return this.mapOperate(fd, cmd, key, value, next, flags);
          } catch (e) {
            return this.#failed("wasm_bpf_map_operate", -Errno.EINVAL, e);
          }
        },
      },
      [this.#opts.callbackModule ?? "callback-wrapper"]: {
        wasm_bpf_buffer_poll: (
          handle: bigint,
          fd: number,
          ctx: number,
          data: number,
          max: number,
          timeout: number,
        ): number =>
          this.#guard(
            "wasm_bpf_buffer_poll",
            -Errno.EINVAL,
            () =>
              this.poll(handle, fd, this.#exportFn(), ctx, data, max, timeout),
          ),
      },
      wasm_bpf_ext: {
        wasm_bpf_buffer_poll_batch: (
          handle: bigint,
          fd: number,
          buf: number,
          len: number,
          timeout: number,
        ): number =>
          this.#guard(
            "wasm_bpf_buffer_poll_batch",
            -Errno.EINVAL,
            () => this.pollBatch(handle, fd, buf, len, timeout),
          ),
      },
    };
  }

  /**
   * Binds the host to the instantiated guest: its `memory` and
   * `__indirect_function_table` exports (the table is needed only by
   * guests that poll buffers with table callbacks).
   */
  bind(
    instance: WebAssembly.Instance | { exports: WebAssembly.Exports },
  ): void {
    const ex = instance.exports;
    const memory = ex.memory;
    if (!(memory instanceof WebAssembly.Memory)) {
      throw new Error(`${this.name}: the guest exports no 'memory'`);
    }
    this.#memory = new GuestMemory(memory);
    const table = ex.__indirect_function_table;
    this.#table = table instanceof WebAssembly.Table ? table : undefined;
    this.#exports = ex;
  }

  get #mem(): GuestMemory {
    if (!this.#memory) {
      throw new Error(
        `${this.name}: WasmBpfHost.bind(instance) was not called`,
      );
    }
    return this.#memory;
  }

  /**
   * Runs an import body: BPF errors become -errno, guest faults -EFAULT,
   * policy denials -EPERM; an interrupt or a trap in the guest unwinds.
   */
  #guard<T>(what: string, fallback: T, body: () => T): T {
    if (this.#closed) return fallback;
    try {
      return body();
    } catch (e) {
      return this.#failed(what, fallback, e);
    }
  }

  /** The import's answer to an error `e` (or a rethrow to unwind). */
  #failed<T>(what: string, fallback: T, e: unknown): T {
    {
      if (
        e === this.#fromGuest || e instanceof GuestInterrupted ||
        e instanceof WebAssembly.RuntimeError
      ) {
        throw e; // the guest's own trap or exit: unwind it
      }
      if (e instanceof GuestFault) {
        this.#debug(`${what}: ${e.message}`);
        return (typeof fallback === "bigint" ? 0n : -Errno.EFAULT) as T;
      }
      if (e instanceof PolicyDenied) {
        this.#log(e.message);
        this.#audit({ event: "denied", call: what, detail: e.message });
        return (typeof fallback === "bigint" ? 0n : -Errno.EPERM) as T;
      }
      if (e instanceof BpfError) {
        this.#log(e.message);
        return (typeof fallback === "bigint" ? 0n : -e.errno) as T;
      }
      // a host bug must not kill the guest or leak: report and fail the call
      this.#log(`${what}: internal error: ${(e as Error)?.stack ?? e}`);
      return fallback;
    }
  }

  #tableFn(index: number): SampleFn {
    const table = this.#table;
    if (!table) {
      throw new BpfError(
        `${this.name} exports no __indirect_function_table (link it with -Wl,--export-table)`,
        Errno.EINVAL,
        { plain: true },
      );
    }
    let fn: unknown;
    try {
      fn = index >>> 0 < table.length ? table.get(index >>> 0) : null;
    } catch {
      fn = null;
    }
    if (typeof fn !== "function") {
      throw new BpfError(
        `wasm_bpf_buffer_poll: callback index ${index} is not a function in the guest's table`,
        Errno.EINVAL,
        { plain: true },
      );
    }
    return fn as SampleFn;
  }

  #exportFn(): SampleFn {
    const name = this.#opts.callbackExport ?? "go-callback";
    const fn = this.#exports?.[name];
    if (typeof fn !== "function") {
      throw new BpfError(
        `${this.name} exports no '${name}' function for callback-wrapper polling`,
        Errno.EINVAL,
        { plain: true },
      );
    }
    return fn as SampleFn;
  }

  #entry(handle: bigint, what: string): LoadedObject {
    const e = typeof handle === "bigint"
      ? this.#objects.get(handle)
      : undefined;
    if (!e) {
      throw new BpfError(
        `${what}: ${handle} is not a handle of an open BPF object of this guest`,
        Errno.EINVAL,
        {
          plain: true,
        },
      );
    }
    return e;
  }

  #checkInterrupt(): string | false {
    const sig = this.#opts.interrupted?.() ?? false;
    if (sig && this.#interruptSeen) throw new GuestInterrupted(sig);
    return sig;
  }

  /** `wasm_load_bpf_object`: a new handle, 0 on failure. */
  load(ptr: number, len: number): bigint {
    this.#checkInterrupt();
    if (len <= 0) {
      throw new BpfError(
        `wasm_load_bpf_object: object length ${len} is not positive`,
        Errno.EINVAL,
        { plain: true },
      );
    }
    this.#policy.checkObjectCount(this.#objects.size);
    const bytes = this.#mem.view(ptr, len, "wasm_load_bpf_object: object bytes")
      .slice();
    const handle = this.#nextHandle++;
    const name = `${this.name}#${handle}`;
    validateElf(name, bytes);
    const obj = BpfObject.open(bytes, { name, logger: this.#libbpfLogger() });
    try {
      for (const p of obj.programs) {
        if (p.autoload) this.#policy.checkProgram(p.name, p.section);
      }
      obj.load();
    } catch (e) {
      obj.close();
      if (
        e instanceof BpfError && e.errno === Errno.EPERM && c().geteuid() !== 0
      ) {
        throw new BpfError(
          `cannot load BPF object '${name}': not running as root: loading BPF programs needs root (or CAP_BPF and CAP_PERFMON)`,
          e.errno,
          { plain: true },
        );
      }
      throw e;
    }
    const entry: LoadedObject = { handle, obj, readers: new Map() };
    this.#objects.set(handle, entry);
    for (const map of obj.maps) this.#fds.set(map.fd, { entry, map });
    this.#debug(
      `loaded object ${name}: programs ${
        obj.programs.map((p) => `${p.name} (${p.section})`).join(", ")
      }; maps ${obj.maps.map((m) => m.name).join(", ")}`,
    );
    this.#audit({
      event: "load",
      handle: Number(handle),
      programs: obj.programs.map((p) => ({ name: p.name, section: p.section })),
      maps: obj.maps.map((m) => m.name),
    });
    this.#fdsChanged();
    return handle;
  }

  /** `wasm_close_bpf_object`. */
  closeObject(handle: bigint): number {
    const e = this.#entry(handle, "wasm_close_bpf_object");
    this.#release(e);
    this.#fdsChanged();
    return 0;
  }

  #release(e: LoadedObject) {
    for (const { waiter } of e.readers.values()) waiter.close();
    e.readers.clear();
    for (const [fd, v] of this.#fds) if (v.entry === e) this.#fds.delete(fd);
    this.#objects.delete(e.handle);
    e.obj.close();
  }

  /** `wasm_attach_bpf_program`. */
  attach(handle: bigint, namePtr: number, targetPtr: number): number {
    this.#checkInterrupt();
    const e = this.#entry(handle, "wasm_attach_bpf_program");
    const name = this.#mem.cstring(
      namePtr,
      "wasm_attach_bpf_program: program name",
    );
    const target = targetPtr === 0
      ? ""
      : this.#mem.cstring(targetPtr, "wasm_attach_bpf_program: target");
    const prog = e.obj.program(name);
    this.#policy.checkAttach(prog.name, prog.section, target);
    const link = prog.attach(target, this.#libbpfLogger());
    this.#debug(`attached ${link.description}`);
    this.#audit({
      event: "attach",
      handle: Number(handle),
      program: name,
      section: prog.section,
      target,
    });
    this.#fdsChanged();
    return 0;
  }

  /** `wasm_bpf_map_fd_by_name`. */
  mapFdByName(handle: bigint, namePtr: number): number {
    const e = this.#entry(handle, "wasm_bpf_map_fd_by_name");
    const name = this.#mem.cstring(
      namePtr,
      "wasm_bpf_map_fd_by_name: map name",
    );
    return e.obj.map(name).fd;
  }

  #mapOf(fd: number, what: string): { entry: LoadedObject; map: BpfMap } {
    const v = this.#fds.get(fd);
    if (!v) {
      this.#debug(
        `${what}: fd ${fd} is not a map of an open object of this guest`,
      );
      throw new BpfError(
        `${what}: fd ${fd} is not a map of this guest`,
        Errno.EBADF,
        { plain: true },
      );
    }
    return v;
  }

  /** `wasm_bpf_map_operate`. */
  mapOperate(
    fd: number,
    cmd: number,
    key: number,
    value: number,
    next: number,
    flags: bigint,
  ): number {
    const v = this.#fds.get(fd);
    if (!v) {
      this.#debug(
        `wasm_bpf_map_operate: fd ${fd} is not a map of an open object of this guest`,
      );
      return -Errno.EBADF;
    }
    const map = v.map;
    const mem = this.#mem;
    const name = map.name;
    const ks = map.keySize;
    // bounds first (the messages are built only on failure), then policy
    switch (cmd) {
      case 1:
        mem.check(key, ks, "lookup in map: key of", name);
        mem.check(value, map.valueBufferSize, "lookup in map: value of", name);
        break;
      case 2:
        mem.check(key, ks, "update of map: key of", name);
        mem.check(value, map.valueBufferSize, "update of map: value of", name);
        this.#policy.checkMapWrite(name, "update");
        if (this.#opts.audit) this.#audit({ event: "map_update", map: name });
        break;
      case 3:
        mem.check(key, ks, "delete from map: key of", name);
        this.#policy.checkMapWrite(name, "delete");
        if (this.#opts.audit) this.#audit({ event: "map_delete", map: name });
        break;
      case 4:
        if (key !== 0) mem.check(key, ks, "next key: key of", name);
        mem.check(next, ks, "next key: next key of", name);
        break;
      default:
        this.#debug(`wasm_bpf_map_operate: unknown command ${cmd}`);
        return -Errno.EINVAL;
    }
    const f = Number(flags);
    if (this.#fast && f >= 0 && f < 4294967296) {
      // one system call, all-i32 arguments: V8's fast FFI calls
      return this.#fast.wasm_bpf_fast_map_op(
        fd,
        cmd,
        mem.baseLo,
        mem.baseHi,
        key >>> 0,
        value >>> 0,
        next >>> 0,
        f,
      );
    }
    const at = (p: number) => mem.address(p, 0, "map operation");
    switch (cmd) {
      case 1:
        return map.lookupRaw(at(key), at(value), f);
      case 2:
        return map.updateRaw(at(key), at(value), f);
      case 3:
        return map.deleteRaw(at(key), f);
      default:
        return map.nextKeyRaw(key === 0 ? 0 : at(key), at(next));
    }
  }

  #reader(
    e: LoadedObject,
    fd: number,
    what: string,
  ): { reader: BufferReader; waiter: Waiter } {
    let r = e.readers.get(fd);
    if (!r) {
      const v = this.#mapOf(fd, what);
      if (v.entry !== e) {
        throw new BpfError(
          `${what}: fd ${fd} is a map of another object (handle ${v.entry.handle})`,
          Errno.EBADF,
          {
            plain: true,
          },
        );
      }
      const reader = openBufferReader(e.obj, v.map);
      let waiter: Waiter;
      try {
        waiter = new Waiter(reader.pollFd, this.#opts.wakeFd ?? -1);
      } catch (err) {
        reader.close();
        throw err;
      }
      r = { reader, waiter };
      e.readers.set(fd, r);
    }
    return r;
  }

  /**
   * Waits up to `timeout` ms for records. -EINTR on the first interrupt (the
   * guest may clean up); a later call after an interrupt unwinds the guest.
   */
  #wait(r: { reader: BufferReader; waiter: Waiter }, timeout: number): number {
    const deadline = timeout < 0 ? Infinity : performance.now() + timeout;
    for (;;) {
      if (this.#checkInterrupt()) {
        this.#interruptSeen = true;
        return -Errno.EINTR;
      }
      if (r.reader.available()) return 0;
      const left = deadline === Infinity
        ? -1
        : Math.max(0, Math.ceil(deadline - performance.now()));
      if (left === 0) return 0;
      // data, the wake fd (interrupt), or the time limit
      r.waiter.wait(left);
    }
  }

  /** `wasm_bpf_buffer_poll` (and the callback-wrapper variant). */
  poll(
    handle: bigint,
    fd: number,
    fn: SampleFn,
    ctx: number,
    data: number,
    max: number,
    timeout: number,
  ): number {
    const e = this.#entry(handle, "wasm_bpf_buffer_poll");
    const mem = this.#mem;
    if (max <= 0) {
      throw new GuestFault(
        `wasm_bpf_buffer_poll: data buffer size ${max} is not positive`,
      );
    }
    mem.check(data, max, "wasm_bpf_buffer_poll: data buffer");
    const r = this.#reader(e, fd, "wasm_bpf_buffer_poll");
    const w = this.#wait(r, timeout);
    if (w) return w;
    return r.reader.consume((rec, size) => {
      const sig = this.#opts.interrupted?.();
      if (sig) {
        // stop delivering; the rest stays in the buffer
        this.#interruptSeen = true;
        throw new GuestInterrupted(sig);
      }
      const n = Math.min(size, max);
      // memory may have grown in the previous callback: a fresh view (it
      // never shrinks, so the bounds checked above still hold)
      mem.bytes.set(n === size ? rec : rec.subarray(0, n), data >>> 0);
      try {
        return fn(ctx, data, n) | 0;
      } catch (e) {
        this.#fromGuest = e;
        throw e;
      }
    });
  }

  /**
   * `wasm_bpf_ext.wasm_bpf_buffer_poll_batch`: fills `[buf, buf+len)` with
   * whole records, each `{u32 size; u32 copied}` then the data padded to 8
   * bytes. Returns the bytes written, 0 on timeout, or -errno.
   */
  pollBatch(
    handle: bigint,
    fd: number,
    buf: number,
    len: number,
    timeout: number,
  ): number {
    const e = this.#entry(handle, "wasm_bpf_buffer_poll_batch");
    if (len < 16) {
      throw new BpfError(
        `wasm_bpf_buffer_poll_batch: buffer of ${len} bytes is smaller than 16`,
        Errno.EINVAL,
        {
          plain: true,
        },
      );
    }
    const out = this.#mem.view(buf, len, "wasm_bpf_buffer_poll_batch: buffer");
    const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
    const r = this.#reader(e, fd, "wasm_bpf_buffer_poll_batch");
    const w = this.#wait(r, timeout);
    if (w) return w;
    if (r.reader instanceof RingBufReader) {
      // the batch layout is the ring's own: one copy per run of records
      return r.reader.consumeInto(out);
    }
    let off = 0;
    r.reader.consume(
      (rec, size) => {
        const room = len - off - 8;
        const n = Math.min(size, room);
        dv.setUint32(off, size, true);
        dv.setUint32(off + 4, n, true);
        out.set(rec.subarray(0, n), off + 8);
        off += 8 + ((n + 7) & ~7);
        return off + 8 > len ? 1 : 0;
      },
      (size) => off === 0 || off + 8 + ((size + 7) & ~7) <= len,
    );
    return Math.min(off, len);
  }

  /** Releases every object the guest still holds. Idempotent. */
  close(): void {
    if (this.#closed) return;
    for (const e of [...this.#objects.values()]) {
      try {
        this.#release(e);
      } catch (err) {
        this.#log(`closing ${e.obj.name}: ${(err as Error).message}`);
      }
    }
    this.#closed = true;
    this.#fdsChanged();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Checks the object's ELF structure and BTF before libbpf sees it: libbpf
 * trusts its input more than a host of untrusted guests may.
 */
function validateElf(name: string, bytes: Uint8Array): void {
  try {
    const elf = new ElfFile(name, bytes);
    if (elf.machine !== EM_BPF) {
      throw new ObjectFileError(
        `${name}: not a BPF object (ELF machine ${elf.machine}, expected ${EM_BPF})`,
      );
    }
    for (const s of elf.sections) elf.data(s);
    if (elf.section(".BTF")) Btf.fromElf(elf);
  } catch (e) {
    if (e instanceof ObjectFileError || e instanceof RangeError) {
      throw new BpfError(
        `cannot open BPF object '${name}': ${
          e.message.replace(`${name}: `, "")
        }`,
        Errno.EINVAL,
        {
          plain: true,
        },
      );
    }
    throw e;
  }
}
