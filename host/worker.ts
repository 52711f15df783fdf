/**
 * The Worker that runs one guest ({@link ./guest.ts}) when the native stop
 * watchdog is not there. The thread that started it ({@link ./runner.ts})
 * owns the signals and the clock; it sets a shared flag and wakes us, and
 * we unwind the guest and release every BPF object before reporting.
 *
 * @module
 */
import { useLibbpfLogLock } from "../ffi/mod.ts";
import { type GuestOutcome, runGuest } from "./guest.ts";
import type { ChildConfig } from "./protocol.ts";

/** What the runner sends to start a guest. */
export interface StartMessage extends Omit<ChildConfig, "wasm"> {
  /** The compiled guest. */
  module: WebAssembly.Module;
  /** Whether the guest's stderr is reported (`stderr`) instead of written to fd 2. */
  stderrSink: boolean;
  /** Whether the guest reads this process's stdin (else it reads end of file). */
  stdin: boolean;
  /** An eventfd the runner makes readable to stop the guest. */
  wakeFd: number;
  /** [0]: 0, or the signal number / reason code that stops the guest. */
  flag: SharedArrayBuffer;
  /** The process-wide libbpf log lock (see ffi/log.ts). */
  logLock: SharedArrayBuffer;
}

/** What the worker reports back. */
export type WorkerReport =
  | { type: "log"; line: string }
  | { type: "audit"; record: Record<string, unknown> }
  | { type: "stderr"; data: Uint8Array }
  | GuestOutcome;

/** Stop reasons by the number the flag holds. */
export const REASONS: Record<number, string> = {
  2: "SIGINT",
  15: "SIGTERM",
  124: "timeout",
};

/** The worker's global scope (typed here, not with a lib directive, so the
 * package stays publishable). */
const scope = globalThis as unknown as {
  postMessage(message: unknown): void;
  onmessage: ((ev: MessageEvent<StartMessage>) => void) | null;
};

function post(r: WorkerReport) {
  scope.postMessage(r);
}

scope.onmessage = async (ev: MessageEvent<StartMessage>) => {
  const m = ev.data;
  useLibbpfLogLock(m.logLock);
  const flag = new Int32Array(m.flag);
  post(
    await runGuest(m.module, m, {
      log: (line) => post({ type: "log", line }),
      audit: m.audit ? (record) => post({ type: "audit", record }) : undefined,
      stderr: m.stderrSink
        ? (data) => post({ type: "stderr", data: data.slice() })
        : 2,
      stdin: m.stdin,
      wakeFd: m.wakeFd,
      interrupted: () => {
        const v = Atomics.load(flag, 0);
        return v ? (REASONS[v] ?? `signal ${v}`) : false;
      },
    }),
  );
};
