/**
 * The filesystem half of the WASI layer: WASI's flag and type numbers, their
 * Linux counterparts, the pure conversions between them, and the one way
 * this layer resolves a guest path: `openat2` with `RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS` under a directory fd, so the kernel refuses every
 * escape (absolute paths, `..` above the directory, absolute symlink
 * targets, `/proc` magic links), symlinks in the last component included.
 *
 * @module
 */
import { Errno, fromLinuxErrno } from "./errno.ts";
import { errno, libc, SYS_OPENAT2 } from "./libc.ts";

/** WASI `rights` bits (only the ones this layer looks at by name). */
export const Rights = {
  FD_READ: 1n << 1n,
  FD_SEEK: 1n << 2n,
  FD_TELL: 1n << 5n,
  FD_WRITE: 1n << 6n,
  FD_READDIR: 1n << 14n,
  /** Every right preview 1 defines (bits 0 to 29). */
  ALL: (1n << 30n) - 1n,
} as const;

/** WASI `oflags`. */
export const OFlags = { CREAT: 1, DIRECTORY: 2, EXCL: 4, TRUNC: 8 } as const;
/** WASI `fdflags`. */
export const FdFlags = {
  APPEND: 1,
  DSYNC: 2,
  NONBLOCK: 4,
  RSYNC: 8,
  SYNC: 16,
} as const;
/** WASI `lookupflags`. */
export const LOOKUP_SYMLINK_FOLLOW = 1;
/** WASI `fstflags`. */
export const FstFlags = { ATIM: 1, ATIM_NOW: 2, MTIM: 4, MTIM_NOW: 8 } as const;

/** WASI `filetype`. */
export const FileType = {
  UNKNOWN: 0,
  BLOCK_DEVICE: 1,
  CHARACTER_DEVICE: 2,
  DIRECTORY: 3,
  REGULAR_FILE: 4,
  SOCKET_DGRAM: 5,
  SOCKET_STREAM: 6,
  SYMBOLIC_LINK: 7,
} as const;

/** Linux (x86-64) open(2) flags. */
export const O = {
  RDONLY: 0,
  WRONLY: 1,
  RDWR: 2,
  CREAT: 0o100,
  EXCL: 0o200,
  NOCTTY: 0o400,
  TRUNC: 0o1000,
  APPEND: 0o2000,
  NONBLOCK: 0o4000,
  DSYNC: 0o10000,
  DIRECTORY: 0o200000,
  NOFOLLOW: 0o400000,
  CLOEXEC: 0o2000000,
  SYNC: 0o4010000,
  PATH: 0o10000000,
} as const;

/** `struct open_how.resolve` bits. */
export const Resolve = {
  NO_MAGICLINKS: 0x02,
  NO_SYMLINKS: 0x04,
  BENEATH: 0x08,
} as const;

/** `*at` flags. */
export const At = {
  SYMLINK_NOFOLLOW: 0x100,
  REMOVEDIR: 0x200,
  SYMLINK_FOLLOW: 0x400,
  EMPTY_PATH: 0x1000,
} as const;

/** How {@link openFlags} turns a `path_open` into open(2) flags. */
export interface OpenIntent {
  /** The open(2) flags (O_CLOEXEC, O_NOCTTY and O_NONBLOCK always set). */
  flags: number;
  /** Whether the open may change the filesystem or the file. */
  writes: boolean;
}

/**
 * The open(2) flags for a `path_open`: write access when the rights ask
 * for `FD_WRITE` (or the fdflags for `APPEND`), read access when they ask
 * for `FD_READ` or `FD_READDIR`; `O_NOFOLLOW` unless `lookupflags` says
 * follow. `O_NONBLOCK` is set so that opening a FIFO never blocks (the
 * caller refuses what is not a regular file or a directory).
 *
 * @example
 * ```ts
 * import { O, openFlags, Rights } from "./fs.ts";
 * const { flags, writes } = openFlags(0, 0, Rights.FD_READ, 0);
 * console.assert(!writes && (flags & O.NOFOLLOW) !== 0);
 * ```
 */
