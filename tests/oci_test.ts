// Distribution through an OCI registry, against the real thing: Debian's
// docker-registry (distribution 2.8) started here on a free port (without
// auth and with htpasswd basic auth), skopeo as a second client, and the
// CLI's push, pull and run by reference tracing a real process.
import assert from "node:assert/strict";
import { ContentError, MediaType, pull, push } from "../host/oci/mod.ts";
import { sha256 } from "../host/oci/cache.ts";
import { writeTar } from "../host/oci/tar.ts";
import { run, spawn } from "../host/spawn.ts";
import { buildGuest, ROOT } from "./util.ts";
import {
  freePort,
  type Registry,
  REGISTRY_BIN,
  startRegistry,
} from "./registry_util.ts";

function missingTools(): string | undefined {
  for (const bin of [REGISTRY_BIN, "/usr/bin/htpasswd", "/usr/bin/skopeo"]) {
    try {
      Deno.statSync(bin);
    } catch {
      return `${bin} is not installed (scripts/setup-oci.sh installs docker-registry, apache2-utils, skopeo)`;
    }
  }
  return undefined;
}
const SKIP = missingTools();
if (SKIP) console.log(`oci_test: skipped: ${SKIP}`);

// Deno's own cache follows XDG_CACHE_HOME: keep it where it is while each
// test gives wasm-bpf a cache of its own
const DENO_DIR = Deno.env.get("DENO_DIR") ??
  `${Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME")}/.cache`}/deno`;

let guestWasm: Promise<Uint8Array> | undefined;
/** contain.wasm (`events PPID` prints `ready`, then `EXEC pid=... comm=...`). */
function contain(): Promise<Uint8Array> {
  return guestWasm ??= buildGuest("tests/guests/contain").then((dir) =>
    Deno.readFile(`${dir}/contain.wasm`)
  );
}

// every cache and docker config of this file, removed when it ends
const TEMP = Deno.makeTempDirSync({ prefix: "wasm-bpf-oci-test-" });
// this file's own requests keep no idle connection (the library's close theirs)
const HTTP = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
globalThis.addEventListener("unload", () => {
  Deno.removeSync(TEMP, { recursive: true });
  HTTP.close();
});

/** A temporary wasm-bpf cache and docker config, as the CLI's environment. */
async function env(): Promise<Record<string, string>> {
  return {
    XDG_CACHE_HOME: await Deno.makeTempDir({ dir: TEMP, prefix: "cache-" }),
    DOCKER_CONFIG: await Deno.makeTempDir({ dir: TEMP, prefix: "docker-" }),
    DENO_DIR,
  };
}

/** Sets the environment of this process for a library call. */
async function withEnv<T>(
  vars: Record<string, string>,
  f: () => Promise<T>,
): Promise<T> {
  const old = Object.fromEntries(
    Object.keys(vars).map((k) => [k, Deno.env.get(k)]),
  );
  for (const [k, v] of Object.entries(vars)) Deno.env.set(k, v);
  try {
    return await f();
  } finally {
    for (const [k, v] of Object.entries(old)) {
      if (v === undefined) Deno.env.delete(k);
      else Deno.env.set(k, v);
    }
  }
}

interface Done {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to its end (stdin: `input`, or nothing). */
async function cli(
  args: string[],
  vars: Record<string, string>,
  input?: string,
): Promise<Done> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}/mod.ts`, ...args],
    env: vars,
    stdin: input === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (input !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(input));
    await w.close();
  }
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const out = await child.output();
  clearTimeout(timer);
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

/**
 * Runs `contain events <this pid>` from `ref` through the CLI, starts a
 * process once the guest says `ready`, and returns whether the guest
 * traced it (and everything it printed).
 */
async function traceRun(
  ref: string,
  vars: Record<string, string>,
  extra: string[] = [],
  input?: string,
): Promise<Done & { traced: boolean; ready: boolean }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `${ROOT}/mod.ts`,
      "--timeout",
      "20",
      ...extra,
      ref,
      "events",
      String(Deno.pid),
    ],
    env: vars,
    stdin: input === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (input !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(input));
    await w.close();
  }
  const stderr = new Response(child.stderr).text();
  let stdout = "";
  let ready = false;
  let traced = false;
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const marker = `oci${Math.random().toString(36).slice(2, 8)}`;
  let started = false;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    stdout += value;
    if (!ready && /^ready$/m.test(stdout)) {
      ready = true;
      // a process of this one's: its exec is what the guest reports
      await Deno.symlink("/bin/true", `/tmp/${marker}`);
      await new Deno.Command(`/tmp/${marker}`).output();
      await Deno.remove(`/tmp/${marker}`);
      started = true;
    }
    if (
      started && new RegExp(`^EXEC pid=\\d+ comm=${marker}$`, "m").test(stdout)
    ) {
      traced = true;
      child.kill("SIGTERM");
    }
  }
  const status = await child.status;
  return { code: status.code, stdout, stderr: await stderr, traced, ready };
}

