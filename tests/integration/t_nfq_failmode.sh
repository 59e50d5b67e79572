#!/usr/bin/env bash
# t_nfq_failmode.sh - the NFQUEUE path when the engine is gone:
# fail_mode: closed -> engine killed (SIGKILL), agent DNS gets no answer and
# the resolver never sees the query; fail_mode: open -> with no engine at
# all, agent DNS flows (queue bypass).  Skips until `pipelock-fw run` starts
# NFQUEUE workers (it logs "nfq N: queue bound").
set -eu
. tests/integration/lib.sh

topo_up
plfw_ready || skip "pipelock-fw firewall/run not built"
need_cmd dnsmasq

DNS_LOG=$TEST_TMP/dnsmasq.log
bg_start "$TEST_TMP/dnsmasq.err" ip netns exec "$NET_NS" dnsmasq --keep-in-foreground \
	--no-resolv --no-hosts --bind-interfaces --listen-address="$V4_UP" --port=53 \
	--user=root --group=root --address=/dnsok.test/"$V4_UP" \
	--log-queries --log-facility="$DNS_LOG"
wait_until 10 eval "in_net ss -Hlun 'sport = :53' | grep -q ." || fail "dnsmasq did not start"

now_ms() { echo $(($(date +%s%N) / 1000000)); }
# lookup NAME -- as the agent through the system resolver (timeout 1 s,
# one attempt); sets L (ok|fail) and L_MS.
lookup() {
	local t0
	t0=$(now_ms)
	if as_agent timeout 5 getent hosts "$1" >/dev/null; then L=ok; else L=fail; fi
	L_MS=$(($(now_ms) - t0))
	log "lookup $1: $L in $L_MS ms"
}

# 1. closed: works with the engine, fails once it is killed
make_config "fail_mode: closed" "dns_servers: [\"$V4_UP\"]"
in_host "$PLFW" firewall apply --config "$PLFW_CONFIG" --nfqueue 2>"$TEST_TMP/apply.err" ||
	fail "apply --nfqueue: $(cat "$TEST_TMP/apply.err")"
engine_start --config "$PLFW_CONFIG" -v
wait_until 5 grep -q 'nfq [0-9]*: queue bound (fail-closed)' "$TEST_TMP/engine.err" ||
	skip "the engine does not start NFQUEUE workers yet"
lookup first.dnsok.test
[[ $L == ok ]] || fail "lookup with the engine running failed"
engine_kill9
lookup dead.dnsok.test
[[ $L == fail ]] || fail "fail-closed: lookup succeeded with the engine killed"
! grep -q 'dead.dnsok.test' "$DNS_LOG" || fail "fail-closed: the resolver saw the query"
fw_remove >/dev/null 2>&1 || true

# 2. open: no engine at all, DNS flows through the bypass
make_config "fail_mode: open" "dns_servers: [\"$V4_UP\"]"
in_host "$PLFW" firewall apply --config "$PLFW_CONFIG" --nfqueue 2>"$TEST_TMP/apply.err" ||
	fail "apply --nfqueue (open): $(cat "$TEST_TMP/apply.err")"
lookup open.dnsok.test
[[ $L == ok ]] || fail "fail-open: lookup without the engine failed"
grep -q 'open.dnsok.test' "$DNS_LOG" || fail "fail-open: the resolver did not see the query"
log ok