export function openFlags(
  lookup: number,
  oflags: number,
  rights: bigint,
  fdflags: number,
): OpenIntent {
  const write = (rights & Rights.FD_WRITE) !== 0n ||
    (fdflags & FdFlags.APPEND) !== 0;
  const read = (rights & (Rights.FD_READ | Rights.FD_READDIR)) !== 0n;
  let flags = O.CLOEXEC | O.NOCTTY | O.NONBLOCK |
    (write ? (read ? O.RDWR : O.WRONLY) : O.RDONLY);
  if (oflags & OFlags.CREAT) flags |= O.CREAT;
  if (oflags & OFlags.DIRECTORY) flags |= O.DIRECTORY;
  if (oflags & OFlags.EXCL) flags |= O.EXCL;
  if (oflags & OFlags.TRUNC) flags |= O.TRUNC;
  if (fdflags & FdFlags.APPEND) flags |= O.APPEND;
  if (fdflags & FdFlags.DSYNC) flags |= O.DSYNC;
  if (fdflags & (FdFlags.SYNC | FdFlags.RSYNC)) flags |= O.SYNC;
  if (!(lookup & LOOKUP_SYMLINK_FOLLOW)) flags |= O.NOFOLLOW;
  return {
    flags,
    writes: write || (oflags & (OFlags.CREAT | OFlags.TRUNC)) !== 0,
  };
}

/** The WASI filetype of a `st_mode`. FIFOs are UNKNOWN (WASI has none). */
export function fileTypeOfMode(mode: number): number {
  switch (mode & 0o170000) {
    case 0o100000:
      return FileType.REGULAR_FILE;
    case 0o040000:
      return FileType.DIRECTORY;
    case 0o020000:
      return FileType.CHARACTER_DEVICE;
    case 0o060000:
      return FileType.BLOCK_DEVICE;
    case 0o120000:
      return FileType.SYMBOLIC_LINK;
    case 0o140000:
      return FileType.SOCKET_STREAM;
    default:
      return FileType.UNKNOWN;
  }
}

/** The WASI filetype of a `getdents64` `d_type` (DT_*). */
export function fileTypeOfDirent(dtype: number): number {
  switch (dtype) {
    case 8:
      return FileType.REGULAR_FILE;
    case 4:
      return FileType.DIRECTORY;
    case 2:
      return FileType.CHARACTER_DEVICE;
    case 6:
      return FileType.BLOCK_DEVICE;
    case 10:
      return FileType.SYMBOLIC_LINK;
    case 12:
      return FileType.SOCKET_STREAM;
    default:
      return FileType.UNKNOWN;
  }
}

/** A guest path cut into the directory part and the final name. */
export interface FinalName {
  /** The path up to the last "/" (null: the name is directly in the dir). */
  dir: Uint8Array | null;
  /** The final component: never empty, ".", ".." nor containing "/". */
  name: Uint8Array;
  /** Whether the guest wrote one or more "/" after the name. */
  trailingSlash: boolean;
}

const SLASH = 0x2f;
const DOT = 0x2e;

/**
 * Splits a relative guest path for an operation on its final name
 * (mkdir, unlink, rename, ...). Fails with NOENT for "", NOTCAPABLE for an
 * absolute path, and `dots` for a final "." or ".." (each operation picks
 * the errno POSIX would give).
 *
 * @example
 * ```ts
 * import { splitFinal } from "./fs.ts";
 * const s = splitFinal(new TextEncoder().encode("a/b/c/"), 28);
 * console.assert(typeof s !== "number" && s.trailingSlash);
 * ```
 */
export function splitFinal(path: Uint8Array, dots: Errno): FinalName | Errno {
  if (path.length === 0) return Errno.NOENT;
  if (path[0] === SLASH) return Errno.NOTCAPABLE;
  let end = path.length;
  while (end > 0 && path[end - 1] === SLASH) end--;
  const slash = path.lastIndexOf(SLASH, end - 1);
  const name = path.subarray(slash + 1, end);
  if (
    name[0] === DOT &&
    (name.length === 1 || (name.length === 2 && name[1] === DOT))
  ) {
    return dots;
  }
  return {
    dir: slash < 0 ? null : path.subarray(0, slash),
    name,
    trailingSlash: end < path.length,
  };
}

/** A NUL-terminated copy of `bytes`, for a C call. */
export function cString(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const c = new Uint8Array(bytes.length + 1);
  c.set(bytes);
  return c;
}

/** A WASI errno as a throwable, caught at the import boundary. */
export class WasiErrno {
  /**
   * A failure with `errno`.
   * @param errno the WASI errno the import returns
   */
  constructor(readonly errno: Errno) {}
}

/** Throws the WASI errno for the calling thread's Linux errno. */
export function failFromErrno(): never {
  throw new WasiErrno(fromLinuxErrno(errno()));
}

const how = new BigUint64Array(3);
const howBytes = new Uint8Array(how.buffer);

/**
 * `openat2(dirfd, path, {flags, mode, resolve})`; -1 with errno set on
 * failure. Retries EAGAIN (the kernel's answer to a concurrent rename
 * during a `..` lookup) a few times.
 */
