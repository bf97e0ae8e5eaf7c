"""idle.py PORT N SECONDS - opens N SMTP sessions (greeting read, EHLO sent), keeps them idle for
SECONDS, prints how many are open. Run with /usr/bin/python3 (raise `ulimit -n` first)."""
import socket
import sys
import time

port, n, hold = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.recv(512)
    s.sendall(b"EHLO idle%d.test\r\n" % i)
    socks.append(s)
for s in socks:
    s.recv(4096)
print("open=%d" % len(socks), flush=True)
time.sleep(hold)
