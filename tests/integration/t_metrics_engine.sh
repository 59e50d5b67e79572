#!/usr/bin/env bash
# t_metrics_engine.sh - metrics_listen serves /metrics and /health from
# `run`; the text passes a strict Prometheus 0.0.4 check, and the counters
# move with real agent traffic: allowed and blocked TLS connections
# (requests, blocks by reason, scanner hits, SNI, tunnels, bytes, duration
# histograms), a DLP finding in an SNI, refused agent UDP (NFQUEUE
# verdicts), the open-connection gauge back to 0, the firewall being
# restored by the watcher, and the kill switch gauge per source.
set -eu
. tests/integration/lib.sh
. tests/integration/helpers/nfq.sh

MON_PORT=9914
topo_up
plfw_ready || fail "$PLFW: 'firewall apply' / 'run' not available yet"
upstream_start
make_config
printf 'metrics_listen: 127.0.0.1:%s\n' "$MON_PORT" >>"$PLFW_CONFIG"
engine_start --config "$PLFW_CONFIG" --apply --remove-on-exit
wait_until 5 grep -q 'nfq [0-9]*: queue bound' "$TEST_TMP/engine.err" || fail "no NFQUEUE worker bound"

scrape() { in_host curl -sS --max-time 5 "http://127.0.0.1:$MON_PORT/metrics" >"$TEST_TMP/metrics.txt"; }
# val SERIES -- the value of one sample (0 when absent)
val() { awk -v s="$1" 'index($0, s " ") == 1 {print $NF; f=1} END {if (!f) print 0}' "$TEST_TMP/metrics.txt"; }
check() { "$PY" "$INTEG_DIR/helpers/promcheck.py" "$@" "$TEST_TMP/metrics.txt" >/dev/null ||
	fail "promcheck: $("$PY" "$INTEG_DIR/helpers/promcheck.py" "$@" "$TEST_TMP/metrics.txt" 2>&1 | tail -3)"; }

scrape || fail "/metrics"
check --require pipelock_requests_total --require pipelock_connections_open \
	--require pipelock_kill_switch_active --require pipelock_nfqueue_verdicts_total
a0=$(val 'pipelock_requests_total{result="allowed",agent="1000"}')
out=$(in_host curl -sS --max-time 5 "http://127.0.0.1:$MON_PORT/health") || fail "/health: $out"
[[ $out == *'"status":"healthy"'*'"kill_switch_active":false'*'"firewall_installed":true'* ]] ||
	fail "/health: $out"

# traffic: 3 allowed, 2 blocked by the blocklist, 1 DLP hit in an SNI, UDP refused
for i in 1 2 3; do
	as_agent curl -4 -sS --max-time 10 --cacert "$CA_DIR/ca.pem" "https://allowed.test/big?n=100000" -o /dev/null ||
		fail "allowed request $i"
done
for i in 1 2; do
	! as_agent curl -4 -sS --max-time 10 --cacert "$CA_DIR/ca.pem" https://blocked.test/ -o /dev/null 2>/dev/null ||
		fail "blocked.test allowed"
done
! as_agent curl -4 -sS --max-time 10 -k --resolve "AKIAIOSFODNN7EXAMPLE.allowed.test:443:$V4_UP" \
	https://AKIAIOSFODNN7EXAMPLE.allowed.test/ -o /dev/null 2>/dev/null || fail "key in SNI allowed"
