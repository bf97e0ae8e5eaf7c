#!/usr/bin/python3
"""dns_query.py NAME TYPE PORT - one UDP query to 127.0.0.1:PORT, the answer printed for tests:
'rcode N' then one line per answer record: 'NAME TYPE TTL DATA' (TXT: each string quoted).
A probe independent of mailagent's resolver, so tests can check the fixture itself."""
import random, socket, struct, sys

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28}
NAMES = {v: k for k, v in TYPES.items()}

def read_name(msg, off):
    labels, jumped, end = [], False, off
    for _ in range(128):
        n = msg[off]
        if n & 0xC0 == 0xC0:
            if not jumped: end = off + 2
            off, jumped = ((n & 0x3F) << 8) | msg[off + 1], True
            continue
        off += 1
        if n == 0: break
        labels.append(msg[off:off + n].decode("latin-1")); off += n
    return ".".join(labels), (end if jumped else off)

def main():
    name, qtype, port = sys.argv[1], TYPES[sys.argv[2].upper()], int(sys.argv[3])
    qid = random.randrange(65536)
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", qtype, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1.0)
    s.sendto(q, ("127.0.0.1", port))
    msg = s.recv(65535)
    _, flags, qd, an, _, _ = struct.unpack(">HHHHHH", msg[:12])
    print("rcode", flags & 0xF)
    off = 12
    for _ in range(qd):
        _, off = read_name(msg, off); off += 4
    for _ in range(an):
        owner, off = read_name(msg, off)
        t, _, ttl, rdlen = struct.unpack(">HHIH", msg[off:off + 10]); off += 10
        rd = msg[off:off + rdlen]
        if t == 16:
            parts, i = [], 0
            while i < len(rd):
                parts.append('"' + rd[i + 1:i + 1 + rd[i]].decode("latin-1") + '"'); i += 1 + rd[i]
            data = " ".join(parts)
        elif t == 1: data = socket.inet_ntop(socket.AF_INET, rd)
        elif t == 28: data = socket.inet_ntop(socket.AF_INET6, rd)
        elif t == 15: data = "%d %s" % (struct.unpack(">H", rd[:2])[0], read_name(msg, off + 2)[0])
        elif t in (5, 12, 2): data = read_name(msg, off)[0]
        else: data = rd.hex()
        print(owner, NAMES.get(t, t), ttl, data)
        off += rdlen

main()
