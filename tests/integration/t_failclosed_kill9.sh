#!/usr/bin/env bash
# t_failclosed_kill9.sh - kill -9 the engine: the agent's TCP (HTTP, HTTPS,
# raw; IPv4 and IPv6) is refused in < 1 s and the upstream accepts nothing;
# the non-agent uid is untouched; a restarted engine relays again.
set -eu
. tests/integration/lib.sh
. tests/integration/helpers/failclosed.sh

topo_up
failclosed_run engine_kill9
