/**
 * The types header gives wasm32 the BPF side's layouts. For a set of shapes
 * (pointers, long, nested structs, arrays, unions, enums, bitfields, __u64
 * after __u32, trailing padding, packed and over-aligned structs, typedefs
 * of anonymous structs, anonymous members), clang builds the BPF object,
 * `gen types` writes the header, and:
 *  - the header compiles for both targets (its _Static_asserts hold on
 *    wasm32 and on -target bpf);
 *  - a probe built for wasm32-wasi and run under host/wasi prints sizeof,
 *    offsetof of every member and, for each bitfield, which bits it sets;
 *    all of it must equal the BPF compiler's layout as bpftool reads it
 *    from the object's BTF.
 */
import assert from "node:assert/strict";
import { generateTypes } from "../wasm-sdk/gen/types.ts";
import {
  bpftoolBtf,
  compileBpf,
  compileWasm,
  type DumpedType,
  lineFields,
  runOk,
  runWasm,
} from "./guests/gen-common/helpers.ts";

const SHAPES = `
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct lay_inner { __u8 tag; __u64 when; short s; };
enum lay_color { LAY_RED = -1, LAY_GREEN = 1, LAY_BLUE = 0x7fffffff };
enum lay_tiny { LAY_T0, LAY_T1 } __attribute__((packed));
struct lay_aligned { __u32 x; } __attribute__((aligned(16)));
struct lay_packed { __u8 a; __u64 b; __u16 c; } __attribute__((packed));
typedef struct { __u16 x; __u64 y; } lay_pair_t;
typedef __u32 lay_u32_t;

struct lay_scalars {
	__u32 u32_first;
	__u64 u64_after;      /* __u64 after __u32 */
	void *ptr;            /* 8 bytes on BPF, would be 4 on wasm32 */
	const char *str;
	long l;
	unsigned long ul;
	long long ll;
	int (*fn)(void *);
	_Bool b;
	char c;
	signed char sc;
	short sh;
	float f;
	double d;
	lay_u32_t typed;
	__u8 tail;            /* trailing padding */
};

struct lay_compound {
	char name[13];
	struct lay_inner inner;
	struct lay_inner inners[3];
	long matrix[2][3];
	union { __u32 w; __u8 bytes[4]; __u64 q; } u;
	union { int anon_i; float anon_f; };
	struct { __u16 sx; __u32 sy; };
	enum lay_color color;
	enum lay_tiny tiny;
	struct lay_aligned al;
	__u8 gap;
	struct lay_packed pk;
	lay_pair_t pair;
	void *ptrs[2];
	__u32 flex[];
};

struct lay_bits {
	unsigned int a : 1;
	unsigned int b : 3;
	int neg : 5;
	__u64 wide : 40;        /* crosses into the next 64-bit unit */
	__u8 byte_bits : 7;
	unsigned short s9 : 9;
	__u32 plain;
	long lb : 20;
	__u8 c1 : 2, c2 : 2, c3 : 4;
	struct { __u8 lo : 4, hi : 4; } nib;
	_Bool flag : 1;
	__u64 last : 1;
};

union lay_union {
	__u64 q;
	struct { __u32 lo, hi; } parts;
	__u8 raw[12];
	unsigned int bits : 7;
};

struct lay_nested_packed {
	__u8 head;
	struct lay_packed p[2];
	__u32 after;
} __attribute__((packed));

#define MAP(N, V) struct { __uint(type, BPF_MAP_TYPE_ARRAY); \\
	__uint(max_entries, 1); __type(key, __u32); __type(value, V); } N SEC(".maps")
MAP(m_scalars, struct lay_scalars);
MAP(m_compound, struct lay_compound);
MAP(m_bits, struct lay_bits);
MAP(m_union, union lay_union);
MAP(m_nested, struct lay_nested_packed);
lay_pair_t global_pair;

SEC("tp/syscalls/sys_enter_getpid")
int probe(void *ctx) { return 0; }
char LICENSE[] SEC("license") = "GPL";
`;

