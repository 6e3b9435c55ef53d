#!/usr/bin/env python3
"""Writes a wrk Lua script that replays one SigV4-signed KMS Sign request (issue #16's capacity
benchmark, benches/serve-capacity.sh). SigV4 signatures stay valid for minutes, so one signed
request replayed by wrk measures the server, not the client's signing.

    presign-sign.py ENDPOINT KEY_ID SIGNING_ALGORITHM OUT.lua

Credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (serve's administrator). Region us-east-1.
"""
import base64
import json
import os
import sys

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

endpoint, key_id, algorithm, out = sys.argv[1:5]
body = json.dumps({"KeyId": key_id, "Message": base64.b64encode(b"x" * 32).decode(),
                   "MessageType": "RAW", "SigningAlgorithm": algorithm})
req = AWSRequest(method="POST", url=endpoint + "/", data=body, headers={
    "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.Sign"})
SigV4Auth(Credentials(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]),
          "kms", "us-east-1").add_auth(req)
lua = ["wrk.method = \"POST\"", f"wrk.body = {json.dumps(body)}"]
for k, v in req.headers.items():
    lua.append(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}")
# Count answers that are not 200 (a replay that stopped being accepted would show here).
lua.append("""bad = 0
response = function(status, headers, body) if status ~= 200 then bad = bad + 1 end end
done = function(summary, latency, requests)
  io.write(string.format("non-200 answers: %d (socket errors %d)\\n", bad, summary.errors.status))
end""")
open(out, "w").write("\n".join(lua) + "\n")
