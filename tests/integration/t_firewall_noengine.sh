#!/usr/bin/env bash
# t_firewall_noengine.sh - the ruleset alone, with NO engine running: agent
# TCP is refused fast (IPv4 and IPv6) and the upstream sees nothing; agent
# UDP and ICMP fail at once; internal ranges and unlisted loopback ports are
# refused; the non-agent uid is untouched.
set -eu
. tests/integration/lib.sh

topo_up
[[ -x $PLFW ]] && "$PLFW" firewall apply --help >/dev/null 2>&1 || skip "firewall apply not built"
upstream_start
make_config
in_host "$PLFW" firewall apply --config "$PLFW_CONFIG" 2>"$TEST_TMP/apply.err" ||
	fail "apply: $(cat "$TEST_TMP/apply.err")"

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# refused_fast UID URL -- curl as UID fails with "couldn't connect" in < 1 s
refused_fast() {
	local uid=$1 url=$2 t0 t1 rc=0
	t0=$(now_ms)
	as_uid "$uid" curl -sS --max-time 5 -o /dev/null "$url" 2>"$TEST_TMP/curl.err" || rc=$?
	t1=$(now_ms)
	((rc == 7)) || fail "uid $uid $url: curl rc=$rc ($(cat "$TEST_TMP/curl.err")), want 7 (refused)"
	((t1 - t0 < 1000)) || fail "uid $uid $url: refused only after $((t1 - t0)) ms"
}

# 1. agent TCP, both agents, both families, several ports: refused fast
for uid in "$AGENT_UID" "$AGENT2_UID"; do
	refused_fast "$uid" "http://$V4_UP/"
	refused_fast "$uid" "http://[$V6_UP]/"
	refused_fast "$uid" "https://$V4_UP2/"
	refused_fast "$uid" "http://[$V6_UP2]:9000/"
done
n=$(upstream_count_conns)
((n == 0)) || fail "upstream accepted $n connections from agents"

# 2. agent UDP and ICMP fail at once (EPERM from the output path, or ECONNREFUSED)
# dgram_probe UID udp|icmp ADDR -- one UDP datagram to ADDR:9000, or one
# ICMP echo over an unprivileged ping socket (ping_group_range is open in
# HOST_NS), on a connected socket (the kernel reports an ICMPv6 error to a
# ping socket only then): prints "reply", "timeout" or the errno
dgram_probe() {
	as_uid "$1" "$PY" -c '
import socket, sys
icmp, addr = sys.argv[1] == "icmp", sys.argv[2]
v6 = ":" in addr
proto = (socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP) if icmp else 0
s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM, proto)
s.settimeout(2)
try:
    s.connect((addr, 0 if icmp else 9000))
    s.send(bytes([128 if v6 else 8, 0, 0, 0, 0, 0, 0, 1]) + b"pipelock" if icmp else b"udp-probe")
    s.recv(100)
    print("reply")
except socket.timeout:
    print("timeout")
except OSError as e:
    print(e.errno)
' "$2" "$3"
}
udp_errno() { dgram_probe "$1" udp "$2"; }
icmp_echo() { dgram_probe "$1" icmp "$2"; }
for addr in "$V4_UP" "$V6_UP"; do
	t0=$(now_ms)
	e=$(udp_errno "$AGENT_UID" "$addr")
	t1=$(now_ms)
	[[ $e == 1 || $e == 111 ]] || fail "agent UDP to $addr: got '$e', want EPERM/ECONNREFUSED"
	((t1 - t0 < 1000)) || fail "agent UDP to $addr failed only after $((t1 - t0)) ms"
done
n=$(upstream_count_udp)
((n == 0)) || fail "upstream received $n UDP datagrams from the agent"
for addr in "$V4_UP" "$V6_UP"; do
	t0=$(now_ms)
	e=$(icmp_echo "$AGENT_UID" "$addr")
	t1=$(now_ms)
	[[ $e == 1 || $e == 13 || $e == 111 || $e == 113 ]] || fail "agent ICMP echo to $addr: got '$e', want an error"
	((t1 - t0 < 1000)) || fail "agent ICMP echo to $addr failed only after $((t1 - t0)) ms"
done

# 3. internal ranges: refused fast even though a route exists (default via the veth)
refused_fast "$AGENT_UID" "http://10.1.2.3/"
refused_fast "$AGENT_UID" "http://169.254.169.254/latest/meta-data/"

