#!/usr/bin/env bash
# Installs, idempotently, what tests/metrics_test.ts starts: Debian's
# prometheus (2.42). The package's own service is kept from starting (the
# tests start their own server on a free 127.0.0.1 port with a temporary
# config and storage), so no stray prometheus holds :9090.
#
#   scripts/setup-metrics.sh            # install what is missing
#   scripts/setup-metrics.sh --no-apt   # do nothing (the tests then skip)
set -euo pipefail

log() { printf 'setup-metrics: %s\n' "$*" >&2; }

installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

[ "${1:-}" = "--no-apt" ] && exit 0
installed prometheus && exit 0
log "installing Debian package: prometheus"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
# the maintainer script starts prometheus.service where systemd runs: a
# policy-rc.d that says "no" keeps it from starting
policy=/usr/sbin/policy-rc.d
added=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && added=1
fi
status=0
apt-get install -y -qq --no-install-recommends prometheus >&2 || status=$?
[ -n "$added" ] && rm -f "$policy"
exit $status
