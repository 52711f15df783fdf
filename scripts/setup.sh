#!/usr/bin/env bash
# Installs, idempotently, everything this project needs on a fresh Debian 12
# machine: Debian packages (clang/lld for BPF and wasm32-wasi, bpftool, wabt),
# libbpf >= 1.4 from bookworm-backports (1.1.2 crashes on crafted objects),
# Deno (pinned, from npm) when no deno is on PATH, and the tracefs/bpffs
# mounts. Prints the path of the deno binary it settled on as its last line.
#
#   scripts/setup.sh            # everything
#   scripts/setup.sh --no-apt   # skip Debian packages (libbpf >= 1.4 still required)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DENO_VERSION=2.9.6
TOOLS="$ROOT/build/tools"

log() { printf 'setup: %s\n' "$*" >&2; }

need_root() {
  if [ "$(id -u)" != 0 ]; then
    log "must run as root (installs packages, mounts tracefs/bpffs, loads BPF programs)"
    exit 1
  fi
}

APT_PACKAGES=(
  bpftool libelf-dev zlib1g-dev
  clang llvm lld wasi-libc libclang-rt-dev-wasm32 wabt
  gcc libc6-dev make iproute2 iputils-ping procps
)

install_apt() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    log "Debian packages present"
    return
  fi
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# libbpf opens the guests' objects, which are untrusted input: 1.1.2
# (bookworm) segfaults on some crafted ones, 1.4 (bookworm-backports) does not.
LIBBPF_MIN=1.4
SKIPPED_APT=

# shellcheck source=apt-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/apt-lib.sh"

# The installed libbpf1 version without the epoch ("1.4.6-1~bpo12+1"), or "".
libbpf_version() {
  dpkg-query -W -f='${Status} ${Version}' libbpf1 2>/dev/null |
    sed -n 's/^install ok installed \([0-9]*:\)\{0,1\}//p'
}

libbpf_ok() {
  local v
  v=$(libbpf_version)
  [ -n "$v" ] && dpkg --compare-versions "$v" ge "$LIBBPF_MIN" &&
    dpkg-query -W -f='${Status}' libbpf-dev 2>/dev/null | grep -q "install ok installed"
}

install_libbpf() {
  if libbpf_ok; then
    log "libbpf $(libbpf_version) present"
    return
  fi
  add_backports
  log "installing libbpf1 and libbpf-dev >= $LIBBPF_MIN from bookworm-backports"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends -t bookworm-backports libbpf1 libbpf-dev >&2
}

require_libbpf() {
  if ! libbpf_ok; then
    log "libbpf1 and libbpf-dev >= $LIBBPF_MIN are needed (installed libbpf1: $(libbpf_version || true)${SKIPPED_APT:+; --no-apt given}): apt-get install -t bookworm-backports libbpf1 libbpf-dev"
    exit 1
  fi
}

install_deno() {
  if [ -n "${DENO:-}" ] && [ -x "$DENO" ]; then
    echo "$DENO"
    return
  fi
  if command -v deno >/dev/null 2>&1; then
    command -v deno
    return
  fi
  local bin="$TOOLS/node_modules/.bin/deno"
  if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q "deno $DENO_VERSION"; then
    echo "$bin"
    return
  fi
  if ! command -v npm >/dev/null 2>&1; then
    log "npm is needed to fetch Deno: apt-get install npm"
    exit 1
  fi
  log "installing deno@$DENO_VERSION from npm into $TOOLS"
  mkdir -p "$TOOLS"
  npm install --silent --no-audit --no-fund --prefix "$TOOLS" "deno@$DENO_VERSION" >&2
  "$bin" --version >&2
  echo "$bin"
}

mount_fs() {
  if ! mountpoint -q /sys/kernel/tracing; then
    mount -t tracefs tracefs /sys/kernel/tracing && log "mounted tracefs"
  fi
  if ! mountpoint -q /sys/fs/bpf; then
    mount -t bpf bpf /sys/fs/bpf && log "mounted bpffs"
  fi
}

# The host's native helpers: the map fast path (native/fastpath.c) and the
# stop watchdog (native/watchdog.c). The host falls back to libbpf and to a
# Worker without them.
build_native() {
  if ! command -v gcc >/dev/null 2>&1; then
    log "gcc not found: the native helpers are not built (apt-get install gcc)"
    return 0
  fi
  mkdir -p "$ROOT/build/native"
  local name src out
  for name in fastpath:fast watchdog:watchdog; do
    src="$ROOT/native/${name%%:*}.c"
    out="$ROOT/build/native/libwasm_bpf_${name##*:}.so"
    if [ -f "$out" ] && [ "$out" -nt "$src" ]; then continue; fi
    gcc -O2 -Wall -Wextra -shared -fPIC "$src" -o "$out" -lpthread && log "built $out"
  done
}

main() {
  local apt=1
  for a in "$@"; do
    case "$a" in
      --no-apt) apt=0 ;;
      -h | --help)
        sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
      *)
        log "unknown option: $a (try --help)"
        exit 2
        ;;
    esac
  done
  need_root
  if [ $apt = 1 ]; then
    install_apt
    install_libbpf
  else
    SKIPPED_APT=1
  fi
  require_libbpf
  mount_fs
  build_native >&2
  install_deno
}

main "$@"
