/**
 * The minimal CO-RE BTF (objfile/core_btf.ts) and its cache
 * (host/core_btf.ts), against references: bpftool's own `gen
 * min_core_btf` on every object the build makes, libbpf relocating every
 * object the same way against it as against the kernel's BTF, and a guest
 * whose output shows which BTF its relocations used when the cache holds a
 * planted entry.
 */
import * as assert from "node:assert/strict";
import { coreBtfFor, entryPath } from "../host/core_btf.ts";
import { coreNeeds, minimalCoreBtf, RawBtf } from "../objfile/core_btf.ts";
import { ElfFile } from "../objfile/elf.ts";
import { cstr } from "../ffi/tiered.ts";
import { fields, spawnAndWait, Tool } from "../examples/tool_test_util.ts";
import { CLI_PERMISSIONS, ROOT } from "./util.ts";

const KERNEL_BTF = "/sys/kernel/btf/vmlinux";
const kernel = Deno.readFileSync(KERNEL_BTF);

/** Every .bpf.o under build/ (scripts/test.sh builds them all first). */
function builtObjects(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of Deno.readDirSync(dir)) {
      const p = `${dir}/${e.name}`;
      if (e.isDirectory) walk(p);
      else if (e.name.endsWith(".bpf.o")) out.push(p);
    }
  };
  for (const d of ["examples", "tests", "bench", "wasm-sdk"]) {
    try {
      walk(`${ROOT}/build/${d}`);
    } catch { /* not built */ }
  }
  return out.sort();
}

function needsOf(bytes: Uint8Array): string | null {
  const elf = new ElfFile("object", bytes);
  const btf = elf.section(".BTF"), ext = elf.section(".BTF.ext");
  return btf && ext ? coreNeeds(elf.data(btf), elf.data(ext)) : null;
}

async function output(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stderr: "piped" }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout);
}

Deno.test("min CO-RE BTF: the same types as bpftool gen min_core_btf, for every built object", async () => {
  const tmp = Deno.makeTempDirSync({ prefix: "core-btf-" });
  try {
    let compared = 0;
    for (const obj of builtObjects()) {
      const needs = needsOf(Deno.readFileSync(obj));
      if (!needs) continue;
      const ours = minimalCoreBtf(needs, kernel);
      assert.ok(ours, `${obj}: every relocation has a candidate here`);
      Deno.writeFileSync(`${tmp}/ours.btf`, ours);
      await output("bpftool", [
        "gen",
        "min_core_btf",
        KERNEL_BTF,
        `${tmp}/theirs.btf`,
        obj,
      ]);
      const dump = (f: string) =>
        output("bpftool", ["btf", "dump", "file", `${tmp}/${f}`]);
      assert.equal(await dump("ours.btf"), await dump("theirs.btf"), obj);
      compared++;
    }
    // bootstrap, runqlat, execve, opensnoop, xdp, ... and the test guests
    assert.ok(
      compared >= 15,
      `only ${compared} objects with CO-RE relocations`,
    );
  } finally {
    Deno.removeSync(tmp, { recursive: true });
  }
});

Deno.test("min CO-RE BTF: what each kind of relocation asks, and where only the kernel's BTF answers", () => {
  const kinds = `${ROOT}/build/tests/guests/core-kinds`;
  const needs = JSON.parse(
    needsOf(Deno.readFileSync(`${kinds}/core_kinds.bpf.o`))!,
  ) as unknown[][];
  const has = (...need: unknown[]) =>
    assert.ok(
      needs.some((n) => JSON.stringify(n) === JSON.stringify(need)),
      `${JSON.stringify(need)} in ${JSON.stringify(needs)}`,
    );
  has("enum", 6, "bpf_func_id");
  has("type", 4, "task_struct");
  has("field", 4, "task_struct", "tgid"); // asked as task_struct___flavor
  has("field", 4, "task_struct", "comm", "[]");
  has("field", 4, "sk_buff", "next"); // inside anonymous members
  has("field", 4, "task_struct", "sched_reset_on_fork");
  // bpf_core_type_id_kernel(): an id of the BTF it was resolved against
  assert.equal(needsOf(Deno.readFileSync(`${kinds}/core_target.bpf.o`)), null);
  // a type the kernel does not have: libbpf would look in modules' BTF
  assert.equal(
    minimalCoreBtf(`[["field",4,"no_such_struct_here","x"]]`, kernel),
    null,
  );
});

