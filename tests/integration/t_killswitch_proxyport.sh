#!/usr/bin/env bash
# t_killswitch_proxyport.sh - without kill_switch.api_listen the kill switch
# API is served on the explicit proxy port (fetch_proxy.listen); even with
# that port open to agents (firewall.loopback_ports) and the right token, an
# agent uid is refused (403, the loopback peer's uid via sock_diag) and
# cannot turn the switch on or off; another local user with the token can.
set -eu
. tests/integration/lib.sh

PROXY_PORT=8888
TOKEN=h17-proxy-token
topo_up
plfw_ready || fail "$PLFW: 'firewall apply' / 'run' not available yet"
upstream_start
make_config "loopback_ports: [$PROXY_PORT]"
sed -i "s/^fetch_proxy:/fetch_proxy:\n  listen: 127.0.0.1:$PROXY_PORT/" "$PLFW_CONFIG"
printf 'kill_switch:\n  api_token: %s\n' "$TOKEN" >>"$PLFW_CONFIG"
"$PLFW" check --config "$PLFW_CONFIG" >/dev/null || fail "config: $("$PLFW" check --config "$PLFW_CONFIG" 2>&1)"
fw_apply --config "$PLFW_CONFIG" >/dev/null || fail "firewall apply failed"
engine_start --config "$PLFW_CONFIG"
wait_until 5 eval "in_host ss -Hltn 'sport = :$PROXY_PORT' | grep -q ." ||
	fail "the explicit proxy port is not listening"

url=http://127.0.0.1:$PROXY_PORT/api/v1/killswitch
post() { # AS ACTIVE
	"$1" curl -sS --max-time 5 -w ' %{http_code}' -X POST -H "Authorization: Bearer $TOKEN" \
		-d "{\"active\": $2}" "$url" 2>&1 || true
}
plain() { as_agent curl -4 -sS --max-time 10 -o /dev/null -w '%{http_code}' "http://allowed.test/$1" 2>&1 || true; }

# the agent reaches the port (loopback_ports) but not the admin operation
out=$(as_agent curl -sS --max-time 5 -w ' %{http_code}' "http://127.0.0.1:$PROXY_PORT/health" 2>&1) || true
[[ $out == *" 200" ]] || fail "the agent cannot reach the proxy port at all (test setup): $out"
out=$(post as_agent true)
[[ $out == *" 403" ]] || fail "agent POST on the proxy port: $out"
[[ $(plain a1) == 200 ]] || fail "the agent's refused POST activated the switch"
out=$(post as_other true)
[[ $out == *'"active":true'*" 200" ]] || fail "uid $OTHER_UID POST: $out"
[[ $(plain a2) == 503 ]] || fail "kill switch via the proxy port did not block"
out=$(post as_agent false)
[[ $out == *" 403" ]] || fail "agent POST off on the proxy port: $out"
[[ $(plain a3) == 503 ]] || fail "the agent turned the kill switch off"
out=$(post as_other false)
[[ $out == *'"active":false'*" 200" ]] || fail "uid $OTHER_UID POST off: $out"
[[ $(plain a4) == 200 ]] || fail "not released"
engine_stop
fw_remove >/dev/null
log "PASS t_killswitch_proxyport"
