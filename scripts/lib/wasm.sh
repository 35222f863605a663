# Facts about the wasm build that more than one script needs. Source it from the repository root.

# The wasm-bindgen CLI must be exactly the version of the wasm-bindgen crate in Cargo.lock;
# prints that version (empty when Cargo.lock has no wasm-bindgen).
wasm_bindgen_version() {
    awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock
}

# The Debian packages that build wasm32 when rustup has no wasm32 target: rustc-web and its std
# sources (std is rebuilt with -Zbuild-std) and lld-22, whose wasm-ld-22 links the result.
# rustc-web's default linker, rust-lld, comes from rust-web-llvm, which rustc-web only
# recommends; an install with --no-install-recommends never brings it, so the build names
# wasm-ld-22 itself (WASM_LINKER) and nothing depends on a recommended package.
WASM_DEBIAN_PACKAGES=(rustc-web cargo-web rust-web-src lld-22)
WASM_LINKER=/usr/bin/wasm-ld-22
