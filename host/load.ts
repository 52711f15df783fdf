/**
 * `wasm_load_bpf_object` and `wasm_attach_bpf_program`: what a guest's
 * object must pass before libbpf sees it, and where its programs may go.
 *
 * @module
 */
import { BpfError, type BpfMap, BpfObject, Errno } from "../ffi/mod.ts";
import { c, cstr, errno } from "../ffi/native.ts";
import { Btf } from "../objfile/btf.ts";
import { ElfFile, EM_BPF, ObjectFileError } from "../objfile/elf.ts";
import { AbiError } from "./errors.ts";
import { carriedFd } from "./maps.ts";
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
  validateElf(name, bytes);
  const obj = BpfObject.open(bytes, {
    name,
    logger: s.libbpfLogger(),
    pinRoot: pinRootOf(s),
  });
  let pins: BpfMap[];
  try {
    for (const p of obj.programs) {
      if (p.autoload) s.policy.checkProgram(p.name, p.section);
    }
    refuseForeignPins(name, obj);
    obj.load();
    pins = obj.maps.filter((m) => m.pinPath !== undefined && m.pinned);
  } catch (e) {
    obj.close();
    if (
      e instanceof BpfError && e.errno === Errno.EPERM && c().geteuid() !== 0
    ) {
      throw new AbiError(
        `cannot load BPF object '${name}': not running as root: loading BPF programs needs root (or CAP_BPF and CAP_PERFMON)`,
        e.errno,
      );
    }
    throw e;
  }
  s.objects.add(handle, obj, 0, pins, carriedFd);
  s.debug(
    `loaded object ${name}: programs ${
      obj.programs.map((p) => `${p.name} (${p.section})`).join(", ")
    }; maps ${obj.maps.map((m) => m.name).join(", ")}`,
  );
  s.audit({
    event: "load",
    handle: Number(handle),
    programs: obj.programs.map((p) => ({ name: p.name, section: p.section })),
    maps: obj.maps.map((m) => m.name),
  });
  s.fdsChanged();
  return handle;
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
  s.policy.checkAttach(prog.name, prog.section, target);
  const link = prog.attach(target, s.libbpfLogger());
  s.debug(`attached ${link.description}`);
  s.audit({
    event: "attach",
    handle: Number(handle),
    program: name,
    section: prog.section,
    target,
  });
  s.fdsChanged();
  return 0;
}

/** The directory the policy pins maps under (libbpf's default if none). */
function pinRootOf(s: Session): string | undefined {
  return (s.policy as { pinRoot?: string }).pinRoot;
}

/**
 * Refuses maps declared with `pinning` whose pin path exists already:
 * libbpf would reuse that map, which belongs to some other program (or
 * guest), and the guest would read and write it as its own.
 */
function refuseForeignPins(name: string, obj: BpfObject): void {
  for (const m of obj.maps) {
    const path = m.pinPath;
    if (path === undefined) continue;
    const taken = c().access(cstr(path), 0) === 0 || errno() !== Errno.ENOENT;
    if (taken) {
      throw new AbiError(
        `cannot load BPF object '${name}': map '${m.name}' would reuse the map pinned at ${path}, which this guest did not create; remove the pin or rename the map`,
        Errno.EEXIST,
      );
    }
  }
}

/**
 * Checks the object's ELF structure and BTF before libbpf sees it: libbpf
 * trusts its input more than a host of untrusted guests may.
 */
function validateElf(name: string, bytes: Uint8Array): void {
  try {
    const elf = new ElfFile(name, bytes);
    if (elf.machine !== EM_BPF) {
      throw new ObjectFileError(
        `${name}: not a BPF object (ELF machine ${elf.machine}, expected ${EM_BPF})`,
      );
    }
    for (const s of elf.sections) elf.data(s);
    if (elf.section(".BTF")) Btf.fromElf(elf);
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
