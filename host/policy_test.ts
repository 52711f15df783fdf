import assert from "node:assert/strict";
import {
  actingHelpers,
  DEFAULT_MAX_MAP_MEMORY_BYTES,
  DEFAULT_MAX_OBJECTS,
  estimateMapBytes,
  type MapInfo,
  parsePolicy,
  PolicyDenied,
  programKind,
  resolvePolicy,
} from "./policy.ts";
import type { ProgramInfo } from "../objfile/inspect.ts";

const prog = (
  helpers: string[],
  kfuncs: string[] = [],
  section = "tp/sched/sched_switch",
): ProgramInfo => ({ name: "p", section, helpers, kfuncs });

function denied(f: () => unknown, why: RegExp): string {
  let msg = "";
  assert.throws(f, (e: unknown) => {
    assert(e instanceof PolicyDenied, `not PolicyDenied: ${e}`);
    assert.match(e.message, why);
    msg = e.message;
    return true;
  });
  return msg;
}

Deno.test("programKind: kinds that act by nature are kinds of their own", () => {
  assert.equal(programKind("fmod_ret/x"), "fmod_ret");
  assert.equal(programKind("struct_ops/ex"), "struct_ops");
  assert.equal(programKind("freplace/f"), "freplace");
  assert.equal(programKind("syscall"), "syscall");
  assert.equal(programKind("lsm/path_rmdir"), "lsm");
  assert.equal(programKind("fentry/do_unlinkat"), "tracing");
  assert.equal(programKind("?tp/a/b"), "tracing");
});

Deno.test("checkPrograms: acting helpers need --allow-helper under a helper list", () => {
  const send = prog(["bpf_get_current_pid_tgid", "bpf_send_signal"]);
  // no list (not restricted): everything goes
  resolvePolicy({}).checkPrograms("o", [send]);
  const r = resolvePolicy({ helpers: [], programKinds: ["tracing"] });
  const msg = denied(
    () => r.checkPrograms("guest#1", [send]),
    /--allow-helper=bpf_send_signal/,
  );
  assert.match(
    msg,
    /program 'p' \(section 'tp\/sched\/sched_switch'\) of object 'guest#1' calls bpf_send_signal/,
  );
  r.checkPrograms("o", [
    prog(["bpf_get_current_pid_tgid", "bpf_ringbuf_output"]),
  ]);
  resolvePolicy({ helpers: ["bpf_send_signal"] }).checkPrograms("o", [send]);
  resolvePolicy({ helpers: ["send_signal"] }).checkPrograms("o", [send]);
  denied(
    () =>
      resolvePolicy({ helpers: ["bpf_send_signal"] }).checkPrograms("o", [
        prog(["bpf_probe_write_user"]),
      ]),
    /bpf_probe_write_user/,
  );
  denied(
    () => r.checkPrograms("o", [prog(["helper#9999"])]),
    /helper#9999, which is a helper this host does not know/,
  );
  denied(
    () => r.checkPrograms("o", [prog([], ["bpf_task_acquire"])]),
    /bpf_task_acquire, which is a kfunc/,
  );
  r.checkPrograms("o", [prog([], ["bpf_iter_num_new", "bpf_rcu_read_lock"])]);
  resolvePolicy({ helpers: ["bpf_task_acquire"] }).checkPrograms("o", [
    prog([], ["bpf_task_acquire"]),
  ]);
  assert.deepEqual(
    actingHelpers(prog(["bpf_override_return", "bpf_map_lookup_elem"], ["x"])),
    ["bpf_override_return", "x"],
  );
});

Deno.test("checkPrograms: kinds, and acting kinds need their own grant", () => {
  const r = resolvePolicy({ programKinds: ["tracing"], helpers: [] });
  for (
    const section of [
      "lsm/x",
      "fmod_ret/x",
      "struct_ops/x",
      "freplace/x",
      "syscall",
    ]
  ) {
    const kind = programKind(section);
    denied(
      () => r.checkPrograms("o", [prog([], [], section)]),
      new RegExp(`--allow-kind=${kind}`),
    );
  }
  resolvePolicy({ programKinds: ["struct_ops"] }).checkPrograms("o", [
    prog([], [], "struct_ops/x"),
  ]);
});

