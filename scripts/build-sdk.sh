#!/usr/bin/env bash
# Builds the guests of the SDKs beyond C into build/ (scripts/build.ts builds
# the C ones). Toolchains come from scripts/setup-sdk.sh.
#
#   scripts/build-sdk.sh [rust] [go] [as] [wat]   # default: all four
#
#   rust  build/wasm-sdk/rust/libwasm_bpf.rlib
#         build/examples/rust-bootstrap/rust-bootstrap.wasm
#         build/wasm-sdk/rust/tests/errors.wasm, batch.wasm
#   go    build/examples/go-execve/go-execve.wasm
#         build/examples/go-lsm/go-lsm.wasm
#         build/wasm-sdk/go/tests/errors.wasm
#   as    build/examples/as-bootstrap/as-bootstrap.wasm
#         build/wasm-sdk/assemblyscript/tests/errors.wasm
#   wat   build/tests/guests/tinygo-wat/guest.wasm
#
# BPF objects go to obj/ next to each guest (scripts/build.ts, which
# scripts/test.sh runs over examples/*/ and tests/guests/*/, writes its own
# NAME.bpf.o and skeleton beside them; those are not used here). The SDK
# twins of C examples compile the C example's BPF source, which stays the
# reference for the event layout: rust-bootstrap and as-bootstrap use
# examples/bootstrap/bootstrap.bpf.c, go-execve examples/execve/execve.bpf.c.
# The SDKs' test guests share one object, wasm-sdk/tests/errors.bpf.c.
#
# A part whose toolchain is missing is skipped with a message and exit
# status 3 (other failures: 1). Prints each file it produced.
set -euo pipefail
shopt -s inherit_errexit

ROOT=$(cd "$(dirname "$0")/.." && pwd)
B="$ROOT/build"
RUSTC=${RUSTC_WASM:-/usr/bin/rustc}
GO=${GO_WASM:-/usr/lib/go-1.23/bin/go}
ASC="$B/tools/node_modules/.bin/asc"
status=0

log() { printf 'build-sdk: %s\n' "$*" >&2; }
skip() {
  log "skipping $1: $2 (run scripts/setup-sdk.sh)"
  [ $status = 0 ] && status=3
  return 0
}

vmlinux_dir() {
  local dir
  dir="$B/vmlinux/$(uname -r)"
  if [ ! -s "$dir/vmlinux.h" ]; then
    mkdir -p "$dir"
    bpftool btf dump file /sys/kernel/btf/vmlinux format c >"$dir/vmlinux.h.tmp"
    mv "$dir/vmlinux.h.tmp" "$dir/vmlinux.h"
  fi
  echo "$dir"
}

# bpf_obj SRC.bpf.c OUTDIR: compiles a BPF object (CO-RE) to OUTDIR/NAME.bpf.o
bpf_obj() {
  local src=$1 out=$2 name
  name=$(basename "$src" .c)
  mkdir -p "$out"
  clang -O2 -g -target bpf -D__TARGET_ARCH_x86 -I "$(vmlinux_dir)" \
    -I "$(dirname "$src")" -c "$src" -o "$out/$name.o"
  # DWARF is not needed at run time (BTF stays): keeps embedded objects small
  if command -v llvm-strip >/dev/null 2>&1; then llvm-strip -g "$out/$name.o"; fi
  echo "$out/$name.o"
}

# rust_guest VAR=OBJ CRATE SRC.rs OUT.wasm: a wasm32-wasi guest linked with
# the SDK crate ($sdk, $flags of build_rust); SRC embeds OBJ from env!(VAR)
rust_guest() {
  env "$1" "$RUSTC" "${flags[@]}" --crate-name "$2" \
    --extern wasm_bpf="$sdk/libwasm_bpf.rlib" -L "$sdk" "$3" -o "$4"
  echo "$4"
}

build_rust() {
  if [ ! -x "$RUSTC" ] || [ ! -d /usr/lib/rustlib/wasm32-wasi ]; then
    skip rust "no $RUSTC with the wasm32-wasi std (apt-get install rustc libstd-rust-dev-wasm32)"
    return
  fi
  local sdk="$B/wasm-sdk/rust" ex="$B/examples/rust-bootstrap"
  mkdir -p "$sdk/tests" "$ex"
  local flags=(--edition 2021 --target wasm32-wasi -O -C strip=debuginfo -C link-arg=--export-table)
  "$RUSTC" --edition 2021 --target wasm32-wasi -O --crate-type rlib \
    --crate-name wasm_bpf "$ROOT/wasm-sdk/rust/src/lib.rs" --out-dir "$sdk"
  echo "$sdk/libwasm_bpf.rlib"

  local obj
  obj=$(bpf_obj "$ROOT/examples/bootstrap/bootstrap.bpf.c" "$ex/obj")
  echo "$obj"
  rust_guest RUST_BOOTSTRAP_BPF_O="$obj" rust_bootstrap \
    "$ROOT/examples/rust-bootstrap/main.rs" "$ex/rust-bootstrap.wasm"

  obj=$(bpf_obj "$ROOT/wasm-sdk/tests/errors.bpf.c" "$sdk/tests")
  echo "$obj"
  local t
  for t in errors batch; do
    rust_guest ERRORS_BPF_O="$obj" "$t" "$ROOT/wasm-sdk/rust/tests/$t.rs" "$sdk/tests/$t.wasm"
  done
}

