#!/usr/bin/env bash
# The signaling benchmark (docs/PERFORMANCE.md explains the figures and the targets).
#
#   scripts/bench.sh                          every scenario, about 4 minutes
#   scripts/bench.sh --scenarios relay,chat   arguments are passed on to treff-bench
#                                             (target/release/treff-bench --help lists them)
#
# Builds the server and the load generator in release mode, starts the server as its own
# process pinned to CPU 0 on a free loopback port, runs the generator pinned to CPU 1, and
# prints the results as JSON and as a Markdown table; both are also written to
# bench-results/signaling.json and bench-results/signaling.md.
#
# The server runs with its defaults except the limits this load exceeds by design; they are
# raised below and printed with the results. Everything stays on 127.0.0.1.
#
# Both processes run with real-time priority (SCHED_FIFO 1) where allowed, so that other work
# on the machine (a build, say) does not end up in the figures; the kernel still leaves 5 % of
# every second to other processes. TREFF_BENCH_SCHED=nice uses nice -10 instead, =normal neither.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="$ROOT/bench-results"

for tool in taskset cargo; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing" >&2; exit 1; }
done

# One core for the server, one for the generator; on a one-core machine both share it.
if (( $(nproc --all) >= 2 )); then SERVER_CPU=0; GENERATOR_CPU=1; else SERVER_CPU=0; GENERATOR_CPU=0; fi

# 10,000 idle connections are 10,000 descriptors in each process.
NEED_FDS=12000
soft="$(ulimit -n)"
if [[ $soft != unlimited && $soft -lt $NEED_FDS ]]; then
    hard="$(ulimit -Hn)"
    if [[ $hard == unlimited || $hard -ge $NEED_FDS ]]; then
        ulimit -n "$NEED_FDS"
    else
        ulimit -n "$hard"
        echo "bench: open files limited to $hard; the idle scenario needs about $NEED_FDS" >&2
    fi
fi
echo "bench: open files limit $(ulimit -n)"

# Every connection from the generator takes a client port: 10,000 held at once, about 19,000
# over the whole run (closed ones may sit in TIME_WAIT).
read -r port_lo port_hi </proc/sys/net/ipv4/ip_local_port_range
echo "bench: ephemeral ports $port_lo-$port_hi ($((port_hi - port_lo + 1)))"
if (( port_hi - port_lo + 1 < 20000 )); then
    echo "bench: fewer than 20,000 ephemeral ports; the idle scenario may run out" >&2
fi

SCHED_MODE="${TREFF_BENCH_SCHED:-rt}"
PRIO=()
SCHEDULING="normal priority: other load on the machine shows in the figures"
if [[ $SCHED_MODE == rt ]] && command -v chrt >/dev/null && chrt -f 1 true 2>/dev/null; then
    PRIO=(chrt -f 1)
    SCHEDULING="SCHED_FIFO priority 1 (chrt -f 1) for server and generator"
elif [[ $SCHED_MODE != normal ]] && [[ "$(nice -n -10 nice 2>/dev/null)" == "$(( $(nice) - 10 ))" ]]; then
    PRIO=(nice -n -10)
    SCHEDULING="nice -10 for server and generator"
fi
echo "bench: scheduling: $SCHEDULING"

echo "bench: building (release)"
cargo build --release -p treff-server --bin treff
cargo build --release -p treff-bench

# A free port below the ephemeral range, so no client connection can take it meanwhile.
PORT=""
for _ in $(seq 1 50); do
    candidate=$(( 20000 + RANDOM % 10000 ))
    if (( candidate < port_lo )) && [[ -z "$(ss -Htan "( sport = :$candidate )" 2>/dev/null)" ]]; then
        PORT=$candidate
        break
    fi
done
[[ -n $PORT ]] || { echo "bench: no free port found" >&2; exit 1; }

# The scenarios exceed some limits on purpose; each is raised here, and printed with the results.
# Every client connects from 127.0.0.1, so the per-address limit would refuse all but 100.
RAISED_FLAGS=(
    --max-sessions-per-ip 20000
    --max-rooms 5000
    --room-capacity 10
    --frame-rate 100000 --frame-burst 100000
    --chat-rate 10
)
RAISED=(
    "--max-sessions-per-ip 20000 (every client is 127.0.0.1; default 100 per address)"
    "--max-rooms 5000 (idle: 10,000 connections in 5,000 rooms of 2; default 1,000)"
    "--room-capacity 10 (chat: rooms of 10; default 8)"
    "--frame-rate 100000 --frame-burst 100000 (relay ramp: up to 3,200 offers/s per connection; default 50/s, burst 200)"
    "--chat-rate 10 (chat: 2 messages/s per member; default 1/s, burst 10)"
)
STATIC_DIR="$(mktemp -d)"
echo '<!doctype html><title>treff bench</title>' >"$STATIC_DIR/index.html"
LOG="$OUT/server.log"
mkdir -p "$OUT"

"${PRIO[@]}" taskset -c "$SERVER_CPU" "$ROOT/target/release/treff" \
    --listen "127.0.0.1:$PORT" --static-dir "$STATIC_DIR" --log warn \
    "${RAISED_FLAGS[@]}" >"$LOG" 2>&1 &
SERVER_PID=$!
cleanup() {
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    rm -f "$STATIC_DIR/index.html"
    rmdir "$STATIC_DIR" 2>/dev/null || true
}
trap cleanup EXIT

# Up within 10 s, or give up.
for _ in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; then break; fi
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "bench: server exited:" >&2; cat "$LOG" >&2; exit 1; }
    sleep 0.1
done
echo "bench: server pid $SERVER_PID on 127.0.0.1:$PORT, CPU $SERVER_CPU; generator on CPU $GENERATOR_CPU"

raised_args=()
for r in "${RAISED[@]}"; do raised_args+=("--raised=$r"); done

status=0
timeout 600 "${PRIO[@]}" taskset -c "$GENERATOR_CPU" "$ROOT/target/release/treff-bench" \
    --addr "127.0.0.1:$PORT" --server-pid "$SERVER_PID" --out "$OUT" --scheduling "$SCHEDULING" \
    "${raised_args[@]}" "$@" || status=$?

if [[ -s $LOG ]]; then
    echo "bench: server log (warnings and errors):"
    tail -n 20 "$LOG" | sed 's/\x1b\[[0-9;]*m//g'
fi
wasm="$ROOT/static/pkg/treff_client_bg.wasm"
if [[ -f $wasm ]]; then
    echo "bench: web app wasm $(stat -c %s "$wasm") bytes, $(gzip -9c "$wasm" | wc -c) gzipped (-9)"
fi
exit "$status"
