#!/usr/bin/env bash
# The benchmark, one command (as root): sets the machine up (scripts/env.sh),
# builds every case from source into build/bench/, runs native C, C wasm
# guests on our Deno host and the TypeScript API, prints the table and
# writes bench/results/latest.json. Not part of the test suite.
#
#   bash bench/run.sh [--reps N] [--quick]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/env.sh
command -v gcc >/dev/null || apt-get install -y gcc
exec "$DENO" run -A bench/bench.ts "$@"
