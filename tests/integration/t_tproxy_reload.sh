#!/usr/bin/env bash
# t_tproxy_reload.sh - `run --apply --remove-on-exit` and SIGHUP: the engine
# installs the firewall itself; SIGHUP with a changed blocklist and one more
# agent uid swaps the policy (a name that was allowed is now refused, audited
# as config_reload) and re-applies the firewall (the new uid is captured);
# SIGHUP with a broken config keeps the old policy; SIGTERM exits 0 and,
# with --remove-on-exit, removes the table.
set -eu
. tests/integration/lib.sh

topo_up
plfw_ready || fail "$PLFW: 'firewall apply' / 'run' not available yet"
upstream_start
make_config
engine_start --config "$PLFW_CONFIG" --apply --remove-on-exit
in_host nft list table inet pipelock >/dev/null 2>&1 || fail "run --apply installed no table"

https() { as_agent curl -4 -sS --max-time 10 --cacert "$CA_DIR/ca.pem" "https://$1/$2" 2>&1; }
out=$(https allowed.test before) || fail "allowed.test before reload: $out"
[[ $out == "ok GET /before" ]] || fail "allowed.test before reload: got '$out'"
upstream_saw "GET /before HTTP" || fail "request did not go upstream"
# the agent's traffic really goes through the engine (audit line)
grep -q '"host":"allowed.test"' "$TEST_TMP/audit.log" || fail "no audit line: not intercepted?"
# uid 1002 is no agent yet: not intercepted, blocked.test reachable
out=$(as_other curl -4 -sS --max-time 10 --cacert "$CA_DIR/ca.pem" https://blocked.test/not-agent 2>&1) ||
	fail "non-agent uid before reload: $out"

sed -i 's/blocklist: \["blocked.test"\]/blocklist: ["blocked.test", "allowed.test"]/' "$PLFW_CONFIG"
sed -i "s/agent_users: \[$AGENT_UID, $AGENT2_UID\]/agent_users: [$AGENT_UID, $AGENT2_UID, $OTHER_UID]/" "$PLFW_CONFIG"
grep -q "agent_users: \[$AGENT_UID, $AGENT2_UID, $OTHER_UID\]" "$PLFW_CONFIG" || fail "config edit failed"
kill -HUP "$ENGINE_PID"
wait_until 5 grep -q '"event":"config_reload","verdict":"ok"' "$TEST_TMP/audit.log" || fail "no reload event"
rc=0
out=$(https allowed.test after) || rc=$?
((rc != 0)) || fail "allowed.test still allowed after the reload: $out"
[[ $out == *"alert access denied"* ]] || fail "after reload: $out"
out=$(https other.test other) || fail "other.test after reload: $out"
# the firewall followed the reload: uid 1002 is an agent now
rc=0
out=$(as_other curl -4 -sS --max-time 10 --cacert "$CA_DIR/ca.pem" https://blocked.test/now-agent 2>&1) || rc=$?
[[ $out == *"alert access denied"* ]] || fail "uid $OTHER_UID not intercepted after the reload: $out"

printf 'firewall: [unclosed\n' >>"$PLFW_CONFIG"
kill -HUP "$ENGINE_PID"
wait_until 5 grep -q '"event":"config_reload","verdict":"error"' "$TEST_TMP/audit.log" || fail "no reload error event"
pid_alive "$ENGINE_PID" || fail "a bad config killed the engine"
rc=0
https allowed.test after-bad >/dev/null || rc=$?
((rc != 0)) || fail "the bad reload dropped the policy (allowed.test allowed again)"
! upstream_saw "/after" || fail "upstream saw a request that was blocked"

engine_stop
[[ $ENGINE_RC == 0 ]] || fail "engine exit status after SIGTERM: $ENGINE_RC, want 0"
! in_host nft list table inet pipelock >/dev/null 2>&1 || fail "--remove-on-exit left the table"
log "PASS t_tproxy_reload"
