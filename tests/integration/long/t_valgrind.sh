#!/usr/bin/env bash
# t_valgrind.sh (make test-long) - the engine under valgrind memcheck handles
# a few hundred agent connections (HTTP allowed and blocked, HTTPS allowed
# and blocked, DNS) and a SIGHUP reload, then exits on SIGTERM: no invalid
# access, and no definitely or indirectly lost memory.
set -eu
. tests/integration/lib.sh
need_cmd valgrind

topo_up
plfw_ready || fail "$PLFW not built"
upstream_start
make_config
vlog=$TEST_TMP/valgrind.log
ip netns exec "$HOST_NS" valgrind --quiet --leak-check=full \
	--errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
	--error-exitcode=99 --log-file="$vlog" \
	"$PLFW" run --config "$PLFW_CONFIG" --apply --remove-on-exit --workers 2 \
	>>"$TEST_TMP/audit.log" 2>>"$TEST_TMP/engine.err" </dev/null &
VG_PID=$!
wait_until 120 _engine_listening || fail "engine under valgrind did not listen within 120 s"

ok=0 blocked=0
for i in $(seq 1 100); do
	as_agent curl -4 -s -o /dev/null --max-time 20 "http://allowed.test/v$i" && ok=$((ok + 1))
	as_agent curl -4 -s -o /dev/null --max-time 20 \
		"http://allowed.test/?k=sk-ant-api03-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA$i" || true
	if ((i % 4 == 0)); then
		as_agent curl -4 -s -o /dev/null --max-time 20 --cacert "$CA_DIR/ca.pem" "https://allowed.test/t$i" || true
		as_agent curl -4 -s -o /dev/null --max-time 20 --cacert "$CA_DIR/ca.pem" "https://blocked.test/t$i" || true
	fi
	((i == 50)) && kill -HUP "$VG_PID"
done
((ok >= 90)) || fail "only $ok of 100 allowed requests succeeded under valgrind"
# The reload compiles the DLP database again (in a child, under valgrind
# too): slow here, so wait for its event instead of expecting it already.
wait_until 120 grep -q '"event":"config_reload"' "$TEST_TMP/audit.log" ||
	fail "no reload event within 120 s of SIGHUP"

kill -TERM "$VG_PID"
rc=0
wait_until 120 eval "! kill -0 $VG_PID 2>/dev/null" || { kill -KILL "$VG_PID"; fail "engine under valgrind did not exit"; }
wait "$VG_PID" || rc=$?
if ((rc != 0)); then
	cat "$vlog" >&2
	fail "valgrind/engine exit status $rc"
fi
log "valgrind: clean ($ok allowed requests, reload, SIGTERM)"
log "PASS t_valgrind"
