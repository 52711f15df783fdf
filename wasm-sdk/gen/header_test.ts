import assert from "node:assert/strict";
import { compileHeader, headerTypeNames } from "./header.ts";
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
  ]);
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
