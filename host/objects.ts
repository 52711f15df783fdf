/**
 * A guest's handle and fd tables: the BPF objects it loaded (by handle),
 * the map fds and program fds of those objects, and the kernel memory its
 * maps hold. Only what is in these tables can be named by the guest.
 *
 * An object closed while one of its buffers is being polled (from inside a
 * callback) leaves the tables at once but is released only when that poll
 * returns: the reader must not lose its mapping mid-walk.
 *
 * @module
 */
import { Errno } from "../ffi/mod.ts";
import type { BpfMap, BpfObject, BufferReader, Waiter } from "../ffi/mod.ts";
import { AbiError } from "./errors.ts";
import type { ObjectPins } from "./pins.ts";
import type { Session } from "./session.ts";

/** An open buffer reader of an object, and its wait set. */
export interface BufferSlot {
  /** The ring or perf buffer reader. */
  readonly reader: BufferReader;
  /** What a poll of it waits on. */
  readonly waiter: Waiter;
  /** Set while a poll of this buffer is delivering records. */
  busy: boolean;
}

/**
 * What a map's values carry that the kernel resolves as an fd (`dev`: an
 * ifindex the policy must grant, then a program fd at 4, as `prog@4`).
 */
export type CarriedFd = "map" | "prog" | "prog@4" | "dev" | "refused";

/** A map fd the guest may name, and what it belongs to. */
export interface MapSlot {
  /** The object the map belongs to. */
  readonly entry: LoadedObject;
  /** The map. */
  readonly map: BpfMap;
  /** Set for maps whose updates carry fds (see host/maps.ts). */
  readonly carries: CarriedFd | undefined;
}

/** One object the guest loaded. */
export interface LoadedObject {
  /** The handle the guest names it by. */
  readonly handle: bigint;
  /** The loaded libbpf object. */
  readonly obj: BpfObject;
  /** Its open buffer readers, by map fd. */
  readonly readers: Map<number, BufferSlot>;
  /** Estimated kernel memory of its maps, counted against the policy. */
  readonly heldBytes: number;
  /** Its maps' pins (host/pins.ts): removed when it is released. */
  readonly pins: ObjectPins | undefined;
  /** Polls of its buffers in progress (callbacks may be running). */
  polling: number;
  /** Closed by the guest during a poll: released when the poll returns. */
  closing: boolean;
}

/** The handle and fd tables of one guest. */
export class ObjectTable {
  readonly #objects = new Map<bigint, LoadedObject>();
  readonly #maps = new Map<number, MapSlot>();
  readonly #progs = new Map<number, LoadedObject>();
  /** Closed by the guest, awaiting the end of a poll. */
  readonly #closing = new Set<LoadedObject>();
  #next = 1n;
  #heldBytes = 0;
  /** Told of each map fd the guest may name from now on, or no longer. */
  onMap: ((fd: number, slot: MapSlot | undefined) => void) | undefined;

  /** Number of open objects (handles the guest can name). */
  get size(): number {
    return this.#objects.size;
  }
  /** Estimated kernel memory held by every object not yet released. */
  get heldBytes(): number {
    return this.#heldBytes;
  }
  /** A fresh handle: non-zero, never reused. */
  nextHandle(): bigint {
    return this.#next++;
  }

  /** Enters a loaded object and its map and program fds. */
  add(
    handle: bigint,
    obj: BpfObject,
    heldBytes: number,
    pins: ObjectPins | undefined,
    carries: (map: BpfMap) => CarriedFd | undefined,
  ): LoadedObject {
    const entry: LoadedObject = {
      handle,
      obj,
      readers: new Map(),
      heldBytes,
      pins,
      polling: 0,
      closing: false,
    };
    this.#objects.set(handle, entry);
    this.#heldBytes += heldBytes;
    for (const map of obj.maps) {
      const slot = { entry, map, carries: carries(map) };
      this.#maps.set(map.fd, slot);
      this.onMap?.(map.fd, slot);
    }
    for (const p of obj.programs) if (p.fd >= 0) this.#progs.set(p.fd, entry);
    return entry;
  }

  /** The open object `handle` names, or an AbiError (EINVAL). */
  entry(handle: bigint, what: string): LoadedObject {
    const e = typeof handle === "bigint"
      ? this.#objects.get(handle)
      : undefined;
    if (!e) {
      throw new AbiError(
        `${what}: ${handle} is not a handle of an open BPF object of this guest`,
        Errno.EINVAL,
      );
    }
    return e;
  }

  /** The map `fd` names if it is a map of an open object of this guest. */
  map(fd: number): MapSlot | undefined {
    return this.#maps.get(fd);
  }

  /** The map fds the guest may name. */
  mapSlots(): IterableIterator<[number, MapSlot]> {
    return this.#maps.entries();
  }

  /** Whether `fd` is a program of an open object of this guest. */
  ownsProgram(fd: number): boolean {
    return this.#progs.has(fd);
  }

  /** Every open object (not those closed and awaiting release). */
  values(): IterableIterator<LoadedObject> {
    return this.#objects.values();
  }

  /** Every kernel fd held (maps and programs), closing objects included. */
  fds(): number[] {
    const out: number[] = [];
    for (const { obj } of [...this.#objects.values(), ...this.#closing]) {
      if (!obj.loaded || obj.closed) continue;
      for (const m of obj.maps) out.push(m.fd);
      for (const p of obj.programs) if (p.fd >= 0) out.push(p.fd);
    }
    return out;
  }

  /**
   * Removes `e` from the tables (the guest can no longer name it) and
   * releases it now, or when the poll delivering its records returns.
   */
  close(e: LoadedObject): void {
    this.#objects.delete(e.handle);
    for (const [fd, v] of this.#maps) {
      if (v.entry !== e) continue;
      this.onMap?.(fd, undefined); // before the fd is closed and reused
      this.#maps.delete(fd);
    }
    for (const [fd, o] of this.#progs) if (o === e) this.#progs.delete(fd);
    if (e.polling > 0) {
      e.closing = true;
      this.#closing.add(e);
    } else {
      this.#release(e);
    }
  }

  /** Called when a poll of `e` ends: a deferred close happens now. */
  pollEnded(e: LoadedObject): void {
    if (--e.polling === 0 && e.closing) this.#release(e);
  }

  #release(e: LoadedObject): void {
    this.#closing.delete(e);
    this.#heldBytes -= e.heldBytes;
    try {
      for (const { waiter } of e.readers.values()) waiter.close();
      e.readers.clear();
      e.pins?.release(); // nothing pinned outlives the guest
    } finally {
      e.obj.close(); // readers and links with it
    }
  }

  /**
   * Releases every object; one being polled (host.close() called from
   * inside a guest callback) is released when that poll returns.
   */
  closeAll(log: (line: string) => void): void {
    for (const e of [...this.#objects.values()]) {
      try {
        this.close(e);
      } catch (err) {
        log(`closing ${e.obj.name}: ${(err as Error).message}`);
      }
    }
  }
}

/** `wasm_close_bpf_object`: 0, or -EINVAL for a handle not open. */
export function closeObject(s: Session, handle: bigint): number {
  s.objects.close(s.objects.entry(handle, "wasm_close_bpf_object"));
  s.fdsChanged();
  return 0;
}

/** `wasm_bpf_map_fd_by_name`: the fd of a map of the object. */
export function mapFdByName(
  s: Session,
  handle: bigint,
  namePtr: number,
): number {
  const e = s.objects.entry(handle, "wasm_bpf_map_fd_by_name");
  const name = s.mem.cstring(namePtr, "wasm_bpf_map_fd_by_name: map name");
  return e.obj.map(name).fd;
}
