#!/usr/bin/env bash
# t_proxy_robust.sh - bad input on the explicit proxy port gets a clear
# answer and never hurts the engine: garbage bytes 400, a head over 64 KiB
# 431, a CONNECT to a closed port 502 "tunnel dial failed", a bad CONNECT
# target 400, an HTTP/1.0 request without Host judged (and forwarded) by its
# target's host, a pipelined second request after a forward one is not sent
# upstream, clients that vanish half way (head, body, tunnel) leave no
# connection behind (the engine's fd count returns to where it was), and
# the engine still serves afterwards.
set -eu
. tests/integration/lib.sh
. tests/integration/helpers/http.sh
. tests/integration/helpers/proxy.sh

proxy_up true

raw() { # BYTES-PYTHON-EXPR -> first line of the answer ("" if none)
	as_other "$PY" - "$1" <<'PYEOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", 8888), timeout=10)
try:
    s.sendall(eval(sys.argv[1]))
    s.shutdown(socket.SHUT_WR)
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
except OSError:
    data = b""
print(data.split(b"\r\n")[0].decode("latin-1"))
print(data.decode("latin-1").split("\r\n\r\n", 1)[-1].strip())
PYEOF
}
fds() { find "/proc/$ENGINE_PID/fd" -mindepth 1 -maxdepth 1 | wc -l; }
fds_back() { (($(fds) <= base)); }

base=$(fds)
out=$(raw 'b"\x16\x03\x01garbage\r\n\r\n"')
[[ $out == "HTTP/1.1 400 "* ]] || fail "garbage: $out"
out=$(raw 'b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n"')
[[ $out == "HTTP/1.1 431 "* ]] || fail "oversized head: $out"
out=$(raw 'b"CONNECT allowed.test:9 HTTP/1.1\r\nHost: allowed.test:9\r\n\r\n"')
[[ $out == "HTTP/1.1 502 "* && $out == *"tunnel dial failed"* ]] || fail "CONNECT to a closed port: $out"
out=$(raw 'b"CONNECT allowed.test:0 HTTP/1.1\r\nHost: allowed.test:0\r\n\r\n"')
[[ $out == "HTTP/1.1 4"* ]] || fail "CONNECT to port 0: $out"
out=$(raw 'b"GET http://allowed.test/pipe-1 HTTP/1.1\r\nHost: allowed.test\r\n\r\nGET http://allowed.test/pipe-2 HTTP/1.1\r\nHost: allowed.test\r\n\r\n"')
[[ $out == "HTTP/1.1 200 "* ]] || fail "pipelined forward: $out"
[[ $(up_requests /pipe-1) == 1 && $(up_requests /pipe-2) == 0 ]] || fail "pipelined second request reached the upstream"

# HTTP/1.0 without Host: the target's authority is judged and sent upstream
out=$(raw 'b"GET http://allowed.test/h10 HTTP/1.0\r\n\r\n"')
[[ $out == "HTTP/1.1 200 "* ]] || fail "HTTP/1.0 forward without Host: $out"
[[ $(up_req_field /h10 host) == allowed.test ]] || fail "no Host upstream for an HTTP/1.0 request"
out=$(raw 'b"GET http://blocked.test/h10b HTTP/1.0\r\n\r\n"')
[[ $out == "HTTP/1.1 403 "* ]] || fail "HTTP/1.0 forward to a blocked host without Host: $out"

# clients that vanish: mid-head, mid-body, mid-tunnel, with an RST
as_other "$PY" - <<'PYEOF'
import socket, struct, time
def rst(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
for payload in (b"GET http://allowed.test/half", b"POST http://allowed.test/body HTTP/1.1\r\nHost: allowed.test\r\nContent-Length: 100000\r\n\r\n" + b"x" * 5000,
                b"CONNECT allowed.test:443 HTTP/1.1\r\nHost: allowed.test:443\r\n\r\n"):
    for close in (rst, lambda s: s.close()):
        s = socket.create_connection(("127.0.0.1", 8888), timeout=5)
        s.sendall(payload)
        time.sleep(0.05)
        close(s)
PYEOF
wait_until 15 fds_back || fail "fd count did not come back: $base -> $(fds)"
[[ $(up_requests /body) == 0 ]] || fail "a half body reached the upstream"

out=$(as_agent curl -sS --max-time 10 -x "http://$PROXY" "http://allowed.test/still-ok" 2>&1) || fail "after the abuse: $out"
[[ $out == "ok GET /still-ok" ]] || fail "after the abuse: $out"
pid_alive "$ENGINE_PID" || fail "engine died"
log "PASS t_proxy_robust"
