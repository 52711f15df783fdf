/**
 * WASI preview 1 (`wasi_snapshot_preview1`) for one guest, with its own fd
 * table and a filesystem confined by the kernel.
 *
 * - The guest sees only what the options give: argv, the listed
 *   environment, stdin/stdout/stderr (fds 0-2) and the preopened
 *   directories (fds 3, 4, ... in order). WASI fds index this layer's own
 *   table; the guest cannot name any other host fd.
 * - Every path is resolved by the kernel with `openat2(RESOLVE_BENEATH |
 *   RESOLVE_NO_MAGICLINKS)` under the directory fd the guest named (see
 *   ./fs.ts): an escape (absolute path or symlink target, `..` above the
 *   preopen, a `/proc` magic link) fails with NOTCAPABLE (EXDEV) or LOOP.
 *   `path_open` follows a symlink in the last component only when the guest
 *   sets `LOOKUP_SYMLINK_FOLLOW`, and then only beneath. Operations on a
 *   final name (mkdir, unlink, rmdir, rename, symlink, link, readlink) open
 *   the parent beneath the directory (`O_PATH|O_DIRECTORY`) and act on one
 *   component that is not "", "." or "..". Creating a symlink is allowed:
 *   its target is text that every later lookup resolves beneath.
 * - A preopen is read-only unless `writable`: opens that would write
 *   (rights with `FD_WRITE`, `APPEND`, `CREAT`, `TRUNC`) and every change
 *   (mkdir, unlink, rmdir, rename, symlink, link, set times, set size,
 *   allocate) fail with ROFS; such files are opened `O_RDONLY`, so writes to
 *   them fail in the kernel (BADF). Changing the metadata of stdio fails
 *   with NOTCAPABLE.
 * - Only regular files and directories are opened (others: ACCES); they are
 *   opened `O_NONBLOCK`, so a FIFO never blocks the open.
 * - Waiting (poll_oneoff, reads of a pipe or terminal stdin) is `ppoll` on
 *   the fds plus `wakeFd`; when the wake fd fires and `interrupted()` says
 *   why, {@link WasiInterrupted} is thrown out of the import to unwind.
 * - A bad guest pointer or length is FAULT. No import throws, except
 *   proc_exit (a sentinel `start()` catches) and the interrupt.
 * - Exit codes are what a process would see: proc_exit's u32 & 0xff (a C
 *   `main` returning -1 exits 255).
 * - An import this layer does not know links and returns NOSYS; proc_raise
 *   is NOSYS; the sock_* calls answer NOTSOCK (no fd is a socket) or BADF.
 *   Clock subscriptions on the CPU-time clocks are NOTSUP events.
 * - At most 4096 guest fds. An fd the guest holds stays with its directory:
 *   if something outside the guest moves that directory elsewhere, paths
 *   under that fd resolve there (the guest itself cannot move anything out).
 *
 * Linux x86-64 only (openat2 needs Linux 5.6; setting times through an
 * `O_PATH` fd, 5.8).
 *
 * @module
 */
import { Errno, fromLinuxErrno } from "./errno.ts";
import {
  At,
  cString,
  failFromErrno,
  FdFlags,
  FileType,
  fileTypeOfDirent,
  fileTypeOfMode,
  fstat,
  fstatMode,
  LOOKUP_SYMLINK_FOLLOW,
  O,
  openat2,
  openBeneath,
  openFlags,
  Rights,
  splitFinal,
  timesFor,
  WasiErrno,
} from "./fs.ts";
import { errno, libc } from "./libc.ts";

/** A host directory the guest sees under `guest`. */
export interface Preopen {
  /** The name the guest sees (e.g. "/data"). */
  guest: string;
  /** The directory on the host. */
  host: string;
  /** Whether the guest may change anything in it. */
  writable: boolean;
}

/** What a {@link Wasi} gives its guest. */
export interface WasiOptions {
  /** argv, argv[0] included. */
  args: string[];
  /** The whole environment the guest sees. */
  env: Record<string, string>;
  /** Directories, as fds 3, 4, ... in this order. */
  preopens: Preopen[];
  /** Host fd the guest's stdin reads (default "null": end of file). */
  stdin?: "null" | number;
  /** Host fd (written synchronously) or a function receiving each write. */
  stdout: number | ((bytes: Uint8Array) => void);
  /** Host fd (written synchronously) or a function receiving each write. */
  stderr: number | ((bytes: Uint8Array) => void);
  /** An eventfd that becomes readable when the host wants the guest to stop. */
  wakeFd?: number;
  /** Why the guest should stop (checked when a wait is woken), or false. */
  interrupted?: () => string | false;
}

/** Thrown out of a waiting import once the host has asked the guest to stop. */
export class WasiInterrupted extends Error {
  /** What `interrupted()` returned (e.g. "SIGINT"). */
  readonly reason: string;
  /**
   * An interrupt for `reason`.
   * @param reason why the guest is stopped
   */
  constructor(reason: string) {
    super(`guest interrupted by ${reason}`);
    this.name = "WasiInterrupted";
    this.reason = reason;
  }
}

/**
 * What `proc_exit` throws to unwind the guest; {@link Wasi.start} catches
 * it. Code that calls into the guest itself (callbacks) must let it pass.
 */
export class WasiExit {
  /**
   * The guest's exit.
   * @param code the u32 the guest passed to proc_exit
   */
  constructor(readonly code: number) {}
}

const FAULT = new WasiErrno(Errno.FAULT);

/**
 * One scatter/gather transfer: `io` moves one buffer (after `done` bytes)
 * and returns the bytes moved or -1 (errno set). Stops at a short
 * transfer; an error after some bytes ends it with those, an error first
 * is the import's error.
 */
function transfer(
  bufs: Uint8Array[],
  io: (b: Uint8Array, done: number) => number,
): number {
  let total = 0;
  for (const b of bufs) {
    const r = io(b, total);
    if (r < 0) {
      if (total > 0) break;
      failFromErrno();
    }
    total += r;
    if (r < b.length) break;
  }
  return total;
}

