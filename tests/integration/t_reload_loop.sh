#!/usr/bin/env bash
# t_reload_loop.sh - 20 SIGHUPs to `run --apply`, good and broken configs
# alternating (YAML syntax, unknown key, a DLP regex that does not compile,
# a bad value), while an agent's bounded HTTPS request loop runs: no
# request fails, each broken config is rejected with its error (audit
# config_reload/error + stderr) and the last good policy stays (checked
# after each one: other.test is allowed or blocked as that policy says), the
# engine's fd count is the same before and after, and the reload counters
# in /metrics say 10 success / 10 error.
set -eu
. tests/integration/lib.sh

MON_PORT=9913
topo_up
plfw_ready || fail "$PLFW: 'firewall apply' / 'run' not available yet"
upstream_start
make_config
cp "$PLFW_CONFIG" "$TEST_TMP/base.yaml"

# good VARIANT (a: other.test allowed, b: other.test blocked)
good() {
	if [[ $1 == a ]]; then
		cp "$TEST_TMP/base.yaml" "$PLFW_CONFIG"
	else
		sed 's/blocklist: \["blocked.test"\]/blocklist: ["blocked.test", "other.test"]/' \
			"$TEST_TMP/base.yaml" >"$PLFW_CONFIG"
	fi
	printf 'metrics_listen: 127.0.0.1:%s\n' "$MON_PORT" >>"$PLFW_CONFIG"
}
# broken N -- four kinds of broken config
broken() {
	good b
	case $(($1 % 4)) in
	0) printf 'firewall: [unclosed\n' >>"$PLFW_CONFIG" ;;
	1) printf 'no_such_key: 1\n' >>"$PLFW_CONFIG" ;;
	2) printf 'dlp:\n  patterns:\n    - name: bad\n      regex: "a(b"\n' >>"$PLFW_CONFIG" ;;
	3) sed -i 's/^mode: balanced/mode: sideways/' "$PLFW_CONFIG" ;;
	esac
}
other_ok() { as_agent curl -4 -sS --max-time 10 --cacert "$CA_DIR/ca.pem" https://other.test/check >/dev/null 2>&1; }
reloads() { grep -c '"event":"config_reload"' "$TEST_TMP/audit.log" || true; }
fds() { ls "/proc/$ENGINE_PID/fd" | wc -l; }

good a
engine_start --config "$PLFW_CONFIG" --apply --remove-on-exit
other_ok || fail "other.test refused at start"
as_agent curl -4 -sS --max-time 10 --cacert "$CA_DIR/ca.pem" https://allowed.test/warm >/dev/null ||
	fail "warm-up request failed"
wait_until 5 eval "(( \$(ls /proc/$ENGINE_PID/fd | wc -l) > 0 ))" || true
sleep 0.3
fd0=$(fds)
log "fds before: $fd0"

# the agent's request loop: bounded in count (2000) and time (120 s)
: >"$TEST_TMP/loop.out"
STOP=$TEST_TMP/loop.stop
(
	end=$((SECONDS + 120))
	for ((i = 0; i < 2000 && SECONDS < end; i++)); do
		[[ -e $STOP ]] && break
		if out=$(as_agent curl -4 -sS --max-time 10 --cacert "$CA_DIR/ca.pem" \
			"https://allowed.test/loop$i" 2>&1) && [[ $out == "ok GET /loop$i" ]]; then
			echo ok >>"$TEST_TMP/loop.out"
		else
			echo "FAIL $i: $out" >>"$TEST_TMP/loop.out"
		fi
	done
) &
LOOP_PID=$!
LIB_PIDS="$LIB_PIDS $LOOP_PID"
wait_until 10 eval "[[ -s $TEST_TMP/loop.out ]]" || fail "request loop did not start"

want=a
for ((n = 0; n < 20; n++)); do
	before=$(reloads)
	if ((n % 2 == 0)); then
		want=$([[ $want == a ]] && echo b || echo a)
		good "$want"
		kill -HUP "$ENGINE_PID"
		wait_until 10 eval "(( \$(reloads) > before ))" || fail "reload $n: no audit event"
		tail -1 "$TEST_TMP/audit.log" | grep -q '"config_reload","verdict":"ok"' ||
			grep '"config_reload"' "$TEST_TMP/audit.log" | tail -1 | grep -q '"verdict":"ok"' ||
			fail "reload $n (good $want) rejected: $(tail -3 "$TEST_TMP/engine.err")"
	else
		errs=$(grep -c 'old policy kept' "$TEST_TMP/audit.log" || true)
		broken "$n"
		kill -HUP "$ENGINE_PID"
		wait_until 10 eval "(( \$(reloads) > before ))" || fail "reload $n: no audit event"
		grep '"config_reload"' "$TEST_TMP/audit.log" | tail -1 | grep -q '"verdict":"error".*pipelock.yaml:.*old policy kept' ||
			fail "broken config $n: $(grep '"config_reload"' "$TEST_TMP/audit.log" | tail -1)"
		(($(grep -c 'old policy kept' "$TEST_TMP/audit.log") > errs)) || fail "no error for broken $n"
	fi
	# the policy in force is the last good one
	if [[ $want == a ]]; then
		other_ok || fail "after reload $n: other.test refused, policy a expected"
	else
		! other_ok || fail "after reload $n: other.test allowed, policy b expected"
	fi
done
pid_alive "$ENGINE_PID" || fail "engine died"
grep -q 'sideways\|a(b\|no_such_key\|unclosed\|line' "$TEST_TMP/engine.err" || fail "no config errors on stderr"

touch "$STOP"
wait "$LOOP_PID" || true
nok=$(grep -c '^ok$' "$TEST_TMP/loop.out" || true)
nfail=$(grep -c '^FAIL' "$TEST_TMP/loop.out" || true)
log "request loop: $nok ok, $nfail failed"
((nfail == 0)) || fail "failed requests during reloads: $(grep '^FAIL' "$TEST_TMP/loop.out" | head -3)"
((nok >= 20)) || fail "only $nok requests ran"

# fds: back to the count before (connections drain within the linger)
wait_until 10 eval "(( \$(ls /proc/$ENGINE_PID/fd | wc -l) == fd0 ))" ||
	fail "fd count $(fds) after the reloads, $fd0 before: $(ls -l /proc/$ENGINE_PID/fd | tail -n +2 | awk '{print $NF}' | sort | uniq -c)"

out=$(in_host curl -sS --max-time 5 "http://127.0.0.1:$MON_PORT/metrics") || fail "/metrics: $out"
grep -q '^pipelock_config_reloads_total{result="success"} 10$' <<<"$out" ||
	fail "success reloads: $(grep reloads_total <<<"$out")"
grep -q '^pipelock_config_reloads_total{result="error"} 10$' <<<"$out" ||
	fail "error reloads: $(grep reloads_total <<<"$out")"
engine_stop
[[ $ENGINE_RC == 0 ]] || fail "exit status $ENGINE_RC"
log "PASS t_reload_loop"
