#!/usr/bin/env bash
# t_proxy_forward.sh - the explicit proxy port as an HTTP forward proxy
# (`curl -x http://127.0.0.1:8888`), for the agent uid and for a non-agent
# uid alike.  An allowed absolute-form GET and POST reach the upstream in
# origin-form, without the proxy/forwarding headers (Proxy-Authorization,
# Proxy-Connection, X-Pipelock-Agent, X-Forwarded-For, Via) and with
# Connection: close; the POST body arrives byte-exact.  The recipes' fake
# Anthropic key in the query, in a header or in the body, and a blocklisted
# host, get 403 "blocked: <reason>" and the upstream saw nothing of them.  A
# name resolving to an internal address (localhost) is refused (SSRF).
# Audit lines "forward_http" are written for both verdicts.
set -eu
. tests/integration/lib.sh
. tests/integration/helpers/http.sh
. tests/integration/helpers/proxy.sh

proxy_up true

head -c 20000 /dev/urandom | od -An -tx1 -v | tr -d ' \n' >"$AGENT_TMP/body.txt"
chmod 0644 "$AGENT_TMP/body.txt"
want_sha=$(sha256sum <"$AGENT_TMP/body.txt" | cut -d' ' -f1)

pcode() { # UIDFN curl-args... -> status code
	local who=$1
	shift
	"$who" curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -x "http://$PROXY" "$@" 2>&1 || true
}

for who in as_agent as_other; do
	out=$("$who" curl -sS --max-time 10 -x "http://$PROXY" \
		-H 'Proxy-Authorization: Basic dXNlcjpwYXNz' -H 'X-Forwarded-For: 203.0.113.9' \
		-H 'Via: 1.1 elsewhere' -H 'X-Pipelock-Agent: tester' -H 'X-Keep: 1' \
		"http://allowed.test/fwd-get-$who?q=hello" 2>&1) || fail "GET via proxy ($who): $out"
	[[ $out == "ok GET /fwd-get-$who?q=hello" ]] || fail "GET via proxy ($who): got '$out'"
	[[ $(up_req_field "/fwd-get-$who" path) == "/fwd-get-$who?q=hello" ]] ||
		fail "upstream did not get origin-form ($who)"
	hdrs=$(up_req_field "/fwd-get-$who" headers)
	for h in proxy-authorization proxy-connection x-forwarded-for via x-pipelock-agent; do
		[[ $hdrs != *"\"$h\""* ]] || fail "upstream got header $h ($who): $hdrs"
	done
	[[ $hdrs == *'"x-keep": "1"'* ]] || fail "an ordinary header was dropped ($who): $hdrs"
	[[ $hdrs == *'"connection": "close"'* ]] || fail "no Connection: close upstream ($who): $hdrs"
	[[ $(up_req_field "/fwd-get-$who" host) == allowed.test ]] || fail "Host header changed ($who)"

	out=$("$who" curl -sS --max-time 10 -x "http://$PROXY" -H 'Content-Type: text/plain' \
		--data-binary "@$AGENT_TMP/body.txt" "http://allowed.test/fwd-post-$who" 2>&1) ||
		fail "POST via proxy ($who): $out"
	[[ $out == "ok POST /fwd-post-$who" ]] || fail "POST via proxy ($who): got '$out'"
	[[ $(up_body_sha "/fwd-post-$who") == "$want_sha" ]] || fail "POST body differs upstream ($who)"

	# a 3 MB response, relayed whole
	n=$("$who" curl -sS --max-time 20 -x "http://$PROXY" "http://allowed.test/big?n=3000000" | wc -c)
	[[ $n == 3000000 ]] || fail "3 MB response via proxy ($who): $n bytes"

	# IP literal with a port
	out=$("$who" curl -sS --max-time 10 -x "http://$PROXY" "http://$V4_UP:80/fwd-ip-$who" 2>&1) ||
		fail "GET by IP via proxy ($who): $out"
	[[ $out == "ok GET /fwd-ip-$who" ]] || fail "GET by IP via proxy ($who): got '$out'"

	# refused: nothing upstream
	c=$(pcode "$who" "http://allowed.test/leak-q-$who?key=$SECRET")
	[[ $c == 403 ]] || fail "secret in the query ($who): $c"
	c=$(pcode "$who" -H "Authorization: Bearer $SECRET" "http://allowed.test/leak-h-$who")
	[[ $c == 403 ]] || fail "secret in a header ($who): $c"
	c=$(pcode "$who" --data-binary "token=$SECRET&x=1" "http://allowed.test/leak-b-$who")
	[[ $c == 403 ]] || fail "secret in the body ($who): $c"
	c=$(pcode "$who" "http://blocked.test/leak-d-$who")
	[[ $c == 403 ]] || fail "blocklisted host ($who): $c"
	c=$(pcode "$who" "http://localhost:80/leak-ssrf-$who")
	[[ $c == 403 ]] || fail "name resolving to loopback (SSRF) ($who): $c"
done

# an IPv6 literal target
out=$(as_agent curl -sS --max-time 10 -x "http://$PROXY" "http://[$V6_UP]/fwd-v6" 2>&1) || fail "GET [v6] via proxy: $out"
[[ $out == "ok GET /fwd-v6" ]] || fail "GET [v6] via proxy: got '$out'"
out=$(as_agent curl -sS --max-time 10 -x "http://$PROXY" "http://allowed.test/leak-r?key=$SECRET" 2>&1) || true
[[ $out == "blocked: "* ]] || fail "403 body does not say why: $out"
[[ $out != *"$SECRET"* ]] || fail "403 body echoes the secret"
# an upstream that does not answer: 502
c=$(pcode as_agent "http://$V4_UP:9/nothing-there")
[[ $c == 502 ]] || fail "unreachable upstream: $c (want 502)"

n=$(up_requests "/leak-")
((n == 0)) || fail "upstream got $n refused request(s)"
! upstream_saw "$SECRET" || fail "the upstream saw the key"

wait_until 5 audit_has '"event":"forward_http"' '"verdict":"allow"' '"method":"GET"' '/fwd-get-as_agent' ||
	fail "no forward_http allow audit line"
wait_until 5 audit_has '"event":"forward_http"' '"verdict":"block"' '/[redacted]' '"status":403' ||
	fail "no forward_http block audit line with the URL redacted"
! grep -q -- "$SECRET" "$TEST_TMP/audit.log" || fail "the audit log holds the secret"
log "PASS t_proxy_forward"
