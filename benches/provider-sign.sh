#!/usr/bin/env bash
# Issue #12 benchmark (whole-process timings, both sides in one run, against one
# `kms-openssl serve`): 200 files signed
#   A. by `openssl dgst -sha256 -sign kms:alias/bench` through the provider, one openssl process
#      per file (what a script that used `openssl dgst -sign key.pem` does after moving to KMS);
#   B. by one `kms-openssl sign` batch over the same files.
# Prints milliseconds per signature for each, and the peak RSS of the openssl processes (the
# largest over the 200, from /usr/bin/time). Every signature is verified with stock openssl.
#
#   FILES=200 KEY_SPEC=RSA_2048 benches/provider-sign.sh     # release builds
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
files=${FILES:-200}
key_spec=${KEY_SPEC:-RSA_2048}
case "$key_spec" in RSA_*) alg=RSASSA_PKCS1_V1_5_SHA_256 ;; *) alg=ECDSA_SHA_256 ;; esac
(cd "$root" && cargo build --release --quiet -p kms-openssl -p kms-openssl-provider)
bin=$root/target/release/kms-openssl
lib=$root/target/release/libkms_openssl_provider.so
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time: apt-get install time" >&2; exit 1; }

work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
cd "$work"
mkdir providers files
ln -s "$lib" providers/kms_openssl.so

"$bin" serve --listen 127.0.0.1:0 --state-dir "$work/state" >serve.out 2>serve.err &
pid=$!
for _ in $(seq 1 100); do grep -q 'listening on' serve.out 2>/dev/null && break; sleep 0.1; done
eval "$(grep '^export AWS_ACCESS_KEY_ID=' serve.err)"
export AWS_ENDPOINT_URL_KMS=$(sed -n 's/.*listening on //p' serve.out | head -1)
export AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
"$bin" create-key --key-spec "$key_spec" --key-usage SIGN_VERIFY --alias alias/bench >/dev/null
"$bin" get-public-key --key-id alias/bench --out-pem bench.pem >/dev/null 2>&1
for i in $(seq 1 "$files"); do head -c $((1000 + i * 37)) /dev/urandom > "files/f$i"; done

now_ms() { date +%s%3N; }

# A: one openssl process per file, through the provider.
t0=$(now_ms)
for i in $(seq 1 "$files"); do
  /usr/bin/time -f '%M' -a -o rss.txt openssl dgst -sha256 \
    -provider-path providers -provider default -provider kms_openssl \
    -sign kms:alias/bench -out "files/f$i.ossl.sig" "files/f$i"
done
t1=$(now_ms)

# B: one kms-openssl batch.
mkdir sigs
"$bin" sign --quiet --key-id alias/bench --signing-algorithm "$alg" --public-key bench.pem \
  --out-dir sigs $(for i in $(seq 1 "$files"); do echo "files/f$i"; done) >/dev/null
t2=$(now_ms)

bad=0
for i in $(seq 1 "$files"); do
  openssl dgst -sha256 -verify bench.pem -signature "files/f$i.ossl.sig" "files/f$i" >/dev/null || bad=$((bad + 1))
done
peak=$(sort -n rss.txt | tail -1)
echo "# $files files, $key_spec / $alg, $(nproc) cores, $(openssl version)"
awk -v a=$((t1 - t0)) -v b=$((t2 - t1)) -v n="$files" -v peak="$peak" -v bad="$bad" 'BEGIN {
  printf "A openssl dgst -sign kms: (provider), one process per file: %.1f ms/signature (%d ms total)\n", a / n, a
  printf "B kms-openssl sign, one batch:                          %.1f ms/signature (%d ms total)\n", b / n, b
  printf "openssl peak RSS (largest of %d processes): %.1f MiB\n", n, peak / 1024
  printf "provider signatures that failed stock verification: %d\n", bad
}'
