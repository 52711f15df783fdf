/**
 * Guests distributed through an OCI registry: {@link push} writes the CNCF
 * Wasm OCI artifact layout (config `application/vnd.wasm.config.v0+json`,
 * one `application/wasm` layer; a bare BPF object gets config
 * `application/vnd.wasm-bpf.config.v1+json` and layer
 * `application/vnd.wasm-bpf.object.v1+elf`); {@link pull} reads that, the
 * older wasm-to-oci layout (`application/vnd.wasm.content.layer.v1+wasm`)
 * and a single tar(+gzip) layer holding one `.wasm` or `.bpf.o`. Every blob
 * is checked against its digest; everything fetched is kept in a
 * content-addressed cache, so pinned references and tags already pulled
 * work with the registry unreachable.
 *
 * @module
 */
import {
  cacheDir,
  readBlob,
  readTag,
  sha256,
  writeBlob,
  writeFile,
  writeTag,
} from "./cache.ts";
import {
  type Credentials,
  RegistryClient,
  type RegistryOptions,
} from "./client.ts";
import { ContentError, MediaType, RegistryError } from "./errors.ts";
import {
  formatReference,
  InvalidReference,
  parseReference,
  type Reference,
} from "./ref.ts";
import { gunzip, readTar } from "./tar.ts";

export { cacheDir, ContentError, InvalidReference, MediaType, RegistryError };
export type { Credentials, Reference, RegistryOptions };
export { looksLikeReference, parseReference } from "./ref.ts";

const ACCEPT = [
  MediaType.MANIFEST,
  MediaType.INDEX,
  MediaType.DOCKER_MANIFEST,
  MediaType.DOCKER_LIST,
].join(", ");

const LAYERS: string[] = [
  MediaType.WASM,
  MediaType.WASM_TO_OCI,
  MediaType.BPF_OBJECT,
  MediaType.TAR_GZIP,
  MediaType.DOCKER_TAR_GZIP,
  MediaType.TAR,
];

/** The largest manifest or blob fetched (a guest is far smaller). */
const MAX_BLOB = 512 * 2 ** 20;

/** What {@link pull} gives. */
export interface Pulled {
  /** The guest: a `.wasm` module or a bare BPF object (ELF). */
  bytes: Uint8Array;
  /** The manifest's digest: `registry/repo@digest` pins exactly this. */
  digest: string;
  /** The layer's media type. */
  mediaType: string;
  /** The layer's digest. */
  layerDigest: string;
  /** `wasm` or `bpf-object`, by the content's magic number. */
  kind: "wasm" | "bpf-object";
  /** The reference as parsed. */
  reference: Reference;
  /** True when the registry was not asked (pinned and cached, or offline with a cached tag). */
  fromCache: boolean;
}

/** What {@link push} gives. */
export interface Pushed {
  /** The manifest's digest. */
  digest: string;
  /** `registry/repo@digest`. */
  pinned: string;
  /** The layer's digest. */
  layerDigest: string;
  /** The layer's media type. */
  mediaType: string;
}

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os?: string; architecture?: string };
  annotations?: Record<string, string>;
}

function kindOf(bytes: Uint8Array): "wasm" | "bpf-object" | undefined {
  if (
    bytes[0] === 0 && bytes[1] === 0x61 && bytes[2] === 0x73 &&
    bytes[3] === 0x6d
  ) {
    return "wasm";
  }
  if (
    bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c &&
    bytes[3] === 0x46
  ) {
    return "bpf-object";
  }
  return undefined;
}

async function readBody(
  res: Response,
  what: string,
  limit = MAX_BLOB,
): Promise<Uint8Array> {
  const length = Number(res.headers.get("content-length") ?? 0);
  if (length > limit) {
    await res.body?.cancel();
    throw new ContentError(`${what} is ${length} bytes, more than ${limit}`);
  }
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (bytes.length > limit) {
    throw new ContentError(`${what} is more than ${limit} bytes`);
  }
  return bytes;
}

async function verify(
  bytes: Uint8Array,
  digest: string,
  what: string,
): Promise<void> {
  if (!digest.startsWith("sha256:")) {
    throw new ContentError(
      `${what}: unsupported digest algorithm in ${digest} (sha256 only)`,
    );
  }
  const got = await sha256(bytes);
  if (got !== digest) {
    throw new ContentError(
      `${what} does not match its digest ${digest} (the content has ${got}): refused`,
    );
  }
}

