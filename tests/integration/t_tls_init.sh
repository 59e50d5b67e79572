#!/usr/bin/env bash
# t_tls_init.sh - `pipelock-fw tls init` and `tls install-ca --root`: the CA
# files and modes, refusal to overwrite without --force, the certificate's
# extensions (openssl x509), install-ca into a staging root (the host trust
# store is never touched) with the runtime environment variables, and an
# engine config pointing at a CA key readable by others is refused.
set -eu
. tests/integration/lib.sh
need_cmd openssl update-ca-certificates

T=$(mktemp -d /tmp/.plfw-tls.XXXXXX)
trap 'rm -rf "$T"' EXIT
D=$T/tls

"$PLFW" tls init --out "$D" >"$T/init.out" 2>&1 || fail "tls init: $(cat "$T/init.out")"
[[ $(stat -c %a "$D/ca-key.pem") == 600 ]] || fail "key mode $(stat -c %a "$D/ca-key.pem"), want 600"
[[ $(stat -c %a "$D/ca.pem") == 644 ]] || fail "cert mode $(stat -c %a "$D/ca.pem"), want 644"
sum=$(sha256sum <"$D/ca-key.pem")
rc=0
"$PLFW" tls init --out "$D" >"$T/init2.out" 2>&1 || rc=$?
((rc != 0)) || fail "second tls init succeeded"
grep -q -- "--force" "$T/init2.out" || fail "second init does not mention --force: $(cat "$T/init2.out")"
[[ $(sha256sum <"$D/ca-key.pem") == "$sum" ]] || fail "the key changed without --force"
"$PLFW" tls init --out "$D" --force >/dev/null 2>&1 || fail "tls init --force"
[[ $(sha256sum <"$D/ca-key.pem") != "$sum" ]] || fail "--force kept the old key"
[[ $(stat -c %a "$D/ca-key.pem") == 600 ]] || fail "key mode after --force $(stat -c %a "$D/ca-key.pem")"

txt=$(openssl x509 -in "$D/ca.pem" -noout -text)
grep -q "ASN1 OID: prime256v1" <<<"$txt" || fail "CA key is not P-256"
grep -A1 "Basic Constraints: critical" <<<"$txt" | grep -q "CA:TRUE" || fail "basicConstraints"
grep -A1 "Key Usage: critical" <<<"$txt" | grep -q "Certificate Sign, CRL Sign" || fail "keyUsage"
openssl x509 -in "$D/ca.pem" -noout -checkend $((9 * 365 * 86400)) >/dev/null || fail "CA valid < 9 years"
openssl pkey -in "$D/ca-key.pem" -noout 2>/dev/null || fail "key does not parse"

# strict mode: the CA is name-constrained to api_allowlist
printf 'version: 1\nmode: strict\napi_allowlist: ["allowed.test", "*.example.com"]\n' >"$T/strict.yaml"
"$PLFW" tls init --out "$T/nc" --config "$T/strict.yaml" >"$T/nc.out" 2>&1 || fail "tls init --config: $(cat "$T/nc.out")"
nc=$(openssl x509 -in "$T/nc/ca.pem" -noout -ext nameConstraints 2>&1)
grep -q "critical" <<<"$nc" && grep -q "DNS:allowed.test" <<<"$nc" && grep -q "DNS:example.com" <<<"$nc" ||
	fail "name constraints: $nc"
"$PLFW" tls init --out "$T/nc2" --config "$D/../nonexistent.yaml" >/dev/null 2>&1 && fail "tls init with a missing config succeeded"

R=$T/root
"$PLFW" tls install-ca --ca "$D/ca.pem" --root "$R" >"$T/env.out" 2>"$T/install.err" ||
	fail "install-ca: $(cat "$T/install.err")"
cmp -s <(openssl x509 -in "$D/ca.pem") <(openssl x509 -in "$R/usr/local/share/ca-certificates/pipelock-fw.crt") ||
	fail "installed certificate differs"
grep -q "$(openssl x509 -in "$D/ca.pem" | sed -n 2p)" "$R/etc/ssl/certs/ca-certificates.crt" ||
	fail "CA not in the staged bundle"
for v in NODE_EXTRA_CA_CERTS REQUESTS_CA_BUNDLE SSL_CERT_FILE CURL_CA_BUNDLE GIT_SSL_CAINFO; do
	grep -q "^export $v=$R/" "$T/env.out" || fail "no $v in: $(cat "$T/env.out")"
done
# a leaf signed by the CA verifies against the staged bundle alone
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=x \
	-CA "$D/ca.pem" -CAkey "$D/ca-key.pem" -keyout "$T/l.key" -out "$T/l.pem" -days 1 2>/dev/null ||
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=x \
		-keyout "$T/l.key" -out "$T/l.csr" 2>/dev/null
if [[ ! -s $T/l.pem ]]; then
	openssl x509 -req -in "$T/l.csr" -CA "$D/ca.pem" -CAkey "$D/ca-key.pem" -CAcreateserial \
		-out "$T/l.pem" -days 1 2>/dev/null || fail "signing a test leaf"
fi
openssl verify -CAfile "$R/etc/ssl/certs/ca-certificates.crt" "$T/l.pem" >/dev/null ||
	fail "leaf does not verify against the staged bundle"

# the engine's config check refuses a CA key others can read
chmod 0644 "$D/ca-key.pem"
printf 'version: 1\ntls_interception:\n  enabled: true\n  ca_cert: %s\n  ca_key: %s\n' \
	"$D/ca.pem" "$D/ca-key.pem" >"$T/cfg.yaml"
rc=0
"$PLFW" check --config "$T/cfg.yaml" >"$T/check.out" 2>&1 || rc=$?
((rc == 2)) || fail "check with a 0644 CA key: rc $rc: $(cat "$T/check.out")"
chmod 0600 "$D/ca-key.pem"
"$PLFW" check --config "$T/cfg.yaml" >"$T/check.out" 2>&1 || fail "check: $(cat "$T/check.out")"
log "PASS t_tls_init"
