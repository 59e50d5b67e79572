#!/usr/bin/env bash
# t_nfq_quic.sh - agent QUIC through NFQUEUE with a real client and server
# (ngtcp2's gtlsclient/gtlsserver, over IPv6 here: the hosts file lists both
# families): `quic: block` refuses an allowed and a blocked SNI alike, fast
# (the engine answers with a Version Negotiation: the client's socket is
# unconnected, so the ruleset's ICMP error never reaches it); `quic:
# inspect` decrypts the Initial, completes the handshake for the allowed SNI
# (whose later packets skip the queue by ct mark) and refuses the
# blocklisted one.  Arbitrary
# UDP to another port is refused too.  Skips until `pipelock-fw run` starts
# NFQUEUE workers (it logs "nfq N: queue bound").
set -eu
. tests/integration/lib.sh
. tests/integration/helpers/nfq.sh

topo_up
plfw_ready || skip "pipelock-fw firewall/run not built"
need_cmd gtlsclient gtlsserver nft

bg_start "$TEST_TMP/quic-server.log" ip netns exec "$NET_NS" gtlsserver \
	'*' 443 "$CA_DIR/server.key" "$CA_DIR/server.pem"
wait_until 10 eval "in_net ss -Hlun 'sport = :443' | grep -q ." || fail "gtlsserver did not start"


# quic SNI -- handshake as the agent; sets Q (done|refused|timeout) and Q_MS.
quic() {
	local t0 rc=0
	t0=$(nfq_now_ms)
	# the name resolves to $V4_UP through the namespace's hosts file
	as_agent timeout 6 gtlsclient --timeout=4s --handshake-timeout=4s \
		--exit-on-all-streams-close "$1" 443 "https://$1/" \
		>"$TEST_TMP/quic-client.log" 2>&1 || rc=$?
	Q_MS=$(($(nfq_now_ms) - t0))
	if grep -qi 'handshake has completed\|handshake completed' "$TEST_TMP/quic-client.log"; then
		Q=done
	elif ((Q_MS >= 4000)); then
		Q=timeout
	else
		Q=refused
	fi
	log "quic $1: $Q in $Q_MS ms (rc $rc)"
	cp "$TEST_TMP/quic-client.log" "$TEST_TMP/quic-client-$1-$Q.log"
}

# start MODE -- firewall + engine with `quic: MODE`
start() {
	make_config "quic: $1"
	in_host "$PLFW" firewall apply --config "$PLFW_CONFIG" --nfqueue 2>"$TEST_TMP/apply.err" ||
		fail "apply --nfqueue: $(cat "$TEST_TMP/apply.err")"
	engine_start --config "$PLFW_CONFIG" -v
	wait_until 5 grep -q 'nfq [0-9]*: queue bound' "$TEST_TMP/engine.err" ||
		skip "the engine does not start NFQUEUE workers yet"
	fast=0
	in_host nft list table inet pipelock 2>/dev/null | grep -q '0x00400000' && fast=1
	return 0
}

# refused SNI -- no handshake; fast when the ruleset rejects NFQ_MARK_REJECT
refused() {
	quic "$1"
	[[ $Q != done ]] || fail "quic $1: handshake completed, want refused"
	if ((fast)); then
		[[ $Q == refused ]] && ((Q_MS < 1000)) || fail "quic $1: $Q after $Q_MS ms, want a fast refusal"
		# the client's socket is unconnected (no ICMP error reaches it):
		# it gave up on the engine's Version Negotiation
		grep -q 'type=VN' "$TEST_TMP/quic-client.log" || fail "quic $1: no Version Negotiation received"
	fi
	return 0
}

# 1. quic: block -- every Initial refused, whatever the SNI
start block
refused allowed.test
refused blocked.test
grep -q '"event":"quic".*"verdict":"block"' "$TEST_TMP/audit.log" || fail "no quic block audit event"
engine_stop

# 2. quic: inspect -- SNI policy like TLS
start inspect
quic allowed.test
[[ $Q == done ]] || fail "quic allowed.test under inspect: $Q, want a completed handshake"
grep -q '"host":"allowed.test"' "$TEST_TMP/audit.log" || fail "no audit line for the allowed QUIC flow"
# the allowed flow was marked (NF_REPEAT + NFQ_MARK_ALLOW -> ct mark) and its
# later packets skipped the queue
in_host nft list table inet pipelock >"$TEST_TMP/table" 2>/dev/null
grep -q 'counter packets [1-9][0-9]* .*comment "nfq-allow"' "$TEST_TMP/table" || fail "nfq-allow rule unused"
grep -q 'counter packets [1-9][0-9]* .*comment "nfq-flow"' "$TEST_TMP/table" ||
	fail "the allowed flow's later packets did not skip the queue"
refused blocked.test
grep -q '"host":"blocked.test"' "$TEST_TMP/audit.log" || fail "no audit line for the blocked SNI"

# 3. arbitrary UDP to another port: refused
r=$(nfq_udp_try "$AGENT_UID" "$V4_UP" 9000)
[[ $r != reply ]] || fail "UDP to :9000 got a reply"
((fast == 0)) || [[ $r != timeout ]] || fail "UDP to :9000: timeout, want a fast refusal"
! upstream_saw "xxxxxxxxxxxxxxxxxxxx" 2>/dev/null || fail "upstream received the UDP datagram"
pid_alive "$ENGINE_PID" || fail "engine died"
log "ok (fast refusal tested: $fast)"
