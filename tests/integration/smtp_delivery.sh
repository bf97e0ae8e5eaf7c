#!/usr/bin/env bash
# smtp_delivery.sh - real clients deliver through `mailagent serve`: swaks plain, STARTTLS and
# pipelined; BDAT (raw client); oversize by SIZE= and by actual size; bad syntax; unknown recipient;
# VRFY. Accepted messages reach the archive with provenance (route, employee, signal, client).
source "$(dirname "$0")/lib/common.sh"
source "$FIXTURES_DIR/smtp/setup.sh"

smtp_setup "[smtp]" "max_message_size=100000"
start_serve

sw() { swaks --server "127.0.0.1:$SMTP_PORT" --helo client.test --from alice@acme.example --to "$INBOUND" "$@" 2>&1; }

out=$(sw --header "Subject: plain" --header "Message-ID: <plain-1@acme.example>")
assert_contains "$out" "<-  250 2.0.0 Ok: queued as" "swaks plain delivery gets 250 after DATA"
assert_contains "$out" "250-ENHANCEDSTATUSCODES" "EHLO advertises ENHANCEDSTATUSCODES"
assert_contains "$out" "250-SIZE 100000" "EHLO advertises the configured SIZE"

out=$(sw --tls --header "Subject: tls" --header "Message-ID: <tls-1@acme.example>")
assert_contains "$out" "=== TLS started with cipher TLSv1." "STARTTLS handshake"
assert_contains "$out" "<~  250 2.0.0 Ok: queued as" "delivery inside TLS gets 250"
assert_not_contains "$(echo "$out" | grep '^<~  250-STARTTLS' || true)" "STARTTLS" "STARTTLS not offered again inside TLS"

out=$(sw --tls --tls-protocol tlsv1_1 --header "Subject: old" 2>&1 || true)
assert_not_contains "$out" "queued as" "TLS 1.1 is refused (TLS 1.2+ only)"

out=$(sw --pipeline --header "Subject: pipelined" --header "Message-ID: <pipe-1@acme.example>")
assert_contains "$out" "<-  250 2.0.0 Ok: queued as" "swaks --pipeline delivery"

out=$(swaks --server "127.0.0.1:$SMTP_PORT" --from alice@acme.example --to nobody-xyz@inbound.test 2>&1 || true)
assert_contains "$out" "<** 550 5.1.1" "unknown virtual address gets 550 5.1.1"

head -c 150000 /dev/zero | tr '\0' 'a' | fold -w 76 >"$T/big.txt"
out=$(sw --body "$T/big.txt" || true)
assert_contains "$out" "<** 552 5.3.4" "actual size over the limit gets 552 5.3.4 after DATA"

pyc "$SMTP_PORT" "$INBOUND" >"$T/raw.out" <<'PY'
import sys, smtpc
port, rcpt = int(sys.argv[1]), sys.argv[2]
c = smtpc.Client(port)
print("ehlo", smtpc.code(c.chat("EHLO raw.test")))
print("size", c.chat("MAIL FROM:<alice@acme.example> SIZE=100001"))
print("syntax", c.chat("MAIL FROM:alice@acme.example"))
print("param", c.chat("MAIL FROM:<alice@acme.example> FOO=BAR"))
print("vrfy", c.chat("VRFY alice"))
print("help", smtpc.code(c.chat("HELP")))
print("noop", c.chat("NOOP"))
# BDAT: pipelined MAIL/RCPT/BDAT chunks
body1 = b"Subject: bdat\r\nMessage-ID: <bdat-1@acme.example>\r\nFrom: alice@acme.example\r\n\r\n"
body2 = b".first line starts with a dot\r\n"
c.send(b"MAIL FROM:<alice@acme.example>\r\nRCPT TO:<" + rcpt.encode() + b">\r\nBDAT %d\r\n" % len(body1) + body1 +
       b"BDAT %d LAST\r\n" % len(body2) + body2)
print("bdat", " | ".join(c.replies(4)))
print("rset", c.chat("RSET"))
# 8BITMIME and SMTPUTF8
print("utf8_without", c.chat("MAIL FROM:<j\u00f6rg@acme.example>"))
print("utf8_mail", c.chat("MAIL FROM:<j\u00f6rg@acme.example> SMTPUTF8 BODY=8BITMIME"))
print("utf8_rcpt", c.chat("RCPT TO:<%s>" % rcpt))
print("utf8_data", smtpc.code(c.chat("DATA")))
c.send("Resent-From: alice@acme.example\r\nFrom: J\u00f6rg <j\u00f6rg@acme.example>\r\nSubject: gr\u00fc\u00dfe\r\nContent-Type: text/plain; charset=utf-8\r\n"
       "Content-Transfer-Encoding: 8bit\r\n\r\nGr\u00fc\u00dfe aus K\u00f6ln\r\n.\r\n")
