/**
 * Builds the OCI image of the host without a Docker daemon (run through
 * scripts/image.sh): the Deno binary, the package's runtime modules (the
 * module graph of mod.ts, host/child.ts and host/worker.ts), the native
 * helpers (build/native/*.so), libbpf and exactly the shared libraries they
 * link (the ldd closure, with the dynamic loader), and a DENO_DIR filled by
 * `deno cache` inside the image's own root (chroot), so the container starts
 * offline without compiling. Nothing else: no shell, no package manager.
 *
 *   deno run -A scripts/image.ts [--push REF] [--insecure] [-o DIR] [--rebuild]
 *
 * The layout is kept in build/image/KEY (KEY: a digest of every input), so
 * an unchanged tree gives the same image at once (`--rebuild` builds it
 * again; the same inputs give the same bytes). `-o DIR` copies it to DIR.
 * `--push REF` copies it to a registry with skopeo. stdout: the layout's
 * directory, then (with --push) `REF@sha256:...`.
 *
 * @module
 */
import {
  imageLayout,
  type LayerEntry,
  sha256,
  writeImageLayout,
  writeLayer,
} from "./image_layout.ts";

const ROOT = decodeURIComponent(new URL("..", import.meta.url).pathname)
  .replace(/\/$/, "");
/** Bumped when the image's shape changes without any input changing. */
const FORMAT = "wasm-bpf-image/3";
/** Modules started by URL rather than imported (spawn's child, the Worker). */
const ROOTS = ["mod.ts", "host/child.ts", "host/worker.ts"];
/** The native helpers ffi/native.ts loads from ../build/native/. */
const NATIVE = ["libwasm_bpf_fast.so", "libwasm_bpf_watchdog.so"];
const LIBBPF_MIN = [1, 4];

/** Where things live in the image. */
export const IMAGE_PATHS = {
  deno: "/usr/bin/deno",
  app: "/app",
  denoDir: "/deno-dir",
  cache: "/var/cache",
} as const;

/** Deno's permissions in the entrypoint (see README "Container image"). */
export const ENTRYPOINT = [
  IMAGE_PATHS.deno,
  "run",
  "--no-prompt",
  "--cached-only",
  "--v8-flags=--wasm-fast-api", // map operations through the wasm gate
  "--allow-ffi", // libbpf, libc, the native helpers
  "--allow-read", // guests, /sys (BTF, tracefs), the cache, policy files
  "--allow-env", // XDG_CACHE_HOME, HOME, DOCKER_CONFIG, WASM_BPF_*
  "--allow-net", // the registry, the --metrics listener
  `--allow-write=${IMAGE_PATHS.cache},/tmp`, // the OCI cache; --audit under /tmp
  `--allow-run=${IMAGE_PATHS.deno}`, // --max-memory: the guest's own process
  `${IMAGE_PATHS.app}/mod.ts`,
];

/** The image's environment. */
export const ENV = [
  "PATH=/usr/bin",
  `DENO_DIR=${IMAGE_PATHS.denoDir}`,
  "DENO_NO_UPDATE_CHECK=1",
  "NO_COLOR=1",
  `XDG_CACHE_HOME=${IMAGE_PATHS.cache}`,
  "HOME=/root",
];

function log(s: string): void {
  console.error(`image: ${s}`);
}

class Fail extends Error {}

async function output(cmd: string, args: string[], opts: {
  env?: Record<string, string>;
  clearEnv?: boolean;
  cwd?: string;
} = {}): Promise<string> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(cmd, {
      args,
      stdout: "piped",
      stderr: "piped",
      ...opts,
    }).output();
  } catch (e) {
    throw new Fail(`cannot run ${cmd}: ${(e as Error).message}`);
  }
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Fail(
      `${cmd} ${args.join(" ")} failed (exit ${out.code}): ${
        new TextDecoder().decode(out.stderr).trim()
      }`,
    );
  }
  return text;
}

/** The package's files the runtime loads: the module graph of {@link ROOTS}. */
async function runtimeSources(deno: string): Promise<string[]> {
  const files = new Set<string>();
  for (const root of ROOTS) {
    const info = JSON.parse(
      await output(deno, ["info", "--json", `${ROOT}/${root}`], {
        env: { NO_COLOR: "1" },
      }),
    ) as { modules: { specifier: string }[] };
    for (const m of info.modules) {
      if (!m.specifier.startsWith("file://")) continue; // node: built-ins
      const path = decodeURIComponent(new URL(m.specifier).pathname);
      if (!path.startsWith(`${ROOT}/`)) {
        throw new Fail(`${root} imports ${path}, outside the package`);
      }
      files.add(path.slice(ROOT.length + 1));
    }
  }
  files.add("deno.json"); // host/cli.ts imports it (the version)
  return [...files].sort();
}

