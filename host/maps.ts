/**
 * `wasm_bpf_map_operate`: bounds and policy checks, then one system call
 * through {@link BpfMap}'s raw operations (the fast path lives there).
 *
 * Some map types hold kernel objects named by fd in their values (maps of
 * maps, program arrays, device and CPU maps with an XDP program, socket,
 * XSK, cgroup and perf-event arrays). An update of such a map must carry
 * only fds this guest owns, of the right kind; otherwise a guest could
 * store another guest's map, found by trying fd numbers, and reach it from
 * a BPF program. A device map's ifindex must be an interface the policy
 * grants (`--allow-interface`): it is where `bpf_redirect_map` sends
 * packets. Sockets, XSKs, cgroups and perf events are never handed to
 * a guest as fds, so updates of those arrays are refused.
 *
 * @module
 */
import { type BpfMap, Errno, MapCommand } from "../ffi/mod.ts";
import { AbiError } from "./errors.ts";
import type { CarriedFd, MapSlot } from "./objects.ts";
import type { Session } from "./session.ts";
import { commandBits } from "./gate.ts";
import {
  STAT_MAP_DELETE,
  STAT_MAP_LOOKUP,
  STAT_MAP_NEXT_KEY,
  STAT_MAP_UPDATE,
} from "./metrics/stats.ts";

/** `enum bpf_map_type` values whose values hold fds, and what they hold. */
const CARRIED: Record<number, CarriedFd> = {
  3: "prog", // PROG_ARRAY
  4: "refused", // PERF_EVENT_ARRAY: perf event fds
  8: "refused", // CGROUP_ARRAY: cgroup fds
  12: "map", // ARRAY_OF_MAPS
  13: "map", // HASH_OF_MAPS
  14: "dev", // DEVMAP: ifindex, then an optional XDP program fd
  15: "refused", // SOCKMAP: socket fds
  16: "prog@4", // CPUMAP: queue size, then an optional XDP program fd
  17: "refused", // XSKMAP: AF_XDP socket fds
  18: "refused", // SOCKHASH: socket fds
  25: "dev", // DEVMAP_HASH
  26: "refused", // STRUCT_OPS: program fds inside kernel structs
};

/** What an update of `map` carries as fds, if anything. */
export function carriedFd(map: BpfMap): CarriedFd | undefined {
  return CARRIED[map.type];
}

/** Throws AbiError (EBADF) unless the fd in the value is the guest's own. */
function checkCarriedFd(s: Session, v: MapSlot, value: number): void {
  const { map, carries } = v;
  const at = (off: number) =>
    new DataView(s.mem.bytes.buffer).getInt32((value >>> 0) + off, true);
  const refuse = (why: string): never => {
    throw new AbiError(
      `wasm_bpf_map_operate: update of map '${map.name}' refused: ${why}`,
      Errno.EBADF,
    );
  };
  switch (carries) {
    case "map": {
      const fd = at(0);
      if (!s.objects.map(fd)) {
        refuse(`fd ${fd} is not a map of an open object of this guest`);
      }
      return;
    }
    case "prog": {
      const fd = at(0);
      if (!s.objects.ownsProgram(fd)) {
        refuse(`fd ${fd} is not a program of an open object of this guest`);
      }
      return;
    }
    case "dev":
      // where bpf_redirect_map sends packets: a granted interface only
      s.policy.checkRedirect(map.name, at(0) >>> 0);
      // falls through: then the program fd, as for a CPUMAP
    case "prog@4": {
      if (map.valueSize < 8) return; // no program fd in the value
      const fd = at(4);
      // the kernel attaches a program only for fd > 0
      if (fd > 0 && !s.objects.ownsProgram(fd)) {
        refuse(`fd ${fd} is not a program of an open object of this guest`);
      }
      return;
    }
    default:
      refuse(
        `its values are socket, XSK, cgroup, perf event or struct_ops fds (map type ${map.type}), which guests do not own`,
      );
  }
}

