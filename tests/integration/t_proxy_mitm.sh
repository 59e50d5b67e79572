#!/usr/bin/env bash
# t_proxy_mitm.sh - TLS interception of CONNECT tunnels on the explicit
# proxy port.  With tls_interception on (a CA from `tls init`, upstreams
# verified through upstream_ca_file) and forward_proxy.enabled, curl -x as
# the agent trusting only the interception CA: an allowed request reaches
# the upstream exactly; a secret in the path or a header gets a 403 over
# TLS and the upstream sees nothing; the leaf seen through the proxy is the
# CA's; Host != SNI inside the tunnel is refused; a passthrough domain
# (other.test) is tunnelled as it is and shows the upstream's own issuer.
set -eu
. tests/integration/lib.sh
. tests/integration/helpers/http.sh
. tests/integration/helpers/proxy.sh
. tests/integration/helpers/tls.sh

need_cmd openssl
PROXY_EDIT=tls_config proxy_up true

pcurl() { as_agent curl -sS --max-time 10 -x "http://$PROXY" --cacert "$MITM_CA" "$@"; }

# 1. allowed request: decrypted, inspected, relayed exactly
out=$(pcurl -H "X-Test: one" "https://allowed.test/pm-hello?q=1" 2>&1) || fail "allowed request: $out"
[[ $out == "ok GET /pm-hello?q=1" ]] || fail "allowed request: got '$out'"
upstream_saw $'GET /pm-hello?q=1 HTTP/1.1\r\nHost: allowed.test\r\n' ||
	fail "upstream did not see the exact request line"
upstream_saw $'X-Test: one\r\n' || fail "upstream did not see the header"
wait_until 5 audit_has '"event":"http"' '"url":"https://allowed.test/pm-hello?q=1"' '"verdict":"allow"' ||
	fail "no audit line for the request inside the tunnel"
log "CONNECT tunnel intercepted, request relayed exactly"

# 2. secrets in path and header: 403 over TLS, nothing at the upstream
for how in path header; do
	case $how in
	path) args=("https://allowed.test/pm-leak/$SECRET") ;;
	header) args=(-H "Authorization: Bearer $SECRET" "https://allowed.test/pm-leak-h") ;;
	esac
	code=$(pcurl -o "$AGENT_TMP/body" -w '%{http_connect} %{http_code}' "${args[@]}" 2>&1) ||
		fail "secret in $how: curl failed: $code"
	[[ $code == "200 403" ]] || fail "secret in $how: CONNECT/HTTP '$code', want '200 403'"
	grep -q "blocked" "$AGENT_TMP/body" || fail "secret in $how: no reason in the body: $(cat "$AGENT_TMP/body")"
	! upstream_saw "$SECRET" || fail "secret in $how reached the upstream"
	! upstream_saw "/pm-leak" || fail "upstream saw the $how request"
	log "secret in $how: 403 over TLS ($(head -c 100 "$AGENT_TMP/body"))"
done
wait_until 5 audit_has '"event":"http"' '"verdict":"block"' '"status":403' '"uid":1000' ||
	fail "no block audit line for the request inside the tunnel"

# 3. Host != SNI inside the tunnel (the CONNECT host and SNI agree)
code=$(pcurl -o /dev/null -w '%{http_code}' -H "Host: other.test" "https://allowed.test/pm-fronted" 2>&1) || true
[[ $code == 403 ]] || fail "Host != SNI: HTTP $code, want 403"
! upstream_saw "/pm-fronted" || fail "upstream saw the fronted request"

# 4. the leaf through the proxy: issued by the interception CA, SAN = SNI
as_agent timeout 15 openssl s_client -proxy "$PROXY" -connect allowed.test:443 -servername allowed.test \
	-CAfile "$MITM_CA" -verify_return_error </dev/null >"$AGENT_TMP/sc.out" 2>&1 ||
	fail "s_client through the proxy: $(cat "$AGENT_TMP/sc.out")"
openssl x509 -in "$AGENT_TMP/sc.out" -noout -issuer | grep -q "pipelock-fw interception CA" ||
	fail "leaf issuer: $(openssl x509 -in "$AGENT_TMP/sc.out" -noout -issuer)"
san=$(openssl x509 -in "$AGENT_TMP/sc.out" -noout -ext subjectAltName | tail -n +2 | tr -d ' ')
[[ $san == "DNS:allowed.test" ]] || fail "leaf SAN '$san', want DNS:allowed.test"
v=$(pcurl -v -o /dev/null "https://allowed.test/pm-leaf" 2>&1) || fail "curl -v: $v"
[[ $v == *"issuer: "*"pipelock-fw interception CA"* ]] || fail "curl -v does not show the CA as issuer: $(grep -i issuer <<<"$v")"
log "leaf through CONNECT: issuer the interception CA, SAN allowed.test"

# 5. passthrough domain via CONNECT: the upstream's own certificate
out=$(as_agent curl -sS --max-time 10 -x "http://$PROXY" --cacert "$CA_DIR/ca.pem" \
	"https://other.test/pm-pass" 2>&1) || fail "passthrough with the upstream's CA: $out"
[[ $out == "ok GET /pm-pass" ]] || fail "passthrough: got '$out'"
as_agent timeout 15 openssl s_client -proxy "$PROXY" -connect other.test:443 -servername other.test \
	</dev/null 2>/dev/null | openssl x509 -noout -issuer | grep -q "pipelock-fw test CA" ||
	fail "passthrough: issuer is not the upstream's CA"
rc=0
pcurl "https://other.test/pm-pass2" >/dev/null 2>&1 || rc=$?
((rc != 0)) || fail "passthrough domain was intercepted (the interception CA verified it)"
log "passthrough domain tunnelled without decryption"

m=$(as_other curl -sS --max-time 5 "http://$PROXY/metrics")
[[ $m == *'pipelock_tunnels_total{result="completed",agent="anonymous"}'* ]] || fail "no completed tunnels metric"
[[ $m != *'pipelock_tunnels_total{result="blocked"'* ]] || fail "requests refused inside tunnels counted as blocked tunnels"
pid_alive "$ENGINE_PID" || fail "engine died"
log "PASS t_proxy_mitm"