/** libbpf.so.1 as the dynamic loader finds it (or WASM_BPF_LIBBPF). */
async function findLibbpf(): Promise<string> {
  let path = Deno.env.get("WASM_BPF_LIBBPF");
  if (!path) {
    const cache = await output("/sbin/ldconfig", ["-p"]);
    const m = /^\s*libbpf\.so\.1 \(libc6,x86-64\) => (\S+)$/m.exec(cache);
    if (!m) {
      throw new Fail(
        "libbpf.so.1 not found: run scripts/setup.sh (libbpf1 >= 1.4 from bookworm-backports)",
      );
    }
    path = m[1];
  }
  const real = await Deno.realPath(path);
  const v = /libbpf\.so\.(\d+)\.(\d+)/.exec(real);
  if (
    !v || +v[1] < LIBBPF_MIN[0] ||
    (+v[1] === LIBBPF_MIN[0] && +v[2] < LIBBPF_MIN[1])
  ) {
    throw new Fail(
      `${real} is not libbpf >= ${
        LIBBPF_MIN.join(".")
      }: run scripts/setup.sh (libbpf1 from bookworm-backports)`,
    );
  }
  return path;
}

/** The shared libraries `files` need (ldd's closure, the loader included). */
async function sharedLibraries(files: string[]): Promise<string[]> {
  const libs = new Set<string>();
  for (const f of files) {
    const text = await output("ldd", [f]);
    for (const line of text.split("\n")) {
      if (/not found/.test(line)) {
        throw new Fail(`${f}: a library is missing: ${line.trim()}`);
      }
      const m = /=>\s+(\/\S+)\s+\(/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
      if (m) libs.add(m[1]);
    }
  }
  return [...libs].sort();
}

/**
 * Entries that put host file `path` at the same path in the image, every
 * symlink on the way kept as a symlink (/lib -> usr/lib, libbpf.so.1 ->
 * libbpf.so.1.4.6, ...), so the loader finds it by each name it is known by.
 */
async function copyPath(
  path: string,
  entries: Map<string, LayerEntry>,
): Promise<void> {
  let rest = path.split("/").filter(Boolean);
  let at = "";
  for (let hops = 0; rest.length; hops++) {
    if (hops > 64) throw new Fail(`too many symlinks in ${path}`);
    const part = rest.shift()!;
    const here = `${at}/${part}`;
    const st = await Deno.lstat(here);
    if (st.isSymlink) {
      const target = await Deno.readLink(here);
      if (!entries.has(here)) {
        entries.set(here, { type: "symlink", path: here, target });
      }
      const resolved = target.startsWith("/")
        ? target.split("/").filter(Boolean)
        : [...at.split("/").filter(Boolean), ...target.split("/")];
      // normalise . and ..
      const norm: string[] = [];
      for (const p of [...resolved, ...rest]) {
        if (p === "" || p === ".") continue;
        if (p === "..") norm.pop();
        else norm.push(p);
      }
      rest = norm;
      at = "";
      continue;
    }
    if (st.isDirectory) {
      if (!entries.has(here)) {
        entries.set(here, { type: "dir", path: here, mode: 0o755 });
      }
      at = here;
      continue;
    }
    if (rest.length) throw new Fail(`${here} is not a directory (in ${path})`);
    entries.set(here, {
      type: "file",
      path: here,
      data: await Deno.readFile(here),
      mode: (st.mode ?? 0o644) & 0o755,
    });
    return;
  }
}

function dirsOf(path: string, entries: Map<string, LayerEntry>): void {
  const parts = path.split("/").filter(Boolean);
  for (let i = 1; i < parts.length; i++) {
    const d = "/" + parts.slice(0, i).join("/");
    if (!entries.has(d)) entries.set(d, { type: "dir", path: d, mode: 0o755 });
  }
}

/** Writes `entries` under `dir` (for the chroot that fills DENO_DIR). */
async function stage(
  dir: string,
  entries: Iterable<LayerEntry>,
): Promise<void> {
  for (const e of [...entries].sort((a, b) => a.path.length - b.path.length)) {
    const p = `${dir}${e.path}`;
    if (e.type === "dir") await Deno.mkdir(p, { recursive: true });
    else if (e.type === "symlink") await Deno.symlink(e.target, p);
    else await Deno.writeFile(p, e.data, { mode: e.mode });
  }
}

async function walk(dir: string, base = dir): Promise<LayerEntry[]> {
  const out: LayerEntry[] = [];
  for await (const d of Deno.readDir(dir)) {
    const p = `${dir}/${d.name}`;
    const rel = p.slice(base.length);
    if (d.isDirectory) {
      out.push({ type: "dir", path: rel, mode: 0o755 });
      out.push(...await walk(p, base));
    } else if (d.isFile) {
      out.push({
        type: "file",
        path: rel,
        data: await Deno.readFile(p),
        mode: 0o644,
      });
    }
  }
  return out;
}

/**
 * Runs deno inside `root` (chroot; through a user namespace when not root)
 * to fill DENO_DIR with the transpiled modules and V8's code cache.
 */
async function fillDenoDir(root: string): Promise<void> {
  const env = {
    DENO_DIR: IMAGE_PATHS.denoDir,
    DENO_NO_UPDATE_CHECK: "1",
    NO_COLOR: "1",
    HOME: "/root",
    PATH: "/usr/bin",
  };
  const chroot = Deno.uid() === 0
    ? ["/usr/sbin/chroot", root]
    : ["/usr/bin/unshare", "--map-root-user", "/usr/sbin/chroot", root];
  await output(chroot[0], [
    ...chroot.slice(1),
    IMAGE_PATHS.deno,
    "cache",
    ...ROOTS.map((r) => `${IMAGE_PATHS.app}/${r}`),
  ], { env, clearEnv: true });
  // a start fills V8's code cache for what mod.ts imports
  await output(chroot[0], [
    ...chroot.slice(1),
    ...ENTRYPOINT,
    "--version",
  ], { env, clearEnv: true });
  // the caches are SQLite databases in WAL mode: fold the WAL in and switch
  // to a rollback journal, so a read-only root opens them
  const { DatabaseSync } = await import("node:sqlite");
  for await (const d of Deno.readDir(`${root}${IMAGE_PATHS.denoDir}`)) {
    if (!d.isFile || /-(wal|shm|journal)$/.test(d.name)) continue;
    const file = `${root}${IMAGE_PATHS.denoDir}/${d.name}`;
    const head = new Uint8Array(16);
    using f = await Deno.open(file);
    await f.read(head);
    if (new TextDecoder().decode(head) !== "SQLite format 3\0") continue;
    const db = new DatabaseSync(file);
    db.exec("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE;");
    // rows in a fixed order (deno wrote them as its threads finished), so
    // the same inputs give the same bytes
    const tables = db.prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    ).all() as { name: string }[];
    for (const { name } of tables) {
      const cols = (db.prepare(`PRAGMA table_info("${name}")`).all() as {
        name: string;
      }[]).map((c) => `"${c.name}"`);
      db.exec(
        `CREATE TEMP TABLE sorted AS SELECT * FROM "${name}" ORDER BY ${
          cols.join(", ")
        }; DELETE FROM "${name}"; INSERT INTO "${name}" SELECT * FROM sorted; DROP TABLE sorted;`,
      );
    }
    db.exec("VACUUM;");
    db.close();
  }
  for await (const d of Deno.readDir(`${root}${IMAGE_PATHS.denoDir}`)) {
    if (/-(wal|shm)$/.test(d.name)) {
      await Deno.remove(`${root}${IMAGE_PATHS.denoDir}/${d.name}`);
    }
  }
}

