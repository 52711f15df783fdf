/**
 * The pure half of scripts/image.ts: reproducible tar layers (regular
 * files, directories and symlinks, pax records for long names) and the OCI
 * image layout around them (config, manifest, index.json, oci-layout), with
 * every digest computed here. No Docker daemon, no buildah.
 *
 * @module
 */
import { gzipSync } from "node:zlib";

export {
  type LayerEntry,
  type ListedEntry,
  listTar,
  writeLayer,
} from "../host/oci/tar.ts";
import { sha256 } from "../host/oci/cache.ts";

export { sha256 };

const enc = new TextEncoder();

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