/**
 * Checks that `[ptr, ptr+len)` lies in the guest's memory of `size` bytes
 * (as last looked at) and is not NULL; on a miss GuestMemory.check looks
 * again (a shared memory grows without notice) and throws the fault.
 */
function inside(
  s: Session,
  ptr: number,
  len: number,
  size: number,
  what: string,
  of: string,
): void {
  const p = ptr >>> 0;
  if (p === 0 || p + len > size) s.mem.check(ptr, len, what, of);
}

/** host/operate.wat, assembled (`wat2wasm --enable-all`). */
// (a literal: decoding base64 costs ~2 ms in a cold process)
// deno-fmt-ignore
export const OPERATE_WASM = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x16, 0x02, 0x60,
  0x06, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7e, 0x01, 0x7f, 0x60, 0x07, 0x7f,
  0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x01, 0x7f, 0x02, 0x0b, 0x01, 0x04,
  0x68, 0x6f, 0x73, 0x74, 0x02, 0x6f, 0x70, 0x00, 0x01, 0x03, 0x03, 0x02,
  0x00, 0x00, 0x04, 0x05, 0x01, 0x70, 0x01, 0x01, 0x01, 0x07, 0x27, 0x03,
  0x05, 0x74, 0x61, 0x62, 0x6c, 0x65, 0x01, 0x00, 0x04, 0x73, 0x6c, 0x6f,
  0x77, 0x00, 0x01, 0x14, 0x77, 0x61, 0x73, 0x6d, 0x5f, 0x62, 0x70, 0x66,
  0x5f, 0x6d, 0x61, 0x70, 0x5f, 0x6f, 0x70, 0x65, 0x72, 0x61, 0x74, 0x65,
  0x00, 0x02, 0x09, 0x07, 0x01, 0x00, 0x41, 0x00, 0x0b, 0x01, 0x01, 0x0a,
  0x2d, 0x02, 0x17, 0x00, 0x20, 0x00, 0x20, 0x01, 0x20, 0x02, 0x20, 0x03,
  0x20, 0x04, 0x20, 0x05, 0xa7, 0x20, 0x05, 0x42, 0x20, 0x88, 0xa7, 0x10,
  0x00, 0x0b, 0x13, 0x00, 0x20, 0x00, 0x20, 0x01, 0x20, 0x02, 0x20, 0x03,
  0x20, 0x04, 0x20, 0x05, 0x41, 0x00, 0x11, 0x00, 0x00, 0x0b,

]);
let operateModule: WebAssembly.Module | undefined;

/** A map operation as the ABI has it, with the flags as `F`. */
export type MapOperation<F extends number | bigint> = (
  fd: number,
  cmd: number,
  key: number,
  value: number,
  next: number,
  flags: F,
) => number;

/** The guest's `wasm_bpf_map_operate` import and what the gate needs. */
export interface OperateImport {
  /**
   * The import (host/operate.wat): calls through `table`. Called from
   * JavaScript, it takes the flags as a bigint, as the import does.
   */
  operate: MapOperation<bigint>;
  /** Its one-entry table: `slow`, or the gate (host/gate.ts). */
  table: WebAssembly.Table;
  /** The JavaScript path as a wasm function (the table's first entry). */
  slow: (...args: never[]) => unknown;
}

/**
 * `op` behind the `wasm_bpf_map_operate` import: a JavaScript import with
 * an i64 parameter gets a new BigInt on every call, so the guest calls a
 * wasm function that splits the flags and calls `op` with them as a
 * number (the value `Number(flags)` would give).
 */
