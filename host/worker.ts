/**
 * The Worker that runs one guest: WASI preview 1 from `node:wasi`, the
 * wasi-bpf host, the guest's `_start`. The main thread ({@link ./run.ts})
 * owns the signals and the clock; it sets a shared flag and wakes us, and
 * we unwind the guest and release every BPF object before reporting.
 *
 * @module
 */
import process from "node:process";
import { WASI } from "node:wasi";
import { useLibbpfLogLock } from "../ffi/mod.ts";
import { GuestInterrupted, WasmBpfHost } from "./host.ts";
import type { Policy } from "./policy.ts";

/** What the main thread sends to start a guest. */
export interface StartMessage {
  module: WebAssembly.Module;
  name: string;
  args: string[];
  env: Record<string, string>;
  preopens: Record<string, string>;
  verbose: boolean;
  policy: Policy;
  audit: boolean;
  wakeFd: number;
  /** [0]: 0, or the signal number / reason code that stops the guest. */
  flag: SharedArrayBuffer;
  /** The process-wide libbpf log lock (see ffi/log.ts). */
  logLock: SharedArrayBuffer;
}

/** What the worker reports back. */
export type WorkerReport =
  | { type: "fds"; fds: number[] }
  | { type: "audit"; event: Record<string, unknown> }
  | { type: "exit"; code: number }
  | { type: "trap"; message: string }
  | { type: "error"; message: string };

const REASONS: Record<number, string> = {
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

// node:wasi announces itself as experimental on every use; the CLI's user
// has not asked for node's warnings.
const emit = process.emitWarning.bind(process);
process.emitWarning = ((w: string | Error, ...rest: unknown[]) => {
  const text = typeof w === "string" ? w : w?.message;
  const type = typeof rest[0] === "string"
    ? rest[0]
    : (rest[0] as { type?: string })?.type;
  if (type === "ExperimentalWarning" || /WASI/.test(String(text))) return;
  // deno-lint-ignore no-explicit-any
  (emit as any)(w, ...rest);
}) as typeof process.emitWarning;

scope.onmessage = (ev: MessageEvent<StartMessage>) => {
  const m = ev.data;
  useLibbpfLogLock(m.logLock);
  const flag = new Int32Array(m.flag);
  const interrupted = () => {
    const v = Atomics.load(flag, 0);
    return v ? (REASONS[v] ?? `signal ${v}`) : false;
  };
  const host = new WasmBpfHost({
    name: m.name,
    verbose: m.verbose,
    wakeFd: m.wakeFd,
    interrupted,
    policy: m.policy,
    onFds: (fds) => post({ type: "fds", fds }),
    audit: m.audit ? (event) => post({ type: "audit", event }) : undefined,
  });
  let report: WorkerReport;
  try {
    const wasi = new WASI({
      version: "preview1",
      args: m.args,
      env: m.env,
      preopens: m.preopens,
      returnOnExit: true,
    });
    const imports: WebAssembly.Imports = {
      wasi_snapshot_preview1: wasi
        .wasiImport as unknown as WebAssembly.ModuleImports,
      ...host.imports(),
    };
    const instance = new WebAssembly.Instance(m.module, imports);
    host.bind(instance);
    const code = wasi.start(instance);
    report = { type: "exit", code: typeof code === "number" ? code : 0 };
  } catch (e) {
    if (e instanceof GuestInterrupted) {
      report = { type: "exit", code: -1 };
    } else if (e instanceof WebAssembly.RuntimeError) {
      report = { type: "trap", message: e.message };
    } else if (interrupted()) {
      report = { type: "exit", code: -1 };
    } else {
      report = { type: "error", message: (e as Error)?.message ?? String(e) };
    }
  } finally {
    host.close();
  }
  post(report!);
};
