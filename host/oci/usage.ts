/**
 * The CLI's registry flags and their help text, apart from the registry
 * code so that running a file loads none of it.
 *
 * @module
 */

/** The registry flags shared by push, pull and run. */
export interface RegistryFlags {
  /** `--username NAME`. */
  username?: string;
  /** `--password-stdin`. */
  passwordStdin?: boolean;
  /** `--insecure`: plain HTTP to a registry that is not localhost. */
  insecure?: boolean;
  /** `--require-digest`: run only `...@sha256:` references. */
  requireDigest?: boolean;
}

/** Usage of the registry commands, for the CLI's `--help`. */
export const REGISTRY_USAGE =
  `Registry (OCI distribution; REF is host[:port]/name[:tag|@sha256:hex]):
  mod.ts push FILE REF [--username U --password-stdin] [--insecure]
  mod.ts pull REF [-o FILE] [--username U --password-stdin] [--insecure]
  mod.ts [options] REF [args...]   runs REF (a path that exists is a file)
      --username NAME         registry user; the password is read from
      --password-stdin        stdin (default: ~/.docker/config.json)
      --insecure              plain HTTP to a registry that is not localhost
      --require-digest        run only references pinned by @sha256:
  Pulled content is verified and cached under $XDG_CACHE_HOME/wasm-bpf
  (deno needs --allow-net --allow-write for it).`;
