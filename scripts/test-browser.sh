#!/usr/bin/env bash
# Browser tests: the real server and headless Chromium and Firefox (fake camera and microphone) in
# a private network namespace that has only loopback, so every WebRTC candidate is 127.0.0.1.
#
#   scripts/test-browser.sh [node --test args...] [e2e/<file>.test.js...]
#
# Without test files it runs every e2e/*.test.js; with some, only those (other arguments, such as
# --test-name-pattern='\[firefox\]', go to node --test either way). Every scenario runs once per
# browser, with the browser's name in the test title; TREFF_BROWSERS=chromium (or firefox) runs
# only that one (and leaves out the mixed calls, which need both).
#
# Builds the server (unless TREFF_BIN names one) and the web bundle first when they are stale.
# Screenshots go to e2e/results/screenshots/; UPDATE_SCREENSHOTS=1 writes the README's pictures in
# docs/screenshots/ instead.
# Test files run one after another (their timing checks assume the browsers have the machine to
# themselves); a test that hangs fails after three minutes (e2e/helpers.js sets that per test), a
# whole file after twenty. The namespace also has its own PID space: when the test runner ends,
# however it ends, the kernel kills every process it started (server, browsers).
set -euo pipefail

NAME=test-browser
# shellcheck source=lib/browser-env.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/browser-env.sh"

# Every test file unless the arguments name some.
targets=(e2e/)
for arg in "$@"; do
    if [[ $arg == *.js ]]; then
        targets=()
    fi
done

in_loopback_namespace node --test --test-concurrency=1 --test-timeout=1200000 --test-reporter=spec \
    "$@" "${targets[@]}"
