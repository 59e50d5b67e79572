#!/usr/bin/env bash
# t_http_keepalive.sh - requests on one connection are judged one by one.
# Keep-alive: a clean request, its response, then one with a secret on the
# same connection -> 200 then 403, the upstream got only the first.  The
# same after an allowed request with a 1 MiB response.  Pipelined (all in
# one write): clean, clean, secret -> 200, 200, 403; clean, secret, clean
# -> 200, 403 and the third is never judged nor forwarded.  Expect:
# 100-continue is answered by the engine only once the head passed.  A
# client that half-closes after its request still gets the response.
set -eu
. tests/integration/lib.sh
. tests/integration/helpers/tproxy.sh
. tests/integration/helpers/http.sh

tproxy_up

get() { # NAME PATH [HEADER] -> a keep-alive GET request file
	req "$1" 'GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: t\r\n%s\r\n' "$2" "$V4_UP" "${3:-}"
}

a=$(get ka1 /ka-clean)
b=$(get ka2 "/ka-secret?k=$SECRET")
out=$(hc seq "$V4_UP" "$a" "$b")
[[ $out == $'STATUS 200 ok GET /ka-clean\nSTATUS 403 blocked by pipelock-fw: '* ]] ||
	fail "keep-alive clean then secret: '$out'"
[[ $(up_requests /ka-clean) == 1 ]] || fail "the clean keep-alive request did not reach the upstream once"
[[ $(up_requests /ka-secret) == 0 ]] || fail "the keep-alive request with a secret reached the upstream"

# a large response still in flight when the next request is judged
a=$(get kb1 "/big?n=1048576")
b=$(get kb2 "/kb-secret" "X-Api-Key: $SECRET2"$'\r\n')
out=$(hc seq "$V4_UP" "$a" "$b")
[[ $out == "STATUS 200 xxx"*$'\nSTATUS 403 blocked by pipelock-fw: '* ]] ||
	fail "big response then secret: '$out'"
[[ $(up_requests /kb-secret) == 0 ]] || fail "secret header after a big response reached the upstream"

# pipelined: judged one by one
p1=$(get pa1 /pa-one)
p2=$(get pa2 /pa-two)
p3=$(get pa3 "/pa-three?token=$SECRET")
out=$(hc send "$V4_UP" "$p1" "$p2" "$p3")
[[ $out == $'STATUS 200 ok GET /pa-one\nSTATUS 200 ok GET /pa-two\nSTATUS 403 blocked by pipelock-fw: '* ]] ||
	fail "pipelined clean, clean, secret: '$out'"
[[ $(up_requests /pa-one) == 1 && $(up_requests /pa-two) == 1 ]] || fail "pipelined clean requests not relayed once each"
[[ $(up_requests /pa-three) == 0 ]] || fail "pipelined request with a secret reached the upstream"

q1=$(get pb1 /pb-one)
q2=$(get pb2 "/pb-two?token=$SECRET")
q3=$(get pb3 /pb-three)
out=$(hc send "$V4_UP" "$q1" "$q2" "$q3")
[[ $out == $'STATUS 200 ok GET /pb-one\nSTATUS 403 blocked by pipelock-fw: '* ]] ||
	fail "pipelined clean, secret, clean: '$out'"
[[ $out != *pb-three* ]] || fail "a request after a refused one was answered: '$out'"
[[ $(up_requests /pb-three) == 0 ]] || fail "a request pipelined after a refused one reached the upstream"
! upstream_saw "$SECRET" || fail "the upstream saw the key"
! upstream_saw "$SECRET2" || fail "the upstream saw the AWS key"

# pipelined POSTs with bodies (Content-Length, chunked) and a GET
c1=$(req pc1 'POST /pc-one HTTP/1.1\r\nHost: %s\r\nContent-Length: 5\r\n\r\nhello' "$V4_UP")
c2=$(req pc2 'POST /pc-two HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n' "$V4_UP")
c3=$(req pc3 'GET /pc-three HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$V4_UP")
out=$(hc send "$V4_UP" "$c1" "$c2" "$c3")
[[ $out == $'STATUS 200 ok POST /pc-one\nSTATUS 200 ok POST /pc-two\nSTATUS 200 ok GET /pc-three' ]] ||
	fail "pipelined POST, chunked POST, GET: '$out'"
[[ $(up_body_sha /pc-two) == $(printf abc | sha256sum | cut -d' ' -f1) ]] || fail "chunked body altered"

# Expect: 100-continue: the engine answers once the head passed
e1=$(req ex1 'POST /ex-one HTTP/1.1\r\nHost: %s\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n' "$V4_UP")
e2=$(req ex2 'hello')
out=$(hc seq "$V4_UP" "$e1" "$e2")
[[ $out == $'STATUS 100 \nSTATUS 200 ok POST /ex-one'* ]] || fail "Expect: 100-continue: '$out'"
e3=$(req ex3 'POST /ex-two?k=%s HTTP/1.1\r\nHost: %s\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n' "$SECRET" "$V4_UP")
out=$(hc seq "$V4_UP" "$e3")
[[ $out == "STATUS 403 "* ]] || fail "Expect: 100-continue with a refused head: '$out'"
out=$(as_agent curl -4 -sS --max-time 10 -H 'Expect: 100-continue' --data-binary 'abcdef' "http://$V4_UP/ex-curl" 2>&1) ||
	fail "curl with Expect: 100-continue: $out"
[[ $out == "ok POST /ex-curl" ]] || fail "curl with Expect: 100-continue: '$out'"

# a client that half-closes after its request still gets the response
out=$(as_agent "$PY" -c '
import socket, sys
s = socket.create_connection((sys.argv[1], 80), timeout=10)
s.sendall(b"GET /hc-half HTTP/1.1\r\nHost: allowed.test\r\n\r\n")
s.shutdown(socket.SHUT_WR)
d = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    d += b
print(d.split(b"\r\n", 1)[0].decode(), d.rsplit(b"\r\n\r\n", 1)[-1].decode().strip())
' "$V4_UP" 2>&1) || fail "half-closing client: $out"
[[ $out == "HTTP/1.1 200 OK ok GET /hc-half" ]] || fail "half-closing client: '$out'"
log "PASS t_http_keepalive"
