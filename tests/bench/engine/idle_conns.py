#!/usr/bin/env python3
"""idle_conns.py - hold N idle keep-alive HTTP connections (run as an agent).

  idle_conns.py N HOST PATH SECONDS [WINDOW]

Opens N connections to HOST:80, at most WINDOW (64) in progress at once,
sends one keep-alive GET of PATH on each and reads its whole response (so
the interceptor has relayed it), then prints "READY <ok> <failed>
<seconds> <reason>" and keeps the ok ones open and idle for SECONDS (or
until killed).  The bench samples the interceptor's memory meanwhile: the
RSS growth divided by <ok> is its memory per idle, already relayed
connection.

An interceptor that runs out of file descriptors (or of its connection
limit) answers late, never, or by closing: after the first failure no new
connection is started, so <ok> is how many it held.  Bounded: 5 s per
connection, DEADLINE_S for all of them; one process, N + 64 descriptors
(its RLIMIT_NOFILE soft limit is raised up to the hard one).
"""
import os
import resource
import selectors
import socket
import sys
import time

CONN_TIMEOUT_S = 5.0
DEADLINE_BASE_S = 20.0
DEADLINE_PER_CONN_S = 0.006	# 10k connections: 80 s in all
HEAD_MAX = 65536


class Conn:
    def __init__(self, sock, start):
        self.sock = sock
        self.start = start
        self.sent = 0
        self.buf = b""
        self.need = None	# header + body length once the head is in


def response_done(c):
    """True: complete 200 response; False: need more; raises on a bad one."""
    if c.need is None:
        end = c.buf.find(b"\r\n\r\n")
        if end == -1:
            if len(c.buf) > HEAD_MAX:
                raise ValueError("response head too long")
            return False
        head = c.buf[:end]
        if not head.startswith(b"HTTP/1.1 200"):
            raise ValueError(head.split(b"\r\n", 1)[0].decode(errors="replace"))
        length = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v.strip())
        c.need = end + 4 + length
    return len(c.buf) >= c.need


def main():
    n, host, path, hold = int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
    window = int(sys.argv[5]) if len(sys.argv) > 5 else 64
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n + 64
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, want), hard))
    addr = socket.getaddrinfo(host, 80, socket.AF_INET, socket.SOCK_STREAM)[0][4]
    req = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    sel = selectors.DefaultSelector()
    held, busy = [], {}
    started, failed, reason = 0, 0, ""
    t0 = time.monotonic()
    deadline = t0 + DEADLINE_BASE_S + DEADLINE_PER_CONN_S * n

    def fail(c, why):
        nonlocal failed, reason
        failed += 1
        reason = reason or why
        sel.unregister(c.sock)
        del busy[c.sock.fileno()]
        c.sock.close()

    while True:
        now = time.monotonic()
        while not failed and started < n and len(busy) < window and now < deadline:
            try:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            except OSError as e:	# our own descriptors
                failed, reason = failed + 1, f"socket: {e}"
                break
            s.setblocking(False)
            s.connect_ex(addr)
            c = Conn(s, now)
            busy[s.fileno()] = c
            sel.register(s, selectors.EVENT_WRITE, c)
            started += 1
        if not busy:
            break
        for key, ev in sel.select(timeout=0.2):
            c = key.data
            try:
                if ev & selectors.EVENT_WRITE:
                    err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        raise OSError(err, "connect: " + os.strerror(err))
                    c.sent += c.sock.send(req[c.sent:])
                    if c.sent == len(req):
                        sel.modify(c.sock, selectors.EVENT_READ, c)
                    continue
                chunk = c.sock.recv(65536)
                if not chunk:
                    raise OSError(0, "closed before a full response")
                c.buf += chunk
                if response_done(c):
                    sel.unregister(c.sock)
                    del busy[c.sock.fileno()]
                    c.buf = b""
                    held.append(c.sock)
            except BlockingIOError:
                pass
            except OSError as e:
                fail(c, e.strerror or str(e))
            except ValueError as e:
                fail(c, str(e))
        now = time.monotonic()
        for c in [c for c in busy.values() if now - c.start > CONN_TIMEOUT_S or now > deadline + CONN_TIMEOUT_S]:
            fail(c, f"no response in {CONN_TIMEOUT_S:.0f} s")
    if started < n and not reason:
        reason = "deadline"
    print(f"READY {len(held)} {failed} {time.monotonic() - t0:.1f} {reason or 'ok'}", flush=True)
    time.sleep(hold)
    for s in held:
        s.close()


if __name__ == "__main__":
    main()