interface Entry {
  /** WASI filetype; -1 until looked up (stdio). */
  type: number;
  /** Host fd, or -1 (null stdin, a sink). */
  host: number;
  /** Whether this layer opened `host` (and closes it). */
  own: boolean;
  /** Where writes go, for a sink. */
  sink?: (bytes: Uint8Array) => void;
  /** Whether changes are allowed (a writable preopen and what is under it). */
  writable: boolean;
  /** The guest name of a preopen. */
  preopen?: Uint8Array;
  /** WASI fdflags as the guest set them. */
  flags: number;
  base: bigint;
  inheriting: bigint;
  /** stdio: a host fd shared with the host (flags are only recorded). */
  stdio: boolean;
  /**
   * stdio output: whether writes wait for room first (a pipe, socket or
   * terminal; not a regular file or block device). Looked up on first write.
   */
  waitsForRoom?: boolean;
}

/** Whether st_mode is a regular file or a block device (never full). */
function isFile(mode: number): boolean {
  const type = mode & 0o170000;
  return type === 0o100000 || type === 0o060000;
}

const STDIO_RIGHTS = (1n << 0n) | (1n << 1n) | (1n << 3n) | (1n << 4n) |
  (1n << 6n) | (1n << 21n) | (1n << 27n);
const POLLIN = 1, POLLOUT = 4, POLLHUP = 0x10, POLLNVAL = 0x20;
const NS = 1_000_000_000n;
/** The most bytes a write to a pipe that polled writable takes at once. */
const PIPE_BUF = 4096;
const MAX_FDS = 4096;
const enc = new TextEncoder();

/**
 * One guest's WASI preview 1.
 *
 * @example
 * ```ts ignore
 * import { Wasi } from "./wasi.ts";
 * const wasi = new Wasi({
 *   args: ["guest"], env: {}, preopens: [], stdout: 1, stderr: 2,
 * });
 * const module = await WebAssembly.compile(await Deno.readFile("guest.wasm"));
 * const instance = new WebAssembly.Instance(module, wasi.imports);
 * Deno.exitCode = wasi.start(instance);
 * ```
 */
export class Wasi {
  readonly #opts: WasiOptions;
  readonly #args: Uint8Array[];
  readonly #env: Uint8Array[];
  readonly #fds: (Entry | undefined)[] = [];
  #ns?: WebAssembly.ModuleImports;
  #memory?: WebAssembly.Memory;
  #buf?: ArrayBuffer;
  #u8 = new Uint8Array(0);
  #dv = new DataView(new ArrayBuffer(0));
  #exitCode: number | undefined;
  #closed = false;
  readonly #ts = new BigInt64Array(2);
  readonly #tsBytes = new Uint8Array(this.#ts.buffer);

