#!/usr/bin/env bash
# bench_tls.sh - HTTPS through the engine with TLS interception, against
# passthrough (SNI policy + splice) and direct (a uid that is not an agent),
# in the integration tests' topology (tests/integration/lib.sh), with wrk
# as the client and upstream.py's TLS server:
#   requests/s   keep-alive, BENCH_TLS_CONNS connections
#   handshakes/s "Connection: close": one TLS handshake (two when
#                intercepted: client side and upstream side) per request
# Each run lasts BENCH_TLS_SECONDS.  The upstream (python, one thread per
# connection) bounds all three; the ratios are what matters.  Prints one
# line per mode.  Exit 0 measured, 77 skipped (not root, no wrk), 1 failed.
#
#   sudo PIPELOCK_FW=$PWD/build/pipelock-fw tests/bench/bench_tls.sh
set -eu
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
. tests/integration/helpers/tproxy.sh
. tests/integration/helpers/tls.sh

SECS=${BENCH_TLS_SECONDS:-5}
CONNS=${BENCH_TLS_CONNS:-8}

[[ $(id -u) -eq 0 ]] || skip "needs root"
command -v wrk >/dev/null 2>&1 || skip "no wrk (scripts/deps.sh)"

TPROXY_EDIT=tls_config tproxy_up

# rate UID URL [WRK ARGS] -- wrk's Requests/sec
rate() {
	local uid=$1 url=$2 out
	shift 2
	out=$(as_uid "$uid" wrk -t1 -c"$CONNS" -d"${SECS}s" "$@" "$url" 2>&1) || fail "wrk: $out"
	grep -q "Non-2xx" <<<"$out" && fail "wrk saw errors: $out"
	awk '/Requests\/sec/ {printf "%d", $2}' <<<"$out"
}

for mode in intercept passthrough direct; do
	case $mode in
	intercept) uid=$AGENT_UID url="https://allowed.test/bench" ;;
	passthrough) uid=$AGENT_UID url="https://other.test/bench" ;;
	direct) uid=$OTHER_UID url="https://allowed.test/bench" ;;
	esac
	rps=$(rate "$uid" "$url")
	hps=$(rate "$uid" "$url" -H "Connection: close")
	printf 'bench_tls: %-11s %6s requests/s keep-alive, %6s handshakes/s (%d conns, %ds)\n' \
		"$mode" "$rps" "$hps" "$CONNS" "$SECS"
done
# the intercepted runs really went through the interception
grep -q '"url":"https://allowed.test/bench"' "$TEST_TMP/audit.log" || fail "no intercepted request in the audit log"
pid_alive "$ENGINE_PID" || fail "engine died"