interface Inputs {
  deno: string;
  sources: string[];
  natives: string[];
  libs: string[];
  key: string;
}

async function inputs(): Promise<Inputs> {
  const deno = await Deno.realPath(Deno.env.get("DENO") ?? Deno.execPath());
  const sources = await runtimeSources(deno);
  const natives = NATIVE.map((n) => `${ROOT}/build/native/${n}`);
  for (const n of natives) {
    try {
      await Deno.stat(n);
    } catch {
      throw new Fail(`${n} is missing: run scripts/setup.sh (builds it)`);
    }
  }
  const libbpf = await findLibbpf();
  const libs = await sharedLibraries([deno, libbpf, ...natives]);
  if (!libs.includes(libbpf)) libs.push(libbpf);
  // the key: every input's path and content, and the shape of the image
  const parts: string[] = [FORMAT, JSON.stringify(ENTRYPOINT), ENV.join("\n")];
  for (
    const f of [
      `${ROOT}/scripts/image.ts`,
      `${ROOT}/scripts/image_layout.ts`,
      deno,
      ...sources.map((s) => `${ROOT}/${s}`),
      ...natives,
      ...libs,
    ]
  ) {
    parts.push(`${f} ${await sha256(await Deno.readFile(f))}`);
  }
  const key = (await sha256(new TextEncoder().encode(parts.join("\n"))))
    .slice(7, 23);
  return { deno, sources, natives, libs: libs.sort(), key };
}

