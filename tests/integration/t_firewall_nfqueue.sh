#!/usr/bin/env bash
# t_firewall_nfqueue.sh - the agent-UDP NFQUEUE rule (internal option until
# the NFQUEUE engine lands), with no queue listener: the kernel's form is
# probed (native nft queue, else the xt NFQUEUE target through nft_compat,
# built with libnftnl in the same batch); fail-closed drops agent UDP at
# once, fail-open (bypass) lets it through; forcing a form the kernel lacks
# fails naming the module and installs nothing.
set -eu
. tests/integration/lib.sh

topo_up
[[ -x $PLFW ]] && "$PLFW" firewall apply --help >/dev/null 2>&1 || skip "firewall apply not built"
upstream_start

udp_try() {
	as_uid "$1" "$PY" -c '
import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.settimeout(2)
try:
    s.connect((sys.argv[1], 9000))
    s.send(sys.argv[2].encode())
    s.recv(100)
    print("reply")
except socket.timeout:
    print("timeout")
except OSError as e:
    print(e.errno)
' "$2" "$3"
}

# which forms does this kernel have?  (a scratch table, deleted at once)
native=0
if in_host nft -f - 2>/dev/null <<'EOF'
table inet plfw_probe { chain c { type filter hook output priority 0; meta l4proto udp queue num 9 bypass; } }
delete table inet plfw_probe
EOF
then native=1; fi
in_host nft list tables | grep -q plfw_probe && fail "probe table left"

fw_apply --nfqueue 2>"$TEST_TMP/apply.err" || fail "apply --nfqueue: $(cat "$TEST_TMP/apply.err")"
in_host "$PLFW" firewall status >"$TEST_TMP/status" || fail "status"
if ((native)); then
	grep -q 'nfqueue *native' "$TEST_TMP/status" || fail "status form (native expected): $(cat "$TEST_TMP/status")"
else
	grep -q 'nfqueue *xt NFQUEUE target' "$TEST_TMP/status" || fail "status form (xt expected): $(cat "$TEST_TMP/status")"
	grep -q 'udp .*(xt target)' "$TEST_TMP/status" || fail "status does not mark the xt rule"
	# forcing the native form names the missing module, changes nothing
	in_host nft list table inet pipelock >"$TEST_TMP/t1" 2>/dev/null
	rc=0
	fw_apply --nfqueue=native 2>"$TEST_TMP/err" || rc=$?
	((rc != 0)) || fail "native queue forced on a kernel without nft_queue succeeded"
	grep -q 'nft_queue' "$TEST_TMP/err" || fail "message does not name nft_queue: $(cat "$TEST_TMP/err")"
	in_host nft list table inet pipelock >"$TEST_TMP/t2" 2>/dev/null
	cmp -s "$TEST_TMP/t1" "$TEST_TMP/t2" || fail "failed apply changed the table"
fi

# fail-closed, no queue listener: agent UDP dropped, quickly, upstream sees nothing
for addr in "$V4_UP" "$V6_UP"; do
	e=$(udp_try "$AGENT_UID" "$addr" "closed-$addr")
	[[ $e != reply ]] || fail "agent UDP to $addr answered with no queue listener (fail-closed)"
done
n=$(upstream_count_udp)
((n == 0)) || fail "upstream got $n agent datagrams in fail-closed mode"
in_host nft list table inet pipelock 2>/dev/null | grep -q 'counter packets [1-9][0-9]* .*comment "udp"' ||
	fail "the udp queue rule did not count the agent's datagrams"
# the other uid is not queued
[[ $(udp_try "$OTHER_UID" "$V4_UP" other) == reply ]] || fail "other uid UDP"

# fail-open: bypass, so with no listener agent UDP flows
make_config "fail_mode: open"
in_host "$PLFW" firewall apply --config "$PLFW_CONFIG" --nfqueue 2>/dev/null || fail "apply fail-open"
grep -q 'bypass=1' <(in_host "$PLFW" firewall status) || fail "fail-open not recorded"
[[ $(udp_try "$AGENT_UID" "$V4_UP" open-v4) == reply ]] || fail "fail-open: agent UDP v4 did not flow"
[[ $(udp_try "$AGENT_UID" "$V6_UP" open-v6) == reply ]] || fail "fail-open: agent UDP v6 did not flow"

fw_remove || fail "remove"
! in_host nft list ruleset 2>/dev/null | grep -q pipelock || fail "table left"
log "PASS t_firewall_nfqueue"
