/**
 * Pins a guest's maps in the granted pin directory without a path the
 * guest (or anyone racing it) can redirect between the policy's check and
 * the pin.
 *
 * libbpf pins by path string: it checks, then `bpf(BPF_OBJ_PIN, path)`
 * resolves the path again, so a directory swapped for a symlink in
 * between lands the pin wherever the symlink points (and libbpf's reuse
 * of an existing pin, `BPF_OBJ_GET`, opens whatever the symlink reaches).
 * The host instead clears libbpf's pin paths before load and pins here:
 * the granted directory is opened with `openat2(RESOLVE_NO_SYMLINKS |
 * RESOLVE_NO_MAGICLINKS)` from its path as resolved when the policy was
 * (a symlink in any component now is refused), the open directory must be
 * the granted one by device and inode, and each map is pinned by its name
 * (one component, no `/`) relative to that fd (`BPF_F_PATH_FD`, Linux
 * 6.5). The fd is kept with the object: its pins are removed beneath the
 * same directory, wherever it has been moved meanwhile, and only while
 * they are still this object's maps.
 *
 * @module
 */
import { BpfError, type BpfMap, type FileId } from "../ffi/mod.ts";
import { PolicyDenied } from "./policy.ts";
import { cString, fstat, O, openat2, Resolve } from "./wasi/fs.ts";
import { errno, libc, SYS_BPF } from "./wasi/libc.ts";

const BPF_OBJ_PIN = 6;
const BPF_OBJ_GET = 7;
const BPF_OBJ_GET_INFO_BY_FD = 15;
const BPF_F_PATH_FD = 1 << 14;
const AT_FDCWD = -100;
const EEXIST = 17, EINVAL = 22, ELOOP = 40;
const enc = new TextEncoder();

/** The granted pin directory as the policy resolved it. */
export interface PinRoot {
  /** Its path with symlinks, `.` and `..` resolved (when the policy was). */
  path: string;
  /** Its identity then. */
  id: FileId;
}

/** A map to pin, and the name it is pinned under. */
export interface PinRequest {
  /** The loaded map. */
  map: BpfMap;
  /** One path component (the map's name). */
  name: string;
}

/** `bpf(cmd, attr)`: the result, or -errno. */
function sysBpf(cmd: number, attr: Uint8Array<ArrayBuffer>): number {
  const r = Number(libc().bpf(SYS_BPF, cmd, attr, attr.length));
  return r < 0 ? -errno() : r;
}

/** `BPF_OBJ_PIN`/`BPF_OBJ_GET` of `name` beneath `dirfd`. */
function objAt(
  cmd: number,
  dirfd: number,
  name: Uint8Array<ArrayBuffer>,
  fd = 0,
): number {
  const attr = new Uint8Array(24); // pathname, bpf_fd, file_flags, path_fd
  const v = new DataView(attr.buffer);
  v.setBigUint64(
    0,
    BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(name))),
    true,
  );
  v.setUint32(8, fd, true);
  v.setUint32(12, BPF_F_PATH_FD, true);
  v.setInt32(16, dirfd, true);
  const r = sysBpf(cmd, attr);
  void name; // kept alive through the call
  return r;
}

/** The kernel's id of the BPF object behind `fd` (map, program, link), or -errno. */
function objectId(fd: number): number {
  const info = new Uint8Array(8); // type, id: the head of every *_info
  const attr = new Uint8Array(16); // bpf_fd, info_len, info
  const v = new DataView(attr.buffer);
  v.setUint32(0, fd, true);
  v.setUint32(4, info.length, true);
  v.setBigUint64(
    8,
    BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(info))),
    true,
  );
  const r = sysBpf(BPF_OBJ_GET_INFO_BY_FD, attr);
  return r < 0 ? r : new DataView(info.buffer).getUint32(4, true);
}

/**
 * Opens the granted directory (`O_PATH`) with no symlink followed in any
 * component and checks it is the one granted; throws PolicyDenied.
 */
