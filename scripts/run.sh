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

# The address the server will listen on: the last --listen ADDR / --listen=ADDR, else
# TREFF_LISTEN, else treff's default. Only addresses it really serves are printed.
listen="${TREFF_LISTEN:-0.0.0.0:8000}"
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[$i]}" in
    --listen) listen="${args[$((i + 1))]:-$listen}" ;;
    --listen=*) listen="${args[$i]#--listen=}" ;;
  esac
done
port="${listen##*:}"
host="${listen%:*}"
host="${host#[}"
host="${host%]}"
url() { case "$1" in *:*) echo "https://[$1]:$port" ;; *) echo "https://$1:$port" ;; esac; }
echo
case "$host" in
  0.0.0.0 | ::)
    echo "treff: open https://localhost:$port on this machine, or on another device in this network:"
    for addr in $(hostname -I 2>/dev/null); do
      # An IPv4 wildcard serves only IPv4 addresses.
      [[ "$host" == 0.0.0.0 && "$addr" == *:* ]] && continue
      echo "         $(url "$addr")"
    done
    ;;
  127.* | ::1 | localhost)
    echo "treff: open https://localhost:$port on this machine (it listens on loopback only;"
    echo "       use --listen 0.0.0.0:$port to let other devices join)"
    ;;
  *)
    echo "treff: open $(url "$host")"
    ;;
esac
echo "       (the certificate is self-signed: accept the browser's warning once per device)"
echo
exec target/release/treff --static-dir static "${args[@]}"
