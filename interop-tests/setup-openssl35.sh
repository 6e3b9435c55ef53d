#!/usr/bin/env bash
# A second OpenSSL, 3.5 (ML-DSA), for the provider tests: Debian 13's `openssl` and `libssl3t64`
# packages with the glibc they were built for, unpacked into target/openssl-3.5 and run through
# that glibc's own loader. Nothing is installed on the system.
#
#   target/openssl-3.5/run openssl version          # OpenSSL 3.5.x
#   target/openssl-3.5/run target/debug/kms-openssl serve ...   # our binaries, on libcrypto 3.5
#
# Our binaries and the provider link libcrypto.so.3 by soname, so under `run` they use 3.5's
# (one libcrypto per process). Package names and SHA-256 come from Debian's
# Packages index, so a point release does not break the download; every .deb is checked against
# the index before it is unpacked. Idempotent: does nothing when the runner works.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dest=${KMS_OPENSSL_OPENSSL35_DIR:-$root/target/openssl-3.5}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=trixie
packages=(openssl libssl3t64 libc6 libzstd1 zlib1g)

if [ -x "$dest/run" ] && "$dest/run" openssl version 2>/dev/null | grep -q '^OpenSSL 3\.[5-9]'; then
  exit 0
fi
for tool in curl xz dpkg-deb sha256sum; do
  command -v "$tool" >/dev/null || { echo "setup-openssl35: $tool is missing: apt-get install curl xz-utils dpkg" >&2; exit 1; }
done
[ "$(uname -m)" = x86_64 ] || { echo "setup-openssl35: only x86_64 is set up (uname -m: $(uname -m))" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
curl -fsS --retry 3 -o "$work/Packages.xz" "$mirror/dists/$suite/main/binary-amd64/Packages.xz" \
  || { echo "setup-openssl35: cannot download the $suite package index from $mirror" >&2; exit 1; }
xz -dc "$work/Packages.xz" > "$work/Packages"

rm -rf "$dest.new"
mkdir -p "$dest.new/root"
for pkg in "${packages[@]}"; do
  # The stanza of the package: its pool path and SHA-256.
  read -r file sha < <(awk -v p="$pkg" '
    $0 == "Package: " p { found = 1; next }
    found && /^Filename: / { file = $2 }
    found && /^SHA256: / { sha = $2 }
    found && /^$/ { print file, sha; exit }
  ' "$work/Packages")
  [ -n "${file:-}" ] && [ -n "${sha:-}" ] || { echo "setup-openssl35: $pkg is not in $suite" >&2; exit 1; }
  curl -fsS --retry 3 -o "$work/$pkg.deb" "$mirror/$file"
  echo "$sha  $work/$pkg.deb" | sha256sum -c --quiet - \
    || { echo "setup-openssl35: $pkg.deb does not match the index's SHA-256" >&2; exit 1; }
  dpkg-deb -x "$work/$pkg.deb" "$dest.new/root"
done

lib=$dest.new/root/usr/lib/x86_64-linux-gnu
[ -x "$lib/ld-linux-x86-64.so.2" ] || { echo "setup-openssl35: no dynamic loader in libc6" >&2; exit 1; }
# An empty configuration: the system's openssl.cnf belongs to the system's OpenSSL.
: > "$dest.new/openssl.cnf"
cat > "$dest.new/run" <<EOF
#!/bin/sh
# Runs a command on Debian 13's glibc and OpenSSL 3.5 (interop-tests/setup-openssl35.sh).
# \`run openssl ...\` is that OpenSSL's own openssl binary.
dir=\$(cd "\$(dirname "\$0")" && pwd)
lib=\$dir/root/usr/lib/x86_64-linux-gnu
cmd=\$1; shift
[ "\$cmd" = openssl ] && cmd=\$dir/root/usr/bin/openssl
export OPENSSL_CONF="\${OPENSSL_CONF:-\$dir/openssl.cnf}"
export OPENSSL_MODULES="\${OPENSSL_MODULES:-\$lib/ossl-modules}"
exec "\$lib/ld-linux-x86-64.so.2" --library-path "\$lib" "\$cmd" "\$@"
EOF
chmod +x "$dest.new/run"
rm -rf "$dest"
mv "$dest.new" "$dest"
"$dest/run" openssl version
