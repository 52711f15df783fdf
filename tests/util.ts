/**
 * Shared helpers for the project's tests: building guests through the build
 * rule, running the CLI as a real process, and checking that no BPF program,
 * map or link outlives a test.
 *
 * Tests run one file at a time (no --parallel). Leak checks compare global
 * snapshots of the kernel's BPF objects, excusing those that only processes
 * outside the test's own process tree hold (other work on the machine).
 *
 * @module
 */
import assert from "node:assert/strict";
import { buildDir } from "../scripts/build.ts";

/** Absolute path of the repository root. */
export const ROOT: string = new URL("..", import.meta.url).pathname.replace(
  /\/$/,
  "",
);

/** Builds `dir` (relative to the repo root) and returns its build folder. */
export async function buildGuest(dir: string): Promise<string> {
  await buildDir(`${ROOT}/${dir}`);
  return `${ROOT}/build/${dir}`;
}

/** IDs of every BPF program, map and link the kernel holds right now. */
export interface BpfSnapshot {
  progs: Set<number>;
  maps: Set<number>;
  links: Set<number>;
}

function bpftoolIds(kind: "prog" | "map" | "link"): Set<number> {
  let out!: Deno.CommandOutput;
  // bpftool fails when an object goes away while it lists them (another
  // test, another process): list again
  for (let i = 0; i < 5; i++) {
    out = new Deno.Command("bpftool", {
      args: [kind, "show", "-j"],
      stdout: "piped",
      stderr: "piped",
    }).outputSync();
    if (out.success) break;
  }
  if (!out.success) {
    throw new Error(
      `bpftool ${kind} show failed: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  const text = new TextDecoder().decode(out.stdout).trim();
  const list = text ? JSON.parse(text) as { id: number }[] : [];
  return new Set(list.map((e) => e.id));
}

/** Takes a snapshot of the kernel's BPF objects (through bpftool). */
export function bpfSnapshot(): BpfSnapshot {
  return {
    progs: bpftoolIds("prog"),
    maps: bpftoolIds("map"),
    links: bpftoolIds("link"),
  };
}

/** What exists now that did not exist in `before`. */
export function bpfNewSince(before: BpfSnapshot): BpfSnapshot {
  const now = bpfSnapshot();
  const diff = (a: Set<number>, b: Set<number>) =>
    new Set([...a].filter((id) => !b.has(id)));
  return {
    progs: diff(now.progs, before.progs),
    maps: diff(now.maps, before.maps),
    links: diff(now.links, before.links),
  };
}

interface Holders {
  /** "prog:5" -> pids holding an fd to it */
  byId: Map<string, Set<number>>;
}

function scanHolders(): Holders {
  const byId = new Map<string, Set<number>>();
  for (const p of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(p.name)) continue;
    const pid = Number(p.name);
    let fds: Deno.DirEntry[];
    try {
      fds = [...Deno.readDirSync(`/proc/${pid}/fdinfo`)];
    } catch {
      continue;
    }
    for (const fd of fds) {
      let info: string;
      try {
        info = Deno.readTextFileSync(`/proc/${pid}/fdinfo/${fd.name}`);
      } catch {
        continue;
      }
      const m = info.match(/^(prog|map|link)_id:\s*(\d+)/m);
      if (!m) continue;
      const key = `${m[1]}:${m[2]}`;
      if (!byId.has(key)) byId.set(key, new Set());
      byId.get(key)!.add(pid);
    }
  }
  return { byId };
}

function parentOf(pid: number): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return 0;
  }
}

/** Is `pid` this process or one of its descendants? */
function isOurs(pid: number): boolean {
  for (let p = pid, i = 0; p > 1 && i < 64; p = parentOf(p), i++) {
    if (p === Deno.pid) return true;
  }
  return false;
}

function bpftoolJson<T>(args: string[]): T[] {
  const out = new Deno.Command("bpftool", {
    args: [...args, "-j"],
    stdout: "piped",
    stderr: "null",
  }).outputSync();
  const text = new TextDecoder().decode(out.stdout).trim();
  return out.success && text ? JSON.parse(text) as T[] : [];
}

/**
 * The BPF objects created since `before` that this test process is to blame
 * for. Objects held (through fds, or through a link or program that is held)
 * only by processes outside this test's process tree belong to somebody else
 * running at the same time, and are not counted.
 */
export function bpfLeaksSince(before: BpfSnapshot): BpfSnapshot {
  const fresh = bpfNewSince(before);
  if (fresh.progs.size + fresh.maps.size + fresh.links.size === 0) {
    return fresh;
  }
  const { byId } = scanHolders();
  const foreign = new Set<string>();
  for (const [key, pids] of byId) {
    if (![...pids].some(isOurs)) foreign.add(key);
  }
  // a foreign link keeps its program; a foreign program keeps its maps
  for (
    const l of bpftoolJson<{ id: number; prog_id: number }>(["link", "show"])
  ) {
    if (foreign.has(`link:${l.id}`)) foreign.add(`prog:${l.prog_id}`);
  }
  for (
    const p of bpftoolJson<{ id: number; map_ids?: number[] }>(["prog", "show"])
  ) {
    if (foreign.has(`prog:${p.id}`)) {
      for (const m of p.map_ids ?? []) foreign.add(`map:${m}`);
    }
  }
  const keep = (kind: string, ids: Set<number>) =>
    new Set([...ids].filter((id) => !foreign.has(`${kind}:${id}`)));
  return {
    progs: keep("prog", fresh.progs),
    maps: keep("map", fresh.maps),
    links: keep("link", fresh.links),
  };
}

/**
 * Asserts that every BPF program, map and link this test created since
 * `before` is gone. The kernel frees them asynchronously after the last
 * reference drops, so this retries for up to `waitMs`.
 */
export async function assertNoBpfLeaks(
  before: BpfSnapshot,
  waitMs = 2000,
): Promise<void> {
  const deadline = Date.now() + waitMs;
  let left = bpfLeaksSince(before);
  while (
    left.progs.size + left.maps.size + left.links.size > 0 &&
    Date.now() < deadline
  ) {
    await new Promise((r) => setTimeout(r, 50));
    left = bpfLeaksSince(before);
  }
  assert(
    left.progs.size + left.maps.size + left.links.size === 0,
    `BPF objects leaked: progs [${[...left.progs]}] maps [${[
      ...left.maps,
    ]}] links [${[...left.links]}]`,
  );
}

/** BPF object ids (prog_id/map_id/link_id) held through fds by process `pid`. */
export function bpfFdsHeldBy(pid: number): string[] {
  const held: string[] = [];
  for (const e of Deno.readDirSync(`/proc/${pid}/fdinfo`)) {
    let info: string;
    try {
      info = Deno.readTextFileSync(`/proc/${pid}/fdinfo/${e.name}`);
    } catch {
      continue; // closed meanwhile
    }
    const m = info.match(/^(prog_id|map_id|link_id):\s*(\d+)/m);
    if (m) held.push(`${m[1]}=${m[2]} (fd ${e.name})`);
  }
  return held;
}

/** Result of a finished process. */
export interface ProcResult {
  code: number;
  signal: Deno.Signal | null;
  stdout: string;
  stderr: string;
}

/** The least permissions the CLI is documented to need. */
export const CLI_PERMISSIONS = ["--allow-ffi", "--allow-read", "--allow-env"];
/** The V8 flag of the documented command line (host/gate.ts). */
export const CLI_V8_FLAGS = ["--v8-flags=--wasm-fast-api"];

/** Runs the CLI (`deno run <perms> mod.ts ...args`) to completion. */
export async function runCli(
  args: string[],
  options: {
    timeoutMs?: number;
    permissions?: string[];
    env?: Record<string, string>;
    /** Deno's V8 flags (default {@link CLI_V8_FLAGS}). */
    v8Flags?: string[];
  } = {},
): Promise<ProcResult> {
  const child = new Deno.Command(Deno.execPath(), {
    env: options.env,
    args: [
      "run",
      ...(options.v8Flags ?? CLI_V8_FLAGS),
      ...(options.permissions ?? CLI_PERMISSIONS),
      `${ROOT}/mod.ts`,
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const timer = setTimeout(
    () => child.kill("SIGKILL"),
    options.timeoutMs ?? 30_000,
  );
  try {
    const out = await child.output();
    return {
      code: out.code,
      signal: out.signal,
      stdout: new TextDecoder().decode(out.stdout),
      stderr: new TextDecoder().decode(out.stderr),
    };
  } finally {
    clearTimeout(timer);
  }
}
