/**
 * Structure-aware fuzzing of the object check in front of libbpf: real
 * objects from build/ with their section headers, relocations, symbols,
 * BTF type ids and string offsets and BTF.ext records mutated one to three
 * fields at a time. Every mutant goes through validateBpfObject; the ones
 * it accepts are opened (and closed) by libbpf in a child process
 * (tests/fuzz_objfile_child.ts), so a libbpf crash shows as the child dying
 * by a signal, and fails the test. Seeded and time-bounded; set FUZZ_SEED,
 * FUZZ_OBJFILE_MS and FUZZ_OBJFILE_MAX to explore further. Set
 * FUZZ_OLD_LIBBPF to a libbpf.so of 1.1.2 to see the harness catch the
 * crash the fixed reproducer causes there (and, with
 * FUZZ_OBJFILE_UNCHECKED=1, the crashes the mutants cause there when no
 * check stands in front of it).
 */
import assert from "node:assert/strict";
import { ElfFile, SHT_REL, SHT_SYMTAB } from "../objfile/elf.ts";
import { validateBpfObject } from "../objfile/validate.ts";
import { buildGuest, ROOT } from "./util.ts";

const SEED = Number(Deno.env.get("FUZZ_SEED") ?? 20261128);
const BUDGET_MS = Number(Deno.env.get("FUZZ_OBJFILE_MS") ?? 6000);
const MAX_MUTANTS = Number(Deno.env.get("FUZZ_OBJFILE_MAX") ?? 20000);

/** mulberry32. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return { next, int, pick: <T>(xs: readonly T[]): T => xs[int(xs.length)] };
}
type Rng = ReturnType<typeof prng>;

/** A field of the object: file offset, width in bytes, what it is. */
interface Field {
  at: number;
  width: 2 | 4 | 8;
  what: string;
  /** Values worth trying besides random ones. */
  values: number[];
}

