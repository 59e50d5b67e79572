#!/usr/bin/env bash
# t_failclosed_sigterm.sh - a systemctl-style stop (SIGTERM) of the engine
# leaves the rules in place: the agent's TCP is refused in < 1 s, the
# upstream accepts nothing; a restarted engine relays again.
set -eu
. tests/integration/lib.sh
. tests/integration/helpers/failclosed.sh

topo_up
failclosed_run engine_stop
[[ $STOP_RC == 0 ]] || fail "engine exit status after SIGTERM was $STOP_RC, want 0"
