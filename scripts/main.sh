#!/usr/bin/env bash
# The main job: set up this machine, build the bootstrap example (C guest +
# BPF object) from source, and run it on the Deno runtime. It traces every
# exec and exit on the system until Ctrl-C, or for SECONDS when given (then
# with one /bin/true a second, so that an idle machine shows events too).
#
#   scripts/main.sh [SECONDS]
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
"$DENO" run -A scripts/build.ts examples/bootstrap
# --allow-write: the host's cache of each object's minimal kernel BTF
cache="${XDG_CACHE_HOME:-$HOME/.cache}/wasm-bpf"
# --v8-flags=--wasm-fast-api: map operations through the wasm gate
cmd=("$DENO" run --v8-flags=--wasm-fast-api --allow-ffi --allow-read
  --allow-env "--allow-write=$cache"
  mod.ts build/examples/bootstrap/bootstrap.wasm)
if [ $# -gt 0 ]; then
  # run for a duration: SIGINT after SECONDS, which the runtime turns into a
  # clean exit (130, the Ctrl-C status): that is this job's success
  # an idle machine execs nothing: one short process a second shows events
  ( for _ in $(seq 1 "$1"); do sleep 1; /bin/true; done ) &
  load=$!
  status=0
  timeout --preserve-status -s INT "$1" "${cmd[@]}" || status=$?
  kill "$load" 2>/dev/null || true
  [ "$status" = 130 ] && status=0
  exit "$status"
fi
exec "${cmd[@]}"
