/**
 * What a guest may ask of the kernel. One policy type serves the library
 * API, the CLI flags and JSON policy files. The default allows what the
 * existing wasi-bpf hosts allow, so plain `app.wasm` runs work, within two
 * caps that hold even then: {@link DEFAULT_MAX_OBJECTS} open objects and
 * {@link DEFAULT_MAX_MAP_MEMORY_BYTES} of map memory.
 *
 * Attach targets are compared by identity, not by spelling: cgroup
 * directories and binaries by device and inode after resolving symlinks and
 * `..` on both sides, interfaces by ifindex.
 *
 * @module
 */
import type { ProgramInfo } from "../objfile/inspect.ts";

export type { ProgramInfo };
import { helperId } from "../objfile/helper_ids.ts";
import {
  accessible,
  type FileId,
  fileId as idOf,
  interfaceIndex,
  numPossibleCpus,
  pathExists as exists,
  realPath,
  sameFile as same,
} from "../ffi/mod.ts";

/**
 * Program kinds, derived from the ELF section. `lsm`, `fmod_ret`,
 * `struct_ops`, `freplace` and `syscall` act on the system by nature
 * ({@link ACTING_KINDS}).
 */
export const PROGRAM_KINDS = [
  "tracing",
  "uprobe",
  "networking",
  "cgroup",
  "lsm",
  "fmod_ret",
  "struct_ops",
  "freplace",
  "syscall",
  "other",
] as const;
/** One of {@link PROGRAM_KINDS}. */
export type ProgramKind = typeof PROGRAM_KINDS[number];

/**
 * Kinds whose programs change what the kernel does rather than watch it:
 * `lsm` denies operations, `fmod_ret` rewrites kernel functions' return
 * values, `struct_ops` replaces kernel callbacks (TCP congestion control,
 * schedulers), `freplace` replaces another BPF program's functions, and
 * `syscall` programs run bpf(2) commands themselves. Under `--restricted`
 * each needs its own `--allow-kind`.
 */
export const ACTING_KINDS: readonly ProgramKind[] = [
  "lsm",
  "fmod_ret",
  "struct_ops",
  "freplace",
  "syscall",
];

/**
 * The most BPF objects a guest may hold open when the policy sets no
 * `maxObjects` (each holds fds and kernel memory; without a cap a guest
 * filled the host's fd table).
 */
export const DEFAULT_MAX_OBJECTS = 64;
/** The map memory a guest may hold when the policy sets none: 256 MiB. */
export const DEFAULT_MAX_MAP_MEMORY_BYTES = 256 * 2 ** 20;

/** A guest's permissions. Absent fields allow everything, within the default caps. */
export interface Policy {
  /** Program kinds the guest may load. */
  programKinds?: ProgramKind[];
  /** cgroup directories that sockops/cgroup programs may attach to, with their descendants. */
  cgroups?: string[];
  /** Interfaces xdp, tc and socket programs may attach to. */
  interfaces?: string[];
  /** Binaries (or libraries) uprobes may attach to. */
  binaries?: string[];
  /**
   * Acting helpers and kfuncs ({@link actingHelpers}) the guest's programs
   * may call; absent: all. Observing helpers are always allowed.
   */
  helpers?: string[];
  /**
   * Directories maps may be pinned under (the first is libbpf's pin root).
   * Absent or empty: no map may be pinned, in any mode.
   */
  pinDirs?: string[];
  /** Whether the guest may update and delete map entries (default true). */
  mapWrites?: boolean;
  /** Most BPF objects open at once (default {@link DEFAULT_MAX_OBJECTS}). */
  maxObjects?: number;
  /** Most kernel memory of all the guest's maps (default {@link DEFAULT_MAX_MAP_MEMORY_BYTES}). */
  maxMapMemoryBytes?: number;
  /**
   * Guest memory ceiling in bytes: linear memory and the JavaScript heap.
   * Enforced by `run()`/`spawn()` and the CLI; `WasmBpfHost` ignores it (an
   * embedder running its own instance enforces it itself).
   */
  maxMemoryBytes?: number;
  /**
   * Wall-clock limit in milliseconds. Enforced by `run()`/`spawn()` and the
   * CLI; `WasmBpfHost` ignores it.
   */
  timeoutMs?: number;
  /**
   * OCI references a guest may be run from (CLI, `run()`): glob patterns
   * where `*` matches any run of characters, e.g.
   * `"localhost:5000/tools/*@sha256:*"` (digests only). Absent: any
   * reference; empty: none. Files on disk are not affected.
   */
  allowImages?: string[];
}

