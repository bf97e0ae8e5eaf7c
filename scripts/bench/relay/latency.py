"""latency.py SUBMIT_TIMES SINK_TIMES - p50/p99 of (time received by the sink - time of the 250
at submission) over the subjects in both files. Run with /usr/bin/python3."""
import sys

sub = dict(l.rsplit(" ", 1) for l in open(sys.argv[1]).read().splitlines())
got = dict(l.rsplit(" ", 1) for l in open(sys.argv[2]).read().splitlines())
lat = sorted((float(got[s]) - float(t)) * 1000 for s, t in sub.items() if s in got)
if not lat:
    print("n=0")
    sys.exit(1)
pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
print("n=%d p50_ms=%.1f p99_ms=%.1f" % (len(lat), pick(0.5), pick(0.99)))
