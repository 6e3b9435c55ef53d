#!/usr/bin/env bash
# Capacity of `kms-openssl serve` with the client out of the way (issue #16): the server pinned to
# core 0, wrk pinned to core 1 replaying one pre-signed Sign request (benches/presign-sign.py) on
# CONNECTIONS keep-alive connections, for RSA_2048 RSASSA_PKCS1_V1_5_SHA_256 and ECC_NIST_P256
# ECDSA_SHA_256; next to `openssl speed` pinned to the same core 0 (`-multi 1`), and the ratio.
# Then the same with 8 aws-sdk-kms clients on core 1 (examples/serve_bench.rs) for realism.
#
#   benches/serve-capacity.sh                          # release build, 10 s per run
#   PROFILE=dev SECONDS_PER_RUN=3 benches/serve-capacity.sh
#
# Targets: P-256 Sign >= 50% and RSA_2048 Sign >= 90% of openssl speed's sign rate on that core.
# Needs wrk (apt-get install wrk) and taskset (util-linux), and the .venv (botocore) that
# interop-tests/setup-peers.sh creates. All traffic is to 127.0.0.1.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

profile=${PROFILE:-release}
seconds=${SECONDS_PER_RUN:-10}
connections=${CONNECTIONS:-8}
python=${KMS_OPENSSL_VENV:-.venv}/bin/python
case "$profile" in dev) out=debug ;; *) out=$profile ;; esac
command -v wrk >/dev/null || { echo "serve-capacity: wrk is missing: apt-get install wrk" >&2; exit 1; }
command -v taskset >/dev/null || { echo "serve-capacity: taskset is missing: apt-get install util-linux" >&2; exit 1; }
[ -x "$python" ] || { echo "serve-capacity: $python is missing: interop-tests/setup-peers.sh creates it" >&2; exit 1; }
[ "$(nproc)" -ge 2 ] || { echo "serve-capacity: needs 2 cores (server on one, load on the other)" >&2; exit 1; }

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

taskset -c 0 "$bin" serve --listen 127.0.0.1:0 --state-dir "$work/state" >"$work/out" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do
  endpoint=$(sed -n 's/^kms-openssl serve: listening on //p' "$work/out")
  [ -n "$endpoint" ] && break
  sleep 0.1
done
[ -n "$endpoint" ] || { cat "$work/server.log" >&2; exit 1; }
eval "$(grep '^export AWS_ACCESS_KEY_ID=' "$work/server.log")"
export AWS_ENDPOINT_URL_KMS=$endpoint AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true

echo "# kms-openssl serve at $endpoint pinned to core 0 ($profile build, $(openssl version))"
declare -A speed
speed_line=$(taskset -c 0 openssl speed -seconds "$seconds" rsa2048 ecdsap256 2>/dev/null)
speed[RSA_2048]=$(awk '/^rsa 2048 bits/ {print $6}' <<<"$speed_line")
speed[ECC_NIST_P256]=$(awk '/256 bits ecdsa \(nistp256\)/ {print $7}' <<<"$speed_line")
echo "# openssl speed on core 0: rsa2048 ${speed[RSA_2048]} sign/s, ecdsap256 ${speed[ECC_NIST_P256]} sign/s"

for case in "RSA_2048 RSASSA_PKCS1_V1_5_SHA_256" "ECC_NIST_P256 ECDSA_SHA_256"; do
  set -- $case
  key=$("$python" -c "
import boto3; print(boto3.client('kms').create_key(KeySpec='$1', KeyUsage='SIGN_VERIFY')['KeyMetadata']['KeyId'])")
  "$python" benches/presign-sign.py "$endpoint" "$key" "$2" "$work/sign.lua"
  result=$(taskset -c 1 wrk -t1 -c"$connections" -d"${seconds}s" -s "$work/sign.lua" "$endpoint/")
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$result")
  grep -E 'non-200|Latency' <<<"$result" | sed 's/^/#   /'
  awk -v s="$1" -v r="$rps" -v o="${speed[$1]}" \
    'BEGIN { printf "wrk Sign %s: %.0f requests/s = %.1f%% of openssl speed on that core (%.0f/s)\n", s, r, 100 * r / o, o }'
done

echo "# the same with 8 aws-sdk-kms clients on core 1"
for case in "RSA_2048 RSASSA_PKCS1_V1_5_SHA_256" "ECC_NIST_P256 ECDSA_SHA_256"; do
  set -- $case
  taskset -c 1 "$bench" sign "$endpoint" "$1" "$2" 8 "$seconds"
done
