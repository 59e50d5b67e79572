# shellcheck shell=bash
# tproxy.sh - the setup the t_tproxy_*.sh scenarios share (sourced after
# lib.sh).
#
#   tproxy_up [FIREWALL_LINE]...   topology, upstream servers, a config
#                                  (make_config with the lines given; then
#                                  the function named by TPROXY_EDIT, if
#                                  set, may edit $PLFW_CONFIG), the
#                                  firewall applied, the engine running
tproxy_up() {
	topo_up
	plfw_ready || fail "$PLFW: 'firewall apply' / 'run' not available yet"
	upstream_start
	make_config "$@"
	[[ -z ${TPROXY_EDIT:-} ]] || "$TPROXY_EDIT"
	fw_apply --config "$PLFW_CONFIG" >/dev/null || fail "firewall apply failed"
	engine_start --config "$PLFW_CONFIG"
}
