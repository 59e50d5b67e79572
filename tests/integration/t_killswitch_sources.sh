#!/usr/bin/env bash
# t_killswitch_sources.sh - the kill switch through each of its four
# sources: config (kill_switch.enabled, released by a SIGHUP reload),
# SIGUSR1 (toggle), the sentinel file (create / delete) and the API on
# kill_switch.api_listen (401 without the bearer token).  While active, a new
# agent connection is refused with reason kill_switch (HTTP: 503 with
# pipelock's JSON, TLS: an alert), /health still answers and reports it,
# the agent uid cannot reach the API port (rejected by the firewall even
# though it is in loopback_ports); released, traffic flows again.
set -eu
. tests/integration/lib.sh

API_PORT=9911
MON_PORT=9912
TOKEN=h17-test-token

topo_up
plfw_ready || fail "$PLFW: 'firewall apply' / 'run' not available yet"
upstream_start
make_config "loopback_ports: [$API_PORT]"
SENTINEL=$TEST_TMP/ks/stop
mkdir -p "$TEST_TMP/ks"
cat >>"$PLFW_CONFIG" <<EOF
metrics_listen: 127.0.0.1:$MON_PORT
kill_switch:
  enabled: true
  sentinel_file: $SENTINEL
  api_listen: 127.0.0.1:$API_PORT
  api_token: $TOKEN
  message: "h17 says stop"
EOF

http_code() { # URL-PATH -> "CODE BODY" of a plain HTTP request as the agent
	as_agent curl -4 -sS --max-time 10 -w ' %{http_code}' "http://allowed.test/$1" 2>&1 || true
}
https_get() { as_agent curl -4 -sS --max-time 10 --cacert "$CA_DIR/ca.pem" "https://allowed.test/$1" 2>&1; }
api() { in_host curl -sS --max-time 5 -w ' %{http_code}' "$@" 2>&1 || true; }

blocked_check() { # SOURCE: new connections refused with kill_switch
	local out rc=0 n
	n=$(grep -c '"reason":"kill_switch"' "$TEST_TMP/audit.log" || true)
	out=$(http_code "ks-$1")
	[[ $out == *'"error":"kill_switch_active"'*'"message":"h17 says stop"'*' 503' ]] ||
		fail "$1: HTTP while active: '$out'"
	out=$(https_get "ks-tls-$1") || rc=$?
	((rc != 0)) || fail "$1: HTTPS allowed while the kill switch is active: $out"
	[[ $out == *"alert"* ]] || fail "$1: HTTPS while active: $out"
	! upstream_saw "/ks-" || fail "$1: a request reached upstream while the switch was on"
	wait_until 5 eval "(( \$(grep -c '\"reason\":\"kill_switch\"' \"$TEST_TMP/audit.log\") >= n + 2 ))" ||
		fail "$1: no audit lines with reason kill_switch"
	out=$(in_host curl -sS --max-time 5 "http://127.0.0.1:$MON_PORT/health") || fail "$1: /health: $out"
	[[ $out == *'"kill_switch_active":true'*'"firewall_installed":true'* ]] ||
		fail "$1: /health does not report the kill switch: $out"
}
released_check() { # SOURCE
	local out
	out=$(http_code "free-$1")
	[[ $out == *" 200" ]] || fail "$1 released: HTTP: '$out'"
	out=$(https_get "free-tls-$1") || fail "$1 released: HTTPS: $out"
	[[ $out == "ok GET /free-tls-$1" ]] || fail "$1 released: HTTPS: $out"
}

fw_apply --config "$PLFW_CONFIG" >/dev/null || fail "firewall apply failed"
engine_start --config "$PLFW_CONFIG"
wait_until 5 eval "in_host ss -Hltn 'sport = :$API_PORT' | grep -q ." || fail "API not listening"

# 1. config
blocked_check config
sed -i 's/^  enabled: true/  enabled: false/' "$PLFW_CONFIG"
kill -HUP "$ENGINE_PID"
wait_until 5 grep -q '"event":"config_reload","verdict":"ok"' "$TEST_TMP/audit.log" || fail "no reload"
released_check config

