import assert from "node:assert/strict";
import { ObjectFileError } from "./elf.ts";
import { validateBpfObject } from "./validate.ts";
import {
  btfStr,
  buildObject,
  CALL,
  concat,
  EXIT,
  insn,
  type Layout,
  minimalBtf,
  minimalBtfExt,
  MOV0,
} from "./_test_object.ts";

/** A small valid object: one program that loads a global and calls a helper. */
function minimal(): Layout {
  const btf = minimalBtf(["prog"], ["tp/x", ".data"]);
  const code = concat(
    insn(0x18, 1, 0, 0, 0), // r1 = &counter (ld_imm64, relocated)
    insn(0, 0, 0, 0, 0),
    CALL(6),
    MOV0,
    EXIT,
  );
  return buildObject(
    [
      { name: "tp/x", type: 1, flags: 6, data: code },
      { name: ".data", type: 1, flags: 3, data: new Uint8Array(8) },
      { name: ".BTF", type: 1, data: btf },
      { name: ".BTF.ext", type: 1, data: minimalBtfExt(btf, "tp/x") },
    ],
    [
      { name: "prog", section: "tp/x", size: 40, type: 2 },
      { name: "counter", section: ".data", size: 8, type: 1 },
    ],
    [{ section: "tp/x", offset: 0, symbol: "counter", type: 1 }],
  );
}

/** The minimal object with `f` applied to a copy of its bytes. */
function corrupt(f: (v: DataView, l: Layout) => void): Uint8Array {
  const l = minimal();
  const bytes = new Uint8Array(l.bytes);
  f(new DataView(bytes.buffer), l);
  return bytes;
}

function refused(bytes: Uint8Array, why: RegExp) {
  assert.throws(
    () => validateBpfObject("t.bpf.o", bytes),
    (e: unknown) => {
      assert(e instanceof ObjectFileError, `not an ObjectFileError: ${e}`);
      assert.match(e.message, /^t\.bpf\.o: /);
      assert.match(e.message, why);
      assert(!e.message.includes("\n"), "one line");
      return true;
    },
  );
}

const SH = {
  type: 4,
  flags: 8,
  offset: 24,
  size: 32,
  link: 40,
  info: 44,
  entsize: 56,
};
const sym = (l: Layout, name: string) =>
  l.data[".symtab"] + 24 * l.symbol[name];
const ext = (l: Layout) => l.data[".BTF.ext"];

Deno.test("validateBpfObject: the minimal object passes", () => {
  validateBpfObject("t.bpf.o", minimal().bytes);
});

