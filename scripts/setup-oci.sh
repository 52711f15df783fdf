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

installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

[ "${1:-}" = "--no-apt" ] && exit 0
missing=()
for p in docker-registry apache2-utils skopeo podman runc; do
  installed "$p" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
log "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
# docker-registry's (and podman's) maintainer scripts start services where
# systemd runs; the tests start their own instances, so keep them from it
policy=/usr/sbin/policy-rc.d
added=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && added=1
fi
status=0
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 || status=$?
[ -n "$added" ] && rm -f "$policy"
exit $status