# plain HTTP: a key in a header and in a body, refused by the inspector
SECRET="sk-ant-api03-$(printf 'Xk9Qz7Lm2Rt5Vw8Yb3Nc6Hd1Jf4Gs0Pa7Eq2Ui9Oy')"
c=$(as_agent curl -4 -sS --max-time 10 -o /dev/null -w '%{http_code}' -H "X-Token: $SECRET" \
	http://allowed.test/hdr 2>&1) || true
[[ $c == 403 ]] || fail "header with a key: $c"
c=$(as_agent curl -4 -sS --max-time 10 -o /dev/null -w '%{http_code}' -H 'Content-Type: text/plain' \
	--data "key=$SECRET" http://allowed.test/body 2>&1) || true
[[ $c == 403 ]] || fail "body with a key: $c"
r=$(nfq_udp_try "$AGENT_UID" "$V4_UP" 9000)
[[ $r != reply ]] || fail "agent UDP to 9000 was not refused"

wait_until 5 eval "scrape && [[ \$(val pipelock_connections_open) == 0 ]]" ||
	fail "connections_open stays $(val pipelock_connections_open)"
check --value 'pipelock_active_tunnels=0'
(($(val 'pipelock_requests_total{result="allowed",agent="1000"}') == a0 + 3)) ||
	fail "allowed requests: $(grep '^pipelock_requests_total' "$TEST_TMP/metrics.txt")"
(($(val 'pipelock_requests_total{result="blocked",agent="1000"}') >= 3)) ||
	fail "blocked requests: $(grep '^pipelock_requests_total' "$TEST_TMP/metrics.txt")"
(($(val 'pipelock_header_dlp_hits_total{action="block",agent="1000"}') == 1)) ||
	fail "header DLP: $(grep '_dlp_' "$TEST_TMP/metrics.txt" | grep -v '^#')"
(($(val 'pipelock_body_dlp_hits_total{action="block",agent="1000"}') == 1)) ||
	fail "body DLP: $(grep '_dlp_' "$TEST_TMP/metrics.txt" | grep -v '^#')"
(($(val 'pipelock_blocks_total{reason="blocklist",transport="tls"}') == 2)) ||
	fail "blocks: $(grep '^pipelock_blocks_total' "$TEST_TMP/metrics.txt")"
(($(val 'pipelock_scanner_hits_total{scanner="blocklist",agent="1000"}') == 2)) ||
	fail "scanner hits: $(grep '^pipelock_scanner_hits' "$TEST_TMP/metrics.txt")"
grep -q '^pipelock_dlp_findings_total{pattern="AWS Access ID",severity="[a-z]*"} 1$' "$TEST_TMP/metrics.txt" ||
	fail "DLP findings: $(grep '^pipelock_dlp_findings' "$TEST_TMP/metrics.txt")"
(($(val 'pipelock_tunnels_total{result="completed",agent="1000"}') >= 3)) ||
	fail "tunnels: $(grep '^pipelock_tunnels_total' "$TEST_TMP/metrics.txt")"
(($(val 'pipelock_bytes_total{direction="down"}') >= 300000)) ||
	fail "bytes down: $(grep '^pipelock_bytes_total' "$TEST_TMP/metrics.txt")"
(($(val 'pipelock_sni_total{category="allowed",agent="1000"}') >= 3)) ||
	fail "SNI: $(grep '^pipelock_sni_total' "$TEST_TMP/metrics.txt")"
(($(val 'pipelock_request_duration_seconds_count') >= 6)) || fail "duration histogram"
(($(val 'pipelock_nfqueue_verdicts_total{verdict="reject"}') >= 1)) ||
	fail "nfq verdicts: $(grep '^pipelock_nfqueue' "$TEST_TMP/metrics.txt")"

# the watcher restores a deleted table: counted
in_host nft delete table inet pipelock
wait_until 10 eval "in_host nft list table inet pipelock >/dev/null 2>&1" || fail "table not restored"
wait_until 5 eval "scrape && (( \$(val pipelock_firewall_restores_total) >= 1 ))" || fail "restore not counted"

# kill switch gauge per source
kill -USR1 "$ENGINE_PID"
wait_until 5 eval "scrape && [[ \$(val 'pipelock_kill_switch_active{source=\"signal\"}') == 1 ]]" ||
	fail "kill switch gauge: $(grep '^pipelock_kill_switch_active' "$TEST_TMP/metrics.txt")"
! as_agent curl -4 -sS --max-time 10 http://allowed.test/ks -o /dev/null 2>/dev/null || true
scrape
(($(val 'pipelock_kill_switch_denials_total{transport="http",endpoint="transparent"}') == 1)) ||
	fail "denials: $(grep '^pipelock_kill_switch_denials' "$TEST_TMP/metrics.txt")"
kill -USR1 "$ENGINE_PID"
wait_until 5 eval "scrape && [[ \$(val 'pipelock_kill_switch_active{source=\"signal\"}') == 0 ]]" ||
	fail "kill switch gauge after release"
check
engine_stop
[[ $ENGINE_RC == 0 ]] || fail "exit status $ENGINE_RC"
log "PASS t_metrics_engine"