# 4. loopback: a port not in loopback_ports is refused, the other uid reaches it
bg_start "$TEST_TMP/lo.log" ip netns exec "$HOST_NS" "$PY" -m http.server --bind 127.0.0.1 7777 --directory "$TEST_TMP"
wait_until 10 eval 'in_host ss -Hltn "sport = :7777" | grep -q .' || fail "loopback server did not start"
refused_fast "$AGENT_UID" "http://127.0.0.1:7777/"
as_other curl -fsS --max-time 5 -o /dev/null "http://127.0.0.1:7777/" || fail "other uid cannot reach 127.0.0.1:7777"

# 5. the non-agent uid is untouched, both families, TCP and UDP
out=$(as_other curl -fsS --max-time 5 "http://$V4_UP/other4")
[[ $out == "ok GET /other4" ]] || fail "other uid http v4: '$out'"
out=$(as_other curl -fsS --max-time 5 --cacert "$CA_DIR/ca.pem" "https://[$V6_UP]/other6")
[[ $out == "ok GET /other6" ]] || fail "other uid https v6: '$out'"
e=$(udp_errno "$OTHER_UID" "$V4_UP")
[[ $e == reply ]] || fail "other uid UDP: '$e'"
e=$(icmp_echo "$OTHER_UID" "$V6_UP")
[[ $e == reply ]] || fail "other uid ICMPv6 echo: '$e'"

# the agents' attempts show in the counters
in_host nft list table inet pipelock >"$TEST_TMP/table"
grep -q 'counter packets [1-9][0-9]* .*comment "engine-down"' "$TEST_TMP/table" ||
	fail "engine-down counter did not count the refused SYNs"

in_host "$PLFW" firewall remove || fail "remove"

# 6. agents selected by group (skgid): uid 1002 running with gid 1001
in_host "$PLFW" firewall apply --config "$PLFW_CONFIG" --agent-user "$AGENT_UID" --agent-group "$AGENT2_UID" \
	2>/dev/null || fail "apply with --agent-group"
rc=0
in_host setpriv --reuid="$OTHER_UID" --regid="$AGENT2_UID" --clear-groups -- \
	curl -sS --max-time 5 -o /dev/null "http://$V4_UP/by-group" 2>/dev/null || rc=$?
((rc == 7)) || fail "group agent: curl rc=$rc, want 7 (refused)"
out=$(as_other curl -fsS --max-time 5 "http://$V4_UP/not-group")
[[ $out == "ok GET /not-group" ]] || fail "uid 1002 with its own gid: '$out'"
! upstream_saw "by-group" || fail "upstream saw the group agent"
in_host "$PLFW" firewall remove || fail "remove"

# 7. IPv6 cannot be captured (no IPv6 on lo): agent IPv6 is refused, not left open
in_host sysctl -qw net.ipv6.conf.lo.disable_ipv6=1
in_host "$PLFW" firewall apply --config "$PLFW_CONFIG" 2>"$TEST_TMP/apply.err" ||
	fail "apply without IPv6 on lo: $(cat "$TEST_TMP/apply.err")"
grep -q "agent IPv6 is rejected" "$TEST_TMP/apply.err" || fail "no IPv6 warning: $(cat "$TEST_TMP/apply.err")"
in_host nft list table inet pipelock | grep -q 'comment "no-ipv6"' || fail "no-ipv6 rule missing"
! in_host ip -6 rule | grep -q 'lookup 8890' || fail "IPv6 rule installed without IPv6 on lo"
in_host "$PLFW" firewall status | grep -q 'agent IPv6 rejected' || fail "status does not say IPv6 is rejected"
# (not fast: with IPv6 off on lo the kernel cannot deliver the reset to the
# agent's own socket; closed is what matters)
if as_agent curl -sS --max-time 2 -o /dev/null "http://[$V6_UP]/" 2>/dev/null; then
	fail "agent IPv6 TCP got through without IPv6 capture"
fi
refused_fast "$AGENT_UID" "http://$V4_UP/"
e=$(udp_errno "$AGENT_UID" "$V6_UP")
[[ $e != reply ]] || fail "agent UDP v6 got through without IPv6 capture"
out=$(as_other curl -fsS --max-time 5 "http://[$V6_UP]/other6b")
[[ $out == "ok GET /other6b" ]] || fail "other uid http v6: '$out'"
n=$(upstream_count_conns)
((n == 4)) || fail "upstream accepted $n connections, want 4 (the other uid's)"
in_host "$PLFW" firewall remove || fail "remove"
in_host sysctl -qw net.ipv6.conf.lo.disable_ipv6=0
log "PASS t_firewall_noengine"