async function httpError(
  res: Response,
  ref: string,
  what: string,
): Promise<RegistryError> {
  let code = "";
  try {
    const body = await res.json();
    code = body.errors?.[0]?.code ? ` (${body.errors[0].code})` : "";
  } catch { /* no JSON body */ }
  if (res.status === 404) {
    return new RegistryError(
      `${ref}: ${what} not found in the registry${code}`,
      404,
    );
  }
  return new RegistryError(
    `${ref}: the registry answered ${res.status} for ${what}${code}`,
    res.status,
  );
}

/** Fetches and verifies the manifest `digest` (cache first). */
async function manifestByDigest(
  client: () => RegistryClient,
  r: Reference,
  digest: string,
  refText: string,
): Promise<{ bytes: Uint8Array; cached: boolean }> {
  const cached = await readBlob(digest);
  if (cached) return { bytes: cached, cached: true };
  const res = await client().request(
    `/v2/${r.repository}/manifests/${digest}`,
    {
      headers: { accept: ACCEPT },
    },
  );
  if (!res.ok) throw await httpError(res, refText, `manifest ${digest}`);
  const bytes = await readBody(res, `manifest ${digest}`, 4 * 2 ** 20);
  await verify(bytes, digest, `${refText}: manifest`);
  await writeBlob(digest, bytes);
  return { bytes, cached: false };
}

async function blob(
  client: () => RegistryClient,
  r: Reference,
  d: Descriptor,
  refText: string,
): Promise<Uint8Array> {
  const cached = await readBlob(d.digest);
  if (cached) return cached;
  if (d.size > MAX_BLOB) {
    throw new ContentError(
      `${refText}: layer ${d.digest} is ${d.size} bytes, more than ${MAX_BLOB}`,
    );
  }
  const res = await client().request(`/v2/${r.repository}/blobs/${d.digest}`);
  if (!res.ok) throw await httpError(res, refText, `blob ${d.digest}`);
  const bytes = await readBody(res, `blob ${d.digest}`);
  await verify(bytes, d.digest, `${refText}: blob`);
  if (bytes.length !== d.size) {
    throw new ContentError(
      `${refText}: blob ${d.digest} is ${bytes.length} bytes, the manifest says ${d.size}: refused`,
    );
  }
  await writeBlob(d.digest, bytes);
  return bytes;
}

function parseJson(bytes: Uint8Array, what: string): Record<string, unknown> {
  try {
    const v = JSON.parse(new TextDecoder().decode(bytes));
    if (v && typeof v === "object" && !Array.isArray(v)) return v;
  } catch { /* below */ }
  throw new ContentError(`${what} is not a JSON object`);
}

async function unpack(
  bytes: Uint8Array,
  mediaType: string,
  refText: string,
): Promise<{ bytes: Uint8Array; name?: string }> {
  const gz = mediaType.endsWith("gzip");
  if (!gz && mediaType !== MediaType.TAR) return { bytes };
  let tar: Uint8Array;
  try {
    tar = gz ? await gunzip(bytes) : bytes;
  } catch (e) {
    throw new ContentError(
      `${refText}: the layer is not valid gzip (${(e as Error).message})`,
    );
  }
  let entries;
  try {
    entries = readTar(tar);
  } catch (e) {
    throw new ContentError(
      `${refText}: the layer is not a valid tar archive (${
        (e as Error).message
      })`,
    );
  }
  let found = entries.filter((e) => e.name.endsWith(".wasm"));
  if (found.length === 0) found = entries.filter((e) => e.name.endsWith(".o"));
  if (found.length !== 1) {
    throw new ContentError(
      `${refText}: the tar layer must hold exactly one .wasm (or one .bpf.o), it holds ${
        found.length ? found.map((e) => e.name).join(", ") : "none"
      }`,
    );
  }
  return { bytes: found[0].data, name: found[0].name.split("/").pop() };
}

/** The result of {@link pull} plus where the CLI can read it. */
export interface Resolved extends Pulled {
  /** `files/HEX/NAME` in the cache: the content, named like the artifact. */
  path: string;
}

/**
 * Fetches the guest at `ref` (`registry/repo:tag` or `registry/repo@sha256:...`),
 * verifying the manifest and the layer against their digests. A pinned
 * reference already cached is not fetched again; a tag is asked of the
 * registry and, when the registry cannot be reached, resolved through the
 * cache. Throws {@link InvalidReference}, {@link RegistryError} or
 * {@link ContentError}, each with a one-line message.
 *
 * Deno permissions: `--allow-net` (the registry), `--allow-env`
 * (`XDG_CACHE_HOME`, `HOME`, `DOCKER_CONFIG`), `--allow-read` and
 * `--allow-write` (the cache, `~/.docker/config.json`).
 */
