#!/usr/bin/env bash
# The media server's forwarding benchmark (docs/PERFORMANCE.md explains the figures).
#
#   scripts/bench-forward.sh                      every step, about 4 minutes
#   scripts/bench-forward.sh --steps 1,5,10       arguments go to treff-forward
#                                                 (target/release/treff-forward --help)
#
# Builds the server and the generator in release mode, starts the server pinned to CPU 0 on a
# free loopback port (its media port has the same number, on UDP), runs the generator pinned to
# CPU 1, and prints the results as JSON and a Markdown table; both are also written to
# bench-results/forward.json and bench-results/forward.md. Rooms switch to the media server
# from two members (--sfu-threshold 2), so every step measures forwarding; the other raised
# limits are printed with the results. Everything stays on 127.0.0.1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="$ROOT/bench-results"
export PATH="$HOME/.cargo/bin:$PATH"

for tool in taskset cargo curl; do
    command -v "$tool" >/dev/null || { echo "bench-forward: $tool is missing" >&2; exit 1; }
done
if (( $(nproc --all) >= 2 )); then SERVER_CPU=0; GENERATOR_CPU=1; else SERVER_CPU=0; GENERATOR_CPU=0; fi

PRIO=()
SCHEDULING="normal priority: other load on the machine shows in the figures"
if [[ ${TREFF_BENCH_SCHED:-rt} == rt ]] && command -v chrt >/dev/null && chrt -f 1 true 2>/dev/null; then
    PRIO=(chrt -f 1)
    SCHEDULING="SCHED_FIFO priority 1 (chrt -f 1) for server and generator"
fi
echo "bench-forward: scheduling: $SCHEDULING"

echo "bench-forward: building (release)"
cargo build --release -p treff-server --bin treff
cargo build --release -p treff-bench --bin treff-forward

read -r port_lo _ </proc/sys/net/ipv4/ip_local_port_range
PORT=""
for _ in $(seq 1 50); do
    candidate=$(( 20000 + RANDOM % 10000 ))
    if (( candidate < port_lo )) && [[ -z "$(ss -Htaun "( sport = :$candidate )" 2>/dev/null)" ]]; then
        PORT=$candidate
        break
    fi
done
[[ -n $PORT ]] || { echo "bench-forward: no free port found" >&2; exit 1; }

STATIC_DIR="$(mktemp -d)"
echo '<!doctype html><title>treff bench</title>' >"$STATIC_DIR/index.html"
LOG="$OUT/forward-server.log"
mkdir -p "$OUT"
"${PRIO[@]}" taskset -c "$SERVER_CPU" "$ROOT/target/release/treff" \
    --listen "127.0.0.1:$PORT" --static-dir "$STATIC_DIR" --log warn \
    --sfu-threshold 2 --max-sessions-per-ip 20000 --max-rooms 5000 \
    --frame-rate 1000 --frame-burst 1000 >"$LOG" 2>&1 &
SERVER_PID=$!
cleanup() {
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    rm -rf "$STATIC_DIR"
}
trap cleanup EXIT
for _ in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; then break; fi
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "bench-forward: server exited:" >&2; cat "$LOG" >&2; exit 1; }
    sleep 0.1
done
echo "bench-forward: server pid $SERVER_PID on 127.0.0.1:$PORT (TCP and UDP), CPU $SERVER_CPU; generator on CPU $GENERATOR_CPU"

status=0
timeout 900 "${PRIO[@]}" taskset -c "$GENERATOR_CPU" "$ROOT/target/release/treff-forward" \
    --addr "127.0.0.1:$PORT" --server-pid "$SERVER_PID" --out "$OUT" --scheduling "$SCHEDULING" \
    "$@" || status=$?
if [[ -s $LOG ]]; then
    echo "bench-forward: server log (last lines):"
    tail -n 20 "$LOG" | sed 's/\x1b\[[0-9;]*m//g'
fi
exit "$status"
