/**
 * The registry client's errors and media types, apart from the client (the
 * public API exports them without loading it).
 *
 * @module
 */

/** A registry failure; its message is one line naming the registry and what to do. */
export class RegistryError extends Error {
  /** The HTTP status when the registry answered, 0 when it could not be reached. */
  status: number;
  /** A failure with its one-line message. */
  constructor(message: string, status = 0) {
    super(message);
    this.status = status;
  }
}

/** A blob or manifest that does not match its digest, or content that is not a guest. */
export class ContentError extends Error {}

/** Media types the registry client writes and reads. */
export const MediaType = {
  /** OCI image manifest. */
  MANIFEST: "application/vnd.oci.image.manifest.v1+json",
  /** OCI image index. */
  INDEX: "application/vnd.oci.image.index.v1+json",
  /** Docker v2 manifest (read only). */
  DOCKER_MANIFEST: "application/vnd.docker.distribution.manifest.v2+json",
  /** Docker manifest list (read only). */
  DOCKER_LIST: "application/vnd.docker.distribution.manifest.list.v2+json",
  /** CNCF Wasm OCI artifact config. */
  WASM_CONFIG: "application/vnd.wasm.config.v0+json",
  /** CNCF Wasm OCI artifact layer. */
  WASM: "application/wasm",
  /** wasm-to-oci's layer (read only). */
  WASM_TO_OCI: "application/vnd.wasm.content.layer.v1+wasm",
  /** wasm-to-oci's config (read only). */
  WASM_TO_OCI_CONFIG: "application/vnd.wasm.config.v1+json",
  /** This project's config for a bare BPF object. */
  BPF_CONFIG: "application/vnd.wasm-bpf.config.v1+json",
  /** This project's layer for a bare BPF object (an ELF `.bpf.o`). */
  BPF_OBJECT: "application/vnd.wasm-bpf.object.v1+elf",
  /** OCI tar+gzip layer. */
  TAR_GZIP: "application/vnd.oci.image.layer.v1.tar+gzip",
  /** OCI tar layer. */
  TAR: "application/vnd.oci.image.layer.v1.tar",
  /** Docker tar+gzip layer. */
  DOCKER_TAR_GZIP: "application/vnd.docker.image.rootfs.diff.tar.gzip",
} as const;
