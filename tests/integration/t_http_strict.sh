#!/usr/bin/env bash
# t_http_strict.sh - strict mode: every request's Host must resolve to the
# address the agent dialled (the engine resolves it itself, off the event
# loop).  Host: allowed.test to its own address passes (IPv4, IPv6); Host:
# spoof.test (allow-listed, but resolving to the other server) sent to
# allowed.test's address is refused with 403 host_mismatch, also as the
# second request of a keep-alive connection whose first request passed; the
# upstream sees nothing of the refused requests.  A name that does not
# resolve, or whose lookup outlives connect_timeout_seconds, is refused.
set -eu
. tests/integration/lib.sh
. tests/integration/helpers/tproxy.sh
. tests/integration/helpers/http.sh

strict_mode() {
	sed -i 's/^mode: balanced$/mode: strict\napi_allowlist: ["allowed.test", "spoof.test"]/' "$PLFW_CONFIG"
	grep -q '^mode: strict' "$PLFW_CONFIG" || fail "config edit failed"
}
TPROXY_EDIT=strict_mode tproxy_up "connect_timeout_seconds: 1"

for fam in -4 -6; do
	out=$(as_agent curl "$fam" -sS --max-time 10 "http://allowed.test/st-ok$fam" 2>&1) ||
		fail "honest allowed.test ($fam): $out"
	[[ $out == "ok GET /st-ok$fam" ]] || fail "honest allowed.test ($fam): got '$out'"
done

# spoof.test is allow-listed but is not the address dialled
for a in "$V4_UP" "[$V6_UP]"; do
	out=$(as_agent curl -sS --max-time 10 -H 'Host: spoof.test' "http://$a/st-spoof" 2>&1) || true
	[[ $out == "blocked by pipelock-fw: Host header spoof.test does not resolve to the destination"* ]] ||
		fail "Host: spoof.test to $a: '$out'"
done
# the same Host to its own address is fine
out=$(as_agent curl -4 -sS --max-time 10 "http://spoof.test/st-spoof-own" 2>&1) || fail "spoof.test to its address: $out"
[[ $out == "ok GET /st-spoof-own" ]] || fail "spoof.test to its address: '$out'"

# keep-alive: the first request passes, the second names another host
a=$(req k1 'GET /st-ka-one HTTP/1.1\r\nHost: allowed.test\r\n\r\n')
b=$(req k2 'GET /st-ka-two HTTP/1.1\r\nHost: spoof.test\r\n\r\n')
out=$(hc seq "$V4_UP" "$a" "$b")
[[ $out == $'STATUS 200 ok GET /st-ka-one\nSTATUS 403 blocked by pipelock-fw: Host header spoof.test'* ]] ||
	fail "keep-alive allowed.test then spoof.test: '$out'"
# a name that does not resolve at all
c=$(req k3 'GET /st-nores HTTP/1.1\r\nHost: allowed.test\r\n\r\n')
d=$(req k4 'GET /st-nores-two HTTP/1.1\r\nHost: nowhere.allowed.test\r\n\r\n')
sed -i 's/^api_allowlist: .*/api_allowlist: ["allowed.test", "spoof.test", "*.allowed.test"]/' "$PLFW_CONFIG"
kill -HUP "$ENGINE_PID"
wait_until 10 grep -q '"config_reload","verdict":"ok"' "$TEST_TMP/audit.log" || fail "the engine did not reload"
out=$(hc seq "$V4_UP" "$c" "$d")
[[ $out == $'STATUS 200 ok GET /st-nores\nSTATUS 403 '* ]] || fail "keep-alive, unresolvable Host: '$out'"

# a lookup that does not come back within connect_timeout_seconds: the
# engine's resolver now asks a silent server (a UDP blackhole) and waits
# 5 s; the request is refused after ~1 s, the loop never blocked
printf 'nameserver %s\noptions timeout:5 attempts:1\n' "$V4_UP" >"/etc/netns/$HOST_NS/resolv.conf"
in_net nft add table inet h10blackhole
in_net nft add chain inet h10blackhole in '{ type filter hook input priority 0; policy accept; }'
in_net nft add rule inet h10blackhole in udp dport 53 drop
e=$(req k5 'GET /st-slow HTTP/1.1\r\nHost: slow.allowed.test\r\n\r\n')
t0=$(date +%s%N)
out=$(hc send "$V4_UP" "$e" --timeout 8)
t1=$(( ($(date +%s%N) - t0) / 1000000 ))
[[ $out == "STATUS 403 blocked by pipelock-fw: Host header slow.allowed.test could not be verified"* ]] ||
	fail "Host lookup timing out: '$out'"
((t1 < 4000)) || fail "Host lookup timeout took $t1 ms (connect_timeout_seconds: 1)"
# meanwhile the engine still serves others (cached name)
out=$(as_agent curl -4 -sS --max-time 5 "http://allowed.test/st-during" 2>&1) || fail "during a slow lookup: $out"
[[ $out == "ok GET /st-during" ]] || fail "during a slow lookup: '$out'"

[[ $(up_requests /st-spoof) == 1 ]] || fail "a spoofed request reached an upstream"	# only st-spoof-own
[[ $(up_requests /st-ka-two) == 0 ]] || fail "the spoofed keep-alive request reached the upstream"
[[ $(up_requests /st-nores-two) == 0 ]] || fail "the unresolvable Host reached the upstream"
[[ $(up_requests /st-slow) == 0 ]] || fail "the unverified Host reached the upstream"
wait_until 5 audit_has '"event":"http"' '"verdict":"block"' '"scanner":"host_mismatch"' '"host":"spoof.test"' ||
	fail "no host_mismatch audit line"
log "PASS t_http_strict"
