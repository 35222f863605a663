#!/usr/bin/env bash
# Builds the web app (client/) to wasm and bundles it into static/pkg/.
#
#   scripts/build-web.sh            optimised build (profile wasm-release, then wasm-opt -Oz)
#   scripts/build-web.sh --dev      fast unoptimised build
#   scripts/build-web.sh --force    rebuild even if nothing changed
#
# Toolchain: a rustup toolchain with the wasm32-unknown-unknown target if there is one; otherwise
# Debian's rustc-web, which rebuilds std for wasm32 (-Zbuild-std). Every wasm build uses the same
# environment and its own target dir (target/wasm) so that rebuilds stay incremental and never
# disturb the host build in target/. Cargo.lock is shared with the host build (rustup's cargo);
# --locked makes sure Debian's newer cargo never rewrites it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/lib/wasm.sh

PROFILE=wasm-release
FORCE=0
for arg in "$@"; do
    case "$arg" in
        --dev) PROFILE=dev ;;
        --release) PROFILE=wasm-release ;;
        --force) FORCE=1 ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) echo "build-web: unknown argument: $arg" >&2; exit 2 ;;
    esac
done

TARGET=wasm32-unknown-unknown
TARGET_DIR="$ROOT/target/wasm"
OUT_DIR="$ROOT/static/pkg"
# Written after each successful build; holds the profile that static/pkg was built with.
STAMP="$TARGET_DIR/.build-web.stamp"

# Skip the build when static/pkg has this profile and no input changed since it was built.
inputs_changed() {
    [[ -f "$STAMP" && -f "$OUT_DIR/treff_client_bg.wasm" ]] || return 0
    [[ "$(cat "$STAMP")" == "$PROFILE" ]] || return 0
    [[ -n "$(find client shared Cargo.lock Cargo.toml scripts/build-web.sh scripts/lib/wasm.sh -newer "$STAMP" -print -quit)" ]]
}
if [[ $FORCE == 0 ]] && ! inputs_changed; then
    echo "build-web: static/pkg is up to date ($PROFILE); use --force to rebuild"
    exit 0
fi

if command -v rustup >/dev/null 2>&1 && rustup target list --installed 2>/dev/null | grep -qx "$TARGET"; then
    echo "build-web: using rustup's $TARGET target"
    cargo build -p treff-client --lib --target "$TARGET" --profile "$PROFILE" \
        --target-dir "$TARGET_DIR" --locked
else
    if [[ ! -x /usr/bin/rustc || ! -d /usr/lib/rustlib/src/rust/library || ! -x "$WASM_LINKER" ]]; then
        echo "build-web: no wasm32 toolchain; run scripts/install-deps.sh first" >&2
        exit 1
    fi
    echo "build-web: using Debian's rustc-web with -Zbuild-std"
    # The optimised bundle aborts on a panic without formatting a message (nothing would show
    # it: wasm32-unknown-unknown has no stderr), which keeps the formatting code out: ~13 KB.
    PANIC_FLAGS=""
    [[ "$PROFILE" != dev ]] && PANIC_FLAGS="-Zunstable-options -Cpanic=immediate-abort"
    # Exactly this environment on every build: any difference rebuilds std (minutes).
    env -u RUSTFLAGS -u CARGO_BUILD_RUSTFLAGS -u CARGO_ENCODED_RUSTFLAGS \
        RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER="$WASM_LINKER" \
        CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="$PANIC_FLAGS" \
        /usr/bin/cargo build -p treff-client --lib --target "$TARGET" --profile "$PROFILE" \
        --target-dir "$TARGET_DIR" -Zbuild-std=std,panic_abort --locked
fi

PROFILE_DIR="$PROFILE"
[[ "$PROFILE" == dev ]] && PROFILE_DIR=debug
WASM="$TARGET_DIR/$TARGET/$PROFILE_DIR/treff_client.wasm"

if ! command -v wasm-bindgen >/dev/null 2>&1; then
    if [[ -x "$HOME/.cargo/bin/wasm-bindgen" ]]; then
        PATH="$HOME/.cargo/bin:$PATH"
    else
        echo "build-web: wasm-bindgen not found; run scripts/install-deps.sh" >&2
        exit 1
    fi
fi
WANT="$(wasm_bindgen_version)"
HAVE="$(wasm-bindgen --version | awk '{print $2}')"
if [[ "$WANT" != "$HAVE" ]]; then
    echo "build-web: wasm-bindgen CLI is $HAVE but Cargo.lock has $WANT; run scripts/install-deps.sh" >&2
    exit 1
fi

rm -rf "$OUT_DIR.tmp"
mkdir -p "$OUT_DIR.tmp"
wasm-bindgen --target web --no-typescript --out-dir "$OUT_DIR.tmp" "$WASM"

WASM_OPT="$ROOT/e2e/node_modules/.bin/wasm-opt"
BG="$OUT_DIR.tmp/treff_client_bg.wasm"
if [[ "$PROFILE" != dev ]]; then
    if [[ -x "$WASM_OPT" ]]; then
        # rustc's wasm32 output uses these post-MVP features; wasm-opt must accept them.
        "$WASM_OPT" -Oz --enable-reference-types --enable-bulk-memory \
            --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals \
            --enable-multivalue --strip-debug --strip-producers -o "$BG.opt" "$BG"
        mv "$BG.opt" "$BG"
    else
        echo "build-web: e2e/node_modules/.bin/wasm-opt missing (scripts/install-deps.sh); bundle not size-optimised" >&2
    fi
fi

rm -rf "$OUT_DIR"
mv "$OUT_DIR.tmp" "$OUT_DIR"
echo "$PROFILE" > "$STAMP"

size() { stat -c %s "$1"; }
gz() { gzip -9 -c "$1" | wc -c; }
for f in "$OUT_DIR/treff_client_bg.wasm" "$OUT_DIR/treff_client.js"; do
    printf 'build-web: %-24s %8d bytes raw, %8d bytes gzipped\n' "$(basename "$f")" "$(size "$f")" "$(gz "$f")"
done
