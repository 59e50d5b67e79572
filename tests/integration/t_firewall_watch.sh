#!/usr/bin/env bash
# t_firewall_watch.sh - the netlink watcher (rules_watch_*, the engine's
# self-healing, driven here by `firewall watch`): a deleted ip rule, a
# deleted IPv6 route, a deleted rule, the deleted table and `nft flush
# ruleset` are each put back within seconds, and agent TCP is refused again.
set -eu
. tests/integration/lib.sh

topo_up
[[ -x $PLFW ]] && "$PLFW" firewall watch --help >/dev/null 2>&1 || skip "firewall watch not built"
upstream_start
fw_apply 2>/dev/null || fail "apply"
bg_start "$TEST_TMP/watch.log" ip netns exec "$HOST_NS" "$PLFW" firewall watch \
	--agent-user "$AGENT_UID" --agent-user "$AGENT2_UID"
WATCH_PID=$BG_PID
wait_until 10 grep -q "watching" "$TEST_TMP/watch.log" || fail "watcher did not start: $(cat "$TEST_TMP/watch.log")"

rule4() { in_host ip rule | grep -q 'fwmark 0x100000/0x100000 lookup 8890'; }
route6() { in_host ip -6 route show table 8890 | grep -q '^local default dev lo'; }
table() { in_host nft list tables | grep -q 'inet pipelock'; }
nrules() { in_host nft list table inet pipelock | grep -c 'comment "'; }
want_rules=$(nrules)

in_host ip rule del fwmark 0x100000/0x100000 lookup 8890
wait_until 5 rule4 || fail "ip rule not restored: $(cat "$TEST_TMP/watch.log")"

in_host ip -6 route del local default dev lo table 8890
wait_until 5 route6 || fail "IPv6 route not restored"

h=$(in_host nft -a list chain inet pipelock postrouting | sed -n 's/.*comment "guard" # handle \([0-9]*\)/\1/p')
[[ -n $h ]] || fail "guard rule handle not found"
in_host nft delete rule inet pipelock postrouting handle "$h"
wait_until 5 eval '[[ $(nrules) == "$want_rules" ]]' || fail "deleted rule not restored"

in_host nft delete table inet pipelock
wait_until 5 table || fail "table not restored"

in_host nft flush ruleset
wait_until 5 table || fail "table not restored after nft flush ruleset"
wait_until 5 eval '[[ $(nrules) == "$want_rules" ]]' || fail "rules incomplete after restore"
rule4 && route6 || fail "routes lost"
grep -q "re-applying" "$TEST_TMP/watch.log" || fail "watcher did not log the re-apply"

# restored means enforced: agent TCP refused again, upstream untouched
rc=0
as_agent curl -sS --max-time 3 -o /dev/null "http://$V4_UP/after-restore" 2>/dev/null || rc=$?
((rc == 7)) || fail "agent curl after restore: rc=$rc, want 7"
[[ $(upstream_count_conns) == 0 ]] || fail "upstream saw agent connections"

pid_stop "$WATCH_PID" TERM
fw_remove || fail "remove"
! in_host nft list ruleset | grep -q pipelock || fail "table left"
log "PASS t_firewall_watch"
