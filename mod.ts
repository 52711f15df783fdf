/**
 * wasm-bpf for Deno: run eBPF applications whose user space is
 * WebAssembly, sandboxed and permission-scoped.
 *
 * As a command:
 *
 * ```sh
 * deno run --allow-ffi --allow-read --allow-env mod.ts app.wasm [args...]
 * ```
 *
 * As a library, either run a guest to completion:
 *
 * ```ts
 * import { run } from "@wasm-bpf/run";
 * const status = await run("bootstrap.wasm", {
 *   args: ["-d", "10"],
 *   signal: AbortSignal.timeout(5_000),
 * });
 * ```
 *
 * or add the wasi-bpf imports to any Wasm instance you create
 * ({@link WasmBpfHost}), or use the eBPF layer directly ({@link BpfObject}).
 *
 * @module
 */
export {
  BpfError,
  BpfMap,
  BpfObject,
  type BufferReader,
  type ErrnoInfo,
  errnoName,
  errnoText,
  LIBBPF_ERRNOS,
  type LibbpfLogger,
  LibraryLoadError,
  Link,
  LINUX_ERRNOS,
  MapCommand,
  MapType,
  numPossibleCpus,
  openBufferReader,
  type OpenOptions,
  PerfBufReader,
  Program,
  type RecordHandler,
  type Resource,
  RingBufReader,
  UpdateFlags,
  Waiter,
  type WaitResult,
  WakeFd,
} from "./ffi/mod.ts";
export {
  Errno,
  GuestInterrupted,
  type HostOptions,
  WasmBpfHost,
} from "./host/host.ts";
export { GuestFault, GuestMemory } from "./host/memory.ts";
export {
  parsePolicy,
  type Policy,
  PolicyDenied,
  PROGRAM_KINDS,
  type ProgramInfo,
  type ProgramKind,
  programKind,
} from "./host/policy.ts";
export {
  GuestProcess,
  type HostFunctionContext,
  type PreopenSpec,
  run,
  spawn,
  type SpawnMetrics,
  type SpawnOptions,
} from "./host/spawn.ts";
export {
  ExitCode,
  type GuestStatus,
  type GuestStatusKind,
} from "./host/status.ts";
export {
  formatHistogram,
  type Histogram,
  type HistogramSpec,
  ObjectRun,
  type ObjectRunOptions,
  type RawRecord,
  runObject,
  SetError,
  type TypedBuffer,
  type TypedEvent,
  type Value,
} from "./host/object_run.ts";
// guests from an OCI registry: pull(ref) -> { bytes, digest, mediaType }, push
export {
  ContentError,
  type Credentials,
  InvalidReference,
  MediaType,
  pull,
  type Pulled,
  push,
  type Pushed,
  type Reference,
  RegistryError,
  type RegistryOptions,
} from "./host/oci/mod.ts";
export { main } from "./host/cli.ts";

if (import.meta.main) {
  const { main } = await import("./host/cli.ts");
  Deno.exit(await main(Deno.args));
}
