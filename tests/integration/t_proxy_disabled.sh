#!/usr/bin/env bash
# t_proxy_disabled.sh - forward_proxy.enabled: false (pipelock's default):
# an absolute-form request is 405 "forward proxy not enabled" and CONNECT
# 405 "CONNECT not supported", for the agent and a non-agent uid, and the
# upstream saw nothing; /fetch and /health still answer.  `run --listen`
# moves the port (fetch_proxy.listen is overridden).  An https /fetch whose
# upstream certificate is not trusted is 502.
set -eu
. tests/integration/lib.sh
. tests/integration/helpers/http.sh
. tests/integration/helpers/proxy.sh

proxy_up false

for who in as_agent as_other; do
	out=$("$who" curl -sS --max-time 10 -w '\n%{http_code}' -x "http://$PROXY" \
		"http://allowed.test/fwd-off-$who" 2>&1) || true
	[[ ${out##*$'\n'} == 405 ]] || fail "forward request with the forward proxy off ($who): $out"
	[[ $out == "forward proxy not enabled"* ]] || fail "405 body ($who): $out"
	c=$("$who" curl -sS --max-time 10 -o /dev/null -w '%{http_connect}' -x "http://$PROXY" \
		--cacert "$CA_DIR/ca.pem" "https://allowed.test/connect-off-$who" 2>/dev/null) || true
	[[ $c == 405 ]] || fail "CONNECT with the forward proxy off ($who): $c"
	out=$("$who" curl -sS --max-time 10 "http://$PROXY/fetch?url=http://allowed.test/fetch-on-$who" 2>&1) ||
		fail "fetch ($who): $out"
	[[ $out == *'"content":"ok GET /fetch-on-'"$who"'\n"'* ]] || fail "fetch with the forward proxy off ($who): $out"
done
[[ $(up_requests /fwd-off) == 0 && $(up_requests /connect-off) == 0 ]] || fail "upstream got a refused request"
out=$(as_agent curl -sS --max-time 5 "http://$PROXY/health")
[[ $out == *'"forward_proxy_enabled":false'* ]] || fail "/health: $out"

# --listen overrides fetch_proxy.listen
engine_stop
engine_start --config "$PLFW_CONFIG" --listen 127.0.0.1:8899
wait_until 5 eval 'in_host ss -Hltn "sport = :8899" | grep -q .' || fail "--listen: no listener on :8899"
! in_host ss -Hltn "sport = :$PROXY_PORT" | grep -q . || fail "--listen: still listening on :$PROXY_PORT"
out=$(as_other curl -sS --max-time 5 "http://127.0.0.1:8899/health")
[[ $out == *'"status":"healthy"'* ]] || fail "/health on the --listen port: $out"
# https /fetch: an upstream certificate the trust store does not know is 502
out=$(as_other curl -sS --max-time 10 -w '\n%{http_code}' "http://127.0.0.1:8899/fetch?url=https://allowed.test/untrusted" 2>&1) || true
[[ ${out##*$'\n'} == 502 && $out == *certificate* ]] || fail "https fetch with an unknown CA: $out"
[[ $(up_requests /untrusted) == 0 ]] || fail "the request went over an unverified TLS session"
log "PASS t_proxy_disabled"
