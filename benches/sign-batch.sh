#!/usr/bin/env bash
# Issue #7 benchmarks 3 and 4 (whole-process timings, same run):
#  3. signing 200 files against `kms-openssl serve`: one `kms-openssl sign` batch vs the reference
#     pipeline (`aws kms sign ... --output text --query Signature | base64 --decode`, AWS CLI v1)
#     once per file                                                 (target: >= 100x faster)
#  4. 1,000 signatures against `serve --quota 200`: total time vs the ideal 5 s, zero failures
#                                                                   (target: within 15%)
#   FILES=200 BIN=target/release/kms-openssl benches/sign-batch.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
files=${FILES:-200}
quota_files=${QUOTA_FILES:-1000}
quota=${QUOTA:-200}
bin=${BIN:-$root/target/release/kms-openssl}
[ -x "$bin" ] || (cd "$root" && cargo build --release --quiet)
"$root/interop-tests/setup-peers.sh"
aws=${AWS_CLI:-$root/.venv/bin/aws}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
cd "$work"

start_serve() { # $1: state dir, rest: extra flags; prints the endpoint
  local dir=$1; shift
  "$bin" serve --listen 127.0.0.1:0 --state-dir "$dir" "$@" > "$dir.out" 2> "$dir.err" &
  pids+=($!)
  for _ in $(seq 1 100); do
    if grep -q 'listening on' "$dir.out" 2>/dev/null; then sed -n 's/.*listening on //p' "$dir.out" | head -1; return; fi
    sleep 0.1
  done
  echo "serve did not start: $(cat "$dir.err")" >&2; exit 1
}

export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
ep=$(start_serve "$work/s1")
# serve prints the administrator's credentials (created in its state dir) as `export` lines.
eval "$(grep '^export AWS_ACCESS_KEY_ID=' "$work/s1.err")"
export AWS_ENDPOINT_URL_KMS=$ep
key=$("$bin" create-key --key-spec RSA_2048 --key-usage SIGN_VERIFY)
mkdir f
for i in $(seq -w 1 "$files"); do printf 'artifact %s\n' "$i" > "f/a$i.txt"; done
ls f/*.txt > manifest

now() { date +%s%N; }
t0=$(now)
"$bin" sign --quiet --key-id "$key" --signing-algorithm RSASSA_PKCS1_V1_5_SHA_256 --manifest manifest > /dev/null
t1=$(now)
for f in f/*.txt; do
  "$aws" kms sign --key-id "$key" --message-type RAW --signing-algorithm RSASSA_PKCS1_V1_5_SHA_256 \
    --message "fileb://$f" --output text --query Signature | base64 --decode > "$f.cli.sig"
done
t2=$(now)
ours=$(( (t1 - t0) / 1000000 )); theirs=$(( (t2 - t1) / 1000000 ))
printf '3. %d files against serve: kms-openssl sign batch %d ms, AWS CLI v1 per file %d ms, speed-up %.0fx (target >= 100x)\n' \
  "$files" "$ours" "$theirs" "$(echo "$theirs / $ours" | bc -l)"

ep2=$(start_serve "$work/s2" --quota "$quota")
eval "$(grep '^export AWS_ACCESS_KEY_ID=' "$work/s2.err")"
export AWS_ENDPOINT_URL_KMS=$ep2
key2=$("$bin" create-key --key-spec ECC_NIST_P256 --key-usage SIGN_VERIFY)
mkdir g
for i in $(seq -w 1 "$quota_files"); do printf 'artifact %s\n' "$i" > "g/a$i.txt"; done
ls g/*.txt > manifest2
ideal=$(echo "$quota_files / $quota" | bc -l)
t0=$(now)
set +e
"$bin" sign --quiet --key-id "$key2" --signing-algorithm ECDSA_SHA_256 --manifest manifest2 --max-rps "$quota" > sign2.out 2> sign2.err
code=$?
set -e
t1=$(now)
secs=$(echo "($t1 - $t0) / 1000000000" | bc -l)
failed=$(grep -c '^error:' sign2.err || true)
printf '4. %d signatures against serve --quota %d: %.2f s (ideal %.2f s, %+.1f%%), exit %d, %d failed (target: within 15%%, 0 failed)\n' \
  "$quota_files" "$quota" "$secs" "$ideal" "$(echo "($secs / $ideal - 1) * 100" | bc -l)" "$code" "$failed"