// libbpf itself, as the oracle: open, load, read back the relocated code
const libbpf = Deno.dlopen("libbpf.so.1", {
  bpf_object__open_mem: {
    parameters: ["buffer", "usize", "buffer"],
    result: "pointer",
  },
  bpf_object__load: { parameters: ["pointer"], result: "i32" },
  bpf_object__close: { parameters: ["pointer"], result: "void" },
  bpf_object__next_program: {
    parameters: ["pointer", "pointer"],
    result: "pointer",
  },
  bpf_program__name: { parameters: ["pointer"], result: "pointer" },
  bpf_program__insns: { parameters: ["pointer"], result: "pointer" },
  bpf_program__insn_cnt: { parameters: ["pointer"], result: "usize" },
  bpf_program__autoload: { parameters: ["pointer"], result: "bool" },
  libbpf_set_print: { parameters: ["pointer"], result: "pointer" },
}).symbols;

/**
 * Each loaded program's instructions after libbpf's relocations, map
 * descriptors masked, or a string saying why the object did not load.
 */
function relocated(
  bytes: Uint8Array,
  pinRoot: string,
  btfPath?: string,
): Map<string, string> | string {
  const opts = new Uint8Array(56);
  const v = new DataView(opts.buffer);
  const keep = [cstr("core_btf_test"), cstr(pinRoot), cstr(btfPath ?? "")];
  const ptr = (b: Uint8Array) =>
    BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(b)));
  v.setBigUint64(0, 56n, true);
  v.setBigUint64(8, ptr(keep[0]), true);
  v.setBigUint64(24, ptr(keep[1]), true);
  if (btfPath) v.setBigUint64(48, ptr(keep[2]), true);
  const copy = new Uint8Array(bytes);
  const obj = libbpf.bpf_object__open_mem(copy, BigInt(copy.length), opts);
  if (!obj) return "open failed";
  try {
    const err = libbpf.bpf_object__load(obj);
    if (err) return `load failed (${err})`;
    const out = new Map<string, string>();
    for (
      let p = libbpf.bpf_object__next_program(obj, null);
      p;
      p = libbpf.bpf_object__next_program(obj, p)
    ) {
      if (!libbpf.bpf_program__autoload(p)) continue;
      const name = Deno.UnsafePointerView.getCString(
        libbpf.bpf_program__name(p)!,
      );
      const n = Number(libbpf.bpf_program__insn_cnt(p));
      const insns = new Uint8Array(
        Deno.UnsafePointerView.getArrayBuffer(
          libbpf.bpf_program__insns(p)!,
          n * 8,
        ).slice(0),
      );
      // ld_imm64 of a map: its descriptor differs from load to load
      for (let i = 0; i < n; i++) {
        if (insns[i * 8] === 0x18 && insns[i * 8 + 1] >> 4) {
          insns.fill(0, i * 8 + 4, i * 8 + 8);
          i++;
        }
      }
      out.set(name, Array.from(insns).join(","));
    }
    void keep;
    return out;
  } finally {
    libbpf.bpf_object__close(obj);
  }
}

Deno.test("min CO-RE BTF: libbpf relocates every example's programs as against the kernel's BTF", () => {
  const tmp = Deno.makeTempDirSync({ prefix: "core-btf-" });
  const pins = `/sys/fs/bpf/core-btf-test-${Deno.pid}`;
  Deno.mkdirSync(pins);
  const quiet = new Deno.UnsafeCallback(
    { parameters: ["i32", "pointer", "pointer"], result: "i32" } as const,
    () => 0,
  );
  const old = libbpf.libbpf_set_print(quiet.pointer);
  try {
    let compared = 0;
    const objects = builtObjects().filter((o) =>
      o.includes("/examples/") || o.includes("/core-kinds/")
    );
    for (const obj of objects) {
      const bytes = Deno.readFileSync(obj);
      const needs = needsOf(bytes);
      if (!needs) continue;
      const expected = relocated(bytes, pins);
      if (typeof expected === "string") {
        console.log(`  skipped ${obj}: ${expected} against the kernel's BTF`);
        continue;
      }
      const btfPath = `${tmp}/min.btf`;
      Deno.writeFileSync(btfPath, minimalCoreBtf(needs, kernel)!);
      const got = relocated(bytes, pins, btfPath);
      assert.deepEqual(got, expected, obj);
      compared++;
    }
    assert.ok(compared >= 9, `only ${compared} objects loaded`);
  } finally {
    libbpf.libbpf_set_print(old);
    quiet.close();
    Deno.removeSync(tmp, { recursive: true });
    Deno.removeSync(pins, { recursive: true });
  }
});

const BOOTSTRAP = `${ROOT}/build/examples/bootstrap/bootstrap.bpf.o`;

/** This process's DENO_DIR (by default under XDG_CACHE_HOME, or ~/.cache). */
function denoDir(): string {
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  return Deno.env.get("DENO_DIR") ??
    `${xdg?.startsWith("/") ? xdg : `${Deno.env.get("HOME")}/.cache`}/deno`;
}

