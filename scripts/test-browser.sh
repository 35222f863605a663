#!/usr/bin/env bash
# Browser tests: the real server and headless Chromium (fake camera and microphone) in a private
# network namespace that has only loopback, so every WebRTC candidate is 127.0.0.1.
#
#   scripts/test-browser.sh [node --test args...]
#
# Builds the server (unless TREFF_BIN names one) and the web bundle first when they are stale.
# Screenshots go to e2e/results/screenshots/; UPDATE_SCREENSHOTS=1 writes the README's pictures in
# docs/screenshots/ instead.
# Test files run one after another (their timing checks assume the browsers have the machine to
# themselves), and a test that hangs fails after three minutes. The namespace also has its own PID
# space: when the test runner ends, however it ends, the kernel kills every process it started
# (server, browser).
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
    echo "test-browser: e2e/node_modules missing; run scripts/install-deps.sh" >&2
    exit 1
fi

if [[ $(id -u) == 0 ]]; then
    sudo=()
else
    sudo=(sudo --preserve-env=TREFF_BIN,CHROMIUM,UPDATE_SCREENSHOTS)
fi
exec "${sudo[@]}" unshare --net --pid --fork --kill-child --mount-proc \
    sh -c 'ip link set lo up && exec node --test --test-concurrency=1 --test-timeout=180000 \
        --test-reporter=spec "$@" e2e/' sh "$@"
