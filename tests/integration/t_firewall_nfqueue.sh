#!/usr/bin/env bash
# t_firewall_nfqueue.sh - the agent-UDP NFQUEUE rules (on by default), with
# no queue listener: the kernel's form is probed (native nft queue, else the
# xt NFQUEUE target through nft_compat, built with libnftnl in the same
# batch); the queue always has `bypass`, and fail-closed rejects what bypass
# let through in the nfq-guard chain (an ICMP error at once, never a
# timeout, nothing reaches the upstream); fail-open lets it through; a
# queue range (--queues) is recorded and shown; forcing a form the kernel
# lacks fails naming the module and installs nothing; --nfqueue=off rejects
# agent UDP in the rules.
set -eu
. tests/integration/lib.sh
. tests/integration/helpers/nfq.sh

topo_up
[[ -x $PLFW ]] && "$PLFW" firewall apply --help >/dev/null 2>&1 || skip "firewall apply not built"
upstream_start

udp_try() { nfq_udp_try "$1" "$2" 9000 "$3"; }

# which forms does this kernel have?  (a scratch table, deleted at once)
native=0
if in_host nft -f - 2>/dev/null <<'EOF'
table inet plfw_probe { chain c { type filter hook output priority 0; meta l4proto udp queue num 9 bypass; } }
delete table inet plfw_probe
EOF
then native=1; fi
in_host nft list tables | grep -q plfw_probe && fail "probe table left"

fw_apply --queues 2 2>"$TEST_TMP/apply.err" || fail "apply: $(cat "$TEST_TMP/apply.err")"
in_host "$PLFW" firewall status >"$TEST_TMP/status" || fail "status"
if ((native)); then
	grep -q 'nfqueue *native' "$TEST_TMP/status" || fail "status form (native expected): $(cat "$TEST_TMP/status")"
else
	grep -q 'nfqueue *xt NFQUEUE target' "$TEST_TMP/status" || fail "status form (xt expected): $(cat "$TEST_TMP/status")"
	grep -q 'udp .*(xt target)' "$TEST_TMP/status" || fail "status does not mark the xt rule"
	grep -q 'queues *0-1 (balanced by address-pair hash), fail-closed' "$TEST_TMP/status" ||
		fail "status queues: $(cat "$TEST_TMP/status")"
	# forcing the native form names the missing module, changes nothing
	in_host nft list table inet pipelock >"$TEST_TMP/t1" 2>/dev/null
	rc=0
	fw_apply --nfqueue=native 2>"$TEST_TMP/err" || rc=$?
	((rc != 0)) || fail "native queue forced on a kernel without nft_queue succeeded"
	grep -q 'nft_queue' "$TEST_TMP/err" || fail "message does not name nft_queue: $(cat "$TEST_TMP/err")"
	in_host nft list table inet pipelock >"$TEST_TMP/t2" 2>/dev/null
	cmp -s "$TEST_TMP/t1" "$TEST_TMP/t2" || fail "failed apply changed the table"
fi

# fail-closed, no queue listener: agent UDP refused at once (the guard chain
# after bypass), upstream sees nothing
for addr in "$V4_UP" "$V6_UP"; do
	e=$(udp_try "$AGENT_UID" "$addr" "closed-$addr")
	[[ $e != reply && $e != timeout ]] || fail "agent UDP to $addr: $e with no queue listener (fail-closed), want an error"
done
in_host nft list table inet pipelock 2>/dev/null | grep -q 'counter packets [1-9][0-9]* .*comment "engine-down-udp"' ||
	fail "the guard did not count the bypassed datagrams"
n=$(upstream_count_udp)
((n == 0)) || fail "upstream got $n agent datagrams in fail-closed mode"
in_host nft list table inet pipelock 2>/dev/null | grep -q 'counter packets [1-9][0-9]* .*comment "udp"' ||
	fail "the udp queue rule did not count the agent's datagrams"
# the other uid is not queued
[[ $(udp_try "$OTHER_UID" "$V4_UP" other) == reply ]] || fail "other uid UDP"

# fail-open: bypass, so with no listener agent UDP flows
make_config "fail_mode: open"
in_host "$PLFW" firewall apply --config "$PLFW_CONFIG" 2>/dev/null || fail "apply fail-open"
grep -q 'open=1' <(in_host "$PLFW" firewall status) || fail "fail-open not recorded"
in_host nft list table inet pipelock 2>/dev/null | grep -q 'engine-down-udp' && fail "fail-open has the guard rule"
[[ $(udp_try "$AGENT_UID" "$V4_UP" open-v4) == reply ]] || fail "fail-open: agent UDP v4 did not flow"
[[ $(udp_try "$AGENT_UID" "$V6_UP" open-v6) == reply ]] || fail "fail-open: agent UDP v6 did not flow"


# --nfqueue=off: agent UDP refused by the rules themselves
fw_apply --nfqueue=off 2>/dev/null || fail "apply --nfqueue=off"
grep -q 'nfqueue *off' <(in_host "$PLFW" firewall status) || fail "status --nfqueue=off"
e=$(udp_try "$AGENT_UID" "$V4_UP" off-v4)
[[ $e != reply && $e != timeout ]] || fail "--nfqueue=off: agent UDP $e, want an error"

fw_remove || fail "remove"
! in_host nft list ruleset 2>/dev/null | grep -q pipelock || fail "table left"
log "PASS t_firewall_nfqueue"
