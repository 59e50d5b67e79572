#!/usr/bin/python3
"""leakcheck.py - did anything but the engine's own connections reach the
upstream?

  leakcheck.py --pcap FILE --uplog FILE [--agent-ports FILE] [--host ADDR]...

FILE is a tcpdump capture on the internet side of the veth.  Every
connection the upstream accepted (upstream.py's accept events) is taken to
be the engine's; a TCP or UDP packet between a host address and any other
address whose 4-tuple is not one of them is a leak (TIME_WAIT/orphan
packets of agent sockets, RSTs, stray SYNs that got refused).  A leaked
agent connection the upstream did accept is caught with --agent-ports
(lines "laddr lport raddr rport t_start t_end" written by agent_load.py):
while an agent socket is open its 4-tuple is taken, so no engine socket can
have it; an accepted connection with that 4-tuple during that time (both
stamps from the same realtime clock: the agent's before connect and after
close, the upstream's after accept and before it answers) is the agent's
own.  Exit 0 clean, 1 leak, 2 bad input.
"""

import argparse
import ipaddress
import json
import struct
import sys
import time

ETH_IPV4 = 0x0800
ETH_IPV6 = 0x86DD
ETH_VLAN = 0x8100
LINKTYPE_ETHERNET = 1
PROTO_TCP = 6
PROTO_UDP = 17


def pcap_packets(path):
    """Yields (ts, frame bytes) from a classic pcap file."""
    with open(path, "rb") as f:
        hdr = f.read(24)
        if len(hdr) < 24:
            return
        magic = struct.unpack("<I", hdr[:4])[0]
        if magic in (0xA1B2C3D4, 0xA1B23C4D):
            endian = "<"
        elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
            endian = ">"
        else:
            raise ValueError("not a pcap file")
        nano = magic in (0xA1B23C4D, 0x4D3CB2A1)
        linktype = struct.unpack(endian + "I", hdr[20:24])[0]
        if linktype != LINKTYPE_ETHERNET:
            raise ValueError("linktype %d not supported" % linktype)
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                return
            sec, frac, incl, _ = struct.unpack(endian + "IIII", rec)
            data = f.read(incl)
            if len(data) < incl:
                return  # truncated last record (capture stopped mid-write)
            yield sec + frac / (1e9 if nano else 1e6), data


def parse(frame):
    """Returns (proto, src, sport, dst, dport, flags) or None."""
    if len(frame) < 14:
        return None
    etype = struct.unpack("!H", frame[12:14])[0]
    off = 14
    if etype == ETH_VLAN and len(frame) >= 18:
        etype = struct.unpack("!H", frame[16:18])[0]
        off = 18
    if etype == ETH_IPV4:
        ip = frame[off:]
        if len(ip) < 20:
            return None
        ihl = (ip[0] & 0x0F) * 4
        proto = ip[9]
        src, dst = ipaddress.ip_address(ip[12:16]), ipaddress.ip_address(ip[16:20])
        l4 = ip[ihl:]
    elif etype == ETH_IPV6:
        ip = frame[off:]
        if len(ip) < 40:
            return None
        proto = ip[6]
        src, dst = ipaddress.ip_address(ip[8:24]), ipaddress.ip_address(ip[24:40])
        l4 = ip[40:]   # the tests send no extension headers
    else:
        return None
    if proto not in (PROTO_TCP, PROTO_UDP) or len(l4) < 4:
        return None
    sport, dport = struct.unpack("!HH", l4[:4])
    flags = l4[13] if proto == PROTO_TCP and len(l4) >= 14 else 0
    return proto, src, sport, dst, dport, flags


def clock(t):
    return time.strftime("%H:%M:%S", time.gmtime(t)) + ("%.3f" % (t % 1))[1:]


def flag_str(f):
    return "".join(c for c, b in zip("FSRPAU", (1, 2, 4, 8, 16, 32)) if f & b) or "."


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--pcap", required=True)
    p.add_argument("--uplog", required=True)
    p.add_argument("--agent-ports")
    p.add_argument("--host", action="append", default=["198.18.0.1", "fd00:18::1"])
    a = p.parse_args()
    hosts = {ipaddress.ip_address(h) for h in a.host}

    accepted = {}   # (host addr, host port, upstream addr, upstream port) -> accept time
    with open(a.uplog, encoding="utf-8") as f:
        for line in f:
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if e.get("ev") == "accept":
                key = (ipaddress.ip_address(e["peer"]), e["pport"],
                       ipaddress.ip_address(e["local"]), e["lport"])
                accepted[key] = e["t"]

    leaks = 0
    total = 0
    shown = 0
    try:
        pkts = list(pcap_packets(a.pcap))
    except (OSError, ValueError) as e:
        print("leakcheck: %s: %s" % (a.pcap, e), file=sys.stderr)
        return 2
    for ts, frame in pkts:
        r = parse(frame)
        if r is None:
            continue
        proto, src, sport, dst, dport, flags = r
        if src in hosts:
            key = (src, sport, dst, dport)
        elif dst in hosts:
            key = (dst, dport, src, sport)
        else:
            continue
        total += 1
        if proto == PROTO_TCP and key in accepted:
            continue
        leaks += 1
        if shown < 20:
            shown += 1
            print("leak: %s %s %s:%d -> %s:%d [%s]" % (
                "tcp" if proto == PROTO_TCP else "udp", clock(ts), src, sport, dst, dport,
                flag_str(flags) if proto == PROTO_TCP else "-"))

    agent_conns = 0
    if a.agent_ports:
        spans = {}
        with open(a.agent_ports, encoding="utf-8") as f:
            for line in f:
                parts = line.split()
                if len(parts) == 6:
                    key = (ipaddress.ip_address(parts[0]), int(parts[1]),
                           ipaddress.ip_address(parts[2]), int(parts[3]))
                    spans.setdefault(key, []).append((float(parts[4]), float(parts[5])))
        for key, t in accepted.items():
            haddr, hport, uaddr, uport = key
            for t0, t1 in spans.get(key, ()):
                if t0 <= t <= t1:
                    agent_conns += 1
                    print("leak: the upstream accepted a connection from agent socket %s:%d -> %s:%d"
                          " at %s (agent socket open %s .. %s)"
                          % (haddr, hport, uaddr, uport, clock(t), clock(t0), clock(t1)))
                    break

    print("leakcheck: %d packets to/from the host, %d connections accepted, "
          "%d leaked packets, %d leaked agent connections" % (total, len(accepted), leaks, agent_conns))
    return 1 if leaks or agent_conns else 0


if __name__ == "__main__":
    sys.exit(main())
