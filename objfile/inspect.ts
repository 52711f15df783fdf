/**
 * What the programs of a BPF object call: helpers (by `enum bpf_func_id`),
 * kfuncs (calls to undefined kernel functions, by name) and, through the
 * subprograms they reach, everything those call too. A host reads this
 * before libbpf loads anything, to refuse helpers that act on the system.
 *
 * Programs are the FUNC symbols of executable sections other than `.text`;
 * `.text` holds subprograms, reached by BPF-to-BPF calls (`call` with
 * src_reg 1) or by taking a function's address (`ld_imm64` with src_reg 4,
 * the callbacks of `bpf_loop`, timers, `bpf_for_each_map_elem`).
 *
 * Expects an object {@link validateBpfObject} accepted.
 *
 * ```ts
 * import { ElfFile } from "./elf.ts";
 * import { inspectPrograms } from "./inspect.ts";
 * const elf = new ElfFile("b.bpf.o", Deno.readFileSync("build/examples/bootstrap/bootstrap.bpf.o"));
 * for (const p of inspectPrograms(elf)) console.log(p.name, p.helpers);
 * ```
 *
 * @module
 */
import {
  type ElfFile,
  type ElfSymbol,
  type Section,
  SHF_EXECINSTR,
  SHT_REL,
  STT_FUNC,
} from "./elf.ts";
import { helperName } from "./helper_ids.ts";

/** The calls one program makes, its subprograms' included. */
export interface ProgramInfo {
  /** Function name of the program. */
  name: string;
  /** Its ELF section, e.g. `tp/sched/sched_process_exec`. */
  section: string;
  /** Helpers called, `bpf_NAME` (or `helper#N` past the known ids), sorted. */
  helpers: string[];
  /** kfuncs called or whose address is taken, by name, sorted. */
  kfuncs: string[];
}

const INSN = 8;
const OP_CALL = 0x85; // BPF_JMP | BPF_CALL
const OP_LD_IMM64 = 0x18; // BPF_LD | BPF_IMM | BPF_DW
const PSEUDO_CALL = 1;
const PSEUDO_KFUNC_CALL = 2;
const PSEUDO_FUNC = 4;

interface Func {
  section: Section;
  start: number; // byte offset in its section
  end: number;
}

interface Scan {
  helpers: Set<string>;
  kfuncs: Set<string>;
  callees: Func[];
}

/**
 * Lists every program of `elf` with the helpers and kfuncs it may call,
 * directly or through any subprogram it reaches.
 */
export function inspectPrograms(elf: ElfFile): ProgramInfo[] {
  const symbols = elf.symbols();
  // one BigInt test per section, not per call (this runs cold, at start-up)
  const EXEC = BigInt(SHF_EXECINSTR);
  const execs = elf.sections.map((s) => (s.flags & EXEC) !== 0n);
  const exec = (s: Section | undefined) => !!s && execs[s.index];
  // (section index, byte offset) -> symbol of the relocation there, keyed
  // by the number index * 2^32 + offset
  const relocs = new Map<number, ElfSymbol>();
  const v = elf.view;
  for (const r of elf.sections) {
    if (r.type !== SHT_REL || !exec(elf.sections[r.info])) continue;
    for (let o = r.offset; o + 16 <= r.offset + r.size; o += 16) {
      // r_offset (64-bit), r_info: symbol index in its high 32 bits
      const off = v.getUint32(o, true) + v.getUint32(o + 4, true) * 2 ** 32;
      const sym = symbols[v.getUint32(o + 12, true)];
      if (sym && off < 2 ** 32) relocs.set(r.info * 2 ** 32 + off, sym);
    }
  }
  const funcs: Func[] = symbols
    .filter((s) => s.type === STT_FUNC && exec(elf.sections[s.shndx]))
    .map((s) => ({
      section: elf.sections[s.shndx],
      start: s.value,
      end: s.value + s.size,
    }));
  /** The function holding byte `off` of section `sec` (its rest if none). */
  const funcAt = (sec: Section, off: number): Func =>
    funcs.find((f) => f.section === sec && f.start <= off && off < f.end) ??
      { section: sec, start: off - (off % INSN), end: sec.size };

  const cache = new Map<string, Scan>();
  const scan = (f: Func): Scan => {
    const key = `${f.section.index}:${f.start}:${f.end}`;
    const hit = cache.get(key);
    if (hit) return hit;
    const out: Scan = { helpers: new Set(), kfuncs: new Set(), callees: [] };
    cache.set(key, out);
    const data = elf.data(f.section);
    const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const end = Math.min(f.end, data.length - (data.length % INSN));
    const target = (sym: ElfSymbol, byteOff: number) => {
      const sec = elf.sections[sym.shndx];
      if (exec(sec) && byteOff >= 0 && byteOff < sec.size) {
        out.callees.push(funcAt(sec, byteOff));
      }
    };
    const base = f.section.index * 2 ** 32;
    for (let o = f.start; o + INSN <= end; o += INSN) {
      const op = data[o];
      if (op !== OP_CALL && op !== OP_LD_IMM64) continue;
      const src = data[o + 1] >> 4;
      const imm = v.getInt32(o + 4, true);
      const sym = relocs.get(base + o);
      const external = sym && sym.shndx === 0;
      if (op === OP_CALL) {
        if (external) {
          out.kfuncs.add(sym.name);
        } else if (sym) {
          target(sym, sym.value + (imm + 1) * INSN);
        } else if (src === PSEUDO_CALL) {
          const to = o + (imm + 1) * INSN;
          if (to >= 0 && to < f.section.size) {
            out.callees.push(funcAt(f.section, to));
          }
        } else if (src === PSEUDO_KFUNC_CALL) {
          out.kfuncs.add(`kfunc#${imm}`);
        } else {
          out.helpers.add(helperName(imm));
        }
      } else if (op === OP_LD_IMM64) {
        if (external && sym.type === STT_FUNC) out.kfuncs.add(sym.name);
        else if (sym && exec(elf.sections[sym.shndx])) {
          target(sym, sym.value + imm);
        } else if (!sym && src === PSEUDO_FUNC) {
          const to = o + (imm + 1) * INSN;
          if (to >= 0 && to < f.section.size) {
            out.callees.push(funcAt(f.section, to));
          }
        }
        o += INSN; // the second half of the 16-byte instruction
      }
    }
    return out;
  };

  const programs: ProgramInfo[] = [];
  for (const s of symbols) {
    const sec = elf.sections[s.shndx];
    if (s.type !== STT_FUNC || !exec(sec) || sec.name === ".text") continue;
    const helpers = new Set<string>();
    const kfuncs = new Set<string>();
    const seen = new Set<string>();
    const todo: Func[] = [{
      section: sec,
      start: s.value,
      end: s.value + s.size,
    }];
    while (todo.length) {
      const f = todo.pop()!;
      const key = `${f.section.index}:${f.start}:${f.end}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const r = scan(f);
      r.helpers.forEach((h) => helpers.add(h));
      r.kfuncs.forEach((k) => kfuncs.add(k));
      todo.push(...r.callees);
    }
    programs.push({
      name: s.name,
      section: sec.name,
      helpers: [...helpers].sort(),
      kfuncs: [...kfuncs].sort(),
    });
  }
  return programs;
}
