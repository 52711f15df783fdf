/**
 * Run a guest to completion: `run(wasm, options)` returns its exit status.
 *
 * The guest runs in a Worker; this thread keeps the clock and the signals.
 * SIGINT/SIGTERM (or an AbortSignal, or the time limit) set a shared flag
 * and wake the guest's poll; the host returns -EINTR once, then unwinds the
 * guest if it keeps going. A guest that does not come back (a loop that
 * never calls the host, a long sleep) is stopped after a grace period and
 * the kernel fds it held are closed here, so nothing outlives the run.
 *
 * @module
 */
import { closeFds, libbpfLogLock, WakeFd } from "../ffi/mod.ts";
import { bpf } from "../ffi/native.ts";
import { capMemory } from "./limits.ts";
import type { Policy } from "./policy.ts";
import type { StartMessage, WorkerReport } from "./worker.ts";

/** Options of {@link run}. */
export interface RunOptions {
  /** Guest argv after argv[0] (argv[0] is `name`). */
  args?: string[];
  /** argv[0] and the guest's name in messages (default: the file name). */
  name?: string;
  /** Guest environment (WASI): nothing unless given. */
  env?: Record<string, string>;
  /** Guest directories (WASI preopens): guest path → host path. */
  preopens?: Record<string, string>;
  /** Log host decisions and libbpf's info lines to stderr. */
  verbose?: boolean;
  /** What the guest may do; see {@link Policy}. */
  policy?: Policy;
  /** Receives one JSON-able record per load, attach, map write, denial. */
  audit?: (event: Record<string, unknown>) => void;
  /** Handle SIGINT/SIGTERM (exit 130/143). Default false for the library. */
  handleSignals?: boolean;
  /** Stops the guest when aborted (exit 130). */
  signal?: AbortSignal;
  /** How long a stopped guest may take to unwind (default 2000 ms). */
  graceMs?: number;
  /** Called with messages for the user (default: stderr). */
  log?: (line: string) => void;
}

/** Exit statuses besides the guest's own. */
export const ExitCode = {
  ERROR: 1,
  USAGE: 2,
  TIMEOUT: 124,
  TRAP: 134,
  SIGINT: 130,
  SIGTERM: 143,
} as const;

/**
 * Runs the guest at `wasm` (path, URL or bytes) and resolves to its exit
 * status; see {@link ExitCode} for the host's own.
 */
