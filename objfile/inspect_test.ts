import assert from "node:assert/strict";
import { ElfFile } from "./elf.ts";
import { HELPER_NAMES, helperId, helperName } from "./helper_ids.ts";
import { inspectPrograms } from "./inspect.ts";
import { validateBpfObject } from "./validate.ts";
import { buildObject, CALL, concat, EXIT, insn, MOV0 } from "./_test_object.ts";

/**
 * prog_a calls a helper and the global subprogram `sub`, which calls
 * bpf_send_signal and (by a relative call) the static `sub2`, which calls
 * bpf_probe_write_user. prog_b takes the address of the callback `cb`
 * (which calls an unknown helper), calls bpf_loop and a kfunc.
 */
function object(): Uint8Array {
  const text = concat(
    CALL(109), // sub: bpf_send_signal
    CALL(1, 1), //      call sub2 (relative: +1 insn after this one)
    EXIT,
    CALL(36), // sub2: bpf_probe_write_user
    EXIT,
    CALL(9999), // cb: an id past the table
    EXIT,
  );
  const a = concat(CALL(14), CALL(-1, 1), MOV0, EXIT);
  const b = concat(
    insn(0x18, 2, 4, 0, 0), // r2 = &cb
    insn(0, 0, 0, 0, 0),
    CALL(181), // bpf_loop
    CALL(-1, 1), // kfunc
    EXIT,
  );
  return buildObject(
    [
      { name: "tp/a", type: 1, flags: 6, data: a },
      { name: "tp/b", type: 1, flags: 6, data: b },
      { name: ".text", type: 1, flags: 6, data: text },
    ],
    [
      { name: "sub2", section: ".text", value: 24, size: 16, bind: 0 },
      { name: "cb", section: ".text", value: 40, size: 16, bind: 0 },
      { name: "prog_a", section: "tp/a", size: 32 },
      { name: "prog_b", section: "tp/b", size: 40 },
      { name: "sub", section: ".text", size: 24 },
      { name: "bpf_task_acquire", section: 0 },
    ],
    [
      { section: "tp/a", offset: 8, symbol: "sub", type: 10 },
      { section: "tp/b", offset: 0, symbol: "cb", type: 1 },
      { section: "tp/b", offset: 24, symbol: "bpf_task_acquire", type: 10 },
    ],
  ).bytes;
}

Deno.test("inspectPrograms: helpers and kfuncs of programs and the subprograms they reach", () => {
  const elf = validateBpfObject("i.bpf.o", object());
  assert.deepEqual(inspectPrograms(elf), [
    {
      name: "prog_a",
      section: "tp/a",
      helpers: [
        "bpf_get_current_pid_tgid",
        "bpf_probe_write_user",
        "bpf_send_signal",
      ],
      kfuncs: [],
    },
    {
      name: "prog_b",
      section: "tp/b",
      helpers: ["bpf_loop", "helper#9999"],
      kfuncs: ["bpf_task_acquire"],
    },
  ]);
});

Deno.test("inspectPrograms: a real object (bootstrap)", async () => {
  const path = new URL(
    "../build/examples/bootstrap/bootstrap.bpf.o",
    import.meta.url,
  );
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch {
    console.log("skipped: build/examples/bootstrap is not built");
    return;
  }
  const progs = inspectPrograms(new ElfFile("bootstrap.bpf.o", bytes));
  assert.deepEqual(progs.map((p) => p.name), ["handle_exec", "handle_exit"]);
  for (const p of progs) {
    assert(p.helpers.includes("bpf_ringbuf_reserve"), p.helpers.join());
    assert(!p.helpers.includes("bpf_send_signal"));
  }
});

Deno.test("helper ids: the table agrees with linux/bpf.h", async () => {
  let text: string;
  try {
    text = await Deno.readTextFile("/usr/include/linux/bpf.h");
  } catch {
    console.log("skipped: no /usr/include/linux/bpf.h (linux-libc-dev)");
    return;
  }
  const mapper = text.slice(text.indexOf("#define __BPF_FUNC_MAPPER"));
  const names = [
    ...mapper.slice(0, mapper.indexOf("\n\n")).matchAll(
      /FN\((\w+)/g,
    ),
  ].map((m) => m[1]);
  assert(names.length > 200, `${names.length} helpers in bpf.h`);
  names.forEach((n, id) => assert.equal(HELPER_NAMES[id], `bpf_${n}`));
  assert.equal(helperName(109), "bpf_send_signal");
  assert.equal(helperName(100000), "helper#100000");
  assert.equal(helperId("send_signal"), 109);
  assert.equal(helperId("bpf_send_signal"), 109);
  assert.equal(helperId("nope"), undefined);
});
