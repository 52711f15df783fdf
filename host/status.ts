/**
 * How a guest ended: one structured status for the library, and the exit
 * status the command line maps it to. The guest's own exit code is only
 * ever reported as the guest's; every outcome of the host (interrupted,
 * timed out, trapped, host error, crashed) is a kind of its own.
 *
 * @module
 */

/** What ended a guest. */
export type GuestStatusKind =
  /** The guest exited by itself (returned from main or called exit). */
  | "exited"
  /** Stopped from outside: SIGINT, SIGTERM, an AbortSignal, `kill()`. */
  | "interrupted"
  /** Stopped at its time limit (`--timeout`, `policy.timeoutMs`). */
  | "timeout"
  /** The guest's code trapped (unreachable, out-of-bounds access, ...). */
  | "trapped"
  /** The host could not run it: unreadable or invalid wasm, no libbpf, ... */
  | "failed"
  /** The guest's process died by a signal (a crash, an out-of-memory abort, SIGKILL). */
  | "crashed";

/** How a guest ended. */
export interface GuestStatus {
  /** What ended it. */
  kind: GuestStatusKind;
  /** The command line's exit status for this outcome (see {@link ExitCode}). */
  code: number;
  /** True only when the guest exited by itself with code 0. */
  success: boolean;
  /** For `exited`: the guest's own exit code, 0 to 255. */
  guestCode?: number;
  /**
   * For `interrupted`: `SIGINT`, `SIGTERM` or `abort`; for `crashed`: the
   * signal that ended the guest's process.
   */
  signal?: string;
  /** For everything but `exited`: one line saying what happened. */
  message?: string;
  /** The guest did not unwind within the grace period; its process was ended. */
  forced?: boolean;
}

/**
 * Exit statuses of the command line besides the guest's own. A guest's own
 * code can take any of these values too; the command line then tells them
 * apart by a one-line reason on stderr, which it prints for every outcome
 * but `exited`.
 */
export const ExitCode = {
  /** The command line was wrong; no guest ran. */
  USAGE: 2,
  /** Stopped at the time limit. */
  TIMEOUT: 124,
  /** The host failed (bad wasm, missing libbpf, internal error). */
  ERROR: 125,
  /** Stopped by SIGINT or an abort. */
  SIGINT: 130,
  /** The guest trapped. */
  TRAP: 134,
  /** Stopped by SIGTERM. */
  SIGTERM: 143,
} as const;

const SIGNAL_NUMBERS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGSYS: 31,
};

/** The number of a signal name (`SIGSEGV` → 11), or 0. */
export function signalNumber(name: string): number {
  return Object.hasOwn(SIGNAL_NUMBERS, name) ? SIGNAL_NUMBERS[name] : 0;
}

/** The guest exited by itself with `code` (a WASI u32, reduced to 0-255). */
export function exited(code: number): GuestStatus {
  const guestCode = (code >>> 0) & 0xff;
  return {
    kind: "exited",
    code: guestCode,
    success: guestCode === 0,
    guestCode,
  };
}

/** The guest was stopped from outside by `signal` (`SIGINT`, `SIGTERM`, `abort`). */
export function interrupted(
  signal: string,
  message: string,
  forced = false,
): GuestStatus {
  return {
    kind: "interrupted",
    code: signal === "SIGTERM" ? ExitCode.SIGTERM : ExitCode.SIGINT,
    success: false,
    signal,
    message,
    ...(forced ? { forced } : {}),
  };
}

/** The guest was stopped at its time limit. */
export function timedOut(message: string, forced = false): GuestStatus {
  return {
    kind: "timeout",
    code: ExitCode.TIMEOUT,
    success: false,
    message,
    ...(forced ? { forced } : {}),
  };
}

/** The guest trapped. */
export function trapped(message: string): GuestStatus {
  return { kind: "trapped", code: ExitCode.TRAP, success: false, message };
}

/** The host could not run the guest. */
export function failed(message: string): GuestStatus {
  return { kind: "failed", code: ExitCode.ERROR, success: false, message };
}

/** The guest's process died by `signal`. */
export function crashed(signal: string, message: string): GuestStatus {
  return {
    kind: "crashed",
    code: 128 + (signalNumber(signal) || 0),
    success: false,
    signal,
    message,
  };
}

/** Whether `v` has the shape of a {@link GuestStatus} (for statuses read from a pipe). */
export function isGuestStatus(v: unknown): v is GuestStatus {
  if (!v || typeof v !== "object") return false;
  const s = v as Record<string, unknown>;
  return typeof s.kind === "string" &&
    ["exited", "interrupted", "timeout", "trapped", "failed", "crashed"]
      .includes(s.kind) &&
    typeof s.code === "number" && typeof s.success === "boolean";
}
