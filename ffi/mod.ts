/**
 * The eBPF layer over libbpf (through `Deno.dlopen`), independent of Wasm:
 * the only door into `ffi/`. The package's public part of it is what
 * `mod.ts` re-exports; the rest serves `host/`.
 *
 * @module
 */
export { LibraryLoadError, type Watchdog, watchdog } from "./native.ts";
export { BpfError, Errno, errnoName, errnoText } from "./errors.ts";
export { type ErrnoInfo, LIBBPF_ERRNOS, LINUX_ERRNOS } from "./constants.ts";
export { type LibbpfLogger, libbpfLogLock, useLibbpfLogLock } from "./log.ts";
export {
  BpfMap,
  BpfObject,
  Link,
  MapCommand,
  MapType,
  numPossibleCpus,
  type OpenOptions,
  Program,
  type Resource,
  UpdateFlags,
} from "./object.ts";
export {
  accessible,
  effectiveUid,
  type FileId,
  fileId,
  interfaceIndex,
  isRoot,
  type MappedFile,
  mapSystemFile,
  type MemoryFile,
  memoryFile,
  pathExists,
  readSystemFile,
  realPath,
  sameFile,
} from "./sys.ts";
export { MapFd } from "./map_fd.ts";
export {
  type BufferReader,
  openBufferReader,
  PerfBufReader,
  type RecordHandler,
  RingBufReader,
  Waiter,
  type WaitResult,
  WakeFd,
} from "./buffers.ts";
