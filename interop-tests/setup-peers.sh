#!/usr/bin/env bash
# Creates .venv with the interop peers (moto, AWS CLI v1, pyca/cryptography) pinned in
# interop-tests/requirements.txt, and target/openssl-3.5 (a second OpenSSL, for the provider
# tests; interop-tests/setup-openssl35.sh). Idempotent: reinstalls only what changed.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/interop-tests/setup-openssl35.sh" >/dev/null
venv=${KMS_OPENSSL_VENV:-$root/.venv}
req=$root/interop-tests/requirements.txt
stamp=$venv/.requirements.sha256
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$venv/bin/aws" ]; then
  exit 0
fi
command -v python3 >/dev/null || { echo "setup-peers: python3 is missing: apt-get install python3 python3-venv" >&2; exit 1; }
[ -x "$venv/bin/python" ] || python3 -m venv "$venv" || { echo "setup-peers: cannot create $venv: apt-get install python3-venv" >&2; exit 1; }
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"
echo "$want" > "$stamp"
