#!/usr/bin/env bash
# t_tls_intercept.sh - TLS interception end to end: a CA from `tls init`,
# curl as the agent trusting only that CA, upstream.py's TLS server
# verified through tls_interception.upstream_ca_file (verification stays
# on).  Allowed requests reach the upstream exactly; a secret in path,
# header or body gets a 403 over TLS and the upstream sees nothing;
# keep-alive requests are each checked; Host != SNI is refused; the leaf is
# checked with `openssl x509`; ALPN h2 is refused; a passthrough domain is
# relayed without decryption; an upstream certificate for another name is
# a 502 with the reason.
set -eu
. tests/integration/lib.sh
. tests/integration/helpers/tproxy.sh
. tests/integration/helpers/tls.sh

tls_edit() { tls_config "cert_ttl: 1h" "cert_cache_size: 100"; }
TPROXY_EDIT=tls_edit tproxy_up
# a GitHub token shape, built so this file holds none
SECRET="gh""p_R7xQ2mVn8KpL4sTz9WcY3bHf6JdG1aEu5NoX"

acurl() { as_agent curl -sS --max-time 10 --cacert "$MITM_CA" "$@"; }

# 1. allowed request: exact bytes at the upstream
out=$(acurl -H "X-Test: one" "https://allowed.test/hello?q=1" 2>&1) || fail "allowed request: $out"
[[ $out == "ok GET /hello?q=1" ]] || fail "allowed request: got '$out'"
upstream_saw $'GET /hello?q=1 HTTP/1.1\r\nHost: allowed.test\r\n' || fail "upstream did not see the exact request line"
upstream_saw $'X-Test: one\r\n' || fail "upstream did not see the header"
upstream_log | grep -q '"alpn": *"http/1.1"' || fail "upstream side did not negotiate http/1.1: $(upstream_log | grep '"tls"')"
log "allowed request intercepted and relayed"

# 2. secrets in path, header, body: 403 over TLS, nothing at the upstream
for how in path header body; do
	case $how in
	path) args=("https://allowed.test/leak/$SECRET") ;;
	header) args=(-H "Authorization: Bearer $SECRET" "https://allowed.test/leak-h") ;;
	body) args=(-H "Content-Type: text/plain" --data-binary "token=$SECRET" "https://allowed.test/leak-b") ;;
	esac
	code=$(acurl -o "$AGENT_TMP/body" -w '%{http_code}' "${args[@]}" 2>&1) || fail "secret in $how: curl failed: $code"
	[[ $code == 403 ]] || fail "secret in $how: HTTP $code, want 403"
	grep -q "blocked" "$AGENT_TMP/body" || fail "secret in $how: no reason in the body: $(cat "$AGENT_TMP/body")"
	! upstream_saw "$SECRET" || fail "secret in $how reached the upstream"
	! upstream_saw "/leak" || fail "upstream saw the $how request"
	log "secret in $how: 403 over TLS ($(head -c 120 "$AGENT_TMP/body"))"
done

# 3. keep-alive: two requests on one connection, each checked
before=$(upstream_count_conns 443)
out=$(acurl "https://allowed.test/ka1" "https://allowed.test/ka2" 2>&1) || fail "keep-alive: $out"
[[ $out == "ok GET /ka1"$'\n'"ok GET /ka2" ]] || fail "keep-alive: got '$out'"
after=$(upstream_count_conns 443)
((after - before == 1)) || fail "keep-alive used $((after - before)) upstream connections, want 1"
before=$(upstream_count_conns 443)
code=$(acurl -o /dev/null -w '%{http_code}\n' "https://allowed.test/ka3" \
	--next --cacert "$MITM_CA" -o /dev/null -w '%{http_code}\n' "https://allowed.test/ka4/$SECRET" 2>&1 || true)
[[ $(echo "$code" | head -1) == 200 && $(echo "$code" | tail -1) == 403 ]] ||
	fail "keep-alive second request with a secret: codes '$code', want 200 then 403"
after=$(upstream_count_conns 443)
((after - before == 1)) || fail "ka3/ka4 used $((after - before)) upstream connections, want 1 (keep-alive)"
upstream_saw "GET /ka3" || fail "keep-alive: first request missing"
! upstream_saw "$SECRET" || fail "keep-alive: secret reached the upstream"
log "keep-alive requests each inspected"

# 3b. volume: a 3 MB upload (held and judged, then forwarded) and a 20 MB download
head -c 3000000 /dev/zero | tr '\0' a >"$AGENT_TMP/up.bin"
code=$(acurl -o /dev/null -w '%{http_code}' -H "Content-Type: application/octet-stream" \
	--data-binary "@$AGENT_TMP/up.bin" "https://allowed.test/upload" 2>&1) || fail "upload: $code"
[[ $code == 200 ]] || fail "upload: HTTP $code"
upstream_log | grep '"path": *"/upload"' | grep -q '"body_len": *3000000' || fail "upstream did not get the 3 MB body"
size=$(acurl -o /dev/null -w '%{size_download}' "https://allowed.test/big?n=20000000" 2>&1) || fail "download: $size"
[[ $size == 20000000 ]] || fail "download: $size bytes, want 20000000"
log "3 MB upload and 20 MB download through the interception"

