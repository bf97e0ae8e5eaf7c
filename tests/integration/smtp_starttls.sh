#!/usr/bin/env bash
# smtp_starttls.sh - STARTTLS: commands pipelined in plaintext behind STARTTLS are discarded, never
# answered inside TLS (CVE-2011-0411 class); the session restarts (EHLO required, STARTTLS no longer
# offered); openssl s_client negotiates TLS 1.2+; a stalled handshake is dropped by its timeout.
source "$(dirname "$0")/lib/common.sh"
source "$FIXTURES_DIR/smtp/setup.sh"

smtp_setup "[smtp]" "command_timeout=2"
start_serve

pyc "$SMTP_PORT" "$INBOUND" >"$T/inject.out" <<'PY'
import sys, time, smtpc
port, rcpt = int(sys.argv[1]), sys.argv[2]
c = smtpc.Client(port)
c.chat("EHLO injector.test")
c.send(b"STARTTLS\r\nRSET\r\nMAIL FROM:<evil@evil.example>\r\n")   # one segment
print("starttls", c.reply())
c.starttls()
extra = c.quiet(1.0)
print("inside_tls_unsolicited=[%s]" % extra.decode("utf-8", "replace").replace("\r\n", "|"))
print("mail_before_ehlo", c.chat("MAIL FROM:<alice@acme.example>"))
ehlo = c.chat("EHLO injector.test")
print("ehlo_has_starttls", "STARTTLS" in ehlo)
print("mail", c.chat("MAIL FROM:<alice@acme.example>"))
print("rcpt", c.chat("RCPT TO:<%s>" % rcpt))
print("data", c.chat("DATA"))
c.send("Subject: after tls\r\nMessage-ID: <tls-inject@acme.example>\r\n\r\nok\r\n.\r\n")
print("end", c.reply())
print("quit", c.chat("QUIT"))
# stalled handshake: STARTTLS accepted, then silence
s = smtpc.Client(port)
s.chat("EHLO staller.test")
print("stall_starttls", s.chat("STARTTLS"))
t0 = time.time()
closed = s.closed(timeout=6)
print("stall_closed", closed, "within_6s", time.time() - t0 < 6)
PY
out=$(cat "$T/inject.out")
echo "$out"
assert_contains "$out" "starttls 220 2.0.0" "STARTTLS answered 220"
assert_contains "$out" "inside_tls_unsolicited=[]" "no reply to the plaintext RSET/MAIL inside TLS"
assert_contains "$out" "mail_before_ehlo 503 5.5.1" "state reset after the handshake: EHLO required"
assert_contains "$out" "ehlo_has_starttls False" "STARTTLS not offered inside TLS"
assert_contains "$out" "end 250 2.0.0 Ok: queued as" "delivery inside TLS after the reset"
assert_contains "$out" "stall_starttls 220" "stalled handshake: STARTTLS accepted"
assert_contains "$out" "stall_closed True within_6s True" "stalled TLS handshake dropped by its timeout"

out=$( (printf 'EHLO s-client.test\r\n'; sleep 1; printf 'QUIT\r\n') | timeout 10 openssl s_client -starttls smtp -connect "127.0.0.1:$SMTP_PORT" -ign_eof 2>&1 || true)
assert_contains "$out" "Protocol  : TLSv1.3" "openssl s_client -starttls smtp negotiates TLS 1.3"
assert_contains "$out" "250 CHUNKING" "EHLO through openssl s_client"
out=$(printf 'QUIT\r\n' | timeout 10 openssl s_client -starttls smtp -tls1_1 -connect "127.0.0.1:$SMTP_PORT" 2>&1 || true)
assert_contains "$out" "Cipher is (NONE)" "TLS 1.1 refused"
assert_contains "$(cat "$T/serve.log")" "TLS handshake failed" "handshake failure logged"
assert_not_contains "$(cat "$T/serve.log")" "improper command pipelining" "no pipelining violation from s_client"

# SIGHUP reloads the certificate without dropping sessions
pyc "$SMTP_PORT" >"$T/held.out" <<'PY' &
import smtpc, time
c = smtpc.Client(int(__import__("sys").argv[1]))
c.chat("EHLO held.test")
time.sleep(1.5)
print("held_noop", c.chat("NOOP"))
PY
held=$!
sleep 0.3
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=reloaded.inbound.test" \
  -keyout "$T/data/tls/key.pem.new" -out "$T/data/tls/cert.pem.new" 2>/dev/null
mv "$T/data/tls/key.pem.new" "$T/data/tls/key.pem"; mv "$T/data/tls/cert.pem.new" "$T/data/tls/cert.pem"
kill -HUP "$SERVE_PID"
sleep 0.5
out=$( (sleep 1; printf 'QUIT\r\n') | timeout 10 openssl s_client -starttls smtp -connect "127.0.0.1:$SMTP_PORT" -ign_eof 2>&1 || true)
assert_contains "$out" "CN = reloaded.inbound.test" "SIGHUP: new sessions get the reloaded certificate"
wait "$held" || true
assert_contains "$(cat "$T/held.out")" "held_noop 250" "SIGHUP: a session open across the reload keeps working"

stop_serve
finish