export async function run(
  wasm: string | URL | Uint8Array,
  options: RunOptions = {},
): Promise<number> {
  const log = options.log ?? ((l: string) => console.error(l));
  const file = typeof wasm === "string"
    ? wasm
    : wasm instanceof URL
    ? wasm.pathname
    : "guest.wasm";
  const name = options.name ?? file.split("/").pop()!;
  let bytes: Uint8Array;
  try {
    bytes = wasm instanceof Uint8Array ? wasm : await Deno.readFile(wasm);
  } catch (e) {
    log(`wasm-bpf: cannot read ${file}: ${(e as Error).message}`);
    return ExitCode.ERROR;
  }
  if (options.policy?.maxMemoryBytes !== undefined) {
    try {
      bytes = capMemory(bytes, options.policy.maxMemoryBytes);
    } catch (e) {
      log(`wasm-bpf: ${file}: ${(e as Error).message}`);
      return ExitCode.ERROR;
    }
  }
  let module: WebAssembly.Module;
  try {
    module = await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
  } catch (e) {
    log(
      `wasm-bpf: ${file} is not a valid WebAssembly module: ${
        (e as Error).message
      }`,
    );
    return ExitCode.ERROR;
  }
  const exportNames = WebAssembly.Module.exports(module).map((e) => e.name);
  if (!exportNames.includes("_start")) {
    log(
      `wasm-bpf: ${file} exports no '_start': build it as a WASI command (clang --target=wasm32-wasi)`,
    );
    return ExitCode.ERROR;
  }
  if (options.policy?.maxMemoryBytes !== undefined) {
    const mem = WebAssembly.Module.exports(module).find((e) =>
      e.kind === "memory"
    );
    void mem;
  }

  let wake: WakeFd;
  try {
    bpf(); // fail here, with how to fix it, rather than inside the guest
    wake = WakeFd.create();
  } catch (e) {
    log(`wasm-bpf: ${(e as Error).message}`);
    return ExitCode.ERROR;
  }
  const flag = new SharedArrayBuffer(4);
  const flagView = new Int32Array(flag);
  const worker = new Worker(new URL("./worker.ts", import.meta.url), {
    type: "module",
  });
  let heldFds: number[] = [];
  let settled = false;
  let stopCode = 0;
  let graceTimer: ReturnType<typeof setTimeout> | undefined;
  let limitTimer: ReturnType<typeof setTimeout> | undefined;

  const done = Promise.withResolvers<number>();
  const finish = (code: number) => {
    if (settled) return;
    settled = true;
    done.resolve(code);
  };

  const stop = (signo: number, code: number, why: string) => {
    if (settled || stopCode) return;
    stopCode = code;
    if (options.verbose) log(`wasm-bpf: ${why}: stopping ${name}`);
    Atomics.store(flagView, 0, signo);
    wake.wake();
    graceTimer = setTimeout(() => {
      log(
        `wasm-bpf: ${name} did not stop within ${
          options.graceMs ?? 2000
        } ms of ${why}; terminated`,
      );
      worker.terminate();
      // the worker cannot release what it held any more: close it here
      closeFds(heldFds);
      heldFds = [];
      finish(code);
    }, options.graceMs ?? 2000);
  };

  const onInt = () => stop(2, ExitCode.SIGINT, "SIGINT");
  const onTerm = () => stop(15, ExitCode.SIGTERM, "SIGTERM");
  const onAbort = () => stop(2, ExitCode.SIGINT, "abort");
  if (options.handleSignals) {
    Deno.addSignalListener("SIGINT", onInt);
    Deno.addSignalListener("SIGTERM", onTerm);
  }
  options.signal?.addEventListener("abort", onAbort);
  if (options.signal?.aborted) onAbort();
  const timeoutMs = options.policy?.timeoutMs;
  if (timeoutMs !== undefined && timeoutMs > 0) {
    limitTimer = setTimeout(
      () => stop(124, ExitCode.TIMEOUT, `the ${timeoutMs} ms time limit`),
      timeoutMs,
    );
  }

  worker.onmessage = (ev: MessageEvent<WorkerReport>) => {
    const r = ev.data;
    switch (r.type) {
      case "fds":
        heldFds = r.fds;
        break;
      case "audit":
        options.audit?.(r.event);
        break;
      case "exit":
        finish(stopCode || (r.code < 0 ? ExitCode.SIGINT : r.code));
        break;
      case "trap":
        log(`wasm-bpf: ${name}: guest trapped: ${r.message}`);
        finish(stopCode || ExitCode.TRAP);
        break;
      case "error":
        log(`wasm-bpf: ${name}: ${r.message}`);
        finish(stopCode || ExitCode.ERROR);
        break;
    }
  };
  worker.onerror = (ev: ErrorEvent) => {
    ev.preventDefault();
    log(`wasm-bpf: ${name}: host worker failed: ${ev.message}`);
    closeFds(heldFds);
    heldFds = [];
    finish(stopCode || ExitCode.ERROR);
  };

  const start: StartMessage = {
    module,
    name,
    args: [name, ...(options.args ?? [])],
    env: options.env ?? {},
    preopens: options.preopens ?? {},
    verbose: options.verbose ?? false,
    policy: options.policy ?? {},
    audit: !!options.audit,
    wakeFd: wake.fd,
    flag,
    logLock: libbpfLogLock(),
  };
  worker.postMessage(start);

  try {
    return await done.promise;
  } finally {
    clearTimeout(graceTimer);
    clearTimeout(limitTimer);
    if (options.handleSignals) {
      Deno.removeSignalListener("SIGINT", onInt);
      Deno.removeSignalListener("SIGTERM", onTerm);
    }
    options.signal?.removeEventListener("abort", onAbort);
    worker.terminate();
    wake.close();
  }
}
