#!/usr/bin/env bash
# Runs the property tests of frame decoding and of the room state machine with many more cases
# than the test suite does, for a bounded time.
#
#   scripts/fuzz.sh [CASES] [SECONDS]      defaults: 20000 cases, at most 600 s
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$HOME/.cargo/bin:$PATH"
cases="${1:-20000}"
limit="${2:-600}"
echo "fuzz: $cases cases per property, at most $limit s"
PROPTEST_CASES="$cases" timeout --signal=INT "$limit" \
  cargo test --release -p treff-server --test fuzz -- --nocapture
