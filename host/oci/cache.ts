/**
 * The content-addressed cache under `$XDG_CACHE_HOME/wasm-bpf` (or
 * `~/.cache/wasm-bpf`): `blobs/sha256/HEX` (manifests and layers, verified
 * again on every read), `refs/REGISTRY/REPOSITORY/TAG` (the manifest digest
 * a tag last had) and `files/HEX/NAME` (the runnable content, named for the
 * CLI).
 *
 * @module
 */

/** SHA-256 of `bytes` as `sha256:<hex>`. */
export async function sha256(bytes: Uint8Array): Promise<string> {
  const hash = new Uint8Array(
    await crypto.subtle.digest("SHA-256", bytes as BufferSource),
  );
  return "sha256:" +
    Array.from(hash, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The cache's directory. */
export function cacheDir(): string {
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  const base = xdg && xdg.startsWith("/")
    ? xdg
    : `${Deno.env.get("HOME") ?? "/root"}/.cache`;
  return `${base}/wasm-bpf`;
}

async function writeAtomic(path: string, data: Uint8Array): Promise<void> {
  const dir = path.slice(0, path.lastIndexOf("/"));
  await Deno.mkdir(dir, { recursive: true });
  const tmp = `${path}.${crypto.randomUUID()}.tmp`;
  await Deno.writeFile(tmp, data, { mode: 0o644 });
  await Deno.rename(tmp, path);
}

function hex(digest: string): string {
  if (!/^sha256:[a-f0-9]{64}$/.test(digest)) {
    throw new Error(`not a sha256 digest: ${digest}`);
  }
  return digest.slice(7);
}

/** The blob `digest` from the cache, verified; undefined when absent or damaged. */
export async function readBlob(
  digest: string,
): Promise<Uint8Array | undefined> {
  const path = `${cacheDir()}/blobs/sha256/${hex(digest)}`;
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch {
    return undefined;
  }
  if (await sha256(bytes) !== digest) {
    // damaged: forget it, the registry gives it again
    await Deno.remove(path).catch(() => {});
    return undefined;
  }
  return bytes;
}

/** Stores a blob already verified to have `digest`. */
export async function writeBlob(
  digest: string,
  bytes: Uint8Array,
): Promise<void> {
  await writeAtomic(`${cacheDir()}/blobs/sha256/${hex(digest)}`, bytes);
}

function refPath(registry: string, repository: string, tag: string): string {
  // the parser allowed only [a-z0-9._-/] in repository and [A-Za-z0-9_.-] in tag
  return `${cacheDir()}/refs/${
    registry.replace(/[^A-Za-z0-9.:[\]-]/g, "_")
  }/${repository}/${tag}`;
}

/** The manifest digest `tag` last had here, or undefined. */
export async function readTag(
  registry: string,
  repository: string,
  tag: string,
): Promise<string | undefined> {
  try {
    const d = (await Deno.readTextFile(refPath(registry, repository, tag)))
      .trim();
    return /^sha256:[a-f0-9]{64}$/.test(d) ? d : undefined;
  } catch {
    return undefined;
  }
}

/** Records that `tag` points at the manifest `digest`. */
export async function writeTag(
  registry: string,
  repository: string,
  tag: string,
  digest: string,
): Promise<void> {
  await writeAtomic(
    refPath(registry, repository, tag),
    new TextEncoder().encode(digest + "\n"),
  );
}

/**
 * Writes `bytes` (whose digest is `digest`) as `files/HEX/name` and
 * returns that path; an existing file is checked and rewritten if it
 * differs.
 */
export async function writeFile(
  digest: string,
  name: string,
  bytes: Uint8Array,
): Promise<string> {
  const path = `${cacheDir()}/files/${hex(digest)}/${name}`;
  try {
    if (await sha256(await Deno.readFile(path)) === digest) return path;
  } catch { /* absent */ }
  await writeAtomic(path, bytes);
  return path;
}
