"""latency.py PORT FROM TO COUNT THREADS [SIZE] - time from the end of DATA to the 250 reply.

Each thread opens its own SMTP sessions (smtplib, EHLO, one message per session like smtp-source)
and measures, per message, the time between sending the final "." and reading the reply.
Prints "n=.. p50_ms=.. p99_ms=.. max_ms=..". Run with /usr/bin/python3."""
import smtplib
import sys
import threading
import time

port, sender, rcpt, count, threads = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
size = int(sys.argv[6]) if len(sys.argv) > 6 else 4096
body = ("x" * 76 + "\r\n") * (size // 78 + 1)
lat, lock = [], threading.Lock()


def worker(n, tid):
    for i in range(n):
        s = smtplib.SMTP("127.0.0.1", port, timeout=60)
        s.ehlo("latency.test")
        s.mail(sender)
        s.rcpt(rcpt)
        code, _ = s.docmd("DATA")
        assert code == 354, code
        msg = "From: %s\r\nTo: %s\r\nSubject: latency %d-%d\r\nMessage-ID: <lat-%d-%d-%f@bench>\r\n\r\n%s" % (
            sender, rcpt, tid, i, tid, i, time.time(), body)
        s.send(msg.encode() + b".\r\n")
        t0 = time.perf_counter()
        code, _ = s.getreply()
        dt = time.perf_counter() - t0
        if code == 250:
            with lock:
                lat.append(dt * 1000)
        s.quit()


ts = [threading.Thread(target=worker, args=(count // threads, t)) for t in range(threads)]
[t.start() for t in ts]
[t.join() for t in ts]
lat.sort()
if not lat:
    print("n=0")
    sys.exit(1)
pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
print("n=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f" % (len(lat), pick(0.50), pick(0.99), lat[-1]))