export function operateImport(op: MapOperation<number>): OperateImport {
  operateModule ??= new WebAssembly.Module(OPERATE_WASM);
  const join = (
    fd: number,
    cmd: number,
    key: number,
    value: number,
    next: number,
    lo: number,
    hi: number,
  ) =>
    op(
      fd,
      cmd,
      key,
      value,
      next,
      hi === 0
        ? lo >>> 0
        : Number(BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo >>> 0))),
    );
  const ex = new WebAssembly.Instance(operateModule, { host: { op: join } })
    .exports;
  return {
    operate: ex.wasm_bpf_map_operate as OperateImport["operate"],
    table: ex.table as WebAssembly.Table,
    slow: ex.slow as OperateImport["slow"],
  };
}

/**
 * The commands map slot `v` may take through the gate (host/gate.ts):
 * lookups and next keys always; updates and deletes when the policy allows
 * map writes and no audit record is wanted; updates also only when the
 * values carry no fds (those are checked on the JavaScript path).
 */
export function gateBits(s: Session, v: MapSlot): number {
  // the policy's own check, asked for this map and each write
  const allows = (op: "update" | "delete") => {
    if (s.auditing) return false;
    try {
      s.policy.checkMapWrite(v.map.name, op);
      return true;
    } catch {
      return false;
    }
  };
  return commandBits(true, allows("update") && !v.carries, allows("delete"));
}

/** `wasm_bpf_map_operate`: 0 or -errno. */
export function mapOperate(
  s: Session,
  fd: number,
  cmd: number,
  key: number,
  value: number,
  next: number,
  flags: number,
): number {
  const v = s.objects.map(fd);
  if (!v) {
    s.debug(
      `wasm_bpf_map_operate: fd ${fd} is not a map of an open object of this guest`,
    );
    return -Errno.EBADF;
  }
  const map = v.map;
  const mem = s.mem;
  const name = map.name;
  const ks = map.keySize;
  const f = flags;
  // bounds first (inline; GuestMemory.check builds the fault on a miss),
  // then policy; the operation takes offsets from the memory's address
  const size = mem.size;
  switch (cmd) {
    case MapCommand.LOOKUP_ELEM: {
      inside(s, key, ks, size, "lookup in map: key of", name);
      inside(
        s,
        value,
        map.valueBufferSize,
        size,
        "lookup in map: value of",
        name,
      );
      s.stats[STAT_MAP_LOOKUP]++;
      return map.operateIn(
        cmd,
        mem.baseLo,
        mem.baseHi,
        key >>> 0,
        value >>> 0,
        0,
        f,
      );
    }
    case MapCommand.UPDATE_ELEM: {
      inside(s, key, ks, size, "update of map: key of", name);
      inside(
        s,
        value,
        map.valueBufferSize,
        size,
        "update of map: value of",
        name,
      );
      s.policy.checkMapWrite(name, "update");
      if (v.carries) checkCarriedFd(s, v, value);
      if (s.auditing) s.audit({ event: "map_update", map: name });
      s.stats[STAT_MAP_UPDATE]++;
      return map.operateIn(
        cmd,
        mem.baseLo,
        mem.baseHi,
        key >>> 0,
        value >>> 0,
        0,
        f,
      );
    }
    case MapCommand.DELETE_ELEM: {
      inside(s, key, ks, size, "delete from map: key of", name);
      s.policy.checkMapWrite(name, "delete");
      if (s.auditing) s.audit({ event: "map_delete", map: name });
      s.stats[STAT_MAP_DELETE]++;
      return map.operateIn(cmd, mem.baseLo, mem.baseHi, key >>> 0, 0, 0, f);
    }
    case MapCommand.GET_NEXT_KEY: {
      if (key !== 0) inside(s, key, ks, size, "next key: key of", name);
      inside(s, next, ks, size, "next key: next key of", name);
      s.stats[STAT_MAP_NEXT_KEY]++;
      return map.operateIn(
        cmd,
        mem.baseLo,
        mem.baseHi,
        key >>> 0,
        0,
        next >>> 0,
        0,
      );
    }
    default:
      s.debug(`wasm_bpf_map_operate: unknown command ${cmd}`);
      return -Errno.EINVAL;
  }
}
