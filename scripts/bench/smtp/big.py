"""big.py PORT RCPT PID - memory of `mailagent serve` (PID) receiving one ~52 MB message.

Resets the peak RSS (VmHWM) after EHLO, sends MAIL, RCPT, DATA and the whole content except the
final ".", waits until the server has read it all (its socket's receive queue is empty and its RSS
has settled), reads VmHWM: the receive, exact (the pipeline cannot have started on a message that
is not committed). Then sends ".", reads the 250 and VmHWM again: the end of DATA and the spool
commit too, and whatever the archive pipeline (woken by the commit, on its own threads) allocated
before the reply reached us. Prints "base_kb=.. receive_kb=.. at_250_kb=.. reply=..".
Run as root or as the server's user (writes /proc/PID/clear_refs). Run with /usr/bin/python3."""
import socket
import sys
import time

port, rcpt, pid = int(sys.argv[1]), sys.argv[2], sys.argv[3]


def status(key):
    for line in open("/proc/%s/status" % pid):
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def expect(f, code):
    while True:
        line = f.readline()
        if not line:
            raise SystemExit("connection closed")
        if line[3:4] != b"-":
            if not line.startswith(code):
                raise SystemExit("unexpected reply: %r" % line)
            return line.decode().strip()


def server_unread(port):
    """Octets queued on the server's side of our connection (ss: Recv-Q of the accepted socket)."""
    total = 0
    for line in open("/proc/net/tcp"):
        f = line.split()
        if f[1].endswith(":%04X" % port) and f[3] == "01":
            total += int(f[4].split(":")[1], 16)
    return total


s = socket.create_connection(("127.0.0.1", port), timeout=300)
f = s.makefile("rb")
expect(f, b"220")
s.sendall(b"EHLO big.bench\r\n")
expect(f, b"250")
open("/proc/%s/clear_refs" % pid, "w").write("5")
base = status("VmRSS")
s.sendall(b"MAIL FROM:<sender@client.example>\r\n")
expect(f, b"250")
s.sendall(("RCPT TO:<%s>\r\n" % rcpt).encode())
expect(f, b"250")
s.sendall(b"DATA\r\n")
expect(f, b"354")
s.sendall(b"Subject: big\r\nFrom: sender@client.example\r\n\r\n")
line = b"y" * 998 + b"\r\n"
chunk = line * 1000
for _ in range(52):
    s.sendall(chunk)
for _ in range(100):  # the server read everything we sent
    if server_unread(port) == 0:
        break
    time.sleep(0.05)
time.sleep(0.2)
receive = status("VmHWM")
s.sendall(b".\r\n")
reply = expect(f, b"250")
at_250 = status("VmHWM")
s.sendall(b"QUIT\r\n")
print("base_kb=%d receive_kb=%d at_250_kb=%d reply=%s" % (base, receive - base, at_250 - base, reply.split()[0]))