build_go() {
  if [ ! -x "$GO" ]; then
    skip go "no $GO (apt-get install -t bookworm-backports golang-1.23-go)"
    return
  fi
  local out
  export GOOS=wasip1 GOARCH=wasm GOFLAGS=-mod=mod GOTOOLCHAIN=local GOPROXY=off
  export GOCACHE="$B/go-cache" GOPATH="$B/go-path"
  local ex srcs src
  for ex in go-execve go-lsm; do
    out="$B/examples/$ex"
    mkdir -p "$out"
    # go-execve is the Go twin of examples/execve and uses its BPF source
    if [ "$ex" = go-execve ]; then
      srcs=("$ROOT/examples/execve/execve.bpf.c")
    else
      srcs=("$ROOT/examples/$ex"/*.bpf.c)
    fi
    # go:embed needs the objects inside the package: bpfobj/ (git-ignored)
    for src in "${srcs[@]}"; do
      bpf_obj "$src" "$ROOT/examples/$ex/bpfobj" >/dev/null
    done
    (cd "$ROOT/examples/$ex" && "$GO" build -trimpath -o "$out/$ex.wasm" .)
    echo "$out/$ex.wasm"
  done
  out="$B/wasm-sdk/go/tests"
  mkdir -p "$out"
  bpf_obj "$ROOT/wasm-sdk/tests/errors.bpf.c" "$ROOT/wasm-sdk/go/tests/bpfobj" >/dev/null
  (cd "$ROOT/wasm-sdk/go/tests" && "$GO" build -trimpath -o "$out/errors.wasm" .)
  echo "$out/errors.wasm"
}

# as_object OBJ DIR: writes DIR/object.ts holding OBJ as a static segment
as_object() {
  bash "$ROOT/wasm-sdk/assemblyscript/embed-object.sh" "$1" "$2/object.ts"
}

# asc_build ENTRY.ts OUT.wasm. asc exports the table as "table"; the ABI
# wants "__indirect_function_table", so the export is renamed (wabt).
asc_build() {
  (cd "$ROOT" && "$ASC" "$1" --config wasm-sdk/assemblyscript/asconfig.json -o "$2.tmp.wasm")
  wasm2wat --enable-all "$2.tmp.wasm" | sed 's/(export "table" (table 0))/(export "__indirect_function_table" (table 0))/' >"$2.tmp.wat"
  wat2wasm --enable-all "$2.tmp.wat" -o "$2"
  rm -f "$2.tmp.wasm" "$2.tmp.wat"
}

build_as() {
  if [ ! -x "$ASC" ]; then
    skip as "no $ASC (npm assemblyscript in build/tools)"
    return
  fi
  if ! command -v node >/dev/null 2>&1; then
    skip as "no node to run asc"
    return
  fi
  local out="$B/examples/as-bootstrap" obj
  mkdir -p "$out"
  obj=$(bpf_obj "$ROOT/examples/bootstrap/bootstrap.bpf.c" "$out/obj")
  echo "$obj"
  # the entry imports ./bpfobj/object (git-ignored)
  as_object "$obj" "$ROOT/examples/as-bootstrap/bpfobj"
  asc_build examples/as-bootstrap/main.ts "$out/as-bootstrap.wasm"
  echo "$out/as-bootstrap.wasm"

  out="$B/wasm-sdk/assemblyscript/tests"
  mkdir -p "$out"
  obj=$(bpf_obj "$ROOT/wasm-sdk/tests/errors.bpf.c" "$out")
  echo "$obj"
  as_object "$obj" "$ROOT/wasm-sdk/assemblyscript/tests/bpfobj"
  asc_build wasm-sdk/assemblyscript/tests/errors.ts "$out/errors.wasm"
  echo "$out/errors.wasm"
}

build_wat() {
  if ! command -v wat2wasm >/dev/null 2>&1; then
    skip wat "no wat2wasm (apt-get install wabt)"
    return
  fi
  local out="$B/tests/guests/tinygo-wat" obj
  obj=$(bpf_obj "$ROOT/tests/guests/tinygo-wat/probe.bpf.c" "$out/obj")
  echo "$obj"
  embed_object "$obj" "$ROOT/tests/guests/tinygo-wat/guest.wat" "$out/guest.gen.wat"
  wat2wasm "$out/guest.gen.wat" -o "$out/guest.wasm"
  echo "$out/guest.wasm"
}

# Replaces the line holding @BPF_OBJECT_DATA@ with a data segment holding
# the object at 16384 and the globals $obj_ptr and $obj_len.
embed_object() {
  local obj=$1 src=$2 dst=$3 data
  data="$dst.data"
  {
    printf '  (global $obj_ptr i32 (i32.const 16384))\n'
    printf '  (global $obj_len i32 (i32.const %s))\n' "$(stat -c %s "$obj")"
    printf '  (data (i32.const 16384) "'
    od -An -v -tx1 "$obj" | tr -d ' \n' | sed 's/../\\&/g'
    printf '")\n'
  } >"$data"
  sed -e "/@BPF_OBJECT_DATA@/{r $data" -e 'd}' "$src" >"$dst"
  rm -f "$data"
}

parts=("$@")
[ ${#parts[@]} -eq 0 ] && parts=(rust go as wat)
for p in "${parts[@]}"; do
  case "$p" in
    rust) build_rust ;;
    go) build_go ;;
    as) build_as ;;
    wat) build_wat ;;
    -h | --help)
      awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"
      exit 0
      ;;
    *)
      log "unknown part '$p' (rust, go, as, wat)"
      exit 2
      ;;
  esac
done
exit $status
