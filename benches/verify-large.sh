#!/usr/bin/env bash
# Issue #3 benchmark: hash + verify a large file (default 1 GiB) with `kms-openssl verify` and with
# `openssl dgst -sha512 -verify`, in the same run, alternating, median of N runs each.
# Prints throughput (MB/s) of both, the ratio, and our peak RSS (KiB, from /usr/bin/time -v or
# /proc). Target: ratio >= 0.9, peak RSS <= 32 MiB whatever the size.
#   SIZE_MB=1024 RUNS=5 BIN=target/release/kms-openssl benches/verify-large.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
size_mb=${SIZE_MB:-1024}
runs=${RUNS:-5}
bin=${BIN:-$root/target/release/kms-openssl}
[ -x "$bin" ] || (cd "$root" && cargo build --release --quiet)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 -out "$work/k.pem" 2>/dev/null
openssl pkey -in "$work/k.pem" -pubout -out "$work/pub.pem"
head -c "$((size_mb * 1024 * 1024))" /dev/urandom > "$work/big"
openssl dgst -sha512 -sign "$work/k.pem" -out "$work/big.sig" "$work/big"
cat "$work/big" > /dev/null # warm the page cache for both

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
ours=(); theirs=(); rss=()
for _ in $(seq "$runs"); do
  t0=$(now)
  out=$(/usr/bin/env time -f '%M' -o "$work/rss" "$bin" verify --public-key "$work/pub.pem" --signature "$work/big.sig" --signing-algorithm RSASSA_PKCS1_V1_5_SHA_512 "$work/big")
  t1=$(now)
  [ "$out" = "Verified OK" ] || { echo "kms-openssl said: $out" >&2; exit 1; }
  out=$(openssl dgst -sha512 -verify "$work/pub.pem" -signature "$work/big.sig" "$work/big")
  t2=$(now)
  [ "$out" = "Verified OK" ] || { echo "openssl said: $out" >&2; exit 1; }
  ours+=("$(echo "$t1 - $t0" | bc -l)"); theirs+=("$(echo "$t2 - $t1" | bc -l)"); rss+=("$(cat "$work/rss")")
done
mo=$(printf '%s\n' "${ours[@]}" | median); mt=$(printf '%s\n' "${theirs[@]}" | median)
peak=$(printf '%s\n' "${rss[@]}" | sort -n | tail -1)
printf 'file: %d MiB, runs: %d\n' "$size_mb" "$runs"
printf 'kms-openssl verify:  %.3f s median, %.0f MB/s\n' "$mo" "$(echo "$size_mb * 1.048576 / $mo" | bc -l)"
printf 'openssl dgst -verify: %.3f s median, %.0f MB/s\n' "$mt" "$(echo "$size_mb * 1.048576 / $mt" | bc -l)"
printf 'throughput ratio (ours / openssl): %.2f (target >= 0.90)\n' "$(echo "$mt / $mo" | bc -l)"
printf 'kms-openssl peak RSS: %d KiB (target <= 32768)\n' "$peak"
