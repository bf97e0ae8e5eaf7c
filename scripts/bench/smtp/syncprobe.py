"""syncprobe.py DIR COUNT - what one batch of the SMTP spool waits for on this disk, in isolation.

Times, COUNT times in a fresh directory under DIR (the spool's file system), the three syncs a
batch of mailagent's spool makes one after the other: a new ~4 KB file written and fdatasync'd (a
message body), the directory's fsync (its name), and ~4 KB appended to another file and
fdatasync'd (the spool database's write-ahead log). Prints "file_ms=.. dir_ms=.. log_ms=.."
(medians) and "chain_p50_ms=.. chain_p90_ms=.." (their sum per round). Run with /usr/bin/python3."""
import os
import shutil
import sys
import tempfile
import time

base, count = sys.argv[1], int(sys.argv[2])
d = tempfile.mkdtemp(prefix="syncprobe.", dir=base)
try:
    log = os.open(os.path.join(d, "log"), os.O_CREAT | os.O_RDWR | os.O_APPEND, 0o600)
    dfd = os.open(d, os.O_RDONLY)
    body, page = b"x" * 4235, b"y" * 4096
    files, dirs, logs, chains = [], [], [], []
    for i in range(count):
        t0 = time.perf_counter()
        fd = os.open(os.path.join(d, "m%d.eml" % i), os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
        os.write(fd, body)
        os.fdatasync(fd)
        os.close(fd)
        t1 = time.perf_counter()
        os.fsync(dfd)
        t2 = time.perf_counter()
        os.write(log, page)
        os.fdatasync(log)
        t3 = time.perf_counter()
        files.append(t1 - t0)
        dirs.append(t2 - t1)
        logs.append(t3 - t2)
        chains.append(t3 - t0)
    os.close(dfd)
    os.close(log)
finally:
    shutil.rmtree(d)


def q(xs, f):
    xs = sorted(xs)
    return round(1000 * xs[min(len(xs) - 1, int(len(xs) * f))], 2)


print("file_ms=%s dir_ms=%s log_ms=%s chain_p50_ms=%s chain_p90_ms=%s"
      % (q(files, 0.5), q(dirs, 0.5), q(logs, 0.5), q(chains, 0.5), q(chains, 0.9)))
