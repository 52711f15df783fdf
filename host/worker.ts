/**
 * The Worker that runs one guest: WASI preview 1 (./wasi/), the wasi-bpf host, the
 * embedder's host functions, the guest's `_start`. The thread that started
 * it ({@link ./runner.ts}) owns the signals and the clock; it sets a shared
 * flag and wakes us, and we unwind the guest and release every BPF object
 * before reporting.
 *
 * @module
 */
import { useLibbpfLogLock } from "../ffi/mod.ts";
import { GuestInterrupted, WasmBpfHost } from "./host.ts";
import type { ChildConfig } from "./protocol.ts";
import { Wasi, WasiInterrupted } from "./wasi/mod.ts";

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
  | { type: "exit"; code: number }
  | { type: "interrupted" }
  | { type: "trap"; message: string }
  | { type: "error"; message: string };

/** What an embedder's host-function module gets to build its imports. */
export interface HostFunctionContext {
  /** The guest's name. */
  name: string;
  /** The guest's memory (valid once the instance exists, i.e. inside calls). */
  memory(): WebAssembly.Memory;
}

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

/** The embedder's import modules, from `config.imports` (a module URL). */
async function embedderImports(
  url: string,
  ctx: HostFunctionContext,
): Promise<WebAssembly.Imports> {
  const mod = await import(url);
  const provided = typeof mod.default === "function"
    ? await mod.default(ctx)
    : mod.default;
  if (!provided || typeof provided !== "object") {
    throw new Error(
      `${url}: the host-function module must export default an object of import modules ({ module: { name: function } }) or a function returning one`,
    );
  }
  return provided as WebAssembly.Imports;
}

scope.onmessage = async (ev: MessageEvent<StartMessage>) => {
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
    log: (line) => post({ type: "log", line }),
    audit: m.audit ? (record) => post({ type: "audit", record }) : undefined,
    callbackModule: m.callbackModule,
    callbackExport: m.callbackExport,
  });
  let report: WorkerReport;
  let memory: WebAssembly.Memory | undefined;
  let wasi: Wasi | undefined;
  try {
    wasi = new Wasi({
      args: [m.name, ...m.args],
      env: m.env,
      preopens: m.preopens.map((p) => ({ ...p, writable: !!p.writable })),
      stdin: m.stdin ? 0 : "null",
      stdout: 1,
      stderr: m.stderrSink
        ? (data) => post({ type: "stderr", data: data.slice() })
        : 2,
      wakeFd: m.wakeFd,
      interrupted,
    });
    const own: WebAssembly.Imports = { ...wasi.imports, ...host.imports() };
    const extra = m.imports
      ? await embedderImports(m.imports, {
        name: m.name,
        memory: () => {
          if (!memory) throw new Error(`${m.name}: the guest is not running`);
          return memory;
        },
      })
      : {};
    for (const k of Object.keys(extra)) {
      if (k in own) {
        throw new Error(
          `the host-function module provides '${k}', a module of the host's own`,
        );
      }
    }
    const instance = new WebAssembly.Instance(m.module, { ...own, ...extra });
    if (instance.exports.memory instanceof WebAssembly.Memory) {
      memory = instance.exports.memory;
    }
    host.bind(instance);
    report = { type: "exit", code: wasi.start(instance) };
  } catch (e) {
    if (
      e instanceof GuestInterrupted || e instanceof WasiInterrupted ||
      interrupted()
    ) {
      report = { type: "interrupted" };
    } else if (e instanceof WebAssembly.RuntimeError) {
      report = { type: "trap", message: e.message };
    } else {
      report = { type: "error", message: (e as Error)?.message ?? String(e) };
    }
  } finally {
    wasi?.close();
    host.close();
  }
  post(report!);
};