export function openat2(
  dirfd: number,
  path: Uint8Array<ArrayBuffer>,
  flags: number,
  mode: number,
  resolve: number,
): number {
  how[0] = BigInt(flags);
  how[1] = BigInt(mode);
  how[2] = BigInt(resolve);
  const c = libc();
  for (let i = 0;; i++) {
    const fd = Number(c.openat2(SYS_OPENAT2, dirfd, path, howBytes, 24));
    if (fd >= 0 || i >= 16 || errno() !== 11 /* EAGAIN */) return fd;
  }
}

/**
 * Opens `path` (NUL-terminated) beneath `dirfd`: the kernel resolves every
 * component, symlinks included, and refuses to leave `dirfd` (EXDEV,
 * reported as NOTCAPABLE) or to follow a magic link (ELOOP). Returns the
 * new fd or throws a {@link WasiErrno}.
 */
export function openBeneath(
  dirfd: number,
  path: Uint8Array<ArrayBuffer>,
  flags: number,
  mode = 0,
): number {
  const fd = openat2(
    dirfd,
    path,
    flags,
    mode,
    Resolve.BENEATH | Resolve.NO_MAGICLINKS,
  );
  if (fd >= 0) return fd;
  const e = errno();
  throw new WasiErrno(
    e === 18 /* EXDEV */ ? Errno.NOTCAPABLE : fromLinuxErrno(e),
  );
}

/** `struct stat` (x86-64) fields the layer reads. */
export interface Stat {
  /** st_dev */
  dev: bigint;
  /** st_ino */
  ino: bigint;
  /** st_nlink */
  nlink: bigint;
  /** st_mode (type and permission bits) */
  mode: number;
  /** st_size */
  size: bigint;
  /** st_atim in ns */
  atim: bigint;
  /** st_mtim in ns */
  mtim: bigint;
  /** st_ctim in ns */
  ctim: bigint;
}

const statBuf = new Uint8Array(144);
const statView = new DataView(statBuf.buffer);

function ns(at: number): bigint {
  return statView.getBigInt64(at, true) * 1_000_000_000n +
    statView.getBigInt64(at + 8, true);
}

/** fstat(fd), or throws a {@link WasiErrno}. */
export function fstat(fd: number): Stat {
  if (libc().fstat(fd, statBuf) !== 0) failFromErrno();
  return {
    dev: statView.getBigUint64(0, true),
    ino: statView.getBigUint64(8, true),
    nlink: statView.getBigUint64(16, true),
    mode: statView.getUint32(24, true),
    size: statView.getBigInt64(48, true),
    atim: ns(72),
    mtim: ns(88),
    ctim: ns(104),
  };
}

/** The mode bits of fd (st_mode), or throws a {@link WasiErrno}. */
export function fstatMode(fd: number): number {
  if (libc().fstat(fd, statBuf) !== 0) failFromErrno();
  return statView.getUint32(24, true);
}

const UTIME_NOW = (1n << 30n) - 1n;
const UTIME_OMIT = (1n << 30n) - 2n;

/**
 * The `struct timespec[2]` for utimensat/futimens from WASI's
 * `fd_filestat_set_times` arguments, or INVAL for contradictory flags.
 *
 * @example
 * ```ts
 * import { FstFlags, timesFor } from "./fs.ts";
 * const t = timesFor(0n, 1_500_000_000n, FstFlags.MTIM);
 * console.assert(typeof t !== "number" && t[2] === 1n && t[3] === 500_000_000n);
 * ```
 */
export function timesFor(
  atim: bigint,
  mtim: bigint,
  fst: number,
): BigInt64Array<ArrayBuffer> | Errno {
  if (
    (fst & FstFlags.ATIM && fst & FstFlags.ATIM_NOW) ||
    (fst & FstFlags.MTIM && fst & FstFlags.MTIM_NOW) || fst & ~0xf
  ) {
    return Errno.INVAL;
  }
  const t = new BigInt64Array(4);
  const one = (i: number, at: bigint, set: number, now: number) => {
    if (fst & now) t[i + 1] = UTIME_NOW;
    else if (fst & set) {
      const u = BigInt.asUintN(64, at);
      t[i] = u / 1_000_000_000n;
      t[i + 1] = u % 1_000_000_000n;
    } else t[i + 1] = UTIME_OMIT;
  };
  one(0, atim, FstFlags.ATIM, FstFlags.ATIM_NOW);
  one(2, mtim, FstFlags.MTIM, FstFlags.MTIM_NOW);
  return t;
}
