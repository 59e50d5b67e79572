#!/usr/bin/env bash
# t_http_upgrade.sh - CONNECT and Upgrade (WebSocket, h2c) on the
# transparent path: refused with 403 by default; with the host in
# firewall.upgrade_allow_hosts the Upgrade passes and the connection then
# becomes an uninspected relay (what follows reaches the upstream as it
# is).  Also: a Host that is an IP literal other than the address dialled
# is refused in any mode.
set -eu
. tests/integration/lib.sh
. tests/integration/helpers/tproxy.sh
. tests/integration/helpers/http.sh

tproxy_up

ws=$(req ws 'GET /up-ws HTTP/1.1\r\nHost: allowed.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')
h2c=$(req h2c 'GET /up-h2c HTTP/1.1\r\nHost: allowed.test\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n')
con=$(req con 'CONNECT allowed.test:443 HTTP/1.1\r\nHost: allowed.test:443\r\n\r\n')
out=$(hc send "$V4_UP" "$ws")
[[ $out == "STATUS 403 blocked by pipelock-fw: protocol upgrade (websocket) is not supported"* ]] || fail "WebSocket upgrade: '$out'"
out=$(hc send "$V4_UP" "$h2c")
[[ $out == "STATUS 403 "* ]] || fail "h2c upgrade: '$out'"
out=$(hc send "$V4_UP" "$con")
[[ $out == "STATUS 403 blocked by pipelock-fw: CONNECT is not supported"* ]] || fail "CONNECT: '$out'"
[[ $(up_requests /up-) == 0 ]] || fail "a refused upgrade reached the upstream"
((n = $(upstream_count_conns 80))) || true
((n == 0)) || fail "the upstream accepted $n connection(s) for refused upgrades"

# Host: an address that is not the one dialled
out=$(as_agent curl -4 -sS --max-time 10 -H "Host: $V4_UP2" "http://$V4_UP/up-iphost" 2>&1) || true
[[ $out == "blocked by pipelock-fw: Host header $V4_UP2 does not match the destination $V4_UP"* ]] ||
	fail "Host: $V4_UP2 to $V4_UP: '$out'"

engine_stop
make_config 'upgrade_allow_hosts: ["allowed.test"]'
engine_start --config "$PLFW_CONFIG"
after=$(req after 'GET /up-after?k=%s HTTP/1.1\r\nHost: allowed.test\r\n\r\n' "$SECRET")
out=$(hc send "$V4_UP" "$ws" "$after" --expect 2)
[[ $out == $'STATUS 200 ok GET /up-ws\nSTATUS 200 ok GET /up-after'* ]] || fail "allowed WebSocket upgrade: '$out'"
[[ $(up_requests /up-ws) == 1 ]] || fail "the allowed upgrade did not reach the upstream"
upstream_saw "/up-after?k=$SECRET" || fail "bytes after an allowed upgrade were not relayed as they are"
# other hosts are still refused
ws2=$(req ws2 'GET /up-ws-other HTTP/1.1\r\nHost: other.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n')
out=$(hc send "$V4_UP" "$ws2")
[[ $out == "STATUS 403 "* ]] || fail "upgrade to other.test: '$out'"
log "PASS t_http_upgrade"
