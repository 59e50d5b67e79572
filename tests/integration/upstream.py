#!/usr/bin/python3
"""upstream.py - the "internet" servers of the integration tests, and queries
over what they saw.

  upstream.py serve --log FILE --cert PEM --key PEM --addr A [--addr A]...
      HTTP on :80, TLS (HTTP/1.1 inside) on :443, raw TCP echo on :9000 and
      UDP echo on :9000, on every --addr.  One JSON line per event in FILE:
        accept  {conn, proto, local, lport, peer, pport}
        data    {conn, len, data}        every read, as received (TLS: the
                                          decrypted bytes); data is latin-1
        tls     {conn, ok, sni, alpn, error}
        http    {conn, method, path, host, headers, body_len, body_sha256,
                 body_head}
        close   {conn, bytes}
        udp     {local, lport, peer, pport, len, data}
      The accept event is written before anything else happens on the
      connection, so a refused TLS handshake still counts as a connection.
  upstream.py count --log FILE [--port P] [--local ADDR] [--proto tcp|udp]
  upstream.py saw --log FILE STRING     exit 0 if any received bytes contain it
  upstream.py bytes --log FILE [--port P] [--after T]
                                        total bytes received on TCP (after
                                        epoch time T)
  upstream.py peers --log FILE          "peer pport local lport" per accept

Runs as root in the internet namespace under /usr/bin/python3: standard
library only, one thread per connection (the tests are small and bounded).
"""

import argparse
import hashlib
import json
import selectors
import socket
import ssl
import sys
import threading
import time

HTTP_PORT = 80
TLS_PORT = 443
RAW_PORT = 9000
MAX_HEADER = 64 * 1024      # bytes of request head before we give up
BIG_CHUNK = 64 * 1024       # write size for /big
BODY_HEAD = 64              # body bytes copied into the http event


class EventLog:
    """Append-only JSON lines, flushed per event so tests can poll it."""

    def __init__(self, path):
        self.f = open(path, "a", buffering=1, encoding="utf-8")
        self.lock = threading.Lock()
        self.next_id = 0

    def conn_id(self):
        with self.lock:
            self.next_id += 1
            return self.next_id

    def write(self, ev, **kw):
        kw = {"ev": ev, "t": round(time.time(), 6), **kw}
        line = json.dumps(kw, separators=(",", ":"))
        with self.lock:
            self.f.write(line + "\n")
            self.f.flush()


def latin1(b):
    return b.decode("latin-1")


class Conn:
    """One accepted connection: logs every read before handling it."""

    def __init__(self, log, sock, conn_id):
        self.log = log
        self.sock = sock
        self.id = conn_id
        self.total = 0
        self.buf = b""

    def recv(self, n=65536):
        try:
            b = self.sock.recv(n)
        except (ConnectionError, ssl.SSLError, OSError):
            b = b""
        if b:
            self.total += len(b)
            self.log.write("data", conn=self.id, len=len(b), data=latin1(b))
        return b

    def send(self, b):
        try:
            self.sock.sendall(b)
            return True
        except (ConnectionError, ssl.SSLError, OSError):
            return False

    def fill(self):
        b = self.recv()
        self.buf += b
        return bool(b)


def http_read_request(c):
    """Returns (method, path, headers dict(lower), body) or None at EOF/err."""
    while b"\r\n\r\n" not in c.buf:
        if len(c.buf) > MAX_HEADER or not c.fill():
            return None
    head, c.buf = c.buf.split(b"\r\n\r\n", 1)
    lines = latin1(head).split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) < 2:
        return None
    method, path = parts[0], parts[1]
    headers = {}
    for ln in lines[1:]:
        if ":" in ln:
            k, v = ln.split(":", 1)
            headers.setdefault(k.strip().lower(), v.strip())
    body = b""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            while b"\r\n" not in c.buf:
                if not c.fill():
                    return None
            size_line, c.buf = c.buf.split(b"\r\n", 1)
            try:
                size = int(size_line.split(b";")[0], 16)
            except ValueError:
                return None
            while len(c.buf) < size + 2:
                if not c.fill():
                    return None
            body += c.buf[:size]
            c.buf = c.buf[size + 2:]
            if size == 0:
                break   # trailers are not used by the tests
    else:
        try:
            n = int(headers.get("content-length", "0"))
        except ValueError:
            return None
        while len(c.buf) < n:
            if not c.fill():
                return None
        body, c.buf = c.buf[:n], c.buf[n:]
    return method, path, headers, body


def http_serve(c):
    while True:
        req = http_read_request(c)
        if req is None:
            return
        method, path, headers, body = req
        c.log.write("http", conn=c.id, method=method, path=path,
                    host=headers.get("host"), headers=headers,
                    body_len=len(body),
                    body_sha256=hashlib.sha256(body).hexdigest(),
                    body_head=latin1(body[:BODY_HEAD]))
        close = headers.get("connection", "").lower() == "close"
        conn_hdr = b"Connection: close\r\n" if close else b""
        if path.startswith("/big"):
            n = 0
            if "n=" in path:
                try:
                    n = int(path.split("n=", 1)[1].split("&")[0])
                except ValueError:
                    n = 0
            ok = c.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                        b"Content-Length: %d\r\n%s\r\n" % (n, conn_hdr))
            chunk = b"x" * BIG_CHUNK
            while ok and n > 0:
                ok = c.send(chunk[:min(n, BIG_CHUNK)])
                n -= BIG_CHUNK
        else:
            out = ("ok %s %s\n" % (method, path)).encode("latin-1", "replace")
            ok = c.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                        b"Content-Length: %d\r\n%s\r\n%s" % (len(out), conn_hdr, out))
        if close or not ok:
            return


