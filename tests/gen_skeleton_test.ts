/**
 * The generated skeleton and libbpf-wasm.h, driven by the gen-basic guest
 * (tests/guests/gen-basic) against a recording stand-in for the six
 * `wasm_bpf` imports: what the guest hands the host (the object bytes with
 * .rodata/.data patched and one program section renamed "?...", the .bss
 * map write, attach calls, map and buffer calls) is checked byte for byte,
 * and the object it hands over is then opened and loaded by the system's
 * libbpf (1.1) against the running kernel, which must honour the autoload
 * choice.
 */
import assert from "node:assert/strict";
import { Btf, parseBtfExt } from "../objfile/btf.ts";
import { ElfFile } from "../objfile/elf.ts";
import { generateSkeleton, skeletonName } from "../wasm-sdk/gen/skeleton.ts";
import { buildGuest } from "./util.ts";
import {
  compileBpf,
  ROOT,
  run,
  runOk,
  runWasm,
} from "./guests/gen-common/helpers.ts";

const dir = await buildGuest("tests/guests/gen-basic");
const objPath = `${dir}/gen_basic.bpf.o`;
const original = new ElfFile(objPath, Deno.readFileSync(objPath));

// Linux errno numbers, as the host reports them
const LINUX_ENOENT = 2;

interface Recorded {
  loaded?: Uint8Array;
  closed: bigint[];
  attached: [string, string][];
  mapWrites: { fd: number; key: Uint8Array; value: Uint8Array }[];
  fdNames: string[];
  polls: number;
}

async function runMocked() {
  const rec: Recorded = {
    closed: [],
    attached: [],
    mapWrites: [],
    fdNames: [],
    polls: 0,
  };
  const fds = ["events", "counts", "inners", ".rodata", ".data", ".bss"];
  let bss: Uint8Array | undefined;
  const out = await runWasm(`${dir}/gen_basic.wasm`, (inst) => {
    const mem = () =>
      new Uint8Array((inst().exports.memory as WebAssembly.Memory).buffer);
    const cstr = (p: number) => {
      const m = mem();
      let e = p;
      while (m[e]) e++;
      return new TextDecoder().decode(m.subarray(p, e));
    };
    const sectionOf = (name: string) => {
      const elf = new ElfFile("loaded", rec.loaded!);
      return elf.data(elf.section(name)!);
    };
    return {
      wasm_bpf: {
        wasm_load_bpf_object(p: number, len: number): bigint {
          rec.loaded = mem().slice(p, p + len);
          return 7n;
        },
        wasm_close_bpf_object(h: bigint): number {
          rec.closed.push(h);
          return 0;
        },
        wasm_attach_bpf_program(h: bigint, name: number, target: number) {
          assert.equal(h, 7n);
          rec.attached.push([cstr(name), target ? cstr(target) : "<null>"]);
          return 0;
        },
        wasm_bpf_map_fd_by_name(h: bigint, name: number): number {
          assert.equal(h, 7n);
          const n = cstr(name);
          rec.fdNames.push(n);
          const i = fds.indexOf(n);
          return i < 0 ? -LINUX_ENOENT : 100 + i;
        },
        wasm_bpf_map_operate(
          fd: number,
          cmd: number,
          key: number,
          value: number,
          _next: number,
          _flags: bigint,
        ): number {
          const name = fds[fd - 100];
          if (cmd === 2) {
            const size = name === ".bss" ? 48 : 8;
            rec.mapWrites.push({
              fd,
              key: mem().slice(key, key + 4),
              value: mem().slice(value, value + size),
            });
            if (name === ".bss") bss = mem().slice(value, value + 48);
            return 0;
          }
          if (cmd === 1) {
            // the kernel's view: internal maps hold their section bytes
            if (name === ".rodata" || name === ".data") {
              mem().set(sectionOf(name), value);
              return 0;
            }
            if (name === ".bss") {
              mem().set(bss ?? new Uint8Array(48), value);
              return 0;
            }
            return -LINUX_ENOENT;
          }
          return -22;
        },
        wasm_bpf_buffer_poll(
          h: bigint,
          fd: number,
          fn: number,
          ctx: number,
          data: number,
          max: number,
          _timeout: number,
        ): number {
          assert.equal(h, 7n);
          assert.equal(fds[fd - 100], "events");
          rec.polls++;
          if (_timeout === 0) return 0; // bpf_buffer__open starts the consumer
          // one struct gen_event: pid 42, ts 5, comm "mock", kind GEN_EXEC
          const ev = new Uint8Array(96);
          const v = new DataView(ev.buffer);
          v.setUint32(0, 42, true);
          v.setBigUint64(8, 5n, true);
          ev.set(new TextEncoder().encode("mock"), 16);
          v.setUint32(80, 1, true);
          assert(max >= 96);
          mem().set(ev, data);
          const table = inst().exports
            .__indirect_function_table as WebAssembly.Table;
          const r = table.get(fn)!(ctx, data, 96) as number;
          return r !== 0 ? r : 1;
        },
      },
    };
  });
  return { out, rec };
}

