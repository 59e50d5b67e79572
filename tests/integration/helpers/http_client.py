#!/usr/bin/python3
"""http_client.py - a raw-socket HTTP/1.1 client for the t_http_* scenarios,
run as the agent uid (standard library only).

  http_client.py send HOST PORT FILE...
      Every FILE's bytes in one write (pipelining), then read until the
      server closes (or --timeout); prints one line per response:
      "STATUS <code> <body, first line>" (responses are framed by
      Content-Length; 1xx interim responses are printed too).  --expect N:
      stop after N responses instead.
  http_client.py seq HOST PORT FILE...
      Keep-alive: FILE 1, its response, FILE 2, its response, ... on one
      connection (an interim 100 counts as the response: the next FILE is
      then the body); stops at the first connection close.
  http_client.py stream HOST PORT HEADFILE --total N [--chunked]
      The head, then N body bytes (raw, or as 64 KiB chunks), written in
      pieces; stops as soon as a response arrives or the connection is
      refused/reset.  Prints the status (or "STATUS none") and
      "SENT <bytes of body written>".  Memory is bounded: one 64 KiB piece.

HOST may be a name, an IPv4 or an IPv6 literal.  Exit 0 unless the
connection itself fails.
"""

import argparse
import select
import socket
import sys
import time

PIECE = 64 * 1024


def connect(host, port, timeout):
    return socket.create_connection((host, port), timeout=timeout)


def parse_responses(data, out):
    """Split data into responses; print each.  Returns the bytes left."""
    while True:
        end = data.find(b"\r\n\r\n")
        if end < 0:
            return data
        head = data[:end].decode("latin-1")
        lines = head.split("\r\n")
        parts = lines[0].split(" ", 2)
        status = parts[1] if len(parts) > 1 else "?"
        clen = 0
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            if k.strip().lower() == "content-length":
                try:
                    clen = int(v.strip())
                except ValueError:
                    clen = 0
        if len(data) < end + 4 + clen:
            return data
        body = data[end + 4:end + 4 + clen].decode("latin-1")
        first = body.split("\n", 1)[0][:200]
        out.append("STATUS %s %s" % (status, first))
        data = data[end + 4 + clen:]


def read_all(s, deadline):
    data = b""
    while time.time() < deadline:
        try:
            s.settimeout(max(0.05, deadline - time.time()))
            b = s.recv(65536)
        except socket.timeout:
            break
        except OSError:
            break
        if not b:
            break
        data += b
    return data


def cmd_send(a):
    payload = b"".join(open(f, "rb").read() for f in a.files)
    s = connect(a.host, a.port, a.timeout)
    s.sendall(payload)
    out = []
    if a.expect:
        # stop after that many responses (the server may keep the line open)
        deadline = time.time() + a.timeout
        st = {"data": b""}
        while len(out) < a.expect and read_one(s, deadline, out, st):
            pass
    else:
        parse_responses(read_all(s, time.time() + a.timeout), out)
    print("\n".join(out))
    return 0


def read_one(s, deadline, out, st):
    """Read until one more response (1xx included) is complete; False on
    EOF.  st["data"] keeps what was read beyond it."""
    n = len(out)
    while time.time() < deadline:
        st["data"] = parse_responses(st["data"], out)
        if len(out) > n:
            return True
        try:
            s.settimeout(max(0.05, deadline - time.time()))
            b = s.recv(65536)
        except (socket.timeout, OSError):
            return False
        if not b:
            return False
        st["data"] += b
    return False


def cmd_seq(a):
    s = connect(a.host, a.port, a.timeout)
    out = []
    st = {"data": b""}
    for f in a.files:
        try:
            s.sendall(open(f, "rb").read())
        except OSError:
            out.append("CLOSED")
            break
        if not read_one(s, time.time() + a.timeout, out, st):
            out.append("CLOSED")
            break
    print("\n".join(out))
    return 0


def cmd_stream(a):
    s = connect(a.host, a.port, a.timeout)
    s.setblocking(False)
    head = open(a.head, "rb").read()
    piece = b"x" * PIECE
    sent = 0
    pending = head
    data = b""
    deadline = time.time() + a.timeout
    while time.time() < deadline:
        if not pending and sent < a.total:
            n = min(PIECE, a.total - sent)
            body = piece[:n]
            pending = (b"%x\r\n" % n + body + b"\r\n") if a.chunked else body
            sent += n
            if sent >= a.total and a.chunked:
                pending += b"0\r\n\r\n"
        r, w, _ = select.select([s], [s] if pending else [], [], 0.5)
        if r:
            try:
                b = s.recv(65536)
            except OSError:
                b = b""
            if not b:
                break
            data += b
            if b"\r\n\r\n" in data:
                break
        if w and pending:
            try:
                n = s.send(pending)
                pending = pending[n:]
            except BlockingIOError:
                pass
            except OSError:
                break
        if not pending and sent >= a.total and not r:
            continue
    out = []
    parse_responses(data, out)
    if not out and b" " in data:
        out.append("STATUS " + data.split(b" ", 2)[1].decode("latin-1"))
    print(out[0] if out else "STATUS none")
    print("SENT %d" % sent)
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("send", "seq"):
        q = sub.add_parser(name)
        q.add_argument("host")
        q.add_argument("port", type=int)
        q.add_argument("files", nargs="+")
        q.add_argument("--timeout", type=float, default=10.0)
        q.add_argument("--expect", type=int, default=0)
    q = sub.add_parser("stream")
    q.add_argument("host")
    q.add_argument("port", type=int)
    q.add_argument("head")
    q.add_argument("--total", type=int, required=True)
    q.add_argument("--chunked", action="store_true")
    q.add_argument("--timeout", type=float, default=60.0)
    a = p.parse_args()
    try:
        return {"send": cmd_send, "seq": cmd_seq, "stream": cmd_stream}[a.cmd](a)
    except OSError as e:
        print("ERROR %s" % e)
        return 1


if __name__ == "__main__":
    sys.exit(main())
