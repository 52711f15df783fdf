#!/usr/bin/env bash
# Installs, idempotently, what tests/oci_test.ts and tests/image_test.ts
# start: Debian's docker-registry (distribution 2.8, run as
# `docker-registry serve CONFIG`), apache2-utils (htpasswd, for the
# registry's basic auth), skopeo (reads what `wasm-bpf push` wrote, as
# another client would; scripts/image.sh --push copies the image with it),
# podman (runs the image; its default runtime crun refuses a host with
# cgroup controllers on both hierarchies, so runc too).
#
#   scripts/setup-oci.sh            # install what is missing
#   scripts/setup-oci.sh --no-apt   # do nothing (the tests then skip)
set -euo pipefail

log() { printf 'setup-oci: %s\n' "$*" >&2; }

# shellcheck source=apt-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/apt-lib.sh"

[ "${1:-}" = "--no-apt" ] && exit 0
install_servers docker-registry apache2-utils skopeo podman runc
