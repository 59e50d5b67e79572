#!/usr/bin/env bash
# t_hard_fdexhaust.sh - file-descriptor exhaustion: the running engine's
# RLIMIT_NOFILE is lowered (prlimit on its PID) below what the agent's open
# connections need, and connections wait on the explicit proxy port too;
# while accept fails with EMFILE the engine must not busy-loop (CPU time over 2 s well under 1 s), must keep running, and must
# serve the agent again once its connections are gone.
set -eu
. tests/integration/lib.sh
. tests/integration/helpers/tproxy.sh

NOFILE=${FDEXHAUST_NOFILE:-128}
N=${FDEXHAUST_CONNS:-400}

tproxy_up "max_conns_per_agent: 5000" "first_bytes_timeout_ms: 60000"
out=$(as_agent curl -4 -sS --max-time 10 http://allowed.test/before) || fail "agent not served before: $out"
prlimit --pid "$ENGINE_PID" --nofile="$NOFILE:$NOFILE"
fds() { find "/proc/$ENGINE_PID/fd" -mindepth 1 -maxdepth 1 | wc -l; }
log "engine $ENGINE_PID: $(fds) fds open, RLIMIT_NOFILE now $NOFILE"

status=$AGENT_TMP/hold.json
bg_start "$TEST_TMP/hold.out" prlimit --nofile=$((N + 256)) -- \
	ip netns exec "$HOST_NS" setpriv --reuid="$AGENT_UID" --regid="$AGENT_UID" --clear-groups -- \
	"$PY" "$INTEG_DIR/helpers/slowloris.py" --addr "$V4_UP" --count "$N" --seconds 50 --status "$status"
holder=$BG_PID
field() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$status" "$1" 2>/dev/null; }
opened() { [[ -s $status ]] && (($(field opened) + $(field failed) >= N)); }
wait_until 30 opened || fail "the agent's connections did not open: $(cat "$status" 2>&1)"
exhausted() { (($(fds) >= NOFILE - 2)); }
wait_until 10 exhausted || fail "engine not out of fds: $(fds) of $NOFILE (connections: $(cat "$status"))"
log "exhausted: engine has $(fds) fds of $NOFILE; agent: $(cat "$status")"

# pending connections on the explicit proxy port: its accept runs out too
pxport=$(sed -n 's/.*explicit proxy on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$TEST_TMP/engine.err" | tail -n 1)
[[ -n $pxport ]] || fail "no explicit proxy port in engine.err: $(cat "$TEST_TMP/engine.err")"
bg_start "$TEST_TMP/pxhold.out" ip netns exec "$HOST_NS" "$PY" -c '
import socket, sys, time
s = [socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5) for i in range(3)]
print("held", flush=True)
time.sleep(30)' "$pxport"
pxholder=$BG_PID
wait_until 10 grep -q held "$TEST_TMP/pxhold.out" || fail "could not connect to the proxy port: $(cat "$TEST_TMP/pxhold.out")"
cpu() { awk '{print $14 + $15}' "/proc/$ENGINE_PID/stat"; }
tck=$(getconf CLK_TCK)
sleep 0.5
c0=$(cpu)
t0=$(date +%s%N)
sleep 2
c1=$(cpu)
t1=$(date +%s%N)
cpu_ms=$(((c1 - c0) * 1000 / tck))
log "engine CPU while exhausted: ${cpu_ms} ms in $(((t1 - t0) / 1000000)) ms"
pid_alive "$ENGINE_PID" || fail "engine died while out of fds"
((cpu_ms < 500)) || fail "engine busy-loops while out of fds: ${cpu_ms} ms CPU in 2 s"
errs=$(wc -l <"$TEST_TMP/engine.err")
log "engine.err: $errs lines; accept warnings: $(grep -c 'accept' "$TEST_TMP/engine.err" || true)"
((errs < 200)) || fail "engine floods its log while out of fds: $errs lines"

pid_stop "$holder"
pid_stop "$pxholder"
wait_until 20 eval '(($(fds) < NOFILE / 2))' || fail "engine did not release fds: $(fds)"
wait_until 10 eval 'as_agent curl -4 -sS --max-time 5 http://allowed.test/after 2>/dev/null | grep -q "ok GET /after"' ||
	fail "agent not served again after its connections closed"
# the explicit proxy port answers again too (whatever its verdict)
out=$(in_host "$PY" -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"GET http://allowed.test/px HTTP/1.1\r\nHost: allowed.test\r\n\r\n")
print(s.recv(100).split(b"\r\n")[0].decode("latin-1"))' "$pxport" 2>&1) || fail "explicit proxy port: $out"
[[ $out == HTTP/1.* ]] || fail "explicit proxy port did not answer after the fds came back: $out"
pid_alive "$ENGINE_PID" || fail "engine died"
log "PASS t_hard_fdexhaust: $N connections against RLIMIT_NOFILE $NOFILE, ${cpu_ms} ms CPU in 2 s, served again"
