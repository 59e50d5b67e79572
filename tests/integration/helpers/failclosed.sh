# shellcheck shell=bash
# failclosed.sh - the engine-stop scenario shared by t_failclosed_kill9.sh
# and t_failclosed_sigterm.sh (sourced after lib.sh).
#
#   failclosed_run STOP_FN   STOP_FN is engine_kill9 or engine_stop; sets
#                            STOP_RC (the engine's exit status)
#
# Engine + rules up, agent HTTP/HTTPS works through the engine on IPv4 and
# IPv6; STOP_FN; every agent connection attempt (HTTP, HTTPS, raw, v4+v6)
# fails in < 1 s and the upstream accepts nothing new; our table is still
# installed; the non-agent uid is untouched; a restarted engine works again.

# agent_works FAMILY TAG -- a curl as the agent through the engine.
agent_works() {
	local fam=$1 tag=$2 out
	out=$(as_agent curl "$fam" -sS --max-time 10 "http://allowed.test/$tag" 2>&1) ||
		fail "agent HTTP ($fam) through the engine failed: $out"
	[[ $out == "ok GET /$tag" ]] || fail "agent HTTP ($fam): got '$out'"
	out=$(as_agent curl "$fam" -sS --max-time 10 --cacert "$CA_DIR/ca.pem" "https://allowed.test/$tag-tls" 2>&1) ||
		fail "agent HTTPS ($fam) through the engine failed: $out"
	[[ $out == "ok GET /$tag-tls" ]] || fail "agent HTTPS ($fam): got '$out'"
}

# agent_refused ADDR PORT -- the agent's connection fails, fast.
agent_refused() {
	local addr=$1 port=$2 out res secs
	out=$(as_agent "$PY" "$INTEG_DIR/helpers/agent_load.py" connect --addr "$addr" --port "$port" --timeout 5)
	read -r res secs <<<"$out"
	[[ $res != OK ]] || fail "agent connection to $addr:$port succeeded with the engine down"
	[[ $res != TIMEOUT ]] || fail "agent connection to $addr:$port hung (${secs}s) instead of being refused"
	awk -v s="$secs" 'BEGIN { exit !(s < 1.0) }' ||
		fail "agent connection to $addr:$port failed only after ${secs}s ($res), want < 1 s"
	log "agent -> $addr:$port with the engine down: $res in ${secs}s"
}

failclosed_run() {
	local stop_fn=$1 before after addr port out
	plfw_ready || fail "$PLFW: 'firewall apply' / 'run' not available yet"
	upstream_start
	make_config
	fw_apply --config "$PLFW_CONFIG" || fail "firewall apply failed"
	engine_start --config "$PLFW_CONFIG"

	agent_works -4 before4
	agent_works -6 before6
	[[ -s $TEST_TMP/audit.log ]] || fail "the engine wrote no audit line for the agent's requests"
	grep -q allowed.test "$TEST_TMP/audit.log" ||
		fail "the agent's requests did not go through the engine (no allowed.test in the audit log)"

	"$stop_fn"
	STOP_RC=$ENGINE_RC
	log "engine stopped by $stop_fn (rc=${STOP_RC:-?})"
	[[ $stop_fn != engine_stop || $ENGINE_KILLED == 0 ]] || fail "the engine ignored SIGTERM for 5 s"
	in_host nft list table inet pipelock >/dev/null 2>&1 ||
		fail "our table is gone after $stop_fn: the agent's egress is open"

	before=$(upstream_count_conns)
	for addr in "$V4_UP" "$V6_UP" "$V4_UP2" "$V6_UP2"; do
		for port in 80 443 9000; do
			agent_refused "$addr" "$port"
		done
	done
	# the second agent uid too
	out=$(as_agent2 "$PY" "$INTEG_DIR/helpers/agent_load.py" connect --addr "$V6_UP" --port 443 --timeout 5)
	[[ $out != OK* && $out != TIMEOUT* ]] || fail "agent2 connection with the engine down: $out"
	for addr in -4 -6; do
		if out=$(as_agent curl "$addr" -sS --max-time 5 http://allowed.test/after-stop 2>&1); then
			fail "agent curl ($addr) succeeded with the engine down: $out"
		fi
	done
	after=$(upstream_count_conns)
	((after == before)) ||
		fail "the upstream accepted $((after - before)) connection(s) while the engine was down"
	! upstream_saw after-stop || fail "the upstream saw the agent's request while the engine was down"

	# the non-agent uid is untouched
	out=$(as_other curl -4 -fsS --max-time 10 http://allowed.test/other) || fail "non-agent uid blocked"
	[[ $out == "ok GET /other" ]] || fail "non-agent uid: got '$out'"

	engine_start --config "$PLFW_CONFIG"
	agent_works -4 restart4
	agent_works -6 restart6
	log "PASS: fail-closed across $stop_fn, and works again after restart"
}