# 4. Host != SNI
code=$(acurl -o /dev/null -w '%{http_code}' -H "Host: other.test" "https://allowed.test/fronted" 2>&1) || true
[[ $code == 403 ]] || fail "Host != SNI: HTTP $code, want 403"
! upstream_saw "/fronted" || fail "upstream saw the fronted request"

# 5. the leaf, with openssl x509
as_agent openssl s_client -connect allowed.test:443 -servername allowed.test -CAfile "$MITM_CA" \
	-verify_return_error </dev/null >"$AGENT_TMP/sc.out" 2>&1 || fail "s_client: $(cat "$AGENT_TMP/sc.out")"
openssl x509 -in "$AGENT_TMP/sc.out" -noout -issuer | grep -q "pipelock-fw interception CA" ||
	fail "leaf issuer: $(openssl x509 -in "$AGENT_TMP/sc.out" -noout -issuer)"
san=$(openssl x509 -in "$AGENT_TMP/sc.out" -noout -ext subjectAltName | tail -n +2 | tr -d ' ')
[[ $san == "DNS:allowed.test" ]] || fail "leaf SAN '$san', want DNS:allowed.test"
openssl x509 -in "$AGENT_TMP/sc.out" -noout -checkend 3000 >/dev/null || fail "leaf expires too soon"
! openssl x509 -in "$AGENT_TMP/sc.out" -noout -checkend 3700 >/dev/null || fail "leaf outlives cert_ttl (1h)"
grep -q "ALPN protocol: http/1.1\|No ALPN negotiated" "$AGENT_TMP/sc.out" || true
log "leaf: issuer CA, SAN allowed.test, notAfter within 1h"

# 6. ALPN: h2 only is refused, h2+http/1.1 gets http/1.1
as_agent openssl s_client -connect allowed.test:443 -servername allowed.test -CAfile "$MITM_CA" \
	-alpn h2 </dev/null >"$AGENT_TMP/h2.out" 2>&1 || true
! grep -q "ALPN protocol: h2" "$AGENT_TMP/h2.out" || fail "h2 was negotiated"
grep -qi "no application protocol\|alert" "$AGENT_TMP/h2.out" || fail "h2-only client: no clean failure: $(tail -5 "$AGENT_TMP/h2.out")"
as_agent openssl s_client -connect allowed.test:443 -servername allowed.test -CAfile "$MITM_CA" \
	-alpn h2,http/1.1 </dev/null >"$AGENT_TMP/h11.out" 2>&1 || true
grep -q "ALPN protocol: http/1.1" "$AGENT_TMP/h11.out" || fail "h2,http/1.1 client: $(grep ALPN "$AGENT_TMP/h11.out")"
out=$(acurl --http2 "https://allowed.test/h2fallback" 2>&1) || fail "curl --http2 did not fall back: $out"
[[ $out == "ok GET /h2fallback" ]] || fail "curl --http2: got '$out'"
log "ALPN: h2 refused, http/1.1 negotiated, curl --http2 falls back"

# 7. passthrough: not decrypted, the client sees the upstream's own certificate
out=$(as_agent curl -sS --max-time 10 --cacert "$CA_DIR/ca.pem" "https://other.test/pass" 2>&1) ||
	fail "passthrough with the upstream's CA: $out"
[[ $out == "ok GET /pass" ]] || fail "passthrough: got '$out'"
as_agent openssl s_client -connect other.test:443 -servername other.test </dev/null 2>/dev/null |
	openssl x509 -noout -issuer | grep -q "pipelock-fw test CA" || fail "passthrough: issuer is not the upstream's CA"
rc=0
as_agent curl -sS --max-time 10 --cacert "$MITM_CA" "https://other.test/pass2" >/dev/null 2>&1 || rc=$?
((rc != 0)) || fail "passthrough domain was intercepted (our CA verified it)"

# 8. upstream certificate for another name: 502 with the reason
out=$(acurl -w '\n%{http_code}' --resolve "wrong.example:443:$V4_UP" "https://wrong.example/x" 2>&1) || true
[[ $out == *502 ]] || fail "wrong-name upstream: '$out', want 502"
[[ $out == *"does not verify"*"hostname mismatch"* ]] || fail "wrong-name upstream: no reason: '$out'"
! upstream_saw "GET /x " || fail "wrong-name upstream got the request"
wait_until 5 grep -q '"event":"upstream_error".*hostname mismatch' "$TEST_TMP/audit.log" ||
	fail "no upstream_error audit line"
! grep -q '"url":"https://wrong.example/x"' "$TEST_TMP/audit.log" ||
	fail "a request to an unverified upstream was judged (and logged) as if it could go"
log "wrong-name upstream certificate: 502 ($(echo "$out" | head -1))"

# 9. audit: intercepted requests are logged with https URLs
grep -q '"url":"https://allowed.test/hello?q=1"' "$TEST_TMP/audit.log" || fail "no audit line for the intercepted request"
pid_alive "$ENGINE_PID" || fail "engine died"
log "PASS t_tls_intercept"