export async function pull(
  ref: string,
  options: RegistryOptions = {},
): Promise<Pulled> {
  const { path: _path, ...rest } = await resolve(ref, options);
  return rest;
}

/** {@link pull}, and the content written to the cache as a named file (for the CLI). */
export async function resolve(
  ref: string,
  options: RegistryOptions = {},
): Promise<Resolved> {
  const r = parseReference(ref);
  let c: RegistryClient | undefined;
  try {
    return await resolveWith(
      r,
      () => c ??= new RegistryClient(r.registry, options),
    );
  } finally {
    c?.close();
  }
}

async function resolveWith(
  r: Reference,
  client: () => RegistryClient,
): Promise<Resolved> {
  const refText = formatReference(r);
  let digest: string;
  let manifestBytes: Uint8Array;
  let fromCache = false;
  if (r.digest) {
    digest = r.digest;
    const m = await manifestByDigest(client, r, digest, refText);
    manifestBytes = m.bytes;
    fromCache = m.cached;
  } else {
    let res: Response | undefined;
    try {
      res = await client().request(`/v2/${r.repository}/manifests/${r.tag}`, {
        headers: { accept: ACCEPT },
      });
    } catch (e) {
      // unreachable: the tag as last pulled, if it was
      const known = e instanceof RegistryError && e.status === 0
        ? await readTag(r.registry, r.repository, r.tag!)
        : undefined;
      const cached = known && await readBlob(known);
      if (!known || !cached) throw e;
      digest = known;
      manifestBytes = cached;
      fromCache = true;
    }
    if (res) {
      if (!res.ok) throw await httpError(res, refText, `tag '${r.tag}'`);
      manifestBytes = await readBody(
        res,
        `manifest of ${refText}`,
        4 * 2 ** 20,
      );
      digest = await sha256(manifestBytes);
      const said = res.headers.get("docker-content-digest");
      if (said && said.startsWith("sha256:") && said !== digest) {
        throw new ContentError(
          `${refText}: manifest does not match the digest the registry gave (${said}, the content has ${digest}): refused`,
        );
      }
      await writeBlob(digest, manifestBytes);
      await writeTag(r.registry, r.repository, r.tag!, digest);
    }
  }
  let manifest = parseJson(manifestBytes!, `${refText}: manifest`);
  const mt = String(manifest.mediaType ?? "");
  if (
    mt === MediaType.INDEX || mt === MediaType.DOCKER_LIST ||
    Array.isArray(manifest.manifests)
  ) {
    const list = (manifest.manifests ?? []) as Descriptor[];
    const pick = list.find((m) =>
      m.platform?.architecture === "wasm" || m.platform?.os === "wasip1" ||
      m.platform?.os === "wasi"
    ) ?? (list.length === 1 ? list[0] : undefined);
    if (!pick) {
      throw new ContentError(
        `${refText}: an index without a wasm/wasip1 entry`,
      );
    }
    const m = await manifestByDigest(client, r, pick.digest, refText);
    manifest = parseJson(m.bytes, `${refText}: manifest ${pick.digest}`);
  }
  const layers =
    (Array.isArray(manifest.layers) ? manifest.layers : []) as Descriptor[];
  const layer = layers.find((l) => LAYERS.includes(l?.mediaType));
  if (
    !layer || typeof layer.digest !== "string" || typeof layer.size !== "number"
  ) {
    throw new ContentError(
      `${refText}: no wasm layer in the manifest (layer types: ${
        layers.map((l) => l?.mediaType).join(", ") || "none"
      }; readable: ${LAYERS.join(", ")})`,
    );
  }
  const raw = await blob(client, r, layer, refText);
  const content = await unpack(raw, layer.mediaType, refText);
  const kind = kindOf(content.bytes);
  if (!kind) {
    throw new ContentError(
      `${refText}: the layer holds neither a wasm module nor an ELF BPF object`,
    );
  }
  const base = r.repository.split("/").pop()!;
  const title = layer.annotations?.["org.opencontainers.image.title"];
  const fromTitle =
    title && /^[A-Za-z0-9._-]+$/.test(title) && !title.startsWith(".")
      ? title
      : undefined;
  const name = content.name && /^[A-Za-z0-9._-]+$/.test(content.name) &&
      !content.name.startsWith(".")
    ? content.name
    : fromTitle ?? `${base}${kind === "wasm" ? ".wasm" : ".bpf.o"}`;
  const path = await writeFile(
    await sha256(content.bytes),
    name,
    content.bytes,
  );
  return {
    bytes: content.bytes,
    digest: digest!,
    mediaType: layer.mediaType,
    layerDigest: layer.digest,
    kind,
    reference: r,
    fromCache,
    path,
  };
}

