"""submit.py PORT N THREADS PREFIX [USER PASSWORD] - submits N messages over SMTP (smtplib), each
thread on one long session (RSET between messages), with AUTH PLAIN when USER is given. Message i
has Subject "PREFIX i" and goes to PREFIX-i@sink.bench. Prints "ok=N" and, in submit_times.txt
(cwd), one "subject unix_time_of_250" line per message. Run with /usr/bin/python3."""
import smtplib
import socket
import sys
import threading
import time

port, n, threads, prefix = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
user = sys.argv[5] if len(sys.argv) > 6 else None
password = sys.argv[6] if len(sys.argv) > 6 else None
body = ("z" * 76 + "\r\n") * 50
times, lock = [], threading.Lock()


def worker(tid):
    s = smtplib.SMTP("127.0.0.1", port, timeout=120)
    s.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms delayed-ACK stalls
    s.ehlo("submit.bench")
    if user:
        s.login(user, password)
    for i in range(tid, n, threads):
        subj = "%s %d" % (prefix, i)
        msg = "From: sales@acme.example\r\nTo: %s-%d@sink.bench\r\nSubject: %s\r\n\r\n%s" % (prefix, i, subj, body)
        s.sendmail("sales@acme.example", ["%s-%d@sink.bench" % (prefix, i)], msg)
        with lock:
            times.append((subj, time.time()))
    s.quit()


ts = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
[t.start() for t in ts]
[t.join() for t in ts]
with open("submit_times.txt", "w") as f:
    for subj, t in times:
        f.write("%s %.6f\n" % (subj, t))
print("ok=%d" % len(times))
