#!/usr/bin/env bash
# Runs treff the one-command way: installs what this machine lacks, builds the server and the
# web app when needed, makes a self-signed certificate on first use, and serves HTTPS on port
# 8000 (all interfaces), so phones and laptops on the same network can join with their cameras.
#
#   scripts/run.sh [treff flags...]      e.g. scripts/run.sh --listen 0.0.0.0:8443
#
# Without --tls-cert in the flags or TREFF_TLS_CERT in the environment it uses certs/cert.pem.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export PATH="$HOME/.cargo/bin:$PATH"

bash scripts/install-deps.sh --run
cargo build --release -p treff-server
bash scripts/build-web.sh

args=("$@")
if [[ " $* " != *" --tls-cert"* && -z "${TREFF_TLS_CERT:-}" ]]; then
  bash scripts/gen-certs.sh
  args+=(--tls-cert certs/cert.pem --tls-key certs/key.pem)
fi

port=8000
for ((i = 0; i < ${#args[@]}; i++)); do
  [[ "${args[$i]}" == --listen ]] && port="${args[$((i + 1))]##*:}"
done
echo
echo "treff: open https://localhost:$port on this machine, or on another device in this network:"
for addr in $(hostname -I 2>/dev/null); do
  case "$addr" in *:*) echo "         https://[$addr]:$port" ;; *) echo "         https://$addr:$port" ;; esac
done
echo "       (the certificate is self-signed: accept the browser's warning once per device)"
echo
exec target/release/treff --static-dir static "${args[@]}"
