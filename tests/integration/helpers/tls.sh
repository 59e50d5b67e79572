# shellcheck shell=bash
# tls.sh - TLS interception setup shared by t_tls_*.sh and bench_tls.sh
# (sourced after lib.sh).
#
#   tls_config [LINE]...   `pipelock-fw tls init` into $TEST_TMP/tls (MITM_CA
#                          = its certificate) and a tls_interception section
#                          appended to $PLFW_CONFIG: upstreams verified
#                          through the test CA (upstream_ca_file), other.test
#                          passthrough; each LINE is one more key, e.g.
#                          "cert_ttl: 1h"
tls_config() {
	local l
	MITM_CA=$TEST_TMP/tls/ca.pem
	"$PLFW" tls init --out "$TEST_TMP/tls" >/dev/null || fail "tls init"
	cat >>"$PLFW_CONFIG" <<EOT
tls_interception:
  enabled: true
  ca_cert: $TEST_TMP/tls/ca.pem
  ca_key: $TEST_TMP/tls/ca-key.pem
  upstream_ca_file: $CA_DIR/ca.pem
  passthrough_domains: ["other.test"]
EOT
	for l in "$@"; do printf '  %s\n' "$l" >>"$PLFW_CONFIG"; done
}
