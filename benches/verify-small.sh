#!/usr/bin/env bash
# Issue #7 benchmarks 1 and 2 (whole-process timings, medians, both sides in the same run):
#  1. one small file: `kms-openssl verify` vs `openssl dgst -sha512 -verify`   (target: ratio <= 1.0)
#  2. 1,000 small files: one `kms-openssl verify --manifest` vs a shell loop of 1,000
#     `openssl dgst` processes                                                  (target: >= 25x faster)
#   RUNS=21 FILES=1000 BIN=target/release/kms-openssl benches/verify-small.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-21}
files=${FILES:-1000}
bin=${BIN:-$root/target/release/kms-openssl}
[ -x "$bin" ] || (cd "$root" && cargo build --release --quiet)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 -out k.pem 2>/dev/null
openssl pkey -in k.pem -pubout -out pub.pem
mkdir f
for i in $(seq -w 1 "$files"); do
  printf 'artifact %s\n' "$i" > "f/a$i.txt"
done
# Sign in one openssl process per file only once, outside the timings.
for f in f/*.txt; do openssl dgst -sha512 -sign k.pem -out "$f.sig" "$f"; done
ls f/*.txt > manifest
one=f/a$(printf "%0${#files}d" 1).txt

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

ours=(); theirs=()
for _ in $(seq "$runs"); do
  t0=$(now); "$bin" verify --public-key pub.pem --signature "$one.sig" --signing-algorithm -sha512 "$one" >/dev/null
  t1=$(now); openssl dgst -sha512 -verify pub.pem -signature "$one.sig" "$one" >/dev/null
  t2=$(now); ours+=($((t1 - t0))); theirs+=($((t2 - t1)))
done
mo=$(printf '%s\n' "${ours[@]}" | median); mt=$(printf '%s\n' "${theirs[@]}" | median)
printf '1. one small file (median of %d): kms-openssl %.2f ms, openssl dgst %.2f ms, ratio %.2f (target <= 1.00)\n' \
  "$runs" "$(echo "$mo / 1000000" | bc -l)" "$(echo "$mt / 1000000" | bc -l)" "$(echo "$mo / $mt" | bc -l)"

bruns=${BATCH_RUNS:-5}
ours=(); theirs=()
for _ in $(seq "$bruns"); do
  t0=$(now); "$bin" verify --manifest manifest --public-key pub.pem --signing-algorithm RSASSA_PKCS1_V1_5_SHA_512 >/dev/null
  t1=$(now); for f in f/*.txt; do openssl dgst -sha512 -verify pub.pem -signature "$f.sig" "$f" >/dev/null; done
  t2=$(now); ours+=($((t1 - t0))); theirs+=($((t2 - t1)))
done
mo=$(printf '%s\n' "${ours[@]}" | median); mt=$(printf '%s\n' "${theirs[@]}" | median)
printf '2. %d small files (median of %d): kms-openssl --manifest %.1f ms, openssl loop %.1f ms, speed-up %.1fx (target >= 25x)\n' \
  "$files" "$bruns" "$(echo "$mo / 1000000" | bc -l)" "$(echo "$mt / 1000000" | bc -l)" "$(echo "$mt / $mo" | bc -l)"
