#!/usr/bin/env bash
# t_tls_quic.sh - with TLS interception on, QUIC to an intercepted name is
# refused even under `quic: inspect` (HTTP/3 would carry bodies past the
# MITM; clients fall back to TCP), while QUIC to a passthrough domain is
# judged by its SNI as before and completes.  Real client and server
# (ngtcp2's gtlsclient/gtlsserver).
set -eu
. tests/integration/lib.sh
. tests/integration/helpers/nfq.sh
. tests/integration/helpers/tls.sh

topo_up
plfw_ready || skip "pipelock-fw firewall/run not built"
need_cmd gtlsclient gtlsserver nft

bg_start "$TEST_TMP/quic-server.log" ip netns exec "$NET_NS" gtlsserver \
	'*' 443 "$CA_DIR/server.key" "$CA_DIR/server.pem"
wait_until 10 eval "in_net ss -Hlun 'sport = :443' | grep -q ." || fail "gtlsserver did not start"

# quic SNI -- handshake as the agent; sets Q (done|refused|timeout)
quic() {
	local rc=0
	as_agent timeout 6 gtlsclient --timeout=4s --handshake-timeout=4s \
		--exit-on-all-streams-close "$1" 443 "https://$1/" \
		>"$TEST_TMP/quic-client.log" 2>&1 || rc=$?
	if grep -qi 'handshake has completed\|handshake completed' "$TEST_TMP/quic-client.log"; then
		Q=done
	else
		Q=refused
	fi
	log "quic $1: $Q (rc $rc)"
}

make_config "quic: inspect"
tls_config
in_host "$PLFW" firewall apply --config "$PLFW_CONFIG" --nfqueue 2>"$TEST_TMP/apply.err" ||
	fail "apply --nfqueue: $(cat "$TEST_TMP/apply.err")"
engine_start --config "$PLFW_CONFIG" -v
wait_until 5 grep -q 'nfq [0-9]*: queue bound' "$TEST_TMP/engine.err" ||
	skip "the engine does not start NFQUEUE workers yet"

quic allowed.test
[[ $Q != done ]] || fail "QUIC to an intercepted name completed"
wait_until 5 grep -q '"event":"quic".*"verdict":"block".*intercepted name' "$TEST_TMP/audit.log" ||
	fail "no quic block line naming interception: $(grep quic "$TEST_TMP/audit.log")"
quic other.test
[[ $Q == done ]] || fail "QUIC to a passthrough domain: $Q, want a completed handshake"
pid_alive "$ENGINE_PID" || fail "engine died"
log "PASS t_tls_quic"
