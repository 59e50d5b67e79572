#!/usr/bin/env bash
# t_run_agent_flag.sh - `run --apply --agent-user UID` on built-in defaults
# (no config file): the named uid is steered through the engine (audit line,
# DLP block), another uid is not; --agent-user survives a SIGHUP reload; a
# bad --agent-user is a usage error.
set -eu
. tests/integration/lib.sh

topo_up
plfw_ready || fail "$PLFW not built"
upstream_start
engine_start --apply --remove-on-exit --agent-user "$AGENT_UID"

out=$(as_agent curl -4 -sS --max-time 10 http://allowed.test/flag-ok 2>&1) || fail "agent request: $out"
wait_until 5 grep -q '"url":"http://allowed.test/flag-ok"' "$TEST_TMP/audit.log" ||
	fail "agent uid not steered through the engine (no audit line)"
code=$(as_agent curl -4 -s -o /dev/null -w '%{http_code}' --max-time 10 \
	"http://allowed.test/?k=sk-ant-api03-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" || true)
[[ $code == 403 ]] || fail "secret from the agent: HTTP $code, want 403"
! upstream_saw "sk-ant-api03-" || fail "upstream saw the secret"

out=$(as_agent2 curl -4 -sS --max-time 10 http://allowed.test/not-agent 2>&1) || fail "uid $AGENT2_UID: $out"
! grep -q '"url":"http://allowed.test/not-agent"' "$TEST_TMP/audit.log" ||
	fail "uid $AGENT2_UID was steered although only $AGENT_UID was named"

kill -HUP "$ENGINE_PID"
wait_until 5 grep -q '"event":"config_reload","verdict":"ok"' "$TEST_TMP/audit.log" || fail "no reload event"
code=$(as_agent curl -4 -s -o /dev/null -w '%{http_code}' --max-time 10 \
	"http://allowed.test/?k=sk-ant-api03-BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB" || true)
[[ $code == 403 ]] || fail "after reload the agent is no longer steered (HTTP $code)"
engine_stop
[[ $ENGINE_RC == 0 ]] || fail "engine exit status $ENGINE_RC"

rc=0
in_host "$PLFW" run --agent-user no-such-user-x >/dev/null 2>&1 || rc=$?
[[ $rc == 2 ]] || fail "unknown --agent-user: exit $rc, want 2"
rc=0
in_host "$PLFW" run --agent-user 0 >/dev/null 2>&1 || rc=$?
[[ $rc == 2 ]] || fail "--agent-user 0: exit $rc, want 2"
log "PASS t_run_agent_flag"