function oneLine(s: string): string {
  const lines = s.trim().split("\n");
  assert.equal(lines.length, 1, `expected one line, got:\n${s}`);
  return lines[0];
}

/** Writes a blob with fetch (monolithic upload), as another tool would. */
async function putBlob(host: string, repo: string, bytes: Uint8Array) {
  const digest = await sha256(bytes);
  const start = await fetch(`http://${host}/v2/${repo}/blobs/uploads/`, {
    client: HTTP,
    method: "POST",
  });
  await start.body?.cancel();
  assert.equal(start.status, 202);
  const url = new URL(start.headers.get("location")!, `http://${host}`);
  url.searchParams.set("digest", digest);
  const put = await fetch(url, {
    client: HTTP,
    method: "PUT",
    headers: { "content-type": "application/octet-stream" },
    body: bytes as BodyInit,
  });
  await put.body?.cancel();
  assert.equal(put.status, 201);
  return { digest, size: bytes.length };
}

async function putManifest(
  host: string,
  repo: string,
  tag: string,
  manifest: unknown,
  mediaType: string = MediaType.MANIFEST,
) {
  const res = await fetch(`http://${host}/v2/${repo}/manifests/${tag}`, {
    client: HTTP,
    method: "PUT",
    headers: { "content-type": mediaType },
    body: JSON.stringify(manifest),
  });
  const text = await res.text();
  assert.equal(res.status, 201, text);
}

/**
 * Pushes contain.wasm to `REGISTRY/tools/contain:v1` with the CLI (no
 * credentials); the reference and the pinned `...@sha256:` one it printed.
 */
async function pushContain(
  reg: Registry,
): Promise<{ ref: string; pinned: string }> {
  const file = `${ROOT}/build/tests/guests/contain/contain.wasm`;
  const ref = `${reg.host}/tools/contain:v1`;
  const pushed = await cli(["push", file, ref], await env());
  assert.equal(pushed.code, 0, pushed.stderr);
  return { ref, pinned: oneLine(pushed.stdout) };
}

