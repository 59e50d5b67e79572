#!/usr/bin/env bash
# t_firewall_apply.sh - firewall apply/remove/status lifecycle against the
# real kernel state: --dry-run changes nothing, apply installs the chains,
# sets and ip rules/routes (IPv4 and IPv6), apply twice replaces, a config
# change moves the routes, remove twice leaves nothing of ours, status exits
# 0/3, conflicts and uid 0 are refused with nothing installed.
set -eu
. tests/integration/lib.sh

topo_up
[[ -x $PLFW ]] && "$PLFW" firewall apply --help >/dev/null 2>&1 || skip "firewall apply not built"

# everything apply could touch, as text
dump() {
	in_host nft list ruleset
	echo "--- rules"
	in_host ip rule
	in_host ip -6 rule
	echo "--- routes"
	in_host ip route show table all
	in_host ip -6 route show table all
}
status_rc() {
	local rc=0
	in_host "$PLFW" firewall status >"$TEST_TMP/status" 2>&1 || rc=$?
	echo "$rc"
}
nothing_of_ours() {
	in_host nft list ruleset | grep -q pipelock && fail "$1: table left in nft list ruleset"
	in_host ip rule | grep -q 'lookup 8890' && fail "$1: ip rule left"
	in_host ip -6 rule | grep -q 'lookup 8890' && fail "$1: ip -6 rule left"
	[[ -z $(in_host ip route show table 8890) ]] || fail "$1: routes left in table 8890"
	[[ -z $(in_host ip -6 route show table 8890 2>/dev/null) ]] || fail "$1: IPv6 routes left in table 8890"
	return 0
}

before=$(dump)
[[ $(status_rc) == 3 ]] || fail "status before apply: want exit 3: $(cat "$TEST_TMP/status")"
grep -q "not installed" "$TEST_TMP/status" || fail "status text: $(cat "$TEST_TMP/status")"

# --- dry-run: the full ruleset and routes, nothing changed, nft accepts it
fw_apply --dry-run >"$TEST_TMP/dry.nft" || fail "dry-run failed"
for want in 'chain output {' 'type route hook output priority -150' 'meta skuid @agent_uids' \
	'elements = { 1000, 1001 }' 'tproxy to :8890' 'reject with tcp reset comment "engine-down"' \
	'oifname != "lo" meta mark & 0x00100000 == 0x00100000 counter drop comment "guard"' \
	'ip rule add fwmark 0x100000/0x100000 lookup 8890 priority 8890' \
	'ip -6 route add local ::/0 dev lo table 8890'; do
	grep -qF -- "$want" "$TEST_TMP/dry.nft" || fail "dry-run lacks '$want'"
done
[[ $(dump) == "$before" ]] || fail "--dry-run changed kernel state"
in_host nft -c -f "$TEST_TMP/dry.nft" || fail "nft rejects the dry-run script"
# the NFQUEUE forms are shown too (native as a rule, xt as a comment)
q='meta mark set meta mark | 0x02000000 queue num 0 bypass comment "udp"'
fw_apply --dry-run --nfqueue=native | grep -qF "udp counter $q" || fail "dry-run native queue"
fw_apply --dry-run --nfqueue=xt | grep -qF "# meta l4proto udp counter $q" || fail "dry-run xt queue"
fw_apply --dry-run --nfqueue=off | grep -q 'queue num' && fail "dry-run --nfqueue=off still queues"
"$PLFW" generate nftables --agent-user 1000 | grep -q 'xt NFQUEUE' || fail "generate lacks the xt note"
[[ $(dump) == "$before" ]] || fail "dry-runs changed kernel state"

# --- refusals install nothing
rc=0
fw_apply --agent-user 0 2>"$TEST_TMP/err" || rc=$?
((rc != 0)) || fail "uid 0 accepted as agent"
grep -q "uid 0" "$TEST_TMP/err" || fail "uid 0 refusal message: $(cat "$TEST_TMP/err")"
in_host ip rule add priority 8890 fwmark 0x7 lookup 100
rc=0
fw_apply 2>"$TEST_TMP/err" || rc=$?
((rc != 0)) || fail "apply ignored a foreign ip rule at our priority"
grep -q "priority 8890" "$TEST_TMP/err" || fail "conflict message does not say what it found: $(cat "$TEST_TMP/err")"
in_host ip rule del priority 8890 fwmark 0x7 lookup 100
in_host ip route add 203.0.113.0/24 dev lo table 8890
rc=0
fw_apply 2>"$TEST_TMP/err" || rc=$?
((rc != 0)) || fail "apply ignored a foreign route in table 8890"
grep -q "table 8890" "$TEST_TMP/err" || fail "table conflict message: $(cat "$TEST_TMP/err")"
in_host ip route del 203.0.113.0/24 dev lo table 8890
[[ $(dump) == "$before" ]] || fail "refused applies changed kernel state"

