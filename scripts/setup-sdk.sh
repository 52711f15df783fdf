#!/usr/bin/env bash
# Installs, idempotently, the toolchains the guest SDKs beyond C need
# (wasm-sdk/rust, wasm-sdk/go, wasm-sdk/assemblyscript; tests/sdk_*_test.ts):
#
#  - Rust: Debian's rustc 1.63 (/usr/bin/rustc) with libstd-rust-dev-wasm32,
#    which builds --target wasm32-wasi (the rustup rustc on PATH cannot);
#  - Go: golang-1.23-go from bookworm-backports (/usr/lib/go-1.23/bin/go,
#    GOOS=wasip1 GOARCH=wasm);
#  - AssemblyScript: npm assemblyscript (pinned) into build/tools;
#  - wabt (wat2wasm, wasm-objdump) for the hand-written TinyGo-shape guest.
#
#   scripts/setup-sdk.sh            # everything
#   scripts/setup-sdk.sh --no-apt   # only the npm part
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TOOLS="$ROOT/build/tools"
ASC_VERSION=0.28.20

log() { printf 'setup-sdk: %s\n' "$*" >&2; }

installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

apt_install() {
  local missing=()
  for p in "$@"; do installed "$p" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# shellcheck source=apt-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/apt-lib.sh"

install_apt() {
  apt_install rustc libstd-rust-dev-wasm32 wabt
  if ! installed golang-1.23-go; then
    add_backports
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends -t bookworm-backports golang-1.23-go >&2
  fi
}

install_asc() {
  local pkg="$TOOLS/node_modules/assemblyscript/package.json"
  if [ -f "$pkg" ] && grep -q "\"version\": \"$ASC_VERSION\"" "$pkg"; then
    return 0
  fi
  if ! command -v npm >/dev/null 2>&1; then
    log "npm is needed for AssemblyScript: apt-get install npm"
    exit 1
  fi
  log "installing assemblyscript@$ASC_VERSION from npm into $TOOLS"
  mkdir -p "$TOOLS"
  npm install --silent --no-audit --no-fund --save-exact --prefix "$TOOLS" "assemblyscript@$ASC_VERSION" >&2
}

main() {
  local apt=1
  for a in "$@"; do
    case "$a" in
      --no-apt) apt=0 ;;
      -h | --help)
        awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"
        exit 0
        ;;
      *)
        log "unknown option: $a (try --help)"
        exit 2
        ;;
    esac
  done
  if [ $apt = 1 ]; then
    if [ "$(id -u)" != 0 ]; then
      log "must run as root to install Debian packages (or pass --no-apt)"
      exit 1
    fi
    install_apt
  fi
  install_asc
  log "rustc: $(/usr/bin/rustc --version 2>/dev/null || echo missing)"
  log "go: $(/usr/lib/go-1.23/bin/go version 2>/dev/null || echo missing)"
  log "asc: $("$TOOLS/node_modules/.bin/asc" --version 2>/dev/null || echo missing)"
}

main "$@"
