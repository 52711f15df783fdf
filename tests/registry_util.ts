// A real OCI registry for the tests: Debian's docker-registry (distribution
// 2.8) started on a free port with a temporary config and storage, without
// auth, with htpasswd basic auth, or with a token service's `auth:` section.
import assert from "node:assert/strict";

/** Debian's registry binary (scripts/setup-oci.sh installs it). */
export const REGISTRY_BIN = "/usr/bin/docker-registry";

/** A running registry; disposing it stops it and removes its storage. */
export interface Registry extends AsyncDisposable {
  /** `HOST:PORT`. */
  host: string;
  /** The registry's storage directory (blobs can be tampered with there). */
  storage: string;
  /** Stops the registry (its storage stays until disposal). */
  stop(): Promise<void>;
}

/** A TCP port free on `hostname` right now. */
export function freePort(hostname: string): number {
  const l = Deno.listen({ hostname, port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/**
 * Starts docker-registry on `hostname` (127.0.0.1) on a free port, with
 * htpasswd auth when `users` is given, or with the `auth:` section
 * `tokenAuth` writes (given the registry's temporary directory).
 */
export async function startRegistry(
  users?: Record<string, string>,
  hostname = "127.0.0.1",
  tokenAuth?: (dir: string) => Promise<string>,
): Promise<Registry> {
  const dir = await Deno.makeTempDir({ prefix: "wasm-bpf-registry-" });
  const port = freePort(hostname);
  let auth = tokenAuth ? await tokenAuth(dir) : "";
  if (users) {
    const lines = [];
    for (const [u, p] of Object.entries(users)) {
      const out = await new Deno.Command("htpasswd", {
        args: ["-Bbn", u, p],
        stdout: "piped",
      }).output();
      assert.ok(out.success, "htpasswd failed");
      lines.push(new TextDecoder().decode(out.stdout).trim());
    }
    await Deno.writeTextFile(`${dir}/htpasswd`, lines.join("\n") + "\n");
    auth =
      `auth:\n  htpasswd:\n    realm: wasm-bpf-test\n    path: ${dir}/htpasswd\n`;
  }
  await Deno.writeTextFile(
    `${dir}/config.yml`,
    `version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: ${dir}/storage
http:
  addr: ${hostname}:${port}
${auth}`,
  );
  const child = new Deno.Command(REGISTRY_BIN, {
    args: ["serve", `${dir}/config.yml`],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  // the probe keeps no idle connection to the registry
  const http = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
  let up = false;
  try {
    for (let i = 0; i < 100 && !up; i++) {
      try {
        const res = await fetch(`http://${hostname}:${port}/v2/`, {
          client: http,
        });
        await res.body?.cancel();
        up = res.status === 200 || res.status === 401;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  } finally {
    http.close();
  }
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      child.kill("SIGTERM");
    } catch { /* gone */ }
    await child.status;
    await stderr;
  };
  if (!up) {
    await stop();
    await Deno.remove(dir, { recursive: true });
    throw new Error(`docker-registry did not start: ${await stderr}`);
  }
  return {
    host: `${hostname}:${port}`,
    storage: `${dir}/storage`,
    stop,
    async [Symbol.asyncDispose]() {
      await stop();
      await Deno.remove(dir, { recursive: true });
    },
  };
}