# --- apply
fw_apply 2>"$TEST_TMP/apply.err" || fail "apply: $(cat "$TEST_TMP/apply.err")"
grep -q "existing agent connections" "$TEST_TMP/apply.err" || fail "apply did not say which close path ran"
in_host nft list table inet pipelock >"$TEST_TMP/table"
for c in output agent capture refuse prerouting input postrouting; do
	grep -q "chain $c {" "$TEST_TMP/table" || fail "chain $c missing"
done
grep -q 'type route hook output priority mangle' "$TEST_TMP/table" || fail "output chain not type route"
grep -q 'comment "pipelock-fw 1 mark=0x100000' "$TEST_TMP/table" || fail "no apply record in the table comment"
grep -A2 'set agent_uids' "$TEST_TMP/table" | grep -q 'type uid' || fail "agent_uids set"
grep -q 'elements = { 1000, 1001 }' "$TEST_TMP/table" || fail "agent uids not in the set"
[[ $(in_host ip rule | grep -c 'fwmark 0x100000/0x100000 lookup 8890') == 1 ]] || fail "ip rule: $(in_host ip rule)"
[[ $(in_host ip -6 rule | grep -c 'fwmark 0x100000/0x100000 lookup 8890') == 1 ]] || fail "ip -6 rule"
in_host ip route show table 8890 | grep -q '^local default dev lo' || fail "IPv4 local route"
in_host ip -6 route show table 8890 | grep -q '^local default dev lo' || fail "IPv6 local route"
[[ $(status_rc) == 0 ]] || fail "status after apply: $(cat "$TEST_TMP/status")"
grep -q 'agent uids.*1000, 1001' "$TEST_TMP/status" || fail "status selectors: $(cat "$TEST_TMP/status")"
grep -q 'NOT listening on tproxy port 8890' "$TEST_TMP/status" || fail "status engine: $(cat "$TEST_TMP/status")"
grep -q 'nfqueue *\(xt NFQUEUE\|native\)' "$TEST_TMP/status" || fail "status nfqueue form (on by default)"
grep -q 'guard' "$TEST_TMP/status" || fail "status counters"

# --- apply again: replaced, nothing duplicated
fw_apply 2>/dev/null || fail "second apply"
[[ $(in_host ip rule | grep -c 'lookup 8890') == 1 ]] || fail "ip rule duplicated"
[[ $(in_host nft list tables | grep -c 'inet pipelock') == 1 ]] || fail "table duplicated"
[[ $(in_host nft list table inet pipelock | grep -c 'comment "guard"') == 1 ]] || fail "rules duplicated"

# --- a config change: the record lets the new apply drop the old routes
make_config "mark: 0x4000000" "route_table: 77" "rule_priority: 7700"
in_host "$PLFW" firewall apply --config "$PLFW_CONFIG" 2>/dev/null || fail "apply with new config"
in_host ip rule | grep -q 'lookup 8890' && fail "old ip rule left after a config change"
in_host ip rule | grep -q '7700:.*fwmark 0x4000000/0x4000000 lookup 77' || fail "new ip rule: $(in_host ip rule)"
[[ -z $(in_host ip route show table 8890) ]] || fail "old routes left after a config change"
# remove works from the record, not the config
fw_remove || fail "remove"
in_host ip rule | grep -q 'lookup 77' && fail "ip rule left by remove after a config change"
[[ -z $(in_host ip route show table 77) ]] || fail "routes left in table 77"

# --- apply, remove twice: nothing of ours left, kernel state as before
fw_apply 2>/dev/null || fail "apply"
fw_remove || fail "remove 1"
fw_remove || fail "remove 2 (idempotent)"
nothing_of_ours "after remove"
[[ $(dump) == "$before" ]] || { diff <(echo "$before") <(dump) >&2; fail "state after remove differs"; }
[[ $(status_rc) == 3 ]] || fail "status after remove: want 3"

# --- remove after the table alone was flushed by someone else
fw_apply 2>/dev/null || fail "apply"
in_host nft delete table inet pipelock
fw_remove || fail "remove without table"
nothing_of_ours "remove without table"
log "PASS t_firewall_apply"
