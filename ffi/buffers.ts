/**
 * Readers of the two BPF event buffers, and the waiting that goes with
 * them.
 *
 * - {@link RingBufReader} maps a `BPF_MAP_TYPE_RINGBUF` into memory and
 *   walks its records in TypeScript: no native-to-JS callback per record.
 * - {@link PerfBufReader} uses libbpf's perf buffer; records are copied out
 *   of the per-CPU rings into a queue.
 *
 * Both deliver each record exactly once and in order. A handler that
 * returns non-zero stops the batch: that record counts as delivered, the
 * rest stay for the next call. An `accept` test can stop before a record
 * without consuming it (used to fill fixed-size buffers).
 *
 * @module
 */
import { BpfError } from "./errors.ts";
import type { BpfMap, BpfObject, Resource } from "./object.ts";
import { MapType } from "./constants.ts";
import { addr, bpf, c, errno, fastRing } from "./native.ts";

/** Handles one record; non-zero stops the batch and is returned. */
export type RecordHandler = (data: Uint8Array, size: number) => number;

/** An eventfd that wakes waiters from another thread (or a signal handler). */
export class WakeFd implements Resource {
  #fd: number;
  private constructor(fd: number) {
    this.#fd = fd;
  }
  /** A new non-blocking eventfd. */
  static create(): WakeFd {
    const fd = c().eventfd(0, 0x800 | 0x80000); // EFD_NONBLOCK | EFD_CLOEXEC
    if (fd < 0) throw new BpfError("cannot create an eventfd", errno());
    return new WakeFd(fd);
  }
  /** The fd, to pass to a waiter on another thread. */
  get fd(): number {
    return this.#fd;
  }
  /** Makes the fd readable: every wait that includes it returns at once. */
  wake(): void {
    if (this.#fd >= 0) {
      c().write(this.#fd, new Uint8Array(new BigUint64Array([1n]).buffer), 8);
    }
  }
  close(): void {
    if (this.#fd >= 0) c().close(this.#fd);
    this.#fd = -1;
  }
  /** Same as {@link close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** What {@link Waiter.wait} saw. */
export type WaitResult = "ready" | "timeout" | "woken";

/** An epoll set of one data fd and an optional wake fd. */
export class Waiter implements Resource {
  #epfd: number;
  readonly #wakeFd: number;
  readonly #events = new Uint8Array(12 * 2);
  readonly #eventsView = new DataView(this.#events.buffer);
  /** An epoll set of `fd` (data) and, when not -1, `wakeFd`. */
  constructor(fd: number, wakeFd = -1) {
    this.#wakeFd = wakeFd;
    this.#epfd = c().epoll_create1(0x80000); // EPOLL_CLOEXEC
    if (this.#epfd < 0) throw new BpfError("epoll_create1 failed", errno());
    try {
      this.#add(fd);
      if (wakeFd >= 0) this.#add(wakeFd);
    } catch (e) {
      this.close();
      throw e;
    }
  }
  #add(fd: number) {
    // struct epoll_event { u32 events; u64 data } packed: 12 bytes
    const ev = new Uint8Array(12);
    const dv = new DataView(ev.buffer);
    dv.setUint32(0, 0x001, true); // EPOLLIN
    dv.setInt32(4, fd, true);
    if (c().epoll_ctl(this.#epfd, 1, /* ADD */ fd, ev) < 0) {
      throw new BpfError(`epoll_ctl(ADD, fd ${fd}) failed`, errno());
    }
  }
  /** Waits up to `timeoutMs` (negative: forever) for data or a wake-up. */
  wait(timeoutMs: number): WaitResult {
    const n = c().epoll_wait(this.#epfd, this.#events, 2, timeoutMs);
    if (n < 0) {
      const e = errno();
      if (e === 4) return "timeout"; // EINTR: let the caller look again
      throw new BpfError("epoll_wait failed", e);
    }
    let ready = false;
    for (let i = 0; i < n; i++) {
      if (this.#eventsView.getInt32(i * 12 + 4, true) === this.#wakeFd) {
        return "woken";
      }
      ready = true;
    }
    return ready ? "ready" : "timeout";
  }
  close(): void {
    if (this.#epfd >= 0) c().close(this.#epfd);
    this.#epfd = -1;
  }
  /** Same as {@link close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** The shared interface of both readers. */
export interface BufferReader extends Resource {
  /** The map read. */
  readonly map: BpfMap;
  /** The fd to wait on for new records. */
  readonly pollFd: number;
  /** Whether a record is ready now. */
  available(): boolean;
  /**
   * Hands ready records to `handler`, in order. Returns the handler's
   * non-zero result if it stopped the batch, else the count handled.
   * `accept(size)` false stops before that record, leaving it queued.
   */
  consume(handler: RecordHandler, accept?: (size: number) => boolean): number;
  /** Records lost before they reached us (perf buffers report this). */
  readonly lost: number;
}

const BUSY = 0x80000000;
const DISCARD = 0x40000000;

/** A ring buffer walked in TypeScript over its memory mapping. */
export class RingBufReader implements BufferReader {
  /** The ring buffer map read. */
  readonly map: BpfMap;
  /** Always 0: a ring buffer loses nothing once a record is committed. */
  readonly lost = 0;
  #consumerPtr: Deno.PointerObject | null;
  #producerPtr: Deno.PointerObject | null;
  #consumer: BigUint64Array | null;
  #producer: BigUint64Array | null;
  #data: Uint8Array | null;
  #dataView: DataView | null;
  /** The data as native-endian words (record headers are 8-aligned). */
  #words: Uint32Array | null;
  /** Records the last {@link consumeInto} copied. */
  batchRecords = 0;
  /** native/fastpath.c's copy writes the record count here. */
  readonly #count = new Uint32Array(1);
  /** [consumer, producer, data, count] addresses as low, high halves. */
  readonly #halves: number[] = [];
  readonly #mask: number;
  readonly #page: number;
  readonly #size: number;

  /** Maps the ring buffer `map` (a `BPF_MAP_TYPE_RINGBUF` of a loaded object). */
  constructor(map: BpfMap) {
    if (map.type !== MapType.RINGBUF) {
      throw new BpfError(`map '${map.name}' is not a ring buffer`, 22);
    }
    this.map = map;
    this.#size = map.maxEntries;
    this.#mask = this.#size - 1;
    this.#page = c().getpagesize();
    const fd = map.fd;
    // consumer page: read-write; producer page + data twice: read-only
    const cons = c().mmap(null, this.#page, 3, 1, fd, 0n);
    if (!cons || addr(cons) === -1 || addr(cons) >= 2 ** 64 - 4096) {
      throw new BpfError(`cannot map ring buffer '${map.name}'`, errno());
    }
    const prodLen = this.#page + 2 * this.#size;
    const prod = c().mmap(null, prodLen, 1, 1, fd, BigInt(this.#page));
    if (!prod || addr(prod) >= 2 ** 64 - 4096) {
      const e = errno();
      c().munmap(cons, this.#page);
      throw new BpfError(`cannot map ring buffer '${map.name}'`, e);
    }
    this.#consumerPtr = cons;
    this.#producerPtr = prod;
    this.#consumer = new BigUint64Array(
      Deno.UnsafePointerView.getArrayBuffer(cons, 8),
    );
    this.#producer = new BigUint64Array(
      Deno.UnsafePointerView.getArrayBuffer(prod, 8),
    );
    const data = Deno.UnsafePointerView.getArrayBuffer(
      prod,
      2 * this.#size,
      this.#page,
    );
    this.#data = new Uint8Array(data);
    this.#dataView = new DataView(data);
    this.#words = new Uint32Array(data);
    const data0 = addr(prod) + this.#page;
    for (
      const a of [
        addr(cons),
        addr(prod),
        data0,
        addr(Deno.UnsafePointer.of(this.#count)),
      ]
    ) {
      this.#halves.push(a % 4294967296, Math.floor(a / 4294967296));
    }
  }

  get pollFd(): number {
    return this.map.fd;
  }

  available(): boolean {
    if (!this.#consumer) return false;
    const cons = this.#consumer[0];
    if (cons === this.#producer![0]) return false;
    // the next record may still be reserved (busy)
    const len = this.#dataView!.getUint32(
      Number(cons & BigInt(this.#mask)),
      true,
    );
    return (len & BUSY) === 0;
  }

  consume(handler: RecordHandler, accept?: (size: number) => boolean): number {
    return this.consumeAt(
      (ring, off, len) => handler(ring.subarray(off, off + len), len),
      accept,
    );
  }

  /**
   * As {@link consume}, but each record is handed over as its place in the
   * ring's mapping (`ring[off, off + len)`, contiguous: the data is mapped
   * twice) instead of a new view per record: the host's per-record path.
   * `ring` is valid only during the call.
   */
  consumeAt(
    handler: (ring: Uint8Array, off: number, len: number) => number,
    accept?: (size: number) => boolean,
  ): number {
    if (!this.#consumer) {
      throw new BpfError(`ring buffer '${this.map.name}' is closed`, 9);
    }
    const consumer = this.#consumer;
    const producer = this.#producer!;
    const words = this.#words!;
    const data = this.#data!;
    const mask = this.#mask;
    let cons = Number(consumer[0]);
    let count = 0;
    try {
      for (;;) {
        const prod = Number(producer[0]);
        if (cons >= prod) break;
        while (cons < prod) {
          const off = cons & mask;
          const hdr = words[off >>> 2];
          if (hdr & BUSY) return count;
          const len = hdr & ~(BUSY | DISCARD);
          const next = cons + ((len + 8 + 7) & ~7);
          if (hdr & DISCARD) {
            cons = next;
            continue;
          }
          if (accept && !accept(len)) return count;
          cons = next; // delivered once, even if the handler throws
          const r = handler(data, off + 8, len);
          count++;
          if (r !== 0) return r;
        }
      }
      return count;
    } finally {
      if (this.#consumer) consumer[0] = BigInt(cons);
    }
  }

  /**
   * Copies ready records into `out` in the batch layout of host/ABI.md
   * (`u32 size; u32 copied;` then the data padded to 8 bytes) and consumes
   * them; returns the bytes written. That layout is the ring buffer's own
   * record layout, so a run of records is one copy plus a header fix-up.
   * A first record larger than `out` is truncated; others that do not fit
   * stay for the next call.
   */
  consumeInto(out: Uint8Array): number {
    const fast = fastRing();
    // closed, short or huge: the TypeScript walk, which says what is wrong
    if (!fast || !this.#consumer || out.length < 16 || out.length >= 2 ** 31) {
      return this.consumeIntoTs(out);
    }
    // the same walk and copy in C (native/fastpath.c): the same from the
    // first call, where this TypeScript runs unoptimized for a while
    const at = addr(Deno.UnsafePointer.of(out));
    const h = this.#halves;
    const n = fast.wasm_bpf_fast_ring_consume(
      h[0],
      h[1],
      h[2],
      h[3],
      h[4],
      h[5],
      this.#mask,
      at % 4294967296,
      Math.floor(at / 4294967296),
      out.length,
      h[6],
      h[7],
    );
    if (n < 0) throw new BpfError("batch copy failed", -n);
    this.batchRecords = this.#count[0];
    return n;
  }

  /** {@link consumeInto} in TypeScript (used without native/fastpath.c). */
  consumeIntoTs(out: Uint8Array): number {
    if (!this.#consumer) {
      throw new BpfError(`ring buffer '${this.map.name}' is closed`, 9);
    }
    if (out.length < 16) {
      throw new BpfError("batch buffer smaller than 16 bytes", 22);
    }
    const consumer = this.#consumer;
    const words = this.#words!;
    const data = this.#data!;
    const mask = this.#mask;
    const start = Number(consumer[0]);
    const prod = Number(this.#producer![0]);
    const outView = new DataView(out.buffer, out.byteOffset, out.byteLength);
    // the headers' copied fields through 32-bit words when `out` is aligned
    // (typed-array stores are cheap in every tier of V8, DataView calls
    // are not until optimized), else through the DataView
    const out32 = (out.byteOffset & 3) === 0
      ? new Uint32Array(out.buffer, out.byteOffset, out.byteLength >>> 2)
      : undefined;
    let cons = start;
    let off = 0;
    let records = 0;
    try {
      // first pass: the run of committed records that fits (each header is
      // read before the copy of its data, as the ring's protocol wants)
      let runStart = cons;
      const flush = (end: number) => {
        const n = end - runStart;
        if (n > 0) {
          const from = runStart & mask;
          out.set(data.subarray(from, from + n), off);
          if (out32) {
            for (let p = off >>> 2, stop = (off + n) >>> 2; p < stop;) {
              const len = out32[p];
              out32[p + 1] = len; // copied = size
              p += ((len + 15) & ~7) >>> 2;
            }
          } else {
            for (let p = off; p < off + n;) {
              const len = outView.getUint32(p, true);
              outView.setUint32(p + 4, len, true);
              p += (len + 15) & ~7;
            }
          }
          off += n;
        }
      };
      while (cons < prod) {
        const hdr = words[(cons & mask) >>> 2];
        if (hdr & BUSY) break;
        const len = hdr & ~(BUSY | DISCARD);
        const total = (len + 15) & ~7;
        if (hdr & DISCARD) {
          flush(cons);
          cons += total;
          runStart = cons;
          continue;
        }
        if (off + (cons - runStart) + total > out.length) {
          if (off === 0 && cons === runStart) {
            // a first record larger than the whole buffer: truncated
            const n = out.length - 8;
            outView.setUint32(0, len, true);
            outView.setUint32(4, n, true);
            const from = (cons & mask) + 8;
            out.set(data.subarray(from, from + n), 8);
            off = out.length;
            cons += total;
            runStart = cons;
            records = 1;
          }
          break;
        }
        cons += total;
        records++;
      }
      flush(cons);
      return off;
    } finally {
      consumer[0] = BigInt(cons);
      this.batchRecords = records;
    }
  }

  /** Same as {@link close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  close(): void {
    if (!this.#consumerPtr) return;
    this.#consumer = this.#producer = null;
    this.#data = null;
    this.#dataView = null;
    this.#words = null;
    c().munmap(this.#consumerPtr, this.#page);
    c().munmap(this.#producerPtr!, this.#page + 2 * this.#size);
    this.#consumerPtr = this.#producerPtr = null;
  }
}

const SAMPLE_DEF = {
  parameters: ["pointer", "i32", "pointer", "u32"],
  result: "void",
} as const;
const LOST_DEF = {
  parameters: ["pointer", "i32", "u64"],
  result: "void",
} as const;

/** A perf event array read through libbpf's perf buffer. */
export class PerfBufReader implements BufferReader {
  /** The perf event array read. */
  readonly map: BpfMap;
  #pb: Deno.PointerObject | null;
  #queue: Uint8Array[] = [];
  #head = 0;
  #lost = 0;
  #sample: Deno.UnsafeCallback<typeof SAMPLE_DEF> | null;
  #lostCb: Deno.UnsafeCallback<typeof LOST_DEF> | null;
  readonly pollFd: number;

  /** A perf buffer of `pageCount` pages per CPU over the perf event array `map`. */
  constructor(map: BpfMap, pageCount = 64) {
    if (map.type !== MapType.PERF_EVENT_ARRAY) {
      throw new BpfError(`map '${map.name}' is not a perf event array`, 22);
    }
    this.map = map;
    this.#sample = new Deno.UnsafeCallback(
      SAMPLE_DEF,
      (_ctx, _cpu, data, size) => {
        this.#queue.push(
          data
            ? new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(data, size))
              .slice()
            : new Uint8Array(0),
        );
      },
    );
    this.#lostCb = new Deno.UnsafeCallback(LOST_DEF, (_ctx, _cpu, n) => {
      this.#lost += Number(n);
    });
    this.#sample.unref();
    this.#lostCb.unref();
    const pb = bpf().perf_buffer__new(
      map.fd,
      pageCount,
      this.#sample.pointer,
      this.#lostCb.pointer,
      null,
      null,
    );
    if (!pb) {
      const e = errno();
      this.#closeCallbacks();
      throw new BpfError(`cannot open perf buffer '${map.name}'`, e);
    }
    this.#pb = pb;
    this.pollFd = bpf().perf_buffer__epoll_fd(pb);
  }

  get lost(): number {
    return this.#lost;
  }

  #fill() {
    if (this.#head >= this.#queue.length && this.#pb) {
      this.#queue.length = 0;
      this.#head = 0;
      const err = bpf().perf_buffer__consume(this.#pb);
      if (err < 0 && err !== -4) {
        throw new BpfError(
          `reading perf buffer '${this.map.name}' failed`,
          -err,
        );
      }
    }
  }

  available(): boolean {
    this.#fill();
    return this.#head < this.#queue.length;
  }

  consume(handler: RecordHandler, accept?: (size: number) => boolean): number {
    if (!this.#pb) {
      throw new BpfError(`perf buffer '${this.map.name}' is closed`, 9);
    }
    let count = 0;
    for (;;) {
      this.#fill();
      if (this.#head >= this.#queue.length) return count;
      const rec = this.#queue[this.#head];
      if (accept && !accept(rec.length)) return count;
      this.#head++;
      const r = handler(rec, rec.length);
      count++;
      if (r !== 0) return r;
    }
  }

  #closeCallbacks() {
    this.#sample?.close();
    this.#lostCb?.close();
    this.#sample = this.#lostCb = null;
  }

  /** Same as {@link close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  close(): void {
    if (this.#pb) bpf().perf_buffer__free(this.#pb);
    this.#pb = null;
    this.#closeCallbacks();
    this.#queue = [];
  }
}

/**
 * A reader for `map` (ring buffer or perf event array), owned by `obj`:
 * closed when the object closes.
 */
export function openBufferReader(obj: BpfObject, map: BpfMap): BufferReader {
  let reader: BufferReader;
  if (map.type === MapType.RINGBUF) reader = new RingBufReader(map);
  else if (map.type === MapType.PERF_EVENT_ARRAY) {
    reader = new PerfBufReader(map);
  } else {
    throw new BpfError(
      `map '${map.name}' is neither a ring buffer nor a perf event array (type ${map.type})`,
      22,
    );
  }
  obj.own(reader);
  return reader;
}
