/**
 * Device maps under `--allow-interface`: an XDP program's
 * `bpf_redirect_map` sends packets to whatever ifindex the guest wrote
 * into its DEVMAP or DEVMAP_HASH, so those writes are held to the
 * interfaces the policy grants. A guest granted only `lo` writes another
 * interface's ifindex (a veth or dummy made here) and lo's; the test reads
 * the guest's maps from the kernel (by the map ids in the guest process's
 * fdinfo, with bpftool): lo's ifindex is there, the other is not; with no
 * interface list the other one is there too (the refusal is the policy's).
 */
import assert from "node:assert/strict";
import {
  assertNoBpfLeaks,
  bpfSnapshot,
  buildGuest,
  CLI_PERMISSIONS,
  ROOT,
} from "./util.ts";

const gaps = async () =>
  `${await buildGuest("tests/guests/sandbox-gaps")}/gaps.wasm`;

const MAP_DEVMAP = 14, MAP_DEVMAP_HASH = 25;

/** Whether the command ran and succeeded (false if it is not installed). */
function sh(cmd: string, args: string[]): boolean {
  try {
    return new Deno.Command(cmd, { args, stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

/** A dummy interface, else a veth pair; undefined (with why) if neither. */
function makeInterface(): { name: string; remove(): void } | string {
  const name = `wbdm${Deno.pid % 100000}`;
  sh("modprobe", ["dummy"]);
  if (sh("ip", ["link", "add", name, "type", "dummy"])) {
    return { name, remove: () => sh("ip", ["link", "del", name]) };
  }
  if (
    sh("ip", ["link", "add", name, "type", "veth", "peer", "name", `${name}p`])
  ) {
    return { name, remove: () => sh("ip", ["link", "del", name]) };
  }
  return "this kernel makes neither a dummy nor a veth interface (ip link add)";
}

function ifindex(name: string): number {
  return Number(Deno.readTextFileSync(`/sys/class/net/${name}/ifindex`));
}

/** Map ids of `pid`'s open BPF maps, by map type. */
function mapIds(pid: number): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (const e of Deno.readDirSync(`/proc/${pid}/fdinfo`)) {
    let text: string;
    try {
      text = Deno.readTextFileSync(`/proc/${pid}/fdinfo/${e.name}`);
    } catch {
      continue;
    }
    const type = /^map_type:\s*(\d+)/m.exec(text);
    const id = /^map_id:\s*(\d+)/m.exec(text);
    if (!type || !id) continue;
    const t = Number(type[1]);
    out.set(t, [...(out.get(t) ?? []), Number(id[1])]);
  }
  return out;
}

/** The u32 at the start of key 0's value in map `id`, or undefined. */
function valueAtKey0(id: number): number | undefined {
  const out = new Deno.Command("bpftool", {
    args: ["-j", "map", "dump", "id", String(id)],
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  assert(out.success, new TextDecoder().decode(out.stderr));
  const entries = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    key?: string[];
    value?: string[] | unknown;
  }[];
  for (const e of entries) {
    if (!Array.isArray(e.key) || !Array.isArray(e.value)) continue;
    if (e.key.some((b) => Number(b) !== 0)) continue;
    const v = (e.value as string[]).slice(0, 4).map(Number);
    return v[0] | v[1] << 8 | v[2] << 16 | v[3] << 24;
  }
  return undefined;
}

/**
 * Runs `gaps devmap IFINDEX` under `flags`; while the guest holds its
 * maps, reads key 0 of its DEVMAP and DEVMAP_HASH from the kernel.
 */
async function devmapRun(flags: string[], target: number) {
  const wasm = await gaps();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...CLI_PERMISSIONS,
      `${ROOT}/mod.ts`,
      ...flags,
      wasm,
      "devmap",
      String(target),
      "3",
    ],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  let stdout = "";
  let seen: { devmap?: number; hash?: number } | undefined;
  for await (
    const chunk of child.stdout.pipeThrough(new TextDecoderStream())
  ) {
    stdout += chunk;
    if (!seen && stdout.includes("\n")) {
      const ids = mapIds(child.pid);
      const one = (t: number) => {
        const list = ids.get(t) ?? [];
        assert.equal(list.length, 1, `map type ${t}: ${[...ids]}`);
        return valueAtKey0(list[0]);
      };
      seen = { devmap: one(MAP_DEVMAP), hash: one(MAP_DEVMAP_HASH) };
    }
  }
  const status = await child.status;
  const err = await stderr;
  assert.equal(status.code, 0, err);
  assert(seen, `the guest printed nothing: ${err}`);
  return { ...seen, stdout, stderr: err };
}

Deno.test("device maps: a guest granted only lo cannot send packets to another interface through a DEVMAP or DEVMAP_HASH", async () => {
  const made = makeInterface();
  if (typeof made === "string") {
    console.log(`skipped: ${made}`);
    return;
  }
  const before = bpfSnapshot();
  try {
    const other = ifindex(made.name), lo = ifindex("lo");
    // granted only lo: the other interface is not in the maps
    const denied = await devmapRun(["--allow-interface", "lo"], other);
    assert.equal(denied.devmap, undefined, `DEVMAP holds ${denied.devmap}`);
    assert.equal(denied.hash, undefined, `DEVMAP_HASH holds ${denied.hash}`);
    // lo itself is
    const allowed = await devmapRun(["--allow-interface", "lo"], lo);
    assert.equal(allowed.devmap, lo, allowed.stderr);
    assert.equal(allowed.hash, lo, allowed.stderr);
    // and with the other granted (or no interface list) so is the other
    for (
      const flags of [[
        "--allow-interface",
        made.name,
        "--allow-interface",
        "lo",
      ], []]
    ) {
      const r = await devmapRun(flags, other);
      assert.equal(r.devmap, other, `${flags}: ${r.stderr}`);
      assert.equal(r.hash, other, `${flags}: ${r.stderr}`);
    }
    await assertNoBpfLeaks(before);
  } finally {
    made.remove();
  }
});
