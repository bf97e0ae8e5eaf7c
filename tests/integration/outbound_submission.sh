#!/usr/bin/env bash
# outbound_submission.sh - the SMTP submission listener with real clients (swaks, Python's smtplib):
# AUTH only after STARTTLS, the implicit-TLS listener of [submission] tls_listen (TLS from the
# first octet, no STARTTLS offered, a plaintext client gets no greeting), credentials from `mailagent submission add` (revocable), 250 with the
# outbound id once queued, a From outside the enterprise refused with 550, and delivery of what
# was accepted to a real Postfix (Bcc removed, Bcc recipient delivered).
source "$(dirname "$0")/lib/common.sh"
source "$FIXTURES_DIR/smtp/postfix.sh"
source "$(dirname "$0")/lib/outbound.sh"

chmod 755 "$T"
PF=$T/pf
PF_PORT=$(free_port)
pf_dest "$PF" "$PF_PORT" "smtpd_tls_security_level = none"
write_config "[relay]" "default_path_scope=any" "default_host=127.0.0.1:$PF_PORT" "tls_mode=off"
TLS_SUB_PORT=$(free_port)
sed -i "/^\[submission\]/a tls_listen=127.0.0.1:$TLS_SUB_PORT" "$CONF"
ma init >/dev/null
ma enterprise add --name Acme --slug acme --domain acme.example --json >"$T/ent.json"
KEY=$(json_get "$T/ent.json" 'd["api_key"]["secret"]')
ma submission add acme --label crm --json >"$T/cred.json"
U=$(json_get "$T/cred.json" 'd["username"]')
P=$(json_get "$T/cred.json" 'd["secret"]')
assert_contains "$(ma submission list acme)" "$U" "submission list shows the credential"
start_serve

sw() { swaks --server "127.0.0.1:$SUBMISSION_PORT" --from sales@acme.example --to ok@client.example \
  --header "Subject: via swaks" "$@" 2>&1 || true; }
out=$(sw --tls --auth PLAIN --auth-user "$U" --auth-password "$P")
assert_contains "$out" "235 2.7.0 Authentication successful" "swaks: AUTH PLAIN after STARTTLS"
assert_contains "$out" "250 2.0.0 Ok: queued as " "swaks: 250 once queued"
ID1=$(echo "$out" | sed -n 's/.*250 2.0.0 Ok: queued as \([a-z0-9]*\).*/\1/p' | head -1)
out=$(sw --auth PLAIN --auth-user "$U" --auth-password "$P")
assert_not_contains "$out" "235 2.7.0" "no AUTH without TLS"
assert_not_contains "$out" "queued as" "... and nothing queued"
out=$(sw --tls --auth LOGIN --auth-user "$U" --auth-password wrong)
assert_contains "$out" "535 5.7.8" "a wrong password is 535"
out=$(swaks --server "127.0.0.1:$SUBMISSION_PORT" --tls --from sales@acme.example --to ok@client.example 2>&1 || true)
assert_contains "$out" "530 5.7.0 Authentication required" "MAIL before AUTH is 530"
out=$(swaks --server "127.0.0.1:$SUBMISSION_PORT" --tls --auth PLAIN --auth-user "$U" --auth-password "$P" \
  --from ceo@globex.example --to ok@client.example --header "From: ceo@globex.example" 2>&1 || true)
assert_contains "$out" "550 5.7.1 from: ceo@globex.example is neither" "a From outside the enterprise is 550"

/usr/bin/python3 - "$SUBMISSION_PORT" "$U" "$P" >"$T/py.out" 2>&1 <<'PY' || true
import smtplib, ssl, sys
port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
msg = ("From: Sales <sales@acme.example>\r\nTo: ok@client.example\r\nBcc: blind@client.example\r\n"
       "Subject: via smtplib\r\n\r\nHello from Python.\r\n")
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
with smtplib.SMTP("127.0.0.1", port) as s:
    s.ehlo("crm.example"); s.starttls(context=ctx); s.ehlo("crm.example"); s.login(user, password)
    code, text = s.mail("sales@acme.example"); s.rcpt("ok@client.example"); s.rcpt("blind@client.example")
    code, text = s.data(msg)
    print(code, text.decode())
PY
assert_contains "$(cat "$T/py.out")" "250 2.0.0 Ok: queued as" "smtplib: STARTTLS, login, sendmail"
ID2=$(sed -n 's/.*queued as \([a-z0-9]*\).*/\1/p' "$T/py.out")
# implicit TLS (RFC 8314): the handshake first, then the session as after STARTTLS
out=$(swaks --server "127.0.0.1:$TLS_SUB_PORT" --tls-on-connect --auth PLAIN --auth-user "$U" --auth-password "$P" \
  --from sales@acme.example --to ok@client.example --header "Subject: via implicit TLS" 2>&1 || true)
assert_contains "$out" "235 2.7.0 Authentication successful" "implicit TLS: AUTH at once"
assert_not_contains "$out" "250-STARTTLS" "... STARTTLS is not offered inside TLS"
assert_contains "$out" "250 2.0.0 Ok: queued as " "... and the message is queued"
ID3=$(echo "$out" | sed -n 's/.*250 2.0.0 Ok: queued as \([a-z0-9]*\).*/\1/p' | head -1)
plain=$(/usr/bin/python3 - "$TLS_SUB_PORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3)
s.sendall(b"EHLO plain.example\r\n")
try:
    data = s.recv(100)
except OSError:  # time-out, or the TLS layer resetting the connection
    data = b""
print("greeted" if data.startswith(b"220") else "no greeting")
PY
)
assert_eq "no greeting" "$plain" "a plaintext client on the implicit-TLS port gets no SMTP greeting"
assert_eq sent "$(wait_state "$ID1" ok@client.example sent)" "the swaks message was delivered"
assert_eq sent "$(wait_state "$ID3" ok@client.example sent)" "the implicit-TLS message was delivered"
assert_eq sent "$(wait_state "$ID2" blind@client.example sent)" "the Bcc recipient of the smtplib message was delivered"
assert_eq 4 "$(wait_mbox "$PF" 4)" "Postfix received four copies"
assert_not_contains "$(cat "$PF/mail/inbox")" "Bcc:" "no Bcc header left the engine"

ma submission revoke acme "$U" >/dev/null
out=$(sw --tls --auth PLAIN --auth-user "$U" --auth-password "$P")
assert_contains "$out" "535 5.7.8" "a revoked credential is refused"
finish
