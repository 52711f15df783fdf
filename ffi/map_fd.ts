/**
 * A map held by fd alone (no libbpf object): a duplicate of a loaded map's
 * fd, so another thread of this process (the metrics server) can read the
 * map while the guest's thread goes on, and keeps reading the same map even
 * if the guest closes its own fd and the number is reused.
 *
 * @module
 */
import { BpfError } from "./errors.ts";
import { addr, bpf, c, errno } from "./native.ts";

const F_DUPFD_CLOEXEC = 1030;

/** A map by fd; {@link close} releases the fd. */
export class MapFd {
  #fd: number;
  /** `enum bpf_map_type`. */
  readonly type: number;
  /** Key size in bytes. */
  readonly keySize: number;
  /** Value size in bytes (per CPU for per-CPU maps). */
  readonly valueSize: number;
  /** The most entries the map holds. */
  readonly maxEntries: number;
  /** The kernel's id of the map. */
  readonly id: number;

  /** Takes ownership of `fd` (a map fd) and reads its kernel record. */
  constructor(fd: number) {
    const info = new Uint8Array(80); // struct bpf_map_info, up to btf ids
    const len = new Uint32Array([info.length]);
    const err = bpf().bpf_obj_get_info_by_fd(
      fd,
      info,
      new Uint8Array(len.buffer),
    );
    if (err) {
      c().close(fd);
      throw new BpfError(`fd ${fd} is not a readable BPF map`, err);
    }
    const v = new DataView(info.buffer);
    this.#fd = fd;
    this.type = v.getUint32(0, true);
    this.id = v.getUint32(4, true);
    this.keySize = v.getUint32(8, true);
    this.valueSize = v.getUint32(12, true);
    this.maxEntries = v.getUint32(16, true);
  }

  /** A new fd for the map behind `fd` (close-on-exec), owned by the caller. */
  static dup(fd: number): number {
    const n = c().fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (n < 0) throw new BpfError(`cannot duplicate fd ${fd}`, errno());
    return n;
  }

  /** The fd (-1 once closed). */
  get fd(): number {
    return this.#fd;
  }

  /** Reads `key`'s value into `value` (its whole buffer); false if absent. */
  lookup(key: Uint8Array, value: Uint8Array): boolean {
    const err = bpf().bpf_map_lookup_elem_flags(
      this.#fd,
      addr(Deno.UnsafePointer.of(key as Uint8Array<ArrayBuffer>)),
      addr(Deno.UnsafePointer.of(value as Uint8Array<ArrayBuffer>)),
      0,
    ) || 0;
    if (err === -2) return false;
    if (err) throw new BpfError(`lookup in map #${this.id} failed`, err);
    return true;
  }

  /** Writes the key after `prev` (null: the first) into `next`; false at the end. */
  nextKey(prev: Uint8Array | null, next: Uint8Array): boolean {
    const err = bpf().bpf_map_get_next_key(
      this.#fd,
      prev ? addr(Deno.UnsafePointer.of(prev as Uint8Array<ArrayBuffer>)) : 0,
      addr(Deno.UnsafePointer.of(next as Uint8Array<ArrayBuffer>)),
    ) || 0;
    if (err === -2) return false;
    if (err) throw new BpfError(`iterating map #${this.id} failed`, err);
    return true;
  }

  /** Closes the fd. Idempotent. */
  close(): void {
    if (this.#fd < 0) return;
    c().close(this.#fd);
    this.#fd = -1;
  }
}
