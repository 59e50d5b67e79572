#!/usr/bin/env bash
# t_http_clients.sh - real HTTP clients as the agent, each through the
# transparent engine: curl, wget, Python urllib, Node.js fetch.  An allowed
# request gets the upstream's answer; a request carrying a secret (query
# or header) gets 403, and the upstream never saw the secret.
set -eu
. tests/integration/lib.sh
. tests/integration/helpers/tproxy.sh
. tests/integration/helpers/http.sh

need_cmd wget node
tproxy_up

U="http://allowed.test"

# curl
out=$(as_agent curl -4 -sS --max-time 10 "$U/cl-curl" 2>&1) || fail "curl: $out"
[[ $out == "ok GET /cl-curl" ]] || fail "curl: '$out'"
c=$(as_agent curl -4 -sS --max-time 10 -o /dev/null -w '%{http_code}' "$U/cl-curl-leak?k=$SECRET" 2>&1) || true
[[ $c == 403 ]] || fail "curl with a secret: $c"

# wget
out=$(as_agent wget -4 -q -O - --timeout=10 --tries=1 "$U/cl-wget" 2>&1) || fail "wget: $out"
[[ $out == "ok GET /cl-wget" ]] || fail "wget: '$out'"
rc=0
out=$(as_agent wget -4 -S -O /dev/null --timeout=10 --tries=1 --header="Authorization: Bearer $SECRET" \
	"$U/cl-wget-leak" 2>&1) || rc=$?
((rc == 8)) || fail "wget with a secret: rc $rc (want 8, server error): $out"
[[ $out == *"HTTP/1.1 403 Forbidden"* ]] || fail "wget with a secret: no 403: $out"

# Python urllib
py_get() {
	as_agent "$PY" -c '
import sys, urllib.request, urllib.error
req = urllib.request.Request(sys.argv[1], headers=dict(h.split(": ", 1) for h in sys.argv[2:]))
try:
    with urllib.request.urlopen(req, timeout=10) as r:
        print(r.status, r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode())
' "$@" 2>&1
}
out=$(py_get "$U/cl-py") || fail "urllib: $out"
[[ $out == "200 ok GET /cl-py" ]] || fail "urllib: '$out'"
out=$(py_get "$U/cl-py-leak" "X-Api-Key: $SECRET2") || true
[[ $out == "403 blocked by pipelock-fw: "* ]] || fail "urllib with a secret: '$out'"
out=$(as_agent "$PY" -c '
import sys, urllib.request
d = sys.argv[2].encode()
with urllib.request.urlopen(urllib.request.Request(sys.argv[1], data=d), timeout=10) as r:
    print(r.status, r.read().decode())
' "$U/cl-py-post" "hello=world" 2>&1) || fail "urllib POST: $out"
[[ $out == "200 ok POST /cl-py-post" ]] || fail "urllib POST: '$out'"

# Node.js fetch (undici)
node_fetch() {
	as_agent env HOME="$AGENT_TMP" node -e '
const [url, body] = process.argv.slice(1);
const opt = body ? { method: "POST", body, headers: { "content-type": "application/json" } } : {};
fetch(url, opt).then(async r => { console.log(r.status + " " + (await r.text()).trim()); })
  .catch(e => { console.log("ERROR " + e.message + " " + (e.cause ? e.cause.code : "")); });
' "$@" 2>&1
}
out=$(node_fetch "$U/cl-node") || fail "node fetch: $out"
[[ $out == "200 ok GET /cl-node" ]] || fail "node fetch: '$out'"
out=$(node_fetch "$U/cl-node-leak" "{\"api_key\":\"$SECRET\"}") || true
[[ $out == "403 blocked by pipelock-fw: "* ]] || fail "node fetch POST with a secret: '$out'"
out=$(node_fetch "$U/cl-node-post" '{"hello":"world"}') || fail "node fetch POST: $out"
[[ $out == "200 ok POST /cl-node-post" ]] || fail "node fetch POST: '$out'"

for p in cl-curl cl-wget cl-py cl-node; do
	[[ $(up_requests "/$p") -ge 1 ]] || fail "$p: upstream saw no request"
	[[ $(up_requests "/$p-leak") == 0 ]] || fail "$p: the request with a secret reached the upstream"
done
! upstream_saw "$SECRET" || fail "the upstream saw the key"
! upstream_saw "$SECRET2" || fail "the upstream saw the AWS key"
log "PASS t_http_clients"
