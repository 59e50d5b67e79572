#!/usr/bin/env bash
# t_proxy_fetch.sh - the explicit proxy port's own endpoints.  GET
# /fetch?url= fetches an allowed http:// URL for the caller (agent uid and
# non-agent uid) and answers JSON {url, status_code, content_type, content,
# blocked:false}; the fake key in the URL or a blocklisted host is 403 JSON
# {blocked:true, block_reason} with the URL redacted and the upstream saw
# nothing; POST is 405, no url 400, a non-http scheme 400.  https:// URLs
# are fetched over TLS verified against the trust store (SSL_CERT_FILE: the
# test CA).  GET /health is 200 JSON; GET /metrics passes the strict
# Prometheus text-format check and its request counters move with traffic.
set -eu
. tests/integration/lib.sh
. tests/integration/helpers/http.sh
. tests/integration/helpers/proxy.sh

# the engine's TLS client trusts the system store; here, the test CA
PROXY_TRUST_TEST_CA=1
proxy_up true

jget() { "$PY" -c 'import json,sys; d=json.load(sys.stdin); v=d.get(sys.argv[1]); print(json.dumps(v) if isinstance(v,bool) else v)' "$1"; }
status() { # UIDFN curl-args -> status code
	local who=$1
	shift
	"$who" curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "$@" 2>&1 || true
}
metric() { # SERIES -> value (0 when absent)
	as_other curl -sS --max-time 5 "http://$PROXY/metrics" | awk -v s="$1" '$1 == s { v = $2 } END { print v + 0 }'
}

allowed0=$(metric 'pipelock_requests_total{result="allowed",agent="anonymous"}')
blocked0=$(metric 'pipelock_requests_total{result="blocked",agent="anonymous"}')

for who in as_agent as_other; do
	out=$("$who" curl -sS --max-time 10 "http://$PROXY/fetch?url=http://allowed.test/fetch-ok-$who" 2>&1) ||
		fail "fetch ($who): $out"
	[[ $(jget blocked <<<"$out") == false ]] || fail "fetch ($who): $out"
	[[ $(jget status_code <<<"$out") == 200 ]] || fail "fetch status ($who): $out"
	[[ $(jget content_type <<<"$out") == text/plain ]] || fail "fetch content_type ($who): $out"
	[[ $(jget content <<<"$out") == "ok GET /fetch-ok-$who" ]] || fail "fetch content ($who): $out"
	[[ $(jget url <<<"$out") == "http://allowed.test/fetch-ok-$who" ]] || fail "fetch url ($who): $out"
	[[ $(up_req_field "/fetch-ok-$who" headers) == *'"user-agent": "Pipelock Fetch/1.0"'* ]] ||
		fail "fetch did not send fetch_proxy.user_agent ($who)"

	# percent-encoded url parameter (curl -G --data-urlencode)
	out=$("$who" curl -sS --max-time 10 -G --data-urlencode "url=http://allowed.test/fetch-enc-$who?a=1&b=2" \
		"http://$PROXY/fetch" 2>&1) || fail "fetch encoded ($who): $out"
	[[ $(jget content <<<"$out") == "ok GET /fetch-enc-$who?a=1&b=2" ]] || fail "fetch encoded ($who): $out"

	c=$(status "$who" "http://$PROXY/fetch?url=http://allowed.test/leak-f-$who?key=$SECRET")
	[[ $c == 403 ]] || fail "fetch of a URL with a secret ($who): $c"
	out=$("$who" curl -sS --max-time 10 "http://$PROXY/fetch?url=http://allowed.test/leak-f2-$who?key=$SECRET" 2>&1) || true
	[[ $(jget blocked <<<"$out") == true ]] || fail "blocked fetch JSON ($who): $out"
	[[ -n $(jget block_reason <<<"$out") ]] || fail "no block_reason ($who): $out"
	[[ $out != *"$SECRET"* && $out == *'[redacted]'* ]] || fail "blocked fetch echoes the secret ($who): $out"
	c=$(status "$who" "http://$PROXY/fetch?url=http://blocked.test/leak-fd-$who")
	[[ $c == 403 ]] || fail "fetch of a blocklisted host ($who): $c"

	c=$(status "$who" -X POST "http://$PROXY/fetch?url=http://allowed.test/x")
	[[ $c == 405 ]] || fail "POST /fetch ($who): $c"
	c=$(status "$who" "http://$PROXY/fetch")
	[[ $c == 400 ]] || fail "/fetch without url ($who): $c"
	c=$(status "$who" "http://$PROXY/fetch?url=ftp://allowed.test/x")
	[[ $c == 400 ]] || fail "/fetch ftp ($who): $c"
	# https: verified against the trust store, SNI and host name checked
	out=$("$who" curl -sS --max-time 10 "http://$PROXY/fetch?url=https://allowed.test/fetch-tls-$who" 2>&1) ||
		fail "https fetch ($who): $out"
	[[ $(jget content <<<"$out") == "ok GET /fetch-tls-$who" ]] || fail "https fetch ($who): $out"
	[[ $(jget status_code <<<"$out") == 200 ]] || fail "https fetch status ($who): $out"
	c=$(status "$who" "http://$PROXY/fetch?url=https://allowed.test/leak-tls-$who?key=$SECRET")
	[[ $c == 403 ]] || fail "https fetch of a URL with a secret ($who): $c"
	c=$(status "$who" "http://$PROXY/nowhere")
	[[ $c == 404 ]] || fail "unknown path ($who): $c"
