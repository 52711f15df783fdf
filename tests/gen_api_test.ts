/**
 * libbpf-wasm.h call by call (tests/guests/gen-api) against a recording
 * stand-in for the six `wasm_bpf` imports that answers with Linux errnos:
 * which imports are called with what, what the guest gets back (errno
 * translation, a callback's stop value, attach choices like libbpf's).
 */
import assert from "node:assert/strict";
import { buildGuest } from "./util.ts";
import { runWasm } from "./guests/gen-common/helpers.ts";

const dir = await buildGuest("tests/guests/gen-api");
const calls: string[] = [];
let polls = 0;

const out = await runWasm(`${dir}/gen_api.wasm`, (inst) => {
  const mem = () =>
    new Uint8Array((inst().exports.memory as WebAssembly.Memory).buffer);
  const dv = () => new DataView(mem().buffer);
  const cstr = (p: number) => {
    if (p === 0) return "<null>";
    const m = mem();
    let e = p;
    while (m[e]) e++;
    return JSON.stringify(new TextDecoder().decode(m.subarray(p, e)));
  };
  const fds: Record<string, number> = { rb: 30, kv: 31 };
  return {
    wasm_bpf: {
      wasm_load_bpf_object: (_p: number, len: number) => {
        calls.push(`load ${len > 0}`);
        return 0x1_0000_0001n; // a handle above 32 bits
      },
      wasm_close_bpf_object: (h: bigint) => {
        calls.push(`close ${h}`);
        return 0;
      },
      wasm_attach_bpf_program: (h: bigint, name: number, target: number) => {
        calls.push(`attach ${h} ${cstr(name)} ${cstr(target)}`);
        return cstr(name) === '"on_sockops"' ? -1 /* Linux EPERM */ : 0;
      },
      wasm_bpf_map_fd_by_name: (h: bigint, name: number) => {
        calls.push(`fd ${h} ${cstr(name)}`);
        return fds[JSON.parse(cstr(name))] ?? -2;
      },
      wasm_bpf_map_operate: (
        fd: number,
        cmd: number,
        key: number,
        value: number,
        next: number,
        flags: bigint,
      ) => {
        const k = key ? dv().getUint32(key, true) : "null";
        calls.push(
          `op ${fd} ${cmd} key=${k} value=${value !== 0} next=${
            next !== 0
          } flags=${flags}`,
        );
        if (cmd === 2) {
          assert.equal(dv().getBigUint64(value, true), 0x1122334455667788n);
        }
        if (cmd === 4) {
          if (key === 0) {
            dv().setUint32(next, 9, true);
            return 0;
          }
          return -2; // Linux ENOENT: the end
        }
        return 0;
      },
      wasm_bpf_buffer_poll: (
        h: bigint,
        fd: number,
        fn: number,
        ctx: number,
        data: number,
        max: number,
        timeout: number,
      ) => {
        calls.push(`poll ${h} ${fd} max=${max} timeout=${timeout}`);
        if (fd !== fds.rb) return -22; // Linux EINVAL: not a ring/perf map
        if (timeout === 0) return 0; // bpf_buffer__open starts the consumer
        if (polls++ > 0) return -4; // Linux EINTR
        const table = inst().exports
          .__indirect_function_table as WebAssembly.Table;
        const cb = table.get(fn)!;
        for (let i = 1; i <= 3; i++) {
          mem().fill(i, data, data + max);
          const r = cb(ctx, data, max) as number;
          if (r !== 0) return r;
        }
        return 3;
      },
    },
  };
});

Deno.test("libbpf-wasm.h answers the guest as libbpf would", () => {
  assert.equal(out.code, 0, out.stdout);
  assert.deepEqual(out.stdout.trim().split("\n"), [
    "fd_before_load 1",
    "names on_xdp xdp kv",
    "attach_prog_fd 1",
    "load 0",
    "attach 0",
    "attach_xdp 0",
    "attach_sockops eperm=1 errno=1",
    "update 0",
    "lookup_flags 0",
    "delete 0",
    "first_key 0 9",
    "next_key enoent=1",
    "strerror No such file or directory",
    "record ctx=ctx! size=16 first=1",
    "record ctx=ctx! size=16 first=2",
    "poll_stop 7 calls=2",
    "poll_eintr 1",
    "buffer_wrong_map 1",
    "buffer_null 1",
    "done",
  ]);
});

Deno.test("the host sees the calls of the ABI, in order", () => {
  const h = 0x1_0000_0001n;
  assert.deepEqual(calls, [
    "load true",
    // on_xdp and on_sockops need a target, on_raw has autoattach off
    `attach ${h} "on_tp" ""`,
    `attach ${h} "on_xdp" "lo"`,
    `attach ${h} "on_sockops" "/cg"`,
    `fd ${h} "kv"`,
    "op 31 2 key=5 value=true next=false flags=1",
    "op 31 1 key=5 value=true next=false flags=4",
    "op 31 3 key=5 value=false next=false flags=0",
    "op 31 4 key=null value=false next=true flags=0",
    "op 31 4 key=9 value=false next=true flags=0",
    `fd ${h} "rb"`,
    `poll ${h} 30 max=16 timeout=0`, // open starts consuming at once
    `poll ${h} 30 max=16 timeout=25`,
    `poll ${h} 30 max=16 timeout=25`,
    `poll ${h} 31 max=65536 timeout=0`,
    `close ${h}`,
  ]);
});
