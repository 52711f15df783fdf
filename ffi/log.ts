/**
 * libbpf's own log, routed to a JavaScript logger through
 * `libbpf_set_print`. The `va_list` is formatted by libc's `vsnprintf`.
 *
 * libbpf has one process-wide print hook, and a Deno callback may only run
 * on the thread that made it, so the hook is set around each libbpf call
 * that may print ({@link withLibbpfLog}) and cleared afterwards.
 *
 * @module
 */
import { bpf, c } from "./native.ts";

/** Receives libbpf's lines: level 0 warn, 1 info, 2 debug. */
export type LibbpfLogger = (level: number, line: string) => void;

const buf = new Uint8Array(4096);
const decoder = new TextDecoder();
let sink: ((level: number, line: string) => void) | undefined;
let callback:
  | Deno.UnsafeCallback<{
    readonly parameters: readonly ["i32", "pointer", "pointer"];
    readonly result: "i32";
  }>
  | undefined;

function hook(): Deno.UnsafeCallback<{
  readonly parameters: readonly ["i32", "pointer", "pointer"];
  readonly result: "i32";
}> {
  if (!callback) {
    callback = new Deno.UnsafeCallback(
      { parameters: ["i32", "pointer", "pointer"], result: "i32" } as const,
      (level, fmt, ap) => {
        const n = c().vsnprintf(buf, buf.length, fmt, ap);
        if (n > 0 && sink) {
          const text = decoder.decode(
            buf.subarray(0, Math.min(n, buf.length - 1)),
          );
          for (const line of text.replace(/\n$/, "").split("\n")) {
            sink(level, line);
          }
        }
        return 0;
      },
    );
    // the hook must not keep the event loop alive
    callback.unref();
  }
  return callback;
}

/**
 * Runs `fn` with libbpf's log going to `logger`; the last `keep` lines of
 * warnings (the verifier's reason for a failed load among them) are
 * returned with the result.
 */
export function withLibbpfLog<T>(
  logger: LibbpfLogger | undefined,
  fn: () => T,
  keep = 64,
): { value: T; tail: string[] } {
  const tail: string[] = [];
  const prev = sink;
  const outermost = depth++ === 0;
  if (outermost) lock();
  sink = (level, line) => {
    if (level === 0) {
      tail.push(line);
      if (tail.length > keep) tail.shift();
    }
    logger?.(level, line);
  };
  bpf().libbpf_set_print(hook().pointer);
  try {
    return { value: fn(), tail };
  } finally {
    sink = prev;
    bpf().libbpf_set_print(prev ? hook().pointer : null);
    depth--;
    if (outermost) unlock();
  }
}

/*
 * The print hook is process-wide but each thread's callback may only run
 * on that thread: threads (the Workers that run guests) take turns. The
 * lock word is shared with every Worker through {@link libbpfLogLock}.
 */
let lockWord = new Int32Array(new SharedArrayBuffer(4));
let depth = 0;

function lock() {
  const start = Date.now();
  while (Atomics.compareExchange(lockWord, 0, 0, 1) !== 0) {
    Atomics.wait(lockWord, 0, 1, 5);
    // a Worker terminated while holding it must not block everyone forever
    if (Date.now() - start > 3000) {
      Atomics.store(lockWord, 0, 1);
      return;
    }
  }
}

function unlock() {
  Atomics.store(lockWord, 0, 0);
  Atomics.notify(lockWord, 0, 1);
}

/** This thread's libbpf log lock, to hand to a Worker. */
export function libbpfLogLock(): SharedArrayBuffer {
  return lockWord.buffer as SharedArrayBuffer;
}

/** In a Worker: share the lock of the thread that started it. */
export function useLibbpfLogLock(buffer: SharedArrayBuffer): void {
  lockWord = new Int32Array(buffer);
}
