#!/usr/bin/env bash
# t_tproxy_strict.sh - strict mode (api_allowlist) against SNI spoofing, IPv4
# and IPv6: the agent presents the allowed name to another server
# (`curl --resolve allowed.test:443:<other>`); the engine resolves the name
# itself, finds the destination is not one of its addresses, refuses with an
# sni_mismatch audit line, and the other server sees nothing.  The honest
# request still works; a name outside the allowlist is refused.
set -eu
. tests/integration/lib.sh
. tests/integration/helpers/tproxy.sh

strict_mode() {
	sed -i 's/^mode: balanced$/mode: strict\napi_allowlist: ["allowed.test"]/' "$PLFW_CONFIG"
	grep -q '^mode: strict' "$PLFW_CONFIG" || fail "config edit failed"
}
TPROXY_EDIT=strict_mode tproxy_up

for fam in -4 -6; do
	out=$(as_agent curl "$fam" -sS --max-time 10 --cacert "$CA_DIR/ca.pem" \
		"https://allowed.test/strict-ok$fam" 2>&1) || fail "honest allowed.test ($fam): $out"
	[[ $out == "ok GET /strict-ok$fam" ]] || fail "honest allowed.test ($fam): got '$out'"
done

for other in "$V4_UP2" "[$V6_UP2]"; do
	rc=0
	out=$(as_agent curl -sS --max-time 10 --cacert "$CA_DIR/ca.pem" \
		--resolve "allowed.test:443:$other" "https://allowed.test/spoofed" 2>&1) || rc=$?
	((rc != 0)) || fail "spoofed SNI to $other succeeded: $out"
	[[ $out == *"alert access denied"* ]] || fail "spoofed SNI to $other: no access_denied alert: $out"
done
n=$(upstream_count_conns 0 "$V4_UP2")
((n == 0)) || fail "the other server ($V4_UP2) accepted $n connection(s)"
n=$(upstream_count_conns 0 "$V6_UP2")
((n == 0)) || fail "the other server ($V6_UP2) accepted $n connection(s)"
! upstream_saw "/spoofed" || fail "a spoofed request reached an upstream"

# outside the allowlist (resolves fine, to the right address): refused too
rc=0
out=$(as_agent curl -4 -sS --max-time 10 --cacert "$CA_DIR/ca.pem" https://other.test/x 2>&1) || rc=$?
((rc != 0)) || fail "other.test (not in api_allowlist) succeeded in strict mode"

"$PY" - "$TEST_TMP/audit.log" "$V4_UP2" "$V6_UP2" <<'PYEOF' || fail "audit lines wrong: $(cat "$TEST_TMP/audit.log")"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
mm = [l for l in lines if l.get("event") == "tcp" and l.get("scanner") == "sni_mismatch"]
dsts = {l["dst"] for l in mm}
assert dsts == {sys.argv[2] + ":443", "[" + sys.argv[3] + "]:443"}, mm
assert all(l["verdict"] == "block" and l["host"] == "allowed.test" for l in mm), mm
al = [l for l in lines if l.get("host") == "other.test" and l.get("event") == "tcp"]
assert al and al[0]["verdict"] == "block", al
PYEOF
log "PASS t_tproxy_strict"
