#!/usr/bin/env bash
# Makes a self-signed TLS certificate for treff, valid for localhost, 127.0.0.1, ::1, this
# machine's host name and its LAN addresses, so a phone on the same network can open the
# conference over HTTPS (browsers only allow cameras on HTTPS pages, except on localhost).
#
# Usage: scripts/gen-certs.sh [OUT_DIR] [--force]
#   OUT_DIR defaults to certs/ in the repository; writes cert.pem and key.pem there.
#   An existing certificate that covers the current addresses and is valid for 7 more days
#   is kept unless --force is given.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/certs"
force=0
usage() { echo "usage: scripts/gen-certs.sh [OUT_DIR] [--force]" >&2; }
outs=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    -*) echo "gen-certs: unknown option: $arg" >&2; usage; exit 2 ;;
    *)
      outs=$((outs + 1))
      [ "$outs" -gt 1 ] && { echo "gen-certs: more than one OUT_DIR: $arg" >&2; usage; exit 2; }
      out="$arg"
      ;;
  esac
done
mkdir -p "$out"
cert="$out/cert.pem"
key="$out/key.pem"

host="$(hostname 2>/dev/null || echo localhost)"
sans="DNS:localhost,IP:127.0.0.1,IP:::1"
[ "$host" != "localhost" ] && sans="$sans,DNS:$host"
# Every global-scope address of this machine (IPv4 and IPv6), for devices on the LAN.
if command -v ip >/dev/null 2>&1; then
  for addr in $(ip -o addr show scope global 2>/dev/null | awk '{print $4}' | cut -d/ -f1); do
    sans="$sans,IP:$addr"
  done
elif command -v hostname >/dev/null 2>&1; then
  for addr in $(hostname -I 2>/dev/null); do sans="$sans,IP:$addr"; done
fi

stamp="$out/sans.txt"
if [ "$force" = 0 ] && [ -s "$cert" ] && [ -s "$key" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$sans" ] \
   && openssl x509 -in "$cert" -noout -checkend $((7 * 24 * 3600)) >/dev/null 2>&1; then
  echo "gen-certs: keeping $cert (valid, covers $sans)"
  exit 0
fi

umask 077
openssl req -x509 -newkey rsa:2048 -sha256 -nodes -days 825 \
  -keyout "$key" -out "$cert" \
  -subj "/CN=treff ($host)" \
  -addext "subjectAltName=$sans" \
  -addext "basicConstraints=critical,CA:FALSE" \
  -addext "keyUsage=critical,digitalSignature,keyEncipherment" \
  -addext "extendedKeyUsage=serverAuth" >/dev/null 2>&1
chmod 644 "$cert"
echo "$sans" >"$stamp"
echo "gen-certs: wrote $cert and $key for $sans"
echo "gen-certs: browsers will warn once about the self-signed certificate; accept it on each device."