/** A cache directory of its own, and the bootstrap object's question. */
function setup() {
  const base = Deno.makeTempDirSync({ prefix: "core-btf-cache-" });
  const dir = `${base}/wasm-bpf/core-btf/test-kernel`;
  const bytes = Deno.readFileSync(BOOTSTRAP);
  const needs = needsOf(bytes);
  assert.ok(needs);
  return { base, dir, elf: new ElfFile("bootstrap", bytes), needs };
}

/** An entry as host/core_btf.ts writes it: "WBCB", question, answer. */
function entry(question: string, btf: Uint8Array): Uint8Array {
  const q = new TextEncoder().encode(question);
  const out = new Uint8Array(12 + q.length + btf.length);
  const v = new DataView(out.buffer);
  out.set([0x57, 0x42, 0x43, 0x42]);
  v.setUint32(4, q.length, true);
  out.set(q, 8);
  v.setUint32(8 + q.length, btf.length, true);
  out.set(btf, 12 + q.length);
  return out;
}

Deno.test("core BTF cache: made once, then answered from the entry alone", () => {
  const { base, dir, elf, needs } = setup();
  try {
    const first = coreBtfFor(elf, { dir });
    assert.ok(first);
    const expected = minimalCoreBtf(needs, kernel)!;
    assert.deepEqual(Deno.readFileSync(first.path), expected);
    first.close();
    assert.equal(Deno.lstatSync(entryPath(dir, needs)).mode! & 0o777, 0o600);
    assert.equal(Deno.lstatSync(dir).mode! & 0o777, 0o700);
    // no kernel BTF to make it from: the answer comes from the entry
    const second = coreBtfFor(elf, { dir, kernelBtf: "/nonexistent" });
    assert.ok(second, "the entry answers");
    assert.deepEqual(Deno.readFileSync(second.path), expected);
    second.close();
  } finally {
    Deno.removeSync(base, { recursive: true });
  }
});

Deno.test("core BTF cache: an entry anyone else could have written is not used", () => {
  const { base, dir, elf, needs } = setup();
  try {
    const file = entryPath(dir, needs);
    const make = () => coreBtfFor(elf, { dir })?.close();
    const unused = (why: string) => {
      // with no kernel BTF to make it again, a refused entry gives no answer
      const f = coreBtfFor(elf, { dir, kernelBtf: "/nonexistent" });
      f?.close();
      assert.equal(f, undefined, why);
    };
    const used = (why: string) => {
      const f = coreBtfFor(elf, { dir, kernelBtf: "/nonexistent" });
      f?.close();
      assert.ok(f, why);
    };
    make();
    used("this user's entry");
    Deno.chownSync(file, 65534, 65534);
    unused("an entry owned by another user");
    make(); // made again, renamed over it
    assert.equal(Deno.lstatSync(file).uid, Deno.uid());
    used("made again");
    Deno.chmodSync(file, 0o620);
    unused("a group-writable entry");
    Deno.chmodSync(file, 0o600);
    Deno.chmodSync(dir, 0o770);
    unused("a directory others may write");
    Deno.chmodSync(dir, 0o700);
    used("the directory ours again");
    const real = Deno.readFileSync(file);
    Deno.removeSync(file);
    Deno.writeFileSync(`${dir}/elsewhere`, real, { mode: 0o600 });
    Deno.symlinkSync(`${dir}/elsewhere`, file);
    unused("a symlink");
    Deno.removeSync(file);
    // another question's entry under this name (a hash collision)
    const btf = minimalCoreBtf(needs, kernel)!;
    Deno.writeFileSync(file, entry(`[["field",4,"task_struct","pid"]]`, btf), {
      mode: 0o600,
    });
    unused("the entry of another question");
    Deno.writeFileSync(file, entry(needs, btf.subarray(0, 30)), {
      mode: 0o600,
    });
    unused("a damaged answer");
    Deno.writeFileSync(file, entry(needs, btf), { mode: 0o600 });
    used("a well-formed entry");
  } finally {
    Deno.removeSync(base, { recursive: true });
  }
});

/** task_struct.real_parent made to point at group_leader (the task itself). */
function poisoned(btf: Uint8Array): Uint8Array {
  const out = new Uint8Array(btf);
  const ours = new RawBtf("entry", out);
  const k = new RawBtf("kernel", kernel);
  const memberWord = (b: RawBtf, member: string): number => {
    for (let id = 1; id < b.count; id++) {
      if (b.kind(id) !== 4 || b.name(id) !== "task_struct") continue;
      for (let i = 0; i < b.vlen(id); i++) {
        const m = b.entry(id, i, 12);
        if (b.str(b.v.getUint32(m, true)) === member) return m + 8;
      }
    }
    throw new Error(`no task_struct.${member}`);
  };
  ours.v.setUint32(
    memberWord(ours, "real_parent"),
    k.v.getUint32(memberWord(k, "group_leader"), true),
    true,
  );
  return out;
}

