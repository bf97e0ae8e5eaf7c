#!/usr/bin/env bash
# outbound_postfix.sh - the outbound engine end to end against a real Postfix as the destination
# (smart host path, TLS off): POST /v1/messages:send with an Idempotency-Key, per-recipient outcomes
# (250, 550 at RCPT, 450 at RCPT), Bcc absent from the delivered copy, webhook events in the outbox,
# the retry schedule and expiry by the test clock, `mailagent send` and `mailagent queue`, and the
# delivery states on the archived copy's timeline entry, read through the API's page cache; the
# request's records (an unknown one refused, 422) linked to the archived copy.
# Assertions come from the receiving side: Postfix's mailbox and log.
source "$(dirname "$0")/lib/common.sh"
source "$FIXTURES_DIR/smtp/postfix.sh"
source "$(dirname "$0")/lib/outbound.sh"

chmod 755 "$T"
PF=$T/pf
PF_PORT=$(free_port)
pf_dest "$PF" "$PF_PORT" "smtpd_tls_security_level = none"

clock_start 1800000000
write_config "[relay]" "default_path_scope=any" "default_host=127.0.0.1:$PF_PORT" "tls_mode=off" \
  "[queue]" "retry_initial=300" "retry_max=3600" "max_age=7200"
ma init >/dev/null
ma enterprise add --name Acme --slug acme --domain acme.example --json >"$T/ent.json"
KEY=$(json_get "$T/ent.json" 'd["api_key"]["secret"]')
echo '{"type":"contact","id":"c1","name":"Ok","emails":["ok@client.example"]}
{"type":"opportunity","id":"o1","name":"Deal Q-17","stage":"open"}' | ma records import acme - >/dev/null
start_serve

api() { curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $KEY" "$@"; }
BODY='{"type":"workflow","from":"Sales <sales@acme.example>","to":["ok@client.example","reject550@client.example"],
 "cc":"defer450@client.example","bcc":["hidden@client.example"],"subject":"Quote Q-17 — ready",
 "text":"Hello,\n.your quote is attached.\n","attachments":[{"filename":"q.txt","content_type":"text/plain","content":"UXVvdGUgMTc="}],
 "records":[{"type":"contact","id":"c1"},{"type":"opportunity","id":"o1"}]}'
code=$(api -X POST -H "Idempotency-Key: k-1" -d "$BODY" "http://127.0.0.1:$API_PORT/v1/messages:send")
assert_eq 202 "$code" "send: 202 Accepted"
ID=$(json_get "$T/body" 'd["id"]')
FIRST=$(cat "$T/body")
assert_eq "queued queued queued queued" "$(json_get "$T/body" '" ".join(r["state"] for r in d["recipients"])')" "every recipient queued"

# the same key and body: the first answer; another body: 409
code=$(api -D "$T/headers" -X POST -H "Idempotency-Key: k-1" -d "$BODY" "http://127.0.0.1:$API_PORT/v1/messages:send")
assert_eq "202 $FIRST" "$code $(cat "$T/body")" "a retried request gets the first answer"
assert_contains "$(cat "$T/headers")" "Idempotent-Replayed: true" "marked as replayed"
code=$(api -X POST -H "Idempotency-Key: k-1" -d '{"from":"sales@acme.example","to":"x@client.example","text":"x"}' \
  "http://127.0.0.1:$API_PORT/v1/messages:send")
assert_eq 409 "$code" "the same key with another body is 409"
code=$(api -X POST -d '{"from":"ceo@globex.example","to":"x@client.example","text":"x"}' "http://127.0.0.1:$API_PORT/v1/messages:send")
assert_eq 422 "$code" "a From outside the enterprise's domains is refused"
code=$(api -X POST -d '{"from":"sales@acme.example","to":"x@client.example","text":"x","channel":"mailagent_relay"}' \
  "http://127.0.0.1:$API_PORT/v1/messages:send")
assert_eq 422 "$code" "channel mailagent_relay needs the domain in the verified domain scope"
assert_contains "$(cat "$T/body")" "channel mailagent_relay" "... and says so"
# records the request names must exist: refused before anything is queued, naming the record
QUEUED=$(sqlite3 -readonly "$T/data/mailagent.db" "select count(*) from outbound_messages")
code=$(api -X POST -d '{"from":"sales@acme.example","to":"ok@client.example","text":"x",
 "records":[{"type":"contact","id":"c1"},{"type":"lead","id":"L-404"}]}' "http://127.0.0.1:$API_PORT/v1/messages:send")
