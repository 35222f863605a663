#!/usr/bin/env bash
# Call-quality benchmark: 2-, 3- and 4-way calls through the real web app in headless Chromium,
# in the same loopback-only network namespace as the browser tests (scripts/test-browser.sh).
#
#   scripts/bench-call.sh [--sizes 2,3,4] [--trials 5] [--duration 20] [--captures 4]
#
# Prints connection times (from the last person's Join click to welcome, first offer, ICE
# connected, first remote frame) and call quality (frame rate, resolution, bitrate, loss, freezes,
# round-trip time, PSNR/SSIM against the fake cameras' test pattern), and writes them to
# bench-results/call.json and bench-results/call.md. Not part of the test suite: the figures
# depend on the machine. Close other heavy programs first; two cores are enough but not plenty.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$PATH"

if [[ -z "${TREFF_BIN:-}" ]]; then
    cargo build -p treff-server --bin treff
    export TREFF_BIN="$ROOT/target/debug/treff"
fi
bash scripts/build-web.sh
if [[ ! -d e2e/node_modules/playwright-core ]]; then
    echo "bench-call: e2e/node_modules missing; run scripts/install-deps.sh" >&2
    exit 1
fi

if [[ $(id -u) == 0 ]]; then
    sudo=()
else
    sudo=(sudo --preserve-env=TREFF_BIN,CHROMIUM)
fi
# As for the tests: only loopback, and the PID namespace ends every process with the script.
exec "${sudo[@]}" unshare --net --pid --fork --kill-child --mount-proc \
    sh -c 'ip link set lo up && exec node e2e/bench-call.js "$@"' sh "$@"