const { out, rec } = await runMocked();
const lines = out.stdout.trim().split("\n");

Deno.test("the guest runs its whole API through the skeleton", () => {
  assert.equal(out.code, 0, out.stdout);
  const [maybe, first, busy, ...rest] = lines;
  assert.equal(maybe, "maybe_autoload 0");
  assert.equal(first, "load 0");
  // setting autoload after load is refused with -EBUSY (wasi-libc numbering)
  assert.match(busy, /^autoload_after_load -\d+$/);
  assert.deepEqual(rest, [
    "attach 0",
    "rodata_lookup 0 min_duration_ns=123456789 verbose=1 prefix=xyz",
    "bss_lookup 0 bss_total_ge=1 inner_s=-7",
    "missing_key 1",
    "buffer ok",
    "event kind=1 pid=42 comm_len=4 ts_nonzero=1",
    "events_seen 1",
    "data_lookup 0 data_counter_ge=1",
    "done",
  ]);
  assert.deepEqual(rec.closed, [7n]);
  assert.equal(rec.polls, 2);
});

Deno.test("globals set before load are in the bytes the host loads", () => {
  const elf = new ElfFile("loaded", rec.loaded!);
  const ro = new DataView(elf.data(elf.section(".rodata")!).slice().buffer);
  assert.equal(ro.getBigUint64(0, true), 123456789n); // min_duration_ns
  assert.equal(ro.getUint8(8), 1); // verbose
  assert.equal(
    new TextDecoder().decode(elf.data(elf.section(".rodata")!).slice(9, 12)),
    "xyz",
  );
  const da = new DataView(elf.data(elf.section(".data")!).slice().buffer);
  assert.equal(da.getUint32(0, true), 1000); // data_counter
  assert.equal(da.getUint16(4, true), 3); // data_small keeps its initial value
  // .bss goes through its map after load, key 0
  const bssFd = 100 + 5;
  const w = rec.mapWrites.find((m) => m.fd === bssFd)!;
  assert(w, ".bss written");
  assert.deepEqual([...w.key], [0, 0, 0, 0]);
  const bv = new DataView(w.value.buffer);
  assert.equal(bv.getBigUint64(0, true), 5000n); // bss_total
  assert.equal(bv.getInt16(32, true), -7); // bss_inner.s
  assert(rec.fdNames.includes(".bss"));
});

Deno.test("autoload off renames the section '?...'; attach skips it", () => {
  const elf = new ElfFile("loaded", rec.loaded!);
  const names = elf.sections.map((s) => s.name);
  assert(names.includes("?fentry/do_unlinkat"), names.join(","));
  assert(names.includes("tp/sched/sched_process_exec"));
  assert(names.includes("tp/sched/sched_process_exit"));
  // SEC("?...") turned on: its name loses the '?'
  assert(names.includes("tp/syscalls/sys_enter_getppid"), names.join(","));
  assert.deepEqual(rec.attached, [
    ["handle_exec", ""],
    ["handle_exit", ""],
    ["handle_exit2", ""],
    ["maybe_getppid", ""],
  ]);
  // DWARF is gone, everything libbpf reads is intact
  assert(!names.some((n) => n.startsWith(".debug_") && elf.section(n)!.size));
  for (const keep of [".BTF", ".symtab", ".maps", "license"]) {
    assert.deepEqual(
      elf.data(elf.section(keep)!),
      original.data(original.section(keep)!),
      keep,
    );
  }
  // .BTF.ext names sections without the '?' of SEC("?..."), so libbpf
  // finds the func info and CO-RE relocations of a program turned on
  const ext = (e: ElfFile) =>
    parseBtfExt(Btf.fromElf(e), e.data(e.section(".BTF.ext")!)).funcInfo;
  assert.deepEqual(
    ext(elf),
    ext(original).map((f) => ({ ...f, section: f.section.replace(/^\?/, "") })),
  );
  assert(ext(original).some((f) => f.section.startsWith("?")));
});