/** Builds the layout into `dir` (a new directory). */
async function build(inp: Inputs, dir: string): Promise<void> {
  const started = performance.now();
  // layer 1: the runtime (deno, libbpf, the libraries they link)
  const runtime = new Map<string, LayerEntry>();
  dirsOf(IMAGE_PATHS.deno, runtime);
  runtime.set(IMAGE_PATHS.deno, {
    type: "file",
    path: IMAGE_PATHS.deno,
    data: await Deno.readFile(inp.deno),
    mode: 0o755,
  });
  for (const lib of inp.libs) await copyPath(lib, runtime);
  // layer 2: the package, its native helpers, DENO_DIR, writable dirs
  const app = new Map<string, LayerEntry>();
  for (const s of inp.sources) {
    const p = `${IMAGE_PATHS.app}/${s}`;
    dirsOf(p, app);
    app.set(p, {
      type: "file",
      path: p,
      data: await Deno.readFile(`${ROOT}/${s}`),
      mode: 0o644,
    });
  }
  for (const n of inp.natives) {
    const p = `${IMAGE_PATHS.app}/build/native/${n.split("/").pop()}`;
    dirsOf(p, app);
    app.set(p, {
      type: "file",
      path: p,
      data: await Deno.readFile(n),
      mode: 0o755,
    });
  }
  for (const d of [IMAGE_PATHS.cache, "/tmp", "/root"]) {
    dirsOf(d, app);
    app.set(d, { type: "dir", path: d, mode: d === "/tmp" ? 0o1777 : 0o755 });
  }
  for (const d of ["/dev", "/proc", "/sys", "/etc"]) {
    app.set(d, { type: "dir", path: d, mode: 0o755 });
  }
  // DENO_DIR, filled by the image's own deno in the image's own root
  const tmp = await Deno.makeTempDir({ prefix: "wasm-bpf-image-" });
  try {
    await stage(tmp, runtime.values());
    await stage(tmp, [...app.values()].filter((e) => !runtime.has(e.path)));
    await Deno.mkdir(`${tmp}${IMAGE_PATHS.denoDir}`);
    await fillDenoDir(tmp);
    const extra = [];
    for await (const d of Deno.readDir(`${tmp}${IMAGE_PATHS.app}`)) {
      if (!app.has(`${IMAGE_PATHS.app}/${d.name}`)) extra.push(d.name);
    }
    if (extra.length) {
      throw new Fail(`deno wrote into /app: ${extra.join(", ")}`);
    }
    app.set(IMAGE_PATHS.denoDir, {
      type: "dir",
      path: IMAGE_PATHS.denoDir,
      mode: 0o755,
    });
    for (const e of await walk(`${tmp}${IMAGE_PATHS.denoDir}`)) {
      const p = `${IMAGE_PATHS.denoDir}${e.path}`;
      app.set(p, { ...e, path: p });
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
  for (const k of runtime.keys()) app.delete(k); // dirs both layers name
  const mtime = Number(Deno.env.get("SOURCE_DATE_EPOCH") ?? 0);
  const layout = await imageLayout([
    {
      tar: writeLayer([...runtime.values()], mtime),
      comment: "deno, libbpf and the shared libraries they link",
    },
    {
      tar: writeLayer([...app.values()], mtime),
      comment: "wasm-bpf: the runtime modules, native helpers and DENO_DIR",
    },
  ], {
    env: ENV,
    entrypoint: ENTRYPOINT,
    cmd: ["--help"],
    workingDir: "/",
    labels: {
      "org.opencontainers.image.title": "wasm-bpf",
      "org.opencontainers.image.description":
        "wasm-bpf for Deno: eBPF applications whose user space is WebAssembly",
      "org.opencontainers.image.version": JSON.parse(
        await Deno.readTextFile(`${ROOT}/deno.json`),
      ).version,
    },
    created: new Date(mtime * 1000).toISOString().replace(/\.000Z$/, "Z"),
  });
  await writeImageLayout(layout, dir);
  log(
    `built in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
}

/** Sizes of a layout: compressed blobs and unpacked files. */
async function describe(dir: string): Promise<string> {
  const index = JSON.parse(await Deno.readTextFile(`${dir}/index.json`));
  const digest = index.manifests[0].digest as string;
  const manifest = JSON.parse(
    await Deno.readTextFile(`${dir}/blobs/sha256/${digest.slice(7)}`),
  );
  const compressed = manifest.layers.reduce(
    (n: number, l: { size: number }) => n + l.size,
    0,
  );
  return `manifest ${digest}, ${manifest.layers.length} layers, ${
    (compressed / 2 ** 20).toFixed(1)
  } MiB compressed`;
}

function isLoopback(ref: string): boolean {
  const host = ref.split("/")[0].replace(/:\d+$/, "");
  return host === "localhost" || host === "127.0.0.1" || host === "[::1]";
}

async function main(args: string[]): Promise<number> {
  let pushRef: string | undefined;
  let insecure = false;
  let rebuild = false;
  let out: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = () => {
      if (i + 1 >= args.length) throw new Fail(`${a} needs a value`);
      return args[++i];
    };
    if (a === "--push") pushRef = value();
    else if (a === "--insecure") insecure = true;
    else if (a === "--rebuild") rebuild = true;
    else if (a === "-o" || a === "--output") out = value();
    else if (a === "-h" || a === "--help") {
      console.log(
        "usage: scripts/image.sh [--push REF] [--insecure] [-o DIR] [--rebuild]\n" +
          "Builds the OCI image of wasm-bpf (an OCI image layout; no Docker daemon);\n" +
          "--push copies it to REF with skopeo (plain HTTP for localhost or --insecure).",
      );
      return 0;
    } else throw new Fail(`unknown argument '${a}' (try --help)`);
  }
  const inp = await inputs();
  const cacheRoot = `${ROOT}/build/image`;
  const cached = `${cacheRoot}/${inp.key}`;
  let hit = true;
  try {
    await Deno.stat(`${cached}/index.json`);
  } catch {
    hit = false;
  }
  if (!hit || rebuild) {
    await Deno.mkdir(cacheRoot, { recursive: true });
    const tmp = `${cached}.tmp-${crypto.randomUUID().slice(0, 8)}`;
    try {
      await build(inp, tmp);
      if (hit) await Deno.remove(cached, { recursive: true });
      await Deno.rename(tmp, cached);
    } catch (e) {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
      throw e;
    }
    // older builds go (their inputs changed): the newest three stay
    const builds: { name: string; mtime: number }[] = [];
    for await (const d of Deno.readDir(cacheRoot)) {
      if (/^[0-9a-f]{16}$/.test(d.name) && d.name !== inp.key) {
        const st = await Deno.stat(`${cacheRoot}/${d.name}`);
        builds.push({ name: d.name, mtime: st.mtime?.getTime() ?? 0 });
      }
    }
    builds.sort((a, b) => b.mtime - a.mtime);
    for (const b of builds.slice(2)) {
      await Deno.remove(`${cacheRoot}/${b.name}`, { recursive: true });
    }
  } else log(`inputs unchanged: ${cached}`);
  let dir = cached;
  if (out) {
    dir = out.startsWith("/") ? out : `${Deno.cwd()}/${out}`;
    let exists = false;
    try {
      exists = (await Deno.stat(dir)).isDirectory;
    } catch { /* new */ }
    if (exists) {
      let empty = true;
      for await (const _ of Deno.readDir(dir)) empty = false;
      const layout = await Deno.stat(`${dir}/oci-layout`).then(
        () => true,
        () => false,
      );
      if (!empty && !layout) {
        throw new Fail(
          `-o ${out}: the directory exists and is not an OCI image layout`,
        );
      }
      await Deno.remove(dir, { recursive: true });
    }
    await Deno.mkdir(`${dir}/blobs/sha256`, { recursive: true });
    for (const f of ["oci-layout", "index.json"]) {
      await Deno.copyFile(`${cached}/${f}`, `${dir}/${f}`);
    }
    for await (const b of Deno.readDir(`${cached}/blobs/sha256`)) {
      await Deno.copyFile(
        `${cached}/blobs/sha256/${b.name}`,
        `${dir}/blobs/sha256/${b.name}`,
      );
    }
  }
  log(`${dir}: ${await describe(dir)}`);
  console.log(dir);
  if (pushRef) {
    const digestFile = await Deno.makeTempFile();
    try {
      await output("skopeo", [
        "copy",
        "--quiet",
        ...(insecure || isLoopback(pushRef) ? ["--dest-tls-verify=false"] : []),
        "--digestfile",
        digestFile,
        `oci:${dir}:latest`,
        `docker://${pushRef}`,
      ]);
      const digest = (await Deno.readTextFile(digestFile)).trim();
      const repo = pushRef.replace(/@.*$/, "").replace(/:[^:/]+$/, "");
      log(`pushed ${pushRef}`);
      console.log(`${repo}@${digest}`);
    } finally {
      await Deno.remove(digestFile);
    }
  }
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    if (!(e instanceof Fail)) throw e;
    log(e.message);
    Deno.exit(1);
  }
}
