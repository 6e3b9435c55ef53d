#!/usr/bin/env bash
# A moto KMS endpoint on 127.0.0.1, for the client-side tests (see docs/emulators.md for
# where moto is and is not faithful to KMS).
#
#   interop-tests/local-kms.sh start   # venv (.venv) + moto[server] if missing, start, wait, print endpoint
#   interop-tests/local-kms.sh env     # print `export ...` lines for the running endpoint
#   interop-tests/local-kms.sh stop    # stop only the moto_server this script started
#
# State (pid, port, log) lives in $LOCAL_KMS_DIR (default: target/local-kms).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${KMS_OPENSSL_VENV:-$root/.venv}
state=${LOCAL_KMS_DIR:-$root/target/local-kms}

die() { echo "local-kms: $*" >&2; exit 1; }

ensure_venv() {
  "$root/interop-tests/setup-peers.sh" >&2 || die "could not set up $venv"
}

free_port() {
  "$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

running() { [ -f "$state/pid" ] && kill -0 "$(cat "$state/pid")" 2>/dev/null; }

answers() {
  # A real KMS call (ListKeys) must answer, not just the port.
  "$venv/bin/python" - "$1" <<'PY' >/dev/null 2>&1
import json, sys, urllib.request
req = urllib.request.Request(sys.argv[1] + "/", data=b"{}", method="POST", headers={
    "X-Amz-Target": "TrentService.ListKeys", "Content-Type": "application/x-amz-json-1.1",
    "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=0"})
json.load(urllib.request.urlopen(req, timeout=2))
PY
}

endpoint() { echo "http://127.0.0.1:$(cat "$state/port")"; }

case "${1:-}" in
  start)
    ensure_venv
    mkdir -p "$state"
    if running; then endpoint; exit 0; fi
    port=$(free_port)
    "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$state/log" 2>&1 &
    echo $! >"$state/pid"
    echo "$port" >"$state/port"
    for _ in $(seq 1 150); do
      if answers "http://127.0.0.1:$port"; then endpoint; exit 0; fi
      kill -0 "$(cat "$state/pid")" 2>/dev/null || { cat "$state/log" >&2; die "moto_server exited"; }
      sleep 0.2
    done
    die "moto_server did not answer a KMS call within 30 s (log: $state/log)"
    ;;
  env)
    running || die "not running; run: $0 start"
    echo "export AWS_ENDPOINT_URL_KMS=$(endpoint)"
    echo "export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_EC2_METADATA_DISABLED=true"
    ;;
  stop)
    if running; then kill "$(cat "$state/pid")"; fi
    rm -f "$state/pid" "$state/port"
    ;;
  *)
    echo "usage: $0 start|env|stop" >&2; exit 2 ;;
esac
