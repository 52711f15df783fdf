/**
 * OCI references (`registry/repository[:tag][@sha256:hex]`), parsed without
 * I/O, and the policy's `allowImages` patterns.
 *
 * @module
 */

/** A parsed reference. */
export interface Reference {
  /** `host[:port]`, e.g. `localhost:5000`. */
  registry: string;
  /** The repository path, e.g. `tools/bootstrap`. */
  repository: string;
  /** The tag (`latest` when neither a tag nor a digest is given). */
  tag?: string;
  /** `sha256:<64 hex>` when the reference is pinned. */
  digest?: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const HOST =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]{1,5})?$/;

/** A reference that cannot be parsed; the message names it and says why. */
export class InvalidReference extends Error {}

/** Whether `host` names a registry (has a dot or a port, or is `localhost`). */
function registryLike(host: string): boolean {
  return HOST.test(host) &&
    (host.includes(".") || host.includes(":") || host === "localhost" ||
      host.startsWith("["));
}

/**
 * Whether `s` has the shape of a reference with an explicit registry
 * (`host[:port]/name...`). The CLI asks this only about arguments that are
 * not files on disk; a name ending in `.wasm` or `.o` without a tag or
 * digest is taken for a missing file (`dir.v2/app.wasm`), not a reference.
 */
export function looksLikeReference(s: string): boolean {
  const slash = s.indexOf("/");
  return slash > 0 && registryLike(s.slice(0, slash)) &&
    !/\.(wasm|o)$/.test(s);
}

/**
 * Parses `registry/repository[:tag][@sha256:hex]`. The registry is
 * required (no implicit Docker Hub). Throws {@link InvalidReference}.
 */
export function parseReference(s: string): Reference {
  const bad = (why: string) =>
    new InvalidReference(`'${s}' is not an OCI reference: ${why}`);
  let rest = s;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) {
      throw bad(`the digest must be sha256:<64 lowercase hex>`);
    }
  }
  const slash = rest.indexOf("/");
  if (slash <= 0 || !registryLike(rest.slice(0, slash))) {
    throw bad("it needs a registry, as in localhost:5000/name:tag");
  }
  const registry = rest.slice(0, slash);
  let path = rest.slice(slash + 1);
  let tag: string | undefined;
  const colon = path.lastIndexOf(":");
  if (colon >= 0) {
    tag = path.slice(colon + 1);
    path = path.slice(0, colon);
    if (!TAG.test(tag)) throw bad(`invalid tag '${tag}'`);
  }
  if (!path || path.split("/").some((c) => !COMPONENT.test(c))) {
    throw bad(
      `invalid repository '${path}' (lowercase letters, digits, . _ - and /)`,
    );
  }
  if (path.length > 255) throw bad("the repository name is too long");
  if (!tag && !digest) tag = "latest";
  return { registry, repository: path, tag, digest };
}

/** The canonical text of a reference (`registry/repo:tag@digest`). */
export function formatReference(r: Reference): string {
  return `${r.registry}/${r.repository}${r.tag ? `:${r.tag}` : ""}${
    r.digest ? `@${r.digest}` : ""
  }`;
}

/**
 * Whether the reference `ref` matches one of `patterns` (`*` matches any
 * run of characters, everything else itself). A pattern is matched against
 * the reference as written (`registry/repo:tag` or `registry/repo@digest`),
 * so `host/repo*@sha256:*` admits pinned references only; a pattern naming
 * one exact digest (`host/repo@sha256:<hex>`) also admits a tag that
 * resolved to that digest (`resolvedDigest`).
 */
export function imageAllowed(
  patterns: string[],
  ref: Reference,
  resolvedDigest?: string,
): boolean {
  const written = formatReference(ref);
  const resolved = resolvedDigest
    ? formatReference({ ...ref, tag: undefined, digest: resolvedDigest })
    : undefined;
  return patterns.some((p) => {
    const re = new RegExp(
      "^" +
        p.split("*").map((x) => x.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
          .join(".*") +
        "$",
    );
    if (re.test(written)) return true;
    const at = p.indexOf("@sha256:");
    return resolved !== undefined && at >= 0 && !p.slice(at).includes("*") &&
      re.test(resolved);
  });
}
