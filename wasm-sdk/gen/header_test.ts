import assert from "node:assert/strict";
import {
  anonymousEnums,
  compileHeader,
  headerMacros,
  headerTypeNames,
} from "./header.ts";
import { generateTypes } from "./types.ts";
import { main } from "./cli.ts";
import { GenError } from "./errors.ts";

Deno.test("headerTypeNames lists defined tags and composite typedefs in order", () => {
  const names = headerTypeNames(`
/* struct in_comment { int x; }; */
// union in_line_comment { int y; };
struct fwd;
struct a { int x; struct { int y; } inner; };
typedef struct { int z; } anon_t;
typedef struct a a_t;
enum color { RED, GREEN };
union u { int i; float f; };
typedef unsigned int u32;
struct a *p;
`);
  assert.deepEqual(names, [
    "struct a",
    "anon_t",
    "a_t",
    "enum color",
    "union u",
    "u32",
  ]);
});

Deno.test("headerTypeNames: scalar, array and function-pointer typedefs", () => {
  assert.deepEqual(
    headerTypeNames(`
typedef unsigned long long __u64;
typedef char name_t[16];
typedef int (*handler_fn)(void *ctx, int x);
typedef void (* cb_t) (void);
int (*not_a_typedef)(int);
`),
    ["__u64", "name_t", "handler_fn", "cb_t"],
  );
});

Deno.test("anonymousEnums: the constants of anonymous enums, not of typedef'd ones", () => {
  assert.deepEqual(
    anonymousEnums(`
enum { A = 1, B, C = (1 << 2) };
/* enum { IN_COMMENT }; */
enum named { N1 };
typedef enum { T1, T2 } t_t;
struct s { enum { M1, M2 = F(1, 2) } kind; };
`),
    [["A", "B", "C"], ["M1", "M2"]],
  );
});

Deno.test("headerMacros: only the header's own #defines with a body", () => {
  const pre = [
    '# 1 "/h/t.h"',
    '# 1 "<built-in>" 1',
    "#define __BUILTIN 1",
    '# 1 "/h/t.h" 2',
    "#define T_H ",
    '# 1 "/usr/include/x.h" 1 3 4',
    "#define FROM_INCLUDE 3",
    '# 4 "/h/t.h" 2',
    "#define MAXLEN 16",
    "#define FN(x) ((x) + 1)",
    "int x;",
  ].join("\n");
  assert.deepEqual(headerMacros(pre, "/h/t.h"), [
    "#define MAXLEN 16",
    "#define FN(x) ((x) + 1)",
  ]);
});

const FN_HEADER = `#ifndef T_H
#define T_H
#define MAXLEN 16
#define TWICE (MAXLEN * 2 + \\
	1)
#define NAME "probe"
#ifdef NOT_DEFINED
#define HIDDEN 1
typedef int hidden_t;
#endif
typedef unsigned long long __u64;
enum { A = 1, B, C = -5, D = MAXLEN << 1 };
struct opaque;
typedef int (*handler_fn)(void *ctx, int x);
typedef long (*getter_fn)(const struct opaque *o, const char *key, ...);
struct with_fn {
	__u64 id;
	handler_fn cb;
	int x;
	getter_fn get;
	char name[MAXLEN];
};
#endif
`;

/** A wasm32 guest that uses what the generated header declares. */
const FN_USE = `#include "t.wasm.h"
static int32_t handler(void *ctx, int32_t x) { (void)ctx; return x + A; }
handler_fn table[1] = { handler };
_Static_assert(sizeof(handler_fn) == 4, "a wasm32 function pointer");
_Static_assert(sizeof(struct with_fn) == 48, "BPF size");
_Static_assert(offsetof(struct with_fn, cb) == 8, "cb");
_Static_assert(offsetof(struct with_fn, x) == 16, "x");
_Static_assert(offsetof(struct with_fn, get) == 24, "get");
_Static_assert(offsetof(struct with_fn, name) == 32, "name");
_Static_assert(A == 1 && B == 2 && C == -5 && D == 32, "anonymous enum");
_Static_assert(MAXLEN == 16 && TWICE == 33, "#define");
__u64 big = 1;
int main(void) {
	struct with_fn w = { 0 };
	char name[] = NAME;
	w.cb = (uint64_t)(uintptr_t)table[0];
	return table[0](0, (int)sizeof(name)) == 7 ? (int)w.x : 1;
}
`;

async function clang(args: string[]): Promise<Deno.CommandOutput> {
  return await new Deno.Command("clang", {
    args,
    stdout: "piped",
    stderr: "piped",
  }).output();
}

Deno.test("gen types --header: anonymous enums, function-pointer typedefs and #defines compile for wasm32 with the BPF layout", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/t.h`, FN_HEADER);
    const text = generateTypes(null, {
      header: { file: `${dir}/t.h`, bytes: await compileHeader(`${dir}/t.h`) },
    });
    await Deno.writeTextFile(`${dir}/t.wasm.h`, text);
    await Deno.writeTextFile(`${dir}/use.c`, FN_USE);
    // the header's own _Static_asserts, and the use above, on wasm32
    const wasm = await clang([
      "--target=wasm32-wasi",
      "-Wall",
      "-Werror",
      "-c",
      `${dir}/use.c`,
      "-o",
      `${dir}/use.o`,
    ]);
    assert.equal(wasm.code, 0, new TextDecoder().decode(wasm.stderr) + text);
    // and on the BPF target (the layout the header describes)
    const bpf = await clang([
      "-target",
      "bpf",
      "-ffreestanding",
      "-fsyntax-only",
      "-x",
      "c",
      `${dir}/t.wasm.h`,
    ]);
    assert.equal(bpf.code, 0, new TextDecoder().decode(bpf.stderr));
    // a member of a function-pointer type keeps the BPF side's 8 bytes
    assert.match(text, /^\tuint64_t cb;$/m);
    // the conditional parts the BPF preprocessor dropped are not there
    assert.doesNotMatch(text, /HIDDEN|hidden_t/);
    // include guards (no body) are left out
    assert.doesNotMatch(text, /define T_H\b/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("gen types --header: types only the header defines, wasm32-checked", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/t.h`,
      `typedef unsigned long long u64;
struct rec { u64 ts; char *name; long delta; unsigned char tag; };
typedef struct { int a; } pair_t;
enum kind { K_A = 1, K_B = 7 };
`,
    );
    const text = generateTypes(null, {
      header: { file: `${dir}/t.h`, bytes: await compileHeader(`${dir}/t.h`) },
    });
    // pointers and long at their 64-bit BPF layout, checked at compile time
    assert.match(text, /^struct rec \{/m);
    assert.match(text, /_Static_assert\(sizeof\(struct rec\) == 32,/);
    assert.match(text, /\buint64_t name;/);
    assert.match(text, /\bint64_t delta;/);
    assert.match(text, /pair_t;/);
    assert.match(text, /K_B = 7/);
    // deterministic
    assert.equal(
      generateTypes(null, {
        header: {
          file: `${dir}/t.h`,
          bytes: await compileHeader(`${dir}/t.h`),
        },
      }),
      text,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("compileHeader: a header that does not compile is a GenError", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/bad.h`, "struct x { undefined_t a; };\n");
    await assert.rejects(() => compileHeader(`${dir}/bad.h`), GenError);
    await assert.rejects(() => compileHeader(`${dir}/none.h`), GenError);
    assert.equal(await main(["types", "--header", `${dir}/none.h`]), 1);
    assert.equal(await main(["types"]), 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