/** A request the policy denies; the import fails with -EPERM. */
export class PolicyDenied extends Error {
  /** A denial with its one-line reason (what, where, which flag allows it). */
  constructor(message: string) {
    super(message);
    this.name = "PolicyDenied";
  }
}

/** A section name's program type: `xdp` of `xdp.frags`, `tp` of `tp/a/b` (`?` dropped). */
export function sectionHead(section: string): string {
  return section.replace(/^\?/, "").split(/[/.]/)[0];
}

/** The kind of a program from its section name. */
export function programKind(section: string): ProgramKind {
  const head = sectionHead(section);
  if (head === "fmod_ret") return "fmod_ret";
  if (head === "struct_ops") return "struct_ops";
  if (head === "freplace") return "freplace";
  if (head === "syscall") return "syscall";
  if (
    /^(tp|tracepoint|raw_tp|raw_tracepoint|tp_btf|fentry|fexit|kprobe|kretprobe|ksyscall|kretsyscall|perf_event|iter)$/
      .test(head)
  ) return "tracing";
  if (/^(uprobe|uretprobe|usdt)$/.test(head)) return "uprobe";
  if (
    /^(socket|xdp|tc|tcx|classifier|action|sk_skb|sk_msg|sk_lookup|flow_dissector|lwt_in|lwt_out|lwt_xmit|lwt_seg6local|sk_reuseport|netfilter)$/
      .test(head)
  ) return "networking";
  if (head === "sockops" || head.startsWith("cgroup")) return "cgroup";
  if (head === "lsm" || head === "lsm_cgroup") return "lsm";
  return "other";
}

/**
 * Helpers that act on the system instead of observing it, with why. A
 * program calling one is refused under `--restricted` unless
 * `--allow-helper` names it. Chosen from `/usr/include/linux/bpf.h` and the
 * kernel's `enum bpf_func_id`: what signals or changes other processes,
 * writes their memory, changes a kernel function's result, a system call's
 * result or a socket's behaviour, runs bpf(2), or injects input. Packet
 * rewriting helpers are not here (they act only on the traffic of the
 * interface or cgroup that `--allow-interface` / `--allow-cgroup`
 * granted); redirection by interface index is, since it sends packets out
 * of interfaces that no grant covers. Helpers this host does not know
 * (`helper#N`) count as acting too.
 */
export const ACTING_HELPERS: Readonly<Record<string, string>> = {
  bpf_send_signal: "sends a signal to the current process",
  bpf_send_signal_thread: "sends a signal to the current thread",
  bpf_probe_write_user: "writes the memory of the current process",
  bpf_override_return: "changes the return value of a kernel function",
  bpf_set_retval: "changes the result of a system call",
  bpf_sysctl_set_new_value: "changes the value written to a sysctl",
  bpf_bprm_opts_set: "changes how a program is executed",
  bpf_setsockopt: "changes options of other processes' sockets",
  bpf_sock_map_update: "moves other processes' sockets into a redirecting map",
  bpf_sock_hash_update: "moves other processes' sockets into a redirecting map",
  bpf_sys_bpf: "runs bpf(2) commands",
  bpf_sys_close: "closes file descriptors",
  bpf_rc_keydown: "injects remote-control key presses",
  bpf_rc_repeat: "injects remote-control key repeats",
  bpf_rc_pointer_rel: "injects pointer movement",
  // the interface grant covers where a program attaches, not where it sends
  bpf_redirect: "sends packets out of any interface, named by index",
  bpf_redirect_peer: "sends packets into any interface's peer namespace",
  bpf_redirect_neigh: "sends packets out of any interface, named by index",
  bpf_clone_redirect: "sends copies of packets out of any interface",
};

/**
 * kfuncs that only read (open-coded number iterators, RCU read sections);
 * every other kfunc counts as acting: kfuncs are kernel functions exported
 * one by one, many of them change state (`bpf_send_signal_task`,
 * `bpf_obj_new`, `bpf_cgroup_acquire`, ...), and new ones come with every
 * kernel, so a host cannot vet them by default.
 */
export const READ_ONLY_KFUNCS: readonly string[] = [
  "bpf_iter_num_new",
  "bpf_iter_num_next",
  "bpf_iter_num_destroy",
  "bpf_rcu_read_lock",
  "bpf_rcu_read_unlock",
];

