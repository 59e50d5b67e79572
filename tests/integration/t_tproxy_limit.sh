#!/usr/bin/env bash
# t_tproxy_limit.sh - firewall.max_conns_per_agent: with 3 of the agent's
# connections open through the engine, its 4th is refused (reset) with a
# "limit" audit event naming the limit and the uid, and the upstream never
# sees it; a second agent uid is not affected; once the agent's connections
# close it can connect again.  IPv4 and IPv6 count against the same limit.
set -eu
. tests/integration/lib.sh
. tests/integration/helpers/tproxy.sh

tproxy_up "max_conns_per_agent: 3"

client=$AGENT_TMP/hold_client.py
cat >"$client" <<'PYEOF'
# hold N keep-alive HTTP connections open, then try one more; report both
import socket, sys, time
n, addrs, tag, go = int(sys.argv[1]), sys.argv[2].split(","), sys.argv[3], sys.argv[4]

def req(addr, path):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect((addr, 80))
    s.sendall(("GET %s HTTP/1.1\r\nHost: allowed.test\r\n\r\n" % path).encode())
    d = s.recv(4096)
    if not d:
        raise ConnectionResetError("EOF")
    return s

held = [req(addrs[i % len(addrs)], "/%s-held-%d" % (tag, i)) for i in range(n)]
print("HELD %d" % len(held), flush=True)
try:
    extra = req(addrs[0], "/%s-extra" % tag)
    print("EXTRA OK", flush=True)
except (ConnectionResetError, BrokenPipeError) as e:
    print("EXTRA RESET", flush=True)
except OSError as e:
    print("EXTRA ERR %s" % e, flush=True)
# stay until told to go (a file appears), bounded
end = time.monotonic() + 20
while time.monotonic() < end:
    try:
        open(go).close()
        break
    except OSError:
        time.sleep(0.05)
PYEOF
chmod 0644 "$client"
go=$AGENT_TMP/go
out=$AGENT_TMP/hold.out
bg_start "$out" ip netns exec "$HOST_NS" setpriv --reuid="$AGENT_UID" --regid="$AGENT_UID" --clear-groups -- \
	"$PY" "$client" 3 "$V4_UP,$V6_UP" a1 "$go"
holder=$BG_PID
wait_until 15 grep -q "^EXTRA" "$out" || fail "holder did not finish: $(cat "$out")"
grep -q "^HELD 3$" "$out" || fail "could not open 3 connections under the limit: $(cat "$out")"
grep -q "^EXTRA RESET$" "$out" || fail "4th connection not refused: $(cat "$out")"
! upstream_saw "/a1-extra" || fail "the upstream saw the refused 4th request"
upstream_saw "/a1-held-2" || fail "the upstream did not see the held requests"

# another agent uid has its own budget
out2=$(as_agent2 curl -4 -sS --max-time 10 http://allowed.test/agent2) || fail "agent 1001 refused: $out2"
[[ $out2 == "ok GET /agent2" ]] || fail "agent 1001: got '$out2'"

: >"$go"
wait_until 10 eval "! kill -0 $holder 2>/dev/null" || fail "holder did not exit"
# slots come back once the engine has seen the connections close
wait_until 10 eval 'as_agent curl -6 -sS --max-time 5 http://allowed.test/again 2>/dev/null | grep -q "ok GET /again"' ||
	fail "the agent could not connect again after its connections closed"

"$PY" - "$TEST_TMP/audit.log" <<'PYEOF' || fail "audit lines wrong: $(cat "$TEST_TMP/audit.log")"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
lim = [l for l in lines if l.get("event") == "limit"]
assert len(lim) == 1, lim
l = lim[0]
assert l["verdict"] == "block" and l["uid"] == 1000 and "max_conns_per_agent" in l["reason"], l
assert l["dst"] == "198.18.0.2:80", l
PYEOF
log "PASS t_tproxy_limit"
