#!/usr/bin/env bash
# under_api_load.sh - SMTP reply latency while the API imports records (issue 9: the API has its
# own thread and loop, so a 10 MB POST /v1/records:bulk must not delay SMTP). Not a timed test.
#
#   scripts/bench/smtp/under_api_load.sh        (uses ./build/mailagent, or $MAILAGENT)
#   IMPORTS=3 SESSIONS=200 scripts/bench/smtp/under_api_load.sh
#
# In one run against one `mailagent serve`: SESSIONS short SMTP sessions (greeting, EHLO, MAIL,
# RCPT, RSET, QUIT; one at a time) with the API idle, then the same while IMPORTS 10 MB bulk
# imports run back to back; prints p50/p99/max of the session time for both and the p99 ratio.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
MA=${MAILAGENT:-$ROOT/build/mailagent}
IMPORTS=${IMPORTS:-3}; SESSIONS=${SESSIONS:-200}
W=$(mktemp -d /tmp/mailagent-bench.XXXXXX)
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
SERVE=
cleanup() { [ -n "$SERVE" ] && kill "$SERVE" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT

SP=$(port); AP=$(port)
printf '[storage]\ndata_dir=%s/data\n[smtp]\nlisten=127.0.0.1:%s\ninbound_domain=inbound.bench\n[api]\nlisten=127.0.0.1:%s\n' \
  "$W" "$SP" "$AP" >"$W/mailagent.conf"
"$MA" init -c "$W/mailagent.conf" >/dev/null
"$MA" enterprise add -c "$W/mailagent.conf" --json --name Bench --slug bench --domain bench.example >"$W/ent.json"
"$MA" serve -c "$W/mailagent.conf" >"$W/serve.log" 2>&1 &
SERVE=$!
wait_port "$SP"; wait_port "$AP"

/usr/bin/python3 - "$SP" "$AP" "$W/ent.json" "$IMPORTS" "$SESSIONS" <<'PY'
import json, socket, sys, threading, time
sp, ap, ent, imports, sessions = int(sys.argv[1]), int(sys.argv[2]), json.load(open(sys.argv[3])), int(sys.argv[4]), int(sys.argv[5])
key, rcpt = ent["api_key"]["secret"], ent["inbound_address"]
lines = [json.dumps({"type": "contact", "id": "C%07d" % i, "name": "Contact %d" % i, "emails": ["c%d@x.example" % i]})
         for i in range(10 * 1024 * 1024 // 90)]
body = ("\n".join(lines) + "\n").encode()[:10 * 1024 * 1024 - 1]
body = body[:body.rfind(b"\n") + 1]

def reply(f):
    while True:
        line = f.readline()
        if line[3:4] != b"-":
            return line
def session():
    t0 = time.perf_counter()
    s = socket.create_connection(("127.0.0.1", sp), timeout=60)
    f = s.makefile("rb")
    reply(f)
    for cmd in [b"EHLO bench", b"MAIL FROM:<a@bench.example>", b"RCPT TO:<%s>" % rcpt.encode(), b"RSET", b"QUIT"]:
        s.sendall(cmd + b"\r\n"); reply(f)
    s.close()
    return (time.perf_counter() - t0) * 1000
def stats(xs):
    xs = sorted(xs)
    return "p50=%.1fms p99=%.1fms max=%.1fms" % (xs[len(xs) // 2], xs[int(len(xs) * 0.99)], xs[-1])
def bulk():
    for _ in range(imports):
        s = socket.create_connection(("127.0.0.1", ap), timeout=300)
        s.sendall(b"POST /v1/records:bulk HTTP/1.1\r\nHost: b\r\nAuthorization: Bearer %s\r\nContent-Type: application/x-ndjson\r\n"
                  b"Content-Length: %d\r\nConnection: close\r\n\r\n" % (key.encode(), len(body)) + body)
        while s.recv(65536):
            pass
for _ in range(20):
    session()  # warm-up
idle = [session() for _ in range(sessions)]
t = threading.Thread(target=bulk); t.start()
t0 = time.perf_counter()
loaded = []
while t.is_alive():
    loaded.append(session())
t.join()
took = time.perf_counter() - t0
p99 = lambda xs: sorted(xs)[int(len(xs) * 0.99)]
print("idle:   n=%d %s" % (len(idle), stats(idle)))
print("import: n=%d %s (during %d x %d MB bulk imports, %.1f s)" % (len(loaded), stats(loaded), imports, len(body) >> 20, took))
print("p99 ratio import/idle: %.1f" % (p99(loaded) / p99(idle)))
PY
