/**
 * Runs one guest in this process: a Worker runs the guest, this thread
 * keeps the signals and the clock. Only the command line and the guest's
 * own process ({@link ./child.ts}) use it, because the end of a stop that
 * the guest does not cooperate with is the end of the process: a Worker
 * that runs wasm or sits in a host call cannot be stopped any other way.
 *
 * A stop (SIGINT, SIGTERM, the time limit, {@link GuestRun.stop}) sets a
 * shared flag and wakes the guest's poll or sleep; the host returns -EINTR
 * once, then unwinds the guest. If the guest has not ended `graceMs` later,
 * the status resolves with `forced: true` and the caller must end the
 * process at once (the kernel then releases everything the guest held).
 *
 * @module
 */
import { libbpfLogLock, numPossibleCpus, WakeFd } from "../ffi/mod.ts";
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
import type { StartMessage, WorkerReport } from "./worker.ts";

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

/**
 * Starts the compiled guest in a Worker of this process. `config.wasm` is
 * not read (the module is given).
 */
export function startGuest(
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
  const stoppedStatus = (forced: boolean, guestCode?: number) => {
    const s = stopping!;
    const status = s.signal === "timeout"
      ? timedOut(`${name}: ${s.why}`, forced)
      : interrupted(s.signal, `${name}: ${s.why}`, forced);
    return guestCode === undefined ? status : { ...status, guestCode };
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
      finish(stoppedStatus(true));
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
      case "exit":
        finish(stopping ? stoppedStatus(false, r.code) : exited(r.code));
        break;
      case "interrupted":
        finish(
          stopping ? stoppedStatus(false) : interrupted(
            "SIGINT",
            `${name}: interrupted`,
          ),
        );
        break;
      case "trap":
        finish(trapped(`${name}: the guest trapped: ${r.message}`));
        break;
      case "error":
        finish(failed(`${name}: ${r.message}`));
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
  worker.postMessage(start);
  return {
    status: done.promise,
    stop: (signal) => stop(signal, `stopped by ${signal}`),
  };
}
