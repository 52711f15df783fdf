/**
 * File and interface identity through libc, for the host's policy: Deno's
 * file system API asks for `--allow-all` for /sys paths (cgroups,
 * interfaces, bpffs), which a least-privilege host does not have.
 *
 * @module
 */
import { c, cstr, errno } from "./native.ts";

/** A file's identity: device and inode. */
export interface FileId {
  /** `st_dev`. */
  dev: number;
  /** `st_ino`. */
  ino: number;
}

/** stat(2): device and inode (the first two fields of struct stat), or undefined. */
export function fileId(path: string): FileId | undefined {
  const st = new Uint8Array(256);
  if (c().stat(cstr(path), st) !== 0) return undefined;
  const v = new DataView(st.buffer);
  return {
    dev: Number(v.getBigUint64(0, true)),
    ino: Number(v.getBigUint64(8, true)),
  };
}

/** Whether two identities are the same file. */
export function sameFile(a: FileId, b: FileId): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

/** realpath(3): symlinks, `.` and `..` resolved; undefined if it fails. */
export function realPath(path: string): string | undefined {
  const buf = new Uint8Array(4096 + 1);
  if (!c().realpath(cstr(path), buf)) return undefined;
  return new TextDecoder().decode(buf.subarray(0, buf.indexOf(0)));
}

/** Whether anything (a dangling symlink aside) is at `path`. */
export function pathExists(path: string): boolean {
  return c().access(cstr(path), 0) === 0 || errno() !== 2 /* ENOENT */;
}

/** access(2) with R_OK (and X_OK when `executable`). */
export function accessible(path: string, executable: boolean): boolean {
  return c().access(cstr(path), executable ? 5 : 4) === 0;
}

/** if_nametoindex(3); undefined for no such interface. */
export function interfaceIndex(name: string): number | undefined {
  if (!name || name.length >= 16 || name.includes("/")) return undefined;
  return c().if_nametoindex(cstr(name)) || undefined;
}

/** Whether this process runs as root (effective uid 0). */
export function isRoot(): boolean {
  return c().geteuid() === 0;
}

/** The effective uid (geteuid(2); Deno.uid() would need --allow-sys). */
export function effectiveUid(): number {
  return c().geteuid();
}

/** A file in memory (memfd_create(2)) holding a copy of some bytes. */
export interface MemoryFile {
  /** Its descriptor. */
  readonly fd: number;
  /** A path that opens it: `/proc/self/fd/N`. */
  readonly path: string;
  /** Closes the descriptor (idempotent). */
  close(): void;
}

/**
 * `bytes` in a new memory file, for a library that takes a path: what it
 * reads is what was checked, whatever happens to files meanwhile.
 * Undefined when memfd_create fails or /proc is not mounted.
 */
export function memoryFile(
  name: string,
  bytes: Uint8Array,
): MemoryFile | undefined {
  const lib = c();
  const fd = lib.memfd_create(cstr(name), 1 /* MFD_CLOEXEC */);
  if (fd < 0) return undefined;
  let closed = false;
  const file: MemoryFile = {
    fd,
    path: `/proc/self/fd/${fd}`,
    close() {
      if (!closed) lib.close(fd);
      closed = true;
    },
  };
  let done = 0;
  while (done < bytes.length) {
    const n = Number(
      lib.write(
        fd,
        bytes.subarray(done) as Uint8Array<ArrayBuffer>,
        bytes.length - done,
      ),
    );
    if (n <= 0) {
      file.close();
      return undefined;
    }
    done += n;
  }
  if (lib.access(cstr(file.path), 4 /* R_OK */) !== 0) {
    file.close();
    return undefined;
  }
  return file;
}

/**
 * A whole file read through libc (for /sys files, which Deno's API opens
 * only with --allow-all), or undefined when it cannot be opened or read.
 * `sizeHint` sizes the first buffer (sysfs reports sizes it does not have).
 */
export function readSystemFile(
  path: string,
  sizeHint = 4096,
): Uint8Array | undefined {
  const lib = c();
  const fd = lib.open(cstr(path), 0x80000, /* O_RDONLY | O_CLOEXEC */ 0);
  if (fd < 0) return undefined;
  try {
    let buf = new Uint8Array(Math.max(sizeHint, 4096));
    let len = 0;
    for (;;) {
      if (len === buf.length) {
        const bigger = new Uint8Array(buf.length * 2);
        bigger.set(buf);
        buf = bigger;
      }
      const n = Number(lib.read(fd, buf.subarray(len), buf.length - len));
      if (n < 0) {
        if (errno() === 4 /* EINTR */) continue;
        return undefined;
      }
      if (n === 0) return buf.subarray(0, len);
      len += n;
    }
  } finally {
    lib.close(fd);
  }
}

/** A file mapped read-only into memory; `bytes` is valid until close(). */
export interface MappedFile {
  /** The file's bytes (do not use them after close()). */
  readonly bytes: Uint8Array;
  /** Unmaps the file (idempotent). */
  close(): void;
}

/**
 * `path` mapped read-only (mmap(2) of its stat size; /sys/kernel/btf files
 * can be mapped since Linux 6.16), or undefined when it cannot be.
 */
export function mapSystemFile(path: string): MappedFile | undefined {
  const lib = c();
  const st = new Uint8Array(256);
  if (lib.stat(cstr(path), st) !== 0) return undefined;
  const size = Number(new DataView(st.buffer).getBigInt64(48, true)); // st_size
  if (size <= 0) return undefined;
  const fd = lib.open(cstr(path), 0x80000, /* O_RDONLY | O_CLOEXEC */ 0);
  if (fd < 0) return undefined;
  let p: Deno.PointerValue;
  try {
    p = lib.mmap(null, size, 1, /* PROT_READ */ 2, /* MAP_PRIVATE */ fd, 0n);
  } finally {
    lib.close(fd);
  }
  // MAP_FAILED is (void *)-1
  if (!p || Deno.UnsafePointer.value(p) === 0xffffffffffffffffn) {
    return undefined;
  }
  let mapped = true;
  return {
    bytes: new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(p, size)),
    close() {
      if (mapped) lib.munmap(p, size);
      mapped = false;
    },
  };
}
