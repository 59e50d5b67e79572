#!/usr/bin/env bash
# t_firewall_preexisting.sh - connections an agent opened before `firewall
# apply` (TCP over IPv4 and IPv6) are closed by apply (sock_diag
# SOCK_DESTROY here; conntrack deletion where the kernel lacks it), apply
# says which path ran, and the upstream never sees the agent's later bytes.
# A non-agent connection opened at the same time survives.
set -eu
. tests/integration/lib.sh

topo_up
[[ -x $PLFW ]] && "$PLFW" firewall apply --help >/dev/null 2>&1 || skip "firewall apply not built"
upstream_start

# holder ADDR TAG GO -- connect to ADDR:9000, echo "TAG-before", wait for
# file GO, send "TAG-after", print what happened
cat >"$TEST_TMP/holder.py" <<'EOF'
import os, socket, sys, time
addr, tag, go = sys.argv[1:4]
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.create_connection((addr, 9000), timeout=5)
s.sendall((tag + "-before\n").encode())
print("echo", s.recv(100).decode().strip(), flush=True)
end = time.time() + 30
while not os.path.exists(go) and time.time() < end:
    time.sleep(0.05)
try:
    s.sendall((tag + "-after\n").encode())
    data = s.recv(100)
    print("after", "eof" if not data else "data:" + data.decode().strip(), flush=True)
except OSError as e:
    print("after errno", e.errno, flush=True)
EOF
chmod 0644 "$TEST_TMP/holder.py"
# one_case MODE -- holders up, apply (--close-via=MODE), check, remove
one_case() {
	local mode=$1 go=$AGENT_TMP/go-$1 who uid addr t
	# conntrack only tracks a namespace once some rule needs it: make the
	# holders' flows have entries for the conntrack path to delete
	[[ $mode != conntrack ]] || in_host nft -f - <<'EOF'
table inet plfw_ctwarm { chain o { type filter hook output priority 0; ct state established counter; }; }
EOF
	for who in agent4 agent6 other4; do
		case $who in
		agent4) uid=$AGENT_UID addr=$V4_UP ;;
		agent6) uid=$AGENT_UID addr=$V6_UP ;;
		other4) uid=$OTHER_UID addr=$V4_UP ;;
		esac
		t=$who-$mode
		bg_start "$TEST_TMP/$t.out" ip netns exec "$HOST_NS" setpriv --reuid="$uid" --regid="$uid" --clear-groups -- \
			"$PY" "$TEST_TMP/holder.py" "$addr" "$t" "$go"
		wait_until 10 grep -qs "^echo $t-before" "$TEST_TMP/$t.out" || fail "$t did not connect: $(cat "$TEST_TMP/$t.out")"
	done

	fw_apply --close-via="$mode" 2>"$TEST_TMP/apply.err" || fail "apply: $(cat "$TEST_TMP/apply.err")"
	if [[ $mode == conntrack ]]; then
		grep -q 'existing agent connections: 2 closed via deletion of their conntrack entries' \
			"$TEST_TMP/apply.err" || fail "apply ($mode) did not report closing 2 connections: $(cat "$TEST_TMP/apply.err")"
	else
		grep -Eq 'existing agent connections: 2 closed via (sock_diag SOCK_DESTROY|deletion of their conntrack entries)' \
			"$TEST_TMP/apply.err" || fail "apply ($mode) did not report closing 2 connections: $(cat "$TEST_TMP/apply.err")"
	fi
	touch "$go"
	for who in agent4 agent6 other4; do
		t=$who-$mode
		wait_until 10 grep -qs "^after" "$TEST_TMP/$t.out" || fail "$t did not finish: $(cat "$TEST_TMP/$t.out")"
	done
	grep -q "^after data:other4-$mode-after" "$TEST_TMP/other4-$mode.out" ||
		fail "non-agent connection broken ($mode): $(cat "$TEST_TMP/other4-$mode.out")"
	for who in agent4 agent6; do
		t=$who-$mode
		! grep -q "^after data:" "$TEST_TMP/$t.out" || fail "$t still talks after apply: $(cat "$TEST_TMP/$t.out")"
		! upstream_saw "$t-after" || fail "upstream received $t's bytes sent after apply"
	done
	upstream_saw "agent4-$mode-before" || fail "upstream log lacks the agent's earlier bytes (test broken)"
	fw_remove || fail "remove"
	[[ $mode != conntrack ]] || in_host nft delete table inet plfw_ctwarm
}

one_case auto
one_case conntrack

# an agent selected by group only (skgid): uid 1002 with gid 1001 is an
# agent, uid 1002 with its own gid is not
for who in gagent gother; do
	gid=$AGENT2_UID
	[[ $who == gother ]] && gid=$OTHER_UID
	bg_start "$TEST_TMP/$who.out" ip netns exec "$HOST_NS" setpriv --reuid="$OTHER_UID" --regid="$gid" --clear-groups -- \
		"$PY" "$TEST_TMP/holder.py" "$V4_UP" "$who" "$AGENT_TMP/go-grp"
	wait_until 10 grep -qs "^echo $who-before" "$TEST_TMP/$who.out" || fail "$who did not connect: $(cat "$TEST_TMP/$who.out")"
done
in_host "$PLFW" firewall apply --agent-user "$AGENT_UID" --agent-group "$AGENT2_UID" 2>"$TEST_TMP/apply.err" ||
	fail "apply: $(cat "$TEST_TMP/apply.err")"
grep -q 'existing agent connections: 1 closed' "$TEST_TMP/apply.err" ||
	fail "apply did not close the group agent's connection: $(cat "$TEST_TMP/apply.err")"
touch "$AGENT_TMP/go-grp"
for who in gagent gother; do
	wait_until 10 grep -qs "^after" "$TEST_TMP/$who.out" || fail "$who did not finish"
done
grep -q "^after data:gother-after" "$TEST_TMP/gother.out" || fail "non-agent connection broken: $(cat "$TEST_TMP/gother.out")"
! upstream_saw "gagent-after" || fail "upstream received the group agent's bytes sent after apply"
fw_remove || fail "remove"
log "PASS t_firewall_preexisting"
