/**
 * The generator's ELF and BTF readers and its object inspection, checked
 * against objects clang builds here and what llvm-readelf and bpftool (with
 * its own libbpf) say about them.
 */
import assert from "node:assert/strict";
import { Btf, Kind, KIND_NAMES, parseBtfExt } from "../objfile/btf.ts";
import { ElfFile, STT_FUNC } from "../objfile/elf.ts";
import { inspectObject } from "../wasm-sdk/gen/skeleton.ts";
import {
  bpftoolBtf,
  compileBpf,
  lineFields,
  ROOT,
  runOk,
} from "./guests/gen-common/helpers.ts";

const tmp = await Deno.makeTempDir({ prefix: "gen_readers_" });
const objects: Record<string, string> = {};
for (const name of ["gen-basic/gen_basic", "gen-extra/gen_extra"]) {
  const base = name.split("/")[1];
  objects[base] = await compileBpf(
    `${ROOT}/tests/guests/${name}.bpf.c`,
    `${tmp}/${base}.bpf.o`,
  );
}

Deno.test.afterAll(() => Deno.removeSync(tmp, { recursive: true }));

for (const [base, obj] of Object.entries(objects)) {
  Deno.test(`ELF sections and symbols of ${base} match llvm-readelf`, async () => {
    const elf = new ElfFile(obj, Deno.readFileSync(obj));
    const r = await runOk("llvm-readelf", ["-S", "-s", "--wide", obj]);
    const secs = [
      ...r.stdout.matchAll(
        /^\s*\[\s*(\d+)\]\s+(\S*)\s+([A-Z_]+)\s+[0-9a-f]+\s+([0-9a-f]+)\s+([0-9a-f]+)/gm,
      ),
    ];
    assert.equal(elf.sections.length, secs.length);
    for (const m of secs) {
      const s = elf.sections[Number(m[1])];
      // llvm-readelf prints an empty name for section 0 and the NULL type
      assert.equal(s.name, Number(m[1]) === 0 ? "" : m[2]);
      assert.equal(s.offset, parseInt(m[4], 16), s.name);
      assert.equal(s.size, parseInt(m[5], 16), s.name);
    }
    const syms = [
      ...r.stdout.matchAll(
        /^\s*\d+: ([0-9a-f]+)\s+(\d+)\s+(\w+)\s+(\w+)\s+\w+\s+(\w+)\s*(\S*)$/gm,
      ),
    ];
    const mine = elf.symbols();
    assert.equal(mine.length, syms.length);
    syms.forEach((m, i) => {
      // llvm-readelf shows a section symbol by its section's name
      assert.equal(
        m[3] === "SECTION" ? elf.sections[mine[i].shndx].name : mine[i].name,
        m[6],
      );
      assert.equal(mine[i].value, parseInt(m[1], 16));
      assert.equal(mine[i].size, Number(m[2]));
      if (m[3] === "FUNC") assert.equal(mine[i].type, STT_FUNC);
    });
  });

  Deno.test(`BTF of ${base} round-trips against bpftool btf dump`, async () => {
    const elf = new ElfFile(obj, Deno.readFileSync(obj));
    const btf = Btf.fromElf(elf);
    const dumped = await bpftoolBtf(obj);
    assert.equal(btf.types.length - 1, dumped.length, "type count");
    const kinds = new Set<string>();
    for (const d of dumped) {
      const t = btf.get(d.id);
      kinds.add(d.kind);
      assert.equal(KIND_NAMES[t.kind], d.kind, `kind of #${d.id}`);
      assert.equal(t.name, d.name, `name of #${d.id}`);
      const f = d.fields;
      switch (t.kind) {
        case Kind.INT:
          assert.equal(t.size, Number(f.size));
          assert.equal(t.intBits, Number(f.nr_bits));
          assert.equal(t.intOffset, Number(f.bits_offset));
          break;
        case Kind.ARRAY:
          assert.equal(t.elemType, Number(f.type_id));
          assert.equal(t.indexType, Number(f.index_type_id));
          assert.equal(t.nelems, Number(f.nr_elems));
          break;
        case Kind.STRUCT:
        case Kind.UNION:
          assert.equal(t.size, Number(f.size));
          assert.equal(t.members!.length, Number(f.vlen));
          d.lines.forEach((l, i) => {
            const lf = lineFields(l);
            const m = t.members![i];
            assert.equal(m.name, lf.name);
            assert.equal(m.type, Number(lf.type_id));
            assert.equal(m.bitOffset, Number(lf.bits_offset));
            assert.equal(m.bitSize, Number(lf.bitfield_size ?? 0));
          });
          break;
        case Kind.ENUM:
          assert.equal(t.size, Number(f.size));
          d.lines.forEach((l, i) => {
            const lf = lineFields(l);
            assert.equal(t.enumerators![i].name, lf.name);
            // bpftool prints values unsigned unless the type says signed
            const bits = t.size * 8;
            assert.equal(
              BigInt.asUintN(bits, t.enumerators![i].value),
              BigInt.asUintN(bits, BigInt(lf.val)),
            );
          });
          break;
        case Kind.FUNC_PROTO:
          assert.equal(t.ref, Number(f.ret_type_id));
          assert.equal(t.params!.length, Number(f.vlen));
          break;
        case Kind.VAR:
        case Kind.FUNC:
        case Kind.PTR:
        case Kind.TYPEDEF:
        case Kind.CONST:
        case Kind.VOLATILE:
        case Kind.TYPE_TAG:
        case Kind.DECL_TAG:
          assert.equal(t.ref, Number(f.type_id), `ref of #${d.id}`);
          break;
        case Kind.DATASEC:
          assert.equal(t.secVars!.length, Number(f.vlen));
          d.lines.forEach((l, i) => {
            const lf = lineFields(l);
            assert.equal(t.secVars![i].type, Number(lf.type_id));
            assert.equal(t.secVars![i].size, Number(lf.size));
          });
          break;
        case Kind.FLOAT:
          assert.equal(t.size, Number(f.size));
          break;
      }
    }
    const expectKinds = base === "gen_extra"
      ? ["DECL_TAG", "TYPE_TAG", "FLOAT", "UNION", "DATASEC", "ENUM"]
      : ["FWD", "FUNC_PROTO", "ARRAY", "STRUCT", "VAR", "CONST", "VOLATILE"];
    for (const k of expectKinds) {
      assert(kinds.has(k), `the object exercises ${k}`);
    }
    // .BTF.ext: one func_info record per function, naming its section
    const ext = parseBtfExt(btf, elf.data(elf.section(".BTF.ext")!));
    const funcs = btf.types.filter((t) => t.kind === Kind.FUNC);
    assert.equal(ext.funcInfo.length, funcs.length);
    for (const fi of ext.funcInfo) {
      assert.equal(btf.get(fi.typeId).kind, Kind.FUNC);
      assert(elf.section(fi.section), `func_info section ${fi.section}`);
    }
    assert(ext.lineInfoLen > 0);
  });

  Deno.test(`programs and maps of ${base} are the ones bpftool's libbpf sees`, async () => {
    const info = inspectObject(obj, Deno.readFileSync(obj));
    const skel = (await runOk("bpftool", ["gen", "skeleton", obj, "name", "x"]))
      .stdout;
    const block = (what: string) => {
      const m = new RegExp(`struct \\{\\n([^}]*)\\} ${what};`).exec(skel);
      return [...(m?.[1] ?? "").matchAll(/\*(\w+);/g)].map((x) => x[1]);
    };
    assert.deepEqual(info.programs.map((p) => p.name), block("progs"));
    assert.deepEqual(info.maps.map((m) => m.ident), block("maps"));
    // sections: as bpftool's libbpf names them
    const secOf = new Map(
      [...skel.matchAll(/progs\[\d+\]\.name = "(\w+)";/g)].map((
        m,
      ) => [m[1], ""]),
    );
    for (const p of info.programs) assert(secOf.has(p.name));
    const objdump = await runOk("llvm-objdump", ["-t", obj]);
    for (const p of info.programs) {
      const re = new RegExp(
        `\\sF\\s+${
          info.elf.sections[p.sectionIndex].name.replace(/[/.?]/g, "\\$&")
        }\\s+[0-9a-f]+\\s+${p.name}$`,
        "m",
      );
      assert.match(objdump.stdout, re, `${p.name} in ${p.section}`);
    }
    // every global variable with its symbol offset
    const elf = info.elf;
    for (const g of info.globals) {
      for (const v of g.vars) {
        const sym = elf.symbols().find((s) => s.name === v.name)!;
        assert.equal(sym.shndx, g.sectionIndex);
        assert.equal(sym.value, v.offset);
        assert.equal(sym.size, v.size);
      }
      // bpftool emits a struct member per non-static global of the section
      const m = new RegExp(`struct x__${g.ident} \\{\\n([^}]*)\\}`).exec(skel);
      const names = [...(m?.[1] ?? "").matchAll(/(\w+)(\[\d+\])*;/g)]
        .map((x) => x[1]).filter((n) => !n.startsWith("__pad"));
      assert.deepEqual(g.vars.map((v) => v.name), names, g.name);
    }
    if (base === "gen_basic") {
      assert.deepEqual(info.programs.map((p) => `${p.name}@${p.section}`), [
        "handle_exec@tp/sched/sched_process_exec",
        "handle_exit@tp/sched/sched_process_exit",
        "handle_exit2@tp/sched/sched_process_exit",
        "on_unlink@fentry/do_unlinkat",
        "maybe_getppid@tp/syscalls/sys_enter_getppid",
      ]);
      assert.deepEqual(
        info.programs.map((p) => p.autoload),
        [true, true, true, true, false],
      );
      assert.deepEqual(info.maps.map((m) => m.name), [
        "events",
        "counts",
        "inners",
        ".rodata",
        ".data",
        ".bss",
      ]);
    } else {
      assert(info.maps.some((m) => m.name === ".kconfig"));
      assert(info.maps.some((m) => m.name === ".rodata.cfg"));
    }
  });
}
