#!/usr/bin/env bash
# t_leak_timewait.sh - 500 `Connection: close` HTTP requests per family
# through the engine while tcpdump watches the upstream's side of the veth:
# every TCP packet there must belong to a connection the upstream accepted
# (the engine's own upstream sockets), and none of those may be an agent
# socket's own connection (helpers/leakcheck.py).  Without the conntrack
# mark on every agent packet, TIME_WAIT/orphaned agent sockets leak here.
set -eu
. tests/integration/lib.sh

N=${LEAK_REQUESTS:-500}
topo_up
need_cmd tcpdump
plfw_ready || fail "$PLFW: 'firewall apply' / 'run' not available yet"
upstream_start
make_config
fw_apply --config "$PLFW_CONFIG" || fail "firewall apply failed"
engine_start --config "$PLFW_CONFIG"
capture_start

for addr in "$V4_UP" "$V6_UP"; do
	out=$(as_agent "$PY" "$INTEG_DIR/helpers/agent_load.py" http --addr "$addr" --count "$N" \
		--seconds 90 --timeout 5 --ports-out "$AGENT_TMP/ports")
	log "agent -> $addr: $out"
	ok=$(sed -n 's/.*"ok": \([0-9]*\).*/\1/p' <<<"$out")
	((ok * 100 >= N * 98)) || fail "only $ok of $N requests to $addr succeeded through the engine: $out"
done

# let the last closes finish (FIN/ACK exchanges of the engine's and the
# agent's sockets) before the capture ends: no socket in a closing state
closing() {
	in_host ss -Htan state fin-wait-1 state fin-wait-2 state last-ack state closing state syn-sent | grep -q .
}
wait_until 10 eval '! closing' || log "sockets still closing after 10 s: $(in_host ss -Htan | awk '{print $1}' | sort | uniq -c | tr -s ' \n' ' ')"
capture_stop

accepted=$(upstream_count_conns 80)
((accepted >= N * 2 * 98 / 100)) || fail "upstream accepted only $accepted connections for $((N * 2)) requests"
assert_no_leak "$CAPTURE_PCAP" "$AGENT_TMP/ports"
log "PASS: $((N * 2)) Connection: close requests, no packet of a 4-tuple the engine did not open"
