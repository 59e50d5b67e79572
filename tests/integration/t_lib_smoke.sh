#!/usr/bin/env bash
# t_lib_smoke.sh - the test library itself: topology, upstream servers over
# IPv4 and IPv6 (HTTP, TLS with the test CA, raw TCP, UDP) reached by the
# non-agent uid with no firewall, packet capture + leak check, and cleanup
# (normal exit, a failure half way, SIGTERM) that leaves nothing behind.
set -eu
. tests/integration/lib.sh

# nothing of namespace run $1 (a PID) left: namespaces, /etc/netns, processes
assert_clean() {
	local pid=$1 ns
	for ns in "plfw-h-$pid" "plfw-n-$pid"; do
		! ns_exists "$ns" || fail "namespace $ns left behind"
	done
	[[ ! -e /etc/netns/plfw-h-$pid ]] || fail "/etc/netns/plfw-h-$pid left behind"
}

# 1. a child test that fails half way (set -e) cleans up, keeps its status
marker=$(mktemp -u /tmp/.plfw-smoke.XXXXXX)
env -u KEEP_TMP bash -c '. tests/integration/lib.sh; topo_up; upstream_start; echo "$UPSTREAM_PID $TEST_TMP" >"$1"; false; echo unreachable' \
	_ "$marker" >"$marker.out" 2>&1 &
child=$!
rc=0
wait "$child" || rc=$?
((rc == 1)) || fail "child failing half way exited $rc, want 1: $(cat "$marker.out")"
[[ -s $marker ]] || fail "child failed before its marker: $(cat "$marker.out")"
rm -f "$marker.out"
read -r up_pid child_tmp <"$marker"
rm -f "$marker"
assert_clean "$child"
! pid_alive "$up_pid" || fail "upstream pid $up_pid survived the failing child's cleanup"
[[ ! -e $child_tmp ]] || fail "$child_tmp left behind"

# 2. SIGTERM while running
marker=$(mktemp -u /tmp/.plfw-smoke.XXXXXX)
env -u KEEP_TMP bash -c '. tests/integration/lib.sh; topo_up; upstream_start; echo "$UPSTREAM_PID $TEST_TMP" >"$1"; while :; do sleep 0.05; done' \
	_ "$marker" >"$marker.out" 2>&1 &
child=$!
wait_until 30 test -s "$marker" || { kill -KILL "$child"; fail "child did not come up: $(cat "$marker.out")"; }
rm -f "$marker.out"
read -r up_pid child_tmp <"$marker"
rm -f "$marker"
ns_exists "plfw-h-$child" || fail "child namespace plfw-h-$child not found"
kill -TERM "$child"
rc=0
wait "$child" || rc=$?
((rc == 143)) || fail "child killed by SIGTERM exited $rc, want 143"
assert_clean "$child"
! pid_alive "$up_pid" || fail "upstream pid $up_pid survived the child's cleanup"
[[ ! -e $child_tmp ]] || fail "$child_tmp left behind"

# 3. the real thing
topo_up
upstream_start
[[ $(upstream_count_conns) == 0 ]] || fail "fresh upstream log not empty"
for addr in "$V4_UP" "$V6_UP" "$V4_UP2" "$V6_UP2"; do
	url_addr=$addr
	[[ $addr == *:* ]] && url_addr="[$addr]"
	out=$(printf 'udp-%s\n' "$addr" | as_other socat -t 0.5 - "UDP:$url_addr:9000")
	[[ $out == "udp-$addr" ]] || fail "udp echo $addr: got '$out'"
done
capture_start	# TCP only from here: the leak checker counts any UDP as a leak

for addr in "$V4_UP" "$V6_UP" "$V4_UP2" "$V6_UP2"; do
	url_addr=$addr
	[[ $addr == *:* ]] && url_addr="[$addr]"
	out=$(as_other curl -fsS --max-time 10 "http://$url_addr/hello-$addr")
	[[ $out == "ok GET /hello-$addr" ]] || fail "http $addr: got '$out'"
	out=$(as_other curl -fsS --max-time 10 --cacert "$CA_DIR/ca.pem" "https://$url_addr/tls-$addr")
	[[ $out == "ok GET /tls-$addr" ]] || fail "https $addr: got '$out'"
	out=$(printf 'raw-%s\n' "$addr" | as_other socat -t 2 - "TCP:$url_addr:9000")
	[[ $out == "raw-$addr" ]] || fail "raw echo $addr: got '$out'"
