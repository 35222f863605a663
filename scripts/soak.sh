#!/usr/bin/env bash
# Soak test of the signaling server: thousands of sessions against the release binary on
# loopback (rooms of four that join, chat, signal and leave, some abruptly; clients that send
# garbage). Prints a JSON report (sessions, frames, errors, memory before and after) and exits
# non-zero if a message was lost, a room or session was left behind, or memory did not return.
#
#   scripts/soak.sh [--rooms N] [--concurrency N] [--abusers N]    defaults: 750, 100, 300
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release -q -p treff-server --bin treff --example soak
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
exec target/release/examples/soak --server target/release/treff "$@"
