#!/usr/bin/env bash
# The test command (README "Run the tests"): every unit, integration and interop test, first
# against the system OpenSSL, then against the vendored OpenSSL 3.x (`--features vendored`),
# where ML-DSA and Ed25519ph run. Peers: the openssl CLI, and a .venv with moto, the AWS CLI v1
# and pyca/cryptography (created here from interop-tests/requirements.txt).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export AWS_EC2_METADATA_DISABLED=true

command -v openssl >/dev/null || { echo "run-all: the openssl CLI is missing: apt-get install openssl" >&2; exit 1; }
interop-tests/setup-peers.sh
trap 'interop-tests/local-kms.sh stop >/dev/null 2>&1 || true' EXIT

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --quiet --all-targets -- -D warnings

echo "== cargo test (system OpenSSL: $(openssl version))"
cargo test --no-fail-fast

echo "== cargo test --features vendored (OpenSSL built from source)"
CARGO_TARGET_DIR="$root/target/vendored" cargo test --no-fail-fast --features vendored --lib --tests
