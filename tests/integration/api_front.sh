#!/usr/bin/env bash
# api_front.sh - the API's front reader against a real `mailagent serve` (issue 9): the key is
# checked from the request head, so a keyless or wrong-keyed request is answered 401 (JSON error)
# and closed before its body is even sent; a head arriving one octet at a time is judged the same
# way; open routes (/healthz) need no key; many keyless clients pushing 9 MB bodies leave the
# daemon's peak resident memory where it was; past [api] max_connections a request gets 503 and
# the refusal is counted in /metrics.
source "$(dirname "$0")/lib/common.sh"

write_config "[api]" "max_connections=48"
ma init >/dev/null
KEY=$(ma enterprise add --name Acme --slug acme --domain acme.example --json | json_get - 'd["api_key"]["secret"]')
start_serve

# pyh SCRIPT ARGS: python with API_PORT and KEY as argv[1], argv[2]
pyh() { /usr/bin/python3 - "$API_PORT" "$KEY" "$@"; }

# ---- 401 before the body --------------------------------------------------------------------
out=$(pyh <<'PY'
import socket, sys
port, key = int(sys.argv[1]), sys.argv[2]
def head_only(auth):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(("POST /v1/records:bulk HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/x-ndjson\r\n"
               "Content-Length: 9000000\r\n\r\n" % auth).encode())
    data = b""
    while True:  # the answer and the close come without one octet of the body sent
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace")
for auth in ["", "Authorization: Bearer mak_not_a_real_key_000000000000\r\n", "Authorization: Basic eDp5\r\n"]:
    r = head_only(auth)
    print(r.split("\r\n")[0], "closed" if "Connection: close" in r else "open", r.split("\r\n\r\n", 1)[1])
PY
)
echo "$out"
assert_eq 3 "$(grep -c '^HTTP/1.1 401 Unauthorized closed {"error":{"code":"unauthorized","message":' <<<"$out")" \
  "no key, an unknown key, a Basic header: 401 with the JSON error and a close, before any body"
assert_contains "$out" '"message":"missing API key' "the reason for a missing key"
assert_contains "$out" '"message":"invalid API key' "the reason for an unknown key"

# ---- a head one octet at a time --------------------------------------------------------------
out=$(pyh <<'PY'
import socket, sys, time
port, key = int(sys.argv[1]), sys.argv[2]
def trickle(head):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for b in head.encode():
        s.send(bytes([b]))
        time.sleep(0.0005)
    return s.recv(65536).decode(errors="replace").split("\r\n")[0]
print(trickle("GET /v1/settings HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n" % key))
print(trickle("GET /v1/settings HTTP/1.1\r\nHost: x\r\n\r\n"))
print(trickle("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"))
print(trickle("GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n"))
print(trickle("GET /v1/settings HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\n" % key))
PY
)
assert_eq "HTTP/1.1 200 OK
HTTP/1.1 401 Unauthorized
HTTP/1.1 200 OK
HTTP/1.1 401 Unauthorized
HTTP/1.1 200 OK" "$out" "trickled heads: key 200, no key 401, /healthz open, unknown path needs a key, LF-only end"

# ---- kept-alive and pipelined requests are each checked, answers in order ---------------------
out=$(pyh <<'PY'
import re, socket, sys, time
port, key = int(sys.argv[1]), sys.argv[2]
def read_all(s):
    data = b""
    while True:
        c = s.recv(65536)
        if not c: return data.decode(errors="replace")
        data += c
def statuses(text):
    return " ".join(re.findall(r"HTTP/1\.1 (\d{3}) ", text))
auth = "Authorization: Bearer %s\r\n" % key
body = '{"settings":{"archiving":"on"}}'
# 1. three requests in one segment: a PUT with a body, a GET, then a keyless POST announcing 9 MB
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(("PUT /v1/settings HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
           "GET /v1/settings HTTP/1.1\r\nHost: x\r\n%s\r\n"
           "POST /v1/records:bulk HTTP/1.1\r\nHost: x\r\nContent-Length: 9000000\r\n\r\n" % (auth, len(body), body, auth)).encode())
print(statuses(read_all(s)))
# 2. kept alive: one good request, its answer, then a keyless one
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(("GET /v1/settings HTTP/1.1\r\nHost: x\r\n%s\r\n" % auth).encode())
first = s.recv(65536).decode(errors="replace")
time.sleep(0.1)
s.sendall(b"POST /v1/records:bulk HTTP/1.1\r\nHost: x\r\nContent-Length: 9000000\r\n\r\n")
print(statuses(first), statuses(read_all(s)))
PY
)
assert_eq "200 200 401
200 401" "$out" "pipelined and kept-alive requests: each head is checked, a keyless one gets 401 after the answers before it, then the close"

# ---- a reply followed by evhttp's close arrives whole (the front writes replies straight on) ----
out=$(pyh <<'PY'
import json, socket, sys
port, key = int(sys.argv[1]), sys.argv[2]
for head in ["GET /v1/settings HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n" % key,
             "GET /v1/settings HTTP/1.0\r\nAuthorization: Bearer %s\r\n\r\n" % key]:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(head.encode())
    data = b""
    while True:
        c = s.recv(65536)
        if not c: break
        data += c
    h, body = data.split(b"\r\n\r\n", 1)
    n = [int(l.split(b":")[1]) for l in h.split(b"\r\n") if l.lower().startswith(b"content-length:")]
    whole = len(body) == n[0] if n else "settings" in json.loads(body)
    print(h.split(b"\r\n")[0].decode(), "whole" if whole else "cut %d/%s" % (len(body), n))
PY
)
assert_eq "HTTP/1.1 200 OK whole
HTTP/1.0 200 OK whole" "$out" "replies before a close (Connection: close, HTTP/1.0) arrive whole"
# a 4 MB page to a client that reads slowly through a small receive buffer, then the close
/usr/bin/python3 -c '
import json
for i in range(200):
    print(json.dumps({"type": "contact", "id": "BIG-%03d" % i, "attributes": {"blob": "x" * 20000}}))' >"$T/big.jsonl"
