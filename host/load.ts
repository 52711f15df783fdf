/**
 * `wasm_load_bpf_object` and `wasm_attach_bpf_program`: what a guest's
 * object must pass before libbpf sees it, and where its programs may go.
 *
 * @module
 */
import {
  BpfError,
  BpfObject,
  Errno,
  isRoot,
  type LibbpfLogger,
} from "../ffi/mod.ts";
import { type ElfFile, ObjectFileError } from "../objfile/elf.ts";
import { inspectPrograms, type ProgramInfo } from "../objfile/inspect.ts";
import { validateBpfObject } from "../objfile/validate.ts";
import { coreBtfFor } from "./core_btf.ts";
import { AbiError } from "./errors.ts";
import { carriedFd } from "./maps.ts";
import { ObjectPins } from "./pins.ts";
import { actingHelpers, type PolicyChecks } from "./policy.ts";
import type { Session } from "./session.ts";

/** `wasm_load_bpf_object`: a new handle (failures throw; the import says 0). */
export function loadObject(s: Session, ptr: number, len: number): bigint {
  s.checkInterrupt();
  if (len <= 0) {
    throw new AbiError(
      `wasm_load_bpf_object: object length ${len} is not positive`,
      Errno.EINVAL,
    );
  }
  s.policy.checkObjectCount(s.objects.size);
  const bytes = s.mem.view(ptr, len, "wasm_load_bpf_object: object bytes")
    .slice();
  const handle = s.objects.nextHandle();
  const name = `${s.name}#${handle}`;
  const { obj, programs, heldBytes, pins } = openAndLoad(name, bytes, {
    policy: s.policy,
    heldBytes: s.objects.heldBytes,
    logger: s.libbpfLogger(),
  });
  s.objects.add(handle, obj, heldBytes, pins, carriedFd);
  s.debug(
    `loaded object ${name}: programs ${
      obj.programs.map((p) => `${p.name} (${p.section})`).join(", ")
    }; maps ${obj.maps.map((m) => m.name).join(", ")}`,
  );
  s.audit({
    event: "load",
    handle: Number(handle),
    programs: programs.map((p) => ({
      name: p.name,
      section: p.section,
      helpers: actingHelpers(p),
    })),
    maps: obj.maps.map((m) => m.name),
    heldBytes,
  });
  s.fdsChanged();
  return handle;
}

/** What {@link openAndLoad} checks an object against. */
export interface LoadChecks {
  /** The resolved policy (programs, maps, pins). */
  policy: PolicyChecks;
  /** Map bytes the caller's other objects hold (the memory cap is shared). */
  heldBytes: number;
  /** Where libbpf's lines go. */
  logger?: LibbpfLogger;
}

/** An object {@link openAndLoad} loaded. */
export interface CheckedObject {
  /** The loaded object. */
  obj: BpfObject;
  /** The programs libbpf loaded (autoload on), as inspected. */
  programs: ProgramInfo[];
  /** Its maps' estimated kernel memory. */
  heldBytes: number;
  /** Maps pinned at load (beneath the granted directory's fd). */
  pins: ObjectPins | undefined;
}

/**
 * The load path every object takes, guest's or bare: the ELF and BTF
 * checked, the programs' kinds and helpers against the policy, opened
 * with the policy's pin root, the maps against the memory cap and pin
 * rules, then loaded. Throws {@link AbiError} (malformed object, not
 * root), PolicyDenied or BpfError; nothing stays open on failure.
 */
export function openAndLoad(
  name: string,
  bytes: Uint8Array,
  checks: LoadChecks,
): CheckedObject {
  // before libbpf sees anything: the structure, then what the code calls
  const { elf, programs: all } = inspect(name, bytes);
  // autoload off: libbpf does not load them
  const programs = all.filter((p) => !p.section.startsWith("?"));
  checks.policy.checkPrograms(name, programs);
  // the kernel BTF its CO-RE relocations need (read by libbpf at load)
  const coreBtf = coreBtfFor(elf);
  let obj: BpfObject;
  try {
    obj = BpfObject.open(bytes, {
      name,
      logger: checks.logger,
      pinRoot: checks.policy.pinRoot,
      btfCustomPath: coreBtf?.path,
    });
  } catch (e) {
    coreBtf?.close();
    throw e;
  }
  try {
    const heldBytes = checks.policy.checkMaps(
      name,
      obj.maps.map((m) => ({
        name: m.name,
        type: m.type,
        keySize: m.keySize,
        valueSize: m.valueSize,
        maxEntries: m.maxEntries,
        pinPath: m.pinPath,
      })),
      checks.heldBytes,
    );
    // libbpf would pin (or reuse a pin) by path after this check, racing
    // whoever can change the path: the host pins beneath an fd instead
    const wanted = obj.maps.filter((m) => m.pinPath !== undefined).map((m) => {
      const path = m.pinPath!;
      m.clearPinPath();
      return { map: m, name: path.slice(path.lastIndexOf("/") + 1) };
    });
    obj.load();
    const pins = ObjectPins.pin(name, checks.policy.pinRootDir, wanted);
    return { obj, programs, heldBytes, pins };
  } catch (e) {
    obj.close();
    if (
      e instanceof BpfError && e.errno === Errno.EPERM && !isRoot()
    ) {
      throw new AbiError(
        `cannot load BPF object '${name}': not running as root: loading BPF programs needs root (or CAP_BPF and CAP_PERFMON)`,
        e.errno,
      );
    }
    throw e;
  } finally {
    coreBtf?.close(); // libbpf read it during load
  }
}

/** `wasm_attach_bpf_program`: 0 (failures throw). */
export function attachProgram(
  s: Session,
  handle: bigint,
  namePtr: number,
  targetPtr: number,
): number {
  s.checkInterrupt();
  const e = s.objects.entry(handle, "wasm_attach_bpf_program");
  const name = s.mem.cstring(namePtr, "wasm_attach_bpf_program: program name");
  const target = targetPtr === 0
    ? ""
    : s.mem.cstring(targetPtr, "wasm_attach_bpf_program: target");
  const prog = e.obj.program(name);
  // the policy resolves the target (cgroup, binary) it checked: that one
  const checked = s.policy.checkAttach(prog.name, prog.section, target);
  const link = prog.attach(checked, s.libbpfLogger());
  s.debug(`attached ${link.description}`);
  s.audit({
    event: "attach",
    handle: Number(handle),
    program: name,
    section: prog.section,
    target: checked,
  });
  s.fdsChanged();
  return 0;
}

/**
 * Checks the object's ELF structure and BTF (libbpf trusts its input more
 * than a host of untrusted guests may) and lists its programs' calls.
 */
function inspect(
  name: string,
  bytes: Uint8Array,
): { elf: ElfFile; programs: ProgramInfo[] } {
  try {
    const elf = validateBpfObject(name, bytes);
    return { elf, programs: inspectPrograms(elf) };
  } catch (e) {
    if (e instanceof ObjectFileError || e instanceof RangeError) {
      throw new AbiError(
        `cannot open BPF object '${name}': ${
          e.message.replace(`${name}: `, "")
        }`,
        Errno.EINVAL,
      );
    }
    throw e;
  }
}
