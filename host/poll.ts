/**
 * Buffer polling: `wasm_bpf_buffer_poll` (records handed to a guest
 * callback, by table index or by the TinyGo export) and
 * `wasm_bpf_ext.wasm_bpf_buffer_poll_batch` (records copied into one guest
 * buffer).
 *
 * Re-entrancy: a callback may call any import. Polling the same buffer
 * again from inside its callback returns -EBUSY (the outer poll owns the
 * reader's position). Closing the object being polled from inside a
 * callback takes effect for the guest at once (its handle and fds are
 * gone), but the object is released when the outer poll returns, which
 * then delivers no further record.
 *
 * @module
 */
import { Errno, openBufferReader, RingBufReader, Waiter } from "../ffi/mod.ts";
import { AbiError } from "./errors.ts";
import { GuestFault } from "./memory.ts";
import type { BufferSlot, LoadedObject } from "./objects.ts";
import { GuestInterrupted, type Session } from "./session.ts";
import { STAT_EVENTS, STAT_LOST, STAT_POLLS } from "./metrics/stats.ts";

/** A guest record callback: `(ctx, data, size) -> stop`. */
export type SampleFn = (ctx: number, data: number, size: number) => number;

/** The function at `index` of the guest's table. */
export function tableFn(s: Session, index: number): SampleFn {
  const table = s.table;
  if (!table) {
    throw new AbiError(
      `${s.name} exports no __indirect_function_table (link it with -Wl,--export-table)`,
      Errno.EINVAL,
    );
  }
  let fn: unknown;
  try {
    fn = index >>> 0 < table.length ? table.get(index >>> 0) : null;
  } catch {
    fn = null;
  }
  if (typeof fn !== "function") {
    throw new AbiError(
      `wasm_bpf_buffer_poll: callback index ${index} is not a function in the guest's table`,
      Errno.EINVAL,
    );
  }
  return fn as SampleFn;
}

/** The guest's TinyGo callback export. */
export function exportFn(s: Session): SampleFn {
  const name = s.options.callbackExport ?? "go-callback";
  const fn = s.exports?.[name];
  if (typeof fn !== "function") {
    throw new AbiError(
      `${s.name} exports no '${name}' function for callback-wrapper polling`,
      Errno.EINVAL,
    );
  }
  return fn as SampleFn;
}

/** The reader of map `fd` of `e`, opened on first use; -EBUSY if in use. */
function slot(s: Session, e: LoadedObject, fd: number, what: string) {
  let r = e.readers.get(fd);
  if (!r) {
    const v = s.objects.map(fd);
    if (!v || v.entry !== e) {
      throw new AbiError(
        v
          ? `${what}: fd ${fd} is a map of another object (handle ${v.entry.handle})`
          : `${what}: fd ${fd} is not a map of this guest`,
        Errno.EBADF,
      );
    }
    const reader = openBufferReader(e.obj, v.map);
    let waiter: Waiter;
    try {
      waiter = new Waiter(reader.pollFd, s.options.wakeFd ?? -1);
    } catch (err) {
      reader.close();
      throw err;
    }
    r = { reader, waiter, busy: false };
    e.readers.set(fd, r);
  }
  if (r.busy) {
    throw new AbiError(
      `${what}: buffer '${r.reader.map.name}' is being polled (called from its own callback)`,
      Errno.EBUSY,
    );
  }
  return r;
}

/**
 * Waits up to `timeout` ms for records. -EINTR on the first interrupt (the
 * guest may clean up); a later call after an interrupt unwinds the guest.
 */
