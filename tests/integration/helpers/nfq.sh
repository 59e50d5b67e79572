# shellcheck shell=bash
# nfq.sh - helpers of the NFQUEUE tests (t_nfq_*.sh, t_firewall_nfqueue.sh),
# sourced after lib.sh.
#
#   nfq_dnsmasq NS ADDR LOG [DNSMASQ-ARGS...]
#                   a dnsmasq in namespace NS (HOST_NS or NET_NS) on ADDR:53,
#                   every query logged to LOG (--log-queries); waits until it
#                   listens.  More --listen-address=... may come in ARGS.
#   nfq_lookup NAME getent hosts NAME as the agent through the namespace's
#                   resolv.conf (timeout 1 s, one attempt): sets L (ok|fail)
#                   and L_MS.
#   nfq_udp_try UID ADDR PORT [PAYLOAD]
#                   one datagram as UID to ADDR:PORT on a connected socket;
#                   prints "reply", "timeout" (2 s) or the errno.
#   nfq_now_ms      monotonic-enough milliseconds (date).

nfq_now_ms() { echo $(($(date +%s%N) / 1000000)); }

nfq_dnsmasq() {
	local ns=$1 addr=$2 dlog=$3
	shift 3
	bg_start "$TEST_TMP/dnsmasq-$addr.err" ip netns exec "$ns" dnsmasq --keep-in-foreground \
		--no-resolv --no-hosts --bind-interfaces --listen-address="$addr" --port=53 \
		--user=root --group=root --log-queries --log-facility="$dlog" "$@"
	wait_until 10 eval "ip netns exec $ns ss -Hlun 'sport = :53' | grep -qF '$addr'" ||
		fail "dnsmasq on $addr did not start: $(cat "$TEST_TMP/dnsmasq-$addr.err")"
}

nfq_lookup() {
	local t0
	t0=$(nfq_now_ms)
	if as_agent timeout 5 getent hosts "$1" >"$TEST_TMP/getent.out"; then L=ok; else L=fail; fi
	L_MS=$(($(nfq_now_ms) - t0))
	log "lookup $1: $L in $L_MS ms"
}

nfq_udp_try() {
	as_uid "$1" "$PY" -c '
import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.settimeout(2)
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    s.send(sys.argv[3].encode())
    s.recv(100)
    print("reply")
except socket.timeout:
    print("timeout")
except OSError as e:
    print(e.errno)
' "$2" "$3" "${4:-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx}"
}