print("utf8_end", c.reply())
print("quit", c.chat("QUIT"))
PY
raw=$(cat "$T/raw.out")
assert_contains "$raw" "ehlo 250" "raw EHLO"
assert_contains "$raw" "size 552 5.3.4" "SIZE= over the limit gets 552 5.3.4 at MAIL"
assert_contains "$raw" "syntax 501 5.1.7" "MAIL without <> gets 501 5.1.7"
assert_contains "$raw" "param 555 5.5.4" "unknown MAIL parameter gets 555 5.5.4"
assert_contains "$raw" "vrfy 252 2.0.0" "VRFY answers 252"
assert_contains "$raw" "help 214" "HELP answers 214"
assert_contains "$raw" "noop 250 2.0.0" "NOOP"
assert_contains "$raw" "bdat 250 2.1.0 Ok | 250 2.1.5 Ok | 250 2.0.0 " "BDAT chunk acknowledged"
assert_contains "$raw" "octets received | 250 2.0.0 Ok: queued as" "BDAT LAST gets the final 250"
assert_contains "$raw" "quit 221 2.0.0" "QUIT"
assert_contains "$raw" "utf8_without 553 5.6.7" "a UTF-8 address without SMTPUTF8 gets 553 5.6.7"
assert_contains "$raw" "utf8_mail 250 2.1.0" "SMTPUTF8 + BODY=8BITMIME accepted"
assert_contains "$raw" "utf8_end 250 2.0.0 Ok: queued as" "8-bit UTF-8 message accepted"

# address rotation: the new address and, during its grace period, the old one are both live
ma enterprise rotate-address acme --json >"$T/rot.json"
NEW=$(json_get "$T/rot.json" 'd["address"]')
out=$(swaks --server "127.0.0.1:$SMTP_PORT" --from alice@acme.example --to "$NEW" --header "Subject: rotated-new" 2>&1)
assert_contains "$out" "<-  250 2.0.0 Ok: queued as" "the rotated (new) address is accepted"
out=$(sw --header "Subject: rotated-old")
assert_contains "$out" "<-  250 2.0.0 Ok: queued as" "the old address still works in its grace period"
ma enterprise rotate-address acme --grace-days 0 >/dev/null   # NEW is replaced with no grace
sleep 1.1
out=$(swaks --server "127.0.0.1:$SMTP_PORT" --from alice@acme.example --to "$NEW" --header "Subject: expired" 2>&1 || true)
assert_contains "$out" "<** 550 5.1.1" "an address past its grace period gets 550 5.1.1"

n=$(wait_archived 7)
assert_eq 7 "$n" "seven accepted messages archived (plain, TLS, pipelined, BDAT, UTF-8, two after rotation)"
assert_eq "grüße" "$(db_query "select subject from messages where subject like 'gr%e'")" "the 8-bit subject is stored as sent (UTF-8)"
assert_eq "1" "$(db_query "select count(*) from messages where subject='bdat'")" "BDAT message archived"
prov=$(db_query "select p.route||' '||p.signal||' '||p.client||' '||p.envelope_from||' '||(p.employee_id is not null) from provenance p join messages m on m.id=p.message_id where m.subject='plain'")
assert_eq "smtp envelope_sender 127.0.0.1 alice@acme.example 1" "$prov" "provenance records route, signal, client, sender and employee"
assert_contains "$(cat "$T/serve.log")" "result=250 ack_ms=" "one log line per message with the time to acknowledge"
metrics=$(curl -s "http://127.0.0.1:$API_PORT/metrics")
assert_contains "$metrics" "mailagent_messages_received_total 7" "/metrics counts the 7 messages received by SMTP"
if [[ "$metrics" =~ mailagent_smtp_sessions_total\ ([0-9]+) ]] && [ "${BASH_REMATCH[1]}" -ge 9 ]; then
  pass "/metrics counts SMTP sessions (${BASH_REMATCH[1]})"; else fail "smtp sessions metric: $(echo "$metrics" | grep smtp_sessions)"; fi

stop_serve
finish