done
n=$(up_requests "/leak-")
((n == 0)) || fail "upstream got $n refused fetch(es)"
! upstream_saw "$SECRET" || fail "the upstream saw the key"

# /health
out=$(as_agent curl -sS --max-time 5 -w '\n%{http_code}' "http://$PROXY/health")
[[ ${out##*$'\n'} == 200 ]] || fail "/health: $out"
body=${out%$'\n'*}
[[ $(jget status <<<"$body") == healthy ]] || fail "/health body: $body"
[[ $(jget forward_proxy_enabled <<<"$body") == true ]] || fail "/health forward_proxy_enabled: $body"
[[ $(jget firewall_installed <<<"$body") == true ]] || fail "/health firewall_installed: $body"

# /metrics: strict format, the counters moved
as_other curl -sS --max-time 5 "http://$PROXY/metrics" >"$TEST_TMP/metrics.txt"
"$PY" "$INTEG_DIR/helpers/promcheck.py" --require pipelock_requests_total \
	--require pipelock_blocks_total --require pipelock_connections_open "$TEST_TMP/metrics.txt" >/dev/null ||
	fail "/metrics is not valid Prometheus text"
allowed1=$(metric 'pipelock_requests_total{result="allowed",agent="anonymous"}')
blocked1=$(metric 'pipelock_requests_total{result="blocked",agent="anonymous"}')
((allowed1 >= allowed0 + 4)) || fail "allowed counter: $allowed0 -> $allowed1"
((blocked1 >= blocked0 + 6)) || fail "blocked counter: $blocked0 -> $blocked1"
grep -q '^pipelock_blocks_total{reason="dlp",transport="fetch"} [1-9]' "$TEST_TMP/metrics.txt" ||
	fail "no fetch DLP block in pipelock_blocks_total: $(grep blocks_total "$TEST_TMP/metrics.txt")"

wait_until 5 audit_has '"event":"fetch"' '"verdict":"allow"' 'fetch-ok-as_agent' || fail "no fetch allow audit line"
wait_until 5 audit_has '"event":"fetch"' '"verdict":"block"' '"status":403' || fail "no fetch block audit line"
! grep -q -- "$SECRET" "$TEST_TMP/audit.log" || fail "the audit log holds the secret"

# admin operations on the proxy port: never from an agent uid
c=$(status as_agent -X POST -d '{"active":true}' "http://$PROXY/api/v1/killswitch")
[[ $c == 403 ]] || fail "kill switch API from the agent uid on the proxy port: $c"
c=$(status as_other -X POST -d '{"active":true}' "http://$PROXY/api/v1/killswitch")
[[ $c == 503 ]] || fail "kill switch API without a token configured: $c (want 503)"

# kill switch (SIGUSR1): every proxied request 503 JSON, /health still answers
kill -USR1 "$ENGINE_PID"
ks_on() { [[ $(status as_agent "http://$PROXY/fetch?url=http://allowed.test/ks-probe") == 503 ]]; }
wait_until 5 ks_on || fail "kill switch did not stop /fetch"
out=$(as_agent curl -sS --max-time 5 -x "http://$PROXY" "http://allowed.test/ks-fwd" 2>&1) || true
[[ $out == *'"error":"kill_switch_active"'* ]] || fail "forward request under the kill switch: $out"
out=$(as_agent curl -sS --max-time 5 "http://$PROXY/health")
[[ $out == *'"kill_switch_active":true'* ]] || fail "/health under the kill switch: $out"
kill -USR1 "$ENGINE_PID"
wait_until 5 eval '! ks_on' || fail "kill switch did not turn off"
[[ $(up_requests /ks-fwd) == 0 ]] || fail "upstream got a request under the kill switch"
log "PASS t_proxy_fetch"
