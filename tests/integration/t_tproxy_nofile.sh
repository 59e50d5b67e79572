#!/usr/bin/env bash
# t_tproxy_nofile.sh - at start the engine makes room for
# firewall.max_conns_total connections (6 descriptors each + 256): started
# with RLIMIT_NOFILE 1024:4096, (1) max_conns_total 500 gets its soft limit
# raised to 3256 under the hard 4096, said on one start-up line; (2) a
# max_conns_total beyond fs.nr_open is capped there and said, and the hard
# limit is raised only if the process may (CAP_SYS_RESOURCE; this machine's
# bounding set may lack it): either way the start-up lines name the limit
# /proc/PID/limits then shows, and the room it leaves.  The systemd unit
# `generate systemd` writes for each config (no CAP_SYS_RESOURCE in it)
# sets LimitNOFILE to what that config needs, at least 65536.
set -eu
. tests/integration/lib.sh

topo_up
need_cmd prlimit

# start_limited MAX_CONNS_TOTAL -- the engine under RLIMIT_NOFILE 1024:4096,
# listening; ENGINE_PID, its stderr in $TEST_TMP/engine-MAX.err.
start_limited() {
	make_config "max_conns_total: $1"
	ERR=$TEST_TMP/engine-$1.err
	ip netns exec "$HOST_NS" prlimit --nofile=1024:4096 -- "$PLFW" run --config "$PLFW_CONFIG" \
		>>"$TEST_TMP/audit.log" 2>"$ERR" </dev/null &
	ENGINE_PID=$!
	wait_until 10 eval "! kill -0 $ENGINE_PID 2>/dev/null || _engine_listening" ||
		fail "engine did not listen: $(cat "$ERR")"
	pid_alive "$ENGINE_PID" || fail "engine exited at start: $(cat "$ERR")"
}
# limits -- "SOFT HARD" RLIMIT_NOFILE of the running engine.
limits() { awk '/^Max open files/ {print $4, $5}' "/proc/$ENGINE_PID/limits"; }

# unit_nofile -- LimitNOFILE of the unit generated for PLFW_CONFIG.
unit_nofile() { "$PLFW" generate systemd --config "$PLFW_CONFIG" 2>/dev/null | sed -n 's/^LimitNOFILE=//p'; }

start_limited 500
[[ $(unit_nofile) == 65536 ]] || fail "unit for max_conns_total 500: LimitNOFILE=$(unit_nofile), want 65536"
got=$(limits)
[[ $got == "3256 4096" ]] || fail "max_conns_total 500: RLIMIT_NOFILE '$got', want '3256 4096'"
grep -q "RLIMIT_NOFILE raised from 1024/4096 to 3256/4096 (soft/hard): room for 500 relayed connections" "$ERR" ||
	fail "no start-up line for the raise: $(cat "$ERR")"
! grep -q "cannot be raised\|fs.nr_open" "$ERR" || fail "a warning although the limit fits: $(cat "$ERR")"
engine_stop

nr_open=$(cat /proc/sys/fs/nr_open)
total=$((nr_open / 6 + 1000))
((total <= 1000000)) || skip "fs.nr_open $nr_open: max_conns_total cannot exceed it"
start_limited "$total"
[[ $(unit_nofile) == $((total * 6 + 256)) ]] ||
	fail "unit for max_conns_total $total: LimitNOFILE=$(unit_nofile), want $((total * 6 + 256))"
read -r soft hard <<<"$(limits)"
grep -q "firewall.max_conns_total $total needs $((total * 6 + 256)) file descriptors, more than fs.nr_open $nr_open allows" "$ERR" ||
	fail "no fs.nr_open warning: $(cat "$ERR")"
if ((hard == nr_open)); then
	# CAP_SYS_RESOURCE: the hard limit too, up to fs.nr_open
	((soft == nr_open)) || fail "hard limit raised to $hard but soft is $soft"
	log "hard limit raised to fs.nr_open ($nr_open)"
else
	((soft == 4096 && hard == 4096)) || fail "RLIMIT_NOFILE '$soft $hard', want '4096 4096'"
	grep -q "RLIMIT_NOFILE hard limit 4096 is below the $nr_open that firewall.max_conns_total $total needs and cannot be raised (Operation not permitted): room for 640 connections" "$ERR" ||
		fail "no warning naming the hard limit and the room it leaves: $(cat "$ERR")"
	log "hard limit not raisable here (no CAP_SYS_RESOURCE): warned, soft raised to the hard 4096"
fi
grep -q "RLIMIT_NOFILE raised from 1024/4096 to $soft/$hard (soft/hard): room for $(((soft - 256) / 6)) relayed connections" "$ERR" ||
	fail "no start-up line naming $soft/$hard: $(cat "$ERR")"
engine_stop
log "PASS t_tproxy_nofile"
