/**
 * Runs one guest in this process. Only the command line and the guest's
 * own process ({@link ./child.ts}) use it, because the end of a stop that
 * the guest does not cooperate with is the end of the process.
 *
 * A stop (SIGINT, SIGTERM, the time limit, the end of the embedder's pipe)
 * sets a flag and wakes the guest's poll or sleep; the host returns -EINTR
 * once, then unwinds the guest. If the guest has not ended `graceMs` later,
 * the process ends with the stop's status (the kernel then releases all the
 * guest held).
 *
 * With the native watchdog (native/watchdog.c, built by set-up) the guest
 * runs on this thread and the watchdog's thread keeps the signals, the
 * clock and the grace period. Without it, a Worker runs the guest and this
 * thread keeps them; a guest that does not unwind in time then resolves
 * the status with `forced: true`, and the caller must end the process.
 *
 * @module
 */
import {
  libbpfLogLock,
  numPossibleCpus,
  WakeFd,
  type Watchdog,
  watchdog,
} from "../ffi/mod.ts";
import { type GuestOutcome, runGuest } from "./guest.ts";
import { capMemory } from "./limits.ts";
import type { ChildConfig } from "./protocol.ts";
import {
  exited,
  failed,
  type GuestStatus,
  interrupted,
  timedOut,
  trapped,
} from "./status.ts";
import { REASONS, type StartMessage, type WorkerReport } from "./worker.ts";

/** Where a running guest's messages go. */
export interface RunnerHooks {
  /** Host messages (errors, denials, the verifier's reason; details when verbose). */
  log(line: string): void;
  /** Audit records (only when the config asks for them). */
  audit?: (record: Record<string, unknown>) => void;
  /** The guest's stderr; default: this process's fd 2. */
  stderr?: (bytes: Uint8Array) => void;
  /** Stop the guest on SIGINT/SIGTERM. */
  handleSignals: boolean;
  /** Whether the guest reads this process's stdin (default: end of file). */
  stdin?: boolean;
  /** Stop the guest when this process's stdin hangs up (the embedder is gone). */
  watchStdin?: boolean;
  /**
   * What to write to stderr when a guest that did not unwind ends the
   * process with `status` (a line for a user, a frame for an embedder).
   */
  forcedExit(status: GuestStatus): string;
}

/** A guest running in this process. */
export interface GuestRun {
  /** Settles when the guest ended, or when it did not unwind in time (`forced`). */
  readonly status: Promise<GuestStatus>;
  /** Asks the guest to stop; idempotent. */
  stop(signal: "SIGINT" | "SIGTERM" | "abort"): void;
}

/** Stop reasons, as the flag shared with the worker holds them. */
const SIGNO = { SIGINT: 2, SIGTERM: 15, abort: 2, timeout: 124 } as const;

/**
 * Loads libbpf (a `failed` status saying how to install it if it cannot),
 * so that a missing library is reported before the guest starts.
 */
export function preflight(): GuestStatus | undefined {
  try {
    numPossibleCpus();
    return undefined;
  } catch (e) {
    return failed((e as Error).message);
  }
}

/** Compiles the guest, applying the memory ceiling; a `failed` status if it cannot. */
export async function compileGuest(
  bytes: Uint8Array,
  file: string,
  maxMemoryBytes?: number,
): Promise<WebAssembly.Module | GuestStatus> {
  if (maxMemoryBytes !== undefined) {
    try {
      bytes = capMemory(bytes, maxMemoryBytes);
    } catch (e) {
      return failed(`${file}: ${(e as Error).message}`);
    }
  }
  let module: WebAssembly.Module;
  try {
    module = await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
  } catch (e) {
    return failed(
      `${file} is not a valid WebAssembly module: ${(e as Error).message}`,
    );
  }
  if (!WebAssembly.Module.exports(module).some((e) => e.name === "_start")) {
    return failed(
      `${file} exports no '_start': build it as a WASI command (clang --target=wasm32-wasi)`,
    );
  }
  return module;
}

