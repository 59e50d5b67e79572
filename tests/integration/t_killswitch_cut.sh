#!/usr/bin/env bash
# t_killswitch_cut.sh - the kill switch stops what is already flowing: a
# long HTTPS download through the engine is cut (its tcp_close audit line
# says kill_switch), and an accepted UDP flow that the kernel fast-paths
# (conntrack mark NFQ_MARK_ALLOW, as an allowed QUIC flow gets; here set on
# a real agent flow by a one-shot nft rule) is cut: its next datagram is refused
# and never reaches the upstream.  DNS/UDP judged by the queue is refused
# with reason kill_switch too.  Released, the agent's UDP flows again.
set -eu
. tests/integration/lib.sh
. tests/integration/helpers/nfq.sh

topo_up
plfw_ready || fail "$PLFW: 'firewall apply' / 'run' not available yet"
need_cmd conntrack nft
upstream_start
make_config "allow_ip_cidrs: [\"$V4_UP/32\"]"
fw_apply --config "$PLFW_CONFIG" >/dev/null || fail "firewall apply failed"
engine_start --config "$PLFW_CONFIG" -v
wait_until 5 grep -q 'nfq [0-9]*: queue bound' "$TEST_TMP/engine.err" || fail "no NFQUEUE worker bound"

# udp_send PAYLOAD -- one datagram as the agent from source port 40000 to
# the upstream's UDP echo; prints "reply", "timeout" or the errno
udp_send() {
	as_agent "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 40000))
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
' "$V4_UP" "$1"
}

# 1. a long download, cut by the switch
big=200000000
as_agent curl -4 -sS --max-time 60 --limit-rate 1M --cacert "$CA_DIR/ca.pem" \
	-o "$AGENT_TMP/big.out" "https://allowed.test/big?n=$big" >"$TEST_TMP/curl-big.err" 2>&1 &
CURL_PID=$!
LIB_PIDS="$LIB_PIDS $CURL_PID"
wait_until 10 eval "[[ -s $AGENT_TMP/big.out ]]" || fail "the download did not start"

# 2. an accepted UDP flow, then fast-pathed by its conntrack mark
r=$(udp_send u1-judged)
[[ $r == reply ]] || fail "agent UDP to an allow_ip_cidrs address: $r"
# (ctnetlink cannot update a mark on this kernel: a one-shot rule of a test
# table, ahead of ours, sets it on the flow's next packet, then goes away)
in_host nft -f - <<EOF
table inet plfw_h17_mark {
	chain out {
		type filter hook output priority -190;
		udp sport 40000 udp dport 9000 ct mark set 0x00800000
	}
}
EOF
r=$(udp_send u2-fastpath)
in_host nft delete table inet plfw_h17_mark
[[ $r == reply ]] || fail "fast-pathed UDP: $r"
upstream_saw u2-fastpath || fail "u2 did not reach upstream"
in_host conntrack -L -p udp --orig-port-src 40000 2>/dev/null | grep -q 'mark=8388608' ||
	fail "flow not marked: $(in_host conntrack -L 2>&1)"
r=$(udp_send u2b-fastpath)
[[ $r == reply ]] || fail "fast-pathed UDP: $r"

# kill switch on (SIGUSR1)
t0=$(nfq_now_ms)
kill -USR1 "$ENGINE_PID"
wait_until 5 grep -q '"event":"kill_switch","verdict":"block"' "$TEST_TMP/audit.log" || fail "no kill_switch audit event"

rc=0
# both ends of the relay are gone at once: the agent's socket got its RST
# and the upstream's connection to the engine is closed
wait_until 5 eval "! in_host ss -Htn state established '( dport = :443 )' | grep -q ." ||
	fail "the agent's connection is still established: $(in_host ss -Htn '( dport = :443 )')"
wait_until 5 eval "! in_net ss -Htn state established '( sport = :443 )' | grep -q ." ||
	fail "the upstream connection is still established: $(in_net ss -Htn '( sport = :443 )')"
# curl may still drain what its socket had buffered at the rate limit
# (an exited child stays a zombie until waited for: kill -0 still works)
wait_until 20 eval "! ps -o stat= -p $CURL_PID | grep -q '^[^Z]'" || fail "the download went on for 20 s"
wait "$CURL_PID" || rc=$?
log "download ended rc=$rc after $(($(nfq_now_ms) - t0)) ms, $(stat -c %s "$AGENT_TMP/big.out") bytes"
((rc != 0)) || fail "the download completed despite the kill switch"
(($(stat -c %s "$AGENT_TMP/big.out") < big)) || fail "the whole file arrived"
wait_until 5 grep -q '"event":"tcp_close","verdict":"block","reason":"kill_switch"' "$TEST_TMP/audit.log" ||
	fail "no tcp_close line with reason kill_switch: $(grep tcp_close "$TEST_TMP/audit.log" | tail -2)"

r=$(udp_send u3-cut)
[[ $r != reply ]] || fail "the fast-pathed UDP flow still flows with the kill switch on"
sleep 0.5
! upstream_saw u3-cut || fail "u3 reached the upstream with the kill switch on"
wait_until 5 grep -q '"event":"udp","verdict":"block","reason":"kill_switch"' "$TEST_TMP/audit.log" ||
	fail "no udp block line with reason kill_switch"

# released: the flow is judged again and accepted
kill -USR1 "$ENGINE_PID"
wait_until 5 grep -q '"event":"kill_switch","verdict":"allow"' "$TEST_TMP/audit.log" || fail "no release event"
r=$(udp_send u4-released)
[[ $r == reply ]] || fail "UDP after release: $r"
out=$(as_agent curl -4 -sS --max-time 10 --cacert "$CA_DIR/ca.pem" https://allowed.test/after) ||
	fail "HTTPS after release: $out"
pid_alive "$ENGINE_PID" || fail "engine died"
engine_stop
fw_remove >/dev/null
log "PASS t_killswitch_cut"
