# syntax=docker/dockerfile:1
# treff: multi-stage build. The first stage builds the server and the web app; the runtime
# image only holds the binary, the web app and the TLS library, and runs as a non-root user.
#
#   docker build -t treff .
#   docker run -p 8000:8000 -v "$PWD/certs:/certs:ro" \
#     -e TREFF_TLS_CERT=/certs/cert.pem -e TREFF_TLS_KEY=/certs/key.pem treff

FROM rust:1-bookworm AS build
# Node.js brings wasm-opt (npm package binaryen) for a small web app bundle.
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm \
 && rm -rf /var/lib/apt/lists/* \
 && rustup target add wasm32-unknown-unknown
WORKDIR /src
# wasm-bindgen-cli must match the wasm-bindgen version in Cargo.lock exactly.
COPY Cargo.toml Cargo.lock ./
RUN version="$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/"/, "", $3); print $3; exit}' Cargo.lock)" \
 && cargo install wasm-bindgen-cli --version "$version"
COPY . .
RUN cd e2e && npm ci --no-audit --no-fund --omit=optional \
 && cd .. \
 && cargo build --release -p treff-server --locked \
 && bash scripts/build-web.sh --force

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends libssl3 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /srv/treff --shell /usr/sbin/nologin treff
COPY --from=build /src/target/release/treff /usr/local/bin/treff
COPY --from=build /src/static /srv/treff/static
ENV TREFF_LISTEN=0.0.0.0:8000 \
    TREFF_STATIC_DIR=/srv/treff/static
USER treff
WORKDIR /srv/treff
# 8000/tcp: web app and signaling. 3478/udp: the embedded TURN relay, when TREFF_TURN=true.
EXPOSE 8000/tcp 8000/udp 3478/udp
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/treff"]