/** The status of a guest that ended with `outcome`, stopped for `stop` if set. */
function statusOf(
  name: string,
  outcome: GuestOutcome,
  stop: { signal: keyof typeof SIGNO; why: string } | undefined,
  forced = false,
): GuestStatus {
  if (stop && (outcome.type === "exit" || outcome.type === "interrupted")) {
    const status = stop.signal === "timeout"
      ? timedOut(`${name}: ${stop.why}`, forced)
      : interrupted(stop.signal, `${name}: ${stop.why}`, forced);
    return outcome.type === "exit"
      ? { ...status, guestCode: exited(outcome.code).guestCode }
      : status;
  }
  switch (outcome.type) {
    case "exit":
      return exited(outcome.code);
    case "interrupted":
      return interrupted("SIGINT", `${name}: interrupted`);
    case "trap":
      return trapped(`${name}: the guest trapped: ${outcome.message}`);
    default:
      return failed(`${name}: ${outcome.message}`);
  }
}

/** Why a stop happened, for its status and messages. */
function stopOf(
  signal: keyof typeof SIGNO,
  timeoutMs: number | undefined,
): { signal: keyof typeof SIGNO; why: string } {
  return {
    signal,
    why: signal === "timeout"
      ? `stopped at the ${timeoutMs} ms time limit`
      : `stopped by ${signal}`,
  };
}

/**
 * Starts the compiled guest: on this thread under the native watchdog when
 * it is there and the runner owns the signals, else in a Worker.
 * `config.wasm` is not read (the module is given).
 */
export function startGuest(
  module: WebAssembly.Module,
  config: Omit<ChildConfig, "wasm">,
  hooks: RunnerHooks,
): GuestRun {
  const wd = hooks.handleSignals ? watchdog() : null;
  return wd
    ? startHere(wd, module, config, hooks)
    : startInWorker(module, config, hooks);
}

/** The guest on this thread; the watchdog's thread keeps stops and the clock. */
function startHere(
  wd: Watchdog,
  module: WebAssembly.Module,
  config: Omit<ChildConfig, "wasm">,
  hooks: RunnerHooks,
): GuestRun {
  const { name, graceMs } = config;
  const timeoutMs = config.policy.timeoutMs;
  let wake: WakeFd;
  try {
    wake = WakeFd.create();
  } catch (e) {
    return {
      status: Promise.resolve(failed((e as Error).message)),
      stop() {},
    };
  }
  const enc = new TextEncoder();
  const forced = (signal: keyof typeof SIGNO) => {
    const stop = stopOf(signal, timeoutMs);
    stop.why += `; it did not stop within ${graceMs} ms and was ended`;
    return enc.encode(
      hooks.forcedExit(statusOf(name, { type: "interrupted" }, stop, true)) +
        "\0",
    );
  };
  const err = wd.wasm_bpf_watchdog_start(
    wake.fd,
    graceMs,
    timeoutMs !== undefined && timeoutMs > 0 ? Math.ceil(timeoutMs) : 0,
    hooks.watchStdin ? 0 : -1,
    forced("SIGINT"),
    forced("SIGTERM"),
    forced("timeout"),
  );
  if (err) {
    wake.close();
    return startInWorker(module, config, hooks);
  }
  // read between records: the watchdog's word through a typed array over
  // it, a plain load (UnsafePointerView.getInt32 costs ~80 ns a call, as
  // much as delivering a record)
  const word = new Int32Array(
    Deno.UnsafePointerView.getArrayBuffer(
      wd.wasm_bpf_watchdog_reason_word()!,
      4,
    ),
  );
  const reason = (): keyof typeof SIGNO | undefined => {
    const r = Atomics.load(word, 0);
    return r ? (REASONS[r] as keyof typeof SIGNO ?? "SIGTERM") : undefined;
  };
  let reported = false;
  const status = (async () => {
    const outcome = await runGuest(module, config, {
      log: hooks.log,
      audit: config.audit ? hooks.audit : undefined,
      stderr: hooks.stderr ?? 2,
      stdin: hooks.stdin ?? false,
      wakeFd: wake.fd,
      interrupted: () => {
        const r = reason();
        if (r && !reported) {
          reported = true;
          if (config.verbose) hooks.log(`wasm-bpf: stopping ${name} (${r})`);
        }
        return r ?? false;
      },
    });
    wd.wasm_bpf_watchdog_done();
    wake.close();
    const r = reason();
    return statusOf(name, outcome, r ? stopOf(r, timeoutMs) : undefined);
  })();
  return {
    status,
    // the watchdog owns the signals: a stop is one of them
    stop: (signal) =>
      Deno.kill(Deno.pid, signal === "abort" ? "SIGINT" : signal),
  };
}

