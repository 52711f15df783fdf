#!/usr/bin/env bash
# Installs, idempotently, what tests/oci_test.ts starts: Debian's
# docker-registry (distribution 2.8, run as `docker-registry serve CONFIG`),
# apache2-utils (htpasswd, for the registry's basic auth) and skopeo (reads
# what `wasm-bpf push` wrote, as another client would).
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
for p in docker-registry apache2-utils skopeo; do
  installed "$p" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
log "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
# docker-registry's maintainer script starts its service where systemd
# runs; the tests start their own instances, so keep it from starting one
policy=/usr/sbin/policy-rc.d
added=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && added=1
fi
status=0
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 || status=$?
[ -n "$added" ] && rm -f "$policy"
exit $status
