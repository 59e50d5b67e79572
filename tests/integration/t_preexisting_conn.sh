#!/usr/bin/env bash
# t_preexisting_conn.sh - an agent connection that exists before `firewall
# apply` (raw TCP to :9000, IPv4 and IPv6, writing every 50 ms) sends nothing
# more upstream after apply: the upstream never sees a byte written after
# apply returned, and the byte count of the connection stops growing.
# Two rounds: conntrack idle in the namespace before apply (the kernel picks
# the flow up as new on its next packet), and conntrack already tracking it
# as established (a host where something else uses conntrack: Docker, a
# stateful firewall), which rules that only look at new flows would miss.
set -eu
. tests/integration/lib.sh

topo_up
plfw_ready || fail "$PLFW: 'firewall apply' / 'run' not available yet"
upstream_start
make_config
engine_start --config "$PLFW_CONFIG"

# round MODE -- cold|warm
round() {
	local mode=$1 flag=$AGENT_TMP/applied-$1 fam tag addr pid out t_apply late n0 n
	if [[ $mode == warm ]]; then
		in_host nft -f - <<'EOF'
table inet plfw_test_ctwarm {
	chain out { type filter hook output priority 0; policy accept; ct state established counter; }
}
EOF
	fi
	n0=$(upstream_count_conns 9000)
	for fam in 4 6; do
		tag=$mode$fam
		addr=$V4_UP
		[[ $fam == 6 ]] && addr=$V6_UP
		bg_start "$TEST_TMP/stream-$tag.out" as_agent "$PY" "$INTEG_DIR/helpers/agent_load.py" stream \
			--addr "$addr" --port 9000 --tag "$tag" --flag "$flag" --seconds 6
		eval "pid_$fam=\$BG_PID"
	done
	for fam in 4 6; do
		wait_until 10 upstream_saw "pre-$mode$fam-3" ||
			fail "$mode$fam: the agent connection did not reach the upstream before apply"
	done
	n=$(upstream_count_conns 9000)
	((n == n0 + 2)) || fail "$mode: upstream accepted $((n - n0)) connections on :9000, want 2"
	if [[ $mode == warm ]]; then
		in_host conntrack -L 2>/dev/null | grep -q 'dport=9000 .*ESTABLISHED' ||
			in_host nft list table inet plfw_test_ctwarm | grep -q 'packets [1-9]' ||
			fail "warm: conntrack is not tracking the agent's flows"
	fi

	fw_apply --config "$PLFW_CONFIG" || fail "firewall apply failed"
	t_apply=$(date +%s.%N)
	touch "$flag" # from now on the agents write "post-..." lines
	log "$mode: applied; agents now write post-* lines"

	for fam in 4 6; do
		eval "pid=\$pid_$fam"
		wait "$pid" || true
		out=$(cat "$TEST_TMP/stream-$mode$fam.out")
		log "$mode$fam agent: $out"
		[[ $out == *'"connected": true'* ]] || fail "$mode$fam agent did not connect: $out"
		# the agents wrote for up to 6 s after apply unless their socket died first
		! upstream_saw "post-$mode$fam-" || fail "$mode$fam: the upstream received bytes written after apply"
	done
	# and nothing at all later: 0.5 s for bytes sent before apply returned to
	# be logged on a loaded machine (the post-* check above has no slack)
	late=$(upstream_bytes 9000 "$(awk -v t="$t_apply" 'BEGIN { printf "%.6f", t + 0.5 }')")
	((late == 0)) || fail "$mode: upstream received $late bytes on :9000 more than 0.5 s after apply"
	n=$(upstream_count_conns 9000)
	((n == n0 + 2)) || fail "$mode: upstream accepted $((n - n0 - 2)) new connection(s) on :9000 after apply"

	fw_remove || fail "firewall remove failed"
	[[ $mode != warm ]] || in_host nft delete table inet plfw_test_ctwarm
}

round cold
round warm
log "PASS: connections made before apply send nothing upstream after it"
