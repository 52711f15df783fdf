#!/usr/bin/env bash
# The whole test suite: set up this machine (packages, Deno, mounts), build
# every guest and example, run the tests against the real kernel, and print
# a closing line "N passed, N failed".
#
#   scripts/test.sh [deno test filters/args...]
set -uo pipefail
source "$(dirname "$0")/env.sh" || exit 1
cd "$ROOT"
# the toolchains of the Rust, Go and AssemblyScript SDKs (idempotent)
bash scripts/setup-sdk.sh ${SETUP_FLAGS:-} || {
  echo "0 passed, 1 failed"
  exit 1
}

# the OCI registry, htpasswd and skopeo tests/oci_test.ts starts (idempotent)
bash scripts/setup-oci.sh ${SETUP_FLAGS:-} || {
  echo "0 passed, 1 failed"
  exit 1
}

# the Prometheus tests/metrics_test.ts starts (idempotent; its own service
# is kept from starting)
bash scripts/setup-metrics.sh ${SETUP_FLAGS:-} || {
  echo "0 passed, 1 failed"
  exit 1
}

# every guest and example, through the one build rule (incremental)
dirs=(tests/guests/*/ examples/*/)
existing=()
for d in "${dirs[@]}"; do [ -d "$d" ] && existing+=("$d"); done
if [ ${#existing[@]} -gt 0 ]; then
  "$DENO" run -A scripts/build.ts "${existing[@]}" || {
    echo "0 passed, 1 failed"
    exit 1
  }
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
# --wasm-fast-api: the hosts in the tests' own process use the map gate
# (host/gate.ts), as the CLI's documented command line does;
# tests/gate_test.ts runs guests without it too
"$DENO" test --allow-all --v8-flags=--wasm-fast-api "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# Deno's summary: "ok | 12 passed (3 steps) | 0 failed | 1 ignored (2s)"
summary=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^(ok|FAILED) \| [0-9]+ passed' | tail -n 1)
passed=$(sed -E 's/.* ([0-9]+) passed.*/\1/' <<<"$summary")
failed=$(sed -E 's/.*\| ([0-9]+) failed.*/\1/' <<<"$summary")
ignored=$(grep -oE '[0-9]+ ignored' <<<"$summary" | grep -oE '[0-9]+' || echo 0)
if [ -z "$summary" ]; then
  passed=0
  failed=1
  echo "test.sh: deno test printed no summary (exit $status)"
elif [ "$status" != 0 ] && [ "$failed" = 0 ]; then
  failed=1
fi
echo "${passed} passed, ${failed} failed, ${ignored:-0} skipped"
[ "$status" = 0 ] && [ "$failed" = 0 ]