Deno.test("default caps: objects and map memory", () => {
  const r = resolvePolicy({});
  assert.equal(r.maxObjects, DEFAULT_MAX_OBJECTS);
  r.checkObjectCount(DEFAULT_MAX_OBJECTS - 1);
  denied(
    () => r.checkObjectCount(DEFAULT_MAX_OBJECTS),
    /limit is 64 \(--max-objects\)/,
  );
  denied(
    () => resolvePolicy({ maxObjects: 1 }).checkObjectCount(1),
    /limit is 1/,
  );
  const ring = (name: string, mib: number): MapInfo => ({
    name,
    type: 27,
    keySize: 0,
    valueSize: 0,
    maxEntries: mib * 2 ** 20,
  });
  denied(
    () => r.checkMaps("o", [ring("events", 1024)]),
    /map 'events', 1025 MiB.*limit is 256 MiB; raise it with --max-map-memory/,
  );
  const small = r.checkMaps("o", [ring("a", 100)]);
  assert(small > 100 * 2 ** 20);
  denied(
    () => r.checkMaps("o", [ring("b", 100)], 2 * small),
    /holds 201 MiB already/,
  );
  assert.equal(DEFAULT_MAX_MAP_MEMORY_BYTES, 256 * 2 ** 20);
  resolvePolicy({ maxMapMemoryBytes: 2 ** 31 }).checkMaps("o", [
    ring("events", 1024),
  ]);
});

Deno.test("estimateMapBytes", () => {
  const m = (
    type: number,
    keySize: number,
    valueSize: number,
    maxEntries: number,
  ) => ({ name: "m", type, keySize, valueSize, maxEntries });
  assert.equal(estimateMapBytes(m(27, 0, 0, 4096), 4), 4096 + 8192);
  assert.equal(estimateMapBytes(m(2, 4, 12, 10), 4), 10 * 16);
  assert.equal(estimateMapBytes(m(6, 4, 8, 10), 4), 10 * 8 * 4);
  assert.equal(estimateMapBytes(m(1, 4, 8, 10), 4), 10 * (8 + 8 + 64));
  assert.equal(estimateMapBytes(m(5, 4, 8, 10), 4), 10 * (8 + 32 + 64));
  // per-CPU maps count every possible CPU
  const r = resolvePolicy({ maxMapMemoryBytes: 1000 }, { ncpus: 64 });
  denied(() => r.checkMaps("o", [m(6, 4, 8, 2)]), /map 'm'/);
  resolvePolicy({ maxMapMemoryBytes: 1000 }, { ncpus: 1 }).checkMaps("o", [
    m(6, 4, 8, 2),
  ]);
});