function openRoot(what: string, root: PinRoot): number {
  const fd = openat2(
    AT_FDCWD,
    cString(enc.encode(root.path)),
    O.PATH | O.DIRECTORY | O.CLOEXEC,
    0,
    Resolve.NO_SYMLINKS | Resolve.NO_MAGICLINKS,
  );
  if (fd < 0) {
    const e = errno();
    throw new PolicyDenied(
      `denied: ${what} is to be pinned under '${root.path}', which cannot be opened ${
        e === ELOOP ? "without following a symlink" : `(errno ${e})`
      } now; the granted directory must stay a real directory (--allow-pin)`,
    );
  }
  let same = false;
  try {
    const st = fstat(fd);
    same = Number(st.dev) === root.id.dev && Number(st.ino) === root.id.ino;
  } catch { /* not the same */ }
  if (!same) {
    libc().close(fd);
    throw new PolicyDenied(
      `denied: ${what} is to be pinned under '${root.path}', which is no longer the directory granted with --allow-pin`,
    );
  }
  return fd;
}

/** The pins of one object, removed by {@link release}. */
export class ObjectPins {
  #dirfd: number;
  readonly #pins: { name: Uint8Array<ArrayBuffer>; id: number }[] = [];

  private constructor(dirfd: number) {
    this.#dirfd = dirfd;
  }

  /**
   * Pins `maps` of object `objectName` beneath `root` (see the module's
   * doc); undefined when there is nothing to pin. On failure removes the
   * pins it made and throws PolicyDenied (the directory is not the granted
   * one, a pin exists already) or BpfError.
   */
  static pin(
    objectName: string,
    root: PinRoot | undefined,
    maps: PinRequest[],
  ): ObjectPins | undefined {
    if (!maps.length) return undefined;
    const what = `map '${maps[0].name}' of object '${objectName}'`;
    if (!root) {
      throw new PolicyDenied(
        `denied: ${what} asks to be pinned; allow a directory with --allow-pin=DIR`,
      );
    }
    const pins = new ObjectPins(openRoot(what, root));
    try {
      for (const { map, name } of maps) {
        if (!name || name.includes("/") || name === "." || name === "..") {
          throw new PolicyDenied(
            `denied: map '${name}' of object '${objectName}' cannot be pinned under that name; rename the map`,
          );
        }
        const id = objectId(map.fd);
        if (id < 0) {
          throw new BpfError(`cannot read map '${name}' from the kernel`, -id);
        }
        const cname = cString(enc.encode(name));
        const r = objAt(BPF_OBJ_PIN, pins.#dirfd, cname, map.fd);
        if (r === -EEXIST) {
          throw new PolicyDenied(
            `denied: map '${name}' of object '${objectName}' asks to be pinned at '${root.path}/${name}', where a pin exists already (it would be another program's map); remove the pin or rename the map`,
          );
        }
        if (r < 0) {
          throw new BpfError(
            `cannot pin map '${name}' of object '${objectName}' under '${root.path}'${
              r === -EINVAL
                ? " (pinning beneath a directory fd needs Linux 6.5 or later)"
                : ""
            }`,
            -r,
          );
        }
        pins.#pins.push({ name: cname, id });
      }
    } catch (e) {
      pins.release();
      throw e;
    }
    return pins;
  }

  /** How many maps are pinned. */
  get size(): number {
    return this.#pins.length;
  }

  /**
   * Removes each pin that still names this object's map, beneath the
   * directory it was made in, and closes that directory; idempotent.
   */
  release(): void {
    if (this.#dirfd < 0) return;
    const c = libc();
    for (const { name, id } of this.#pins) {
      const fd = objAt(BPF_OBJ_GET, this.#dirfd, name);
      if (fd < 0) continue; // gone (or not a BPF object): nothing of ours
      const same = objectId(fd) === id;
      c.close(fd);
      if (same) c.unlinkat(this.#dirfd, name, 0);
    }
    this.#pins.length = 0;
    c.close(this.#dirfd);
    this.#dirfd = -1;
  }
}
