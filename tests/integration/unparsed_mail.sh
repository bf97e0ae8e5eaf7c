#!/usr/bin/env bash
# unparsed_mail.sh - mail that cannot be parsed is never acknowledged and then dropped. Over SMTP
# the server tells from the first bytes and refuses before its 250 (554 5.6.0 with the reason):
# empty DATA, a leading blank line, a first line that is not a header field, a first line that
# starts with a space; a good message in the same session is still accepted and archived. What
# is accepted anyway (through `mailagent ingest`, or a first line the server lets pass) is
# archived unparsed: raw kept, parse_error in the API's message JSON and in the webhook payload,
# a second copy a duplicate of the first.
source "$(dirname "$0")/lib/common.sh"
source "$FIXTURES_DIR/smtp/setup.sh"

smtp_setup
ma settings acme forwarder_policy=any >/dev/null
start_serve

# ---- SMTP: refused before the 250 --------------------------------------------------------------
/usr/bin/python3 - "$SMTP_PORT" "$INBOUND" >"$T/smtp.out" <<'PY'
import smtplib, sys
port, rcpt = int(sys.argv[1]), sys.argv[2]
cases = [
    ("empty", b""),
    ("blank", b"\r\nSubject: lost\r\nFrom: a@client.example\r\n\r\nbody\r\n"),
    ("not-header", b"hello there\r\nSubject: x\r\n\r\nbody\r\n"),
    ("space", b" Subject: x\r\nFrom: a@client.example\r\n\r\nbody\r\n"),
    ("good", b"Subject: fine after the refusals\r\nFrom: a@client.example\r\n\r\nbody\r\n"),
]
s = smtplib.SMTP("127.0.0.1", port)
s.ehlo("client.test")
for name, data in cases:
    s.mail("a@client.example")
    s.rcpt(rcpt)
    code, text = s.data(data)
    print(name, code, text.decode())
s.quit()
PY
out=$(cat "$T/smtp.out")
echo "$out"
assert_contains "$out" "empty 554 5.6.0 Message refused: the message" "empty DATA refused with 554 5.6.0"
assert_contains "$out" "blank 554 5.6.0 Message refused: the message starts with a blank line" "leading blank line refused"
assert_contains "$out" "not-header 554 5.6.0 Message refused: the first line is not a header field" "first line not a header refused"
assert_contains "$out" "space 554 5.6.0 Message refused: the first line starts with white space" "leading space refused"
assert_contains "$out" "good 250 2.0.0 Ok: queued as" "a good message in the same session is accepted"
assert_eq 1 "$(wait_archived 1 10)" "only the good message archived"
assert_eq 4 "$(grep -c 'result=554' "$T/serve.log")" "each refusal logged with its reason"

# ---- ingest: archived unparsed, visible in the API ---------------------------------------------
printf 'hello there\r\nthis was never a mail message\r\n' >"$T/bad.eml"
ma ingest acme "$T/bad.eml" --json >"$T/ingest.json"
assert_eq "archived no message header found" "$(json_get "$T/ingest.json" 'd["result"] + " " + d["parse_error"]')" \
  "ingest archives it unparsed, saying why"
MSG=$(json_get "$T/ingest.json" 'd["id"]')
assert_contains "$(ma ingest acme "$T/bad.eml")" "duplicate of $MSG" "a second copy is a duplicate of the unparsed message"
KEY=$(ma apikey create acme --json | json_get - 'd["secret"]')
curl -sS "http://127.0.0.1:$API_PORT/v1/messages/$MSG" -H "Authorization: Bearer $KEY" >"$T/msg.json"
assert_eq "no message header found" "$(json_get "$T/msg.json" 'd["parse_error"]')" "parse_error in the API's message JSON"
assert_eq "None" "$(json_get "$T/msg.json" 'd["thread_id"]')" "no thread for an unparsed message"
curl -sS "http://127.0.0.1:$API_PORT/v1/messages/$MSG/raw" -H "Authorization: Bearer $KEY" >"$T/raw.eml"
assert_eq "$(sha256sum <"$T/bad.eml" | cut -d' ' -f1)" "$(sha256sum <"$T/raw.eml" | cut -d' ' -f1)" "the raw octets are kept"
good=$(db_query "select id from messages where subject = 'fine after the refusals'")
curl -sS "http://127.0.0.1:$API_PORT/v1/messages/$good" -H "Authorization: Bearer $KEY" >"$T/good.json"
assert_eq "None" "$(json_get "$T/good.json" 'd["parse_error"]')" "a parsed message has parse_error null"
assert_contains "$(db_query "select payload from outbox where idempotency_key = 'message.archived:$MSG'")" \
  '"parse_error":"no message header found"' "the message.archived event carries parse_error"

finish
