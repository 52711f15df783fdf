/**
 * Shared helpers for the project's tests: building guests through the build
 * rule, running the CLI as a real process, and checking that no BPF program,
 * map or link outlives a test.
 *
 * Tests run one file at a time (no --parallel), so a global before/after
 * snapshot of the kernel's BPF objects is meaningful.
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
  const out = new Deno.Command("bpftool", {
    args: [kind, "show", "-j"],
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
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

/**
 * Asserts that every BPF program, map and link created since `before` is
 * gone. The kernel frees them asynchronously after the last reference
 * drops, so this retries for up to `waitMs`.
 */
export async function assertNoBpfLeaks(
  before: BpfSnapshot,
  waitMs = 2000,
): Promise<void> {
  const deadline = Date.now() + waitMs;
  let left = bpfNewSince(before);
  while (
    left.progs.size + left.maps.size + left.links.size > 0 &&
    Date.now() < deadline
  ) {
    await new Promise((r) => setTimeout(r, 50));
    left = bpfNewSince(before);
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

/** Runs the CLI (`deno run <perms> mod.ts ...args`) to completion. */
export async function runCli(
  args: string[],
  options: { timeoutMs?: number; permissions?: string[] } = {},
): Promise<ProcResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
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