function wait(s: Session, r: BufferSlot, timeout: number): number {
  const deadline = timeout < 0 ? Infinity : performance.now() + timeout;
  for (;;) {
    if (s.checkInterrupt()) {
      s.interruptSeen = true;
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
export function poll(
  s: Session,
  handle: bigint,
  fd: number,
  fn: SampleFn,
  ctx: number,
  data: number,
  max: number,
  timeout: number,
): number {
  const e = s.objects.entry(handle, "wasm_bpf_buffer_poll");
  const mem = s.mem;
  if (max <= 0) {
    throw new GuestFault(
      `wasm_bpf_buffer_poll: data buffer size ${max} is not positive`,
    );
  }
  mem.check(data, max, "wasm_bpf_buffer_poll: data buffer");
  const r = slot(s, e, fd, "wasm_bpf_buffer_poll");
  s.stats[STAT_POLLS]++;
  const w = wait(s, r, timeout);
  if (w) return w;
  let delivered = 0;
  let closed = false;
  const lost = r.reader.lost; // perf buffers count lost records while consuming
  r.busy = true;
  e.polling++;
  const dst = data >>> 0;
  try {
    let tick = 0;
    const deliver = (src: Uint8Array, from: number, size: number) => {
      // a stop is looked for before the first record and every 16th: a
      // stopped guest gets at most 15 more records, each of them whole
      const sig = (tick++ & 15) === 0 && s.interrupted();
      if (sig) {
        // stop delivering; the rest stays in the buffer
        s.interruptSeen = true;
        throw new GuestInterrupted(sig);
      }
      const n = Math.min(size, max);
      // memory may have grown in the previous callback: a fresh view (it
      // never shrinks, so the bounds checked above still hold)
      const to = mem.bytes;
      if (n <= 64) {
        // small records: a loop beats making a view to copy from
        for (let i = 0; i < n; i++) to[dst + i] = src[from + i];
      } else {
        to.set(src.subarray(from, from + n), dst);
      }
      let ret: number;
      try {
        ret = fn(ctx, data, n) | 0;
      } catch (err) {
        s.fromGuest = err;
        throw err;
      }
      delivered++;
      if (ret === 0 && e.closing) {
        closed = true; // the guest closed this object: stop here
        return 1;
      }
      return ret;
    };
    // a ring buffer hands over each record's place in its mapping (no
    // view per record); other readers a view
    const res = r.reader instanceof RingBufReader
      ? r.reader.consumeAt(deliver)
      : r.reader.consume((rec, size) => deliver(rec, 0, size));
    return closed ? delivered : res;
  } finally {
    s.stats[STAT_EVENTS] += delivered;
    s.stats[STAT_LOST] += r.reader.lost - lost;
    r.busy = false;
    s.objects.pollEnded(e);
    if (e.closing && e.polling === 0) s.fdsChanged(); // released just now
  }
}

/**
 * `wasm_bpf_ext.wasm_bpf_buffer_poll_batch`: fills `[buf, buf+len)` with
 * whole records, each `{u32 size; u32 copied}` then the data padded to 8
 * bytes. Returns the bytes written, 0 on timeout, or -errno.
 */
export function pollBatch(
  s: Session,
  handle: bigint,
  fd: number,
  buf: number,
  len: number,
  timeout: number,
): number {
  const e = s.objects.entry(handle, "wasm_bpf_buffer_poll_batch");
  if (len < 16) {
    throw new AbiError(
      `wasm_bpf_buffer_poll_batch: buffer of ${len} bytes is smaller than 16`,
      Errno.EINVAL,
    );
  }
  const out = s.mem.view(buf, len, "wasm_bpf_buffer_poll_batch: buffer");
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const r = slot(s, e, fd, "wasm_bpf_buffer_poll_batch");
  s.stats[STAT_POLLS]++;
  const w = wait(s, r, timeout);
  if (w) return w;
  if (r.reader instanceof RingBufReader) {
    // the batch layout is the ring's own: one copy per run of records
    const n = r.reader.consumeInto(out);
    s.stats[STAT_EVENTS] += r.reader.batchRecords;
    return n;
  }
  let off = 0;
  let records = 0;
  const lost = r.reader.lost;
  r.reader.consume(
    (rec, size) => {
      const room = len - off - 8;
      const n = Math.min(size, room);
      dv.setUint32(off, size, true);
      dv.setUint32(off + 4, n, true);
      out.set(rec.subarray(0, n), off + 8);
      off += 8 + ((n + 7) & ~7);
      records++;
      return off + 8 > len ? 1 : 0;
    },
    (size) => off === 0 || off + 8 + ((size + 7) & ~7) <= len,
  );
  s.stats[STAT_EVENTS] += records;
  s.stats[STAT_LOST] += r.reader.lost - lost;
  return Math.min(off, len);
}
