#!/usr/bin/env bash
# Benchmark for `kms-openssl serve` (issue #4): Sign requests/s with 8 concurrent keep-alive
# aws-sdk-kms clients, for RSA_2048 RSASSA_PKCS1_V1_5_SHA_256 and ECC_NIST_P256 ECDSA_SHA_256, next
# to `openssl speed -multi 2 rsa2048 ecdsap256` and to moto under the same load (SKIP_MOTO=1 to
# skip); then the server's RSS with KEYS keys.
#
#   benches/serve-sign.sh                       # release build, 10 s per run, 10,000 keys
#   PROFILE=dev SECONDS_PER_RUN=3 KEYS=2000 benches/serve-sign.sh   # quick look
#
# Targets: sign throughput >= 60% of openssl speed's sign rate; RSS < 64 MiB with 10,000 keys.
# All traffic is to 127.0.0.1; every loop is bounded by time or count.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

profile=${PROFILE:-release}
seconds=${SECONDS_PER_RUN:-10}
keys=${KEYS:-10000}
key_spec=${KEY_SPEC:-ECC_NIST_P256}   # spec of the KEYS keys (RSA keygen would take hours for 10,000)
clients=${CLIENTS:-8}
multi=${MULTI:-$(nproc)}
case "$profile" in dev) out=debug ;; *) out=$profile ;; esac

cargo build --quiet --profile "$profile" --bin kms-openssl --example serve_bench
bin=target/$out/kms-openssl
bench=target/$out/examples/serve_bench

work=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

start_server() {
  "$bin" serve --listen 127.0.0.1:0 --state-dir "$work/state" >"$work/out" 2>"$work/server.log" &
  server_pid=$!
  for _ in $(seq 100); do
    endpoint=$(sed -n 's/^kms-openssl serve: listening on //p' "$work/out")
    if [ -n "$endpoint" ]; then
      # serve prints the administrator's credentials as `export` lines before the endpoint line.
      eval "$(grep '^export AWS_ACCESS_KEY_ID=' "$work/server.log")"
      return 0
    fi
    sleep 0.1
  done
  echo "serve did not start; log:" >&2
  cat "$work/server.log" >&2
  exit 1
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$server_pid/status"; }
hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$server_pid/status"; }

start_server
echo "# kms-openssl serve at $endpoint ($profile build, $(nproc) cores, $(openssl version))"
echo "# idle RSS: $(rss_kib) KiB"
"$bench" sign "$endpoint" RSA_2048 RSASSA_PKCS1_V1_5_SHA_256 "$clients" "$seconds"
"$bench" sign "$endpoint" ECC_NIST_P256 ECDSA_SHA_256 "$clients" "$seconds"

# The same load against moto (the usual emulator), for the ">= 20x moto" target.
if [ -z "${SKIP_MOTO:-}" ]; then
  moto_ep=$(interop-tests/local-kms.sh start)
  echo "# moto at $moto_ep (same clients, same load)"
  AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "$bench" sign "$moto_ep" RSA_2048 RSASSA_PKCS1_V1_5_SHA_256 "$clients" "$seconds"
  AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "$bench" sign "$moto_ep" ECC_NIST_P256 ECDSA_SHA_256 "$clients" "$seconds"
  interop-tests/local-kms.sh stop
fi

echo "# openssl speed -multi $multi -seconds $seconds rsa2048 ecdsap256"
openssl speed -multi "$multi" -seconds "$seconds" rsa2048 ecdsap256 2>/dev/null | grep -E '^(rsa 2048|[[:space:]]*256 bits ecdsa)|sign/s' || true

echo "# RSS with $keys $key_spec keys"
"$bench" keys "$endpoint" "$key_spec" "$keys" "$clients"
echo "# server RSS after creating and signing with every key: $(rss_kib) KiB (peak $(hwm_kib) KiB)"