async function uploadBlob(
  c: RegistryClient,
  r: Reference,
  bytes: Uint8Array,
  digest: string,
  refText: string,
): Promise<void> {
  const head = await c.request(`/v2/${r.repository}/blobs/${digest}`, {
    method: "HEAD",
  });
  await head.body?.cancel();
  if (head.ok) return;
  const start = await c.request(`/v2/${r.repository}/blobs/uploads/`, {
    method: "POST",
  });
  await start.body?.cancel();
  const location = start.headers.get("location");
  if (start.status !== 202 || !location) {
    throw await httpError(start, refText, "starting a blob upload");
  }
  const url = new URL(location, c.base);
  url.searchParams.set("digest", digest);
  const put = await c.request(url.href, {
    method: "PUT",
    headers: { "content-type": "application/octet-stream" },
    body: bytes as BodyInit,
  });
  if (put.status !== 201) {
    throw await httpError(put, refText, `uploading blob ${digest}`);
  }
  await put.body?.cancel();
}

/**
 * Pushes `bytes` (a wasm module, or a bare BPF object) to `ref` in the
 * CNCF Wasm OCI artifact layout and returns the manifest's digest. `name`
 * is recorded as the layer's `org.opencontainers.image.title`. A reference
 * with a digest is refused (the registry names the content).
 */
export async function push(
  bytes: Uint8Array,
  ref: string,
  options: RegistryOptions & { name?: string } = {},
): Promise<Pushed> {
  const r = parseReference(ref);
  if (r.digest) {
    throw new InvalidReference(`push needs a tag, not a digest: '${ref}'`);
  }
  const refText = formatReference(r);
  const kind = kindOf(bytes);
  if (!kind) {
    throw new ContentError(
      `push: the file is neither a wasm module nor an ELF BPF object`,
    );
  }
  const layerDigest = await sha256(bytes);
  const wasm = kind === "wasm";
  const config = new TextEncoder().encode(JSON.stringify(
    wasm
      ? { architecture: "wasm", os: "wasip1", layerDigests: [layerDigest] }
      : { architecture: "bpf", os: "linux", layerDigests: [layerDigest] },
  ));
  const configDigest = await sha256(config);
  const mediaType = wasm ? MediaType.WASM : MediaType.BPF_OBJECT;
  const manifest = new TextEncoder().encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.MANIFEST,
    config: {
      mediaType: wasm ? MediaType.WASM_CONFIG : MediaType.BPF_CONFIG,
      digest: configDigest,
      size: config.length,
    },
    layers: [{
      mediaType,
      digest: layerDigest,
      size: bytes.length,
      ...(options.name && /^[A-Za-z0-9._-]+$/.test(options.name)
        ? { annotations: { "org.opencontainers.image.title": options.name } }
        : {}),
    }],
  }));
  const digest = await sha256(manifest);
  const c = new RegistryClient(r.registry, options);
  let res: Response;
  try {
    await uploadBlob(c, r, config, configDigest, refText);
    await uploadBlob(c, r, bytes, layerDigest, refText);
    res = await c.request(`/v2/${r.repository}/manifests/${r.tag}`, {
      method: "PUT",
      headers: { "content-type": MediaType.MANIFEST },
      body: manifest as BodyInit,
    });
    if (res.status !== 201) throw await httpError(res, refText, "the manifest");
    await res.body?.cancel();
  } finally {
    c.close();
  }
  const said = res.headers.get("docker-content-digest");
  if (said && said !== digest) {
    throw new ContentError(
      `${refText}: the registry stored the manifest as ${said}, expected ${digest}`,
    );
  }
  // what was pushed is what a pull of it gives: cache it
  await writeBlob(digest, manifest);
  await writeBlob(layerDigest, bytes);
  await writeTag(r.registry, r.repository, r.tag!, digest);
  return {
    digest,
    pinned: `${r.registry}/${r.repository}@${digest}`,
    layerDigest,
    mediaType,
  };
}
