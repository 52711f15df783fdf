/**
 * The wasi-bpf host: the six `wasm_bpf` imports, the `callback-wrapper`
 * import of TinyGo guests, and this project's `wasm_bpf_ext` extension,
 * over the eBPF layer in `ffi/`.
 *
 * ```ts
 * const host = new WasmBpfHost();
 * const wasi = new WASI({ version: "preview1", args, returnOnExit: true });
 * const instance = new WebAssembly.Instance(module, {
 *   wasi_snapshot_preview1: wasi.wasiImport,
 *   ...host.imports(),
 *   env: { my_function: () => 0 }, // callers may add their own
 * });
 * host.bind(instance);
 * try {
 *   wasi.start(instance);
 * } finally {
 *   host.close(); // releases every BPF object the guest left open
 * }
 * ```
 *
 * Every import returns a negative errno on failure (the load import 0) and
 * never throws, except to unwind the guest when the host is interrupted
 * ({@link GuestInterrupted}) or when the guest itself traps inside a
 * callback. The imports are the only way in: the files beside this one
 * implement them by concern (`imports.ts` the table, `load.ts`,
 * `objects.ts`, `maps.ts`, `poll.ts`).
 *
 * @module
 */
import { abiImports } from "./imports.ts";
import { type HostOptions, Session } from "./session.ts";

export { Errno } from "../ffi/mod.ts";
export { GuestInterrupted, type HostOptions } from "./session.ts";

/**
 * One guest's view of eBPF: the objects it loaded, the fds it was given,
 * and the imports that act on them. One host per guest instance.
 */
export class WasmBpfHost {
  readonly #s: Session;

  /** A host for one guest; see {@link HostOptions}. */
  constructor(options: HostOptions = {}) {
    this.#s = new Session(options);
  }

  /** The guest's name in messages. */
  get name(): string {
    return this.#s.name;
  }

  /** Number of BPF objects the guest holds open. */
  get objectCount(): number {
    return this.#s.objects.size;
  }

  /**
   * Whether the guest's map operations go through the wasm gate straight
   * to the system call (host/gate.ts: after `bind` and
   * `HostOptions.mapGateAfter` operations, with the fast path built and
   * deno run with `--v8-flags=--wasm-fast-api`), rather than through
   * JavaScript. Either way they are checked the same.
   */
  get mapGate(): boolean {
    return this.#s.gate?.on ?? false;
  }

  /** Every kernel fd held for the guest (maps and programs). */
  fds(): number[] {
    return this.#s.objects.fds();
  }

  /**
   * The import object entries: `wasm_bpf`, the TinyGo `callback-wrapper`
   * and `wasm_bpf_ext`. Spread them into your import object.
   */
  imports(): WebAssembly.Imports {
    return abiImports(this.#s);
  }

  /**
   * Binds the host to the instantiated guest: its `memory` and
   * `__indirect_function_table` exports (the table is needed only by
   * guests that poll buffers with table callbacks).
   */
  bind(
    instance: WebAssembly.Instance | { exports: WebAssembly.Exports },
  ): void {
    this.#s.bind(instance.exports);
  }

  /**
   * Asks the guest to stop, cooperatively: its next poll returns -EINTR
   * (so it may clean up), and any import it calls after that unwinds it
   * with {@link GuestInterrupted}. It takes effect at the guest's next host
   * call; a guest that never calls the host cannot be stopped this way
   * (only the end of its process stops it: use `spawn()`). Call it from
   * code that runs while the guest does (your host functions, a WASI hook);
   * pass `wakeFd`/`interrupted` in the options to stop a guest from another
   * thread.
   */
  interrupt(reason = "interrupt"): void {
    this.#s.interruptRequested ||= reason;
  }

  /** Releases every object the guest still holds. Idempotent. */
  close(): void {
    const s = this.#s;
    if (s.closed) return;
    s.objects.closeAll((line) => s.log(line));
    s.close();
    s.fdsChanged();
  }

  /** Same as {@link close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