/** The acting helpers and kfuncs `p` calls (see {@link ACTING_HELPERS}). */
export function actingHelpers(p: ProgramInfo): string[] {
  return [
    ...p.helpers.filter((h) => h in ACTING_HELPERS || h.startsWith("helper#")),
    ...p.kfuncs.filter((k) => !READ_ONLY_KFUNCS.includes(k)),
  ];
}

/** What a program does that it needs granted, with the reason. */
function why(helper: string): string {
  if (helper in ACTING_HELPERS) return ACTING_HELPERS[helper];
  if (helper.startsWith("helper#")) return "a helper this host does not know";
  return "a kfunc, which may change kernel state";
}

/** A map as the policy sees it: libbpf's view after open, before load. */
export interface MapInfo {
  /** The map's name (as libbpf names it). */
  name: string;
  /** `enum bpf_map_type`. */
  type: number;
  /** Key size in bytes. */
  keySize: number;
  /** Value size in bytes. */
  valueSize: number;
  /** `max_entries` (bytes of a ring buffer). */
  maxEntries: number;
  /** Where libbpf would pin it (maps declared with `pinning`). */
  pinPath?: string;
}

const RINGBUF = 27;
const USER_RINGBUF = 31;
const PERCPU_TYPES = new Set([5, 6, 10, 21]); // hash, array, lru hash, cgroup storage
const ARRAY_TYPES = new Set([2, 3, 4, 6, 8, 12, 17]); // array, prog/perf/cgroup array, array of maps, devmap
/** Bytes the kernel adds to each hash-table element (header, bucket, lock). */
export const HASH_ELEM_OVERHEAD = 64;
const round8 = (n: number) => Math.ceil(n / 8) * 8;

/**
 * Estimates the kernel memory of a map, in bytes:
 * - ring buffers: `max_entries` (the data area) + 2 pages (its headers);
 * - arrays: `max_entries × round8(value)`;
 * - everything else (hashes, LRU, tries, storage):
 *   `max_entries × (round8(key) + round8(value) + HASH_ELEM_OVERHEAD)`;
 * - per-CPU maps: the value part times `ncpus` (possible CPUs).
 * Kernels preallocate most of these at creation; the estimate is an upper
 * bound of that order, meant to refuse the absurd, not to account exactly.
 */
export function estimateMapBytes(m: MapInfo, ncpus: number): number {
  const entries = m.maxEntries;
  if (m.type === RINGBUF || m.type === USER_RINGBUF) return entries + 2 * 4096;
  const value = round8(m.valueSize) * (PERCPU_TYPES.has(m.type) ? ncpus : 1);
  if (ARRAY_TYPES.has(m.type)) return entries * value;
  return entries * (round8(m.keySize) + value + HASH_ELEM_OVERHEAD);
}

let possibleCpus = 0;
function ncpusPossible(): number {
  if (!possibleCpus) {
    try {
      possibleCpus = numPossibleCpus();
    } catch {
      // no libbpf: what Deno sees
    }
    if (!(possibleCpus > 0)) possibleCpus = navigator.hardwareConcurrency || 1;
  }
  return possibleCpus;
}

const MiB = (n: number) => `${Math.ceil(n / 2 ** 20)} MiB`;

function parentDir(p: string): string {
  const i = p.lastIndexOf("/");
  return i <= 0 ? "/" : p.slice(0, i);
}

/**
 * Where libbpf finds a uprobe binary given without a `/` (as its
 * `resolve_full_path`): libraries in LD_LIBRARY_PATH and the library
 * directories, programs in PATH and /usr/bin:/usr/sbin.
 */
function searchBinary(file: string): string | undefined {
  if (file.includes("/")) return file;
  if (!file) return undefined;
  const env = (k: string) => {
    try {
      return Deno.env.get(k) ?? "";
    } catch {
      return "";
    }
  };
  const lib = /\.so$|\.so\./.test(file);
  const dirs = lib
    ? [env("LD_LIBRARY_PATH"), "/usr/lib64:/usr/lib", "/lib/x86_64-linux-gnu"]
    : [env("PATH"), "/usr/bin:/usr/sbin"];
  for (const d of dirs.join(":").split(":").filter(Boolean)) {
    const p = `${d}/${file}`;
    if (accessible(p, !lib)) {
      return p;
    }
  }
  return undefined;
}

const ifindex = interfaceIndex;

