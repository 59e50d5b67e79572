#!/usr/bin/env bash
# t_firewall_guard.sh - with the policy routes gone (ip rule deleted, as
# systemd-networkd or `ip rule flush` would do) and no engine, marked agent
# packets route out of the veth: the postrouting guard must drop them.
# Asserted on a capture of the upstream veth and the upstream's own log.
set -eu
. tests/integration/lib.sh

topo_up
[[ -x $PLFW ]] && "$PLFW" firewall apply --help >/dev/null 2>&1 || skip "firewall apply not built"
need_cmd tcpdump
upstream_start
fw_apply 2>"$TEST_TMP/apply.err" || fail "apply: $(cat "$TEST_TMP/apply.err")"

in_host ip rule del fwmark 0x100000/0x100000 lookup 8890
in_host ip -6 rule del fwmark 0x100000/0x100000 lookup 8890
! in_host ip rule | grep -q 'lookup 8890' || fail "ip rule still there"
rc=0
in_host "$PLFW" firewall status >"$TEST_TMP/status" || rc=$?
((rc == 0)) || fail "status exit $rc with the table installed"
grep -q 'routes *MISSING' "$TEST_TMP/status" || fail "status does not report the missing routes: $(cat "$TEST_TMP/status")"

capture_start "host $V4_UP or host $V6_UP or host $V4_UP2 or host $V6_UP2"
for url in "http://$V4_UP/guard4" "http://[$V6_UP]/guard6" "https://$V4_UP2/" "http://[$V6_UP2]:9000/"; do
	if as_agent curl -sS --max-time 2 -o /dev/null "$url" 2>/dev/null; then
		fail "agent reached $url without routes"
	fi
done
# the non-agent uid still works through the same veth (the capture sees it)
out=$(as_other curl -fsS --max-time 5 "http://$V4_UP/other")
[[ $out == "ok GET /other" ]] || fail "other uid: '$out'"
capture_stop

n=$(upstream_count_conns)
((n == 1)) || fail "upstream accepted $n connections, want 1 (the other uid's)"
# every captured packet belongs to the connection the upstream accepted
assert_no_leak
# the guard, not luck, stopped them
pk=$(in_host nft list table inet pipelock | sed -n 's/.*counter packets \([0-9]*\) .*comment "guard".*/\1/p')
((pk > 0)) || fail "guard counter is ${pk:-?}: it did not drop anything"

in_host "$PLFW" firewall remove || fail "remove"
! in_host nft list ruleset | grep -q pipelock || fail "table left"
log "PASS t_firewall_guard"