# 2. SIGUSR1 toggles
kill -USR1 "$ENGINE_PID"
wait_until 5 eval "[[ \$(http_code wait-usr1) == *' 503' ]]" || fail "SIGUSR1 did not activate the switch"
blocked_check signal
kill -USR1 "$ENGINE_PID"
wait_until 5 eval "[[ \$(http_code wait-usr1-off) == *' 200' ]]" || fail "second SIGUSR1 did not release"
released_check signal

# 3. sentinel file
touch "$SENTINEL"
wait_until 5 eval "[[ \$(http_code wait-sentinel) == *' 503' ]]" || fail "sentinel did not activate the switch"
blocked_check sentinel
rm -f "$SENTINEL"
wait_until 5 eval "[[ \$(http_code wait-sentinel-off) == *' 200' ]]" || fail "sentinel removal did not release"
released_check sentinel

# 4. API: 401 without / with a wrong token, then on and off with it
url=http://127.0.0.1:$API_PORT/api/v1/killswitch
out=$(api -X POST -d '{"active": true}' "$url")
[[ $out == *" 401" ]] || fail "API without token: $out"
out=$(api -X POST -H "Authorization: Bearer wrong" -d '{"active": true}' "$url")
[[ $out == *" 401" ]] || fail "API with a wrong token: $out"
[[ $(http_code after-401) == *" 200" ]] || fail "a refused API call changed the switch"
out=$(api -X POST -H "Authorization: Bearer $TOKEN" -d '{"active": true}' "$url")
[[ $out == *'"active":true'*" 200" ]] || fail "API on: $out"
blocked_check api
out=$(api -H "Authorization: Bearer $TOKEN" "$url/status")
[[ $out == *'"api":true'* ]] || fail "API status: $out"
# the api source survives a reload
n=$(grep -c '"event":"config_reload","verdict":"ok"' "$TEST_TMP/audit.log")
kill -HUP "$ENGINE_PID"
wait_until 5 eval "(( \$(grep -c '\"event\":\"config_reload\",\"verdict\":\"ok\"' \"$TEST_TMP/audit.log\") > n ))" ||
	fail "second reload"
[[ $(http_code after-reload) == *" 503" ]] || fail "the API's kill switch did not survive a reload"

# the agent can reach neither the API port (firewall) nor turn it off
rc=0
out=$(as_agent curl -sS --max-time 5 -X POST -H "Authorization: Bearer $TOKEN" \
	-d '{"active": false}' "$url" 2>&1) || rc=$?
((rc != 0)) || fail "the agent reached the kill switch API: $out"
in_host nft list chain inet pipelock agent | grep -q 'dport 9911.*killswitch-api' ||
	fail "no killswitch-api rule in the agent chain"
[[ $(http_code still-on) == *" 503" ]] || fail "agent's API call released the switch"
# a non-agent local user may (it has the token)
out=$(as_other curl -sS --max-time 5 -w ' %{http_code}' -X POST -H "Authorization: Bearer $TOKEN" \
	-d '{"active": false}' "$url" 2>&1) || true
[[ $out == *'"active":false'*" 200" ]] || fail "API off (uid $OTHER_UID): $out"
released_check api

# metrics: the denials were counted
out=$(in_host curl -sS --max-time 5 "http://127.0.0.1:$MON_PORT/metrics") || fail "/metrics: $out"
grep -q '^pipelock_kill_switch_denials_total{.*} [1-9]' <<<"$out" || fail "no kill switch denials counted"
grep -q '^pipelock_config_reloads_total{result="success"} 2$' <<<"$out" || fail "reloads not counted"
pid_alive "$ENGINE_PID" || fail "engine died"
engine_stop
[[ $ENGINE_RC == 0 ]] || fail "engine exit status $ENGINE_RC"
fw_remove >/dev/null
log "PASS t_killswitch_sources"
