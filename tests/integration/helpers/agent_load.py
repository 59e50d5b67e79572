#!/usr/bin/python3
"""agent_load.py - bounded request loops run as an agent uid.

  agent_load.py http --addr A [--port 80] [--host NAME] [--count N]
                [--seconds S] [--timeout T] [--ports-out FILE] [--until FILE]
      Up to N sequential `Connection: close` GETs of / (stops after S
      seconds, or when FILE exists), each on a new connection with a T-second
      budget.  Records "laddr lport raddr rport t_start t_end" of every
      socket in
      --ports-out (for leakcheck.py) and prints one JSON summary:
      {"ok": n, "fail": n, "errors": {"ECONNREFUSED": n, ...}, "seconds": s}

  agent_load.py connect --addr A [--port 80] [--host NAME] [--timeout T]
      One request like the above; prints "OK|ERRNAME SECONDS" (exit 0 either
      way) so a test can assert how and how fast a connection fails.

  agent_load.py stream --addr A [--port 9000] --tag T --flag FILE
                [--seconds S] [--interval I]
      One long-lived connection: writes "pre-T-N\n" every I seconds, and
      "post-T-N\n" once FILE exists, until S seconds or an error.  Prints
      {"connected": bool, "pre": n, "post_sent": n, "error": name|null,
       "error_after_flag": bool}; writes "connected" into FILE.T once the
      connection is up.

Standard library only: it runs as the agent uid under /usr/bin/python3.
"""

import argparse
import errno
import json
import os
import socket
import sys
import time


def response_complete(data):
    """True once the head and Content-Length bytes of body are in.  The
    client then closes at once, usually before the server's FIN arrives: its
    socket goes FIN_WAIT -> TIME_WAIT orphaned, and the packets it sends from
    there carry no uid (the leak the conntrack mark exists for)."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            return len(body) >= int(v.strip() or b"0")
    return False


def one_request(addr, port, host, timeout, ports):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    t0 = time.time()
    local = None
    try:
        try:
            s.connect((addr, port))
        finally:
            try:
                local = s.getsockname()
            except OSError:
                pass
        s.sendall(("GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % host).encode())
        data = b""
        while not response_complete(data):
            b = s.recv(65536)
            if not b:
                break
            data += b
        if not data.startswith(b"HTTP/1.1 200"):
            return "BADRESPONSE"
        return None
    except socket.timeout:
        return "TIMEOUT"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
    finally:
        s.close()
        if ports is not None and local and local[1]:
            ports.write("%s %d %s %d %.6f %.6f\n" % (local[0], local[1], addr, port, t0, time.time()))


def cmd_connect(a):
    t0 = time.monotonic()
    err = one_request(a.addr, a.port, a.host, a.timeout, None)
    print("%s %.3f" % (err or "OK", time.monotonic() - t0))
    return 0


def cmd_stream(a):
    res = {"connected": False, "pre": 0, "post_sent": 0, "error": None,
           "error_after_flag": False}
    fam = socket.AF_INET6 if ":" in a.addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(3)
    start = time.monotonic()
    flagged = False
    try:
        s.connect((a.addr, a.port))
        res["connected"] = True
        with open(a.flag + "." + a.tag, "w") as f:
            f.write("connected\n")
        s.setblocking(False)
        n = 0
        while time.monotonic() - start < a.seconds:
            flagged = flagged or os.path.exists(a.flag)
            msg = "%s-%s-%d\n" % ("post" if flagged else "pre", a.tag, n)
            s.sendall(msg.encode())
            if flagged:
                res["post_sent"] += 1
            else:
                res["pre"] += 1
            n += 1
            try:
                if s.recv(65536) == b"":
                    raise ConnectionResetError(errno.ECONNRESET, "EOF from peer")
            except BlockingIOError:
                pass
            time.sleep(a.interval)
    except socket.timeout:
        res["error"] = "TIMEOUT"
    except OSError as e:
        res["error"] = errno.errorcode.get(e.errno, str(e.errno))
    res["error_after_flag"] = bool(res["error"]) and flagged
    s.close()
    print(json.dumps(res))
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    h = sub.add_parser("http")
    h.add_argument("--addr", required=True)
    h.add_argument("--port", type=int, default=80)
    h.add_argument("--host", default="allowed.test")
    h.add_argument("--count", type=int, default=100)
    h.add_argument("--seconds", type=float, default=30)
    h.add_argument("--timeout", type=float, default=3)
    h.add_argument("--ports-out")
    h.add_argument("--until")
    c = sub.add_parser("connect")
    c.add_argument("--addr", required=True)
    c.add_argument("--port", type=int, default=80)
    c.add_argument("--host", default="allowed.test")
    c.add_argument("--timeout", type=float, default=3)
    st = sub.add_parser("stream")
    st.add_argument("--addr", required=True)
    st.add_argument("--port", type=int, default=9000)
    st.add_argument("--tag", required=True)
    st.add_argument("--flag", required=True)
    st.add_argument("--seconds", type=float, default=10)
    st.add_argument("--interval", type=float, default=0.05)
    a = p.parse_args()
    if a.cmd == "connect":
        return cmd_connect(a)
    if a.cmd == "stream":
        return cmd_stream(a)
    ports = open(a.ports_out, "a", buffering=1) if a.ports_out else None
    res = {"ok": 0, "fail": 0, "errors": {}}
    start = time.monotonic()
    for _ in range(a.count):
        if time.monotonic() - start > a.seconds or (a.until and os.path.exists(a.until)):
            break
        err = one_request(a.addr, a.port, a.host, a.timeout, ports)
        if err is None:
            res["ok"] += 1
        else:
            res["fail"] += 1
            res["errors"][err] = res["errors"].get(err, 0) + 1
    res["seconds"] = round(time.monotonic() - start, 3)
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
