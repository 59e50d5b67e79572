#!/usr/bin/env python3
"""idle_conns.py - hold N idle keep-alive HTTP connections (run as an agent).

  idle_conns.py N HOST PATH SECONDS

Opens N connections to HOST:80 one after the other, sends one keep-alive
GET of PATH on each and reads its whole response, then prints
"READY <ok>" and keeps them all open and idle for SECONDS (or until
killed).  The bench samples the interceptor's memory meanwhile: the RSS
growth divided by N is its memory per idle, already relayed connection.
Bounded: every socket operation has a 5 s timeout.
"""
import resource
import socket
import sys
import time


def read_response(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            return False
        buf += chunk
    head, body = buf.split(b"\r\n\r\n", 1)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            return False
        body += chunk
    return head.startswith(b"HTTP/1.1 200")


def main():
    n, host, path, hold = int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 64), hard))
    req = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    socks, ok = [], 0
    for _ in range(n):
        try:
            s = socket.create_connection((host, 80), timeout=5)
            s.sendall(req)
            if read_response(s):
                ok += 1
            socks.append(s)
        except OSError as e:
            print(f"connection {len(socks)}: {e}", file=sys.stderr)
            break
    print(f"READY {ok}", flush=True)
    time.sleep(hold)
    for s in socks:
        s.close()


if __name__ == "__main__":
    main()