const tmp = await Deno.makeTempDir({ prefix: "gen_layout_" });
// removed after this file's last test, whatever order the tests run in
Deno.test.afterAll(() => Deno.removeSync(tmp, { recursive: true }));
Deno.writeTextFileSync(`${tmp}/shapes.bpf.c`, SHAPES);
const obj = await compileBpf(`${tmp}/shapes.bpf.c`, `${tmp}/shapes.bpf.o`);
const header = generateTypes(Deno.readFileSync(obj), { file: obj });
Deno.writeTextFileSync(`${tmp}/shapes.wasm.h`, header);
const dump = await bpftoolBtf(obj);
const byId = new Map(dump.map((d) => [d.id, d]));

/** What a member of the BPF layout is: a path, a byte offset or bit range. */
interface Expect {
  ctype: string;
  size: number;
  offsets: [string, number][];
  bits: [string, number, number][]; // path, bit offset, width
}

function strip(id: number): DumpedType | undefined {
  let t = byId.get(id);
  while (
    t &&
    ["TYPEDEF", "CONST", "VOLATILE", "RESTRICT", "TYPE_TAG"].includes(t.kind)
  ) t = byId.get(Number(t.fields.type_id));
  return t;
}

function collect(t: DumpedType, base: number, prefix: string, e: Expect) {
  for (const l of t.lines) {
    const f = lineFields(l);
    const off = base + Number(f.bits_offset);
    const width = Number(f.bitfield_size ?? 0);
    const mt = strip(Number(f.type_id));
    const path = f.name ? prefix + f.name : prefix.replace(/\.$/, "");
    if (width > 0) {
      e.bits.push([path, off, width]);
      continue;
    }
    if (f.name) e.offsets.push([path, off / 8]);
    // members of anonymous types are reachable through the outer name
    if (mt && (mt.kind === "STRUCT" || mt.kind === "UNION") && !mt.name) {
      collect(mt, off, f.name ? `${path}.` : prefix, e);
    }
  }
}

const expects: Expect[] = [];
for (const m of header.matchAll(/^(struct|union) (\w+) \{$|^\} (\w+);$/gm)) {
  let t: DumpedType | undefined;
  let ctype: string;
  if (m[3]) {
    ctype = m[3];
    const td = dump.find((d) => d.kind === "TYPEDEF" && d.name === ctype)!;
    t = strip(td.id);
  } else {
    ctype = `${m[1]} ${m[2]}`;
    t = dump.find((d) => d.kind === m[1].toUpperCase() && d.name === m[2]);
  }
  assert(t, ctype);
  const e: Expect = {
    ctype,
    size: Number(t.fields.size),
    offsets: [],
    bits: [],
  };
  collect(t, 0, "", e);
  expects.push(e);
}

