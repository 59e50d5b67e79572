#!/usr/bin/env bash
# t_nfq_failmode.sh - the NFQUEUE path when the engine is gone:
# fail_mode: closed -> engine killed (SIGKILL) or stopped (SIGTERM), agent
# DNS fails within 1 s (bypass + the nfq-guard rejection, no resolver
# timeout) and the resolver never sees the query; a restarted engine serves
# again.  fail_mode: open -> with no engine at all, agent DNS flows (queue
# bypass); with the engine running it is still inspected.
set -eu
. tests/integration/lib.sh
. tests/integration/helpers/nfq.sh

topo_up
plfw_ready || skip "pipelock-fw firewall/run not built"
need_cmd dnsmasq

DNS_LOG=$TEST_TMP/dnsmasq.log
nfq_dnsmasq "$NET_NS" "$V4_UP" "$DNS_LOG" --address=/dnsok.test/"$V4_UP"

# refused_fast NAME WHY -- the lookup fails within 1 s, the resolver never
# sees it
refused_fast() {
	nfq_lookup "$1"
	[[ $L == fail ]] || fail "fail-closed ($2): lookup succeeded"
	((L_MS < 1000)) || fail "fail-closed ($2): the lookup failed only after $L_MS ms"
	! grep -q "$1" "$DNS_LOG" || fail "fail-closed ($2): the resolver saw the query"
}

# 1. closed: works with the engine, fails once it is killed
make_config "fail_mode: closed" "dns_servers: [\"$V4_UP\"]"
in_host "$PLFW" firewall apply --config "$PLFW_CONFIG" --nfqueue 2>"$TEST_TMP/apply.err" ||
	fail "apply --nfqueue: $(cat "$TEST_TMP/apply.err")"
engine_start --config "$PLFW_CONFIG" -v
wait_until 5 grep -q 'nfq [0-9]*: queue bound (fail-closed)' "$TEST_TMP/engine.err" ||
	skip "the engine does not start NFQUEUE workers yet"
nfq_lookup first.dnsok.test
[[ $L == ok ]] || fail "lookup with the engine running failed"
engine_kill9
refused_fast dead.dnsok.test "engine killed"
# a new engine takes the queue over; SIGTERM unbinds it again
engine_start --config "$PLFW_CONFIG" -v
wait_until 5 eval "[[ \$(grep -c 'nfq 0: queue bound' '$TEST_TMP/engine.err') -ge 2 ]]" ||
	fail "restarted engine did not bind the queue"
nfq_lookup again.dnsok.test
[[ $L == ok ]] || fail "lookup after the engine restart failed"
engine_stop
refused_fast stopped.dnsok.test "engine stopped"
fw_remove >/dev/null 2>&1 || true

# 2. open: no engine at all, DNS flows through the bypass
make_config "fail_mode: open" "dns_servers: [\"$V4_UP\"]"
in_host "$PLFW" firewall apply --config "$PLFW_CONFIG" --nfqueue 2>"$TEST_TMP/apply.err" ||
	fail "apply --nfqueue (open): $(cat "$TEST_TMP/apply.err")"
nfq_lookup open.dnsok.test
[[ $L == ok ]] || fail "fail-open: lookup without the engine failed"
grep -q 'open.dnsok.test' "$DNS_LOG" || fail "fail-open: the resolver did not see the query"
# fail-open only means "when the engine is gone": running, it judges
engine_start --config "$PLFW_CONFIG" -v
wait_until 5 grep -q 'nfq 0: queue bound (fail-open)' "$TEST_TMP/engine.err" ||
	fail "fail-open engine did not bind the queue with FAIL_OPEN"
nfq_lookup AKIAZ7Y6X5W4.V3U2T1S0R9Q8.dnsok.test
[[ $L == fail ]] || fail "fail-open with the engine up: secret name resolved"
! grep -qi 'akiaz7y6' "$DNS_LOG" || fail "fail-open: the resolver saw the secret"
nfq_lookup up.dnsok.test
[[ $L == ok ]] || fail "fail-open with the engine up: lookup failed"
log ok
