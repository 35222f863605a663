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

NAME=bench-call
# shellcheck source=lib/browser-env.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/browser-env.sh"

in_loopback_namespace node e2e/bench-call.js "$@"
