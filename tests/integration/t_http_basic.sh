#!/usr/bin/env bash
# t_http_basic.sh - every plain-HTTP request is judged before a byte of it
# reaches the upstream, IPv4 and IPv6.  Allowed GET and POSTs (a 100 KiB
# Content-Length body, a chunked one, a 3 MiB one) pass byte-exact: the
# upstream's body sha256 is the agent's.  A secret in the query, in an
# Authorization header, in a Content-Length body (also at the very end of
# 3 MiB), in a chunked body split across chunks, percent-encoded or base64
# in the query gets 403 naming the reason, and the upstream saw nothing of
# that request.  Each request gets an "http" audit line (method, host, URL
# with the secret redacted, verdict, scanner, sizes).
set -eu
. tests/integration/lib.sh
. tests/integration/helpers/tproxy.sh
. tests/integration/helpers/http.sh

tproxy_up

# hex: random base64 may hold an AWS-like "A3T" + 16 uppercase run
head -c 51200 /dev/urandom | od -An -tx1 -v | tr -d " " >"$AGENT_TMP/body.txt"
chmod 0644 "$AGENT_TMP/body.txt"
want_sha=$(sha256sum <"$AGENT_TMP/body.txt" | cut -d' ' -f1)

code() { # curl ARGS... -> the status code only
	as_agent curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "$@" 2>&1 || true
}

for fam in 4 6; do
	if [[ $fam == 4 ]]; then a=$V4_UP; u=$V4_UP; else a=$V6_UP; u="[$V6_UP]"; fi

	out=$(as_agent curl -sS --max-time 10 "http://$u/get-ok$fam?q=hello" 2>&1) || fail "GET ($fam): $out"
	[[ $out == "ok GET /get-ok$fam?q=hello" ]] || fail "GET ($fam): got '$out'"

	out=$(as_agent curl -sS --max-time 10 -H 'Content-Type: text/plain' \
		--data-binary "@$AGENT_TMP/body.txt" "http://$u/post-ok$fam" 2>&1) || fail "POST ($fam): $out"
	[[ $out == "ok POST /post-ok$fam" ]] || fail "POST ($fam): got '$out'"
	[[ $(up_body_sha "/post-ok$fam") == "$want_sha" ]] || fail "POST ($fam): upstream body differs"

	out=$(as_agent curl -sS --max-time 10 -H 'Transfer-Encoding: chunked' \
		--data-binary "@$AGENT_TMP/body.txt" "http://$u/chunked-ok$fam" 2>&1) || fail "chunked POST ($fam): $out"
	[[ $out == "ok POST /chunked-ok$fam" ]] || fail "chunked POST ($fam): got '$out'"
	[[ $(up_body_sha "/chunked-ok$fam") == "$want_sha" ]] || fail "chunked POST ($fam): upstream body differs"

	# secrets: each one 403, nothing of the request upstream
	c=$(code "http://$u/leak-query$fam?key=$SECRET")
	[[ $c == 403 ]] || fail "secret in the query ($fam): $c"
	c=$(code -H "Authorization: Bearer $SECRET" "http://$u/leak-auth$fam")
	[[ $c == 403 ]] || fail "secret in Authorization ($fam): $c"
	c=$(code --data-binary "token=$SECRET2&x=1" "http://$u/leak-body$fam")
	[[ $c == 403 ]] || fail "secret in a Content-Length body ($fam): $c"
	pct=$(printf '%s' "$SECRET" | od -An -tx1 | tr -d ' \n' | sed 's/../%&/g')
	c=$(code "http://$u/leak-pct$fam?k=$pct")
	[[ $c == 403 ]] || fail "percent-encoded secret ($fam): $c"
	b64=$(printf '%s' "$SECRET" | base64 -w0 | tr -d '=')
	c=$(code "http://$u/leak-b64$fam?d=$b64")
	[[ $c == 403 ]] || fail "base64 secret ($fam): $c"

	# chunked body with the secret split across two chunks (raw client)
	half=${#SECRET}
	half=$((half / 2))
	p1="data=${SECRET:0:$half}"
	p2="${SECRET:$half}&end=1"
	f=$(req "chunk$fam" 'POST /leak-chunk%s HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n' \
		"$fam" "$u" "${#p1}" "$p1" "${#p2}" "$p2")
	out=$(hc send "$a" "$f")
	[[ $out == "STATUS 403 "* ]] || fail "secret split across chunks ($fam): '$out'"
done

# a 3 MiB body (under max_body_bytes, held whole, then relayed unchanged)
head -c 1572864 /dev/urandom | od -An -tx1 -v | tr -d " \n" >"$AGENT_TMP/big.txt"
chmod 0644 "$AGENT_TMP/big.txt"
out=$(as_agent curl -4 -sS --max-time 30 -H 'Content-Type: text/plain' \
	--data-binary "@$AGENT_TMP/big.txt" "http://$V4_UP/post-big" 2>&1) || fail "3 MiB POST: $out"
[[ $out == "ok POST /post-big" ]] || fail "3 MiB POST: got '$out'"
[[ $(up_body_sha /post-big) == $(sha256sum <"$AGENT_TMP/big.txt" | cut -d' ' -f1) ]] ||
	fail "3 MiB POST: upstream body differs"

# the secret at the very end of a 3 MiB body: nothing of it went before
{ cat "$AGENT_TMP/big.txt"; printf '&key=%s' "$SECRET"; } >"$AGENT_TMP/big-leak.txt"
chmod 0644 "$AGENT_TMP/big-leak.txt"
c=$(code -4 --data-binary "@$AGENT_TMP/big-leak.txt" "http://$V4_UP/leak-tail")
[[ $c == 403 ]] || fail "secret at the end of a 3 MiB body: $c"

for p in leak-query leak-auth leak-body leak-pct leak-b64 leak-chunk leak-tail; do
	n=$(up_requests "/$p")
	((n == 0)) || fail "upstream got $n /$p request(s)"
done
! upstream_saw "$SECRET" || fail "the upstream saw the Anthropic key"
! upstream_saw "${SECRET:0:20}" || fail "the upstream saw half of the key"
! upstream_saw "$SECRET2" || fail "the upstream saw the AWS key"
! upstream_saw "leak-" || fail "the upstream saw bytes of a refused request"

out=$(as_agent curl -4 -sS --max-time 10 "http://$V4_UP/leak-reason?key=$SECRET" 2>&1) || true
[[ $out == "blocked by pipelock-fw: "* ]] || fail "403 body does not say why: $out"
[[ $out != *"$SECRET"* ]] || fail "403 body echoes the secret"
out=$(as_agent curl -4 -sS --max-time 10 -H 'Accept: application/json' "http://$V4_UP/leak-json?key=$SECRET" 2>&1) || true
[[ $out == '{"blocked":true,"reason":"'* ]] || fail "no JSON 403 for Accept: application/json: $out"

# audit: one line per request; the block names method, host, redacted URL
wait_until 5 audit_has '"event":"http"' '"verdict":"block"' '"method":"GET"' \
	"\"host\":\"$V4_UP\"" '/[redacted]' '"status":403' ||
	fail "no http block audit line with method/host/redacted URL"
wait_until 5 audit_has '"event":"http"' '"verdict":"allow"' '"method":"POST"' \
	'"url":"http://' '/post-ok4"' '"bytes_up":' '"bytes_down":' ||
	fail "no http allow audit line for the POST"
! grep -q -- "$SECRET" "$TEST_TMP/audit.log" || fail "the audit log holds the secret"
log "PASS t_http_basic"