/** Every field the mutator may change, found by walking the structures. */
function fieldsOf(elf: ElfFile): Field[] {
  const out: Field[] = [];
  const n = elf.sections.length;
  const v = elf.view;
  const idx = [0, 1, n - 1, n, n + 1, 0xffff, 0xffffffff];
  for (const s of elf.sections) {
    const h = s.headerOffset;
    const w = (off: number, width: 2 | 4 | 8, f: string, values: number[]) =>
      out.push({ at: h + off, width, what: `${s.name || "#0"}.${f}`, values });
    w(4, 4, "sh_type", [0, 1, 2, 3, 4, 7, 8, 9, 11, 0x6fff4c03]);
    w(8, 8, "sh_flags", [0, 2, 4, 6, 0x40]);
    w(24, 8, "sh_offset", [0, elf.bytes.length, elf.bytes.length - 1, 2 ** 40]);
    w(32, 8, "sh_size", [0, 1, s.size + 8, elf.bytes.length, 2 ** 40]);
    w(40, 4, "sh_link", idx);
    w(44, 4, "sh_info", idx);
    w(56, 8, "sh_entsize", [0, 1, 8, 16, 24]);
  }
  const symtab = elf.sections.find((s) => s.type === SHT_SYMTAB);
  const nsyms = symtab ? symtab.size / 24 : 0;
  if (symtab) {
    const strtab = elf.sections[symtab.link];
    for (let i = 0; i < nsyms; i++) {
      const o = symtab.offset + i * 24;
      out.push(
        {
          at: o,
          width: 4,
          what: `sym#${i}.st_name`,
          values: [strtab.size, strtab.size - 1, 0xffffffff],
        },
        {
          at: o + 6,
          width: 2,
          what: `sym#${i}.st_shndx`,
          values: [0, n, n - 1, 0xff00, 0xfff1, 0xfff2, 0xffff],
        },
        {
          at: o + 8,
          width: 8,
          what: `sym#${i}.st_value`,
          values: [4, 1 << 20, 2 ** 40],
        },
        {
          at: o + 16,
          width: 8,
          what: `sym#${i}.st_size`,
          values: [0, 1 << 20],
        },
      );
    }
  }
  for (const r of elf.sections.filter((s) => s.type === SHT_REL)) {
    const target = elf.sections[r.info];
    for (let o = r.offset, i = 0; o < r.offset + r.size; o += 16, i++) {
      out.push(
        {
          at: o,
          width: 8,
          what: `${r.name}#${i}.r_offset`,
          values: [4, target?.size ?? 0, (target?.size ?? 8) - 8, 2 ** 40],
        },
        {
          at: o + 12,
          width: 4,
          what: `${r.name}#${i}.sym`,
          values: [0, nsyms, nsyms - 1, 0xffffffff],
        },
        {
          at: o + 8,
          width: 4,
          what: `${r.name}#${i}.type`,
          values: [0, 1, 2, 3, 10, 77],
        },
      );
    }
  }
  const btf = elf.section(".BTF");
  let ntypes = 0;
  let strLen = 0;
  if (btf) {
    const b = btf.offset;
    const hdr = v.getUint32(b + 4, true);
    const typeOff = b + hdr + v.getUint32(b + 8, true);
    const typeEnd = typeOff + v.getUint32(b + 12, true);
    strLen = v.getUint32(b + 20, true);
    const strVals = [strLen, strLen - 1, 0x7fffffff];
    const typeField = (at: number, what: string) =>
      typeFields.push({ at, what });
    const typeFields: { at: number; what: string }[] = [];
    const str = (at: number, what: string) =>
      out.push({ at, width: 4, what, values: strVals });
    let p = typeOff;
    while (p + 12 <= typeEnd) {
      const id = ++ntypes;
      const info = v.getUint32(p + 4, true);
      const kind = (info >>> 24) & 0x1f;
      const vlen = info & 0xffff;
      str(p, `btf#${id}.name_off`);
      out.push({
        at: p + 4,
        width: 4,
        what: `btf#${id}.info`,
        values: [info | 0xffff, (20 << 24) | vlen, info ^ (1 << 31)],
      });
      if ([2, 8, 9, 10, 11, 12, 13, 14, 17, 18].includes(kind)) {
        typeField(p + 8, `btf#${id}.type`);
      }
      p += 12;
      if (kind === 1 || kind === 14 || kind === 17) p += 4;
      else if (kind === 3) {
        typeField(p, `btf#${id}.elem`);
        typeField(p + 4, `btf#${id}.index`);
        p += 12;
      } else if (kind === 4 || kind === 5) {
        for (let i = 0; i < vlen; i++, p += 12) {
          str(p, `btf#${id}.m${i}.name_off`);
          typeField(p + 4, `btf#${id}.m${i}.type`);
        }
      } else if (kind === 6) p += 8 * vlen;
      else if (kind === 19) p += 12 * vlen;
      else if (kind === 13) {
        for (let i = 0; i < vlen; i++, p += 8) {
          str(p, `btf#${id}.p${i}.name_off`);
          typeField(p + 4, `btf#${id}.p${i}.type`);
        }
      } else if (kind === 15) {
        for (let i = 0; i < vlen; i++, p += 12) {
          typeField(p, `btf#${id}.v${i}.type`);
          out.push({
            at: p + 4,
            width: 4,
            what: `btf#${id}.v${i}.offset`,
            values: [1 << 20, 0xffffffff],
          });
          out.push({
            at: p + 8,
            width: 4,
            what: `btf#${id}.v${i}.size`,
            values: [1 << 20, 0xffffffff],
          });
        }
      }
    }
    for (const f of typeFields) {
      out.push({
        ...f,
        width: 4,
        values: [0, ntypes, ntypes + 1, 0xffffffff, 1],
      });
    }
  }
  const ext = elf.section(".BTF.ext");
  if (ext) {
    const b = ext.offset;
    const hdr = v.getUint32(b + 4, true);
    const parts = [["func_info", 8], ["line_info", 16]] as [string, number][];
    if (hdr >= 32) parts.push(["core_relo", 24]);
    const strVals = [strLen, 0xffffffff];
    for (const [name, hoff] of parts) {
      const off = v.getUint32(b + hoff, true);
      const len = v.getUint32(b + hoff + 4, true);
      out.push({
        at: b + hoff + 4,
        width: 4,
        what: `${name}_len`,
        values: [len + 4, 1 << 24],
      });
      if (!len) continue;
      let p = b + hdr + off;
      const end = p + len;
      const rec = v.getUint32(p, true);
      out.push({
        at: p,
        width: 4,
        what: `${name}.rec_size`,
        values: [0, 4, 7, 64],
      });
      p += 4;
      while (p + 8 <= end) {
        const num = v.getUint32(p + 4, true);
        out.push(
          { at: p, width: 4, what: `${name}.sec_name_off`, values: strVals },
          {
            at: p + 4,
            width: 4,
            what: `${name}.num_info`,
            values: [0, num + 1, 0x10000000],
          },
        );
        p += 8;
        for (let i = 0; i < num && p + rec <= end; i++, p += rec) {
          const r = `${name}#${i}`;
          out.push({
            at: p,
            width: 4,
            what: `${r}.insn_off`,
            values: [4, 1 << 20, 0xfffffff8],
          });
          if (name === "line_info") {
            out.push(
              {
                at: p + 4,
                width: 4,
                what: `${r}.file_name_off`,
                values: strVals,
              },
              { at: p + 8, width: 4, what: `${r}.line_off`, values: strVals },
            );
          } else {
            out.push({
              at: p + 4,
              width: 4,
              what: `${r}.type_id`,
              values: [0, ntypes + 1, 0xffffffff],
            });
          }
          if (name === "core_relo") {
            out.push(
              {
                at: p + 8,
                width: 4,
                what: `${r}.access_str_off`,
                values: strVals,
              },
              {
                at: p + 12,
                width: 4,
                what: `${r}.kind`,
                values: [13, 0xffffffff],
              },
            );
          }
        }
      }
    }
  }
  return out;
}

