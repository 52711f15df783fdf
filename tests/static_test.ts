/**
 * The code is formatted, lint-clean and type-checks: `deno fmt --check`,
 * `deno lint` and `deno check` over every TypeScript module of the project,
 * `deno doc --lint` over the public API (mod.ts)
 * (AssemblyScript guest sources use asc's types and are left out of
 * `deno check`: they type-check with asc, in tests/sdk_as_test.ts).
 */
import assert from "node:assert/strict";
import { ROOT } from "./util.ts";

async function deno(args: string[]): Promise<{ ok: boolean; out: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return {
    ok: out.success,
    out: dec.decode(out.stdout) + dec.decode(out.stderr),
  };
}

/** AssemblyScript sources: asc's dialect, not Deno's TypeScript. */
const ASSEMBLYSCRIPT = [
  /^wasm-sdk\/assemblyscript\//,
  /^examples\/as-[^/]+\/(?!.*_test\.ts$)/,
];

/** Every .ts file deno.json does not exclude from linting, but AssemblyScript. */
function tsFiles(): string[] {
  const config = JSON.parse(Deno.readTextFileSync(`${ROOT}/deno.json`));
  const excluded: string[] = [
    ...(config.exclude ?? []),
    ...(config.lint?.exclude ?? []),
  ]
    .map((p: string) => p.replace(/\/$/, ""));
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of Deno.readDirSync(`${ROOT}/${dir}`)) {
      const rel = dir ? `${dir}/${e.name}` : e.name;
      if (e.name.startsWith(".") || e.name === "node_modules") continue;
      if (excluded.some((x) => rel === x || rel.startsWith(`${x}/`))) continue;
      if (e.isDirectory) walk(rel);
      else if (
        e.name.endsWith(".ts") && !ASSEMBLYSCRIPT.some((r) => r.test(rel))
      ) {
        out.push(rel);
      }
    }
  };
  walk("");
  return out.sort();
}

Deno.test("deno fmt --check is clean", async () => {
  const r = await deno(["fmt", "--check"]);
  assert(r.ok, r.out);
});

Deno.test("deno lint is clean", async () => {
  const r = await deno(["lint"]);
  assert(r.ok, r.out);
});

Deno.test("deno check passes on every module", async () => {
  const files = tsFiles();
  assert(
    files.includes("mod.ts") && files.includes("host/host.ts"),
    files.join(" "),
  );
  const r = await deno(["check", ...files]);
  assert(r.ok, r.out);
});

Deno.test("the package is JSR-publishable: deno publish --dry-run", async () => {
  const r = await deno(["publish", "--dry-run", "--allow-dirty"]);
  assert(r.ok, r.out);
  assert.match(r.out, /Dry run complete/);
});

Deno.test("every export of the public API is documented: deno doc --lint mod.ts", async () => {
  const r = await deno(["doc", "--lint", "mod.ts"]);
  assert(r.ok, r.out);
});
