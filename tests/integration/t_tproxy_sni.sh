#!/usr/bin/env bash
# t_tproxy_sni.sh - TLS through the transparent engine, IPv4 and IPv6:
# an allowed SNI completes (curl as the agent, test CA) and the upstream
# sees the request; a blocklisted SNI gets a fatal access_denied alert and
# the upstream sees no connection at all; both decisions are audited.
set -eu
. tests/integration/lib.sh
. tests/integration/helpers/tproxy.sh

tproxy_up

for fam in -4 -6; do
	out=$(as_agent curl "$fam" -sS --max-time 10 --cacert "$CA_DIR/ca.pem" \
		"https://allowed.test/sni-ok$fam" 2>&1) || fail "allowed SNI ($fam): $out"
	[[ $out == "ok GET /sni-ok$fam" ]] || fail "allowed SNI ($fam): got '$out'"
	upstream_saw "GET /sni-ok$fam HTTP/1.1" || fail "upstream did not see the allowed request ($fam)"
done
n=$(upstream_count_conns 443 "$V6_UP")
((n == 1)) || fail "upstream counted $n TLS connections on [$V6_UP]:443, want 1"

before=$(upstream_count_conns 443)
for fam in -4 -6; do
	rc=0
	out=$(as_agent curl "$fam" -sS --max-time 10 --cacert "$CA_DIR/ca.pem" \
		"https://blocked.test/secret$fam" 2>&1) || rc=$?
	((rc != 0)) || fail "blocked SNI ($fam) succeeded: $out"
	# curl/OpenSSL: "tlsv1 alert access denied" (the engine's fatal alert 49)
	[[ $out == *"alert access denied"* ]] || fail "blocked SNI ($fam): no access_denied alert: $out"
	log "blocked SNI ($fam): curl rc=$rc: $out"
done
after=$(upstream_count_conns 443)
((after == before)) || fail "upstream accepted $((after - before)) connection(s) for the blocked SNI"
! upstream_saw "/secret" || fail "upstream saw the blocked request"
! upstream_log | grep -q '"sni":"blocked.test"' || fail "upstream saw a handshake for blocked.test"

# audit: one allow line per allowed SNI, a block line naming the blocklist
wait_until 5 grep -q '"host":"blocked.test"' "$TEST_TMP/audit.log" || fail "no audit line for blocked.test"
"$PY" - "$TEST_TMP/audit.log" <<'PYEOF' || fail "audit lines wrong: $(cat "$TEST_TMP/audit.log")"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
allow = [l for l in lines if l.get("event") == "tcp" and l.get("host") == "allowed.test"]
block = [l for l in lines if l.get("event") == "tcp" and l.get("host") == "blocked.test"]
assert len(allow) == 2 and all(l["verdict"] == "allow" and l["proto"] == "tls" for l in allow), allow
assert {l["dst"] for l in allow} == {"198.18.0.2:443", "[fd00:18::2]:443"}, allow
assert len(block) == 2 and all(l["verdict"] == "block" and l["scanner"] == "blocklist" for l in block), block
assert all(l["uid"] == 1000 for l in allow + block), allow + block
PYEOF
log "PASS t_tproxy_sni"