done
for fam in -4 -6; do
	out=$(as_other curl "$fam" -fsS --max-time 10 --cacert "$CA_DIR/ca.pem" https://allowed.test/by-name)
	[[ $out == "ok GET /by-name" ]] || fail "https://allowed.test $fam: got '$out'"
done
out=$(as_other curl -4 -fsS --max-time 10 --cacert "$CA_DIR/ca.pem" https://spoof.test/ -o /dev/null -w '%{remote_ip}')
[[ $out == "$V4_UP2" ]] || fail "spoof.test resolved to '$out', want $V4_UP2"

# the upstream's accounting
n=$(upstream_count_conns 80)
((n == 4)) || fail "upstream counted $n connections on :80, want 4"
n=$(upstream_count_conns 443)
((n == 7)) || fail "upstream counted $n connections on :443, want 7"
n=$(upstream_count_conns 443 "$V6_UP")
((n == 2)) || fail "upstream counted $n connections on [$V6_UP]:443, want 2"
n=$(upstream_count_udp 9000)
((n == 4)) || fail "upstream counted $n UDP datagrams, want 4"
upstream_saw "raw-$V6_UP2" || fail "upstream_saw misses raw bytes"
upstream_saw "GET /tls-$V4_UP HTTP/1.1" || fail "upstream_saw misses decrypted TLS bytes"
! upstream_saw "never-sent-$$" || fail "upstream_saw matches a string never sent"
upstream_log | grep -q '"ok":true,"sni":"allowed.test"' || fail "no SNI logged"
/usr/bin/python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$UP_LOG" ||
	fail "upstream log is not JSON lines"

# a /big body streams in full
n=$(as_other curl -fsS --max-time 10 "http://$V4_UP/big?n=3000000" | wc -c)
((n == 3000000)) || fail "/big streamed $n bytes"

# the agent helper and the leak checker: with no firewall, every agent
# connection is the agent's own, so the checker must call it a leak
out=$(as_agent "$PY" "$INTEG_DIR/helpers/agent_load.py" http --addr "$V4_UP" --count 5 \
	--ports-out "$AGENT_TMP/ports")
[[ $out == *'"ok": 5'* ]] || fail "agent_load: $out"
capture_stop
"$PY" "$INTEG_DIR/helpers/leakcheck.py" --pcap "$CAPTURE_PCAP" --uplog "$UP_LOG" >"$TEST_TMP/lc1" ||
	fail "leakcheck flags accepted connections: $(cat "$TEST_TMP/lc1")"
npk=$(sed -n 's/^leakcheck: \([0-9]*\) packets.*/\1/p' "$TEST_TMP/lc1")
((npk > 100)) || fail "capture holds only ${npk:-?} packets: $(cat "$TEST_TMP/lc1")"
if "$PY" "$INTEG_DIR/helpers/leakcheck.py" --pcap "$CAPTURE_PCAP" --uplog "$UP_LOG" \
	--agent-ports "$AGENT_TMP/ports" >"$TEST_TMP/lc2"; then
	fail "leakcheck missed direct agent connections: $(cat "$TEST_TMP/lc2")"
fi
grep -q "5 leaked agent connections" "$TEST_TMP/lc2" || fail "leakcheck: $(tail -n 1 "$TEST_TMP/lc2")"
# a packet of a 4-tuple the upstream never accepted is a leak
: >"$TEST_TMP/empty.jsonl"
"$PY" "$INTEG_DIR/helpers/leakcheck.py" --pcap "$CAPTURE_PCAP" --uplog "$TEST_TMP/empty.jsonl" >/dev/null &&
	fail "leakcheck accepts packets of connections never accepted"

log "PASS t_lib_smoke"
