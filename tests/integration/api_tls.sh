#!/usr/bin/env bash
# api_tls.sh - the API over TLS ([api] tls_cert_file / tls_key_file, here the self-signed pair
# `mailagent init` makes): HTTPS answers with the JSON error shape and auth as over HTTP, plain
# HTTP on the TLS port gets no answer, the front reader's head-time 401 and whole replies before a
# close work inside TLS, SIGHUP reloads the certificate (a bad one is refused and the old one
# kept), and serve refuses to start with an unusable key file.
. "$(dirname "$0")/lib/common.sh"

# The API's own copy of the pair `mailagent init` makes (SMTP keeps using the original).
write_config "[api]" "tls_cert_file=$T/api-cert.pem" "tls_key_file=$T/api-key.pem"
# write_config wrote [api] listen before; GKeyFile merges the repeated group.
out=$(ma init 2>&1)
cp "$T/data/tls/cert.pem" "$T/api-cert.pem"
cp "$T/data/tls/key.pem" "$T/api-key.pem"
KEY=$(ma enterprise add --name "Acme" --domain acme.example --slug acme --json | json_get - 'd["api_key"]["secret"]')
start_serve
API=https://127.0.0.1:$API_PORT

got=$(curl -sS -k -w ' %{http_code}' "$API/healthz" || true)
assert_eq '{"status":"ok"} 200' "$(tr -d '\n' <<<"$got")" "healthz over TLS"
got=$(curl -sS -k -o /dev/null -w '%{http_code}' "$API/v1/settings" || true)
assert_eq 401 "$got" "no key over TLS is 401"
got=$(curl -sS -k -o "$T/s.json" -w '%{http_code}' -H "Authorization: Bearer $KEY" "$API/v1/settings" || true)
assert_eq "200 on" "$got $(json_get "$T/s.json" 'd["settings"]["archiving"]')" "settings over TLS"
proto=$(curl -sS -k -o /dev/null -w '%{ssl_verify_result} %{http_version}' "$API/healthz" 2>&1 || true)
assert_contains "$proto" "1.1" "HTTP/1.1 inside TLS"
got=$(curl -sS -m 3 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$API_PORT/healthz" 2>/dev/null || true)
assert_not_contains "$got" "200" "plain HTTP on the TLS port is not served"
# the front reader works inside TLS too: 401 from the head, before the body, then the close; replies
# followed by a close arrive whole, a 4 MB one to a slow reader included
/usr/bin/python3 -c '
import json
for i in range(200):
    print(json.dumps({"type": "contact", "id": "BIG-%03d" % i, "attributes": {"blob": "x" * 20000}}))' >"$T/big.jsonl"
assert_eq 200 "$(curl -sS -k -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $KEY" \
  -H 'Content-Type: application/x-ndjson' --data-binary @"$T/big.jsonl" "$API/v1/records:bulk")" "big records imported over TLS"
got=$(/usr/bin/python3 - "$API_PORT" "$KEY" <<'PY'
import socket, ssl, sys, time
port, key = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
def exchange(head, slow=False):
    raw = socket.socket()
    if slow:
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.settimeout(10)
    raw.connect(("127.0.0.1", port))
    s = ctx.wrap_socket(raw)
    s.sendall(head.encode())
    if slow:
        time.sleep(0.5)
    data = b""
    while True:
        try:
            c = s.recv(8192)
        except (ssl.SSLError, OSError):
            break
        if not c: break
        data += c
    return data
def whole(data):
    h, body = data.split(b"\r\n\r\n", 1)
    n = int([l.split(b":")[1] for l in h.split(b"\r\n") if l.lower().startswith(b"content-length:")][0])
    return h.split(b"\r\n")[0].decode() + (" whole" if len(body) == n else " cut %d/%d" % (len(body), n))
r = exchange("POST /v1/records:bulk HTTP/1.1\r\nHost: x\r\nContent-Length: 9000000\r\n\r\n")
print(whole(r))
print(whole(exchange("GET /v1/settings HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n" % key)))
print(whole(exchange("GET /v1/records/contact?limit=200 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                     "Connection: close\r\n\r\n" % key, slow=True)))
PY
)
assert_eq 'HTTP/1.1 401 Unauthorized whole
HTTP/1.1 200 OK whole
HTTP/1.1 200 OK whole' "$got" "over TLS: keyless 401 from the head and closed; replies before a close arrive whole (4 MB to a slow reader too)"

# SIGHUP reloads the certificate: new connections get the new one, the open one keeps working.
fingerprint() { openssl s_client -connect "127.0.0.1:$API_PORT" </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256; }
before=$(fingerprint)
assert_contains "$before" "Fingerprint" "the API presents a certificate"
exec 5<>/dev/tcp/127.0.0.1/"$API_PORT"   # a connection opened before the reload
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=api-reloaded.test" \
  -keyout "$T/new-key.pem" -out "$T/new-cert.pem" 2>/dev/null
cp "$T/new-cert.pem" "$T/api-cert.pem"
cp "$T/new-key.pem" "$T/api-key.pem"
kill -HUP "$SERVE_PID"
for _ in $(seq 1 50); do grep -q "configuration reloaded" "$T/serve.log" && break; sleep 0.1; done
after=$(fingerprint)
assert_eq "$(openssl x509 -in "$T/new-cert.pem" -noout -fingerprint -sha256)" "$after" "after SIGHUP the API presents the new certificate"
got=$(curl -sS -k -w ' %{http_code}' "$API/healthz" || true)
assert_eq '{"status":"ok"} 200' "$(tr -d '\n' <<<"$got")" "healthz over TLS after the reload"
kill -0 "$SERVE_PID" 2>/dev/null && pass "serve survives the reload" || fail "serve died on SIGHUP"
exec 5>&-
# a broken key on reload: the previous certificate stays and the log says why
echo "not a key" >"$T/api-key.pem"
kill -HUP "$SERVE_PID"
for _ in $(seq 1 50); do grep -q "reload: api" "$T/serve.log" && break; sleep 0.1; done
assert_contains "$(cat "$T/serve.log")" "kept its previous TLS certificate" "a bad key on reload is refused with a reason"
assert_eq "$after" "$(fingerprint)" "the previous certificate is still served"
stop_serve

# an unusable key file: serve must refuse to start, naming the [api] TLS setting
echo "not a key" >"$T/bad.pem"
sed -i "s|^tls_key_file=.*|tls_key_file=$T/bad.pem|" "$CONF"
if timeout 10 "$MAILAGENT" serve -c "$CONF" >"$T/bad.log" 2>&1; then
  fail "serve started with an unusable TLS key"
else
  assert_contains "$(cat "$T/bad.log")" "TLS" "serve refuses a bad API TLS key and says why"
fi
finish