assert_eq 422 "$code" "an unknown record in records is 422"
assert_eq 'records[1]: no lead "L-404" in this enterprise' "$(json_get "$T/body" 'd["error"]["message"]')" "... naming it"
assert_eq "$QUEUED" "$(sqlite3 -readonly "$T/data/mailagent.db" "select count(*) from outbound_messages")" "... and nothing was queued"
out=$(ma send acme --from sales@acme.example --to ok@client.example --subject x --text x --record contact:nobody 2>&1 || true)
assert_eq 'mailagent: send: records[0]: no contact "nobody" in this enterprise' "$out" "mailagent send --record: the same refusal"
assert_status 2 ma send acme --from sales@acme.example --to ok@client.example --subject x --text x --record deal:o1
# a file that cannot be read is a usage error, before anything is queued (these paths once left
# the command's auto-freed error and response unset: a crash instead of a message)
assert_status 2 ma send acme --from sales@acme.example --to ok@client.example --subject x --text x --attach "$T/no-such-file"
assert_contains "$(cat "$T/last.err")" "--attach: " "... naming the option"
assert_status 2 ma send acme "$T/no-such-message.eml"
assert_eq "$QUEUED" "$(sqlite3 -readonly "$T/data/mailagent.db" "select count(*) from outbound_messages")" "... and nothing was queued"

assert_eq sent "$(wait_state "$ID" ok@client.example sent)" "ok@ delivered"
assert_eq sent "$(wait_state "$ID" hidden@client.example sent)" "the Bcc recipient delivered"
assert_eq bounced "$(wait_state "$ID" reject550@client.example bounced)" "550 at RCPT: bounced"
assert_eq deferred "$(wait_state "$ID" defer450@client.example deferred)" "450 at RCPT: deferred"
api "http://127.0.0.1:$API_PORT/v1/outbound/$ID" >/dev/null
assert_contains "$(cat "$T/body")" '"reply":"550 5.1.1 <reject550@client.example>' "the remote 550 is kept"
assert_eq 1 "$(json_get "$T/body" '[r["attempts"] for r in d["recipients"] if r["address"].startswith("defer")][0]')" "one attempt so far"

assert_eq 2 "$(wait_mbox "$PF" 2)" "Postfix's mailbox holds the two accepted copies"
mbox=$(cat "$PF/mail/inbox")
assert_not_contains "$mbox" "hidden@client.example>" "no Bcc header (nor its address) in the delivered copy"
assert_contains "$mbox" "Subject: =?UTF-8?B?" "non-ASCII subject as an encoded-word"
assert_contains "$mbox" $'\n.your quote is attached.' "a line starting with a dot arrives whole (dot-stuffing)"
assert_contains "$mbox" "UXVvdGUgMTc=" "the attachment arrived base64"
assert_contains "$(cat "$PF/maillog")" "reject: RCPT from" "Postfix refused reject550@ at RCPT (its log)"

db() { sqlite3 -readonly -cmd ".timeout 5000" "$T/data/mailagent.db" "$1"; }
assert_eq "reject550@client.example|hard_bounce" "$(db "select address, reason from suppressions")" \
  "a 5xx classified hard (5.1.1 userunknown) suppresses the address; a 4xx does not"
assert_eq "message.bounced|1
message.deferred|1
message.sent|2" "$(db "select event, count(*) from outbox where event in ('message.sent','message.deferred','message.bounced') group by event order by event")" \
  "webhook events: 2 sent, 1 bounced, 1 deferred"

# the archived copy's timeline entry shows each recipient's delivery state; the API serves the page
# from its per-enterprise cache, which the queue's state changes invalidate (read again below)
delivery() { # the Q-17 entry's delivery states from the API's timeline page of contact c1
  api "http://127.0.0.1:$API_PORT/v1/records/contact/c1/timeline" >/dev/null
  json_get "$T/body" '", ".join(r["address"].split("@")[0] + " " + r["state"] for i in d["items"] if "Q-17" in i.get("subject", "") for r in sorted(i.get("delivery", []), key=lambda r: r["address"]))'
}
for _ in $(seq 1 50); do [ -n "$(delivery)" ] && break; sleep 0.1; done
TL1="defer450 deferred, hidden sent, ok sent, reject550 bounced"
assert_eq "$TL1" "$(delivery)" "the timeline entry shows every recipient's delivery state"
assert_eq "$TL1" "$(delivery)" "... the same page again (from the cache)"
assert_contains "$(json_get "$T/body" '[r["reply"] for i in d["items"] if "Q-17" in i.get("subject", "") for r in i["delivery"] if r["state"] == "bounced"][0]')" \
  "550 5.1.1" "... with the remote reply"
assert_eq 1 "$(json_get "$T/body" '[r["attempts"] for i in d["items"] if "Q-17" in i.get("subject", "") for r in i["delivery"] if r["state"] == "deferred"][0]')" \
  "... and the attempts so far"
