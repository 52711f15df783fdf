/**
 * The `gen` command line, in-process (`main()`) and as a process (cli.ts run
 * directly, and `mod.ts gen` when the host CLI routes it): help, output,
 * and one clear error line with a non-zero status for bad input.
 */
import assert from "node:assert/strict";
import { main } from "../wasm-sdk/gen/cli.ts";
import { generateSkeleton } from "../wasm-sdk/gen/skeleton.ts";
import { generateTypes } from "../wasm-sdk/gen/types.ts";
import { compileBpf, ROOT, run } from "./guests/gen-common/helpers.ts";

const CLI = `${ROOT}/wasm-sdk/gen/cli.ts`;
const tmp = await Deno.makeTempDir({ prefix: "gen_cli_" });
// removed after this file's last test, whatever order the tests run in
Deno.test.afterAll(() => Deno.removeSync(tmp, { recursive: true }));
const good = await compileBpf(
  `${ROOT}/tests/guests/gen-basic/gen_basic.bpf.c`,
  `${tmp}/good.bpf.o`,
);
// without -g there is no BTF (and so no CO-RE): a plain program
Deno.writeTextFileSync(
  `${tmp}/nobtf.bpf.c`,
  `#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
SEC("tp/syscalls/sys_enter_getpid") int p(void *ctx) { return 0; }
char LICENSE[] SEC("license") = "GPL";
`,
);
const noBtf = await compileBpf(`${tmp}/nobtf.bpf.c`, `${tmp}/nobtf.bpf.o`, {
  debug: false,
});
const goodBytes = Deno.readFileSync(good);
Deno.writeTextFileSync(`${tmp}/text.o`, "this is not an object file\n");
Deno.writeFileSync(
  `${tmp}/truncated.o`,
  goodBytes.slice(0, goodBytes.length >> 1),
);
// .BTF's size made larger than the file: headers intact, data cut short
{
  const b = goodBytes.slice();
  const v = new DataView(b.buffer);
  const shoff = Number(v.getBigUint64(40, true));
  const shnum = v.getUint16(60, true);
  const shstr = shoff + v.getUint16(62, true) * 64;
  const strOff = Number(v.getBigUint64(shstr + 24, true));
  for (let i = 0; i < shnum; i++) {
    const h = shoff + i * 64;
    let p = strOff + v.getUint32(h, true);
    let name = "";
    while (b[p]) name += String.fromCharCode(b[p++]);
    if (name === ".BTF") v.setBigUint64(h + 32, BigInt(b.length), true);
  }
  Deno.writeFileSync(`${tmp}/cutbtf.o`, b);
}

/** Runs main() in-process, capturing console output. */
async function inProcess(args: string[]) {
  const err: string[] = [];
  const log: string[] = [];
  const origErr = console.error;
  const origLog = console.log;
  console.error = (...a: unknown[]) => err.push(a.join(" "));
  console.log = (...a: unknown[]) => log.push(a.join(" "));
  try {
    const code = await main(args);
    return { code, stderr: err.join("\n"), stdout: log.join("\n") };
  } finally {
    console.error = origErr;
    console.log = origLog;
  }
}

/** Runs cli.ts as a process with only read permission. */
function asProcess(args: string[]) {
  return run(Deno.execPath(), ["run", "--allow-read", CLI, ...args]);
}

