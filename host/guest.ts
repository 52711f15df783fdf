/**
 * One guest run on the calling thread: WASI preview 1 (./wasi/), the
 * wasi-bpf host, the embedder's host functions, the guest's `_start`.
 * Used by the Worker of {@link ./runner.ts} and, when the native stop
 * watchdog is there, by the runner on the main thread.
 *
 * @module
 */
import { GuestInterrupted, WasmBpfHost } from "./host.ts";
import type { ChildConfig } from "./protocol.ts";
import { Wasi, WasiInterrupted } from "./wasi/mod.ts";

/** How a guest run ended, as the runner turns it into a status. */
export type GuestOutcome =
  | { type: "exit"; code: number }
  | { type: "interrupted" }
  | { type: "trap"; message: string }
  | { type: "error"; message: string };

/** Where a guest's messages and output go, and how it is stopped. */
export interface GuestIo {
  /** Host messages. */
  log(line: string): void;
  /** Audit records, if wanted. */
  audit?: (record: Record<string, unknown>) => void;
  /** The guest's stderr: a host fd or a sink. */
  stderr: number | ((bytes: Uint8Array) => void);
  /** Whether the guest reads this process's stdin (else end of file). */
  stdin: boolean;
  /** An eventfd that becomes readable at a stop. */
  wakeFd: number;
  /** Why the guest is being stopped, or false. */
  interrupted(): string | false;
}

/** What an embedder's host-function module gets to build its imports. */
export interface HostFunctionContext {
  /** The guest's name. */
  name: string;
  /** The guest's memory (valid once the instance exists, i.e. inside calls). */
  memory(): WebAssembly.Memory;
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

/**
 * Runs the guest to its end on this thread (the embedder's module is loaded
 * first, then `_start` runs synchronously) and releases everything it held.
 */
export async function runGuest(
  module: WebAssembly.Module,
  m: Omit<ChildConfig, "wasm">,
  io: GuestIo,
): Promise<GuestOutcome> {
  const host = new WasmBpfHost({
    name: m.name,
    verbose: m.verbose,
    wakeFd: io.wakeFd,
    interrupted: io.interrupted,
    policy: m.policy,
    log: io.log,
    audit: io.audit,
    callbackModule: m.callbackModule,
    callbackExport: m.callbackExport,
    metrics: m.metrics,
  });
  let memory: WebAssembly.Memory | undefined;
  let wasi: Wasi | undefined;
  try {
    wasi = new Wasi({
      args: [m.name, ...m.args],
      env: m.env,
      preopens: m.preopens.map((p) => ({ ...p, writable: !!p.writable })),
      stdin: io.stdin ? 0 : "null",
      stdout: 1,
      stderr: io.stderr,
      wakeFd: io.wakeFd,
      interrupted: io.interrupted,
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
    const instance = new WebAssembly.Instance(module, { ...own, ...extra });
    if (instance.exports.memory instanceof WebAssembly.Memory) {
      memory = instance.exports.memory;
    }
    host.bind(instance);
    return { type: "exit", code: wasi.start(instance) };
  } catch (e) {
    if (
      e instanceof GuestInterrupted || e instanceof WasiInterrupted ||
      io.interrupted()
    ) {
      return { type: "interrupted" };
    }
    if (e instanceof WebAssembly.RuntimeError) {
      return { type: "trap", message: e.message };
    }
    return { type: "error", message: (e as Error)?.message ?? String(e) };
  } finally {
    wasi?.close();
    host.close();
  }
}
