/**
 * The pure half of scripts/image.ts: reproducible tar layers (regular
 * files, directories and symlinks, pax records for long names) and the OCI
 * image layout around them (config, manifest, index.json, oci-layout), with
 * every digest computed here. No Docker daemon, no buildah.
 *
 * @module
 */
import { gzipSync } from "node:zlib";

/** One entry of a layer. */
export type LayerEntry =
  | { type: "file"; path: string; data: Uint8Array; mode: number }
  | { type: "dir"; path: string; mode: number }
  | { type: "symlink"; path: string; target: string };

/** An entry as read back from a layer by {@link listTar}. */
export interface ListedEntry {
  /** The path without a leading `/` or `./`; directories without a trailing `/`. */
  path: string;
  /** `file`, `dir`, `symlink`, `hardlink` or the tar type flag for others. */
  type: string;
  /** Permission bits. */
  mode: number;
  /** Size in bytes (0 for all but files). */
  size: number;
  /** A symlink's or hard link's target. */
  target?: string;
  /** A file's content. */
  data?: Uint8Array;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function put(h: Uint8Array, at: number, len: number, s: string): void {
  h.set(enc.encode(s).subarray(0, len), at);
}

function octal(n: number, len: number): string {
  return n.toString(8).padStart(len - 1, "0") + "\0";
}

function header(
  name: string,
  type: string,
  mode: number,
  size: number,
  mtime: number,
  link = "",
): Uint8Array {
  const h = new Uint8Array(512);
  put(h, 0, 100, name);
  put(h, 100, 8, octal(mode & 0o7777, 8));
  put(h, 108, 8, octal(0, 8));
  put(h, 116, 8, octal(0, 8));
  put(h, 124, 12, octal(size, 12));
  put(h, 136, 12, octal(mtime, 12));
  h[156] = type.charCodeAt(0);
  put(h, 157, 100, link);
  put(h, 257, 8, "ustar\u000000");
  h.fill(32, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  put(h, 148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return h;
}

/** A pax record `LEN key=value\n` (LEN counts the whole record). */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = enc.encode(body).length;
  let digits = String(len).length;
  while (String(len + digits).length !== digits) digits++;
  len += digits;
  return `${len}${body}`;
}

function padded(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(data.length / 512) * 512);
  out.set(data);
  return out;
}

/**
 * A reproducible tar of `entries` (sorted by path; owner root, mtime
 * `mtime`); names longer than the ustar field get a pax `path` (and
 * `linkpath`) record, as every tar reader and container runtime reads.
 * Paths are written without a leading `/`.
 */
export function writeLayer(entries: LayerEntry[], mtime = 0): Uint8Array {
  const sorted = [...entries].sort((a, b) =>
    a.path < b.path ? -1 : a.path > b.path ? 1 : 0
  );
  const seen = new Set<string>();
  const blocks: Uint8Array[] = [];
  for (const e of sorted) {
    const rel = e.path.replace(/^\/+/, "");
    if (!rel || rel.split("/").some((p) => p === ".." || p === ".")) {
      throw new Error(`layer entry with a bad path: '${e.path}'`);
    }
    if (seen.has(rel)) throw new Error(`layer entry twice: '${e.path}'`);
    seen.add(rel);
    const name = e.type === "dir" ? `${rel}/` : rel;
    const target = e.type === "symlink" ? e.target : "";
    const pax: string[] = [];
    if (enc.encode(name).length > 100) pax.push(paxRecord("path", name));
    if (enc.encode(target).length > 100) {
      pax.push(paxRecord("linkpath", target));
    }
    if (pax.length) {
      const body = enc.encode(pax.join(""));
      blocks.push(
        header("PaxHeader", "x", 0o644, body.length, mtime),
        padded(body),
      );
    }
    if (e.type === "file") {
      blocks.push(
        header(name, "0", e.mode, e.data.length, mtime),
        padded(e.data),
      );
    } else if (e.type === "dir") {
      blocks.push(header(name, "5", e.mode, 0, mtime));
    } else {
      blocks.push(header(name, "2", 0o777, 0, mtime, target));
    }
  }
  blocks.push(new Uint8Array(1024));
  const out = new Uint8Array(blocks.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of blocks) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

function field(h: Uint8Array, at: number, len: number): string {
  let end = at;
  while (end < at + len && h[end] !== 0) end++;
  return dec.decode(h.subarray(at, end));
}

function num(h: Uint8Array, at: number, len: number): number {
  const s = field(h, at, len).trim();
  return s ? parseInt(s, 8) : 0;
}

/**
 * Every entry of a tar archive (pax `path`/`linkpath` and GNU long names
 * honoured). Throws on a corrupt or truncated archive.
 */
export function listTar(tar: Uint8Array): ListedEntry[] {
  const out: ListedEntry[] = [];
  let at = 0;
  let long: { path?: string; linkpath?: string } = {};
  while (at + 512 <= tar.length) {
    const h = tar.subarray(at, at + 512);
    if (h.every((b) => b === 0)) break;
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
    if (sum !== num(h, 148, 8)) {
      throw new Error(`corrupt tar header at offset ${at}`);
    }
    const size = num(h, 124, 12);
    const flag = String.fromCharCode(h[156] || 0x30);
    let name = field(h, 0, 100);
    const prefix = field(h, 345, 155);
    if (prefix && field(h, 257, 5) === "ustar") name = `${prefix}/${name}`;
    const start = at + 512;
    if (start + size > tar.length) throw new Error("truncated tar archive");
    const data = tar.subarray(start, start + size);
    at = start + Math.ceil(size / 512) * 512;
    if (flag === "x") {
      for (
        const m of dec.decode(data).matchAll(/\d+ (path|linkpath)=([^\n]*)\n/g)
      ) {
        long[m[1] as "path" | "linkpath"] = m[2];
      }
      continue;
    }
    if (flag === "L" || flag === "K") {
      long[flag === "L" ? "path" : "linkpath"] = field(data, 0, data.length);
      continue;
    }
    const path = (long.path ?? name).replace(/^(\.\/|\/)+/, "").replace(
      /\/$/,
      "",
    );
    const target = long.linkpath ?? field(h, 157, 100);
    long = {};
    const type = flag === "0" || flag === "7"
      ? "file"
      : flag === "5"
      ? "dir"
      : flag === "2"
      ? "symlink"
      : flag === "1"
      ? "hardlink"
      : flag;
    out.push({
      path,
      type,
      mode: num(h, 100, 8),
      size: type === "file" ? size : 0,
      ...(type === "symlink" || type === "hardlink" ? { target } : {}),
      ...(type === "file" ? { data } : {}),
    });
  }
  return out;
}

/** `sha256:<hex>` of `bytes`. */
export async function sha256(bytes: Uint8Array): Promise<string> {
  const hash = new Uint8Array(
    await crypto.subtle.digest("SHA-256", bytes as BufferSource),
  );
  return "sha256:" +
    Array.from(hash, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** What the image's config says about running it. */
export interface ImageConfig {
  /** `KEY=value` lines. */
  env: string[];
  /** The entrypoint argv. */
  entrypoint: string[];
  /** The default arguments after the entrypoint. */
  cmd?: string[];
  /** The working directory. */
  workingDir?: string;
  /** Labels. */
  labels?: Record<string, string>;
  /** `created` (RFC 3339); fixed for a reproducible image. */
  created?: string;
}

/** An OCI descriptor. */
export interface Descriptor {
  /** Media type. */
  mediaType: string;
  /** `sha256:<hex>`. */
  digest: string;
  /** Size in bytes. */
  size: number;
  /** Annotations. */
  annotations?: Record<string, string>;
}

/** An image layout in memory: blobs by digest and the top-level files. */
export interface ImageLayout {
  /** Every blob (layers, config, manifest) by digest. */
  blobs: Map<string, Uint8Array>;
  /** `index.json`. */
  index: Uint8Array;
  /** The manifest's descriptor. */
  manifest: Descriptor;
  /** The config's descriptor. */
  config: Descriptor;
  /** The layers' descriptors (gzip-compressed). */
  layers: Descriptor[];
  /** The uncompressed layers' digests (`rootfs.diff_ids`). */
  diffIds: string[];
}

/** OCI media types of the image. */
export const ImageMediaType = {
  /** Image manifest. */
  MANIFEST: "application/vnd.oci.image.manifest.v1+json",
  /** Image config. */
  CONFIG: "application/vnd.oci.image.config.v1+json",
  /** A tar+gzip layer. */
  LAYER: "application/vnd.oci.image.layer.v1.tar+gzip",
  /** Image index. */
  INDEX: "application/vnd.oci.image.index.v1+json",
} as const;

/**
 * The OCI image (linux/amd64) of `layers` (uncompressed tars, bottom
 * first) and `config`, tagged `tag` in index.json. Layers are gzipped
 * reproducibly (no name, no time in the gzip header).
 */
export async function imageLayout(
  layers: { tar: Uint8Array; comment: string }[],
  config: ImageConfig,
  tag = "latest",
): Promise<ImageLayout> {
  const blobs = new Map<string, Uint8Array>();
  const descriptors: Descriptor[] = [];
  const diffIds: string[] = [];
  for (const l of layers) {
    diffIds.push(await sha256(l.tar));
    const gz = new Uint8Array(gzipSync(l.tar, { level: 6 }));
    const digest = await sha256(gz);
    blobs.set(digest, gz);
    descriptors.push({
      mediaType: ImageMediaType.LAYER,
      digest,
      size: gz.length,
    });
  }
  const created = config.created ?? "1970-01-01T00:00:00Z";
  const configJson = {
    created,
    architecture: "amd64",
    os: "linux",
    config: {
      Env: config.env,
      Entrypoint: config.entrypoint,
      ...(config.cmd ? { Cmd: config.cmd } : {}),
      ...(config.workingDir ? { WorkingDir: config.workingDir } : {}),
      ...(config.labels ? { Labels: config.labels } : {}),
    },
    rootfs: { type: "layers", diff_ids: diffIds },
    history: layers.map((l) => ({ created, created_by: l.comment })),
  };
  const configBytes = enc.encode(JSON.stringify(configJson));
  const configDesc: Descriptor = {
    mediaType: ImageMediaType.CONFIG,
    digest: await sha256(configBytes),
    size: configBytes.length,
  };
  blobs.set(configDesc.digest, configBytes);
  const manifestBytes = enc.encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: ImageMediaType.MANIFEST,
    config: configDesc,
    layers: descriptors,
  }));
  const manifest: Descriptor = {
    mediaType: ImageMediaType.MANIFEST,
    digest: await sha256(manifestBytes),
    size: manifestBytes.length,
  };
  blobs.set(manifest.digest, manifestBytes);
  const index = enc.encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: ImageMediaType.INDEX,
    manifests: [{
      ...manifest,
      annotations: { "org.opencontainers.image.ref.name": tag },
    }],
  }));
  return {
    blobs,
    index,
    manifest,
    config: configDesc,
    layers: descriptors,
    diffIds,
  };
}

/** Writes `layout` as an OCI image layout directory at `dir` (created). */
export async function writeImageLayout(
  layout: ImageLayout,
  dir: string,
): Promise<void> {
  await Deno.mkdir(`${dir}/blobs/sha256`, { recursive: true });
  for (const [digest, bytes] of layout.blobs) {
    await Deno.writeFile(`${dir}/blobs/sha256/${digest.slice(7)}`, bytes);
  }
  await Deno.writeTextFile(
    `${dir}/oci-layout`,
    JSON.stringify({ imageLayoutVersion: "1.0.0" }),
  );
  await Deno.writeFile(`${dir}/index.json`, layout.index);
}
