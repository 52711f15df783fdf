/**
 * The import table: `wasm_bpf` (the six standard imports), the TinyGo
 * `callback-wrapper` poll and this host's `wasm_bpf_ext` extension, each a
 * thin wrapper that turns failures into the ABI's answer (see
 * {@link ./errors.ts}). The bodies live by concern in `load.ts`,
 * `objects.ts`, `maps.ts` and `poll.ts`.
 *
 * @module
 */
import { Errno } from "../ffi/mod.ts";
import { failure } from "./errors.ts";
import { attachProgram, loadObject } from "./load.ts";
import { mapOperate, operateImport } from "./maps.ts";
import { closeObject, mapFdByName } from "./objects.ts";
import { exportFn, poll, pollBatch, tableFn } from "./poll.ts";
import { PolicyDenied } from "./policy.ts";
import type { Session } from "./session.ts";
import { STAT_DENIALS } from "./metrics/stats.ts";

const EINVAL = -Errno.EINVAL;

/** The import object entries of guest `s`. */
export function abiImports(s: Session): WebAssembly.Imports {
  /** Runs an import body; any failure becomes the import's answer. */
  const guard = <T extends number | bigint>(
    what: string,
    fallback: T,
    body: () => T,
  ): T => {
    if (s.closed) return fallback;
    try {
      return body();
    } catch (e) {
      if (e instanceof PolicyDenied) s.stats[STAT_DENIALS]++;
      return failure(s, what, fallback, e);
    }
  };
  return {
    wasm_bpf: {
      wasm_load_bpf_object: (ptr: number, len: number): bigint =>
        guard("wasm_load_bpf_object", 0n, () => {
          const handle = loadObject(s, ptr, len);
          if (handle) s.objectLoaded(handle, ptr, len);
          return handle;
        }),
      wasm_close_bpf_object: (handle: bigint): number =>
        guard("wasm_close_bpf_object", EINVAL, () => {
          const r = closeObject(s, handle);
          if (r === 0) s.objectClosed(handle);
          return r;
        }),
      wasm_attach_bpf_program: (
        handle: bigint,
        name: number,
        target: number,
      ): number =>
        guard(
          "wasm_attach_bpf_program",
          EINVAL,
          () => attachProgram(s, handle, name, target),
        ),
      wasm_bpf_buffer_poll: (
        handle: bigint,
        fd: number,
        sampleFn: number,
        ctx: number,
        data: number,
        max: number,
        timeout: number,
      ): number =>
        guard(
          "wasm_bpf_buffer_poll",
          EINVAL,
          () =>
            poll(s, handle, fd, tableFn(s, sampleFn), ctx, data, max, timeout),
        ),
      wasm_bpf_map_fd_by_name: (handle: bigint, name: number): number =>
        guard(
          "wasm_bpf_map_fd_by_name",
          EINVAL,
          () => mapFdByName(s, handle, name),
        ),
      // the hot path: no closure per call, unlike the other imports, the
      // i64 flags arrive as a number (no BigInt per call), and once the
      // guest is bound the gate (host/gate.ts) may take the common calls
      wasm_bpf_map_operate: (s.operateImport ??= operateImport((
        fd: number,
        cmd: number,
        key: number,
        value: number,
        next: number,
        flags: number,
      ): number => {
        if (s.closed) return EINVAL;
        if (s.gateCountdown > 0 && --s.gateCountdown === 0) s.openGate();
        try {
          return mapOperate(s, fd, cmd, key, value, next, flags);
        } catch (e) {
          if (e instanceof PolicyDenied) s.stats[STAT_DENIALS]++;
          return failure(s, "wasm_bpf_map_operate", EINVAL, e);
        }
      })).operate,
    },
    [s.options.callbackModule ?? "callback-wrapper"]: {
      wasm_bpf_buffer_poll: (
        handle: bigint,
        fd: number,
        ctx: number,
        data: number,
        max: number,
        timeout: number,
      ): number =>
        guard(
          "wasm_bpf_buffer_poll",
          EINVAL,
          () => poll(s, handle, fd, exportFn(s), ctx, data, max, timeout),
        ),
    },
    wasm_bpf_ext: {
      wasm_bpf_buffer_poll_batch: (
        handle: bigint,
        fd: number,
        buf: number,
        len: number,
        timeout: number,
      ): number =>
        guard(
          "wasm_bpf_buffer_poll_batch",
          EINVAL,
          () => pollBatch(s, handle, fd, buf, len, timeout),
        ),
    },
  };
}
