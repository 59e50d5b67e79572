#!/usr/bin/env bash
# t_tproxy_nosni.sh - TLS without SNI (curl to a raw IP sends none) and HTTP
# by Host, IPv4 and IPv6.  Default: a name-less TLS flow to an address is
# refused (alert) and the upstream sees nothing; with the address in
# firewall.allow_ip_cidrs it is relayed.  HTTP: a blocklisted Host gets a
# 403 naming the reason and the upstream sees nothing.
set -eu
. tests/integration/lib.sh
. tests/integration/helpers/tproxy.sh

tproxy_up

for a in "$V4_UP" "[$V6_UP]"; do
	rc=0
	out=$(as_agent curl -sS --max-time 10 --cacert "$CA_DIR/ca.pem" "https://$a/nosni" 2>&1) || rc=$?
	((rc != 0)) || fail "TLS without SNI to $a succeeded: $out"
	[[ $out == *"alert access denied"* ]] || fail "TLS without SNI to $a: no alert: $out"

	out=$(as_agent curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -H 'Host: blocked.test' \
		"http://$a/blocked-host" 2>&1) || true
	[[ $out == 403 ]] || fail "HTTP Host: blocked.test via $a: got '$out', want 403"
done
n=$(upstream_count_conns)
((n == 0)) || fail "upstream accepted $n connection(s)"
out=$(as_agent curl -4 -sS --max-time 10 -H 'Host: blocked.test' "http://$V4_UP/x" 2>&1) || true
[[ $out == *"blocked by pipelock-fw"* ]] || fail "403 body does not say why: $out"
grep -q '"reason":"TLS without SNI' "$TEST_TMP/audit.log" || fail "no audit line for TLS without SNI"

engine_stop
make_config "allow_ip_cidrs: [\"$V4_UP/32\", \"$V6_UP/128\"]"
engine_start --config "$PLFW_CONFIG"
for a in "$V4_UP" "[$V6_UP]"; do
	out=$(as_agent curl -sS --max-time 10 --cacert "$CA_DIR/ca.pem" "https://$a/nosni-ok" 2>&1) ||
		fail "TLS without SNI to $a in allow_ip_cidrs: $out"
	[[ $out == "ok GET /nosni-ok" ]] || fail "TLS without SNI to $a in allow_ip_cidrs: got '$out'"
done
# the other server's address is still not covered
rc=0
as_agent curl -sS --max-time 10 --cacert "$CA_DIR/ca.pem" "https://$V4_UP2/nosni" >/dev/null 2>&1 || rc=$?
((rc != 0)) || fail "TLS without SNI to $V4_UP2 (not in allow_ip_cidrs) succeeded"
n=$(upstream_count_conns 443 "$V4_UP2")
((n == 0)) || fail "upstream $V4_UP2 accepted $n connection(s)"
log "PASS t_tproxy_nosni"
