// ffi/constants.ts against the kernel headers, and the SDKs' generated
// copies of it (scripts/gen-constants.ts) against the table.
import * as assert from "node:assert/strict";
import {
  type ErrnoInfo,
  LINUX_ERRNOS,
  MapCommand,
  MapType,
  UpdateFlags,
} from "../ffi/constants.ts";
import { blocks } from "../scripts/gen-constants.ts";
import { Errno, errnoName, errnoText } from "../ffi/errors.ts";
import { ROOT } from "./util.ts";
import { run } from "./guests/gen-common/helpers.ts";
import { Errno as WasiErrno, fromLinuxErrno } from "../host/wasi/errno.ts";

const GEN = `${ROOT}/scripts/gen-constants.ts`;

function runGen(script: string, ...args: string[]) {
  return run(Deno.execPath(), ["run", "-A", script, ...args]);
}

function readHeader(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    console.log(`skipped: ${path} is not installed (linux-libc-dev)`);
    return undefined;
  }
}

/** The members of a C enum, in order (value = index unless assigned). */
function enumMembers(text: string, name: string): Map<string, number> {
  const m = text.match(new RegExp(`enum ${name} \\{([^}]*)\\}`));
  assert.ok(m, `enum ${name} not found`);
  const out = new Map<string, number>();
  let next = 0;
  for (const raw of m[1].replace(/\/\*[\s\S]*?\*\//g, "").split(",")) {
    const item = raw.trim();
    if (!item) continue;
    const [k, v] = item.split("=").map((s) => s.trim());
    const value = v === undefined ? next : Number(v);
    if (Number.isNaN(value)) continue; // an alias (X = Y)
    out.set(k, value);
    next = value + 1;
  }
  return out;
}

Deno.test("every SDK's generated block is current (gen-constants --check)", async () => {
  const r = await runGen(GEN, "--check");
  assert.equal(r.code, 0, r.stderr);
  // every SDK language is covered
  const files = new Set(blocks().map((b) => b.file));
  for (
    const f of [
      "wasm-sdk/c/libbpf-wasm.h",
      "wasm-sdk/c/wasm-bpf-abi.h",
      "wasm-sdk/rust/src/lib.rs",
      "wasm-sdk/rust/src/sys.rs",
      "wasm-sdk/go/errno.go",
      "wasm-sdk/go/wasmbpf.go",
      "wasm-sdk/assemblyscript/index.ts",
    ]
  ) assert.ok(files.has(f), `${f} has no generated block`);
});

Deno.test("gen-constants --check fails and names the file of a stale block; a run repairs it", async () => {
  // a copy of the generator, the table and the SDK files, so the real tree
  // is never touched (other tests may read it meanwhile)
  const dir = await Deno.makeTempDir({ prefix: "gen-constants-" });
  try {
    const copy = async (rel: string) => {
      const to = `${dir}/${rel}`;
      await Deno.mkdir(to.slice(0, to.lastIndexOf("/")), { recursive: true });
      await Deno.copyFile(`${ROOT}/${rel}`, to);
    };
    await copy("scripts/gen-constants.ts");
    await copy("ffi/constants.ts");
    for (const f of new Set(blocks().map((b) => b.file))) await copy(f);
    const script = `${dir}/scripts/gen-constants.ts`;
    assert.equal((await runGen(script, "--check")).code, 0);

    const go = `${dir}/wasm-sdk/go/errno.go`;
    const original = await Deno.readTextFile(go);
    const edited = original.replace(
      "EINVAL     Errno = 22",
      "EINVAL     Errno = 21",
    );
    assert.notEqual(edited, original);
    await Deno.writeTextFile(go, edited);
    const stale = await runGen(script, "--check");
    assert.equal(stale.code, 1);
    assert.match(stale.stderr, /wasm-sdk\/go\/errno\.go \(errno\)/);
    assert.doesNotMatch(stale.stderr, /libbpf-wasm\.h/);
    assert.equal(await Deno.readTextFile(go), edited, "--check wrote");

    const fix = await runGen(script);
    assert.equal(fix.code, 0, fix.stderr);
    assert.equal(await Deno.readTextFile(go), original);

    // a file without its markers is named, not silently skipped
    const rs = `${dir}/wasm-sdk/rust/src/sys.rs`;
    await Deno.writeTextFile(
      rs,
      (await Deno.readTextFile(rs)).replace(/^.*END GENERATED.*$/m, ""),
    );
    const broken = await runGen(script, "--check");
    assert.equal(broken.code, 1);
    assert.match(broken.stderr, /wasm-sdk\/rust\/src\/sys\.rs/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("errno numbers and names match asm-generic/errno*.h", () => {
  const base = readHeader("/usr/include/asm-generic/errno-base.h");
  const more = readHeader("/usr/include/asm-generic/errno.h");
  if (!base || !more) return;
  const header = new Map<string, number>();
  for (const m of (base + more).matchAll(/#define\s+(E\w+)\s+(\d+)/g)) {
    header.set(m[1], Number(m[2]));
  }
  assert.ok(header.size > 120, "the headers were not parsed");
  const table = new Map<string, number>(
    (LINUX_ERRNOS as readonly ErrnoInfo[]).map((e) => [e.name, e.errno]),
  );
  for (const [name, n] of header) {
    assert.equal(table.get(name), n, `${name} is ${n} in the kernel headers`);
  }
  for (const [name, n] of table) {
    if (name === "ENOTSUPP") continue; // kernel-internal, not in uapi
    assert.equal(header.get(name), n, `${name} is not in the kernel headers`);
  }
  assert.equal(table.get("ENOTSUPP"), 524);
  assert.equal(new Set(table.values()).size, table.size, "duplicate numbers");
  // spot checks
  assert.equal(Errno.EPERM, 1);
  assert.equal(Errno.EINVAL, header.get("EINVAL"));
  assert.equal(Errno.EOPNOTSUPP, header.get("EOPNOTSUPP"));
  // the host names every errno of the table (the SDK set is a subset)
  for (const e of LINUX_ERRNOS as readonly ErrnoInfo[]) {
    assert.equal(errnoName(-e.errno), e.name);
    assert.equal(errnoText(e.errno), `${e.text} (${e.name})`);
    if (e.sdk) {
      assert.equal((Errno as Record<string, number>)[e.name], e.errno);
    }
  }
});

Deno.test("every errno a C guest sees exists in wasi-libc's errno.h", () => {
  let text = "";
  for (
    const f of [
      "/usr/include/wasm32-wasi/__errno_values.h",
      "/usr/include/wasm32-wasi/errno.h",
    ]
  ) {
    try {
      text += Deno.readTextFileSync(f);
    } catch { /* the other file may have them */ }
  }
  if (!text) {
    console.log("skipped: wasi-libc's headers are not installed");
    return;
  }
  for (const e of LINUX_ERRNOS as readonly ErrnoInfo[]) {
    if (!e.guestLibc) continue;
    assert.match(
      text,
      new RegExp(`#define\\s+${e.guestLibc}\\b`),
      `${e.name}: wasi-libc has no ${e.guestLibc}`,
    );
  }
});

Deno.test("map types, map commands and update flags match linux/bpf.h", () => {
  const bpf = readHeader("/usr/include/linux/bpf.h");
  if (!bpf) return;
  const types = enumMembers(bpf, "bpf_map_type");
  assert.ok(types.size >= 30, "enum bpf_map_type was not parsed");
  for (const [k, v] of types) {
    const name = k.replace(/^BPF_MAP_TYPE_/, "");
    assert.equal(
      (MapType as Record<string, number>)[name],
      v,
      `${k} is ${v} in linux/bpf.h`,
    );
  }
  // newer than these headers: order continues the enum
  const entries = Object.entries(MapType);
  entries.forEach(([, v], i) => assert.equal(v, i, "MapType has a gap"));

  const cmds = enumMembers(bpf, "bpf_cmd");
  for (const [k, v] of Object.entries(MapCommand)) {
    assert.equal(cmds.get(`BPF_MAP_${k}`), v, `BPF_MAP_${k}`);
  }
  for (const [k, v] of Object.entries(UpdateFlags)) {
    const m: RegExpMatchArray | null = bpf.match(
      new RegExp(`\\bBPF_${k}\\s*=\\s*(\\d+)`),
    );
    assert.ok(m, `BPF_${k} not in linux/bpf.h`);
    assert.equal(Number(m[1]), v, `BPF_${k}`);
  }
});

Deno.test("the host's WASI layer translates Linux errnos as the C SDK does", () => {
  // host/wasi/errno.ts has its own Linux → WASI table; WASI names are the
  // wasi-libc macros without the E (E2BIG is TOOBIG, EOPNOTSUPP NOTSUP)
  const wasiName = (macro: string) =>
    macro === "E2BIG"
      ? "TOOBIG"
      : macro === "EOPNOTSUPP"
      ? "NOTSUP"
      : macro.slice(1);
  const byValue = new Map<number, string>(
    Object.entries(WasiErrno).map(([k, v]) => [v as number, k]),
  );
  for (const e of LINUX_ERRNOS as readonly ErrnoInfo[]) {
    assert.equal(
      byValue.get(fromLinuxErrno(e.errno)),
      e.guestLibc ? wasiName(e.guestLibc) : "IO",
      `${e.name} (${e.errno})`,
    );
  }
});