AMID=$(json_get "$T/body" '[i["id"] for i in d["items"] if "Q-17" in i.get("subject", "")][0]')
api "http://127.0.0.1:$API_PORT/v1/messages/$AMID" >/dev/null
assert_eq "deferred" "$(json_get "$T/body" '[r["state"] for r in d["delivery"] if r["address"].startswith("defer450")][0]')" \
  "GET /v1/messages/{id} shows the delivery states too"

# the retry schedule: nothing before 300 s, an attempt after; the same reason emits no new event
clock_advance 200; sleep 1.5
assert_eq 1 "$(db "select attempts from outbound_recipients where address like 'defer450%'")" "no retry before 300 s"
clock_advance 150
for _ in $(seq 1 50); do
  [ "$(db "select attempts from outbound_recipients where address like 'defer450%'")" == 2 ] && \
  [ "$(db "select state from outbound_recipients where address like 'defer450%'")" == deferred ] && break; sleep 0.1
done
assert_eq "2 deferred" "$(db "select attempts||' '||state from outbound_recipients where address like 'defer450%'")" "retried after 300 s, deferred again"
assert_eq 1 "$(db "select count(*) from outbox where event='message.deferred'")" "message.deferred not repeated for the same reason"
# past max_age: expired, reported as a bounce
clock_advance 7200
assert_eq expired "$(wait_state "$ID" defer450@client.example expired)" "expired after [queue] max_age"
assert_eq 2 "$(db "select count(*) from outbox where event='message.bounced'")" "expiry emits message.bounced"
assert_eq "defer450 expired, hidden sent, ok sent, reject550 bounced" "$(delivery)" \
  "the cached timeline page follows the retry and the expiry (the queue moved the archive version)"

# the sent message is archived as outbound mail through the pipeline, linked to the contact
for _ in $(seq 1 50); do ma timeline acme contact c1 --json >"$T/timeline.json" 2>/dev/null; grep -q "Q-17" "$T/timeline.json" && break; sleep 0.1; done
assert_eq "outbound Quote Q-17 — ready" "$(json_get "$T/timeline.json" '[i["direction"]+" "+i["subject"] for i in d["items"] if i.get("kind")=="message"][0]')" \
  "the sent message is in the contact's timeline as outbound"
# ... and to the opportunity the request named (no participant of the message matches it)
ma timeline acme opportunity o1 --json >"$T/timeline-o1.json"
assert_eq "outbound Quote Q-17 — ready" "$(json_get "$T/timeline-o1.json" '[i["direction"]+" "+i["subject"] for i in d["items"] if i.get("kind")=="message"][0]')" \
  "the request's records: the sent message is on the named opportunity's timeline"
api "http://127.0.0.1:$API_PORT/v1/messages/$AMID/explain" >/dev/null
assert_eq "contact c1: to ok@client.example = contact c1 | opportunity o1: named by the send request" \
  "$(json_get "$T/body" '" | ".join(sorted(l["type"] + " " + l["id"] + ": " + str(l.get("reason")) for l in d["links"]))')" \
  "explain: the named record's link reason, beside the recipient's"

metrics=$(curl -s "http://127.0.0.1:$API_PORT/metrics")
assert_contains "$metrics" 'mailagent_outbound_recipients{state="sent"} 2' "/metrics: recipients sent"
assert_contains "$metrics" 'mailagent_outbound_recipients{state="expired"} 1' "/metrics: recipients expired"

# the CLI: send a complete message, list, show
cat >"$T/msg.eml" <<'EML'
From: Sales <sales@acme.example>
To: ok@client.example
Bcc: hidden2@client.example
Subject: from the CLI

Body line one.
EML
out=$(ma send acme "$T/msg.eml" --record opportunity:o1)
assert_contains "$out" "queued " "mailagent send queues a message file"
ID2=${out#queued }
assert_eq sent "$(wait_state "$ID2" hidden2@client.example sent)" "the Bcc recipient of a message file is delivered"
assert_eq 4 "$(wait_mbox "$PF" 4)" "two more copies in the mailbox"
assert_not_contains "$(cat "$PF/mail/inbox")" "Bcc:" "Bcc removed from a complete message"
assert_contains "$(cat "$PF/mail/inbox")" "Message-ID: <" "a Message-ID was added"
for _ in $(seq 1 50); do ma timeline acme opportunity o1 --json >"$T/timeline-o1.json"; grep -q "from the CLI" "$T/timeline-o1.json" && break; sleep 0.1; done
assert_contains "$(cat "$T/timeline-o1.json")" '"subject": "from the CLI"' "mailagent send --record links the archived copy to the record"
ma queue list --state expired >"$T/list.out"
assert_contains "$(cat "$T/list.out")" "expired   defer450@client.example" "queue list --state expired"
ma queue show "$ID2" --json >"$T/show.json"
assert_eq "sent sent" "$(json_get "$T/show.json" '" ".join(r["state"] for r in d["recipients"])')" "queue show --json"
assert_status 2 ma queue hold no-such-id

finish