/** The guest in a Worker; this thread keeps the signals and the clock. */
function startInWorker(
  module: WebAssembly.Module,
  config: Omit<ChildConfig, "wasm">,
  hooks: RunnerHooks,
): GuestRun {
  const { name } = config;
  let wake: WakeFd;
  try {
    wake = WakeFd.create();
  } catch (e) {
    return {
      status: Promise.resolve(failed((e as Error).message)),
      stop() {},
    };
  }
  const flag = new SharedArrayBuffer(4);
  const flagView = new Int32Array(flag);
  const worker = new Worker(new URL("./worker.ts", import.meta.url), {
    type: "module",
  });
  const done = Promise.withResolvers<GuestStatus>();
  let settled = false;
  let stopping: { signal: keyof typeof SIGNO; why: string } | undefined;
  let graceTimer: ReturnType<typeof setTimeout> | undefined;
  let limitTimer: ReturnType<typeof setTimeout> | undefined;

  const finish = (status: GuestStatus) => {
    if (settled) return;
    settled = true;
    cleanup(status.forced === true);
    done.resolve(status);
  };

  const stop = (signal: keyof typeof SIGNO, why: string) => {
    if (settled || stopping) return;
    stopping = { signal, why };
    if (config.verbose) hooks.log(`wasm-bpf: ${why}: stopping ${name}`);
    Atomics.store(flagView, 0, SIGNO[signal]);
    wake.wake();
    graceTimer = setTimeout(() => {
      stopping = {
        signal,
        why:
          `${why}; it did not stop within ${config.graceMs} ms and was ended`,
      };
      finish(statusOf(name, { type: "interrupted" }, stopping, true));
    }, config.graceMs);
  };

  const onInt = () => stop("SIGINT", "stopped by SIGINT");
  const onTerm = () => stop("SIGTERM", "stopped by SIGTERM");
  if (hooks.handleSignals) {
    Deno.addSignalListener("SIGINT", onInt);
    Deno.addSignalListener("SIGTERM", onTerm);
  }
  const timeoutMs = config.policy.timeoutMs;
  if (timeoutMs !== undefined && timeoutMs > 0) {
    limitTimer = setTimeout(
      () => stop("timeout", `stopped at the ${timeoutMs} ms time limit`),
      timeoutMs,
    );
  }

  function cleanup(forced: boolean) {
    clearTimeout(graceTimer);
    clearTimeout(limitTimer);
    if (hooks.handleSignals) {
      Deno.removeSignalListener("SIGINT", onInt);
      Deno.removeSignalListener("SIGTERM", onTerm);
    }
    // a forced stop leaves the worker as it is: the caller ends the
    // process, which ends the worker and releases what it held
    if (!forced) {
      worker.terminate();
      wake.close();
    }
  }

  worker.onmessage = (ev: MessageEvent<WorkerReport>) => {
    const r = ev.data;
    switch (r.type) {
      case "log":
        hooks.log(r.line);
        break;
      case "audit":
        hooks.audit?.(r.record);
        break;
      case "stderr":
        if (hooks.stderr) hooks.stderr(r.data);
        else Deno.stderr.writeSync(r.data);
        break;
      default:
        finish(statusOf(name, r, stopping));
        break;
    }
  };
  worker.onerror = (ev: ErrorEvent) => {
    ev.preventDefault();
    finish(failed(`${name}: host worker failed: ${ev.message}`));
  };

  const start: StartMessage = {
    ...config,
    module,
    audit: config.audit && !!hooks.audit,
    stderrSink: !!hooks.stderr,
    stdin: hooks.stdin ?? false,
    wakeFd: wake.fd,
    flag,
    logLock: libbpfLogLock(),
  };
  // the metrics server's port moves to the guest's thread
  worker.postMessage(start, config.metrics?.port ? [config.metrics.port] : []);
  return {
    status: done.promise,
    stop: (signal) => stop(signal, `stopped by ${signal}`),
  };
}
