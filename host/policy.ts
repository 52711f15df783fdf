/**
 * What a guest may ask of the kernel. One policy type serves the library
 * API, the CLI flags and JSON policy files. The default allows what the
 * existing wasi-bpf hosts allow, so plain `app.wasm` runs work.
 *
 * @module
 */

/** Program kinds, derived from the ELF section. */
export const PROGRAM_KINDS = [
  "tracing",
  "uprobe",
  "networking",
  "cgroup",
  "lsm",
  "other",
] as const;
/** One of {@link PROGRAM_KINDS}. */
export type ProgramKind = typeof PROGRAM_KINDS[number];

/** A guest's permissions. Absent fields allow everything. */
export interface Policy {
  /** Program kinds the guest may load. */
  programKinds?: ProgramKind[];
  /** cgroup directories (or their parents) that sockops/cgroup programs may attach to. */
  cgroups?: string[];
  /** Interfaces xdp, tc and socket programs may attach to. */
  interfaces?: string[];
  /** Binaries (or libraries) uprobes may attach to. */
  binaries?: string[];
  /** Whether the guest may update and delete map entries (default true). */
  mapWrites?: boolean;
  /** Most BPF objects open at once. */
  maxObjects?: number;
  /** Guest memory ceiling in bytes (checked by `run`). */
  maxMemoryBytes?: number;
  /** Wall-clock limit in milliseconds (enforced by `run`). */
  timeoutMs?: number;
}

/** A request the policy denies; the import fails with -EPERM. */
export class PolicyDenied extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PolicyDenied";
  }
}

/** The kind of a program from its section name. */
export function programKind(section: string): ProgramKind {
  const s = section.replace(/^\?/, "");
  const head = s.split(/[/.]/)[0];
  if (
    /^(tp|tracepoint|raw_tp|raw_tracepoint|tp_btf|fentry|fexit|fmod_ret|kprobe|kretprobe|ksyscall|kretsyscall|perf_event|iter|kprobe\.multi|kretprobe\.multi)$/
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

function under(path: string, roots: string[]): boolean {
  const norm = (p: string) => p.replace(/\/+$/, "");
  return roots.some((r) =>
    norm(path) === norm(r) || norm(path).startsWith(norm(r) + "/")
  );
}

/** A policy with its checks; every check throws PolicyDenied. */
export function resolvePolicy(p: Policy = {}) {
  return {
    policy: p,
    checkObjectCount(open: number): void {
      if (p.maxObjects !== undefined && open >= p.maxObjects) {
        throw new PolicyDenied(
          `denied: guest asked to load BPF object number ${
            open + 1
          }, the limit is ${p.maxObjects} (--max-objects)`,
        );
      }
    },
    checkProgram(name: string, section: string): void {
      const kind = programKind(section);
      if (p.programKinds && !p.programKinds.includes(kind)) {
        throw new PolicyDenied(
          `denied: guest asked to load program '${name}' (section '${section}', kind ${kind}); allow it with --allow-kind=${kind}`,
        );
      }
    },
    checkAttach(name: string, section: string, target: string): void {
      const kind = programKind(section);
      const head = section.replace(/^\?/, "").split(/[/.]/)[0];
      const deny = (what: string, flag: string) => {
        throw new PolicyDenied(
          `denied: guest asked to attach program '${name}' (section '${section}') to ${what}; allow it with ${flag}`,
        );
      };
      if (kind === "cgroup" && p.cgroups && !under(target, p.cgroups)) {
        deny(`cgroup '${target}'`, `--allow-cgroup=${target}`);
      }
      if (kind === "networking" && p.interfaces && target) {
        const ifname = target.split(":")[0];
        if (!p.interfaces.includes(ifname)) {
          deny(`interface '${ifname}'`, `--allow-interface=${ifname}`);
        }
      }
      if (kind === "uprobe" && p.binaries) {
        const binary = target
          ? target.split(":")[0]
          : section.split("/")[1] ?? "";
        if (!p.binaries.some((b) => b === binary || binary.endsWith(`/${b}`))) {
          deny(`binary '${binary}'`, `--allow-binary=${binary}`);
        }
      }
      void head;
    },
    checkMapWrite(map: string, op: "update" | "delete"): void {
      if (p.mapWrites === false) {
        throw new PolicyDenied(
          `denied: guest asked to ${op} an entry of map '${map}', maps are read-only; allow it with --allow-map-writes`,
        );
      }
    },
  };
}

/**
 * Parses a JSON policy file's text: the fields of {@link Policy}, with
 * `timeoutMs`/`maxMemoryBytes` numbers. Unknown fields are an error.
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
  const lists = ["cgroups", "interfaces", "binaries"] as const;
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
    } else if (
      k === "maxObjects" || k === "maxMemoryBytes" || k === "timeoutMs"
    ) {
      if (typeof v !== "number" || !(v >= 0)) {
        throw new Error(`${source}: ${k} must be a non-negative number`);
      }
      out[k] = v;
    } else {
      throw new Error(`${source}: unknown field '${k}'`);
    }
  }
  return out;
}
