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
  }
}
