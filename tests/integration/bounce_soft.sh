#!/usr/bin/env bash
# bounce_soft.sh - soft bounces come back to the CRM as message.deferred (issue 14). A destination
# Postfix defers defer450@client.example at RCPT (450), so that recipient is deferred in the queue;
# DSNs saying "delayed" (RFC 3464) for it are delivered to its VERP return path through mailagent's
# inbound listener. Checked: each DSN is applied (the recipient stays deferred, its reply shows the
# diagnostic), each emits message.deferred carrying the classification under a key of its own,
# nothing is suppressed before the fifth in a row, and the accepted recipient is untouched.
source "$(dirname "$0")/lib/common.sh"
source "$FIXTURES_DIR/smtp/postfix.sh"
source "$(dirname "$0")/lib/outbound.sh"

chmod 755 "$T"
D=$T/pf_d; D_PORT=$(free_port)
pf_dest "$D" "$D_PORT" "smtpd_tls_security_level = none"
write_config "[relay]" "default_host=127.0.0.1:$D_PORT" "tls_mode=off" "default_path_scope=any" "bounce_domain=bounces.test" \
  "[queue]" "retry_initial=600"
ma init >/dev/null
ma enterprise add --name Acme --slug acme --domain acme.example --json >"$T/ent.json"
KEY=$(json_get "$T/ent.json" 'd["api_key"]["secret"]')
start_serve
db() { sqlite3 -readonly -cmd ".timeout 5000" "$T/data/mailagent.db" "$1"; }
api() { curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $KEY" "$@"; }

code=$(api -X POST -d '{"type":"mass","from":"sales@acme.example","to":["ok@client.example","defer450@client.example"],
  "subject":"Offer","text":"Hello\n"}' "http://127.0.0.1:$API_PORT/v1/messages:send")
assert_eq 202 "$code" "send: accepted"
ID=$(json_get "$T/body" 'd["id"]')
assert_eq deferred "$(wait_state "$ID" defer450@client.example deferred)" "Postfix's 450 deferred defer450@"
assert_eq sent "$(wait_state "$ID" ok@client.example sent)" "ok@ sent"
assert_eq 1 "$(db "select count(*) from outbox where event = 'message.deferred'")" "the delivery's own message.deferred"
# the return path Postfix saw for defer450@ (its NOQUEUE reject line names it)
VERP=$(grep -m1 -o 'from=<b[a-z2-7]*@bounces.test> to=<defer450@client.example>' "$D/maillog" | sed 's/^from=<\([^>]*\)>.*/\1/')
[[ "$VERP" =~ ^b[a-z2-7]{29}@bounces\.test$ ]] && pass "defer450@'s VERP return path ($VERP)" || fail "no VERP: [$VERP]"

dsn() { # STATUS DIAGNOSTIC -> a delayed DSN about defer450@ in $T/dsn.eml
  printf '%s\r\n' "From: MAILER-DAEMON@mx.client.example" "To: $VERP" "Subject: Delayed Mail (still being retried)" \
    "Message-ID: <dsn-$1@mx.client.example>" "MIME-Version: 1.0" \
    'Content-Type: multipart/report; report-type=delivery-status; boundary="B"' "" \
    "--B" "Content-Type: text/plain" "" "Delivery to defer450@client.example is delayed." \
    "--B" "Content-Type: message/delivery-status" "" "Reporting-MTA: dns; mx.client.example" "" \
    "Final-Recipient: rfc822; defer450@client.example" "Action: delayed" "Status: $1" "Diagnostic-Code: smtp; $2" "" \
    "--B" "Content-Type: text/rfc822-headers" "" "From: sales@acme.example" "To: defer450@client.example" "Subject: Offer" "" \
    "--B--" >"$T/dsn.eml"
}
deliver() { swaks --server 127.0.0.1 --port "$SMTP_PORT" --from '<>' --to "$VERP" --data "$T/dsn.eml" 2>&1 | grep -c "250 2.0.0 Ok: queued"; }
wait_deferred() { # N: waits (10 s at most) until the outbox holds N message.deferred; prints the count
  local n=0
  for _ in $(seq 1 100); do n=$(db "select count(*) from outbox where event = 'message.deferred'"); [ "$n" -ge "$1" ] && break; sleep 0.1; done
  echo "$n"
}
last_deferred() { db "select payload from outbox where event = 'message.deferred' order by seq desc limit 1"; }

dsn 4.2.2 "452 4.2.2 <defer450@client.example>: mailbox full"
assert_eq 1 "$(deliver)" "a delayed DSN (mailbox full) is accepted at the return path"
assert_eq 2 "$(wait_deferred 2)" "it emits message.deferred"
assert_eq "defer450@client.example deferred dsn delayed 4.2.2 mailboxfull False" \
  "$(last_deferred | json_get - '" ".join(str(x) for x in [d["recipient"], d["state"], d["bounce"]["kind"], d["bounce"]["action"], d["bounce"]["status"], d["bounce"]["reason"], d["bounce"]["hard"]])')" \
  "... for defer450@, still deferred, with the classification"
KEY1=$(last_deferred | json_get - 'd["idempotency_key"]')
assert_eq deferred "$(wait_state "$ID" defer450@client.example deferred)" "the recipient stays deferred"
api "http://127.0.0.1:$API_PORT/v1/outbound/$ID" >/dev/null
assert_contains "$(json_get "$T/body" '[r["reply"] for r in d["recipients"] if r["address"]=="defer450@client.example"][0]')" \
  "soft bounce 4.2.2 (mailboxfull)" "... its reply shows the diagnostic"

dsn 4.4.7 "421 4.4.7 <defer450@client.example>: message delayed, still trying"
assert_eq 1 "$(deliver)" "a second delayed DSN for the same attempt"
assert_eq 3 "$(wait_deferred 3)" "... is a second message.deferred"
KEY2=$(last_deferred | json_get - 'd["idempotency_key"]')
[ "$KEY1" != "$KEY2" ] && pass "the two events have different keys ($KEY1, $KEY2)" || fail "same key $KEY1"
assert_eq "4.4.7" "$(last_deferred | json_get - 'd["bounce"]["status"]')" "... carrying the second DSN's status"
assert_eq 0 "$(db "select count(*) from outbox where event = 'message.bounced'")" "no message.bounced"
assert_eq 0 "$(db "select count(*) from suppressions")" "two soft bounces suppress nothing"
assert_eq sent "$(wait_state "$ID" ok@client.example sent)" "ok@ untouched"
finish