Deno.test({
  name:
    "oci: push then pull gives the same bytes and digest; skopeo reads what push wrote",
  ignore: !!SKIP,
  async fn() {
    const wasm = await contain();
    await using reg = await startRegistry();
    const { ref, pinned } = await pushContain(reg);
    assert.match(
      pinned,
      new RegExp(`^${reg.host}/tools/contain@sha256:[a-f0-9]{64}$`),
    );
    const digest = pinned.split("@")[1];

    // the library, from a fresh cache: by tag and by digest
    const vars = await env();
    const byTag = await withEnv(vars, () => pull(ref));
    assert.deepEqual(byTag.bytes, wasm);
    assert.equal(byTag.digest, digest);
    assert.equal(byTag.mediaType, MediaType.WASM);
    assert.equal(byTag.fromCache, false);
    const byDigest = await withEnv(vars, () => pull(pinned));
    assert.deepEqual(byDigest.bytes, wasm);
    assert.equal(byDigest.fromCache, true);
    // no connection outlives a pull (an embedder's process keeps no idle
    // socket to the registry)
    const sockets = () =>
      [...Deno.readDirSync("/proc/self/fd")].filter((e) => {
        try {
          return Deno.readLinkSync(`/proc/self/fd/${e.name}`)
            .startsWith("socket:");
        } catch {
          return false;
        }
      }).length;
    const before = sockets();
    await withEnv(await env(), () => pull(ref));
    // closing completes a moment after the pull: give it up to a second
    let after = sockets();
    for (let i = 0; i < 20 && after !== before; i++) {
      await new Promise((r) => setTimeout(r, 50));
      after = sockets();
    }
    assert.equal(after, before, "a socket to the registry outlived the pull");

    // the CLI's pull -o
    const out = `${vars.XDG_CACHE_HOME}/pulled.wasm`;
    const pulled = await cli(["pull", ref, "-o", out], await env());
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.equal(oneLine(pulled.stdout), `${digest} ${out}`);
    assert.deepEqual(await Deno.readFile(out), wasm);

    // skopeo: the manifest it reads has the digest push printed, and the
    // CNCF Wasm artifact media types
    const skopeo = async (...args: string[]) => {
      const o = await new Deno.Command("skopeo", {
        args: ["inspect", "--tls-verify=false", ...args, `docker://${ref}`],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(o.success, new TextDecoder().decode(o.stderr));
      return o.stdout;
    };
    const raw = await skopeo("--raw");
    assert.equal(await sha256(raw), digest);
    const manifest = JSON.parse(new TextDecoder().decode(raw));
    assert.equal(manifest.mediaType, MediaType.MANIFEST);
    assert.equal(
      manifest.config.mediaType,
      "application/vnd.wasm.config.v0+json",
    );
    assert.deepEqual(
      manifest.layers.map((l: { mediaType: string }) => l.mediaType),
      [
        "application/wasm",
      ],
    );
    assert.equal(manifest.layers[0].digest, await sha256(wasm));
    const config = JSON.parse(
      new TextDecoder().decode(await skopeo("--config", "--raw")),
    );
    assert.equal(config.architecture, "wasm");
    assert.equal(config.os, "wasip1");

    // a bare BPF object: its own media type, the same bytes back
    const obj = await Deno.readFile(
      `${ROOT}/build/tests/guests/contain/contain.bpf.o`,
    );
    const objRef = `${reg.host}/tools/contain-object:v1`;
    const p2 = await withEnv(await env(), () => push(obj, objRef));
    assert.equal(p2.mediaType, MediaType.BPF_OBJECT);
    const back = await withEnv(await env(), () => pull(objRef));
    assert.deepEqual(back.bytes, obj);
    assert.equal(back.kind, "bpf-object");
    assert.equal(back.digest, p2.digest);
  },
});

Deno.test({
  name:
    "oci: run by tag and by digest traces a process; the audit log has the digest; the cache runs it with the registry stopped",
  ignore: !!SKIP,
  async fn() {
    await contain();
    await using reg = await startRegistry();
    const { ref, pinned } = await pushContain(reg);
    const digest = pinned.split("@")[1];

    const vars = await env();
    const audit = `${vars.XDG_CACHE_HOME}/audit.jsonl`;
    const byTag = await traceRun(ref, vars, [`--audit=${audit}`]);
    assert.ok(
      byTag.traced,
      `not traced by tag: ${byTag.stdout}${byTag.stderr}`,
    );
    const records = (await Deno.readTextFile(audit)).trim().split("\n").map((
      l,
    ) => JSON.parse(l));
    const image = records.find((r) => r.event === "image");
    assert.equal(image?.ref, ref);
    assert.equal(image?.digest, digest);
    assert.ok(records.some((r) => r.event === "load"));

    const byDigest = await traceRun(pinned, await env());
    assert.ok(byDigest.traced, `not traced by digest: ${byDigest.stderr}`);

    // registry gone: the first cache still runs the tag and the digest
    await reg.stop();
    const offline = await traceRun(ref, vars);
    assert.ok(offline.traced, `not traced offline: ${offline.stderr}`);
    const offlinePinned = await traceRun(pinned, vars);
    assert.ok(
      offlinePinned.traced,
      `not traced offline: ${offlinePinned.stderr}`,
    );
    // and a fresh cache cannot: one line saying the registry is unreachable
    const fresh = await traceRun(ref, await env());
    assert.ok(!fresh.ready);
    assert.match(oneLine(fresh.stderr), /cannot be reached/);
  },
});

Deno.test({
  name:
    "oci: a blob tampered with in the registry's storage is refused and nothing runs",
  ignore: !!SKIP,
  async fn() {
    const wasm = await contain();
    await using reg = await startRegistry();
    const { ref } = await pushContain(reg);
    // change the guest's "ready" to "READY": still a valid module, which
    // would run and say so if the digest were not checked
    const hex = (await sha256(wasm)).slice(7);
    const blobFile = `${reg.storage}/docker/registry/v2/blobs/sha256/${
      hex.slice(0, 2)
    }/${hex}/data`;
    const stored = await Deno.readFile(blobFile);
    const text = new TextDecoder("latin1").decode(stored);
    const at = text.indexOf("ready\0");
    assert.equal(text.indexOf("ready\0", at + 1), -1);
    assert.ok(at > 0, "no 'ready' string in contain.wasm");
    stored.set(new TextEncoder().encode("READY"), at);
    await Deno.writeFile(blobFile, stored);

    const vars = await env();
    const audit = `${vars.XDG_CACHE_HOME}/audit.jsonl`;
    const run = await traceRun(ref, vars, [`--audit=${audit}`]);
    assert.ok(!run.ready && !/READY/i.test(run.stdout), run.stdout);
    assert.equal(run.code, 125);
    assert.match(oneLine(run.stderr), /does not match its digest/);
    const log = await Deno.readTextFile(audit).catch(() => "");
    assert.ok(!/"event":"(load|image)"/.test(log), log);
    await assert.rejects(withEnv(await env(), () => pull(ref)), ContentError);
  },
});

Deno.test({
  name:
    "oci: basic auth: credentials from --password-stdin or ~/.docker/config.json; wrong ones and a missing tag give one line",
  ignore: !!SKIP,
  async fn() {
    await contain();
    await using reg = await startRegistry({ alice: "s3cret" });
    const file = `${ROOT}/build/tests/guests/contain/contain.wasm`;
    const ref = `${reg.host}/tools/contain:v1`;
    const login = ["--username", "alice", "--password-stdin"];

    const anon = await cli(["push", file, ref], await env());
    assert.equal(anon.code, 1);
    assert.match(oneLine(anon.stderr), /needs credentials/);

    const pushed = await cli(
      ["push", ...login, file, ref],
      await env(),
      "s3cret\n",
    );
    assert.equal(pushed.code, 0, pushed.stderr);

    const wrong = await cli(["pull", ...login, ref], await env(), "guess\n");
    assert.equal(wrong.code, 1);
    assert.match(
      oneLine(wrong.stderr),
      /refused the credentials of user 'alice'/,
    );

    // a run with wrong credentials does not start the guest
    const wrongRun = await cli(
      ["--timeout", "5", ...login, ref, "exit", "0"],
      await env(),
      "guess\n",
    );
    assert.equal(wrongRun.code, 125);
    assert.match(oneLine(wrongRun.stderr), /refused the credentials/);

    // docker login's file
    const vars = await env();
    await Deno.writeTextFile(
      `${vars.DOCKER_CONFIG}/config.json`,
      JSON.stringify({ auths: { [reg.host]: { auth: btoa("alice:s3cret") } } }),
    );
    const run = await traceRun(ref, vars);
    assert.ok(run.traced, run.stderr);

    const missing = await cli(["pull", `${reg.host}/tools/contain:nope`], vars);
    assert.equal(missing.code, 1);
    assert.match(oneLine(missing.stderr), /tag 'nope' not found/);
    const missingRun = await cli(
      [`${reg.host}/tools/absent:v1`, "exit", "0"],
      vars,
    );
    assert.equal(missingRun.code, 125);
    assert.match(oneLine(missingRun.stderr), /not found/);
  },
});

Deno.test({
  name:
    "oci: the wasm-to-oci layout and a tar+gzip layer, written by hand, pull and run",
  ignore: !!SKIP,
  async fn() {
    const wasm = await contain();
    await using reg = await startRegistry();
    // wasm-to-oci: its config and layer media types
    const cfg1 = await putBlob(
      reg.host,
      "legacy/contain",
      new TextEncoder().encode("{}"),
    );
    const layer1 = await putBlob(reg.host, "legacy/contain", wasm);
    await putManifest(reg.host, "legacy/contain", "v1", {
      schemaVersion: 2,
      config: { mediaType: MediaType.WASM_TO_OCI_CONFIG, ...cfg1 },
      layers: [{ mediaType: MediaType.WASM_TO_OCI, ...layer1 }],
    });
    // one tar+gzip layer holding one .wasm (and a README)
    const tar = writeTar([
      { name: "README", data: new TextEncoder().encode("contain\n") },
      { name: "app/contain.wasm", data: wasm },
    ]);
    const gz = new Uint8Array(
      await new Response(
        new Blob([tar as BlobPart]).stream().pipeThrough(
          new CompressionStream("gzip"),
        ),
      ).arrayBuffer(),
    );
    const cfg2 = await putBlob(
      reg.host,
      "tgz/contain",
      new TextEncoder().encode(
        JSON.stringify({ architecture: "wasm", os: "wasip1" }),
      ),
    );
    const layer2 = await putBlob(reg.host, "tgz/contain", gz);
    await putManifest(reg.host, "tgz/contain", "v1", {
      schemaVersion: 2,
      mediaType: MediaType.MANIFEST,
      config: {
        mediaType: "application/vnd.oci.image.config.v1+json",
        ...cfg2,
      },
      layers: [{ mediaType: MediaType.TAR_GZIP, ...layer2 }],
    });

    for (const repo of ["legacy/contain", "tgz/contain"]) {
      const ref = `${reg.host}/${repo}:v1`;
      const vars = await env();
      const got = await withEnv(vars, () => pull(ref));
      assert.deepEqual(got.bytes, wasm, repo);
      const run = await traceRun(ref, vars);
      assert.ok(run.traced, `${repo}: ${run.stderr}`);
    }
  },
});

Deno.test({
  name: "oci: allowImages and --require-digest decide which references run",
  ignore: !!SKIP,
  async fn() {
    await contain();
    await using reg = await startRegistry();
    const { ref, pinned } = await pushContain(reg);
    const vars = await env();
    const policy = `${vars.XDG_CACHE_HOME}/policy.json`;

    // only another repository: refused, nothing runs
    await Deno.writeTextFile(
      policy,
      JSON.stringify({ allowImages: [`${reg.host}/other/*`] }),
    );
    const denied = await traceRun(ref, vars, ["--policy", policy]);
    assert.ok(!denied.ready, denied.stdout);
    assert.equal(denied.code, 125);
    assert.match(oneLine(denied.stderr), /allowImages does not allow/);

    // digests only, by pattern: the tag is refused, the digest runs
    await Deno.writeTextFile(
      policy,
      JSON.stringify({ allowImages: [`${reg.host}/tools/*@sha256:*`] }),
    );
    const tagged = await traceRun(ref, vars, ["--policy", policy]);
    assert.ok(!tagged.ready);
    const digested = await traceRun(pinned, vars, ["--policy", policy]);
    assert.ok(digested.traced, digested.stderr);

    // --require-digest
    const req = await traceRun(ref, vars, ["--require-digest"]);
    assert.ok(!req.ready);
    assert.match(oneLine(req.stderr), /--require-digest/);
    const reqPinned = await traceRun(pinned, vars, ["--require-digest"]);
    assert.ok(reqPinned.traced, reqPinned.stderr);
  },
});

Deno.test({
  name:
    "oci: run() from the library takes a reference (audit gets the digest, allowImages holds)",
  ignore: !!SKIP,
  async fn() {
    const wasm = await contain();
    await using reg = await startRegistry();
    const ref = `${reg.host}/tools/contain:v1`;
    const vars = await env();
    const pushed = await withEnv(vars, () => push(wasm, ref));
    const records: Record<string, unknown>[] = [];
    const status = await withEnv(
      await env(),
      () => run(ref, { args: ["exit", "7"], audit: (r) => records.push(r) }),
    );
    assert.equal(status.guestCode, 7, status.message);
    const image = records.find((r) => r.event === "image");
    assert.equal(image?.digest, pushed.digest);
    const denied = await withEnv(
      await env(),
      () =>
        run(ref, {
          args: ["exit", "7"],
          policy: { allowImages: [`${reg.host}/other/*`] },
        }),
    );
    assert.equal(denied.kind, "failed");
    assert.equal(denied.guestCode, undefined);
    assert.match(denied.message!, /allowImages/);
  },
});

Deno.test({
  name: "oci: plain HTTP only to localhost/127.0.0.1 unless --insecure",
  ignore: !!SKIP,
  async fn() {
    await contain();
    // 127.0.0.2 is this machine too, but not a name plain HTTP is assumed for
    let reg: Registry;
    try {
      reg = await startRegistry(undefined, "127.0.0.2");
    } catch (e) {
      console.log(
        `oci_test: skipped the --insecure test: 127.0.0.2 (${
          (e as Error).message
        })`,
      );
      return;
    }
    await using _ = reg;
    const file = `${ROOT}/build/tests/guests/contain/contain.wasm`;
    const ref = `${reg.host}/tools/contain:v1`;
    const plain = await cli(["push", file, ref], await env());
    assert.equal(plain.code, 1);
    assert.match(oneLine(plain.stderr), /needs --insecure/);
    // nothing reached the registry over plain HTTP
    const tags = await fetch(`http://${reg.host}/v2/tools/contain/tags/list`, {
      client: HTTP,
    });
    assert.equal(tags.status, 404);
    await tags.body?.cancel();
    const insecure = await cli(["push", "--insecure", file, ref], await env());
    assert.equal(insecure.code, 0, insecure.stderr);
    const vars = await env();
    const runPlain = await traceRun(ref, vars);
    assert.ok(!runPlain.ready);
    assert.match(oneLine(runPlain.stderr), /needs --insecure/);
    const runInsecure = await traceRun(ref, vars, ["--insecure"]);
    assert.ok(runInsecure.traced, runInsecure.stderr);
  },
});

function b64url(bytes: Uint8Array | string): string {
  const b = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
  return btoa(String.fromCharCode(...b)).replace(/\+/g, "-").replace(/\//g, "_")
    .replace(/=+$/, "");
}

/**
 * A token service for docker-registry's `auth: token`: Basic credentials
 * in, an ES256 JWT (x5c: a self-signed certificate the registry trusts)
 * granting the scopes asked for out.
 */
function startTokenService(users: Record<string, string>) {
  const port = freePort("127.0.0.1");
  const requests: string[] = [];
  let key: CryptoKey | undefined;
  let certDer = "";
  const service = "wasm-bpf-test";
  const issuer = "wasm-bpf-test-issuer";
  const server = Deno.serve(
    { hostname: "127.0.0.1", port, onListen() {} },
    async (req) => {
      const url = new URL(req.url);
      requests.push(url.search);
      const h = req.headers.get("authorization") ?? "";
      const [user, pass] = h.startsWith("Basic ")
        ? atob(h.slice(6)).split(":")
        : [];
      if (!user || users[user] !== pass) {
        return new Response("{}", { status: 401 });
      }
      const access = url.searchParams.getAll("scope").map((sc) => {
        const [type, name, actions] = sc.split(":");
        return { type, name, actions: actions.split(",") };
      });
      const now = Math.floor(Date.now() / 1000);
      const head = b64url(
        JSON.stringify({ typ: "JWT", alg: "ES256", x5c: [certDer] }),
      );
      const claims = b64url(JSON.stringify({
        iss: issuer,
        sub: user,
        aud: service,
        exp: now + 300,
        nbf: now - 10,
        iat: now,
        jti: crypto.randomUUID(),
        access,
      }));
      const sig = new Uint8Array(
        await crypto.subtle.sign(
          { name: "ECDSA", hash: "SHA-256" },
          key!,
          new TextEncoder().encode(`${head}.${claims}`),
        ),
      );
      return Response.json({ token: `${head}.${claims}.${b64url(sig)}` });
    },
  );
  return {
    requests,
    server,
    /** The registry's `auth:` section, after making the key and certificate in `dir`. */
    async config(dir: string): Promise<string> {
      const o = await new Deno.Command("openssl", {
        args: [
          "req",
          "-x509",
          "-newkey",
          "ec",
          "-pkeyopt",
          "ec_paramgen_curve:prime256v1",
          "-nodes",
          "-keyout",
          `${dir}/token.key`,
          "-out",
          `${dir}/token.crt`,
          "-days",
          "1",
          "-subj",
          "/CN=wasm-bpf-test-token",
        ],
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.ok(o.success, new TextDecoder().decode(o.stderr));
      const pem = (f: string) =>
        Uint8Array.from(
          atob(Deno.readTextFileSync(f).replace(/-----[^-]+-----|\s/g, "")),
          (c) => c.charCodeAt(0),
        );
      certDer = btoa(String.fromCharCode(...pem(`${dir}/token.crt`)));
      key = await crypto.subtle.importKey(
        "pkcs8",
        pem(`${dir}/token.key`),
        { name: "ECDSA", namedCurve: "P-256" },
        false,
        ["sign"],
      );
      return `auth:\n  token:\n    realm: http://127.0.0.1:${port}/token\n` +
        `    service: ${service}\n    issuer: ${issuer}\n` +
        `    rootcertbundle: ${dir}/token.crt\n`;
    },
  };
}

Deno.test({
  name: "oci: the Bearer token flow (WWW-Authenticate realm, service, scope)",
  ignore: !!SKIP,
  async fn() {
    await contain();
    const tokens = startTokenService({ bob: "hunter2" });
    try {
      await using reg = await startRegistry(
        undefined,
        "127.0.0.1",
        tokens.config,
      );
      const file = `${ROOT}/build/tests/guests/contain/contain.wasm`;
      const ref = `${reg.host}/tools/contain:v1`;
      const login = ["--username", "bob", "--password-stdin"];
      const pushed = await cli(
        ["push", ...login, file, ref],
        await env(),
        "hunter2\n",
      );
      assert.equal(pushed.code, 0, pushed.stderr);
      // the token service was asked, with the registry's service and scope
      assert.ok(
        tokens.requests.some((q) =>
          q.includes("service=wasm-bpf-test") &&
          // the registry lists the actions in either order
          /scope=repository%3Atools%2Fcontain%3A(pull%2Cpush|push%2Cpull)/
            .test(q)
        ),
        tokens.requests.join("\n") + pushed.stdout + pushed.stderr,
      );
      const vars = await env();
      const run = await traceRun(ref, vars, login.concat([]), "hunter2\n");
      assert.ok(run.traced, run.stderr);
      const wrong = await cli(["pull", ...login, ref], await env(), "nope\n");
      assert.equal(wrong.code, 1);
      assert.match(
        oneLine(wrong.stderr),
        /refused the credentials of user 'bob'/,
      );
      const anon = await cli(["pull", ref], await env());
      assert.equal(anon.code, 1);
      assert.match(oneLine(anon.stderr), /needs credentials/);
    } finally {
      await tokens.server.shutdown();
    }
  },
});

Deno.test({
  name: "oci: a bare BPF object pushed and run by reference traces a process",
  ignore: !!SKIP,
  async fn() {
    const dir = await buildGuest("examples/bootstrap");
    await using reg = await startRegistry();
    const ref = `${reg.host}/tools/bootstrap-object:v1`;
    const pushed = await cli(
      ["push", `${dir}/bootstrap.bpf.o`, ref],
      await env(),
    );
    assert.equal(pushed.code, 0, pushed.stderr);
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${ROOT}/mod.ts`, "--timeout", "20", ref, "--json"],
      env: await env(),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(child.stderr).text();
    const marker = `oci${Math.random().toString(36).slice(2, 8)}`;
    await Deno.symlink("/bin/true", `/tmp/${marker}`);
    // exec the marker until the object reports it (it starts loading first)
    let seen = false;
    const execs = (async () => {
      for (let i = 0; i < 100 && !seen; i++) {
        await new Deno.Command(`/tmp/${marker}`).output();
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    let out = "";
    for await (
      const chunk of child.stdout.pipeThrough(new TextDecoderStream())
    ) {
      out += chunk;
      if (
        !seen && out.split("\n").some((l) => l.includes(`"comm":"${marker}"`))
      ) {
        seen = true;
        child.kill("SIGTERM");
      }
    }
    await child.status;
    await execs;
    await Deno.remove(`/tmp/${marker}`);
    assert.ok(seen, `${out.slice(0, 500)}${await stderr}`);
  },
});

Deno.test({
  name:
    "oci: run() and spawn() take the registry's credentials and insecure as options; spawn() of a reference pulls, then runs",
  ignore: !!SKIP,
  async fn() {
    await contain();
    const file = `${ROOT}/build/tests/guests/contain/contain.wasm`;
    {
      await using reg = await startRegistry({ carol: "pa55" });
      const ref = `${reg.host}/tools/contain:v1`;
      const pushed = await cli(
        ["push", "--username", "carol", "--password-stdin", file, ref],
        await env(),
        "pa55\n",
      );
      assert.equal(pushed.code, 0, pushed.stderr);
      const vars = await env(); // no docker config: only the options
      const anon = await withEnv(vars, () => run(ref, { args: ["exit", "7"] }));
      assert.equal(anon.kind, "failed");
      assert.equal(anon.guestCode, undefined);
      assert.match(anon.message!, /needs credentials/);
      const wrong = await withEnv(vars, () =>
        run(ref, {
          args: ["exit", "7"],
          credentials: { username: "carol", password: "nope" },
        }));
      assert.equal(wrong.kind, "failed");
      assert.match(wrong.message!, /refused the credentials of user 'carol'/);
      const ok = await withEnv(vars, () =>
        run(ref, {
          args: ["exit", "7"],
          credentials: { username: "carol", password: "pa55" },
        }));
      assert.equal(ok.kind, "exited", ok.message);
      assert.equal(ok.guestCode, 7);
      // spawn() takes a reference too: its process starts at once and gets
      // the guest once pulled; the handle's pid is the guest's process
      const audit: Record<string, unknown>[] = [];
      const spawned = await withEnv(vars, () => {
        const g = spawn(ref, {
          args: ["exit", "9"],
          credentials: { username: "carol", password: "pa55" },
          audit: (r) => audit.push(r),
        });
        assert.ok(g.pid > 0);
        return g.status;
      });
      assert.equal(spawned.kind, "exited", spawned.message);
      assert.equal(spawned.guestCode, 9);
      assert.ok(
        audit.some((r) => r.event === "image" && r.ref === ref),
        JSON.stringify(audit),
      );
      // a pull that fails ends the process: failed, with the reason
      const missing = await withEnv(
        vars,
        () =>
          spawn(`${reg.host}/tools/other:v1`, {
            credentials: { username: "carol", password: "pa55" },
          }).status,
      );
      assert.equal(missing.kind, "failed");
      assert.match(missing.message!, /other/);
      // a stop while the image is pulled: nothing runs, the process is gone
      const stopped = await withEnv(vars, () => {
        const g = spawn(ref, {
          args: ["exit", "9"],
          credentials: { username: "carol", password: "pa55" },
        });
        g.kill();
        return g.status;
      });
      assert.equal(stopped.kind, "failed");
      assert.match(
        stopped.message!,
        /stopped while its image was being pulled/,
      );
    }
    let reg: Registry;
    try {
      reg = await startRegistry(undefined, "127.0.0.2");
    } catch (e) {
      console.log(
        `oci_test: skipped run({ insecure }): 127.0.0.2 (${
          (e as Error).message
        })`,
      );
      return;
    }
    await using _ = reg;
    const ref = `${reg.host}/tools/contain:v1`;
    const pushed = await cli(["push", "--insecure", file, ref], await env());
    assert.equal(pushed.code, 0, pushed.stderr);
    const vars = await env();
    const plain = await withEnv(vars, () => run(ref, { args: ["exit", "7"] }));
    assert.equal(plain.kind, "failed");
    assert.equal(plain.guestCode, undefined);
    assert.match(plain.message!, /insecure/);
    const insecure = await withEnv(
      vars,
      () => run(ref, { args: ["exit", "7"], insecure: true }),
    );
    assert.equal(insecure.kind, "exited", insecure.message);
    assert.equal(insecure.guestCode, 7);
  },
});

Deno.test({
  name:
    "oci: a guest run by reference is named by its reference (run() and the CLI)",
  ignore: !!SKIP,
  async fn() {
    await contain();
    await using reg = await startRegistry();
    const { ref } = await pushContain(reg);
    const vars = await env();
    const lib = await withEnv(
      vars,
      () => run(ref, { args: ["sleep", "10"], policy: { timeoutMs: 300 } }),
    );
    assert.equal(lib.kind, "timeout", lib.message);
    assert.ok(lib.message!.startsWith(`${ref}: `), lib.message);
    const named = await withEnv(vars, () =>
      run(ref, {
        args: ["sleep", "10"],
        policy: { timeoutMs: 300 },
        name: "spinner",
      }));
    assert.ok(named.message!.startsWith("spinner: "), named.message);
    // the CLI, both ways it runs a guest (here, and in a process of its own)
    for (const extra of [[], ["--max-memory", "64"]]) {
      const done = await cli(
        ["--timeout", "0.3", ...extra, ref, "sleep", "10"],
        vars,
      );
      assert.equal(done.code, 124, done.stderr);
      const line = oneLine(done.stderr);
      assert.ok(line.startsWith(`wasm-bpf: ${ref}: `), line);
      assert.doesNotMatch(line, /contain\.wasm|\/files\//);
    }
    // a bare object by reference too
    const obj = `${reg.host}/tools/contain-object:v1`;
    const objPushed = await cli(
      ["push", `${ROOT}/build/tests/guests/contain/contain.bpf.o`, obj],
      vars,
    );
    assert.equal(objPushed.code, 0, objPushed.stderr);
    const stopped = await cli(["--timeout", "0.5", obj], vars);
    assert.equal(stopped.code, 124, stopped.stderr);
    const line = oneLine(stopped.stderr);
    assert.ok(line.startsWith(`wasm-bpf: ${obj} stopped`), line);
  },
});
