/**
 * `wasm_bpf_map_operate`: bounds and policy checks, then one system call
 * through {@link BpfMap}'s raw operations (the fast path lives there).
 *
 * Some map types hold kernel objects named by fd in their values (maps of
 * maps, program arrays, device and CPU maps with an XDP program, socket,
 * XSK, cgroup and perf-event arrays). An update of such a map must carry
 * only fds this guest owns, of the right kind; otherwise a guest could
 * store another guest's map, found by trying fd numbers, and reach it from
 * a BPF program. Sockets, XSKs, cgroups and perf events are never handed to
 * a guest as fds, so updates of those arrays are refused.
 *
 * @module
 */
import { type BpfMap, Errno, MapCommand } from "../ffi/mod.ts";
import { AbiError } from "./errors.ts";
import type { CarriedFd, MapSlot } from "./objects.ts";
import type { Session } from "./session.ts";

/** `enum bpf_map_type` values whose values hold fds, and what they hold. */
const CARRIED: Record<number, CarriedFd> = {
  3: "prog", // PROG_ARRAY
  4: "refused", // PERF_EVENT_ARRAY: perf event fds
  8: "refused", // CGROUP_ARRAY: cgroup fds
  12: "map", // ARRAY_OF_MAPS
  13: "map", // HASH_OF_MAPS
  14: "prog@4", // DEVMAP: ifindex, then an optional XDP program fd
  15: "refused", // SOCKMAP: socket fds
  16: "prog@4", // CPUMAP: queue size, then an optional XDP program fd
  17: "refused", // XSKMAP: AF_XDP socket fds
  18: "refused", // SOCKHASH: socket fds
  25: "prog@4", // DEVMAP_HASH
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

/** `wasm_bpf_map_operate`: 0 or -errno. */
export function mapOperate(
  s: Session,
  fd: number,
  cmd: number,
  key: number,
  value: number,
  next: number,
  flags: bigint,
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
  const f = Number(flags);
  // bounds first (the messages are built only on failure), then policy;
  // `address` checks and gives the native address of a guest pointer
  switch (cmd) {
    case MapCommand.LOOKUP_ELEM: {
      const k = mem.address(key, ks, "lookup in map: key of", name);
      const val = mem.address(
        value,
        map.valueBufferSize,
        "lookup in map: value of",
        name,
      );
      return map.lookupRaw(k, val, f);
    }
    case MapCommand.UPDATE_ELEM: {
      const k = mem.address(key, ks, "update of map: key of", name);
      const val = mem.address(
        value,
        map.valueBufferSize,
        "update of map: value of",
        name,
      );
      s.policy.checkMapWrite(name, "update");
      if (v.carries) checkCarriedFd(s, v, value);
      if (s.auditing) s.audit({ event: "map_update", map: name });
      return map.updateRaw(k, val, f);
    }
    case MapCommand.DELETE_ELEM: {
      const k = mem.address(key, ks, "delete from map: key of", name);
      s.policy.checkMapWrite(name, "delete");
      if (s.auditing) s.audit({ event: "map_delete", map: name });
      return map.deleteRaw(k, f);
    }
    case MapCommand.GET_NEXT_KEY: {
      const k = key === 0 ? 0 : mem.address(key, ks, "next key: key of", name);
      const n = mem.address(next, ks, "next key: next key of", name);
      return map.nextKeyRaw(k, n);
    }
    default:
      s.debug(`wasm_bpf_map_operate: unknown command ${cmd}`);
      return -Errno.EINVAL;
  }
}