Deno.test("checkMaps: pins only under granted dirs (none by default), never with '/' or '..', never reusing a pin", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const map = (name: string, pinPath?: string): MapInfo => ({
      name,
      type: 2,
      keySize: 4,
      valueSize: 4,
      maxEntries: 1,
      pinPath,
    });
    // no grant, restricted or not: no pin
    denied(
      () => resolvePolicy({}).checkMaps("o", [map("m", `${dir}/m`)]),
      /--allow-pin/,
    );
    Deno.writeTextFileSync(`${dir}/taken`, "");
    // restricted without a grant: no pin
    denied(
      () =>
        resolvePolicy({ pinDirs: [] }).checkMaps("o", [
          map("m", `/sys/fs/bpf/m`),
        ]),
      /--allow-pin/,
    );
    const r = resolvePolicy({ pinDirs: [dir] });
    assert.equal(r.pinRoot, dir);
    r.checkMaps("o", [map("m", `${dir}/m`), map("plain")]);
    denied(() => r.checkMaps("o", [map("m", `/sys/fs/bpf/m`)]), /--allow-pin/);
    Deno.mkdirSync(`${dir}/sub`);
    denied(
      () => r.checkMaps("o", [map("sub/m", `${dir}/sub/m`)]),
      /a name with '\/' or '\.\.'/,
    );
    denied(() => r.checkMaps("o", [map("..", `${dir}/..`)]), /a name with/);
    denied(
      () => r.checkMaps("o", [map("taken", `${dir}/taken`)]),
      /pin exists already/,
    );
    // a path spelled through .. to the granted dir is the granted dir
    r.checkMaps("o", [map("m", `${dir}/sub/../m`)]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("checkAttach: cgroups by identity, descendants allowed, the same denial whether a path exists or not", () => {
  const root = Deno.makeTempDirSync();
  try {
    Deno.mkdirSync(`${root}/a/child`, { recursive: true });
    Deno.mkdirSync(`${root}/b`);
    Deno.symlinkSync(`${root}/b`, `${root}/a/link-to-b`);
    const r = resolvePolicy({ cgroups: [`${root}/a`] });
    const attach = (t: string) => r.checkAttach("p", "sockops", t);
    assert.equal(attach(`${root}/a`), `${root}/a`);
    assert.equal(attach(`${root}/a/child`), `${root}/a/child`);
    assert.equal(attach(`${root}/a/child/../child`), `${root}/a/child`);
    const norm = (m: string, t: string) => m.replace(t, "T").replace(t, "T");
    const msgs = [
      `${root}/a/..`,
      `${root}/a/../b`,
      `${root}/a/link-to-b`,
      `${root}/a/missing`,
      `${root}/nope/..`,
      `${root}/ab`,
    ]
      .map((t) => norm(denied(() => attach(t), /--allow-cgroup=/), t));
    assert.equal(new Set(msgs).size, 1, msgs.join("\n"));
    denied(() => attach(""), /--allow-cgroup=/);
    // the grant is resolved too: a grant spelled with .. or a symlink
    resolvePolicy({ cgroups: [`${root}/b/../a`] }).checkAttach(
      "p",
      "cgroup/skb",
      `${root}/a/child`,
    );
    resolvePolicy({ cgroups: [`${root}/a/link-to-b`] }).checkAttach(
      "p",
      "sockops",
      `${root}/b`,
    );
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("checkAttach: binaries by identity (a symlink named like the grant is not the grant)", () => {
  const root = Deno.makeTempDirSync();
  try {
    Deno.mkdirSync(`${root}/fake/usr/bin`, { recursive: true });
    Deno.writeTextFileSync(`${root}/bash`, "granted");
    Deno.writeTextFileSync(`${root}/libc`, "other");
    Deno.symlinkSync(`${root}/libc`, `${root}/fake/usr/bin/bash`);
    Deno.symlinkSync(`${root}/bash`, `${root}/bash-link`);
    const r = resolvePolicy({ binaries: [`${root}/bash`] });
    const up = (t: string) => r.checkAttach("p", "uprobe", t);
    assert.equal(up(`${root}/bash:main`), `${root}/bash:main`);
    assert.equal(up(`${root}/bash-link:main:42`), `${root}/bash:main:42`);
    const a = denied(
      () => up(`${root}/fake/usr/bin/bash:malloc`),
      /--allow-binary=/,
    );
    const b = denied(
      () => up(`${root}/fake/usr/bin/nothing:malloc`),
      /--allow-binary=/,
    );
    assert.equal(
      a.replace("bash", "X").replaceAll(
        /\/fake\/usr\/bin\/(bash|nothing)/g,
        "",
      ),
      b.replace("nothing", "X").replaceAll(
        /\/fake\/usr\/bin\/(bash|nothing)/g,
        "",
      ),
    );
    denied(
      () => r.checkAttach("p", "uprobe/bash:main", ""),
      /--allow-binary=bash/,
    );
    // a target from the section is resolved too, and given back explicit
    assert.equal(
      r.checkAttach("p", `uprobe/${root}/bash-link:main`, ""),
      `${root}/bash:main`,
    );
    // a library name is resolved as libbpf does, and the host attaches the resolved path
    const libc = "/lib/x86_64-linux-gnu/libc.so.6";
    try {
      Deno.statSync(libc);
    } catch {
      return;
    }
    const real = Deno.realPathSync(libc);
    assert.equal(
      resolvePolicy({ binaries: [libc] }).checkAttach(
        "p",
        "uretprobe",
        "libc.so.6:malloc",
      ),
      `${real}:malloc`,
    );
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("checkAttach: interfaces by ifindex", () => {
  const r = resolvePolicy({ interfaces: ["lo"] });
  assert.equal(r.checkAttach("p", "xdp", "lo"), "lo");
  r.checkAttach("p", "tc", "lo:ingress");
  denied(
    () => r.checkAttach("p", "xdp", "nosuch0"),
    /--allow-interface=nosuch0/,
  );
  denied(() => r.checkAttach("p", "xdp", "../lo"), /interface '\.\.\/lo'/);
  denied(
    () => resolvePolicy({ interfaces: [] }).checkAttach("p", "tc", "lo"),
    /--allow-interface=lo/,
  );
});

Deno.test("parsePolicy: the new fields", () => {
  assert.deepEqual(
    parsePolicy(
      '{"helpers":["bpf_send_signal"],"pinDirs":["/sys/fs/bpf/g"],"maxMapMemoryBytes":1048576}',
    ),
    {
      helpers: ["bpf_send_signal"],
      pinDirs: ["/sys/fs/bpf/g"],
      maxMapMemoryBytes: 1048576,
    },
  );
  assert.throws(
    () => parsePolicy('{"helpers":"x"}'),
    /helpers must be a list of strings/,
  );
  assert.throws(() => parsePolicy('{"maxMapMemoryBytes":-1}'), /non-negative/);
});