/** A helper name in the `bpf_` form (kfunc names are kept). */
function helperKey(name: string): string {
  return !name.startsWith("bpf_") && helperId(name) !== undefined
    ? `bpf_${name}`
    : name;
}

/** Options of {@link resolvePolicy}. */
export interface ResolveOptions {
  /** Possible CPUs (per-CPU map sizes); default libbpf_num_possible_cpus(). */
  ncpus?: number;
}

/**
 * A policy resolved for checking; every check throws {@link PolicyDenied}
 * naming what was asked, by which program or map, and the flag that
 * allows it.
 */
export interface PolicyChecks {
  /** The policy as given. */
  policy: Policy;
  /** The most objects open at once (the policy's or the default). */
  maxObjects: number;
  /** The most map memory in bytes (the policy's or the default). */
  maxMapMemoryBytes: number;
  /** The first granted pin directory: libbpf's `pin_root_path`. */
  pinRoot: string | undefined;
  /**
   * That directory resolved when the policy was (symlinks, `.`, `..`) and
   * its identity then: where host/pins.ts pins, by an fd opened without
   * following a symlink.
   */
  pinRootDir: { path: string; id: FileId } | undefined;
  /** Refuses object number `open + 1`. */
  checkObjectCount(open: number): void;
  /** Refuses a program of a kind not granted. */
  checkProgram(name: string, section: string): void;
  /**
   * Refuses programs of kinds not granted, and programs calling acting
   * helpers or kfuncs ({@link actingHelpers}) not granted (when the policy
   * lists helpers, as `--restricted` does). Give it the programs libbpf
   * will load.
   */
  checkPrograms(objectName: string, programs: ProgramInfo[]): void;
  /**
   * Refuses maps that would take the guest past its map-memory cap (the
   * object's maps plus `heldBytes`, what its open objects hold; see
   * {@link estimateMapBytes}) and pins outside the granted directories,
   * with a `/` or `..` in the name, or where a pin exists already (it
   * would be reused). Returns the object's estimated bytes.
   */
  checkMaps(objectName: string, maps: MapInfo[], heldBytes?: number): number;
  /**
   * Refuses an attach target not granted, compared by identity, with the
   * same message whether the path exists or not. Returns the target the
   * host must attach to: for cgroups and uprobes the resolved path (the
   * one checked), else `target` unchanged.
   */
  checkAttach(name: string, section: string, target: string): string;
  /** Refuses map updates and deletes when maps are read-only. */
  checkMapWrite(map: string, op: "update" | "delete"): void;
  /**
   * Refuses an ifindex written into device map `map` (DEVMAP,
   * DEVMAP_HASH: where `bpf_redirect_map` sends packets) that is not a
   * granted interface; any is allowed when the policy lists none.
   */
  checkRedirect(map: string, ifindex: number): void;
}

/**
 * Resolves a policy for checking ({@link PolicyChecks}). The granted
 * cgroups, binaries and interfaces are resolved here, once: a grant that
 * does not exist now matches nothing.
 */