Deno.test("libbpf honours the autoload choice in the loaded bytes", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "gen_skel_" });
  try {
    Deno.writeFileSync(`${tmp}/loaded.o`, rec.loaded!);
    Deno.writeTextFileSync(
      `${tmp}/load.c`,
      `#include <bpf/libbpf.h>
#include <stdio.h>
int main(int argc, char **argv)
{
	struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
	struct bpf_program *p;
	int err;
	if (!obj)
		return 2;
	bpf_object__for_each_program(p, obj)
		printf("prog %s %s %d\\n", bpf_program__name(p),
		       bpf_program__section_name(p), bpf_program__autoload(p));
	printf("rodata_map %d\\n", bpf_object__find_map_by_name(obj, ".rodata") != NULL);
	err = bpf_object__load(obj);
	printf("load %d\\n", err);
	bpf_object__close(obj);
	return 0;
}
`,
    );
    await runOk("cc", [`${tmp}/load.c`, "-o", `${tmp}/load`, "-lbpf"]);
    const r = await run(`${tmp}/load`, [`${tmp}/loaded.o`]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split("\n"), [
      "prog handle_exec tp/sched/sched_process_exec 1",
      "prog handle_exit tp/sched/sched_process_exit 1",
      "prog handle_exit2 tp/sched/sched_process_exit 1",
      "prog on_unlink fentry/do_unlinkat 0",
      "prog maybe_getppid tp/syscalls/sys_enter_getppid 1",
      "rodata_map 1",
      "load 0",
    ]);
  } finally {
    Deno.removeSync(tmp, { recursive: true });
  }
});

Deno.test("the skeleton build.ts wrote is generateSkeleton's output", () => {
  const name = skeletonName(objPath);
  assert.equal(name, "gen_basic_bpf");
  assert.equal(
    Deno.readTextFileSync(`${dir}/gen_basic.skel.h`),
    generateSkeleton(name, Deno.readFileSync(objPath), objPath),
  );
  assert.equal(skeletonName("/x/y/foo.bpf.o"), "foo_bpf");
  assert.equal(skeletonName("9lives.o"), "_9lives");
});

Deno.test("skeletons compile cleanly, together and for an empty object", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "gen_skel_cc_" });
  try {
    Deno.writeTextFileSync(
      `${tmp}/empty.bpf.c`,
      `#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
char LICENSE[] SEC("license") = "GPL";
`,
    );
    const empty = await compileBpf(`${tmp}/empty.bpf.c`, `${tmp}/empty.bpf.o`);
    Deno.writeTextFileSync(
      `${tmp}/empty.skel.h`,
      generateSkeleton("empty_bpf", Deno.readFileSync(empty), empty),
    );
    const extra = await buildGuest("tests/guests/gen-extra");
    Deno.writeTextFileSync(
      `${tmp}/all.c`,
      `#include "libbpf-wasm.h"
#include "gen_basic.skel.h"
#include "gen_extra.skel.h"
#include "empty.skel.h"
#include "gen_basic.wasm.h"
#include "gen_extra.wasm.h"
int main(void)
{
	struct gen_basic_bpf *a = gen_basic_bpf__open();
	struct gen_extra_bpf *b = gen_extra_bpf__open();
	struct empty_bpf *c = empty_bpf__open();
	int ok = a && b && c && a->rodata && b->rodata_cfg && b->data_custom &&
		 b->maps.kconfig && b->progs.on_raw;
	gen_basic_bpf__destroy(a);
	gen_extra_bpf__destroy(b);
	empty_bpf__destroy(c);
	return ok ? 0 : 1;
}
`,
    );
    await runOk("clang", [
      "--target=wasm32-wasi",
      "-O2",
      "-Wall",
      "-Wextra",
      "-Werror",
      "-I",
      `${ROOT}/wasm-sdk/c`,
      "-I",
      dir,
      "-I",
      extra,
      "-I",
      tmp,
      "-Wl,--export-table",
      `${tmp}/all.c`,
      "-o",
      `${tmp}/all.wasm`,
    ]);
    // opening needs no host call: the stand-ins are never reached
    const r = await runWasm(`${tmp}/all.wasm`, () => ({
      wasm_bpf: Object.fromEntries(
        [
          "wasm_load_bpf_object",
          "wasm_close_bpf_object",
          "wasm_attach_bpf_program",
          "wasm_bpf_buffer_poll",
          "wasm_bpf_map_fd_by_name",
          "wasm_bpf_map_operate",
        ].map((n) => [n, () => {
          throw new Error(`${n} called`);
        }]),
      ),
    }));
    assert.equal(r.code, 0);
  } finally {
    Deno.removeSync(tmp, { recursive: true });
  }
});
