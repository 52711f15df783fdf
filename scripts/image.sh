#!/usr/bin/env bash
# Builds the OCI image of wasm-bpf without a Docker daemon: an OCI image
# layout assembled by scripts/image.ts (Deno, the package's runtime modules,
# the native helpers, libbpf >= 1.4 and exactly the shared libraries they
# link, a pre-filled DENO_DIR; no shell, no package manager), kept in
# build/image/KEY and reused while its inputs are unchanged.
#
#   scripts/image.sh [-o DIR]                     # build; prints the layout's dir
#   scripts/image.sh --push REF [--insecure]      # and copy it to a registry (skopeo)
#   scripts/image.sh --rebuild                    # build again though the inputs are unchanged
#
# stdout: the layout's directory, then with --push the pinned REF@sha256:...
# Needs root (or user namespaces): DENO_DIR is filled by the image's own
# deno in a chroot of the image's root.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${DENO:-}" ] || [ ! -x "$DENO" ]; then
  # set-up (idempotent): libbpf >= 1.4, the native helpers, deno
  # shellcheck source=env.sh
  source "$ROOT/scripts/env.sh"
fi
for a in "$@"; do
  if [ "$a" = "--push" ] && ! command -v skopeo >/dev/null 2>&1; then
    echo "image: --push needs skopeo: bash scripts/setup-oci.sh" >&2
    exit 1
  fi
done
exec "$DENO" run --allow-all "$ROOT/scripts/image.ts" "$@"
