#!/usr/bin/env bash
# Call-quality benchmark: 2-, 3- and 4-way calls peer to peer (a server with --sfu off) and 4- and
# 6-way calls on the media server (default flags), through the real web app in headless Chromium,
# in the same loopback-only network namespace as the browser tests (scripts/test-browser.sh).
#
#   scripts/bench-call.sh [--sizes 2,3,4] [--sfu-sizes 4,6] [--trials 5] [--duration 20] [--captures 4]
#                         [--default-camera] [--networks lan,dsl,mobile,congested]
#                         [--network-calls 3:mesh,3:sfu]
#
# --networks runs --network-calls again across emulated networks (e2e/netem.js): every person in
# a home of their own behind a NAT, one browser each, on a line of the profile (lan: as is; dsl:
# 2/16 Mbit/s, 10 ms; mobile: 1/4 Mbit/s, 40 ms, 2 % loss; congested: 0.6/1.5 Mbit/s, 80 ms,
# 1 % loss; up/down and one way per line). The README's network table comes from
#   scripts/bench-call.sh --sizes '' --sfu-sizes '' --networks lan,dsl,mobile,congested --trials 2
#
# --default-camera uses Chromium's own fake camera (640x480, 20 fps) instead of the 30 fps test
# pattern, as the browser tests do; frames are then not compared with a pattern.
# An empty list (--sfu-sizes '') leaves that mode out.
# Prints connection times (from the last person's Join click to welcome, first offer, ICE
# connected, first remote frame) and call quality (frame rate, resolution, bitrate, loss, freezes,
# round-trip time, PSNR/SSIM against the fake cameras' test pattern), and writes them to
# bench-results/call.json and bench-results/call.md. Not part of the test suite: the figures
# depend on the machine. Close other heavy programs first; two cores are enough but not plenty.
set -euo pipefail

NAME=bench-call
# The server as people run it (scripts/run.sh): a release build. The media server decrypts and
# encrypts every packet it forwards, which a debug build does several times slower.
if [[ -z "${TREFF_BIN:-}" ]]; then
    (cd "$(dirname "${BASH_SOURCE[0]}")/.." && cargo build --release -p treff-server --bin treff)
    TREFF_BIN="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/target/release/treff"
    export TREFF_BIN
fi
# shellcheck source=lib/browser-env.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/browser-env.sh"

in_loopback_namespace node e2e/bench-call.js "$@"
