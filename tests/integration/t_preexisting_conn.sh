#!/usr/bin/env bash
# t_preexisting_conn.sh - an agent connection that exists before `firewall
# apply` (raw TCP to :9000, IPv4 and IPv6, writing every 50 ms) sends nothing
# more upstream after apply: the upstream never sees a byte written after
# apply returned, and its byte count for the connection stops growing.
set -eu
. tests/integration/lib.sh

topo_up
plfw_ready || fail "$PLFW: 'firewall apply' / 'run' not available yet"
upstream_start
make_config
engine_start --config "$PLFW_CONFIG"

flag=$AGENT_TMP/applied
for tag in v4 v6; do
	addr=$V4_UP
	[[ $tag == v6 ]] && addr=$V6_UP
	bg_start "$TEST_TMP/stream-$tag.out" as_agent "$PY" "$INTEG_DIR/helpers/agent_load.py" stream \
		--addr "$addr" --port 9000 --tag "$tag" --flag "$flag" --seconds 8
	eval "pid_$tag=\$BG_PID"
done
for tag in v4 v6; do
	wait_until 10 upstream_saw "pre-$tag-3" || fail "the $tag agent connection did not reach the upstream before apply"
done
((n = $(upstream_count_conns 9000))) && ((n == 2)) || fail "upstream accepted $n connections on :9000, want 2"

fw_apply --config "$PLFW_CONFIG" || fail "firewall apply failed"
t_apply=$(date +%s.%N)
touch "$flag"	# from now on the agents write "post-..." lines
log "applied; agents now write post-* lines"

for tag in v4 v6; do
	eval "pid=\$pid_$tag"
	wait "$pid" || true
	out=$(cat "$TEST_TMP/stream-$tag.out")
	log "$tag agent: $out"
	[[ $out == *'"connected": true'* ]] || fail "$tag agent did not connect: $out"
done
# the agents wrote for up to 8 s after apply unless their socket died first
for tag in v4 v6; do
	! upstream_saw "post-$tag-" || fail "$tag: the upstream received bytes written after apply"
done
# 100 ms for bytes already in flight when apply returned to be logged
late=$(upstream_bytes 9000 "$(awk -v t="$t_apply" 'BEGIN { printf "%.6f", t + 0.1 }')")
((late == 0)) || fail "upstream received $late bytes on :9000 more than 100 ms after apply"
((n = $(upstream_count_conns 9000))) && ((n == 2)) || fail "upstream accepted $n connections on :9000 after apply, want 2"
log "PASS: connections made before apply send nothing upstream after it"