  /** Opens the preopened directories; throws if one cannot be opened. */
  constructor(options: WasiOptions) {
    this.#opts = options;
    this.#args = options.args.map((a) => enc.encode(a + "\0"));
    this.#env = Object.entries(options.env).map(([k, v]) =>
      enc.encode(`${k}=${v}\0`)
    );
    const stdio = (
      io: "null" | number | ((b: Uint8Array) => void) | undefined,
      read: boolean,
    ): Entry => ({
      type: typeof io === "number" ? -1 : FileType.CHARACTER_DEVICE,
      host: typeof io === "number" ? io : -1,
      own: false,
      sink: typeof io === "function" ? io : undefined,
      writable: false,
      flags: 0,
      base: STDIO_RIGHTS & ~(read ? 1n << 6n : 1n << 1n),
      inheriting: 0n,
      stdio: true,
    });
    this.#fds.push(
      stdio(options.stdin ?? "null", true),
      stdio(options.stdout, false),
      stdio(options.stderr, false),
    );
    try {
      for (const p of options.preopens) {
        const fd = openat2(
          -100, // AT_FDCWD
          cString(enc.encode(p.host)),
          O.RDONLY | O.DIRECTORY | O.CLOEXEC,
          0,
          0,
        );
        if (fd < 0) {
          const e = errno();
          throw new Error(
            `cannot open the directory '${p.host}' for the guest's '${p.guest}': ${
              LINUX_NAMES[e] ?? `errno ${e}`
            }`,
          );
        }
        this.#fds.push({
          type: FileType.DIRECTORY,
          host: fd,
          own: true,
          writable: p.writable,
          preopen: enc.encode(p.guest),
          flags: 0,
          base: Rights.ALL,
          inheriting: Rights.ALL,
          stdio: false,
        });
      }
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** `{ wasi_snapshot_preview1: {...} }` to spread into the import object;
   * a name this layer does not implement links to a function returning
   * NOSYS. */
  get imports(): WebAssembly.Imports {
    this.#ns ??= this.#build();
    return { wasi_snapshot_preview1: this.#ns };
  }

  /** The exit code (0-255) once the guest called proc_exit or {@link start}
   * returned; undefined before. */
  get exitCode(): number | undefined {
    return this.#exitCode;
  }

  /** Uses `instance`'s exported memory for every pointer from now on. */
  bind(instance: WebAssembly.Instance): void {
    const memory = instance.exports.memory;
    if (!(memory instanceof WebAssembly.Memory)) {
      throw new TypeError(
        "the guest exports no 'memory': build it as a WASI command (clang --target=wasm32-wasi)",
      );
    }
    this.#memory = memory;
  }

  /**
   * Runs `instance.exports._start` and returns the guest's exit code as a
   * process would see it: proc_exit's u32 & 0xff (a C `main` returning -1
   * gives 255), 0 when `_start` returns. Closes the guest's fds on the way
   * out. {@link WasiInterrupted} and traps propagate.
   */
  start(instance: WebAssembly.Instance): number {
    const start = instance.exports._start;
    if (typeof start !== "function") {
      throw new TypeError(
        "the guest exports no '_start': build it as a WASI command (clang --target=wasm32-wasi)",
      );
    }
    this.bind(instance);
    try {
      start();
      this.#exitCode = 0;
    } catch (e) {
      if (!(e instanceof WasiExit)) throw e;
      this.#exitCode = e.code & 0xff;
    } finally {
      this.close();
    }
    return this.#exitCode;
  }

  /** Closes every host fd the guest opened (and the preopens). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const e of this.#fds) if (e?.own) libc().close(e.host);
    this.#fds.length = 0;
  }

  // ---- memory ----------------------------------------------------------

  #refresh(): void {
    const b = this.#memory?.buffer as ArrayBuffer | undefined;
    if (b !== this.#buf) {
      this.#buf = b;
      this.#u8 = b ? new Uint8Array(b) : new Uint8Array(0);
      this.#dv = b ? new DataView(b) : new DataView(new ArrayBuffer(0));
    }
  }

  /** Checks [ptr, ptr+len) against memory; returns ptr as unsigned. */
  #at(ptr: number, len: number): number {
    ptr >>>= 0;
    if (ptr + (len >>> 0) > this.#u8.length) throw FAULT;
    return ptr;
  }

  #bytes(ptr: number, len: number): Uint8Array<ArrayBuffer> {
    const p = this.#at(ptr, len);
    return this.#u8.subarray(p, p + (len >>> 0)) as Uint8Array<ArrayBuffer>;
  }

  #u32(ptr: number, v: number): void {
    this.#dv.setUint32(this.#at(ptr, 4), v, true);
  }

  #u64(ptr: number, v: bigint): void {
    this.#dv.setBigUint64(this.#at(ptr, 8), v, true);
  }

  /** The iovec array at `iovs`: checked (ptr, len) views of memory. */
  #iovs(iovs: number, n: number): Uint8Array<ArrayBuffer>[] {
    n >>>= 0;
    const base = this.#at(iovs, n * 8);
    const out: Uint8Array<ArrayBuffer>[] = [];
    for (let i = 0; i < n; i++) {
      out.push(
        this.#bytes(
          this.#dv.getUint32(base + i * 8, true),
          this.#dv.getUint32(base + i * 8 + 4, true),
        ),
      );
    }
    return out;
  }

  /** A copy of the guest string at (ptr, len); INVAL if it holds a NUL. */
  #path(ptr: number, len: number): Uint8Array<ArrayBuffer> {
    const p = this.#bytes(ptr, len);
    if (p.indexOf(0) >= 0) throw new WasiErrno(Errno.INVAL);
    return p.slice();
  }

  // ---- fd table --------------------------------------------------------

  #entry(fd: number): Entry {
    const e = this.#fds[fd >>> 0];
    if (!e) throw new WasiErrno(Errno.BADF);
    return e;
  }

  /** A directory entry for a path operation. */
  #dir(fd: number): Entry {
    const e = this.#entry(fd);
    if (e.type !== FileType.DIRECTORY || e.host < 0) {
      throw new WasiErrno(Errno.NOTDIR);
    }
    return e;
  }

  #mustWrite(e: Entry): void {
    if (!e.writable) {
      throw new WasiErrno(e.stdio ? Errno.NOTCAPABLE : Errno.ROFS);
    }
  }

  #add(e: Entry): number {
    let fd = 3;
    while (fd < this.#fds.length && this.#fds[fd]) fd++;
    if (fd >= MAX_FDS) throw new WasiErrno(Errno.MFILE);
    this.#fds[fd] = e;
    return fd;
  }

  #type(e: Entry): number {
    if (e.type < 0) {
      e.type = fileTypeOfMode(fstatMode(e.host));
      if (e.type === FileType.REGULAR_FILE) {
        e.base |= Rights.FD_SEEK | Rights.FD_TELL;
      }
    }
    return e.type;
  }

  /**
   * Runs `f` with the parent directory of `path` (opened beneath `dir`
   * unless the path has one component) and the final name.
   */
  #atParent<T>(
    dir: Entry,
    path: Uint8Array,
    dots: Errno,
    f: (parent: number, name: Uint8Array<ArrayBuffer>, slash: boolean) => T,
  ): T {
    const s = splitFinal(path, dots);
    if (typeof s === "number") throw new WasiErrno(s);
    const parent = s.dir
      ? openBeneath(dir.host, cString(s.dir), O.PATH | O.DIRECTORY | O.CLOEXEC)
      : dir.host;
    try {
      return f(parent, cString(s.name), s.trailingSlash);
    } finally {
      if (parent !== dir.host) libc().close(parent);
    }
  }

  // ---- waiting ---------------------------------------------------------

  /**
   * ppoll on `fds` (pairs of fd, events) and the wake fd until one is ready
   * or `deadline` (CLOCK_MONOTONIC ns; null: none) passes. Returns the
   * revents per fd (all 0 on timeout). Throws WasiInterrupted when woken.
   */
  #wait(fds: number[], deadline: bigint | null): number[] {
    const n = fds.length / 2;
    const wake = this.#opts.wakeFd ?? -1;
    const set = new Uint8Array((n + 1) * 8);
    const v = new DataView(set.buffer);
    for (let i = 0; i < n; i++) {
      v.setInt32(i * 8, fds[i * 2], true);
      v.setInt16(i * 8 + 4, fds[i * 2 + 1], true);
    }
    let useWake = wake >= 0;
    const ts = new BigInt64Array(2);
    const c = libc();
    for (;;) {
      if (useWake) {
        v.setInt32(n * 8, wake, true);
        v.setInt16(n * 8 + 4, POLLIN, true);
        v.setInt16(n * 8 + 6, 0, true);
      }
      let tmo: Uint8Array<ArrayBuffer> | null = null;
      let left = deadline === null ? -1n : deadline - this.#now(1);
      if (left < 0n && deadline !== null) left = 0n;
      // woken with no reason given: look again every 50 ms
      if (!useWake && wake >= 0 && (left < 0n || left > 50_000_000n)) {
        left = 50_000_000n;
      }
      if (left >= 0n) {
        ts[0] = left / NS;
        ts[1] = left % NS;
        tmo = new Uint8Array(ts.buffer);
      }
      const r = c.ppoll(set, BigInt(useWake ? n + 1 : n), tmo, null);
      if (r < 0) {
        if (errno() === 4 /* EINTR */) continue;
        failFromErrno();
      }
      if (wake >= 0) {
        const woken = useWake && v.getInt16(n * 8 + 6, true) !== 0;
        if (woken || !useWake) {
          const why = this.#opts.interrupted
            ? this.#opts.interrupted()
            : "wake";
          if (why) throw new WasiInterrupted(why);
          if (woken) useWake = false;
        }
      }
      const out: number[] = [];
      let any = false;
      for (let i = 0; i < n; i++) {
        const re = v.getInt16(i * 8 + 6, true);
        out.push(re);
        if (re) any = true;
      }
      if (any) return out;
      if (deadline !== null && this.#now(1) >= deadline) return out;
    }
  }

  /** Waits until the stdio host fd is ready for `events` (or throws). */
  #waitFd(e: Entry, events: number): void {
    if (e.flags & FdFlags.NONBLOCK) {
      const re = this.#pollNow(e.host, events);
      if (!re) throw new WasiErrno(Errno.AGAIN);
      return;
    }
    this.#wait([e.host, events], null);
  }

  #pollNow(fd: number, events: number): number {
    const set = new Uint8Array(8);
    const v = new DataView(set.buffer);
    v.setInt32(0, fd, true);
    v.setInt16(4, events, true);
    const ts = new Uint8Array(16);
    if (libc().ppoll(set, 1n, ts, null) < 0) return 0;
    return v.getInt16(6, true);
  }

  #now(clock: number): bigint {
    if (libc().clock_gettime(clock, this.#tsBytes) !== 0) failFromErrno();
    return this.#ts[0] * NS + this.#ts[1];
  }

  // ---- the imports -----------------------------------------------------

  #build(): WebAssembly.ModuleImports {
    const fns: Record<string, (...a: never[]) => number | void> = {
      args_get: (argv: number, buf: number) =>
        this.#strings(this.#args, argv, buf),
      args_sizes_get: (n: number, size: number) =>
        this.#sizes(this.#args, n, size),
      environ_get: (envp: number, buf: number) =>
        this.#strings(this.#env, envp, buf),
      environ_sizes_get: (n: number, size: number) =>
        this.#sizes(this.#env, n, size),
      clock_res_get: (id: number, out: number) => this.#clockRes(id, out),
      clock_time_get: (id: number, _precision: bigint, out: number) => {
        if (id >>> 0 > 3) return Errno.INVAL;
        this.#u64(out, this.#now(id));
        return 0;
      },
      fd_advise: (fd: number, off: bigint, len: bigint, advice: number) =>
        this.#advise(fd, off, len, advice),
      fd_allocate: (fd: number, off: bigint, len: bigint) => {
        const e = this.#entry(fd);
        this.#mustWrite(e);
        if (e.host < 0) return Errno.BADF;
        return fromLinuxErrnoOr0(libc().posix_fallocate(e.host, off, len));
      },
      fd_close: (fd: number) => {
        const e = this.#entry(fd);
        this.#fds[fd >>> 0] = undefined;
        if (e.own) libc().close(e.host);
        return 0;
      },
      fd_datasync: (fd: number) => this.#sync(fd, true),
      fd_sync: (fd: number) => this.#sync(fd, false),
      fd_fdstat_get: (fd: number, out: number) => this.#fdstat(fd, out),
      fd_fdstat_set_flags: (fd: number, flags: number) =>
        this.#setFlags(fd, flags),
      fd_fdstat_set_rights: (fd: number, base: bigint, inh: bigint) => {
        const e = this.#entry(fd);
        if ((base & ~e.base) || (inh & ~e.inheriting)) return Errno.NOTCAPABLE;
        e.base = base;
        e.inheriting = inh;
        return 0;
      },
      fd_filestat_get: (fd: number, out: number) => {
        const e = this.#entry(fd);
        this.#at(out, 64);
        if (e.host < 0) {
          this.#u8.fill(0, out >>> 0, (out >>> 0) + 64);
          this.#u8[(out >>> 0) + 16] = FileType.CHARACTER_DEVICE;
          return 0;
        }
        this.#filestat(e.host, out);
        return 0;
      },
      fd_filestat_set_size: (fd: number, size: bigint) => {
        const e = this.#entry(fd);
        this.#mustWrite(e);
        if (libc().ftruncate(e.host, size) !== 0) failFromErrno();
        return 0;
      },
      fd_filestat_set_times: (
        fd: number,
        atim: bigint,
        mtim: bigint,
        fst: number,
      ) => {
        const e = this.#entry(fd);
        const t = timesFor(atim, mtim, fst);
        if (typeof t === "number") return t;
        this.#mustWrite(e);
        const b = new Uint8Array(t.buffer);
        if (libc().futimens(e.host, b) !== 0) failFromErrno();
        return 0;
      },
      fd_pread: (
        fd: number,
        iovs: number,
        n: number,
        off: bigint,
        out: number,
      ) => this.#pio(fd, iovs, n, off, out, false),
      fd_pwrite: (
        fd: number,
        iovs: number,
        n: number,
        off: bigint,
        out: number,
      ) => this.#pio(fd, iovs, n, off, out, true),
      fd_prestat_get: (fd: number, out: number) => {
        const e = this.#fds[fd >>> 0];
        if (!e?.preopen) return Errno.BADF;
        this.#at(out, 8);
        this.#dv.setUint32(out >>> 0, 0, true);
        this.#u32(out + 4, e.preopen.length);
        return 0;
      },
      fd_prestat_dir_name: (fd: number, path: number, len: number) => {
        const e = this.#fds[fd >>> 0];
        if (!e?.preopen) return Errno.BADF;
        const dst = this.#bytes(path, len);
        if (dst.length < e.preopen.length) return Errno.NOBUFS;
        dst.set(e.preopen);
        return 0;
      },
      fd_read: (fd: number, iovs: number, n: number, out: number) =>
        this.#read(fd, iovs, n, out),
      fd_write: (fd: number, iovs: number, n: number, out: number) =>
        this.#write(fd, iovs, n, out),
      fd_readdir: (
        fd: number,
        buf: number,
        len: number,
        cookie: bigint,
        out: number,
      ) => this.#readdir(fd, buf, len, cookie, out),
      fd_renumber: (from: number, to: number) => {
        const e = this.#entry(from);
        const old = this.#entry(to);
        if (from >>> 0 === to >>> 0) return 0;
        if (old.own) libc().close(old.host);
        this.#fds[to >>> 0] = e;
        this.#fds[from >>> 0] = undefined;
        return 0;
      },
      fd_seek: (fd: number, off: bigint, whence: number, out: number) =>
        this.#seek(fd, off, whence, out),
      fd_tell: (fd: number, out: number) => this.#seek(fd, 0n, 1, out),
      path_create_directory: (fd: number, path: number, len: number) => {
        const d = this.#dir(fd);
        const p = this.#path(path, len);
        this.#mustWrite(d);
        return this.#atParent(d, p, Errno.EXIST, (parent, name) => {
          if (libc().mkdirat(parent, name, 0o777) !== 0) failFromErrno();
          return 0;
        });
      },
      path_remove_directory: (fd: number, path: number, len: number) => {
        const d = this.#dir(fd);
        const p = this.#path(path, len);
        this.#mustWrite(d);
        return this.#atParent(d, p, Errno.INVAL, (parent, name) => {
          if (libc().unlinkat(parent, name, At.REMOVEDIR) !== 0) {
            failFromErrno();
          }
          return 0;
        });
      },
      path_unlink_file: (fd: number, path: number, len: number) => {
        const d = this.#dir(fd);
        const p = this.#path(path, len);
        this.#mustWrite(d);
        return this.#atParent(d, p, Errno.ISDIR, (parent, name, slash) => {
          if (slash) return Errno.NOTDIR;
          if (libc().unlinkat(parent, name, 0) !== 0) failFromErrno();
          return 0;
        });
      },
      path_rename: (
        fd: number,
        oldPath: number,
        oldLen: number,
        newFd: number,
        newPath: number,
        newLen: number,
      ) => {
        const d1 = this.#dir(fd), d2 = this.#dir(newFd);
        const p1 = this.#path(oldPath, oldLen);
        const p2 = this.#path(newPath, newLen);
        this.#mustWrite(d1);
        this.#mustWrite(d2);
        return this.#atParent(
          d1,
          p1,
          Errno.BUSY,
          (par1, n1) =>
            this.#atParent(d2, p2, Errno.BUSY, (par2, n2) => {
              if (libc().renameat(par1, n1, par2, n2) !== 0) failFromErrno();
              return 0;
            }),
        );
      },
      path_symlink: (
        target: number,
        targetLen: number,
        fd: number,
        path: number,
        len: number,
      ) => {
        const t = cString(this.#path(target, targetLen));
        const d = this.#dir(fd);
        const p = this.#path(path, len);
        this.#mustWrite(d);
        return this.#atParent(d, p, Errno.EXIST, (parent, name, slash) => {
          if (slash) return Errno.NOTDIR;
          if (libc().symlinkat(t, parent, name) !== 0) failFromErrno();
          return 0;
        });
      },
      path_link: (
        oldFd: number,
        oldFlags: number,
        oldPath: number,
        oldLen: number,
        newFd: number,
        newPath: number,
        newLen: number,
      ) => this.#link(oldFd, oldFlags, oldPath, oldLen, newFd, newPath, newLen),
      path_readlink: (
        fd: number,
        path: number,
        len: number,
        buf: number,
        bufLen: number,
        out: number,
      ) => {
        const d = this.#dir(fd);
        const p = this.#path(path, len);
        const dst = this.#bytes(buf, bufLen);
        this.#at(out, 4);
        return this.#atParent(d, p, Errno.INVAL, (parent, name) => {
          const tmp = new Uint8Array(Math.max(dst.length, 1));
          const n = Number(libc().readlinkat(parent, name, tmp, tmp.length));
          if (n < 0) failFromErrno();
          const used = Math.min(n, dst.length);
          dst.set(tmp.subarray(0, used));
          this.#u32(out, used);
          return 0;
        });
      },
      path_filestat_get: (
        fd: number,
        flags: number,
        path: number,
        len: number,
        out: number,
      ) => {
        const d = this.#dir(fd);
        const p = this.#path(path, len);
        this.#at(out, 64);
        const f = openBeneath(d.host, cString(p), this.#pathFlags(flags));
        try {
          this.#filestat(f, out);
        } finally {
          libc().close(f);
        }
        return 0;
      },
      path_filestat_set_times: (
        fd: number,
        flags: number,
        path: number,
        len: number,
        atim: bigint,
        mtim: bigint,
        fst: number,
      ) => {
        const d = this.#dir(fd);
        const p = this.#path(path, len);
        const t = timesFor(atim, mtim, fst);
        if (typeof t === "number") return t;
        this.#mustWrite(d);
        const f = openBeneath(d.host, cString(p), this.#pathFlags(flags));
        try {
          const r = libc().utimensat(
            f,
            new Uint8Array(1),
            new Uint8Array(t.buffer),
            At.EMPTY_PATH,
          );
          if (r !== 0) failFromErrno();
        } finally {
          libc().close(f);
        }
        return 0;
      },
      path_open: (
        fd: number,
        lookup: number,
        path: number,
        len: number,
        oflags: number,
        base: bigint,
        inheriting: bigint,
        fdflags: number,
        out: number,
      ) =>
        this.#open(
          fd,
          lookup,
          path,
          len,
          oflags,
          base,
          inheriting,
          fdflags,
          out,
        ),
      poll_oneoff: (inp: number, out: number, n: number, nout: number) =>
        this.#poll(inp, out, n, nout),
      proc_exit: (code: number) => {
        this.#exitCode = code & 0xff;
        throw new WasiExit(code >>> 0);
      },
      proc_raise: () => Errno.NOSYS,
      sched_yield: () => 0,
      random_get: (buf: number, len: number) => {
        const b = this.#bytes(buf, len);
        for (let done = 0; done < b.length;) {
          const r = Number(
            libc().getrandom(b.subarray(done), b.length - done, 0),
          );
          if (r < 0) {
            if (errno() === 4) continue;
            failFromErrno();
          }
          done += r;
        }
        return 0;
      },
      sock_accept: (fd: number) => this.#notSocket(fd),
      sock_recv: (fd: number) => this.#notSocket(fd),
      sock_send: (fd: number) => this.#notSocket(fd),
      sock_shutdown: (fd: number) => this.#notSocket(fd),
    };
    const ns: Record<string, (...a: never[]) => number | void> = {};
    for (const [name, f] of Object.entries(fns)) {
      ns[name] = (...a: never[]) => {
        try {
          this.#refresh();
          return f(...a);
        } catch (e) {
          if (e instanceof WasiErrno) return e.errno;
          if (e instanceof WasiExit || e instanceof WasiInterrupted) throw e;
          // the library could not be loaded, or deno lacks --allow-ffi:
          // the host's problem, not the guest's
          if (e instanceof Error && /C library|allow-ffi/.test(e.message)) {
            throw e;
          }
          if (e instanceof Deno.errors.PermissionDenied) throw e;
          return Errno.IO;
        }
      };
    }
    return new Proxy(ns, {
      get: (t, name) =>
        typeof name === "string" && !(name in t)
          ? () => Errno.NOSYS
          : t[name as string],
    }) as WebAssembly.ModuleImports;
  }

  #sizes(list: Uint8Array[], n: number, size: number): number {
    this.#at(n, 4);
    this.#at(size, 4);
    this.#u32(n, list.length);
    this.#u32(size, list.reduce((s, a) => s + a.length, 0));
    return 0;
  }

  #strings(list: Uint8Array[], ptrs: number, buf: number): number {
    const total = list.reduce((s, a) => s + a.length, 0);
    const p = this.#at(ptrs, list.length * 4);
    let b = this.#at(buf, total);
    list.forEach((s, i) => {
      this.#dv.setUint32(p + i * 4, b, true);
      this.#u8.set(s, b);
      b += s.length;
    });
    return 0;
  }

  #clockRes(id: number, out: number): number {
    if (id >>> 0 > 3) return Errno.INVAL;
    this.#at(out, 8);
    if (libc().clock_getres(id, this.#tsBytes) !== 0) failFromErrno();
    this.#u64(out, this.#ts[0] * NS + this.#ts[1]);
    return 0;
  }

  #notSocket(fd: number): number {
    return this.#fds[fd >>> 0] ? Errno.NOTSOCK : Errno.BADF;
  }

  #pathFlags(lookup: number): number {
    return O.PATH | O.CLOEXEC |
      (lookup & LOOKUP_SYMLINK_FOLLOW ? 0 : O.NOFOLLOW);
  }

  #filestat(fd: number, out: number): void {
    const s = fstat(fd);
    const p = this.#at(out, 64);
    const v = this.#dv;
    v.setBigUint64(p, s.dev, true);
    v.setBigUint64(p + 8, s.ino, true);
    v.setBigUint64(p + 16, BigInt(fileTypeOfMode(s.mode)), true);
    v.setBigUint64(p + 24, s.nlink, true);
    v.setBigUint64(p + 32, BigInt.asUintN(64, s.size), true);
    v.setBigUint64(p + 40, BigInt.asUintN(64, s.atim), true);
    v.setBigUint64(p + 48, BigInt.asUintN(64, s.mtim), true);
    v.setBigUint64(p + 56, BigInt.asUintN(64, s.ctim), true);
  }

  #fdstat(fd: number, out: number): number {
    const e = this.#entry(fd);
    const p = this.#at(out, 24);
    const type = e.host >= 0 ? this.#type(e) : e.type;
    this.#u8.fill(0, p, p + 8);
    this.#u8[p] = type;
    this.#dv.setUint16(p + 2, e.flags, true);
    this.#dv.setBigUint64(p + 8, e.base, true);
    this.#dv.setBigUint64(p + 16, e.inheriting, true);
    return 0;
  }

  #setFlags(fd: number, flags: number): number {
    const e = this.#entry(fd);
    if (flags & ~0x1f) return Errno.INVAL;
    if (e.own && ((flags ^ e.flags) & FdFlags.APPEND)) {
      const c = libc();
      const cur = c.fcntl(e.host, 3, /* F_GETFL */ 0);
      if (cur < 0) failFromErrno();
      const next = flags & FdFlags.APPEND ? cur | O.APPEND : cur & ~O.APPEND;
      if (c.fcntl(e.host, 4, /* F_SETFL */ next) < 0) failFromErrno();
    }
    e.flags = flags;
    return 0;
  }

  #sync(fd: number, data: boolean): number {
    const e = this.#entry(fd);
    if (e.host < 0) return 0;
    const r = data ? libc().fdatasync(e.host) : libc().fsync(e.host);
    if (r !== 0) failFromErrno();
    return 0;
  }

  #advise(fd: number, off: bigint, len: bigint, advice: number): number {
    const e = this.#entry(fd);
    if (advice >>> 0 > 5) return Errno.INVAL;
    if (e.host < 0) return Errno.SPIPE;
    // WASI: NORMAL SEQUENTIAL RANDOM ...; Linux: NORMAL RANDOM SEQUENTIAL ...
    const linux = advice === 1 ? 2 : advice === 2 ? 1 : advice;
    return fromLinuxErrnoOr0(libc().posix_fadvise(e.host, off, len, linux));
  }

  #seek(fd: number, off: bigint, whence: number, out: number): number {
    const e = this.#entry(fd);
    if (whence >>> 0 > 2) return Errno.INVAL;
    this.#at(out, 8);
    if (e.host < 0) return Errno.SPIPE;
    const r = BigInt(libc().lseek(e.host, off, whence));
    if (r < 0n) failFromErrno();
    this.#u64(out, r);
    return 0;
  }

  #read(fd: number, iovs: number, n: number, out: number): number {
    const e = this.#entry(fd);
    const bufs = this.#iovs(iovs, n);
    this.#at(out, 4);
    if (e.sink) return Errno.BADF;
    if (e.host < 0) { // null stdin
      this.#u32(out, 0);
      return 0;
    }
    const c = libc();
    let total = 0;
    if (e.stdio) {
      // a pipe or terminal shared with the host: wait interruptibly, then
      // one read
      const b = bufs.find((b) => b.length > 0);
      if (!b) return this.#u32(out, 0), 0;
      for (;;) {
        this.#waitFd(e, POLLIN);
        const r = Number(c.read(e.host, b, b.length));
        if (r >= 0) {
          total = r;
          break;
        }
        const err = errno();
        if (err !== 11 && err !== 4) failFromErrno();
        if (e.flags & FdFlags.NONBLOCK) return Errno.AGAIN;
      }
    } else {
      total = transfer(bufs, (b) => Number(c.read(e.host, b, b.length)));
    }
    this.#u32(out, total);
    return 0;
  }

  #write(fd: number, iovs: number, n: number, out: number): number {
    const e = this.#entry(fd);
    const bufs = this.#iovs(iovs, n);
    this.#at(out, 4);
    const size = bufs.reduce((s, b) => s + b.length, 0);
    if (e.sink || e.stdio) {
      let data: Uint8Array<ArrayBuffer>;
      if (bufs.length === 1) data = e.sink ? bufs[0].slice() : bufs[0];
      else {
        data = new Uint8Array(size);
        let o = 0;
        for (const b of bufs) data.set(b, o), o += b.length;
      }
      if (e.sink) {
        e.sink(data);
        this.#u32(out, size);
        return 0;
      }
      if (e.host < 0) return Errno.BADF;
      // a pipe, socket or terminal may be full (nobody reading): when it
      // is, wait for room interruptibly (a stopped guest is unwound there;
      // one that can still write may, e.g. after its -EINTR), then write at
      // most PIPE_BUF, which a pipe that polled writable takes without
      // blocking; files are written at once
      const waits = e.waitsForRoom ??= !isFile(fstatMode(e.host));
      const len = waits ? Math.min(data.length, PIPE_BUF) : data.length;
      for (;;) {
        if (waits && !this.#pollNow(e.host, POLLOUT)) {
          this.#waitFd(e, POLLOUT);
        }
        const r = Number(libc().write(e.host, data, len));
        if (r >= 0) {
          this.#u32(out, r);
          return 0;
        }
        const err = errno();
        if (err !== 11 && err !== 4) failFromErrno();
        if (!waits) this.#waitFd(e, POLLOUT);
      }
    }
    const c = libc();
    this.#u32(
      out,
      transfer(bufs, (b) => Number(c.write(e.host, b, b.length))),
    );
    return 0;
  }

  #pio(
    fd: number,
    iovs: number,
    n: number,
    off: bigint,
    out: number,
    write: boolean,
  ): number {
    const e = this.#entry(fd);
    const bufs = this.#iovs(iovs, n);
    this.#at(out, 4);
    if (e.host < 0 || e.stdio) return Errno.SPIPE;
    const c = libc();
    this.#u32(
      out,
      transfer(bufs, (b, done) => {
        const at = off + BigInt(done);
        return Number(
          write
            ? c.pwrite(e.host, b, b.length, at)
            : c.pread(e.host, b, b.length, at),
        );
      }),
    );
    return 0;
  }

  #readdir(
    fd: number,
    buf: number,
    len: number,
    cookie: bigint,
    out: number,
  ): number {
    const e = this.#dir(fd);
    const dst = this.#bytes(buf, len);
    this.#at(out, 4);
    const c = libc();
    if (BigInt(c.lseek(e.host, cookie, 0)) < 0n) failFromErrno();
    const raw = new Uint8Array(32768);
    const rv = new DataView(raw.buffer);
    const head = new Uint8Array(24);
    const hv = new DataView(head.buffer);
    let used = 0;
    while (used < dst.length) {
      const got = Number(c.getdents64(e.host, raw, raw.length));
      if (got < 0) failFromErrno();
      if (got === 0) break;
      for (let o = 0; o < got && used < dst.length;) {
        const reclen = rv.getUint16(o + 16, true);
        let end = o + 19;
        while (raw[end] !== 0) end++;
        const name = raw.subarray(o + 19, end);
        hv.setBigUint64(0, rv.getBigUint64(o + 8, true), true); // d_next
        hv.setBigUint64(8, rv.getBigUint64(o, true), true); // d_ino
        hv.setUint32(16, name.length, true);
        head[20] = fileTypeOfDirent(raw[o + 18]);
        for (const part of [head, name]) {
          const k = Math.min(part.length, dst.length - used);
          dst.set(part.subarray(0, k), used);
          used += k;
        }
        o += reclen;
      }
    }
    this.#u32(out, used);
    return 0;
  }

  #open(
    fd: number,
    lookup: number,
    path: number,
    len: number,
    oflags: number,
    base: bigint,
    inheriting: bigint,
    fdflags: number,
    out: number,
  ): number {
    const d = this.#dir(fd);
    const p = this.#path(path, len);
    this.#at(out, 4);
    const { flags, writes } = openFlags(lookup, oflags, base, fdflags);
    if (writes && !d.writable) return Errno.ROFS;
    const creat = (flags & O.CREAT) !== 0;
    const h = openBeneath(d.host, cString(p), flags, creat ? 0o666 : 0);
    let type: number;
    try {
      type = fileTypeOfMode(fstatMode(h));
      if (type !== FileType.REGULAR_FILE && type !== FileType.DIRECTORY) {
        throw new WasiErrno(Errno.ACCES);
      }
      const fdOut = this.#add({
        type,
        host: h,
        own: true,
        writable: d.writable,
        flags: fdflags & 0x1f,
        base,
        inheriting,
        stdio: false,
      });
      this.#u32(out, fdOut);
    } catch (e) {
      libc().close(h);
      throw e;
    }
    return 0;
  }

  #link(
    oldFd: number,
    oldFlags: number,
    oldPath: number,
    oldLen: number,
    newFd: number,
    newPath: number,
    newLen: number,
  ): number {
    const d1 = this.#dir(oldFd), d2 = this.#dir(newFd);
    const p1 = this.#path(oldPath, oldLen);
    const p2 = this.#path(newPath, newLen);
    // both sides: a link into a writable preopen would make a read-only
    // file writable
    this.#mustWrite(d1);
    this.#mustWrite(d2);
    const c = libc();
    return this.#atParent(d2, p2, Errno.EXIST, (par2, n2, slash) => {
      if (slash) return Errno.NOTDIR;
      if (oldFlags & LOOKUP_SYMLINK_FOLLOW) {
        // the kernel follows the link beneath d1; link what it found
        const f = openBeneath(d1.host, cString(p1), O.PATH | O.CLOEXEC);
        try {
          if (c.linkat(f, new Uint8Array(1), par2, n2, At.EMPTY_PATH) === 0) {
            return 0;
          }
          if (errno() !== 2 /* ENOENT: no CAP_DAC_READ_SEARCH */) {
            failFromErrno();
          }
          const proc = cString(enc.encode(`/proc/self/fd/${f}`));
          if (c.linkat(-100, proc, par2, n2, At.SYMLINK_FOLLOW) !== 0) {
            failFromErrno();
          }
          return 0;
        } finally {
          c.close(f);
        }
      }
      return this.#atParent(d1, p1, Errno.PERM, (par1, n1) => {
        if (c.linkat(par1, n1, par2, n2, 0) !== 0) failFromErrno();
        return 0;
      });
    });
  }

  #poll(inp: number, out: number, n: number, nout: number): number {
    n >>>= 0;
    if (n === 0) return Errno.INVAL;
    const ip = this.#at(inp, n * 48);
    const op = this.#at(out, n * 32);
    this.#at(nout, 4);
    const v = this.#dv;
    type Ev = { userdata: bigint; error: number; type: number; flags: number };
    const ready: Ev[] = [];
    const clocks: { userdata: bigint; deadline: bigint }[] = [];
    const waits: { userdata: bigint; type: number; fd: number; ev: number }[] =
      [];
    for (let i = 0; i < n; i++) {
      const s = ip + i * 48;
      const userdata = v.getBigUint64(s, true);
      const tag = this.#u8[s + 8];
      if (tag === 0) {
        const id = v.getUint32(s + 16, true);
        const timeout = v.getBigUint64(s + 24, true);
        const abs = (v.getUint16(s + 40, true) & 1) !== 0;
        if (id > 1) {
          // a deadline on a CPU-time clock cannot be waited for
          ready.push({ userdata, error: Errno.NOTSUP, type: 0, flags: 0 });
          continue;
        }
        const now = this.#now(1);
        let deadline = now + timeout;
        if (abs) deadline = id === 1 ? timeout : now + (timeout - this.#now(0));
        clocks.push({ userdata, deadline });
      } else if (tag === 1 || tag === 2) {
        const e = this.#fds[v.getUint32(s + 16, true)];
        if (!e) {
          ready.push({ userdata, error: Errno.BADF, type: tag, flags: 0 });
        } else if (e.stdio && e.host >= 0 && !e.sink) {
          waits.push({
            userdata,
            type: tag,
            fd: e.host,
            ev: tag === 1 ? POLLIN : POLLOUT,
          });
        } else {
          // files, directories, null stdin, sinks never block
          const hup = e.host < 0 && !e.sink && tag === 1 ? 1 : 0;
          ready.push({ userdata, error: 0, type: tag, flags: hup });
        }
      } else {
        ready.push({ userdata, error: Errno.INVAL, type: tag, flags: 0 });
      }
    }
    if (ready.length === 0 || waits.length > 0) {
      let deadline: bigint | null = null;
      for (const c of clocks) {
        if (deadline === null || c.deadline < deadline) deadline = c.deadline;
      }
      if (ready.length > 0) deadline = 0n;
      const revents = this.#wait(
        waits.flatMap((w) => [w.fd, w.ev]),
        deadline,
      );
      waits.forEach((w, i) => {
        const re = revents[i];
        if (!re) return;
        ready.push({
          userdata: w.userdata,
          error: re & POLLNVAL ? Errno.BADF : 0,
          type: w.type,
          flags: re & POLLHUP ? 1 : 0,
        });
      });
    }
    if (clocks.length > 0) {
      const now = this.#now(1);
      for (const c of clocks) {
        if (c.deadline <= now) {
          ready.push({ userdata: c.userdata, error: 0, type: 0, flags: 0 });
        }
      }
    }
    this.#u8.fill(0, op, op + ready.length * 32);
    ready.forEach((e, i) => {
      const o = op + i * 32;
      v.setBigUint64(o, e.userdata, true);
      v.setUint16(o + 8, e.error, true);
      this.#u8[o + 10] = e.type;
      v.setUint16(o + 24, e.flags, true);
    });
    this.#u32(nout, ready.length);
    return 0;
  }
}

function fromLinuxErrnoOr0(r: number): number {
  return r === 0 ? 0 : fromLinuxErrno(r);
}

const LINUX_NAMES: Record<number, string> = {
  1: "operation not permitted (EPERM)",
  2: "no such file or directory (ENOENT)",
  13: "permission denied (EACCES)",
  20: "not a directory (ENOTDIR)",
  24: "too many open files (EMFILE)",
  38:
    "openat2 is missing (ENOSYS): confining the guest needs Linux 5.6 or later, and no seccomp filter refusing openat2",
  40: "too many symbolic links (ELOOP)",
};