export function resolvePolicy(
  p: Policy = {},
  opts: ResolveOptions = {},
): PolicyChecks {
  const maxObjects = p.maxObjects ?? DEFAULT_MAX_OBJECTS;
  const maxMapBytes = p.maxMapMemoryBytes ?? DEFAULT_MAX_MAP_MEMORY_BYTES;
  const grantIds = (paths: string[] | undefined) =>
    (paths ?? []).map((g) => idOf(g)).filter((x): x is FileId => !!x);
  const cgroupIds = grantIds(p.cgroups);
  const binaryIds = grantIds(p.binaries?.map((b) => searchBinary(b) ?? b));
  const pinDirIds = grantIds(p.pinDirs);
  const pinRootReal = p.pinDirs?.[0] ? realPath(p.pinDirs[0]) : undefined;
  const pinRootId = pinRootReal ? idOf(pinRootReal) : undefined;
  const pinRootDir = pinRootReal && pinRootId
    ? { path: pinRootReal, id: pinRootId }
    : undefined;
  const ifindexes = (p.interfaces ?? []).map(ifindex).filter((x) =>
    x !== undefined
  );
  const helpers = p.helpers?.map(helperKey);
  const kinds = p.programKinds;

  const checkKind = (name: string, section: string) => {
    const kind = programKind(section);
    if (kinds && !kinds.includes(kind)) {
      throw new PolicyDenied(
        `denied: guest asked to load program '${name}' (section '${section}', kind ${kind}); allow it with --allow-kind=${kind}`,
      );
    }
  };

  return {
    policy: p,
    /** The most objects open at once (the policy's or the default). */
    maxObjects,
    /** The most map memory in bytes (the policy's or the default). */
    maxMapMemoryBytes: maxMapBytes,
    /** The first granted pin directory: libbpf's `pin_root_path`. */
    pinRoot: p.pinDirs?.[0],
    /** That directory resolved now, and its identity. */
    pinRootDir,

    /** Refuses object number `open + 1`. */
    checkObjectCount(open: number): void {
      if (open >= maxObjects) {
        throw new PolicyDenied(
          `denied: guest asked to load BPF object number ${
            open + 1
          }, the limit is ${maxObjects} (--max-objects)`,
        );
      }
    },

    /** Refuses a program of a kind not granted. */
    checkProgram(name: string, section: string): void {
      checkKind(name, section);
    },

    /**
     * Refuses programs of kinds not granted, and programs calling acting
     * helpers or kfuncs ({@link actingHelpers}) not granted (when the
     * policy lists helpers, as `--restricted` does). Give it the programs
     * libbpf will load.
     */
    checkPrograms(objectName: string, programs: ProgramInfo[]): void {
      for (const prog of programs) {
        checkKind(prog.name, prog.section);
        if (!helpers) continue;
        for (const h of actingHelpers(prog)) {
          if (!helpers.includes(h)) {
            throw new PolicyDenied(
              `denied: program '${prog.name}' (section '${prog.section}') of object '${objectName}' calls ${h}, which ${
                why(h).replace(/^a /, "is a ")
              }; allow it with --allow-helper=${h}`,
            );
          }
        }
      }
    },

    /**
     * Refuses maps that would take the guest past its map-memory cap (the
     * object's maps plus `heldBytes`, what its open objects hold; see
     * {@link estimateMapBytes}) and pins outside the granted directories,
     * with a `/` or `..` in the name, or where a pin exists already (it
     * would be reused). Returns the object's estimated bytes.
     */
    checkMaps(objectName: string, maps: MapInfo[], heldBytes = 0): number {
      const ncpus = opts.ncpus ?? ncpusPossible();
      let total = 0;
      let largest: { m: MapInfo; bytes: number } | undefined;
      for (const m of maps) {
        const bytes = estimateMapBytes(m, ncpus);
        total += bytes;
        if (!largest || bytes > largest.bytes) largest = { m, bytes };
        if (m.pinPath !== undefined) checkPin(objectName, m, m.pinPath);
      }
      if (heldBytes + total > maxMapBytes) {
        throw new PolicyDenied(
          `denied: the maps of object '${objectName}' need about ${
            MiB(total)
          } of kernel memory (largest: map '${largest!.m.name}', ${
            MiB(largest!.bytes)
          }), the guest holds ${MiB(heldBytes)} already and the limit is ${
            MiB(maxMapBytes)
          }; raise it with --max-map-memory=MIB`,
        );
      }
      return total;
    },

    /**
     * Refuses an attach target not granted, compared by identity. Returns
     * the target the host must attach to: for cgroups and uprobes the
     * resolved path (the one checked), else `target` unchanged.
     */
    checkAttach(name: string, section: string, target: string): string {
      const kind = programKind(section);
      const deny = (what: string, flag: string): never => {
        throw new PolicyDenied(
          `denied: guest asked to attach program '${name}' (section '${section}') to ${what}; allow it with ${flag}`,
        );
      };
      if (kind === "cgroup") {
        const real = target ? realPath(target) : undefined;
        if (p.cgroups) {
          let ok = false;
          for (let d = real; d !== undefined; d = parentDir(d)) {
            const id = idOf(d);
            if (id && cgroupIds.some((g) => same(g, id))) ok = true;
            if (ok || d === "/") break;
          }
          if (!ok) deny(`cgroup '${target}'`, `--allow-cgroup=${target}`);
        }
        return real ?? target;
      }
      if (kind === "networking" && p.interfaces && target) {
        const ifname = target.split(":")[0];
        const idx = ifindex(ifname);
        if (idx === undefined || !ifindexes.includes(idx)) {
          deny(`interface '${ifname}'`, `--allow-interface=${ifname}`);
        }
      }
      if (kind === "uprobe") {
        // usdt targets are not binary:function: attach them as asked
        const usdt = sectionHead(section) === "usdt";
        const sec = section.replace(/^\?/, "");
        const spec = target ||
          (sec.includes("/") ? sec.slice(sec.indexOf("/") + 1) : "");
        const colon = spec.indexOf(":");
        const binary = colon >= 0 ? spec.slice(0, colon) : spec;
        const rest = colon >= 0 ? spec.slice(colon) : "";
        const found = binary ? searchBinary(binary) : undefined;
        const real = found ? realPath(found) : undefined;
        if (p.binaries) {
          const id = real ? idOf(real) : undefined;
          if (!id || !binaryIds.some((g) => same(g, id))) {
            deny(`binary '${binary}'`, `--allow-binary=${binary}`);
          }
        }
        return real && !usdt ? real + rest : target;
      }
      return target;
    },

    /** Refuses map updates and deletes when maps are read-only. */
    checkMapWrite(map: string, op: "update" | "delete"): void {
      if (p.mapWrites === false) {
        throw new PolicyDenied(
          `denied: guest asked to ${op} an entry of map '${map}', maps are read-only; allow it with --allow-map-writes`,
        );
      }
    },

    /**
     * Refuses an ifindex written into device map `map` that is not a
     * granted interface; any is allowed when the policy lists none.
     */
    checkRedirect(map: string, ifindex: number): void {
      if (p.interfaces && !ifindexes.includes(ifindex)) {
        throw new PolicyDenied(
          `denied: guest asked to send packets to interface ${ifindex} through device map '${map}', which is not a granted interface; allow it with --allow-interface=NAME`,
        );
      }
    },
  };

  function checkPin(objectName: string, m: MapInfo, pinPath: string): void {
    const deny = (what: string, flag: string): never => {
      throw new PolicyDenied(
        `denied: map '${m.name}' of object '${objectName}' asks to be pinned at '${pinPath}'${what}; ${flag}`,
      );
    };
    const base = pinPath.slice(pinPath.lastIndexOf("/") + 1);
    if (m.name.includes("/") || m.name.includes("..") || base.includes("..")) {
      deny(", a name with '/' or '..'", "rename the map");
    }
    {
      // pins are refused unless a directory was granted: a pin outlives
      // the guest and is shared with every program that knows its path
      const dir = realPath(parentDir(pinPath));
      const id = dir ? idOf(dir) : undefined;
      if (!id || !pinDirIds.some((g) => same(g, id))) {
        deny(
          "",
          `allow a directory with --allow-pin=DIR (the maps are pinned under the first one)`,
        );
      }
    }
    if (exists(pinPath)) {
      deny(
        ", where a pin exists already (it would be another program's map)",
        "remove the pin or rename the map",
      );
    }
  }
}

