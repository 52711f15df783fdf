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

# shellcheck source=apt-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/apt-lib.sh"

[ "${1:-}" = "--no-apt" ] && exit 0
install_servers prometheus