const BAD: [string, string[], RegExp][] = [
  ["not an ELF", ["skeleton", `${tmp}/text.o`], /text\.o: not an ELF file$/],
  [
    "an ELF without BTF",
    ["skeleton", noBtf],
    /nobtf\.bpf\.o: no \.BTF section \(compile with clang -g\)$/,
  ],
  [
    "a truncated file",
    ["types", `${tmp}/truncated.o`],
    /truncated\.o: truncated ELF \(section headers extend past end of file\)$/,
  ],
  [
    "a section past the end",
    ["skeleton", `${tmp}/cutbtf.o`],
    /cutbtf\.o: truncated ELF \(section \.BTF extends past end of file\)$/,
  ],
  [
    "an unknown --type",
    ["types", good, "--type", "no_such_struct"],
    /unknown type 'no_such_struct' in .*good\.bpf\.o$/,
  ],
  [
    "a missing file",
    ["types", `${tmp}/missing.o`],
    /missing\.o: no such file$/,
  ],
  ["an unknown command", ["frobnicate"], /unknown command 'frobnicate'/],
  ["no object", ["skeleton"], /missing the object file/],
  ["an unknown option", ["types", good, "--bogus"], /bogus/],
  [
    "a bad skeleton name",
    ["skeleton", good, "--name", "1-bad"],
    /'1-bad' is not a valid C identifier/,
  ],
];

for (const [what, args, re] of BAD) {
  Deno.test(`gen with ${what}: one error line, non-zero status`, async () => {
    const a = await inProcess(args);
    assert.notEqual(a.code, 0);
    assert.equal(a.stdout, "");
    assert.equal(a.stderr.split("\n").length, 1, a.stderr);
    assert.match(a.stderr, re);
    const p = await asProcess(args);
    assert.notEqual(p.code, 0);
    assert.equal(p.stdout, "");
    assert.equal(p.stderr.trim().split("\n").length, 1, p.stderr);
    assert.match(p.stderr.trim(), re);
  });
}

Deno.test("gen --help and each subcommand's --help exit 0", async () => {
  for (const args of [["--help"], ["skeleton", "--help"], ["types", "-h"]]) {
    const a = await inProcess(args);
    assert.equal(a.code, 0);
    assert.match(a.stdout, /^usage: gen/);
    const p = await asProcess(args);
    assert.equal(p.code, 0);
    assert.match(p.stdout, /^usage: gen/);
  }
  assert.match((await inProcess(["types", "--help"])).stdout, /--type T/);
  assert.match((await inProcess(["skeleton", "--help"])).stdout, /--name N/);
  assert.notEqual((await inProcess([])).code, 0);
});

Deno.test("gen skeleton and gen types print the generators' output", async () => {
  const s = await asProcess(["skeleton", good]);
  assert.equal(s.code, 0, s.stderr);
  assert.equal(s.stdout, generateSkeleton("good_bpf", goodBytes, good));
  const n = await asProcess(["skeleton", good, "--name", "other"]);
  assert.match(n.stdout, /^struct other \{$/m);
  assert.match(n.stdout, /other__open_and_load\(void\)/);
  const t = await asProcess(["types", good, "--type", "gen_key"]);
  assert.equal(t.code, 0, t.stderr);
  assert.equal(
    t.stdout,
    generateTypes(goodBytes, { file: good, types: ["gen_key"] }),
  );
  assert.match(t.stdout, /^struct gen_key \{$/m);
  assert.doesNotMatch(t.stdout, /struct gen_event/);
});

Deno.test("mod.ts gen routes to the same command line", async (t) => {
  const mod = Deno.readTextFileSync(`${ROOT}/mod.ts`) +
    (() => {
      try {
        return Deno.readTextFileSync(`${ROOT}/host/cli.ts`);
      } catch {
        return "";
      }
    })();
  if (!mod.includes("wasm-sdk/gen/cli.ts")) {
    await t.step({
      name: "mod.ts does not route gen yet",
      ignore: true,
      fn() {},
    });
    return;
  }
  const r = await run(Deno.execPath(), [
    "run",
    "--allow-read",
    "--allow-env",
    "--allow-ffi",
    `${ROOT}/mod.ts`,
    "gen",
    "types",
    good,
    "--type",
    "gen_key",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^struct gen_key \{$/m);
  const bad = await run(Deno.execPath(), [
    "run",
    "--allow-read",
    "--allow-env",
    "--allow-ffi",
    `${ROOT}/mod.ts`,
    "gen",
    "types",
    `${tmp}/text.o`,
  ]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr.trim(), /text\.o: not an ELF file$/);
});