Deno.test("validateBpfObject: ELF header", () => {
  refused(
    corrupt((v) => v.setUint16(18, 62, true)),
    /not a BPF object \(ELF machine 62/,
  );
  refused(corrupt((v) => v.setUint16(16, 2, true)), /not a relocatable object/);
  refused(minimal().bytes.subarray(0, 40), /truncated ELF/);
  refused(
    corrupt((v, l) => v.setUint16(62, l.index["tp/x"], true)),
    /bad ELF string offset|section name table is not a string table/,
  );
});

Deno.test("validateBpfObject: section headers", () => {
  refused(
    corrupt((v, l) => v.setBigUint64(l.header[""] + SH.flags, 4n, true)),
    /section #0 is not the null section/,
  );
  refused(
    corrupt((v, l) =>
      v.setBigUint64(l.header["tp/x"] + SH.offset, 1n << 40n, true)
    ),
    /truncated ELF \(section tp\/x extends past end of file/,
  );
  refused(
    corrupt((v, l) =>
      v.setBigUint64(l.header[".data"] + SH.size, 1n << 20n, true)
    ),
    /section .data extends past end of file/,
  );
  refused(
    corrupt((v, l) => v.setUint32(l.header[".data"] + SH.type, 5, true)),
    /'.data' has type 0x5, which BPF objects do not use/,
  );
  refused(
    corrupt((v, l) => v.setBigUint64(l.header[".strtab"] + SH.flags, 4n, true)),
    /'.strtab' is executable but not PROGBITS/,
  );
  refused(
    corrupt((v, l) => v.setBigUint64(l.header["tp/x"] + SH.size, 36n, true)),
    /size 36 is not a whole number of instructions/,
  );
  refused(
    corrupt((v, l) => v.setUint32(l.header[".data"] + SH.link, 99, true)),
    /'.data' sh_link 99 is past the last section/,
  );
  refused(
    corrupt((v, l) => v.setUint32(l.header[".data"] + SH.type, 2, true)),
    /more than one symbol table/,
  );
});

Deno.test("validateBpfObject: relocation sections (the libbpf 1.1.2 crash class)", () => {
  const rel = ".reltp/x";
  refused(
    corrupt((v, l) => v.setUint32(l.header[rel] + SH.info, 0, true)),
    /sh_info 0 names no section to relocate/,
  );
  refused(
    corrupt((v, l) => v.setUint32(l.header[rel] + SH.info, 99, true)),
    /sh_info 99 names no section to relocate/,
  );
  refused(
    corrupt((v, l) => v.setUint32(l.header[rel] + SH.link, 0, true)),
    /sh_link 0 is not the symbol table/,
  );
  refused(
    corrupt((v, l) => v.setUint32(l.header[rel] + SH.link, 99, true)),
    /sh_link 99 is past the last section/,
  );
  refused(
    corrupt((v, l) =>
      v.setUint32(l.header[rel] + SH.info, l.index[".strtab"], true)
    ),
    /targets section #\d+ '.strtab', which is not PROGBITS/,
  );
  refused(
    corrupt((v, l) => v.setBigUint64(l.header[rel] + SH.entsize, 24n, true)),
    /entry size 24/,
  );
  // what crashed libbpf 1.1.2: the target made an executable section of another type
  refused(
    corrupt((v, l) => {
      v.setUint32(l.header[rel] + SH.info, l.index[".BTF"], true);
      v.setBigUint64(l.header[".BTF"] + SH.flags, 6n, true);
      v.setUint32(l.header[".BTF"] + SH.type, 4, true);
    }),
    /'.BTF' is executable but not PROGBITS/,
  );
});

Deno.test("validateBpfObject: relocation entries", () => {
  const at = (l: Layout) => l.data[".reltp/x"];
  refused(
    corrupt((v, l) => v.setUint32(at(l) + 12, 0, true)),
    /relocation #0 .* names symbol #0, not in the symbol table/,
  );
  refused(
    corrupt((v, l) => v.setUint32(at(l) + 12, 99, true)),
    /names symbol #99/,
  );
  refused(
    corrupt((v, l) => v.setBigUint64(at(l), 4n, true)),
    /offset 4 is not an instruction of section #\d+ 'tp\/x'/,
  );
  refused(
    corrupt((v, l) => v.setBigUint64(at(l), 32n, true)),
    /offset 32 is not an instruction/,
  ); // ld_imm64 needs 16 bytes
  refused(
    corrupt((v, l) => v.setUint32(at(l) + 8, 77, true)),
    /type 77, not a BPF relocation/,
  );
});

Deno.test("validateBpfObject: symbol table and symbols", () => {
  refused(
    corrupt((v, l) => v.setUint32(l.header[".symtab"] + SH.link, 0, true)),
    /symbol table sh_link 0 is not a string table/,
  );
  refused(
    corrupt((v, l) =>
      v.setUint32(l.header[".symtab"] + SH.link, l.index["tp/x"], true)
    ),
    /is not a string table/,
  );
  refused(
    corrupt((v, l) =>
      v.setBigUint64(l.header[".symtab"] + SH.entsize, 16n, true)
    ),
    /entry size 16/,
  );
  refused(
    corrupt((v, l) => v.setUint32(l.header[".symtab"] + SH.info, 99, true)),
    /sh_info 99 is past its 3 symbols/,
  );
  refused(
    corrupt((v, l) => v.setUint16(sym(l, "prog") + 6, 99, true)),
    /symbol #\d+ 'prog' names section #99/,
  );
  refused(
    corrupt((v, l) => v.setUint16(sym(l, "prog") + 6, 0xff05, true)),
    /reserved section index 0xff05/,
  );
  refused(
    corrupt((v, l) =>
      v.setUint16(sym(l, "prog") + 6, l.index[".symtab"], true)
    ),
    /defined in section #\d+ '.symtab', which holds no data/,
  );
  refused(
    corrupt((v, l) => v.setUint32(sym(l, "prog"), 1 << 20, true)),
    /bad ELF string offset/,
  );
  refused(
    corrupt((v, l) => v.setBigUint64(sym(l, "prog") + 16, 48n, true)),
    /'prog' \(offset 0, size 48\) extends past the end of section #\d+ 'tp\/x'/,
  );
  refused(
    corrupt((v, l) => v.setBigUint64(sym(l, "counter") + 8, 4n, true)),
    /'counter' \(offset 4, size 8\) extends past/,
  );
  refused(
    corrupt((v, l) => v.setBigUint64(sym(l, "prog") + 8, 4n, true)),
    /'prog' (does not start|\(offset 4)/,
  );
  // SHN_ABS and SHN_UNDEF are fine
  validateBpfObject(
    "t.bpf.o",
    corrupt((v, l) => v.setUint16(sym(l, "counter") + 6, 0xfff1, true)),
  );
});

Deno.test("validateBpfObject: .BTF", () => {
  const btf = (l: Layout) => l.data[".BTF"];
  // FUNC_PROTO (#2) returns type #1; make it #99
  refused(
    corrupt((v, l) => v.setUint32(btf(l) + 24 + 16 + 8, 99, true)),
    /malformed .BTF section \(type #2 refers to missing type #99\)/,
  );
  refused(
    corrupt((v, l) => v.setUint32(btf(l) + 24 + 16 + 12, 1 << 20, true)),
    /bad string offset/,
  );
  refused(
    corrupt((v, l) => v.setUint32(btf(l) + 20, 1 << 20, true)),
    /extends past its end/,
  );
});

Deno.test("validateBpfObject: .BTF.ext records", () => {
  refused(
    corrupt((v, l) => v.setUint32(ext(l) + 36, 1 << 20, true)),
    /func_info section name: bad string offset/,
  );
  refused(
    corrupt((v, l) =>
      v.setUint32(
        ext(l) + 36,
        btfStr(l.bytes.subarray(l.data[".BTF"]), ".data"),
        true,
      )
    ),
    /func_info names '.data', not a code section/,
  );
  // a section name the object does not have: libbpf ignores those records
  validateBpfObject(
    "t.bpf.o",
    corrupt((v, l) => v.setUint32(ext(l) + 36, 1, true)),
  );
  refused(
    corrupt((v, l) => v.setUint32(ext(l) + 44, 400, true)),
    /func_info #0 of 'tp\/x' names offset 400, not an instruction/,
  );
  refused(
    corrupt((v, l) => v.setUint32(ext(l) + 44, 3, true)),
    /names offset 3, not an instruction/,
  );
  refused(
    corrupt((v, l) => v.setUint32(ext(l) + 48, 1, true)),
    /names BTF type #1, not a FUNC/,
  );
  refused(
    corrupt((v, l) => v.setUint32(ext(l) + 48, 1000, true)),
    /names BTF type #1000, not a FUNC/,
  );
  refused(
    corrupt((v, l) => v.setUint32(ext(l) + 32, 2, true)),
    /func_info record size 2/,
  );
  refused(
    corrupt((v, l) => v.setUint32(ext(l) + 60, 1 << 28, true)),
    /line_info of 'tp\/x' has 268435456 records/,
  );
  refused(
    corrupt((v, l) => v.setUint32(ext(l) + 68, 1 << 20, true)),
    /line_info #0 of 'tp\/x' file name: bad string offset/,
  );
  refused(
    corrupt((v, l) => v.setUint32(ext(l) + 96, 99, true)),
    /core_relo #0 of 'tp\/x' names BTF type #99/,
  );
  refused(
    corrupt((v, l) => v.setUint32(ext(l) + 100, 1 << 20, true)),
    /access string: bad string offset/,
  );
  refused(
    corrupt((v, l) => v.setUint32(ext(l) + 104, 99, true)),
    /has kind 99/,
  );
  refused(
    corrupt((v, l) => v.setUint32(ext(l) + 12, 1 << 20, true)),
    /func_info \(offset 0, length 1048576\) is out of bounds/,
  );
  refused(
    corrupt((v, l) => v.setUint32(ext(l) + 4, 1 << 20, true)),
    /header length/,
  );
  refused(corrupt((v, l) => v.setUint8(ext(l) + 3, 1)), /flags 1/);
});
