#!/usr/bin/env bash
# t_lifecycle_200.sh (make test-long) - rules and engine lifecycle leave no
# residue: 200 `firewall apply` / `firewall remove` cycles in the namespace
# leave no nft table of ours, no ip rule / ip -6 rule and no route in the
# policy table (checked after every remove, and the ruleset is back to what
# it was before); then 200 SIGHUP reloads of a running engine (policy
# alternating) leave its fd count unchanged and its RSS growth under 2 MiB,
# and it still serves the agent.
set -eu
. tests/integration/lib.sh

CYCLES=${LIFECYCLE_CYCLES:-200}
RELOADS=${LIFECYCLE_RELOADS:-200}
TABLE=8890	# FW_DEFAULT_ROUTE_TABLE
# an ASan build (make SANITIZE=1) keeps freed memory in quarantine: RSS
# would grow by design, so turn the quarantine off for the RSS bound
if ldd "$PLFW" 2>/dev/null | grep -q libasan; then
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0:thread_local_quarantine_size_kb=0"
fi
topo_up
plfw_ready || fail "$PLFW: 'firewall apply' / 'run' not available yet"
upstream_start
make_config

state() {
	in_host nft list ruleset
	echo "--- rule"
	in_host ip rule show
	echo "--- rule6"
	in_host ip -6 rule show
	echo "--- route"
	# (a never-used table "does not exist"; an emptied one lists nothing)
	{ in_host ip route show table "$TABLE" 2>&1 || true; } | grep -v 'FIB table does not exist\|Dump terminated' || true
	echo "--- route6"
	{ in_host ip -6 route show table "$TABLE" 2>&1 || true; } | grep -v 'FIB table does not exist\|Dump terminated' || true
}
state >"$TEST_TMP/state0"
! grep -q pipelock "$TEST_TMP/state0" || fail "pipelock state present before the test"

t0=$SECONDS
for ((i = 0; i < CYCLES; i++)); do
	fw_apply --config "$PLFW_CONFIG" >/dev/null 2>"$TEST_TMP/apply.err" || fail "apply $i: $(cat "$TEST_TMP/apply.err")"
	if ((i == 0)); then
		in_host nft list table inet pipelock >/dev/null 2>&1 || fail "apply did not install table inet pipelock"
		in_host ip rule show | grep -q "lookup $TABLE" || fail "apply did not add its ip rule"
		in_host ip route show table "$TABLE" | grep -q . || fail "apply did not add its route"
	fi
	fw_remove >/dev/null 2>"$TEST_TMP/remove.err" || fail "remove $i: $(cat "$TEST_TMP/remove.err")"
	state >"$TEST_TMP/state"
	diff -u "$TEST_TMP/state0" "$TEST_TMP/state" >"$TEST_TMP/state.diff" ||
		fail "residue after cycle $i: $(cat "$TEST_TMP/state.diff")"
done
log "$CYCLES apply/remove cycles in $((SECONDS - t0)) s: no residue"

# --- reloads ---
cp "$PLFW_CONFIG" "$TEST_TMP/a.yaml"
sed 's/blocklist: \["blocked.test"\]/blocklist: ["blocked.test", "other.test"]/' "$TEST_TMP/a.yaml" >"$TEST_TMP/b.yaml"
engine_start --config "$PLFW_CONFIG" --apply --remove-on-exit
out=$(as_agent curl -4 -sS --max-time 10 http://allowed.test/warm) || fail "warm-up: $out"
reloads() { grep -c '"event":"config_reload"' "$TEST_TMP/audit.log" || true; }
fds() { find "/proc/$ENGINE_PID/fd" -mindepth 1 -maxdepth 1 | wc -l; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$ENGINE_PID/status"; }
# a first few reloads settle lazily-allocated state (allocator arenas)
for ((i = 0; i < 5; i++)); do
	before=$(reloads)
	cp "$TEST_TMP/$( ((i % 2)) && echo a || echo b).yaml" "$PLFW_CONFIG"
	kill -HUP "$ENGINE_PID"
	wait_until 10 eval '(($(reloads) > before))' || fail "warm-up reload $i: no audit event"
done
fd0=$(fds)
rss0=$(rss)
log "before $RELOADS reloads: $fd0 fds, RSS $rss0 KiB"
t0=$SECONDS
for ((i = 0; i < RELOADS; i++)); do
	before=$(reloads)
	cp "$TEST_TMP/$( ((i % 2)) && echo a || echo b).yaml" "$PLFW_CONFIG"
	kill -HUP "$ENGINE_PID"
	wait_until 10 eval '(($(reloads) > before))' || fail "reload $i: no audit event"
	pid_alive "$ENGINE_PID" || fail "engine died at reload $i"
done
grep '"event":"config_reload"' "$TEST_TMP/audit.log" | grep -v '"verdict":"success"\|"verdict":"ok"' | head -3 >"$TEST_TMP/bad" || true
[[ ! -s $TEST_TMP/bad ]] || log "non-success reload events: $(cat "$TEST_TMP/bad")"
sleep 0.5
fd1=$(fds)
rss1=$(rss)
log "after $RELOADS reloads ($((SECONDS - t0)) s): $fd1 fds, RSS $rss1 KiB (growth $((rss1 - rss0)) KiB)"
((fd1 == fd0)) || fail "fd count changed over $RELOADS reloads: $fd0 -> $fd1"
((rss1 - rss0 < 2048)) || fail "RSS grew $((rss1 - rss0)) KiB over $RELOADS reloads"
# the last policy (b: other.test blocked when RELOADS is even) is in force
out=$(as_agent curl -4 -sS --max-time 10 http://allowed.test/after) || fail "not served after the reloads: $out"
[[ $out == "ok GET /after" ]] || fail "after the reloads: got '$out'"
engine_stop
((ENGINE_RC == 0)) || fail "engine exit status $ENGINE_RC after SIGTERM"
! grep -q 'Sanitizer' "$TEST_TMP/engine.err" || fail "sanitizer report: $(grep -A20 Sanitizer "$TEST_TMP/engine.err" | head -40)"
state >"$TEST_TMP/state"
diff -u "$TEST_TMP/state0" "$TEST_TMP/state" >"$TEST_TMP/state.diff" ||
	fail "residue after the engine's --remove-on-exit: $(cat "$TEST_TMP/state.diff")"
log "PASS t_lifecycle_200: $CYCLES apply/remove cycles, $RELOADS reloads (fds $fd0 -> $fd1, RSS +$((rss1 - rss0)) KiB)"
