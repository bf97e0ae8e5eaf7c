#!/usr/bin/env bash
# bounce_mailbox.sh - a bounce that reaches an employee's bound mailbox instead of a VERP address
# (return path "from": the DSN goes to the sender) is recognised by the Message-ID of the returned
# message: pulled from a real Dovecot by the collector, it marks exactly that recipient bounced
# with message.bounced, suppresses the address, and is not archived, while ordinary mail in the
# same mailbox is archived as usual. A forwarded bounce of mail that is not ours stays mail. The
# outbound message's timeline entry shows the bounce in its delivery states.
source "$(dirname "$0")/lib/common.sh"
source "$FIXTURES_DIR/collector/dovecot.sh"

pki_make
dovecot_user alice@example.test alice-secret
dovecot_start

write_config "[collector]" "ca_file=$T/pki/root.pem" "timeout=10" "[relay]" "default_path_scope=any"
ma init >/dev/null
ma enterprise add --name Acme --slug acme --domain example.test >/dev/null
ma employee add acme alice@example.test --name Alice >/dev/null
ma settings acme archive_unmatched=on return_path=from >/dev/null
assert_eq from "$(ma settings acme --json | json_get - 'd["settings"]["return_path"]')" "return_path=from is stored"
assert_status 2 ma settings acme return_path=bounces@elsewhere.example
db() { sqlite3 -readonly -cmd ".timeout 5000" "$T/data/mailagent.db" "$1"; }
echo '{"type":"contact","id":"c-nouser","name":"No User","emails":["nouser@client.example"]}' | ma records import acme - >/dev/null

# queued, not yet delivered (no serve): the DSN may come back before or after "sent"
ID=$(ma send acme --from alice@example.test --to nouser@client.example --to ok@client.example --subject Offer --text "Hi" | cut -d' ' -f2)
MID=$(ma queue show "$ID" --json | json_get - 'd["message_id"]')
assert_eq alice@example.test "$(ma queue show "$ID" --json | json_get - 'd["mail_from"]')" "the return path is the From address"

cat >"$T/dsn.eml" <<EML
From: MAILER-DAEMON@mx.client.example (Mail Delivery System)
To: alice@example.test
Subject: Undelivered Mail Returned to Sender
Date: $(date -R)
Message-ID: <dsn-1@mx.client.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="XX"

--XX
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.client.example.

<nouser@client.example>: User unknown in virtual mailbox table

--XX
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.client.example

Final-Recipient: rfc822; nouser@client.example
Original-Recipient: rfc822;nouser@client.example
Action: failed
Status: 5.1.1
Diagnostic-Code: X-Postfix; User unknown in virtual mailbox table

--XX
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

From: alice@example.test
To: nouser@client.example, ok@client.example
Subject: Offer
Message-ID: <$MID>

--XX--
EML
sed "s/<$MID>/<someone-else@example.test>/; s/dsn-1@/dsn-2@/" "$T/dsn.eml" >"$T/foreign.eml"
make_message "$T/in1.eml" "Customer <c1@client.test>" alice@example.test "Question" "in1@client.test"
imap_append alice@example.test alice-secret INBOX "$T/in1.eml" "$T/dsn.eml" "$T/foreign.eml"

echo alice-secret >"$T/alice.pw"
ma mailbox bind acme alice@example.test --host localhost --port "$IMAPS_PORT" --security tls \
  --password-file "$T/alice.pw" >/dev/null
out=$(ma mailbox sync acme alice@example.test 2>&1)
assert_contains "$out" "3 fetched" "the collector pulled the three messages"

ma queue show "$ID" --json >"$T/q.json"
assert_eq "bounced queued" "$(json_get "$T/q.json" '" ".join(r["state"] for r in sorted(d["recipients"], key=lambda r: r["address"]))')" \
  "exactly nouser@ is bounced"
assert_contains "$(json_get "$T/q.json" '[r["reply"] for r in d["recipients"] if r["address"].startswith("nouser")][0]')" \
  "hard bounce 5.1.1 (userunknown)" "its reply carries the classification"
assert_eq 1 "$(db "select count(*) from outbox where event='message.bounced'")" "one message.bounced"
assert_eq hard_bounce "$(db "select reason from suppressions where address='nouser@client.example'")" "nouser@ is suppressed"
assert_eq "Offer|Question|Undelivered Mail Returned to Sender" \
  "$(db "select group_concat(subject, '|') from (select subject from messages order by subject)")" \
  "archived: the outbound Offer, the ordinary mail and the bounce of someone else's mail; ours is not"

# the outbound message's timeline entry shows each recipient's delivery state, the DSN's bounce too
ma timeline acme contact c-nouser --json >"$T/tl.json"
assert_eq "Offer: nouser@client.example bounced, ok@client.example queued" \
  "$(json_get "$T/tl.json" '[i["subject"] + ": " + ", ".join(r["address"] + " " + r["state"] for r in i["delivery"]) for i in d["items"] if "delivery" in i][0]')" \
  "the timeline shows the bounce on the outbound message"
assert_contains "$(json_get "$T/tl.json" '[r["reply"] for i in d["items"] if "delivery" in i for r in i["delivery"] if r["state"] == "bounced"][0]')" \
  "5.1.1" "... with the DSN's status"
ma timeline acme contact c-nouser >"$T/tl.txt"
assert_contains "$(cat "$T/tl.txt")" "Status:  nouser@client.example bounced (hard bounce 5.1.1" "the text timeline shows it too"
finish
