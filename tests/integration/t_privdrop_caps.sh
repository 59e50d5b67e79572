#!/usr/bin/env bash
# t_privdrop_caps.sh - `run --apply --user nobody`: after the privileged
# setup every thread runs as uid/gid 65534 with exactly the capabilities
# man/pipelock-fw.8 documents (CAP_NET_ADMIN, plus CAP_SYS_PTRACE and
# CAP_DAC_READ_SEARCH while audit lines name processes; CAP_NET_ADMIN alone when they do not), none
# inheritable, the bounding set cut to the same; the engine still relays and
# blocks, names the agent's executable, and a SIGHUP re-applies the firewall
# for a changed agent list.  An agent user is refused as --user.
set -eu
. tests/integration/lib.sh

topo_up
plfw_ready || fail "$PLFW: 'firewall apply' / 'run' not available yet"
upstream_start
make_config

NET_ADMIN=$((1 << 12))
SYS_PTRACE=$((1 << 19 | 1 << 2))	# with CAP_DAC_READ_SEARCH

# check_threads PID WANT_CAPS -- every thread: uids 65534, caps as given
check_threads() {
	local pid=$1 want=$2 t n=0 f v
	for t in /proc/"$pid"/task/*; do
		n=$((n + 1))
		read -r _ ruid euid suid fsuid < <(grep '^Uid:' "$t/status")
		[[ "$ruid $euid $suid $fsuid" == "65534 65534 65534 65534" ]] ||
			fail "thread ${t##*/}: Uid $ruid $euid $suid $fsuid"
		read -r _ rgid egid sgid fsgid < <(grep '^Gid:' "$t/status")
		[[ "$rgid $egid $sgid $fsgid" == "65534 65534 65534 65534" ]] ||
			fail "thread ${t##*/}: Gid $rgid $egid $sgid $fsgid"
		[[ $(awk '/^Groups:/ {print $2}' "$t/status") == 65534 ]] ||
			fail "thread ${t##*/}: $(grep '^Groups:' "$t/status")"
		for f in CapEff CapPrm CapBnd; do
			v=$(awk -v f="$f:" '$1 == f {print $2}' "$t/status")
			((16#$v == want)) || fail "thread ${t##*/}: $f $v, want $(printf %016x "$want")"
		done
		for f in CapInh CapAmb; do
			v=$(awk -v f="$f:" '$1 == f {print $2}' "$t/status")
			((16#$v == 0)) || fail "thread ${t##*/}: $f $v, want 0"
		done
	done
	((n >= 4)) || fail "only $n threads: workers/resolver not started?"
	log "$n threads of $pid: uid 65534, caps $(printf %x "$want")"
}

# an agent user is refused at once (exit 2), before anything is applied
rc=0
in_host "$PLFW" run --config "$PLFW_CONFIG" --apply --user "$(getent passwd "$AGENT_UID" | cut -d: -f1)" \
	>/dev/null 2>"$TEST_TMP/refuse.err" </dev/null || rc=$?
((rc == 2)) || fail "run --user <agent user>: exit $rc, want 2"
grep -q 'is an agent user' "$TEST_TMP/refuse.err" || fail "refusal: $(cat "$TEST_TMP/refuse.err")"
! in_host nft list table inet pipelock >/dev/null 2>&1 || fail "a refused --user left the firewall applied"

# 1. audit lines on (the default): CAP_NET_ADMIN + CAP_SYS_PTRACE
engine_start --config "$PLFW_CONFIG" --apply --remove-on-exit --user nobody --workers 2
wait_until 5 grep -q 'running as nobody' "$TEST_TMP/engine.err" || fail "no privilege drop logged"
check_threads "$ENGINE_PID" $((NET_ADMIN | SYS_PTRACE))
out=$(as_agent curl -4 -sS --max-time 10 --cacert "$CA_DIR/ca.pem" https://allowed.test/dropped 2>&1) ||
	fail "HTTPS after the drop: $out"
[[ $out == "ok GET /dropped" ]] || fail "HTTPS after the drop: $out"
rc=0
out=$(as_agent curl -4 -sS --max-time 10 --cacert "$CA_DIR/ca.pem" https://blocked.test/x 2>&1) || rc=$?
((rc != 0)) || fail "blocked.test allowed after the drop"
wait_until 5 grep -q '"exe":"/usr/bin/curl".*"host":"allowed.test"' "$TEST_TMP/audit.log" ||
	fail "no exe in the audit line (CAP_SYS_PTRACE not effective?)"
# SIGHUP as nobody: a new agent uid, the firewall re-applied (CAP_NET_ADMIN)
sed -i "s/agent_users: \[$AGENT_UID, $AGENT2_UID\]/agent_users: [$AGENT_UID, $AGENT2_UID, $OTHER_UID]/" "$PLFW_CONFIG"
kill -HUP "$ENGINE_PID"
wait_until 5 grep -q '"event":"config_reload","verdict":"ok"' "$TEST_TMP/audit.log" ||
	fail "reload as nobody failed: $(tail -3 "$TEST_TMP/engine.err")"
rc=0
out=$(as_other curl -4 -sS --max-time 10 --cacert "$CA_DIR/ca.pem" https://blocked.test/now-agent 2>&1) || rc=$?
[[ $out == *"alert access denied"* ]] || fail "uid $OTHER_UID not intercepted after the reload: $out"
check_threads "$ENGINE_PID" $((NET_ADMIN | SYS_PTRACE))
engine_stop
[[ $ENGINE_RC == 0 ]] || fail "exit status $ENGINE_RC"
! in_host nft list table inet pipelock >/dev/null 2>&1 || fail "--remove-on-exit as nobody left the table"

# 2. no per-connection audit lines, no dlp.scan_env: CAP_NET_ADMIN only
cat >>"$PLFW_CONFIG" <<EOF
dlp:
  scan_env: false
logging:
  include_allowed: false
  include_blocked: false
EOF
engine_start --config "$PLFW_CONFIG" --apply --remove-on-exit --user nobody --workers 2
check_threads "$ENGINE_PID" "$NET_ADMIN"
out=$(as_agent curl -4 -sS --max-time 10 --cacert "$CA_DIR/ca.pem" https://allowed.test/net-admin-only 2>&1) ||
	fail "HTTPS with CAP_NET_ADMIN only: $out"
engine_stop
[[ $ENGINE_RC == 0 ]] || fail "exit status $ENGINE_RC"
log "PASS t_privdrop_caps"
