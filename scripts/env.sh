# Sourced by the scripts: runs setup (idempotent) and exports DENO, the deno
# binary to use. Pass --no-apt through SETUP_FLAGS to skip Debian packages.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DENO=$("$ROOT/scripts/setup.sh" ${SETUP_FLAGS:-} | tail -n 1)
export DENO
export PATH="$(dirname "$DENO"):$PATH"
export DENO_NO_UPDATE_CHECK=1
