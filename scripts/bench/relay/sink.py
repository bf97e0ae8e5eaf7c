"""sink.py PORT OUT - an SMTP sink for the latency run: accepts everything (PIPELINING, many
sessions), writes "subject unix_time" to OUT for each message the moment its final "." arrives.
Runs until killed. Run with /usr/bin/python3."""
import socket
import sys
import threading
import time

port, out = int(sys.argv[1]), open(sys.argv[2], "a", buffering=1)
lock = threading.Lock()


def serve(c):
    try:
        session(c)
    except OSError:
        pass  # a client that went away (a killed server) ends its session, not the sink


def session(c):
    f = c.makefile("rb")
    c.sendall(b"220 sink ESMTP\r\n")
    subject = None
    while True:
        line = f.readline()
        if not line:
            return
        verb = line[:4].upper()
        if verb in (b"EHLO", b"HELO"):
            c.sendall(b"250-sink\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
        elif verb == b"DATA":
            c.sendall(b"354 go\r\n")
            while True:
                l = f.readline()
                if not l or l == b".\r\n":
                    break
                if subject is None and l.lower().startswith(b"subject: "):
                    subject = l[9:].strip().decode()
            with lock:
                out.write("%s %.6f\n" % (subject, time.time()))
            subject = None
            c.sendall(b"250 2.0.0 Ok: queued\r\n")
        elif verb == b"QUIT":
            c.sendall(b"221 bye\r\n")
            return
        else:
            c.sendall(b"250 ok\r\n")


srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(128)
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
