/**
 * Hostile guests: every import called with random and adversarial
 * arguments (huge lengths, negative fds, pointers at and past the memory's
 * end, handles of closed objects, fds of another guest's objects, ELF bytes
 * with random corruption). Seeded and bounded; set FUZZ_SEED / FUZZ_ROUNDS
 * to explore further. The host must never throw out of an import, never
 * crash, always answer with the ABI's types, and leak nothing.
 */
import assert from "node:assert/strict";
import { assertNoBpfLeaks, bpfSnapshot, buildGuest } from "./util.ts";
import { WasmBpfHost } from "../mod.ts";

const SEED = Number(Deno.env.get("FUZZ_SEED") ?? 20261125);
const ROUNDS = Number(Deno.env.get("FUZZ_ROUNDS") ?? 3000);
const CORRUPT_LOADS = Number(Deno.env.get("FUZZ_CORRUPT_LOADS") ?? 200);

/** mulberry32: small, seedable, good enough to pick arguments. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)],
  };
}

const WAT = `(module
  (memory (export "memory") 16 1024)
  (table (export "__indirect_function_table") 2 funcref)
  (func $go_on (param i32 i32 i32) (result i32) i32.const 0)
  (func $stop (param i32 i32 i32) (result i32) i32.const 1)
  (elem (i32.const 0) $go_on $stop)
  (func (export "go-callback") (param i32 i32 i32) (result i32) i32.const 0))`;

async function stubGuest(): Promise<WebAssembly.Module> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/g.wat`, WAT);
    const out = await new Deno.Command("wat2wasm", {
      args: [`${dir}/g.wat`, "-o", `${dir}/g.wasm`],
      stderr: "piped",
    }).output();
    assert(
      out.success,
      `wat2wasm (Debian package wabt): ${new TextDecoder().decode(out.stderr)}`,
    );
    return await WebAssembly.compile(await Deno.readFile(`${dir}/g.wasm`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

type Imports = Record<string, (...args: never[]) => number | bigint>;

function guest(module: WebAssembly.Module, name: string, logs: string[]) {
  const host = new WasmBpfHost({ name, log: (l) => logs.push(l) });
  const imports = host.imports();
  const instance = new WebAssembly.Instance(module, imports);
  host.bind(instance);
  const memory = instance.exports.memory as WebAssembly.Memory;
  return {
    host,
    memory,
    bpf: imports.wasm_bpf as unknown as Imports,
    tinygo: imports["callback-wrapper"] as unknown as Imports,
    ext: imports.wasm_bpf_ext as unknown as Imports,
  };
}

Deno.test("fuzz: adversarial arguments to every import never throw, crash or leak", async () => {
  const before = bpfSnapshot();
  const objBytes = await Deno.readFile(
    `${await buildGuest("tests/guests/abi")}/abi.bpf.o`,
  );
  const module = await stubGuest();
  const rnd = prng(SEED);
  console.log(
    `fuzz seed ${SEED}, ${ROUNDS} rounds, ${CORRUPT_LOADS} corrupted objects`,
  );
  const logs: string[] = [];
  const g = guest(module, "fuzz", logs);
  const other = guest(module, "other", logs);

  // real objects: valid handles and fds to aim at
  const OBJ = 1 << 16;
  const put = (mem: WebAssembly.Memory, at: number, bytes: Uint8Array) =>
    new Uint8Array(mem.buffer).set(bytes, at);
  put(g.memory, OBJ, objBytes);
  put(other.memory, OBJ, objBytes);
  const theirs = other.bpf.wasm_load_bpf_object(
    OBJ as never,
    objBytes.length as never,
  ) as bigint;
  assert(theirs > 0n, logs.join("\n"));
  const names = ["rb", "rb2", "pb", "kv", "percpu", ".bss", ".rodata"];
  const str = (mem: WebAssembly.Memory, at: number, s: string) =>
    put(mem, at, new TextEncoder().encode(s + "\0"));
  const NAMES = 4096;
  names.forEach((n, i) => str(other.memory, NAMES + i * 32, n));
  const theirFds = names.map((_, i) =>
    other.bpf.wasm_bpf_map_fd_by_name(
      theirs as never,
      (NAMES + i * 32) as never,
    ) as number
  );

  const handles: bigint[] = [0n, -1n, 1n, 2n ** 63n - 1n, theirs];
  const fds: number[] = [-1, 0, 1, 2, -2147483648, 2147483647, ...theirFds];
  // names and targets the fuzzer can point at, plus an unterminated string at the end
  const strings = [
    "handle_exec",
    "handle_exit",
    "rb",
    "kv",
    "percpu",
    "lo",
    "",
    "nope",
    "/sys/fs/cgroup/unified",
    "x:y:z",
  ];
  strings.forEach((s, i) => str(g.memory, NAMES + i * 64, s));

  const memEnd = () => g.memory.buffer.byteLength;
  const ptr = () =>
    rnd.pick([
      () => 0,
      () => 1,
      () => memEnd() - rnd.int(16),
      () => memEnd() + rnd.int(4096),
      () => -1,
      () => 0x7fffffff,
      () => rnd.int(memEnd()),
      () => NAMES + rnd.int(strings.length) * 64,
      () => 8192 + rnd.int(1024) * 8,
    ])();
  const len = () =>
    rnd.pick([
      0,
      1,
      7,
      8,
      16,
      64,
      4096,
      -1,
      -4096,
      0x7fffffff,
      rnd.int(1 << 20),
    ]);
  const handle = () => rnd.pick(handles);
  const fd = () => rnd.pick(fds);

  const check = (what: string, f: () => number | bigint, bigint = false) => {
    let r: number | bigint;
    try {
      r = f();
    } catch (e) {
      throw new Error(
        `${what} threw out of the import: ${(e as Error)?.stack ?? e}`,
      );
    }
    assert.equal(
      typeof r,
      bigint ? "bigint" : "number",
      `${what} returned ${String(r)}`,
    );
    if (!bigint) {
      assert(
        Number.isInteger(r as number) && (r as number) <= 2 ** 31,
        `${what} returned ${r}`,
      );
    }
    return r;
  };

  const start = performance.now();
  let loads = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const op = rnd.int(10);
    const a = `round ${round} op ${op}`;
    switch (op) {
      case 0: { // a valid load now and then: fresh handles and fds to aim at
        if (loads > 8) break;
        const h = check(
          a,
          () =>
            g.bpf.wasm_load_bpf_object(OBJ as never, objBytes.length as never),
          true,
        ) as bigint;
        loads++;
        if (h) {
          handles.push(h);
          for (let i = 0; i < 4; i++) {
            const f = check(
              a,
              () =>
                g.bpf.wasm_bpf_map_fd_by_name(
                  h as never,
                  (NAMES + i * 64 + 64 * 2) as never,
                ),
            );
            if ((f as number) >= 0) fds.push(f as number);
          }
          str(g.memory, NAMES + 64 * 20, "rb");
          const f = check(
            a,
            () =>
              g.bpf.wasm_bpf_map_fd_by_name(
                h as never,
                (NAMES + 64 * 20) as never,
              ),
          );
          if ((f as number) >= 0) fds.push(f as number);
        }
        break;
      }
      case 1:
        check(
          a,
          () => g.bpf.wasm_load_bpf_object(ptr() as never, len() as never),
          true,
        );
        break;
      case 2:
        check(a, () => g.bpf.wasm_close_bpf_object(handle() as never));
        break;
      case 3:
        check(
          a,
          () =>
            g.bpf.wasm_attach_bpf_program(
              handle() as never,
              ptr() as never,
              ptr() as never,
            ),
        );
        break;
      case 4:
        check(
          a,
          () =>
            g.bpf.wasm_bpf_map_fd_by_name(handle() as never, ptr() as never),
        );
        break;
      case 5:
      case 6:
        check(a, () =>
          g.bpf.wasm_bpf_map_operate(
            fd() as never,
            rnd.int(7) as never,
            ptr() as never,
            ptr() as never,
            ptr() as never,
            BigInt(rnd.pick([0, 1, 2, 3, -1])) as never,
          ));
        break;
      case 7:
        check(a, () =>
          g.bpf.wasm_bpf_buffer_poll(
            handle() as never,
            fd() as never,
            rnd.pick([0, 1, 2, -1, 1000]) as never,
            ptr() as never,
            ptr() as never,
            len() as never,
            rnd.pick([0, 1]) as never,
          ));
        break;
      case 8:
        check(a, () =>
          g.tinygo.wasm_bpf_buffer_poll(
            handle() as never,
            fd() as never,
            ptr() as never,
            ptr() as never,
            len() as never,
            rnd.pick([0, 1]) as never,
          ));
        break;
      case 9:
        check(a, () =>
          g.ext.wasm_bpf_buffer_poll_batch(
            handle() as never,
            fd() as never,
            ptr() as never,
            len() as never,
            rnd.pick([0, 1]) as never,
          ));
        break;
    }
    if (rnd.int(50) === 0 && g.memory.buffer.byteLength < (32 << 20)) {
      g.memory.grow(1); // memory grows under the host's feet
    }
  }

  // ELF bytes with random corruption: bit flips, truncation, garbage runs
  const SCRATCH = 2 << 20;
  if (g.memory.buffer.byteLength < SCRATCH + objBytes.length) {
    g.memory.grow(
      Math.ceil(
        (SCRATCH + objBytes.length - g.memory.buffer.byteLength) / 65536,
      ),
    );
  }
  let accepted = 0;
  for (let i = 0; i < CORRUPT_LOADS; i++) {
    const bytes = objBytes.slice();
    let size = bytes.length;
    const kind = rnd.int(3);
    if (kind === 0) {
      for (let k = 0, n = 1 + rnd.int(16); k < n; k++) {
        bytes[rnd.int(bytes.length)] ^= 1 << rnd.int(8);
      }
    } else if (kind === 1) {
      size = rnd.int(bytes.length);
    } else {
      const at = rnd.int(bytes.length - 64);
      for (let k = 0; k < 64; k++) bytes[at + k] = rnd.int(256);
    }
    put(g.memory, SCRATCH, bytes);
    const h = check(
      `corrupt load ${i}`,
      () => g.bpf.wasm_load_bpf_object(SCRATCH as never, size as never),
      true,
    );
    if (h) {
      accepted++;
      assert.equal(
        check(`close ${i}`, () => g.bpf.wasm_close_bpf_object(h as never)),
        0,
      );
    }
  }
  console.log(
    `fuzz: ${ROUNDS} calls and ${CORRUPT_LOADS} corrupted objects (${accepted} still loadable) in ${
      Math.round(performance.now() - start)
    } ms`,
  );

  g.host.close();
  other.host.close();
  assert.equal(g.host.objectCount, 0);
  assert.equal(other.host.objectCount, 0);
  // nothing the fuzzer did is an internal error of the host
  assert.deepEqual(logs.filter((l) => /internal error/.test(l)), []);
  await assertNoBpfLeaks(before);
});
