# shellcheck shell=bash
# proxy.sh - what the t_proxy_*.sh scenarios share (sourced after lib.sh
# and helpers/http.sh).  The explicit proxy port listens on PROXY (the
# default fetch_proxy.listen, which the firewall's loopback_ports lets the
# agents reach).
#
#   proxy_up FP_ENABLED      topology, upstream, a config with
#                            forward_proxy.enabled: FP_ENABLED, firewall
#                            applied, the engine running, PROXY listening
#                            (PROXY_TRUST_TEST_CA=1: the engine trusts the
#                            test CA through SSL_CERT_FILE; PROXY_EDIT: a
#                            function run after the config is written)
#   up_req_field PATH KEY    a field of the upstream's log line for PATH
#                            ("method", "host", "path", or "headers")
PROXY=127.0.0.1:8888
PROXY_PORT=8888

_proxy_listening() { in_host ss -Hltn "sport = :$PROXY_PORT" | grep -q .; }

proxy_up() {
	topo_up
	plfw_ready || fail "$PLFW: 'firewall apply' / 'run' not available yet"
	upstream_start
	make_config
	cat >>"$PLFW_CONFIG" <<YAML
forward_proxy:
  enabled: $1
  sni_verification: true
YAML
	[[ -z ${PROXY_EDIT:-} ]] || "$PROXY_EDIT"
	fw_apply --config "$PLFW_CONFIG" >/dev/null || fail "firewall apply failed"
	# the engine's TLS client (https /fetch) trusts the test CA only if asked
	if [[ ${PROXY_TRUST_TEST_CA:-0} == 1 ]]; then
		SSL_CERT_FILE=$CA_DIR/ca.pem engine_start --config "$PLFW_CONFIG"
	else
		engine_start --config "$PLFW_CONFIG"
	fi
	wait_until 5 _proxy_listening || fail "no explicit proxy listener on $PROXY"
}

up_req_field() {
	"$PY" - "$UP_LOG" "$1" "$2" <<'PYEOF'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if e.get("ev") == "http" and e.get("path", "").split("?")[0] == sys.argv[2]:
        v = e.get(sys.argv[3])
        print(json.dumps(v, sort_keys=True) if isinstance(v, dict) else v)
        break
PYEOF
}