assert_eq 200 "$(curl -sS -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $KEY" \
  -H 'Content-Type: application/x-ndjson' --data-binary @"$T/big.jsonl" "http://127.0.0.1:$API_PORT/v1/records:bulk")" "200 big records imported"
out=$(pyh <<'PY'
import socket, sys, time
port, key = int(sys.argv[1]), sys.argv[2]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.settimeout(10)
s.connect(("127.0.0.1", port))
s.sendall(("GET /v1/records/contact?limit=200 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n" % key).encode())
time.sleep(0.5)
data = b""
while True:
    c = s.recv(8192)
    if not c: break
    data += c
    if len(data) < 200000: time.sleep(0.002)
h, body = data.split(b"\r\n\r\n", 1)
n = int([l.split(b":")[1] for l in h.split(b"\r\n") if l.lower().startswith(b"content-length:")][0])
print("whole" if len(body) == n and n > 4000000 else "cut %d/%d" % (len(body), n))
PY
)
assert_eq whole "$out" "a 4 MB reply to a slow reader, then the close: every octet arrives"

# ---- keyless clients with big bodies do not grow the daemon ----------------------------------
hwm() { awk '/^VmHWM/ {print $2}' "/proc/$SERVE_PID/status"; }
rss_before=$(awk '/^VmRSS/ {print $2}' "/proc/$SERVE_PID/status")
hwm_before=$(hwm)
out=$(pyh <<'PY'
import socket, sys, threading
port = int(sys.argv[1])
body = b"x" * (1 << 20)
answers = []
def client():
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    try:
        s.sendall(b"POST /v1/records:bulk HTTP/1.1\r\nHost: x\r\nContent-Length: 9437184\r\n\r\n")
        for _ in range(9):
            s.sendall(body)
    except OSError:
        pass
    try:
        answers.append(s.recv(64).split(b"\r\n")[0].decode())
    except OSError as e:
        answers.append("error " + type(e).__name__)
ts = [threading.Thread(target=client) for _ in range(40)]
for t in ts: t.start()
for t in ts: t.join()
print(sum(1 for a in answers if a == "HTTP/1.1 401 Unauthorized"), len(answers))
PY
)
hwm_after=$(hwm)
grown_kb=$((hwm_after - (hwm_before > rss_before ? hwm_before : rss_before)))
[ "$grown_kb" -lt 0 ] && grown_kb=0
echo "peak RSS before ${hwm_before} kB, after ${hwm_after} kB; clients: $out"
read -r n401 nall <<<"$out"
assert_eq 40 "$nall" "forty keyless clients each pushed a 9 MB body"
[ "$n401" -ge 30 ] && pass "most saw the 401 before their send failed ($n401/40)" || fail "only $n401/40 clients read a 401"
# 40 x 9 MB = 360 MB offered; evhttp buffering them would raise the peak by hundreds of MB
[ "$grown_kb" -lt 32768 ] && pass "peak RSS grew by ${grown_kb} kB (< 32 MB) for 360 MB of keyless bodies" \
  || fail "peak RSS grew by ${grown_kb} kB for keyless bodies"
assert_contains "$(curl -sS "http://127.0.0.1:$API_PORT/metrics")" "mailagent_api_unauthenticated_total" "the 401s are counted"
n=$(curl -sS "http://127.0.0.1:$API_PORT/metrics" | awk '/^mailagent_api_unauthenticated_total/ {print $2}')
[ "${n:-0}" -ge 45 ] && pass "mailagent_api_unauthenticated_total counts every head-time 401 ($n)" || fail "unauthenticated count $n < 45"

# ---- the connection cap ----------------------------------------------------------------------
out=$(pyh <<'PY'
import socket, sys, time
port, key = int(sys.argv[1]), sys.argv[2]
idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(48)]
time.sleep(0.3)  # let the server accept them all
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(("GET /v1/settings HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n" % key).encode())
r = b""
while True:
    c = s.recv(65536)
    if not c: break
    r += c
print(r.decode().split("\r\n")[0], r.decode().split("\r\n\r\n", 1)[1])
for c in idle: c.close()
PY
)
assert_eq 'HTTP/1.1 503 Service Unavailable {"error":{"code":"busy","message":"too many API connections, try again later"}}' \
  "$out" "the 49th connection with max_connections=48: 503 JSON and closed, even with a valid key"
ok=no
for _ in $(seq 1 50); do
  m=$(curl -sS -H "Authorization: Bearer $KEY" "http://127.0.0.1:$API_PORT/metrics" 2>/dev/null || true)
  if [[ "$m" == *"mailagent_api_connections_refused_total 1"* ]]; then ok=yes; break; fi
  sleep 0.1
done
assert_eq yes "$ok" "the refusal is counted (mailagent_api_connections_refused_total 1) and the slots come back"

stop_serve
finish
