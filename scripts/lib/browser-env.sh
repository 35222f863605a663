# Shared set-up of the scripts that drive headless Chromium and Firefox (test-browser.sh,
# bench-call.sh). Source it after setting NAME: it builds the server (unless TREFF_BIN names one)
# the emulated networks' treff-netem and the web app when stale, checks the npm packages, and defines `in_loopback_namespace CMD...`,
# which runs CMD in a private network namespace that has only `lo` and its own PID space, so
# WebRTC stays on 127.0.0.1 and every process CMD starts ends with it.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$PATH"

if [[ -z "${TREFF_BIN:-}" ]]; then
    cargo build -p treff-server --bin treff
    export TREFF_BIN="$ROOT/target/debug/treff"
fi
# The emulated networks' delay and loss (e2e/netem.js): this kernel has no netem qdisc.
cargo build -q -p treff-netem
bash scripts/build-web.sh
if [[ ! -d e2e/node_modules/playwright-core || ! -d e2e/node_modules/axe-core ]]; then
    echo "$NAME: e2e/node_modules missing; run scripts/install-deps.sh" >&2
    exit 1
fi

in_loopback_namespace() {
    local sudo=()
    if [[ $(id -u) != 0 ]]; then
        sudo=(sudo --preserve-env=TREFF_BIN,TREFF_NETEM_BIN,TREFF_BROWSERS,CHROMIUM,FIREFOX,UPDATE_SCREENSHOTS)
    fi
    # The default route goes to `lo` too: Firefox offers a page that may not use the camera only
    # the address of its default route as an ICE candidate (a real machine has one), and finds
    # none at all without a default route. Traffic still never leaves loopback.
    # The emulated networks' namespaces (e2e/netem.js) are named in a /run/netns of this mount
    # namespace only, so they neither collide with another run's nor outlive this one.
    exec "${sudo[@]}" unshare --net --pid --fork --kill-child --mount-proc \
        sh -c 'ip link set lo up && ip route add default dev lo src 127.0.0.1 \
            && mkdir -p /run/netns && mount -t tmpfs netns /run/netns && exec "$@"' sh "$@"
}