Deno.test("core BTF cache: the CLI makes it with write access, uses it without, and ignores a planted one", async () => {
  const base = Deno.makeTempDirSync({ prefix: "core-btf-cli-" });
  // Deno's own cache stays where it is (it follows XDG_CACHE_HOME too)
  const env = { XDG_CACHE_HOME: base, DENO_DIR: denoDir() };
  const wasm = `${ROOT}/build/examples/bootstrap/bootstrap.wasm`;
  // the PPID bootstrap prints for a process this test starts: its
  // real_parent->tgid, found through the CO-RE relocations
  const ppid = async (permissions: string[]) => {
    const tool = new Tool(wasm, [], { env, permissions });
    try {
      await tool.waitFor(/^TIME\s+EVENT/, 10_000, "the header");
      for (let i = 0; i < 50; i++) {
        const child = await spawnAndWait("/bin/true", []);
        const line = tool.lines.find((l) =>
          / EXEC /.test(l) && fields(l)[3] === String(child.pid)
        );
        if (line) return { pid: child.pid, ppid: Number(fields(line)[4]) };
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`no EXEC line: ${tool.lines.join("\n")}\n${tool.stderr}`);
    } finally {
      await tool.stop();
    }
  };
  try {
    const entries = () => {
      try {
        return [...Deno.readDirSync(`${base}/wasm-bpf/core-btf`)].flatMap((k) =>
          [...Deno.readDirSync(`${base}/wasm-bpf/core-btf/${k.name}`)].map(
            (e) => `${base}/wasm-bpf/core-btf/${k.name}/${e.name}`,
          )
        );
      } catch {
        return [];
      }
    };
    let r = await ppid(CLI_PERMISSIONS);
    assert.equal(r.ppid, Deno.pid);
    assert.deepEqual(entries(), [], "no entry without --allow-write");
    r = await ppid([...CLI_PERMISSIONS, `--allow-write=${base}`]);
    assert.equal(r.ppid, Deno.pid);
    const [file] = entries();
    assert.ok(file, "an entry made with --allow-write");
    // a planted answer this user wrote is trusted: it is what libbpf reads
    const bytes = Deno.readFileSync(file);
    const v = new DataView(bytes.buffer);
    const qLen = v.getUint32(4, true);
    const question = new TextDecoder().decode(bytes.subarray(8, 8 + qLen));
    Deno.writeFileSync(
      file,
      entry(question, poisoned(bytes.subarray(12 + qLen))),
      { mode: 0o600 },
    );
    r = await ppid(CLI_PERMISSIONS);
    assert.equal(r.ppid, r.pid, "the planted answer was used");
    // the same entry owned by another user is not
    Deno.chownSync(file, 65534, 65534);
    r = await ppid(CLI_PERMISSIONS);
    assert.equal(r.ppid, Deno.pid, "an entry of another user is ignored");
  } finally {
    Deno.removeSync(base, { recursive: true });
  }
});

Deno.test("core BTF cache: a spawn()ed guest's process makes the entry where this one may write", async () => {
  const { spawn } = await import("../host/spawn.ts");
  const base = Deno.makeTempDirSync({ prefix: "core-btf-spawn-" });
  const old = Deno.env.get("XDG_CACHE_HOME");
  const oldDenoDir = Deno.env.get("DENO_DIR");
  Deno.env.set("DENO_DIR", denoDir());
  Deno.env.set("XDG_CACHE_HOME", base);
  try {
    const guest = spawn(`${ROOT}/build/examples/bootstrap/bootstrap.wasm`, {
      policy: { timeoutMs: 1500 },
      stdout: "null",
    });
    const status = await guest.status;
    assert.equal(status.kind, "timeout", JSON.stringify(status));
    const root = `${base}/wasm-bpf/core-btf`;
    const [kernelDir] = [...Deno.readDirSync(root)];
    const made = [...Deno.readDirSync(`${root}/${kernelDir.name}`)];
    assert.equal(made.length, 1, "one entry for bootstrap's relocations");
    assert.match(made[0].name, /^[0-9a-f]{16}\.btf$/);
  } finally {
    if (old === undefined) Deno.env.delete("XDG_CACHE_HOME");
    else Deno.env.set("XDG_CACHE_HOME", old);
    if (oldDenoDir === undefined) Deno.env.delete("DENO_DIR");
    else Deno.env.set("DENO_DIR", oldDenoDir);
    Deno.removeSync(base, { recursive: true });
  }
});
