/**
 * Checked access to a guest's linear memory. Every pointer and length is
 * checked against the memory's current size; views are re-taken whenever
 * the memory has grown (its buffer is replaced), so a guest callback that
 * grows memory never leaves the host with a stale view.
 *
 * @module
 */

/** A guest pointer or length was out of bounds (the import returns -EFAULT). */
export class GuestFault extends Error {
  /** A fault described by `message` (it names the import and the argument). */
  constructor(message: string) {
    super(message);
    this.name = "GuestFault";
  }
}

/** Bounds-checked views of a `WebAssembly.Memory`. */
export class GuestMemory {
  /** The guest's memory. */
  readonly memory: WebAssembly.Memory;
  #buffer: ArrayBuffer | undefined;
  #bytes = new Uint8Array(0);
  #base = 0;
  #baseLo = 0;
  #baseHi = 0;

  /** Views of `memory`, checked against its current size on every use. */
  constructor(memory: WebAssembly.Memory) {
    this.memory = memory;
  }

  #refresh(): void {
    // growing the memory detaches the old buffer (its views read length 0):
    // only then is memory.buffer read again
    if (this.#bytes.length !== 0) return;
    const buf = this.memory.buffer as ArrayBuffer;
    if (buf !== this.#buffer || this.#bytes.length !== buf.byteLength) {
      this.#buffer = buf;
      this.#bytes = new Uint8Array(buf);
      this.#base = 0;
    }
  }

  #takeBase(): void {
    this.#base = Number(
      Deno.UnsafePointer.value(Deno.UnsafePointer.of(this.#bytes)),
    );
    this.#baseLo = this.#base % 4294967296;
    this.#baseHi = Math.floor(this.#base / 4294967296);
  }

  /** Low 32 bits of the memory's native address (after a check or address call). */
  get baseLo(): number {
    if (this.#base === 0) this.#takeBase();
    return this.#baseLo;
  }
  /** High 32 bits of the memory's native address. */
  get baseHi(): number {
    if (this.#base === 0) this.#takeBase();
    return this.#baseHi;
  }

  /** The whole memory as bytes (valid until the guest runs again). */
  get bytes(): Uint8Array {
    this.#refresh();
    return this.#bytes;
  }

  /** The memory's size in bytes. */
  get size(): number {
    this.#refresh();
    return this.#bytes.length;
  }

  /**
   * The native address of guest offset `ptr`, after checking
   * `[ptr, ptr+len)` lies inside the memory. `ptr` 0 is a NULL pointer and
   * faults. `what` and `of` (e.g. "lookup in map", "kv") name it in the
   * error.
   */
  address(ptr: number, len: number, what: string, of = ""): number {
    this.check(ptr, len, what, of);
    if (this.#base === 0) this.#takeBase();
    return this.#base + (ptr >>> 0);
  }

  /** Checks `[ptr, ptr+len)`; throws GuestFault naming `what`. */
  check(ptr: number, len: number, what: string, of = ""): void {
    this.#refresh();
    const p = ptr >>> 0;
    if (p === 0 || len < 0 || p + len > this.#bytes.length) {
      // a shared memory grows without detaching: look once more
      this.#bytes = new Uint8Array(0);
      this.#refresh();
      if (p !== 0 && len >= 0 && p + len <= this.#bytes.length) return;
      // the message is built only here: the checks run on every map call
      throw new GuestFault(
        `${what}${of ? ` '${of}'` : ""}: [${p}, ${
          p + len
        }) is outside the guest's ${this.#bytes.length}-byte memory${
          p === 0 ? " (NULL)" : ""
        }`,
      );
    }
  }

  /** A view of `[ptr, ptr+len)` after checking it. */
  view(ptr: number, len: number, what: string): Uint8Array {
    this.check(ptr, len, what);
    const p = ptr >>> 0;
    return this.#bytes.subarray(p, p + len);
  }

  /** The NUL-terminated UTF-8 string at `ptr` (at most `max` bytes). */
  cstring(ptr: number, what: string, max = 4096): string {
    this.#refresh();
    const p = ptr >>> 0;
    if (p === 0 || p >= this.#bytes.length) {
      throw new GuestFault(
        `${what}: string pointer ${p} is outside the guest's memory`,
      );
    }
    const rel = this.#bytes.subarray(p, p + max + 1).indexOf(0);
    const end = rel < 0 ? -1 : p + rel;
    if (end < 0) {
      throw new GuestFault(
        `${what}: string at ${p} is not NUL-terminated within ${
          Math.min(max, this.#bytes.length - p)
        } bytes`,
      );
    }
    return new TextDecoder().decode(this.#bytes.subarray(p, end));
  }
}
