#!/usr/bin/env bash
# t_restore_iprule.sh - the policy routing disappears while agent traffic
# flows (`ip rule del`, IPv4 and IPv6; then the `local default` routes):
# nothing of the agent's reaches the upstream except through the engine
# (the guard in our table drops marked packets that would leave by another
# interface than lo), and the engine's watcher puts everything back within
# 5 s.  Then our table is deleted (`nft delete table inet pipelock`) and the
# watcher must re-create it too.  That phase runs without agent traffic:
# while the table is gone nothing marks the agent's packets, so a flow
# started in that window is not ours to catch (the watcher makes the window
# short, it cannot make it empty); traffic resumes after the restore and
# is checked for leaks again.
set -eu
. tests/integration/lib.sh

topo_up
need_cmd tcpdump nft
plfw_ready || fail "$PLFW: 'firewall apply' / 'run' not available yet"
upstream_start
make_config
# `run --apply` installs the rules and watches them (the engine's watcher)
engine_start --config "$PLFW_CONFIG" --apply

# our policy rules: those that look up the route table our table records;
# found from `ip rule` with the table our config uses (the default).
TABLE=${PLFW_ROUTE_TABLE:-8890}
our_rules() { in_host ip "$1" rule list | grep -E "lookup $TABLE( |\$)"; }
rules_present() { our_rules -4 >/dev/null && our_rules -6 >/dev/null; }
routes_present() {
	in_host ip -4 route list table "$TABLE" | grep -q '^local default' &&
		in_host ip -6 route list table "$TABLE" | grep -q '^local default'
}
table_present() { in_host nft list table inet pipelock >/dev/null 2>&1; }
# (the engine listens before its apply completes)
wait_until 10 rules_present || fail "no ip rule looking up table $TABLE after apply: $(in_host ip rule list)"
wait_until 10 table_present || fail "no table inet pipelock after run --apply"
routes_present || fail "no local default route in table $TABLE after apply"

# agent load: two bounded loops (v4, v6) until the stop file appears
stop=$AGENT_TMP/stop
load_start() {
	local addr
	rm -f "$stop"
	LOAD_PIDS=""
	for addr in "$V4_UP" "$V6_UP"; do
		bg_start "$TEST_TMP/load-$1-$addr.out" as_agent "$PY" "$INTEG_DIR/helpers/agent_load.py" http \
			--addr "$addr" --count 20000 --seconds 40 --timeout 3 --until "$stop" \
			--ports-out "$AGENT_TMP/ports"
		LOAD_PIDS="$LOAD_PIDS $BG_PID"
	done
}
load_stop() {
	local p
	touch "$stop"
	for p in $LOAD_PIDS; do wait "$p" || true; done
	for p in "$TEST_TMP"/load-"$1"-*.out; do log "load $1: $(cat "$p")"; done
}
# progress: the upstream accepted N more connections than now
conns_grow() { (($(upstream_count_conns 80) >= $1)); }

capture_start
load_start rule
n=$(upstream_count_conns 80)
wait_until 10 conns_grow $((n + 20)) || fail "agent traffic does not flow through the engine"

# phase 1: ip rules, then routes, deleted under load
for fam in -4 -6; do
	while read -r line; do
		pref=${line%%:*}
		in_host ip "$fam" rule del pref "$pref" || fail "ip $fam rule del pref $pref"
		log "deleted: ip $fam rule $line"
	done < <(our_rules "$fam")
done
! rules_present || log "note: rules already back"
wait_until 5 rules_present || fail "the engine did not restore the ip rules within 5 s: $(in_host ip rule list)"
log "ip rules restored: $(our_rules -4) / $(our_rules -6)"
reapplied() { grep -q '"event":"rules".*reapplied' "$TEST_TMP/audit.log"; }
wait_until 5 reapplied || fail "no audit event for the re-apply"
n=$(upstream_count_conns 80)
wait_until 10 conns_grow $((n + 20)) || fail "agent traffic did not resume after the rule was restored"

in_host ip -4 route del local default dev lo table "$TABLE" || fail "ip -4 route del"
in_host ip -6 route del local default dev lo table "$TABLE" || fail "ip -6 route del"
log "deleted the local default routes of table $TABLE"
wait_until 5 routes_present || fail "the engine did not restore the routes within 5 s"
n=$(upstream_count_conns 80)
wait_until 10 conns_grow $((n + 20)) || fail "agent traffic did not resume after the routes were restored"
load_stop rule

# phase 2: the table itself (no agent traffic while it is gone)
pid_alive "$ENGINE_PID" || fail "the engine died"
in_host nft delete table inet pipelock || fail "nft delete table"
log "deleted table inet pipelock"
wait_until 5 table_present || fail "the engine did not re-create table inet pipelock within 5 s"
rules_present || fail "ip rules missing after the table was restored"
load_start table
n=$(upstream_count_conns 80)
wait_until 10 conns_grow $((n + 20)) || fail "agent traffic does not flow after the table was restored"
load_stop table
pid_alive "$ENGINE_PID" || fail "the engine died"

capture_stop
assert_no_leak "$CAPTURE_PCAP" "$AGENT_TMP/ports"
log "PASS: rules/routes/table deleted under load: no leak, all restored"
