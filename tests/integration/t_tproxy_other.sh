#!/usr/bin/env bash
# t_tproxy_other.sh - TCP that is neither TLS nor HTTP, IPv4 and IPv6.
# firewall.other_tcp: block (the default) -> the agent's raw connection to
# port 9000 is reset and the upstream accepts nothing, also for a client
# that stays silent past first_bytes_timeout_ms; both are audited.  A
# direct connection to the engine's listener is refused; an allowed flow
# whose upstream refuses is reset at once (upstream_error).  With
# other_tcp: allow the same raw bytes are relayed unchanged (echo).
set -eu
. tests/integration/lib.sh
. tests/integration/helpers/tproxy.sh

tproxy_up "first_bytes_timeout_ms: 300"

client=$AGENT_TMP/raw_client.py
cat >"$client" <<'PYEOF'
import socket, sys, time
addr, port, payload = sys.argv[1], int(sys.argv[2]), sys.argv[3]
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.settimeout(5)
t0 = time.monotonic()
try:
    s.connect((addr, port))
    if payload != "-":
        s.sendall(payload.encode())
    d = s.recv(4096)
    print("DATA %r %.3f" % (d.decode(errors="replace"), time.monotonic() - t0))
except ConnectionResetError:
    print("RESET %.3f" % (time.monotonic() - t0))
except socket.timeout:
    print("TIMEOUT %.3f" % (time.monotonic() - t0))
except OSError as e:
    print("ERR %s %.3f" % (e.strerror, time.monotonic() - t0))
PYEOF
chmod 0644 "$client"

for addr in "$V4_UP" "$V6_UP"; do
	out=$(as_agent "$PY" "$client" "$addr" 9000 "raw-$addr")
	[[ $out == RESET* ]] || fail "raw TCP to $addr:9000 not refused: $out"
	out=$(as_agent "$PY" "$client" "$addr" 9000 -)
	read -r res secs <<<"$out"
	[[ $res == RESET ]] || fail "silent client to $addr:9000 not refused: $out"
	# first_bytes_timeout_ms is 300: refused well before the client's 5 s
	awk -v s="$secs" 'BEGIN { exit !(s >= 0.25 && s < 3.0) }' || fail "silent client refused after ${secs}s"
done
n=$(upstream_count_conns 9000)
((n == 0)) || fail "upstream accepted $n raw connection(s) with other_tcp: block"
! upstream_saw "raw-" || fail "upstream saw refused raw bytes"
"$PY" - "$TEST_TMP/audit.log" <<'PYEOF' || fail "audit lines wrong: $(cat "$TEST_TMP/audit.log")"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
blk = [l for l in lines if l.get("event") == "tcp" and l.get("verdict") == "block"]
raw = [l for l in blk if "not TLS or HTTP" in l.get("reason", "")]
silent = [l for l in blk if "sent nothing" in l.get("reason", "")]
assert len(raw) == 2 and len(silent) == 2, blk
assert all(l["proto"] == "tcp" and l["uid"] == 1000 and l["dst"].endswith(":9000") for l in raw + silent), blk
PYEOF

# a direct connection to the engine's own listener is refused (a relay to
# itself would loop), and audited
for addr in 127.0.0.1 ::1; do
	out=$(in_host "$PY" "$client" "$addr" "$TPROXY_PORT" "self-$addr")
	[[ $out == RESET* ]] || fail "direct connection to the listener [$addr]:$TPROXY_PORT not refused: $out"
done
grep -q '"reason":"destination is the engine.s own listener"' "$TEST_TMP/audit.log" ||
	fail "no audit line for the connection to the listener"

# allowed by Host, but nothing listens upstream: the agent is reset, fast
start=$(date +%s%N)
rc=0
as_agent curl -4 -sS --max-time 10 http://allowed.test:81/nothing >/dev/null 2>&1 || rc=$?
((rc != 0)) || fail "curl to a closed upstream port succeeded"
(($(date +%s%N) - start < 3000000000)) || fail "refused upstream connect took more than 3 s"
wait_until 5 grep -q '"event":"upstream_error".*198.18.0.2:81' "$TEST_TMP/audit.log" ||
	fail "no upstream_error audit line"

engine_stop
make_config "other_tcp: allow"
engine_start --config "$PLFW_CONFIG"
for addr in "$V4_UP" "$V6_UP"; do
	out=$(as_agent "$PY" "$client" "$addr" 9000 "echo-$addr")
	[[ $out == "DATA 'echo-$addr' "* ]] || fail "raw TCP to $addr:9000 with other_tcp: allow: $out"
done
n=$(upstream_count_conns 9000)
((n == 2)) || fail "upstream accepted $n raw connection(s) with other_tcp: allow, want 2"
log "PASS t_tproxy_other"
