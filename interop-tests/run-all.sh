#!/usr/bin/env bash
# The test command (README "Run the tests"): every unit, integration and interop test of both
# products (the CLI/library and the OpenSSL provider), first against the system OpenSSL, then the
# CLI against the vendored OpenSSL 3.x (`--features vendored`), where ML-DSA and Ed25519ph run.
# Peers: the openssl CLI, a .venv with moto, the AWS CLI v1 and pyca/cryptography (created here
# from interop-tests/requirements.txt), and Debian 13's OpenSSL 3.5 in target/openssl-3.5 for the
# provider (interop-tests/setup-openssl35.sh).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export AWS_EC2_METADATA_DISABLED=true

command -v openssl >/dev/null || { echo "run-all: the openssl CLI is missing: apt-get install openssl" >&2; exit 1; }
for tool in rustfmt cargo-clippy; do
  command -v "$tool" >/dev/null || { echo "run-all: $tool is missing: rustup component add rustfmt clippy" >&2; exit 1; }
done
interop-tests/setup-peers.sh

# Every cargo test's output also goes to this log; the last line sums its "test result:" lines.
mkdir -p "$root/target"
log="$root/target/run-all.log"
: >"$log"
serve_pid=
finish() {
  local code=$?
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null
  interop-tests/local-kms.sh stop >/dev/null 2>&1 || true
  awk -v code="$code" '
    /^test result:/ { n++; for (i = 2; i <= NF; i++) {
      if ($i == "passed;") p += $(i-1); if ($i == "failed;") f += $(i-1); if ($i == "ignored;") g += $(i-1) } }
    END { printf "run-all: %d passed, %d failed, %d ignored in %d test binaries; exit %d (log: %s)\n", p, f, g, n, code, FILENAME }' "$log"
}
trap finish EXIT

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --quiet --all-targets -- -D warnings

echo "== cargo test, both packages (system OpenSSL: $(openssl version))"
cargo test --no-fail-fast 2>&1 | tee -a "$log"

echo "== the issue-2 client suite again, against kms-openssl serve instead of moto"
serve_dir=$(mktemp -d)
"$root/target/debug/kms-openssl" serve --listen 127.0.0.1:0 --state-dir "$serve_dir/state" \
  --admin-access-key-id testing --admin-secret-access-key testing >"$serve_dir/out" 2>"$serve_dir/err" &
serve_pid=$!
for _ in $(seq 1 100); do grep -q 'listening on' "$serve_dir/out" 2>/dev/null && break; sleep 0.1; done
endpoint=$(sed -n 's/.*listening on //p' "$serve_dir/out" | head -1)
[ -n "$endpoint" ] || { cat "$serve_dir/err" >&2; echo "run-all: serve did not start" >&2; exit 1; }
KMS_OPENSSL_TEST_ENDPOINT=$endpoint cargo test --no-fail-fast \
  --test reference_workflow --test der_to_pem --test awscli_pipeline --test parity_table --test cli_bad_input \
  2>&1 | tee -a "$log"
kill $serve_pid 2>/dev/null || true
serve_pid=

# The provider is never built vendored: it must link the libcrypto of the process loading it.
# The same target dir as above: only openssl-sys (OpenSSL from source), openssl and this crate are
# built again with the feature; every other dependency (the AWS SDK above all) is reused.
echo "== cargo test -p kms-openssl --features vendored (OpenSSL built from source)"
cargo test --no-fail-fast -p kms-openssl --features vendored --lib --tests \
  2>&1 | tee -a "$log"
