#!/usr/bin/env bash
# Runs every test of treff: formatting and lints, the Rust unit and integration tests (the real
# server on loopback, real WebSockets), the web app build, and the browser tests in headless
# Chromium inside a private network namespace. Installs what this machine lacks first.
#
#   scripts/test.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TERM_COLOR=never

step() { printf '\n== %s\n' "$*"; }

step "install what is missing"
bash scripts/install-deps.sh

# Debian packages on this machine that a fresh one lacks and no script of the project installs:
# a green run here would hide them, and the README's commands would fail for a new user. A
# warning, not a failure: the list depends on what else was installed on this machine.
step "packages this machine has but the scripts do not install"
undeclared="${UNDECLARED_PACKAGES_TOOL:-$root/../shared/tools/undeclared-packages}"
if [[ -x "$undeclared" ]]; then
    if "$undeclared" "$root"; then
        echo "none"
    else
        echo "WARNING: the packages above are not installed by scripts/install-deps.sh"
    fi
else
    echo "skipped: no undeclared-packages tool at $undeclared"
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo test"
cargo test --workspace --no-fail-fast

step "build the web app"
bash scripts/build-web.sh

step "browser tests"
# The integration tests built target/debug/treff with the workspace's features; reuse it rather
# than building the server a second time with a different feature set.
TREFF_BIN="$root/target/debug/treff" bash scripts/test-browser.sh
