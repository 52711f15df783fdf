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
export type {
  HostFunctionContext,
  PreopenSpec,
  SpawnMetrics,
  SpawnOptions,
} from "./host/spawn.ts";
import type { GuestProcess, SpawnOptions } from "./host/spawn.ts";
import type { ObjectRun, ObjectRunOptions } from "./host/object_run.ts";
import type { Pulled, Pushed, RegistryOptions } from "./host/oci/mod.ts";
import type { GuestStatus } from "./host/status.ts";
export {
  ExitCode,
  type GuestStatus,
  type GuestStatusKind,
} from "./host/status.ts";
export type {
  Histogram,
  HistogramSpec,
  ObjectRunOptions,
  RawRecord,
  TypedBuffer,
  TypedEvent,
  Value,
} from "./host/object_run.ts";
// guests from an OCI registry: pull(ref) -> { bytes, digest, mediaType }, push
export type {
  Credentials,
  Pulled,
  Pushed,
  Reference,
  RegistryOptions,
} from "./host/oci/mod.ts";
export { main } from "./host/cli.ts";

// The parts of the library a command-line run does not need (processes of
// their own, bare objects, the registry client: ~150 KB of modules, ~1.5 MiB
// and ~8 ms of a start) are loaded below, once this module's own imports
// are, unless this module is the command (which loads what it uses). The
// functions here call them; their handles are exported as types (spawn()
// and runObject() make them) and their errors from light modules.
export { type GuestProcess } from "./host/spawn.ts";
export { type ObjectRun } from "./host/object_run.ts";
export { SetError } from "./host/object_usage.ts";
export { ContentError, MediaType, RegistryError } from "./host/oci/errors.ts";
export { InvalidReference } from "./host/oci/ref.ts";

let spawnModule: typeof import("./host/spawn.ts");
let objectModule: typeof import("./host/object_run.ts");
let ociModule: typeof import("./host/oci/mod.ts");

/**
 * Starts the guest at `wasm` (a path, a `file:` URL, the bytes, or an OCI
 * reference) in a process of its own and returns its handle; see
 * host/spawn.ts for the permissions it needs and gives.
 */
export function spawn(
  wasm: string | URL | Uint8Array,
  options: SpawnOptions = {},
): GuestProcess {
  return spawnModule.spawn(wasm, options);
}

/**
 * Runs the guest to its end in a process of its own ({@link spawn} plus its
 * status); an OCI reference is pulled, verified and checked against the
 * policy's `allowImages` first.
 */
export function run(
  wasm: string | URL | Uint8Array,
  options: SpawnOptions = {},
): Promise<GuestStatus> {
  return spawnModule.run(wasm, options);
}

/**
 * Loads a bare BPF object (a path or its bytes) through the guests' checks
 * and policy, sets its read-only globals, attaches every program by its
 * section and opens its buffers. Throws {@link SetError} for bad `set`
 * entries, AbiError for a malformed object, PolicyDenied or BpfError.
 */
export function runObject(
  file: string | Uint8Array,
  options: ObjectRunOptions = {},
): ObjectRun {
  return objectModule.runObject(file, options);
}

/**
 * A histogram as runqlat prints it: `unit : count distribution`, one line
 * per slot up to the last non-zero one, 40 stars for the largest count.
 */
export function formatHistogram(slots: number[], unit = "usecs"): string {
  return objectModule.formatHistogram(slots, unit);
}

/**
 * Pulls the guest at `ref` (`host[:port]/repo:tag` or `...@sha256:...`),
 * verified against its digests, through the cache when the registry cannot
 * be reached. Throws {@link InvalidReference}, {@link RegistryError} or
 * {@link ContentError}, each with a one-line message.
 */
export function pull(
  ref: string,
  options: RegistryOptions = {},
): Promise<Pulled> {
  return ociModule.pull(ref, options);
}

/**
 * Pushes `bytes` (a wasm module, or a bare BPF object) to `ref` in the
 * CNCF Wasm OCI artifact layout and returns the manifest's digest.
 */
export function push(
  bytes: Uint8Array,
  ref: string,
  options: RegistryOptions & { name?: string } = {},
): Promise<Pushed> {
  return ociModule.push(bytes, ref, options);
}

if (import.meta.main) {
  const { main } = await import("./host/cli.ts");
  Deno.exit(await main(Deno.args));
} else {
  [spawnModule, objectModule, ociModule] = await Promise.all([
    import("./host/spawn.ts"),
    import("./host/object_run.ts"),
    import("./host/oci/mod.ts"),
  ]);
}
