#!/usr/bin/env bash
# t_nfq_stub.sh - agent DNS to a local stub resolver (dnsmasq on 127.0.0.53
# in the agent's namespace, forwarding to a dnsmasq in the "internet"
# namespace), and the firewall.dns modes:
#   inspect: the DNS rule comes before the loopback exception, so queries to
#     the stub are judged (a secret-carrying name never reaches the stub),
#     while the stub's own upstream query (not the agent's uid) passes;
#     DNS to a loopback address that is not a configured resolver is refused;
#   block: agent DNS (UDP and TCP) refused by the rules, at once;
#   allow: names are not inspected (the secret name resolves), but only
#     configured resolvers and well-formed queries pass.
set -eu
. tests/integration/lib.sh
. tests/integration/helpers/nfq.sh

topo_up
plfw_ready || skip "pipelock-fw firewall/run not built"
need_cmd dnsmasq

UP_DNS_LOG=$TEST_TMP/dnsmasq-up.log
STUB_LOG=$TEST_TMP/dnsmasq-stub.log
STUB=127.0.0.53
nfq_dnsmasq "$NET_NS" "$V4_UP" "$UP_DNS_LOG" --address=/stub.test/"$V4_UP"
nfq_dnsmasq "$HOST_NS" "$STUB" "$STUB_LOG" --server="$V4_UP" --cache-size=0
printf 'nameserver %s\noptions timeout:1 attempts:1\n' "$STUB" >"/etc/netns/$HOST_NS/resolv.conf"

# raw ADDR PROTO -- one A query for raw.stub.test as the agent over udp|tcp;
# prints answer|timeout|errno
raw() {
	as_agent "$PY" -c '
import socket, struct, sys
addr, proto = sys.argv[1], sys.argv[2]
q = struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0) + b"\x03raw\x04stub\x04test\x00" + struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
s.settimeout(2)
try:
    s.connect((addr, 53))
    s.send(struct.pack(">H", len(q)) + q if proto == "tcp" else q)
    print("answer" if s.recv(4096) else "closed")
except socket.timeout:
    print("timeout")
except OSError as e:
    print(e.errno)
' "$1" "$2"
}
start() {
	make_config "dns: $1" "dns_servers: [\"$STUB\"]"
	engine_start --config "$PLFW_CONFIG" --apply -v
	wait_until 5 grep -q 'nfq 0: queue bound' "$TEST_TMP/engine.err" || fail "queue not bound"
}
SECRET=AKIAZ7Y6X5W4.V3U2T1S0R9Q8.stub.test

# 1. inspect (the default)
start inspect
nfq_lookup ok.stub.test
[[ $L == ok ]] || fail "lookup through the stub failed"
grep -q 'query\[A\] ok.stub.test' "$STUB_LOG" || fail "the stub did not see the query"
grep -q 'query\[A\] ok.stub.test' "$UP_DNS_LOG" || fail "the stub's upstream query did not pass"
nfq_lookup "$SECRET"
[[ $L == fail ]] || fail "secret name resolved through the stub"
((L_MS < 1000)) || fail "secret name refused only after $L_MS ms"
! grep -qi 'akiaz7y6' "$STUB_LOG" || fail "the stub saw the secret name"
grep -q '"event":"dns".*"verdict":"block"' "$TEST_TMP/audit.log" || fail "no dns block audit"
r=$(raw 127.0.0.1 udp)
[[ $r != answer && $r != timeout ]] || fail "DNS to 127.0.0.1 (not a configured resolver): $r"
engine_stop

# 2. block: refused in the rules, UDP and TCP, engine or not
start block
nfq_lookup blk.stub.test
[[ $L == fail ]] || fail "dns: block: lookup resolved"
((L_MS < 1000)) || fail "dns: block: refused only after $L_MS ms"
! grep -q 'blk.stub.test' "$STUB_LOG" || fail "dns: block: the stub saw the query"
in_host nft list table inet pipelock 2>/dev/null | grep -q 'counter packets [1-9][0-9]* .*comment "dns-block"' ||
	fail "dns: block: the dns-block rule did not count"
r=$(raw "$STUB" tcp)
[[ $r != answer && $r != timeout ]] || fail "dns: block: DNS over TCP: $r"
engine_stop

# 3. allow: the name is not inspected; resolver and shape still are
start allow
nfq_lookup "$SECRET"
[[ $L == ok ]] || fail "dns: allow: the name was inspected (lookup failed)"
grep -qi 'akiaz7y6' "$STUB_LOG" || fail "dns: allow: the query did not reach the stub"
r=$(raw 127.0.0.1 udp)
[[ $r != answer && $r != timeout ]] || fail "dns: allow: DNS to a non-resolver: $r"
pid_alive "$ENGINE_PID" || fail "engine died"
log ok
