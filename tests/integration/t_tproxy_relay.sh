#!/usr/bin/env bash
# t_tproxy_relay.sh - the splice relay, IPv4 and IPv6: a 3 MB download over
# HTTP and HTTPS arrives complete, a 2 MB upload reaches the upstream with
# the right digest, and a half-close (the client shuts its write side, then
# reads) still gets the whole echo back; byte counts land in the audit.
set -eu
. tests/integration/lib.sh
. tests/integration/helpers/tproxy.sh

tproxy_up "other_tcp: allow"

big=3000000
for fam in -4 -6; do
	n=$(as_agent curl "$fam" -sS --max-time 20 "http://allowed.test/big?n=$big" | wc -c)
	((n == big)) || fail "HTTP download ($fam): $n bytes, want $big"
	n=$(as_agent curl "$fam" -sS --max-time 20 --cacert "$CA_DIR/ca.pem" "https://allowed.test/big?n=$big" | wc -c)
	((n == big)) || fail "HTTPS download ($fam): $n bytes, want $big"
done

head -c 2000000 /dev/urandom >"$AGENT_TMP/upload"
chmod 0644 "$AGENT_TMP/upload"
sum=$(sha256sum "$AGENT_TMP/upload" | cut -d' ' -f1)
for fam in -4 -6; do
	out=$(as_agent curl "$fam" -sS --max-time 20 --cacert "$CA_DIR/ca.pem" \
		--data-binary "@$AGENT_TMP/upload" "https://allowed.test/upload$fam" 2>&1) || fail "upload ($fam): $out"
	upstream_log | grep -q "\"path\": *\"/upload$fam\".*\"body_sha256\": *\"$sum\"" ||
		upstream_log | grep "/upload$fam" | grep -q "$sum" || fail "upstream did not get the upload intact ($fam)"
done

client=$AGENT_TMP/halfclose.py
cat >"$client" <<'PYEOF'
import socket, sys
addr = sys.argv[1]
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.create_connection((addr, 9000), timeout=10) if fam == socket.AF_INET else socket.socket(fam)
if fam == socket.AF_INET6:
    s.settimeout(10); s.connect((addr, 9000))
msg = b"half-close-" + b"x" * 200000 + b"-end"
s.sendall(msg)
s.shutdown(socket.SHUT_WR)
got = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    got += d
print("OK" if got == msg else "BAD %d" % len(got))
PYEOF
chmod 0644 "$client"
for addr in "$V4_UP" "$V6_UP"; do
	out=$(as_agent "$PY" "$client" "$addr")
	[[ $out == OK ]] || fail "half-close echo via $addr: $out"
done

wait_until 5 grep -q '"event":"tcp_close".*"bytes_down":3000' "$TEST_TMP/audit.log" ||
	fail "no close line with the download's byte count"
log "PASS t_tproxy_relay"