Deno.test("the types header holds every shape of the object", () => {
  const names = expects.map((e) => e.ctype);
  for (
    const n of [
      "struct lay_scalars",
      "struct lay_compound",
      "struct lay_bits",
      "union lay_union",
      "struct lay_nested_packed",
      "struct lay_inner",
      "struct lay_aligned",
      "struct lay_packed",
      "lay_pair_t",
    ]
  ) assert(names.includes(n), `${n} in the header`);
  assert.match(header, /enum lay_color \{/);
  assert.match(header, /enum lay_tiny \{/);
  assert.match(header, /uint64_t ptr;/);
  assert.match(header, /int64_t l;/);
  assert.match(header, /__attribute__\(\(packed\)\)/);
});

Deno.test("the header's _Static_asserts hold on wasm32 and on BPF", async () => {
  const probe = `${tmp}/syntax.c`;
  Deno.writeTextFileSync(probe, `#include "shapes.wasm.h"\n`);
  await runOk("clang", [
    "--target=wasm32-wasi",
    "-fsyntax-only",
    "-Wall",
    "-Werror",
    "-I",
    tmp,
    probe,
  ]);
  await runOk("clang", [
    "-target",
    "bpf",
    "-ffreestanding",
    "-fsyntax-only",
    "-Wall",
    "-Werror",
    "-I",
    tmp,
    probe,
  ]);
  // the asserts are real: a wrong size is refused
  const bad = `${tmp}/bad.c`;
  Deno.writeTextFileSync(
    bad,
    header.replace(
      /sizeof\(struct lay_scalars\) == (\d+)/,
      (_, n) => `sizeof(struct lay_scalars) == ${Number(n) + 8}`,
    ),
  );
  const r = await new Deno.Command("clang", {
    args: ["--target=wasm32-wasi", "-fsyntax-only", bad],
    stderr: "piped",
  }).output();
  assert.equal(r.success, false);
  assert.match(new TextDecoder().decode(r.stderr), /size differs from BPF/);
});

Deno.test("wasm32 sizes, offsets and bitfield bits equal the BPF layout", async () => {
  const lines: string[] = [
    `#include <stdio.h>`,
    `#include <string.h>`,
    `#include "shapes.wasm.h"`,
    `static void dump(const char *what, const void *p, size_t n) {`,
    `\tconst unsigned char *b = p; printf("B %s ", what);`,
    `\tfor (size_t i = 0; i < n; i++) printf("%02x", b[i]); printf("\\n"); }`,
    `int main(void) {`,
  ];
  expects.forEach((e, i) => {
    lines.push(`\tprintf("S %s %zu\\n", "${e.ctype}", sizeof(${e.ctype}));`);
    for (const [path] of e.offsets) {
      lines.push(
        `\tprintf("O %s %s %zu\\n", "${e.ctype}", "${path}", offsetof(${e.ctype}, ${path}));`,
      );
    }
    for (const [path] of e.bits) {
      lines.push(
        `\t{ ${e.ctype} v${i}; memset(&v${i}, 0, sizeof(v${i})); v${i}.${path} = -1; dump("${e.ctype}|${path}", &v${i}, sizeof(v${i})); }`,
      );
    }
  });
  lines.push("\treturn 0;", "}");
  Deno.writeTextFileSync(`${tmp}/probe.c`, lines.join("\n") + "\n");
  await compileWasm(`${tmp}/probe.c`, `${tmp}/probe.wasm`, [tmp]);
  const out = await runWasm(`${tmp}/probe.wasm`);
  assert.equal(out.code, 0);
  const got = new Map<string, string>();
  for (const l of out.stdout.trim().split("\n")) {
    const [k, ...rest] = l.split(" ");
    if (k === "S") got.set(`S ${rest.slice(0, -1).join(" ")}`, rest.at(-1)!);
    if (k === "O") {
      got.set(`O ${rest.slice(0, -2).join(" ")}|${rest.at(-2)}`, rest.at(-1)!);
    }
    if (k === "B") got.set(`B ${rest.slice(0, -1).join(" ")}`, rest.at(-1)!);
  }
  let checked = 0;
  for (const e of expects) {
    assert.equal(got.get(`S ${e.ctype}`), String(e.size), `sizeof(${e.ctype})`);
    for (const [path, off] of e.offsets) {
      assert.equal(
        got.get(`O ${e.ctype}|${path}`),
        String(off),
        `offsetof(${e.ctype}, ${path})`,
      );
      checked++;
    }
    for (const [path, off, width] of e.bits) {
      const hex = got.get(`B ${e.ctype}|${path}`);
      assert(hex, `${e.ctype}.${path} dumped`);
      const set: number[] = [];
      for (let i = 0; i < hex.length / 2; i++) {
        const byte = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
        for (let b = 0; b < 8; b++) if (byte & (1 << b)) set.push(i * 8 + b);
      }
      const want = Array.from({ length: width }, (_, k) => off + k);
      assert.deepEqual(set, want, `bits of ${e.ctype}.${path}`);
      checked++;
    }
  }
  assert(checked > 60, `checked ${checked} members`);
});

Deno.test("only the named types, and what they contain, with --type", () => {
  const h = generateTypes(Deno.readFileSync(obj), {
    file: obj,
    types: ["lay_compound"],
  });
  assert.match(h, /^struct lay_compound \{$/m);
  assert.match(h, /^struct lay_inner \{$/m); // contained by value
  assert.match(h, /^enum lay_color \{$/m);
  assert.doesNotMatch(h, /struct lay_bits/);
  assert.doesNotMatch(h, /struct lay_scalars/);
  // dependencies come first
  assert(h.indexOf("struct lay_inner {") < h.indexOf("struct lay_compound {"));
});
