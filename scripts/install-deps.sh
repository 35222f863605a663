#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine (as root) lacks to build treff's web app and to test it
# in a browser. Idempotent: every step checks first and does nothing when already satisfied.
#
#   scripts/install-deps.sh          everything (build + browser tests)
#   scripts/install-deps.sh --run    only what building and running needs (no browser)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/lib/wasm.sh
export PATH="$HOME/.cargo/bin:$PATH"

MODE=all
for arg in "$@"; do
    case "$arg" in
        --run) MODE=run ;;
        --all) MODE=all ;;
        -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
        *) echo "install-deps: unknown argument: $arg" >&2; exit 2 ;;
    esac
done

log() { printf 'install-deps: %s\n' "$*"; }

as_root() {
    if [[ $(id -u) == 0 ]]; then "$@"; else sudo "$@"; fi
}

APT_UPDATED=0
# Installs the given Debian packages that are not installed yet (apt-get update only if needed).
apt_install() {
    local missing=()
    local pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$pkg")
    done
    [[ ${#missing[@]} == 0 ]] && return 0
    if [[ $APT_UPDATED == 0 ]]; then
        log "apt-get update"
        as_root apt-get update -qq
        APT_UPDATED=1
    fi
    log "apt-get install ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# Debian's rustc-web builds wasm32 by rebuilding std (-Zbuild-std); rustup's toolchain here has
# no wasm32 target to download. Skipped when rustup already has the target.
web_toolchain() {
    if command -v rustup >/dev/null 2>&1 \
        && rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
        log "rustup has wasm32-unknown-unknown"
        return 0
    fi
    apt_install "${WASM_DEBIAN_PACKAGES[@]}"
}

# Node and npm run wasm-opt (npm's binaryen; Debian's is too old for rustc's output) and the
# browser tests. playwright-core needs Node.js 20 or newer (Debian 12's own nodejs is 18).
node_tools() {
    command -v node >/dev/null 2>&1 || apt_install nodejs
    command -v npm >/dev/null 2>&1 || apt_install npm
    local major
    major="$(node -p 'process.versions.node.split(".")[0]')"
    if (( major < 20 )); then
        echo "install-deps: Node.js $(node --version) is too old; the browser tests need 20 or newer" >&2
        return 1
    fi
}

# The wasm-bindgen CLI must be exactly the version of the wasm-bindgen crate in Cargo.lock.
wasm_bindgen_cli() {
    local want have
    want="$(wasm_bindgen_version)"
    if [[ -z "$want" ]]; then
        log "no wasm-bindgen in Cargo.lock; skipping the CLI"
        return 0
    fi
    have="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)"
    if [[ "$have" == "$want" ]]; then
        log "wasm-bindgen $have"
        return 0
    fi
    log "cargo install wasm-bindgen-cli $want (a few minutes)"
    # No --locked: the CLI's own lockfile pins a crate the registry no longer serves.
    cargo install wasm-bindgen-cli --version "$want" --force
}

# npm packages in e2e/: binaryen (wasm-opt) always, playwright-core and axe-core (the
# accessibility audit) for the browser tests.
# package-lock.json is committed, so `npm ci` installs exactly those versions.
npm_packages() {
    local stamp="e2e/node_modules/.package-lock.json"
    if [[ -f "$stamp" && ! "e2e/package-lock.json" -nt "$stamp" \
        && -x e2e/node_modules/.bin/wasm-opt && -d e2e/node_modules/playwright-core \
        && -d e2e/node_modules/axe-core ]]; then
        log "e2e/node_modules up to date"
        return 0
    fi
    log "npm ci in e2e/"
    (cd e2e && npm ci --no-audit --no-fund)
}

# Headless Chromium and Firefox ESR with fake camera and microphone (Firefox is driven over
# WebDriver BiDi; Playwright's own Firefox build cannot be downloaded here), ffmpeg to make
# test videos, and an emoji font (raised hands and reactions are emoji; a fresh server has no
# font for them, so the screenshots showed empty boxes).
browser() {
    apt_install chromium chromium-driver firefox-esr ffmpeg fonts-noto-color-emoji
}

# Tools the browser test script uses: unshare (util-linux) and ip (iproute2) for the private
# network namespace, curl to wait for the server; iptables for the NAT routers of the emulated
# networks (e2e/netem.js; tc, for their lossy and slow links, is in iproute2).
test_tools() {
    apt_install util-linux iproute2 curl iptables
}

# The server links openssl; scripts/gen-certs.sh uses the openssl command.
server_build() {
    apt_install pkg-config libssl-dev openssl
}

# The deployment test validates compose.yaml with docker-compose (no container engine needed);
# the TURN tests run Debian's coturn on loopback; the cluster tests run Debian's redis-server on
# loopback (the server itself needs Redis only when started with --redis-url).
server_test_tools() {
    apt_install docker-compose coturn redis-server
}

server_build
web_toolchain
node_tools
wasm_bindgen_cli
npm_packages
if [[ $MODE == all ]]; then
    browser
    test_tools
    server_test_tools
fi
log "done"
