#!/usr/bin/env bash
# t_proxy_connect.sh - HTTPS through the explicit proxy port (CONNECT), for
# the agent uid and a non-agent uid.  An allowed host tunnels end to end
# (curl verifies the upstream's certificate against the test CA); a
# blocklisted host gets "403 CONNECT blocked" and the upstream saw no
# connection; a secret in a CONNECT request header is refused; a ClientHello
# whose SNI is not the CONNECT host (domain fronting: CONNECT other.test,
# SNI allowed.test) is closed with an "sni_mismatch" audit line and the
# upstream got no TLS bytes.  Metrics: tunnels, SNI categories.
set -eu
. tests/integration/lib.sh
. tests/integration/helpers/http.sh
. tests/integration/helpers/proxy.sh

need_cmd openssl
proxy_up true

connect_code() { # UIDFN URL [curl args] -> the proxy's CONNECT status
	local who=$1
	shift
	"$who" curl -sS --max-time 10 -o /dev/null -w '%{http_connect}' -x "http://$PROXY" \
		--cacert "$CA_DIR/ca.pem" "$@" 2>/dev/null || true
}

for who in as_agent as_other; do
	out=$("$who" curl -sS --max-time 10 -x "http://$PROXY" --cacert "$CA_DIR/ca.pem" \
		"https://allowed.test/tls-ok-$who" 2>&1) || fail "HTTPS via CONNECT ($who): $out"
	[[ $out == "ok GET /tls-ok-$who" ]] || fail "HTTPS via CONNECT ($who): got '$out'"

	before=$(upstream_count_conns 443)
	c=$(connect_code "$who" "https://blocked.test/tls-blocked-$who")
	[[ $c == 403 ]] || fail "CONNECT to a blocklisted host ($who): $c"
	c=$(connect_code "$who" -H "X-Api-Key: $SECRET" --proxy-header "X-Api-Key: $SECRET" \
		"https://allowed.test/tls-hdr-$who")
	[[ $c == 403 ]] || fail "CONNECT with a secret header ($who): $c"
	[[ $(upstream_count_conns 443) == "$before" ]] || fail "upstream got a connection for a refused CONNECT ($who)"
done

# Python's urllib: CONNECT ... HTTP/1.0 without a Host header (3.11), and
# an absolute-form GET; the blocklist still applies to both
out=$(as_agent "$PY" - "$CA_DIR/ca.pem" <<'PYEOF' 2>&1
import ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile=sys.argv[1])
p = "http://127.0.0.1:8888"
op = urllib.request.build_opener(urllib.request.ProxyHandler({"http": p, "https": p}),
                                 urllib.request.HTTPSHandler(context=ctx))
print(op.open("https://allowed.test/py-tls", timeout=10).read().decode().strip())
print(op.open("http://allowed.test/py-http", timeout=10).read().decode().strip())
for u in ("https://blocked.test/py-blocked", "http://blocked.test/py-blocked"):
    try:
        op.open(u, timeout=10)
        print("OPEN", u)
    except Exception as e:
        print("REFUSED", type(e).__name__)
PYEOF
) || fail "python urllib through the proxy: $out"
[[ $out == $'ok GET /py-tls\nok GET /py-http\nREFUSED '*$'\nREFUSED '* ]] || fail "python urllib: $out"
[[ $(up_requests /py-blocked) == 0 ]] || fail "python: a blocked request reached the upstream"

out=$(as_agent curl -sS --max-time 10 -x "http://$PROXY" --cacert "$CA_DIR/ca.pem" \
	"https://blocked.test/x" 2>&1) || true
[[ $out == *403* ]] || fail "curl does not report the 403: $out"

# domain fronting: CONNECT other.test:443, ClientHello for allowed.test
before_bytes=$(upstream_bytes 443)
out=$(as_agent timeout 15 openssl s_client -proxy "$PROXY" -connect other.test:443 \
	-servername allowed.test -CAfile "$CA_DIR/ca.pem" </dev/null 2>&1) || true
[[ $out != *"BEGIN CERTIFICATE"* && $out == *"no peer certificate"* ]] ||
	fail "SNI mismatch was relayed: $out"
wait_until 5 audit_has '"event":"sni_mismatch"' '"verdict":"block"' 'other.test' ||
	fail "no sni_mismatch audit line"
[[ $(upstream_bytes 443) == "$before_bytes" ]] || fail "the upstream got TLS bytes of a fronted tunnel"
# the same with curl: --connect-to sends CONNECT other.test:443, SNI allowed.test
out=$(as_agent curl -sS --max-time 10 -x "http://$PROXY" --cacert "$CA_DIR/ca.pem" \
	--connect-to allowed.test:443:other.test:443 "https://allowed.test/fronted" 2>&1) && fail "fronted curl got through: $out"
((n = $(up_requests /fronted), n == 0)) || fail "upstream got the fronted request"
wait_until 5 audit_has '"event":"sni_mismatch"' 'other.test' '"uid":1000' ||
	fail "no sni_mismatch audit line for curl --connect-to"
# with the same host in both places it passes (control)
out=$(as_agent timeout 15 openssl s_client -proxy "$PROXY" -connect allowed.test:443 \
	-servername allowed.test -CAfile "$CA_DIR/ca.pem" </dev/null 2>&1) || true
[[ $out == *"BEGIN CERTIFICATE"* && $out == *"Verify return code: 0 (ok)"* ]] ||
	fail "matching SNI through CONNECT failed: $out"

wait_until 5 audit_has '"event":"tunnel_close"' '"verdict":"allow"' '"bytes_up":' ||
	fail "no tunnel_close audit line"
wait_until 5 audit_has '"event":"connect"' '"verdict":"block"' 'blocked.test' ||
	fail "no connect block audit line"
m=$(as_other curl -sS --max-time 5 "http://$PROXY/metrics")
[[ $m == *'pipelock_tunnels_total{result="completed",agent="anonymous"}'* ]] || fail "no completed tunnels metric"
[[ $m == *'pipelock_tunnels_total{result="blocked",agent="anonymous"}'* ]] || fail "no blocked tunnels metric"
grep -q '^pipelock_sni_total{category="mismatch",agent="anonymous"} 2$' <<<"$m" ||
	fail "sni mismatch metric is not 2: $(grep sni_total <<<"$m")"
[[ $m == *'pipelock_sni_total{category="match",agent="anonymous"}'* ]] || fail "no sni match metric"

# the kill switch tears down an open tunnel
bg_start "$TEST_TMP/long.out" bash -c "sleep 30 | ip netns exec $HOST_NS setpriv --reuid=$AGENT_UID \
	--regid=$AGENT_UID --clear-groups -- openssl s_client -quiet -proxy $PROXY -connect allowed.test:443 \
	-servername allowed.test -CAfile $CA_DIR/ca.pem"
long=$BG_PID
wait_until 10 grep -q 'verify return:1' "$TEST_TMP/long.out" || fail "long tunnel did not open: $(cat "$TEST_TMP/long.out")"
kill -USR1 "$ENGINE_PID"
wait_until 5 audit_has '"event":"kill_switch_deny"' '"method":"CONNECT"' || fail "open tunnel not torn down"
wait_until 5 eval "! grep -q . <(in_host ss -Htn state established '( sport = :$PROXY_PORT )')" ||
	fail "tunnel still established under the kill switch"
kill -USR1 "$ENGINE_PID"
pid_stop "$long"
log "PASS t_proxy_connect"
