/**
 * The pipe protocol between {@link ./spawn.ts} (the embedder's process) and
 * {@link ./child.ts} (the guest's own process).
 *
 * - Parent → child, on the child's stdin: one line of JSON, the
 *   {@link ChildConfig}. The pipe then stays open and silent; its end (the
 *   parent is gone, or the handle was disposed) stops the guest.
 * - Child → parent, on the child's stderr: frames, each a line
 *   `\x1e{json}\n` (record separator, JSON, newline). Only the host writes
 *   to that stream; the guest's own stderr travels inside `stderr` frames, so
 *   a guest cannot forge a host message, an audit record or its status. Any
 *   other text there comes from the runtime itself (a panic, a fatal
 *   out-of-memory report) and is kept as evidence of a crash.
 *
 * @module
 */
import type { Policy } from "./policy.ts";
import type { GuestStatus } from "./status.ts";

/** A directory the guest may use: host path, guest path, writable or not. */
export interface PreopenSpec {
  /** The directory on the host. */
  host: string;
  /** Where the guest sees it. */
  guest: string;
  /** Whether the guest may change it (default: read-only). */
  writable?: boolean;
}

/** Everything the guest's process needs to run it. JSON-able. */
export interface ChildConfig {
  /** Path of the `.wasm` file, or its bytes in base64. */
  wasm: { path: string } | { base64: string };
  /** The guest's name in messages (argv[0]). */
  name: string;
  /** Arguments after argv[0]. */
  args: string[];
  /** The guest's whole environment. */
  env: Record<string, string>;
  /** Directories the guest may use. */
  preopens: PreopenSpec[];
  /** Host decisions and libbpf's info lines go to the log. */
  verbose: boolean;
  /** What the guest may do. */
  policy: Policy;
  /** Whether audit records are wanted. */
  audit: boolean;
  /** URL of the embedder's module of host functions, if any. */
  imports?: string;
  /** Module name of the TinyGo-style callback import. */
  callbackModule?: string;
  /** Guest export that import calls back. */
  callbackExport?: string;
  /** How long a stopped guest may take to unwind, in ms. */
  graceMs: number;
  /**
   * `--metrics`: the host counters' buffer and the server's port (in this
   * process only: not JSON-able, never sent to a guest's own process).
   */
  metrics?: { stats: SharedArrayBuffer; port?: MessagePort; maps: string[] };
  /**
   * A guest's own process serves `/metrics` itself ({@link ./spawn.ts}'s
   * `metrics` option): where, the digest label (default: the sha256 of the
   * guest's bytes), and the maps to export (a parsed `--metrics-config`).
   */
  serveMetrics?: {
    listen: string;
    guest?: string;
    digest?: string;
    config?: unknown;
    configPath?: string;
  };
}

/** One frame from the guest's process. */
export type Frame =
  | { t: "log"; line: string }
  | { t: "audit"; record: Record<string, unknown> }
  | { t: "stderr"; data: string }
  | { t: "status"; status: GuestStatus };

const RS = 0x1e;
const NL = 0x0a;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encodes one frame as its line. */
export function encodeFrame(frame: Frame): Uint8Array {
  return encoder.encode(`\x1e${JSON.stringify(frame)}\n`);
}

/** Base64 of bytes (for `stderr` frames and wasm bytes). */
export function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/** Bytes of base64 text. */
export function fromBase64(text: string): Uint8Array {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** What {@link FrameReader.push} found: a frame, or a line of other text. */
export type FrameEvent = { frame: Frame } | { text: string };

/**
 * Splits the child's stderr into frames and other text. Bytes are buffered
 * until a newline; a frame that does not parse is reported as text.
 */
export class FrameReader {
  #pending: Uint8Array = new Uint8Array(0);

  /** Feeds a chunk; returns the complete lines it finished. */
  push(chunk: Uint8Array): FrameEvent[] {
    const buf = this.#pending.length
      ? concat(this.#pending, chunk)
      : chunk.slice();
    const out: FrameEvent[] = [];
    let start = 0;
    for (let i = 0; i < buf.length; i++) {
      if (buf[i] !== NL) continue;
      out.push(parseLine(buf.subarray(start, i)));
      start = i + 1;
    }
    this.#pending = buf.slice(start);
    return out;
  }

  /** What is left at the end of the stream (a last line without newline). */
  end(): FrameEvent[] {
    const rest = this.#pending;
    this.#pending = new Uint8Array(0);
    return rest.length ? [parseLine(rest)] : [];
  }
}

function parseLine(line: Uint8Array): FrameEvent {
  if (line[0] === RS) {
    try {
      const v = JSON.parse(decoder.decode(line.subarray(1)));
      if (v && typeof v === "object" && typeof v.t === "string") {
        return { frame: v as Frame };
      }
    } catch { /* not a frame after all */ }
  }
  return { text: decoder.decode(line) };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
