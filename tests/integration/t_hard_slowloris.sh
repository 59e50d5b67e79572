#!/usr/bin/env bash
# t_hard_slowloris.sh - resource exhaustion by slow clients: N connections of
# agent uid 1000 (one python process, one byte per connection per second,
# never a complete request head) fill that uid's max_conns_per_agent; while
# they are held, uid 1000's next connection is refused but agent uid 1001 is
# served; once firewall.first_bytes_timeout_ms fires the engine has closed
# every slow connection and uid 1000 is served again.  Then a header flood
# (too many field lines) gets 431 and over-long lines get 400/431.
set -eu
. tests/integration/lib.sh
. tests/integration/helpers/tproxy.sh

N=${SLOWLORIS_CONNS:-5000}
TIMEOUT_MS=${SLOWLORIS_TIMEOUT_MS:-10000}

tproxy_up "max_conns_per_agent: $N" "max_conns_total: $((N + 1000))" \
	"first_bytes_timeout_ms: $TIMEOUT_MS"
nofile=$(awk '/Max open files/ {print $4}' "/proc/$ENGINE_PID/limits")
((nofile > N * 2)) || fail "engine's RLIMIT_NOFILE $nofile is too low for $N connections"

status=$AGENT_TMP/slowloris.json
t0=$(date +%s)
# (root raises the fd limit; the agent uid inherits it)
bg_start "$TEST_TMP/slowloris.out" prlimit --nofile=$((N + 256)) -- \
	ip netns exec "$HOST_NS" setpriv --reuid="$AGENT_UID" --regid="$AGENT_UID" --clear-groups -- \
	"$PY" "$INTEG_DIR/helpers/slowloris.py" --addr "$V4_UP" --count "$N" --seconds 50 --status "$status"
flooder=$BG_PID
field() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$status" "$1" 2>/dev/null; }
all_open() { [[ -s $status ]] && (($(field open) >= N)); }
# every connection must be open (and none yet timed out) for the check below
wait_until 30 all_open || fail "the flood did not get $N connections open: $(cat "$status" 2>&1)"
held_at=$(($(date +%s) - t0))
log "flood: $(cat "$status") (all open after ${held_at}s)"

# uid 1000 is at its limit: its next connection is refused ...
if out=$(as_agent curl -4 -sS --max-time 5 http://allowed.test/agent1-during 2>&1); then
	fail "agent 1000 was served while its $N slow connections held the limit: $out"
fi
wait_until 5 grep -q '"event":"limit".*"uid":1000' "$TEST_TMP/audit.log" ||
	fail "agent 1000's refused connection has no limit audit event"
# ... but the other agent uid is served while the flood runs
for i in 1 2 3; do
	out=$(as_agent2 curl -4 -sS --max-time 10 "http://allowed.test/agent2-$i") || fail "agent 1001 not served during the flood: $out"
	[[ $out == "ok GET /agent2-$i" ]] || fail "agent 1001: got '$out'"
done
out=$(field open)
((out >= N)) || fail "slow connections were closed before the checks ended (open $out): raise SLOWLORIS_TIMEOUT_MS"
log "during the flood: agent 1000 refused, agent 1001 served 3/3 ($(cat "$status"))"

# the first-bytes timeout ends every slow connection; then uid 1000 is served
all_closed() { (($(field closed) >= N)); }
wait_until 40 all_closed || fail "slow connections not all closed by the engine: $(cat "$status")"
log "flood ended by the engine after $(($(date +%s) - t0))s: $(cat "$status")"
wait_until 10 eval 'as_agent curl -4 -sS --max-time 5 http://allowed.test/agent1-after 2>/dev/null | grep -q "ok GET /agent1-after"' ||
	fail "agent 1000 not served again after the timeouts"
! upstream_saw "/slowloris" || fail "an incomplete slow request head reached the upstream"
pid_stop "$flooder"
# (the audit log folds repeats into "suppressed" summaries, flushed at the
# end of their window: count those too, and wait for the last one)
timeouts() {
	"$PY" -c '
import json, sys
n = 0
for l in open(sys.argv[1]):
    e = json.loads(l)
    if "first_bytes_timeout_ms" in e.get("reason", "") and e.get("uid") == 1000:
        n += e.get("repeats", 1)
print(n)' "$TEST_TMP/audit.log"
}
wait_until 10 eval '(($(timeouts) >= N))' ||
	fail "only $(timeouts) of $N slow connections have a first-bytes timeout audit event"
log "audit: $(timeouts) first-bytes timeout events"

# header floods and over-long lines: answered 431/400, never relayed
as_agent "$PY" - "$V4_UP" >"$AGENT_TMP/limits.out" <<'PYEOF' || fail "limits client: $(cat "$AGENT_TMP/limits.out")"
import socket, sys
addr = sys.argv[1]
def status(payload):
    s = socket.create_connection((addr, 80), timeout=10)
    try:
        s.sendall(payload)
    except OSError:
        pass
    d = b""
    try:
        while b"\r\n" not in d:
            b = s.recv(4096)
            if not b:
                break
            d += b
    except OSError:
        pass
    s.close()
    line = d.split(b"\r\n", 1)[0].decode("latin-1")
    return line.split(" ")[1] if line.startswith("HTTP/1.") else "none:" + repr(d[:60])
h = b"GET /flood HTTP/1.1\r\nHost: allowed.test\r\n"
cases = {
    "fields": h + b"".join(b"X-F%d: v\r\n" % i for i in range(500)) + b"\r\n",
    "fieldline": h + b"X-Long: " + b"a" * 20000 + b"\r\n\r\n",
    "reqline": b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: allowed.test\r\n\r\n",
    "head": h + b"".join(b"X-F%d: %s\r\n" % (i, b"b" * 4000) for i in range(20)) + b"\r\n",
}
for k, v in cases.items():
    print(k, status(v), flush=True)
PYEOF
log "limits: $(tr '\n' ' ' <"$AGENT_TMP/limits.out")"
grep -q '^fields 431$' "$AGENT_TMP/limits.out" || fail "header flood not answered 431: $(cat "$AGENT_TMP/limits.out")"
for k in fieldline reqline head; do
	grep -Eq "^$k (400|414|431)$" "$AGENT_TMP/limits.out" || fail "$k not answered 400/431: $(cat "$AGENT_TMP/limits.out")"
done
! upstream_saw "/flood" || fail "an oversized head reached the upstream"
log "PASS t_hard_slowloris: $N slow connections held, agent 1001 served, agent 1000 served after the timeout"
