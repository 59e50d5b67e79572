#!/usr/bin/env bash
# t_tproxy_split.sh - a ClientHello written one byte per TCP segment and
# re-framed over two TLS records is still parsed by the engine, IPv4 and
# IPv6: the allowed name completes the handshake and the request reaches the
# upstream; the blocklisted name gets the access_denied alert and the
# upstream sees nothing.  The agent is a python3 client that takes the real
# ClientHello OpenSSL builds (ssl.MemoryBIO), splits it, and then finishes
# the handshake over the same socket.
set -eu
. tests/integration/lib.sh
. tests/integration/helpers/tproxy.sh

tproxy_up

client=$AGENT_TMP/split_client.py
cat >"$client" <<'PYEOF'
import socket, ssl, sys, time

addr, name, path, cafile = sys.argv[1:5]
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
ctx = ssl.create_default_context(cafile=cafile)
inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
tls = ctx.wrap_bio(inc, out, server_hostname=name)
try:
    tls.do_handshake()
except ssl.SSLWantReadError:
    pass
rec = out.read()
assert rec[0] == 0x16, rec[:5]
hs = rec[5:]
cut = len(hs) // 2
wire = b"".join(b"\x16\x03\x03" + len(p).to_bytes(2, "big") + p for p in (hs[:cut], hs[cut:]))
s = socket.socket(fam, socket.SOCK_STREAM)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
s.settimeout(10)
s.connect((addr, 443))
for i in range(len(wire)):          # one byte per segment
    s.send(wire[i:i + 1])
    time.sleep(0.0005)
print("sent %d bytes in %d segments, 2 records" % (len(wire), len(wire)), file=sys.stderr)
try:
    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            d = out.read()
            if d:
                s.sendall(d)
            r = s.recv(65536)
            if not r:
                raise ConnectionError("EOF during handshake")
            inc.write(r)
    d = out.read()
    if d:
        s.sendall(d)
    tls.write(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (path, name)).encode())
    s.sendall(out.read())
    body = b""
    while True:
        try:
            body += tls.read(65536)
        except ssl.SSLWantReadError:
            r = s.recv(65536)
            if not r:
                break
            inc.write(r)
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            break
    print(body.split(b"\r\n\r\n", 1)[-1].decode().strip())
except ssl.SSLError as e:
    print("SSLERROR %s" % e.reason)
except OSError as e:
    print("OSERROR %s" % e)
PYEOF
chmod 0644 "$client"

for addr in "$V4_UP" "$V6_UP"; do
	out=$(as_agent "$PY" "$client" "$addr" allowed.test "/split-$addr" "$CA_DIR/ca.pem")
	[[ $out == "ok GET /split-$addr" ]] || fail "split hello to allowed.test at $addr: got '$out'"
	upstream_saw "GET /split-$addr HTTP/1.1" || fail "upstream did not get the request ($addr)"
done

before=$(upstream_count_conns 443)
for addr in "$V4_UP" "$V6_UP"; do
	out=$(as_agent "$PY" "$client" "$addr" blocked.test "/split-blocked" "$CA_DIR/ca.pem")
	[[ $out == "SSLERROR TLSV1_ALERT_ACCESS_DENIED" ]] || fail "split hello to blocked.test at $addr: got '$out'"
done
after=$(upstream_count_conns 443)
((after == before)) || fail "upstream accepted $((after - before)) connection(s) for the blocked split hello"
grep -q '"host":"allowed.test"' "$TEST_TMP/audit.log" || fail "no audit line names the SNI"
log "PASS t_tproxy_split"
