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