/** Fields by kind (the text before the first '.' or '#'), debug ones apart. */
function groups(fields: Field[]): Field[][] {
  const by = new Map<string, Field[]>();
  for (const f of fields) {
    const key = f.what.startsWith(".rel.debug") || f.what.startsWith(".debug")
      ? "debug"
      : f.what.startsWith(".rel")
      ? "reloc"
      : f.what.replace(/[#.].*/, "");
    if (!by.has(key)) by.set(key, []);
    by.get(key)!.push(f);
  }
  return [...by.values()];
}

function mutate(src: Uint8Array, fields: Field[][], rng: Rng) {
  const bytes = new Uint8Array(src);
  const v = new DataView(bytes.buffer);
  const what: string[] = [];
  for (let k = 1 + rng.int(3); k > 0; k--) {
    const f = rng.pick(rng.pick(fields));
    const x = rng.next() < 0.75 ? rng.pick(f.values) : rng.int(2 ** 32);
    if (f.width === 2) v.setUint16(f.at, x & 0xffff, true);
    else if (f.width === 4) v.setUint32(f.at, x >>> 0, true);
    else v.setBigUint64(f.at, BigInt(Math.max(0, Math.floor(x))), true);
    what.push(`${f.what}=${x}`);
  }
  return { bytes, what: what.join(", ") };
}

/**
 * What crashed libbpf 1.1.2 in bpf_object__collect_prog_relos (found by this
 * harness): a relocation section whose target is a section libbpf skips by
 * name (DWARF, .rel.BTF), marked executable and given another section type;
 * libbpf skips the target when it reads the sections, then follows the
 * relocation to its data, which libelf refuses to give: NULL.
 */
function reproducer(src: Uint8Array): Uint8Array {
  const elf = new ElfFile("src", src);
  const rel = elf.sections.find((s) =>
    s.type === SHT_REL && (elf.sections[s.info].flags & 4n)
  )!;
  // a section libbpf skips by its name: DWARF, or the relocations of .BTF
  const dbg = elf.sections.find((s) =>
    /^(\.rel)?\.debug_/.test(s.name) || /^\.rel\.BTF(\.ext)?$/.test(s.name)
  )!;
  const bytes = new Uint8Array(src);
  const v = new DataView(bytes.buffer);
  v.setUint32(rel.headerOffset + 44, dbg.index, true); // sh_info
  v.setBigUint64(dbg.headerOffset + 8, 6n, true); // SHF_ALLOC|SHF_EXECINSTR
  v.setUint32(dbg.headerOffset + 4, 4, true); // SHT_RELA
  return bytes;
}

/** Opens `objects` with libbpf in child processes; the indexes that crashed it. */
async function openInChild(
  objects: Uint8Array[],
  env: Record<string, string> = {},
): Promise<{ crashed: { index: number; signal: string }[]; opened: number }> {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/objects.bin`;
    const parts: Uint8Array[] = [];
    for (const o of objects) {
      const len = new Uint8Array(4);
      new DataView(len.buffer).setUint32(0, o.length, true);
      parts.push(len, o);
    }
    const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let off = 0;
    for (const p of parts) {
      all.set(p, off);
      off += p.length;
    }
    await Deno.writeFile(file, all);
    const crashed: { index: number; signal: string }[] = [];
    let first = 0;
    let opened = 0;
    for (let round = 0; round < 50; round++) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-ffi",
          "--allow-read",
          "--allow-env",
          `${ROOT}/tests/fuzz_objfile_child.ts`,
          file,
          String(first),
        ],
        env,
        stdout: "piped",
        stderr: "null",
      }).output();
      const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
      if (out.success && lines.at(-1) === "done") {
        opened += lines.length - 1;
        break;
      }
      const last = Number(lines.at(-1));
      assert(
        out.signal && Number.isInteger(last),
        `the child failed without a signal (code ${out.code}): ${lines.at(-1)}`,
      );
      opened += lines.length;
      crashed.push({ index: last, signal: out.signal });
      first = last + 1;
    }
    return { crashed, opened };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const SOURCES = [
  ["examples/bootstrap", "bootstrap.bpf.o"],
  ["examples/runqlat", "runqlat.bpf.o"],
  ["examples/sockops", "sockops.bpf.o"],
  ["tests/guests/gen-extra", "gen_extra.bpf.o"],
];

async function sources(): Promise<{ name: string; bytes: Uint8Array }[]> {
  const out = [];
  for (const [dir, file] of SOURCES) {
    const path = `${await buildGuest(dir)}/${file}`;
    out.push({ name: file, bytes: await Deno.readFile(path) });
  }
  return out;
}

Deno.test("fuzz objfile: the libbpf 1.1.2 reproducer and its relatives are refused before libbpf", async () => {
  const [boot] = await sources();
  const repro = reproducer(boot.bytes);
  assert.throws(
    () => validateBpfObject("repro.bpf.o", repro),
    /repro\.bpf\.o: .*executable but not PROGBITS/,
  );
  // the fixed relatives: a relocation section naming the null section, a
  // section past the last one, or no symbol table
  const elf = new ElfFile("b", boot.bytes);
  const rel = elf.sections.find((s) => s.type === SHT_REL)!;
  for (const [off, value] of [[44, 0], [44, 999], [40, 0], [40, 999]]) {
    const b = new Uint8Array(boot.bytes);
    new DataView(b.buffer).setUint32(rel.headerOffset + off, value, true);
    assert.throws(
      () => validateBpfObject("m.bpf.o", b),
      /m\.bpf\.o: relocation|m\.bpf\.o: section/,
    );
  }
  const old = Deno.env.get("FUZZ_OLD_LIBBPF");
  if (!old) {
    console.log(
      "FUZZ_OLD_LIBBPF not set: not showing that the reproducer crashes libbpf 1.1.2",
    );
    return;
  }
  const r = await openInChild([repro], { WASM_BPF_LIBBPF: old });
  console.log(`libbpf ${old} on the reproducer: ${JSON.stringify(r.crashed)}`);
  assert.equal(r.crashed.length, 1, "the old libbpf should crash on it");
});

Deno.test("fuzz objfile: structure-aware mutants never crash libbpf (accepted ones are opened in a child)", async () => {
  const rng = prng(SEED);
  const srcs = await sources();
  const per = srcs.map((s) => groups(fieldsOf(new ElfFile(s.name, s.bytes))));
  // FUZZ_OBJFILE_UNCHECKED=1 sends every mutant to libbpf (with
  // FUZZ_OLD_LIBBPF: what the check is for)
  const unchecked = Deno.env.get("FUZZ_OBJFILE_UNCHECKED") === "1";
  const old = Deno.env.get("FUZZ_OLD_LIBBPF");
  const accepted: { bytes: Uint8Array; what: string }[] = [];
  const reasons = new Map<string, number>();
  const start = performance.now();
  let made = 0;
  while (made < MAX_MUTANTS && performance.now() - start < BUDGET_MS) {
    const k = rng.int(srcs.length);
    const m = mutate(srcs[k].bytes, per[k], rng);
    made++;
    try {
      if (!unchecked) validateBpfObject(`mutant${made}`, m.bytes);
      accepted.push({ bytes: m.bytes, what: `${srcs[k].name}: ${m.what}` });
    } catch (e) {
      // every refusal is a one-line ObjectFileError
      assert.equal((e as Error).name, "ObjectFileError", String(e));
      assert(!(e as Error).message.includes("\n"));
      const why = (e as Error).message.replace(/^mutant\d+: /, "")
        .replace(/[#']?[\w./-]*\d[\w./-]*'?/g, "N");
      reasons.set(why, (reasons.get(why) ?? 0) + 1);
    }
  }
  // the unmutated objects pass, and libbpf opens them
  for (const s of srcs) validateBpfObject(s.name, s.bytes);
  const { crashed, opened } = await openInChild(
    [...srcs.map((s) => s.bytes), ...accepted.map((a) => a.bytes)],
    unchecked && old ? { WASM_BPF_LIBBPF: old } : {},
  );
  console.log(
    `${made} mutants in ${
      Math.round(performance.now() - start)
    } ms: ${accepted.length} accepted and opened by libbpf (${opened} opens), ${
      made - accepted.length
    } refused; most common refusals:\n  ${
      [...reasons].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([w, n]) =>
        `${n} ${w}`
      ).join("\n  ")
    }`,
  );
  if (crashed.length) {
    const dir = `${ROOT}/build/fuzz-objfile`;
    await Deno.mkdir(dir, { recursive: true });
    for (const c of crashed) {
      const i = c.index - srcs.length;
      await Deno.writeFile(
        `${dir}/crash-${c.index}.bpf.o`,
        i >= 0 ? accepted[i].bytes : srcs[c.index].bytes,
      );
    }
    assert.fail(
      `libbpf crashed on ${crashed.length} accepted objects (saved under build/fuzz-objfile/):\n${
        crashed.map((c) =>
          `${c.signal}: ${
            c.index >= srcs.length
              ? accepted[c.index - srcs.length].what
              : SOURCES[c.index][1]
          }`
        ).join("\n")
      }`,
    );
  }
});