/**
 * Parses a JSON policy file's text: the fields of {@link Policy}, with
 * `timeoutMs`/`maxMemoryBytes`/`maxMapMemoryBytes` numbers. Unknown fields
 * are an error.
 */
export function parsePolicy(text: string, source = "policy"): Policy {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${source}: not valid JSON: ${(e as Error).message}`);
  }
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) {
    throw new Error(`${source}: expected a JSON object`);
  }
  const out: Policy = {};
  const lists = [
    "cgroups",
    "interfaces",
    "binaries",
    "helpers",
    "pinDirs",
    "allowImages",
  ] as const;
  const numbers = [
    "maxObjects",
    "maxMemoryBytes",
    "maxMapMemoryBytes",
    "timeoutMs",
  ] as const;
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (k === "programKinds") {
      if (!Array.isArray(v) || v.some((x) => !PROGRAM_KINDS.includes(x))) {
        throw new Error(
          `${source}: programKinds must be a list of ${
            PROGRAM_KINDS.join(", ")
          }`,
        );
      }
      out.programKinds = v;
    } else if ((lists as readonly string[]).includes(k)) {
      if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) {
        throw new Error(`${source}: ${k} must be a list of strings`);
      }
      out[k as typeof lists[number]] = v;
    } else if (k === "mapWrites") {
      if (typeof v !== "boolean") {
        throw new Error(`${source}: mapWrites must be true or false`);
      }
      out.mapWrites = v;
    } else if ((numbers as readonly string[]).includes(k)) {
      if (typeof v !== "number" || !(v >= 0)) {
        throw new Error(`${source}: ${k} must be a non-negative number`);
      }
      out[k as typeof numbers[number]] = v;
    } else {
      throw new Error(`${source}: unknown field '${k}'`);
    }
  }
  return out;
}
