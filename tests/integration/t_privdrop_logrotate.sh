#!/usr/bin/env bash
# t_privdrop_logrotate.sh - logging.output: file with `run --user nobody`:
# the audit file is created 0600 (append) before the drop; after a rename
# (what logrotate does) SIGUSR2 reopens logging.file, so new lines land in a
# new 0600 file and none in the renamed one; SIGUSR1 is the kill switch and
# does not rotate.  The shipped logrotate snippet sends USR2, not USR1.
set -eu
. tests/integration/lib.sh

topo_up
plfw_ready || fail "$PLFW: 'firewall apply' / 'run' not available yet"
upstream_start
make_config
LOGDIR=$TEST_TMP/log
mkdir -m 0750 "$LOGDIR"
chown nobody: "$LOGDIR"	# the dropped engine recreates the file here
LOGF=$LOGDIR/audit.jsonl
cat >>"$PLFW_CONFIG" <<EOF
logging:
  output: file
  file: $LOGF
EOF

req() { as_agent curl -4 -sS --max-time 10 --cacert "$CA_DIR/ca.pem" "https://allowed.test/$1" >/dev/null; }

fw_apply --config "$PLFW_CONFIG" >/dev/null || fail "firewall apply failed"
engine_start --config "$PLFW_CONFIG" --user nobody
[[ -f $LOGF ]] || fail "no audit file"
[[ $(stat -c %a "$LOGF") == 600 ]] || fail "audit file mode $(stat -c %a "$LOGF")"
req first || fail "request 1"
wait_until 5 grep -q '/first\|"host":"allowed.test"' "$LOGF" || fail "no audit line in the file"
[[ ! -s $TEST_TMP/audit.log ]] || ! grep -q '"host"' "$TEST_TMP/audit.log" || fail "output: file also wrote stdout"

mv "$LOGF" "$LOGF.1"
n1=$(wc -l <"$LOGF.1")
kill -USR2 "$ENGINE_PID"
wait_until 5 eval "[[ -f $LOGF ]]" || fail "SIGUSR2 did not reopen $LOGF: $(tail -2 "$TEST_TMP/engine.err")"
[[ $(stat -c %a "$LOGF") == 600 ]] || fail "reopened file mode $(stat -c %a "$LOGF")"
[[ $(stat -c %U "$LOGF") == nobody ]] || fail "reopened file owner $(stat -c %U "$LOGF")"
req second || fail "request 2"
wait_until 5 grep -q '"host":"allowed.test"' "$LOGF" || fail "no line in the reopened file"
(($(wc -l <"$LOGF.1") == n1)) || fail "lines still go to the renamed file"
# SIGUSR1 toggles the kill switch; it does not rotate
kill -USR1 "$ENGINE_PID"
wait_until 5 grep -q '"event":"kill_switch","verdict":"block"' "$LOGF" || fail "SIGUSR1: no kill switch event"
kill -USR1 "$ENGINE_PID"
wait_until 5 grep -q '"event":"kill_switch","verdict":"allow"' "$LOGF" || fail "SIGUSR1: no release event"
(($(wc -l <"$LOGF.1") == n1)) || fail "SIGUSR1 wrote to the renamed file"
for f in scripts/pipelock-fw.logrotate scripts/logrotate.d/pipelock-fw; do
	[[ -f $f ]] || continue
	grep -v '^[[:space:]]*#' "$f" | grep -q 'USR2' || fail "$f does not send USR2"
	! grep -v '^[[:space:]]*#' "$f" | grep -q 'USR1' || fail "$f sends USR1 (the kill switch)"
done
engine_stop
[[ $ENGINE_RC == 0 ]] || fail "exit status $ENGINE_RC"
fw_remove >/dev/null
log "PASS t_privdrop_logrotate"
