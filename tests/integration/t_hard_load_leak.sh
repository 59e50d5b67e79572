#!/usr/bin/env bash
# t_hard_load_leak.sh - no leaks under load.  tcpdump on the upstream's side
# of the veth while `wrk -H 'Connection: close'` runs as the agent through
# the engine: every packet must belong to a connection the upstream accepted
# (the engine's own; helpers/leakcheck.py).  Then, with wrk and a recording
# request loop (agent_load.py: its 4-tuples let leakcheck spot an agent's own
# connection) running: `kill -9` of the engine mid-load - no packet of the
# agent reaches the upstream and the upstream accepts no connection after
# the kill; restart, load resumes; then the policy ip rules are deleted
# mid-load - again zero packets of the agent's own reach the upstream (the
# engine's watcher restores the rules); load resumes.
set -eu
. tests/integration/lib.sh

topo_up
need_cmd tcpdump wrk
plfw_ready || fail "$PLFW: 'firewall apply' / 'run' not available yet"
upstream_start
make_config
# `run --apply`: rules installed by the engine, left in place by kill -9
engine_start --config "$PLFW_CONFIG" --apply
TABLE=8890	# FW_DEFAULT_ROUTE_TABLE

pkts() { tcpdump -n -r "$1" 2>/dev/null | wc -l; }
# wrk_run SECONDS OUTFILE -- wrk as the agent, Connection: close
wrk_run() {
	as_agent wrk -t2 -c16 -d"$1"s --timeout 3s -H 'Connection: close' http://allowed.test/ >"$2" 2>&1 || true
}
wrk_reqs() { awk '/requests in/ {print $1}' "$1"; }
closing() {
	in_host ss -Htan state fin-wait-1 state fin-wait-2 state last-ack state closing state syn-sent | grep -q .
}
settle() { wait_until 10 eval '! closing' || log "sockets still closing after 10 s"; }
# load_bg NAME SECONDS -- wrk + a recording request loop in the background
load_bg() {
	wrk_run "$2" "$TEST_TMP/wrk-$1.out" &
	LOAD_WRK=$!
	LIB_PIDS="$LIB_PIDS $LOAD_WRK"
	bg_start "$TEST_TMP/load-$1.out" ip netns exec "$HOST_NS" setpriv --reuid="$AGENT_UID" --regid="$AGENT_UID" \
		--clear-groups -- "$PY" "$INTEG_DIR/helpers/agent_load.py" http --addr "$V4_UP" --count 100000 \
		--seconds "$2" --timeout 2 --ports-out "$AGENT_TMP/ports-$1"
	LOAD_PY=$BG_PID
}
load_wait() {
	wait "$LOAD_WRK" || true
	wait_until 15 eval "! kill -0 $LOAD_PY 2>/dev/null" || fail "request loop did not end"
}
accepted_after() {
	"$PY" -c '
import json, sys
t = float(sys.argv[2])
print(sum(1 for l in open(sys.argv[1]) if l.strip() and json.loads(l)["ev"] == "accept" and json.loads(l)["t"] > t))' "$UP_LOG" "$1"
}

# --- 1: wrk through the engine -----------------------------------------------
capture_start
wrk_run 5 "$TEST_TMP/wrk1.out"
settle
capture_stop
n1=$(wrk_reqs "$TEST_TMP/wrk1.out")
log "wrk: $(grep -E 'requests in|Non-2xx|Socket errors|Requests/sec' "$TEST_TMP/wrk1.out" | tr -s ' \n' ' ')"
((${n1:-0} >= 200)) || fail "wrk made only ${n1:-0} requests through the engine: $(cat "$TEST_TMP/wrk1.out")"
! grep -q 'Non-2xx' "$TEST_TMP/wrk1.out" || fail "wrk got error responses: $(cat "$TEST_TMP/wrk1.out")"
p1=$(pkts "$CAPTURE_PCAP")
assert_no_leak "$CAPTURE_PCAP"
log "phase 1: $n1 requests, $p1 packets captured, no leak"
mv "$CAPTURE_PCAP" "$TEST_TMP/p1.pcap"

# --- 2: kill -9 mid-load ------------------------------------------------------
capture_start
load_bg kill 6
sleep 2
t_kill=$(date +%s.%N)
engine_kill9
log "engine killed (SIGKILL) mid-load"
load_wait
settle
capture_stop
after=$(accepted_after "$(awk -v t="$t_kill" 'BEGIN {printf "%.6f", t + 0.5}')")
p2=$(pkts "$CAPTURE_PCAP")
log "phase 2: wrk $(wrk_reqs "$TEST_TMP/wrk-kill.out") requests, loop $(cat "$TEST_TMP/load-kill.out"), $p2 packets, $after accepted after the kill"
((after == 0)) || fail "the upstream accepted $after connections after the engine was killed"
assert_no_leak "$CAPTURE_PCAP" "$AGENT_TMP/ports-kill"
mv "$CAPTURE_PCAP" "$TEST_TMP/p2.pcap"

engine_start --config "$PLFW_CONFIG" --apply
wrk_run 2 "$TEST_TMP/wrk-resume1.out"
n=$(wrk_reqs "$TEST_TMP/wrk-resume1.out")
((${n:-0} >= 50)) || fail "load did not resume after the restart: $(cat "$TEST_TMP/wrk-resume1.out")"
log "restarted: load resumed ($n requests in 2 s)"

# --- 3: the ip rules deleted mid-load ---------------------------------------
our_rules() { in_host ip "$1" rule list | grep -E "lookup $TABLE( |\$)"; }
rules_present() { our_rules -4 >/dev/null && our_rules -6 >/dev/null; }
wait_until 10 rules_present || fail "no ip rules looking up table $TABLE: $(in_host ip rule list)"
capture_start
load_bg rule 6
sleep 2
for fam in -4 -6; do
	while read -r line; do
		in_host ip "$fam" rule del pref "${line%%:*}" || fail "ip $fam rule del"
		log "deleted mid-load: ip $fam rule $line"
	done < <(our_rules "$fam")
done
load_wait
settle
capture_stop
p3=$(pkts "$CAPTURE_PCAP")
log "phase 3: wrk $(wrk_reqs "$TEST_TMP/wrk-rule.out") requests, loop $(cat "$TEST_TMP/load-rule.out"), $p3 packets"
assert_no_leak "$CAPTURE_PCAP" "$AGENT_TMP/ports-rule"
wait_until 5 rules_present || fail "ip rules not restored: $(in_host ip rule list)"
wrk_run 2 "$TEST_TMP/wrk-resume2.out"
n=$(wrk_reqs "$TEST_TMP/wrk-resume2.out")
((${n:-0} >= 50)) || fail "load did not resume after the rules came back: $(cat "$TEST_TMP/wrk-resume2.out")"
log "PASS t_hard_load_leak: wrk $n1 requests ($p1 packets), kill -9 ($p2 packets), ip rule del ($p3 packets): 0 leaked"
