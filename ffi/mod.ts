/**
 * The eBPF layer over libbpf (through `Deno.dlopen`), independent of Wasm.
 *
 * @module
 */
export { closeFds, LibraryLoadError } from "./native.ts";
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
  type BufferReader,
  openBufferReader,
  PerfBufReader,
  type RecordHandler,
  RingBufReader,
  Waiter,
  type WaitResult,
  WakeFd,
} from "./buffers.ts";