def raw_serve(c):
    while True:
        b = c.recv()
        if not b or not c.send(b):
            return


_tls_local = threading.local()


def sni_callback(sslobj, name, ctx):
    _tls_local.sni = name


def tls_serve(c, ctx):
    _tls_local.sni = None
    try:
        c.sock.settimeout(30)
        c.sock = ctx.wrap_socket(c.sock, server_side=True)
    except (ssl.SSLError, OSError) as e:
        c.log.write("tls", conn=c.id, ok=False, sni=_tls_local.sni, error=str(e))
        return
    c.log.write("tls", conn=c.id, ok=True, sni=_tls_local.sni,
                alpn=c.sock.selected_alpn_protocol(), version=c.sock.version())
    http_serve(c)


def handle(log, sock, proto, ctx):
    cid = log.conn_id()
    local = sock.getsockname()
    peer = sock.getpeername()
    log.write("accept", conn=cid, proto=proto, local=local[0], lport=local[1],
              peer=peer[0], pport=peer[1])
    c = Conn(log, sock, cid)
    try:
        c.sock.settimeout(60)
        if proto == "http":
            http_serve(c)
        elif proto == "tls":
            tls_serve(c, ctx)
        else:
            raw_serve(c)
    finally:
        log.write("close", conn=cid, bytes=c.total)
        try:
            c.sock.close()
        except OSError:
            pass


def listener(addr, port, kind):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, port))
    if kind == socket.SOCK_STREAM:
        s.listen(512)
    s.setblocking(False)
    return s


def serve(args):
    log = EventLog(args.log)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    ctx.set_alpn_protocols(["http/1.1"])
    ctx.sni_callback = sni_callback
    sel = selectors.DefaultSelector()
    for a in args.addr:
        for port, proto in ((HTTP_PORT, "http"), (TLS_PORT, "tls"), (RAW_PORT, "raw")):
            sel.register(listener(a, port, socket.SOCK_STREAM), selectors.EVENT_READ, proto)
        sel.register(listener(a, RAW_PORT, socket.SOCK_DGRAM), selectors.EVENT_READ, "udp")
    log.write("ready", addrs=args.addr)
    while True:
        for key, _ in sel.select():
            s, proto = key.fileobj, key.data
            try:
                if proto == "udp":
                    b, peer = s.recvfrom(65536)
                    local = s.getsockname()
                    log.write("udp", local=local[0], lport=local[1], peer=peer[0],
                              pport=peer[1], len=len(b), data=latin1(b))
                    s.sendto(b, peer)
                    continue
                sock, _ = s.accept()
            except (BlockingIOError, InterruptedError, ConnectionError):
                continue
            sock.setblocking(True)
            threading.Thread(target=handle, args=(log, sock, proto, ctx), daemon=True).start()


def events(path):
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    yield json.loads(line)
                except ValueError:
                    pass    # a line being written right now
    except FileNotFoundError:
        return


def accepts(args):
    for e in events(args.log):
        if e["ev"] != "accept":
            continue
        if args.port and e["lport"] != args.port:
            continue
        if args.local and e["local"] != args.local:
            continue
        yield e


def cmd_count(args):
    if args.proto == "udp":
        n = sum(1 for e in events(args.log) if e["ev"] == "udp"
                and (not args.port or e["lport"] == args.port)
                and (not args.local or e["local"] == args.local))
    else:
        n = sum(1 for _ in accepts(args))
    print(n)
    return 0


def cmd_bytes(args):
    ids = {e["conn"] for e in accepts(args)}
    print(sum(e["len"] for e in events(args.log)
              if e["ev"] == "data" and e["conn"] in ids and e["t"] > args.after))
    return 0


def cmd_saw(args):
    # Bytes of one connection are joined so a string split across reads
    # still matches.
    per_conn = {}
    for e in events(args.log):
        if e["ev"] == "data":
            per_conn[e["conn"]] = per_conn.get(e["conn"], "") + e["data"]
        elif e["ev"] == "udp" and args.string in e["data"]:
            return 0
    return 0 if any(args.string in d for d in per_conn.values()) else 1


def cmd_peers(args):
    for e in accepts(args):
        print(e["peer"], e["pport"], e["local"], e["lport"])
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--log", required=True)
    s.add_argument("--cert", required=True)
    s.add_argument("--key", required=True)
    s.add_argument("--addr", action="append", required=True)
    for name in ("count", "bytes", "peers"):
        q = sub.add_parser(name)
        q.add_argument("--log", required=True)
        q.add_argument("--port", type=int, default=0)
        q.add_argument("--local", default="")
        q.add_argument("--proto", default="tcp", choices=("tcp", "udp"))
        q.add_argument("--after", type=float, default=0.0)
    q = sub.add_parser("saw")
    q.add_argument("--log", required=True)
    q.add_argument("string")
    args = p.parse_args()
    if args.cmd == "serve":
        serve(args)
        return 0
    return {"count": cmd_count, "bytes": cmd_bytes, "saw": cmd_saw, "peers": cmd_peers}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
