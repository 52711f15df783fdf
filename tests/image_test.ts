// The container image and the DaemonSet, against the real thing: the image
// built by scripts/image.sh (an OCI image layout, no Docker daemon), pushed
// to Debian's docker-registry started here, read back with skopeo (config,
// digests, every file of every layer), run with podman when podman works on
// this machine (read-only root, every capability dropped but CAP_BPF and
// CAP_PERFMON, a guest pulled from the registry tracing a process), and the
// DaemonSet manifests parsed with a YAML parser and checked for privileges
// and mounts.
import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { type ListedEntry, listTar, sha256 } from "../scripts/image_layout.ts";
import { ENTRYPOINT, IMAGE_PATHS } from "../scripts/image.ts";
import { looksLikeReference } from "../host/oci/ref.ts";
import { buildGuest, ROOT } from "./util.ts";
import { freePort, REGISTRY_BIN, startRegistry } from "./registry_util.ts";

const DENO = Deno.execPath();
const dec = new TextDecoder();

function missing(): string | undefined {
  if (Deno.uid() !== 0) {
    return "not root: scripts/image.sh fills DENO_DIR in a chroot of the image";
  }
  for (const bin of [REGISTRY_BIN, "/usr/bin/skopeo"]) {
    try {
      Deno.statSync(bin);
    } catch {
      return `${bin} is not installed (scripts/setup-oci.sh installs it)`;
    }
  }
  return undefined;
}
const SKIP = missing();
if (SKIP) console.log(`image_test: skipped the image tests: ${SKIP}`);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function sh(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<Run> {
  const out = await new Deno.Command(cmd, {
    args,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

/** scripts/image.sh with this deno (no set-up run), timed. */
async function imageSh(args: string[]): Promise<Run & { seconds: number }> {
  const t0 = performance.now();
  const r = await sh("bash", [`${ROOT}/scripts/image.sh`, ...args], {
    DENO,
  });
  return { ...r, seconds: (performance.now() - t0) / 1000 };
}

const TEMP = Deno.makeTempDirSync({ prefix: "wasm-bpf-image-test-" });
globalThis.addEventListener("unload", () => {
  try {
    Deno.removeSync(TEMP, { recursive: true });
  } catch { /* podman's storage may hold a busy file: left for tmp cleaning */ }
});

/** The layout scripts/image.sh built (built once, at load, when it can be). */
const BUILT = SKIP ? undefined : await (async () => {
  const r = await imageSh([]);
  if (r.code !== 0) {
    throw new Error(`scripts/image.sh failed:\n${r.stderr}`);
  }
  const dir = r.stdout.trim().split("\n").pop()!;
  console.log(
    `image_test: scripts/image.sh: ${r.seconds.toFixed(1)} s; ${
      r.stderr.trim().split("\n").filter((l) => l.startsWith("image:")).join(
        "; ",
      )
    }`,
  );
  return { dir, seconds: r.seconds };
})();

// ---- podman: does it run containers on this machine? -------------------

interface Podman {
  /** podman with this test's own storage and the runtime that works. */
  args: string[];
  /** Options every run needs here. */
  runArgs: string[];
}

/** Soft limits podman may set (it cannot raise them without CAP_SYS_RESOURCE). */
function limitArgs(): string[] {
  const limits = Deno.readTextFileSync("/proc/self/limits");
  const soft = (name: string) => {
    const m = new RegExp(`^${name}\\s+(\\d+)`, "m").exec(limits);
    return m ? Number(m[1]) : 1024;
  };
  const nofile = Math.min(soft("Max open files"), 65536);
  const nproc = Math.min(soft("Max processes"), 4096);
  return [
    "--ulimit",
    `nofile=${nofile}:${nofile}`,
    "--ulimit",
    `nproc=${nproc}:${nproc}`,
  ];
}

const PODMAN_DIR = Deno.makeTempDirSync({ dir: "/tmp", prefix: "wbp-" });
globalThis.addEventListener("unload", () => {
  try {
    Deno.removeSync(PODMAN_DIR, { recursive: true });
  } catch { /* a busy file: left for tmp cleaning */ }
});

/** podman's storage for this file (its own, removed at the end). */
function podmanBase(runtime: string): string[] {
  return [
    "--root",
    `${PODMAN_DIR}/root`,
    "--runroot",
    `${PODMAN_DIR}/run`, // podman wants it under 50 characters
    "--storage-driver",
    "vfs",
    "--runtime",
    runtime,
  ];
}

/**
 * The probe: `podman run --rm IMAGE --help` (from the layout) with each
 * runtime installed; the first that prints the usage wins.
 */
async function probePodman(): Promise<Podman | string> {
  if (!BUILT) return SKIP!;
  try {
    Deno.statSync("/usr/bin/podman");
  } catch {
    return "podman is not installed (scripts/setup-oci.sh installs it)";
  }
  // podman names the image after the layout's path, and a name must be
  // lowercase: the checkout's path may not be (a clone in /tmp/tmp.AbC)
  const layout = `${PODMAN_DIR}/layout`;
  Deno.symlinkSync(BUILT.dir, layout);
  const why: string[] = [];
  for (const runtime of ["crun", "runc"]) {
    try {
      Deno.statSync(`/usr/bin/${runtime}`);
    } catch {
      continue;
    }
    const args = podmanBase(runtime);
    const runArgs = limitArgs();
    const r = await sh("podman", [
      ...args,
      "run",
      "--rm",
      ...runArgs,
      "--network",
      "none",
      `oci:${layout}:latest`,
      "--help",
    ]);
    if (r.code === 0 && r.stdout.includes("Usage:")) return { args, runArgs };
    why.push(
      `${runtime}: ${r.stderr.trim().split("\n").pop() ?? `exit ${r.code}`}`,
    );
  }
  return `podman cannot run a container here (${
    why.join("; ") || "no OCI runtime"
  })`;
}
const PODMAN = await probePodman();
if (typeof PODMAN === "string") console.log(`image_test: ${PODMAN}`);

// ---- reading an image back ---------------------------------------------

interface Pulled {
  config: {
    config: { Entrypoint: string[]; Env: string[]; Cmd?: string[] };
    rootfs: { diff_ids: string[] };
  };
  layers: ListedEntry[][];
  compressed: number;
  unpacked: number;
}

/** An OCI layout read back, every blob checked against its digest. */
async function readLayout(dir: string): Promise<Pulled> {
  const blob = async (digest: string) => {
    const bytes = await Deno.readFile(`${dir}/blobs/sha256/${digest.slice(7)}`);
    assert.equal(await sha256(bytes), digest, `blob ${digest} is damaged`);
    return bytes;
  };
  const index = JSON.parse(await Deno.readTextFile(`${dir}/index.json`));
  assert.equal(index.manifests.length, 1);
  const manifest = JSON.parse(
    dec.decode(await blob(index.manifests[0].digest)),
  );
  const config = JSON.parse(dec.decode(await blob(manifest.config.digest)));
  const layers: ListedEntry[][] = [];
  let compressed = 0;
  let unpacked = 0;
  for (const [i, l] of manifest.layers.entries()) {
    const gz = await blob(l.digest);
    assert.equal(gz.length, l.size);
    compressed += gz.length;
    const tar = new Uint8Array(gunzipSync(gz));
    unpacked += tar.length;
    assert.equal(
      await sha256(tar),
      config.rootfs.diff_ids[i],
      `layer ${i}: diff_id`,
    );
    layers.push(listTar(tar));
  }
  return { config, layers, compressed, unpacked };
}

/** The image's files as one tree (later layers win; no whiteouts here). */
function tree(p: Pulled): Map<string, ListedEntry> {
  const all = new Map<string, ListedEntry>();
  for (const layer of p.layers) {
    for (const e of layer) {
      assert.ok(!e.path.split("/").pop()!.startsWith(".wh."), e.path);
      all.set(e.path, e);
    }
  }
  return all;
}

/** Paths the image may hold; anything else is a failure. */
const ALLOWED = [
  /^(usr|usr\/bin|usr\/lib|usr\/lib64|usr\/lib\/x86_64-linux-gnu|lib|lib64)$/,
  /^usr\/bin\/deno$/,
  /^usr\/lib\/x86_64-linux-gnu\/(ld-linux-x86-64\.so\.2|lib[a-z0-9_+]+(-[0-9.]+)?\.so(\.[0-9]+)*)$/,
  /^usr\/lib64\/ld-linux-x86-64\.so\.2$/,
  /^app(\/(host|ffi|objfile|wasm-sdk|wasm-sdk\/gen|host\/[a-z]+))?$/,
  /^app\/(mod\.ts|deno\.json)$/,
  /^app\/(host|ffi|objfile|wasm-sdk\/gen)\/([a-z_]+\/)?[a-z_]+\.ts$/,
  /^app\/build(\/native)?$/,
  /^app\/build\/native\/libwasm_bpf_[a-z]+\.so$/,
  /^deno-dir(\/.*)?$/,
  /^(var|var\/cache|tmp|root|dev|proc|sys|etc)$/,
];

/** Modules the runtime loads: the graph of mod.ts and what is started by URL. */
async function moduleGraph(): Promise<Set<string>> {
  const out = new Set<string>(["deno.json"]);
  for (const root of ["mod.ts", "host/child.ts", "host/worker.ts"]) {
    const r = await sh(DENO, ["info", "--json", `${ROOT}/${root}`], {
      NO_COLOR: "1",
    });
    assert.equal(r.code, 0, r.stderr);
    for (const m of JSON.parse(r.stdout).modules) {
      if (m.specifier.startsWith(`file://${ROOT}/`)) {
        out.add(m.specifier.slice(`file://${ROOT}/`.length));
      }
    }
  }
  return out;
}

Deno.test({
  name:
    "image: scripts/image.sh builds the host's image; pushed to docker-registry, skopeo reads its config and layers; it holds only the allow-listed files",
  ignore: !!SKIP,
  async fn() {
    assert.ok(BUILT);
    await using reg = await startRegistry();
    const ref = `${reg.host}/wasm-bpf/host:test`;
    // the tree as it is now (the build at load may predate an edit)
    const built = await imageSh([]);
    assert.equal(built.code, 0, built.stderr);
    const pushed = await imageSh(["--push", ref]);
    assert.equal(pushed.code, 0, pushed.stderr);
    // unchanged inputs: the build is reused, the same image comes out
    assert.match(pushed.stderr, /inputs unchanged/);
    assert.ok(
      pushed.seconds < 30,
      `a cached image.sh took ${pushed.seconds} s`,
    );
    const [dir, pinned] = pushed.stdout.trim().split("\n");
    assert.equal(dir, built.stdout.trim());
    assert.match(
      pinned,
      new RegExp(`^${reg.host}/wasm-bpf/host@sha256:[0-9a-f]{64}$`),
    );
    const local = JSON.parse(await Deno.readTextFile(`${dir}/index.json`));
    assert.equal(pinned.split("@")[1], local.manifests[0].digest);

    // skopeo, another client, reads what the registry holds
    const inspect = await sh("skopeo", [
      "inspect",
      "--tls-verify=false",
      `docker://${ref}`,
    ]);
    assert.equal(inspect.code, 0, inspect.stderr);
    const info = JSON.parse(inspect.stdout);
    assert.equal(info.Digest, pinned.split("@")[1]);
    assert.equal(info.Os, "linux");
    assert.equal(info.Architecture, "amd64");
    assert.ok(info.Env.includes(`DENO_DIR=${IMAGE_PATHS.denoDir}`));
    const rawConfig = await sh("skopeo", [
      "inspect",
      "--config",
      "--tls-verify=false",
      `docker://${pinned}`,
    ]);
    assert.equal(rawConfig.code, 0, rawConfig.stderr);
    const cfg = JSON.parse(rawConfig.stdout).config;
    assert.deepEqual(cfg.Entrypoint, ENTRYPOINT);
    assert.equal(cfg.Entrypoint[0], "/usr/bin/deno");
    assert.equal(cfg.Entrypoint.at(-1), "/app/mod.ts");
    for (const flag of ["--allow-ffi", "--allow-read", "--allow-net"]) {
      assert.ok(cfg.Entrypoint.includes(flag), flag);
    }
    for (const broad of ["-A", "--allow-all", "--allow-write", "--allow-run"]) {
      assert.ok(!cfg.Entrypoint.includes(broad), `entrypoint has ${broad}`);
    }
    assert.ok(cfg.Env.includes("XDG_CACHE_HOME=/var/cache"));

    // pulled back by skopeo into a layout of its own: every blob verified
    const back = `${TEMP}/pulled`;
    const copy = await sh("skopeo", [
      "copy",
      "--quiet",
      "--src-tls-verify=false",
      `docker://${pinned}`,
      `oci:${back}:latest`,
    ]);
    assert.equal(copy.code, 0, copy.stderr);
    const image = await readLayout(back);
    assert.deepEqual(
      info.Layers,
      (JSON.parse(
        await Deno.readTextFile(
          `${dir}/blobs/sha256/${local.manifests[0].digest.slice(7)}`,
        ),
      ).layers as { digest: string }[]).map((l) => l.digest),
    );
    const files = tree(image);

    // nothing but the allow-list
    const extra = [...files.keys()].filter((p) =>
      !ALLOWED.some((re) => re.test(p))
    );
    assert.deepEqual(extra, [], "files outside the allow-list");
    for (
      const p of [
        "bin/sh",
        "usr/bin/sh",
        "bin/bash",
        "usr/bin/apt",
        "usr/bin/apt-get",
        "usr/bin/dpkg",
        "var/lib/dpkg",
        "etc/apt",
      ]
    ) {
      assert.ok(!files.has(p), `the image holds ${p}`);
    }

    // deno, the package, the native helpers, libbpf
    const deno = files.get("usr/bin/deno")!;
    assert.equal(deno.type, "file");
    assert.equal(deno.mode & 0o111, 0o111);
    assert.equal(deno.size, (await Deno.stat(await Deno.realPath(DENO))).size);
    assert.deepEqual(
      files.get("app/mod.ts")!.data,
      await Deno.readFile(`${ROOT}/mod.ts`),
    );
    const graph = await moduleGraph();
    const appFiles = [...files.values()].filter((e) =>
      e.type === "file" && e.path.startsWith("app/") &&
      !e.path.startsWith("app/build/")
    ).map((e) => e.path.slice(4));
    assert.deepEqual(appFiles.sort(), [...graph].sort());
    // every module started by URL (spawn's child, the Worker) is there
    for (const e of files.values()) {
      if (!e.path.endsWith(".ts") || !e.data) continue;
      for (
        const m of dec.decode(e.data).matchAll(
          /new URL\("(\.\.?\/[^"]+\.ts)", import\.meta\.url\)/g,
        )
      ) {
        const target = new URL(m[1], `file:///${e.path}`).pathname.slice(1);
        assert.ok(files.has(target), `${e.path} starts ${m[1]}: missing`);
      }
    }
    for (const so of ["libwasm_bpf_fast.so", "libwasm_bpf_watchdog.so"]) {
      assert.equal(files.get(`app/build/native/${so}`)?.type, "file", so);
    }
    const libbpf = files.get("usr/lib/x86_64-linux-gnu/libbpf.so.1")!;
    assert.equal(libbpf.type, "symlink");
    assert.match(libbpf.target!, /^libbpf\.so\.1\.([4-9]|\d\d)\.\d+$/);
    assert.equal(
      files.get(`usr/lib/x86_64-linux-gnu/${libbpf.target}`)?.type,
      "file",
    );
    // DENO_DIR holds the transpiled modules of /app: no compiling at start
    assert.ok(files.has("deno-dir/gen/file/app/mod.ts.js"));
    assert.ok(files.has("deno-dir/gen/file/app/host/child.ts.js"));

    // exactly the libraries they link: the loader inside the image resolves
    // every one of them, and every library there is needed by something
    const rootfs = `${TEMP}/rootfs`;
    await Deno.mkdir(rootfs);
    for (const layer of image.layers) {
      for (const e of layer) {
        const p = `${rootfs}/${e.path}`;
        if (e.type === "dir") await Deno.mkdir(p, { recursive: true });
        else if (e.type === "symlink") await Deno.symlink(e.target!, p);
        else if (e.type === "file") {
          await Deno.writeFile(p, e.data!, { mode: e.mode });
        }
      }
    }
    const needed = new Set<string>();
    for (
      const bin of [
        "/usr/bin/deno",
        "/usr/lib/x86_64-linux-gnu/libbpf.so.1",
        "/app/build/native/libwasm_bpf_fast.so",
        "/app/build/native/libwasm_bpf_watchdog.so",
      ]
    ) {
      const r = await sh("/usr/sbin/chroot", [
        rootfs,
        "/lib64/ld-linux-x86-64.so.2",
        "--list",
        bin,
      ]);
      assert.equal(r.code, 0, `${bin}: ${r.stderr}`);
      assert.doesNotMatch(r.stdout, /not found/, `${bin}:\n${r.stdout}`);
      for (const m of r.stdout.matchAll(/=> (\/\S+)/g)) {
        needed.add(Deno.realPathSync(`${rootfs}${m[1]}`).slice(rootfs.length));
      }
    }
    needed.add(
      Deno.realPathSync(`${rootfs}/usr/lib/x86_64-linux-gnu/libbpf.so.1`)
        .slice(rootfs.length),
    );
    needed.add("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2");
    const libs = [...files.values()].filter((e) =>
      e.type === "file" && e.path.startsWith("usr/lib/")
    ).map((e) => `/${e.path}`);
    assert.deepEqual(libs.sort(), [...needed].sort());
    for (const lib of ["libc.so.6", "libelf", "libz.so"]) {
      assert.ok(libs.some((l) => l.includes(lib)), lib);
    }

    const mib = (n: number) => (n / 2 ** 20).toFixed(1);
    console.log(
      `image: ${files.size} entries, ${libs.length} shared libraries, ${
        mib(image.compressed)
      } MiB compressed, ${mib(image.unpacked)} MiB unpacked; built in ${
        BUILT.seconds.toFixed(1)
      } s`,
    );
    // Deno's binary is most of it; a stray package would show
    assert.ok(image.unpacked < 160 * 2 ** 20, `${mib(image.unpacked)} MiB`);
  },
});

Deno.test({
  name:
    "image: the same inputs give the same image (digest), built again from scratch",
  ignore: !!SKIP,
  async fn() {
    assert.ok(BUILT);
    // a second build of the same inputs, not taken from the cache
    const first = await imageSh([]);
    assert.equal(first.code, 0, first.stderr);
    const copy = `${TEMP}/again`;
    const out = await imageSh(["--rebuild", "-o", copy]);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stderr, /built in/);
    const a = JSON.parse(
      await Deno.readTextFile(`${first.stdout.trim()}/index.json`),
    );
    const b = JSON.parse(await Deno.readTextFile(`${copy}/index.json`));
    assert.equal(a.manifests[0].digest, b.manifests[0].digest);
    // -o refuses to empty a directory that is not an image layout
    const other = `${TEMP}/not-a-layout`;
    await Deno.mkdir(other);
    await Deno.writeTextFile(`${other}/keep.txt`, "mine");
    const refused = await imageSh(["-o", other]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /not an OCI image layout/);
    assert.equal(await Deno.readTextFile(`${other}/keep.txt`), "mine");
  },
});

/**
 * A seccomp profile: podman's default, with bpf() and perf_event_open()
 * allowed for CAP_BPF and CAP_PERFMON instead of only CAP_SYS_ADMIN (the
 * rule containerd's and Docker's default profiles have), or with `open`
 * for everyone (then only the kernel's capability checks stand).
 */
async function seccompProfile(open = false): Promise<string> {
  const profile = JSON.parse(
    await Deno.readTextFile("/usr/share/containers/seccomp.json"),
  );
  const gated = ["bpf", "perf_event_open"];
  for (const s of profile.syscalls) {
    if (s.action === "SCMP_ACT_ERRNO") {
      s.names = s.names.filter((n: string) => !gated.includes(n));
    }
  }
  profile.syscalls.push(
    {
      names: ["bpf"],
      action: "SCMP_ACT_ALLOW",
      ...(open ? {} : { includes: { caps: ["CAP_BPF"] } }),
    },
    {
      names: ["perf_event_open"],
      action: "SCMP_ACT_ALLOW",
      ...(open ? {} : { includes: { caps: ["CAP_PERFMON"] } }),
    },
  );
  const file = `${TEMP}/seccomp${open ? "-open" : ""}.json`;
  await Deno.writeTextFile(file, JSON.stringify(profile));
  return file;
}

/**
 * Runs the image with podman as the DaemonSet does (read-only root, every
 * capability dropped but `caps`, the host's PID namespace, BTF and tracefs
 * mounted read-only), `contain events <this pid>` pulled from `ref`; starts
 * a process once the guest is ready and says whether the guest traced it.
 */
async function traceInPodman(
  podman: Podman,
  image: string,
  ref: string,
  caps: string[],
  seccomp: string,
  metricsPort?: number,
): Promise<{ traced: boolean; ready: boolean; out: string; metrics: string }> {
  const child = new Deno.Command("podman", {
    args: [
      ...podman.args,
      "run",
      "--rm",
      ...podman.runArgs,
      "--network",
      "host",
      "--pid",
      "host",
      "--read-only",
      "--tmpfs",
      "/var/cache",
      "--cap-drop",
      "ALL",
      ...(caps.length ? ["--cap-add", caps.join(",")] : []),
      "--security-opt",
      `seccomp=${seccomp}`,
      "-v",
      "/sys/kernel/btf:/sys/kernel/btf:ro",
      "-v",
      "/sys/kernel/tracing:/sys/kernel/tracing:ro",
      image,
      "--timeout",
      "30",
      ...(metricsPort ? ["--metrics", `127.0.0.1:${metricsPort}`] : []),
      ref,
      "events",
      String(Deno.pid),
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const marker = `img${Math.random().toString(36).slice(2, 8)}`;
  let out = "";
  let ready = false;
  let traced = false;
  let metrics = "";
  for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
    out += chunk;
    if (!ready && /^ready$/m.test(out)) {
      ready = true;
      await Deno.symlink("/bin/true", `/tmp/${marker}`);
      await new Deno.Command(`/tmp/${marker}`).output();
      await Deno.remove(`/tmp/${marker}`);
    }
    if (
      !traced && ready &&
      new RegExp(`^EXEC pid=\\d+ comm=${marker}$`, "m").test(out)
    ) {
      traced = true;
      if (metricsPort) {
        const http = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
        try {
          const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, {
            client: http,
          });
          metrics = await res.text();
        } catch (e) {
          metrics = `fetch failed: ${(e as Error).message}`;
        } finally {
          http.close();
        }
      }
      child.kill("SIGTERM");
    }
  }
  await child.status;
  return { traced, ready, out: out + (await stderr), metrics };
}

Deno.test({
  name: typeof PODMAN === "string"
    ? `image: podman run (skipped: ${PODMAN})`
    : "image: podman runs the image read-only with CAP_BPF+CAP_PERFMON only; a guest pulled from the registry traces a process, and fails without CAP_BPF",
  ignore: typeof PODMAN === "string",
  async fn() {
    const podman = PODMAN as Podman;
    assert.ok(BUILT);
    await buildGuest("tests/guests/contain");
    await using reg = await startRegistry();
    const image = `${reg.host}/wasm-bpf/host:test`;
    const pushed = await imageSh(["--push", image]);
    assert.equal(pushed.code, 0, pushed.stderr);
    const pull = await sh("podman", [
      ...podman.args,
      "pull",
      "--quiet",
      "--tls-verify=false",
      image,
    ]);
    assert.equal(pull.code, 0, pull.stderr);

    // the app: contain.wasm, pushed with the CLI; the container pulls it
    const app = `${reg.host}/tools/contain:v1`;
    const cacheDir = `${TEMP}/cli-cache`;
    const push = await sh(DENO, [
      "run",
      "-A",
      `${ROOT}/mod.ts`,
      "push",
      `${ROOT}/build/tests/guests/contain/contain.wasm`,
      app,
    ], { XDG_CACHE_HOME: cacheDir, DOCKER_CONFIG: cacheDir });
    assert.equal(push.code, 0, push.stderr);

    // --help starts offline from the pre-filled DENO_DIR on a read-only root
    const t0 = performance.now();
    const help = await sh("podman", [
      ...podman.args,
      "run",
      "--rm",
      ...podman.runArgs,
      "--read-only",
      "--network",
      "none",
      "--cap-drop",
      "ALL",
      image,
      "--help",
    ]);
    const ms = performance.now() - t0;
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /Usage:/);
    assert.equal(help.stderr, "", "deno wrote to stderr (downloading?)");
    console.log(`image: podman run --help: ${ms.toFixed(0)} ms`);

    // --max-memory runs the guest in a process of its own (the entrypoint's
    // --allow-run=/usr/bin/deno, host/child.ts from DENO_DIR), pulled by
    // reference into the writable cache, named by its reference
    const apart = await sh("podman", [
      ...podman.args,
      "run",
      "--rm",
      ...podman.runArgs,
      "--read-only",
      "--tmpfs",
      "/var/cache",
      "--network",
      "host",
      "--cap-drop",
      "ALL",
      image,
      "--max-memory",
      "64",
      "--timeout",
      "1",
      app,
      "sleep",
      "10",
    ]);
    assert.equal(apart.code, 124, apart.stderr);
    assert.match(
      apart.stderr,
      new RegExp(`^wasm-bpf: ${app.replace(/\./g, "\\.")}: .*time limit`, "m"),
    );

    // with --metrics (part of the CLI when its --help says so), as the
    // DaemonSet runs it
    const metricsPort = help.stdout.includes("--metrics HOST:PORT")
      ? freePort("127.0.0.1")
      : undefined;
    if (!metricsPort) console.log("image_test: no --metrics in this CLI yet");
    const run = await traceInPodman(
      podman,
      image,
      app,
      ["BPF", "PERFMON"],
      await seccompProfile(),
      metricsPort,
    );
    assert.ok(run.ready, run.out);
    assert.ok(run.traced, run.out);
    if (metricsPort) {
      assert.match(
        run.metrics,
        /^wasm_bpf_events_delivered_total\{[^}]*\} [1-9]\d*$/m,
        run.metrics,
      );
    }

    // without CAP_BPF the kernel refuses the load (seccomp lets bpf()
    // through here): the capability is what grants it, nothing else in
    // the container does
    const denied = await traceInPodman(
      podman,
      image,
      app,
      ["PERFMON"],
      await seccompProfile(true),
    );
    assert.ok(!denied.ready, denied.out);
    assert.match(denied.out, /operation not permitted \(EPERM\)/);
  },
});

// ---- the DaemonSet -------------------------------------------------------

/** The documents of a YAML file, parsed by the `yaml` package (npm, pinned). */
async function parseYaml(file: string): Promise<Record<string, unknown>[]> {
  // in a process of its own (no config, no lockfile): the project's own
  // modules import nothing from npm
  const r = await sh(DENO, [
    "eval",
    "--no-config",
    "--no-lock",
    "--quiet",
    `import { parseAllDocuments } from "npm:yaml@2.9.1";
     const docs = parseAllDocuments(await Deno.readTextFile(Deno.args[0]));
     for (const d of docs) if (d.errors.length) throw d.errors[0];
     console.log(JSON.stringify(docs.map((d) => d.toJS())));`,
    file,
  ]);
  assert.equal(r.code, 0, `${file}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Host paths a wasm-bpf pod may mount, and whether read-only is required. */
const HOST_PATHS: Record<string, boolean> = {
  "/sys/kernel/btf": true,
  "/sys/kernel/tracing": true,
  "/sys/kernel/debug": true,
  "/sys/fs/bpf": false,
  "/sys/fs/cgroup": true,
  "/sys/fs/cgroup/unified": true,
};

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v ?? {}) as Obj;
const list = (v: unknown): Obj[] => (v ?? []) as Obj[];

/**
 * What is wrong with a DaemonSet for wasm-bpf: privileges beyond `caps`
 * (capability names without CAP_), mounts beyond {@link HOST_PATHS}, missing
 * scrape annotations, limits or the `--metrics` flag. Empty when it is fine.
 */
function daemonSetProblems(ds: Obj, caps: string[]): string[] {
  const bad: string[] = [];
  if (ds.kind !== "DaemonSet") return [`kind is ${ds.kind}`];
  const tpl = obj(obj(ds.spec).template);
  const spec = obj(tpl.spec);
  const ann = obj(obj(tpl.metadata).annotations);
  if (spec.hostPID !== true) bad.push("hostPID is not true");
  if (spec.hostIPC === true) bad.push("hostIPC");
  const wantsNet = caps.includes("NET_ADMIN");
  if ((spec.hostNetwork === true) !== wantsNet) {
    bad.push(`hostNetwork ${spec.hostNetwork} without/with NET_ADMIN`);
  }
  if (ann["prometheus.io/scrape"] !== "true") bad.push("no scrape annotation");
  if (ann["prometheus.io/path"] !== "/metrics") bad.push("scrape path");
  const port = ann["prometheus.io/port"];
  const volumes = new Map(
    list(spec.volumes).map((v) => [v.name as string, v]),
  );
  for (const v of volumes.values()) {
    const hp = v.hostPath ? obj(v.hostPath).path as string : undefined;
    if (hp !== undefined && !(hp in HOST_PATHS)) {
      bad.push(`hostPath ${hp} is not one wasm-bpf needs`);
    }
    if (!v.hostPath && !v.emptyDir) {
      bad.push(`volume ${v.name} is neither hostPath nor emptyDir`);
    }
  }
  const containers = [
    ...list(spec.initContainers),
    ...list(spec.containers),
    ...list(spec.ephemeralContainers),
  ];
  if (!containers.length) bad.push("no containers");
  const mounted = new Set<string>();
  for (const c of containers) {
    const sc = obj(c.securityContext);
    if (sc.privileged !== false) bad.push(`${c.name}: privileged not false`);
    if (sc.allowPrivilegeEscalation !== false) {
      bad.push(`${c.name}: allowPrivilegeEscalation not false`);
    }
    if (sc.readOnlyRootFilesystem !== true) {
      bad.push(`${c.name}: root filesystem not read-only`);
    }
    if (obj(sc.seccompProfile).type === "Unconfined") {
      bad.push(`${c.name}: seccomp Unconfined`);
    }
    if (sc.procMount === "Unmasked") bad.push(`${c.name}: procMount Unmasked`);
    const capsOf = (k: string) =>
      ((obj(sc.capabilities)[k] ?? []) as string[]).map((x) =>
        x.toUpperCase().replace(/^CAP_/, "")
      );
    if (JSON.stringify(capsOf("drop")) !== '["ALL"]') {
      bad.push(`${c.name}: capabilities.drop is not [ALL]`);
    }
    const added = capsOf("add");
    for (const a of added) {
      if (!caps.includes(a)) bad.push(`${c.name}: capability ${a} added`);
    }
    if (!added.includes("BPF")) bad.push(`${c.name}: no CAP_BPF`);
    const limits = obj(obj(c.resources).limits);
    if (!limits.cpu || !limits.memory) {
      bad.push(`${c.name}: no cpu/memory limits`);
    }
    for (const m of list(c.volumeMounts)) {
      const v = volumes.get(m.name as string);
      if (!v) {
        bad.push(`${c.name}: mounts unknown volume ${m.name}`);
        continue;
      }
      if (!v.hostPath) continue;
      const hp = obj(v.hostPath).path as string;
      mounted.add(hp);
      if (HOST_PATHS[hp] && m.readOnly !== true) {
        bad.push(`${c.name}: ${hp} is not mounted read-only`);
      }
      if (m.mountPropagation === "Bidirectional") {
        bad.push(`${c.name}: ${hp} with Bidirectional propagation`);
      }
    }
  }
  for (
    const need of [
      "/sys/kernel/btf",
      "/sys/kernel/tracing",
      "/sys/fs/bpf",
      "/sys/fs/cgroup",
    ]
  ) {
    if (![...mounted].some((p) => p === need || p.startsWith(`${need}/`))) {
      bad.push(`${need} is not mounted`);
    }
  }
  const main = list(spec.containers)[0] ?? {};
  const args = (main.args ?? []) as string[];
  const at = args.indexOf("--metrics");
  const listen = at >= 0 ? args[at + 1] : undefined;
  if (!listen || listen.split(":").pop() !== port) {
    bad.push(`--metrics ${listen} does not serve the annotated port ${port}`);
  }
  if (
    !list(main.ports).some((p) => String(p.containerPort) === port)
  ) bad.push(`port ${port} is not declared`);
  if (!args.some((a) => looksLikeReference(a))) {
    bad.push("no app reference in the args");
  }
  return bad;
}

Deno.test("image: the DaemonSets run wasm-bpf with the least privileges and the mounts it needs", async () => {
  const manifests: [string, string[]][] = [
    ["daemonset.yaml", ["BPF", "PERFMON"]],
    ["daemonset-network.yaml", ["BPF", "PERFMON", "NET_ADMIN"]],
  ];
  for (const [file, caps] of manifests) {
    const docs = await parseYaml(`${ROOT}/examples/kubernetes/${file}`);
    const sets = docs.filter((d) => d.kind === "DaemonSet");
    assert.equal(sets.length, 1, file);
    assert.deepEqual(daemonSetProblems(sets[0], caps), [], file);
    for (const d of docs) {
      assert.ok(["DaemonSet", "Namespace"].includes(d.kind as string), file);
    }
  }
  const [main] = (await parseYaml(
    `${ROOT}/examples/kubernetes/daemonset.yaml`,
  )).filter((d) => d.kind === "DaemonSet");
  const sc = obj(
    list(obj(obj(obj(main.spec).template).spec).containers)[0]
      .securityContext,
  );
  // the tracing DaemonSet adds exactly CAP_BPF and CAP_PERFMON
  assert.deepEqual(obj(sc.capabilities).add, ["BPF", "PERFMON"]);

  // the checker itself: each widening of the manifest is caught
  const widen: [string, (spec: Obj, c: Obj) => void][] = [
    ["privileged", (_s, c) => obj(c.securityContext).privileged = true],
    [
      "SYS_ADMIN",
      (_s, c) =>
        (obj(obj(c.securityContext).capabilities).add as string[]).push(
          "SYS_ADMIN",
        ),
    ],
    [
      "CAP_NET_ADMIN",
      (_s, c) =>
        (obj(obj(c.securityContext).capabilities).add as string[]).push(
          "CAP_NET_ADMIN",
        ),
    ],
    [
      "drop nothing",
      (_s, c) => obj(obj(c.securityContext).capabilities).drop = [],
    ],
    [
      "writable root",
      (_s, c) => obj(c.securityContext).readOnlyRootFilesystem = false,
    ],
    [
      "escalation",
      (_s, c) => delete obj(c.securityContext).allowPrivilegeEscalation,
    ],
    [
      "host /",
      (s) =>
        (s.volumes as Obj[]).push({ name: "root", hostPath: { path: "/" } }),
    ],
    ["docker socket", (s) =>
      (s.volumes as Obj[]).push({
        name: "sock",
        hostPath: { path: "/var/run/containerd/containerd.sock" },
      })],
    [
      "btf writable",
      (_s, c) =>
        (c.volumeMounts as Obj[]).find((m) => m.name === "btf")!.readOnly =
          false,
    ],
    ["no hostPID", (s) => s.hostPID = false],
    ["hostNetwork", (s) => s.hostNetwork = true],
    ["no limits", (_s, c) => delete obj(c.resources).limits],
    [
      "unconfined",
      (_s, c) => obj(c.securityContext).seccompProfile = { type: "Unconfined" },
    ],
    ["privileged sidecar", (s, c) =>
      (s.containers as Obj[]).push({
        ...structuredClone(c),
        name: "side",
        securityContext: { privileged: true },
      })],
    ["hostIPC", (s) => s.hostIPC = true],
    [
      "no scrape annotation",
      () =>
        delete obj(obj(obj(obj(copyOf.spec).template).metadata).annotations)[
          "prometheus.io/scrape"
        ],
    ],
  ];
  let copyOf: Obj = main;
  for (const [what, change] of widen) {
    const copy = structuredClone(main);
    copyOf = copy;
    const spec = obj(obj(obj(copy.spec).template).spec);
    change(spec, list(spec.containers)[0]);
    assert.notDeepEqual(
      daemonSetProblems(copy, ["BPF", "PERFMON"]),
      [],
      `the checker missed: ${what}`,
    );
  }
});
