#!/usr/bin/env bash
# collector_imap.sh - binding and collecting employees' mailboxes against a real Dovecot on
# loopback (IMAPS, IMAP+STARTTLS, POP3S), with a test CA whose server certificate needs an
# intermediate: verification before saving (wrong password, wrong host name, untrusted CA refused
# and nothing saved; an untrusted certificate accepted only when the binding allows it, and shown),
# INBOX and Sent collected once (Sent as outbound), incremental syncs, a UIDVALIDITY change that
# adds nothing, POP3 UIDL collection of the same mail stored once with its own provenance, and
# pause/resume/unbind.
source "$(dirname "$0")/lib/common.sh"
source "$FIXTURES_DIR/collector/dovecot.sh"

pki_make
dovecot_user alice@example.test alice-secret
dovecot_user bob@example.test bob-secret
dovecot_start

write_config "[collector]" "ca_file=$T/pki/root.pem" "timeout=10"
ma init >/dev/null
ma enterprise add --name Acme --slug acme --domain example.test >/dev/null
ma employee add acme alice@example.test --name Alice >/dev/null
ma settings acme archive_unmatched=on >/dev/null
echo alice-secret > "$T/alice.pw"
echo wrong > "$T/wrong.pw"
echo bob-secret > "$T/bob.pw"

for i in 1 2 3; do make_message "$T/in$i.eml" "Customer $i <c$i@client.test>" alice@example.test "Question $i" "in$i@client.test"; done
make_message "$T/sent1.eml" "Alice <alice@example.test>" "c1@client.test" "Re: Question 1" "sent1@example.test"
imap_append alice@example.test alice-secret INBOX "$T/in1.eml" "$T/in2.eml" "$T/in3.eml"
imap_append alice@example.test alice-secret Sent "$T/sent1.eml"

msgs() { sqlite3 -readonly "$T/data/mailagent.db" "select count(*) from messages"; }
prov() { sqlite3 -readonly "$T/data/mailagent.db" "select count(*) from provenance where route = '$1'"; }

# ---- verification before saving ---------------------------------------------------------------
out=$(ma mailbox bind acme alice@example.test --host localhost --port "$IMAPS_PORT" --security tls \
      --password-file "$T/wrong.pw" 2>&1) && st=0 || st=$?
assert_eq 2 "$st" "wrong password: exit 2"
assert_contains "$out" "auth:" "wrong password: the failing step is named"
assert_contains "$out" "nothing was saved" "wrong password: nothing saved"
assert_not_contains "$out" "wrong" "the password is not echoed"
out=$(ma mailbox bind acme alice@example.test --host 127.0.0.1 --port "$IMAPS_PORT" --security tls \
      --password-file "$T/alice.pw" 2>&1) && st=0 || st=$?
assert_eq 2 "$st" "host name not in the certificate: refused"
assert_contains "$out" "certificate of 127.0.0.1 refused" "host name mismatch named"
out=$(ma mailbox bind acme alice@example.test --host localhost --port 1 --security tls --password-file "$T/alice.pw" 2>&1) && st=0 || st=$?
assert_contains "$out" "connect: localhost port 1" "connection refused names the connect step"
assert_eq "no mailboxes" "$(ma mailbox list acme)" "failed binds saved nothing"

# ---- IMAPS with the intermediate-signed certificate ---------------------------------------------
out=$(ma mailbox bind acme alice@example.test --host localhost --port "$IMAPS_PORT" --security tls \
      --password-file "$T/alice.pw" 2>&1)
assert_contains "$out" "bound for alice@example.test" "IMAPS bind verified and saved"
assert_contains "$out" "Sent" "the folder listing is shown"
ALICE=$(ma mailbox list acme --json | json_get - 'd["items"][0]["id"]')
ma mailbox show acme "$ALICE" --json > "$T/show.json"
assert_eq "active" "$(json_get "$T/show.json" 'd["state"]')" "new binding is active"
assert_eq "False" "$(json_get "$T/show.json" '"secret" in str(d) or "alice-secret" in str(d)')" "no secret in the status"
if grep -q alice-secret "$T/data/mailagent.db"; then fail "the password is stored in clear"; else pass "the password is encrypted at rest"; fi

out=$(ma mailbox sync acme "$ALICE" 2>&1)
assert_contains "$out" "4 fetched in total" "first sync fetched INBOX (3) and Sent (1)"
assert_eq 4 "$(msgs)" "4 messages archived"
assert_eq 4 "$(prov imap)" "4 imap provenance rows"
assert_eq 1 "$(sqlite3 -readonly "$T/data/mailagent.db" "select count(*) from messages where subject = 'Re: Question 1' and direction = 1")" \
  "the Sent message is archived as outbound"
assert_eq "$(sqlite3 -readonly "$T/data/mailagent.db" "select count(*) from messages where direction = 0")" 3 "the INBOX messages are inbound"

events=$(sqlite3 -readonly "$T/data/mailagent.db" "select payload from outbox where event = 'mailbox.message'")
assert_contains "$events" '"new_messages":4' "mailbox.message announces the new mail to the CRM"
# ---- CONDSTORE: a folder whose HIGHESTMODSEQ has not moved is not searched -----------------------
{ cat "$CONF"; echo "[log]"; echo "level=debug"; } > "$T/debug.conf"
modseq() {
  /usr/bin/python3 - "$IMAP_PORT" "$1" <<'PY'
import imaplib, re, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1])); m.login("alice@example.test", "alice-secret")
typ, data = m.status(sys.argv[2], "(HIGHESTMODSEQ)"); m.logout()
print(re.search(rb"HIGHESTMODSEQ (\d+)", data[0]).group(1).decode())
PY
}
stored_modseq() { sqlite3 -readonly "$T/data/mailagent.db" "select highest_modseq from mailbox_folders where mailbox_id = '$ALICE' and folder = '$1'"; }
assert_eq "$(modseq INBOX)" "$(stored_modseq INBOX)" "the checkpoint keeps the folder's HIGHESTMODSEQ"
log=$("$MAILAGENT" mailbox -c "$T/debug.conf" sync acme "$ALICE" 2>&1 >/dev/null)
assert_eq 4 "$(msgs)" "second sync: nothing new"
assert_contains "$log" 'folder "INBOX" unchanged' "second sync: INBOX skipped on its unchanged HIGHESTMODSEQ"
assert_contains "$log" 'folder "Sent" unchanged' "second sync: Sent skipped on its unchanged HIGHESTMODSEQ"
/usr/bin/python3 - "$IMAP_PORT" <<'PY'
import imaplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1])); m.login("alice@example.test", "alice-secret")
m.select("INBOX"); m.store("1", "+FLAGS", "(\\Flagged)"); m.logout()
PY
log=$("$MAILAGENT" mailbox -c "$T/debug.conf" sync acme "$ALICE" 2>&1 >/dev/null)
assert_not_contains "$log" 'folder "INBOX" unchanged' "a flag change moves HIGHESTMODSEQ: INBOX is searched again"
assert_eq 4 "$(msgs)" "the flag change brought no message"
assert_eq "$(modseq INBOX)" "$(stored_modseq INBOX)" "the checkpoint follows the new HIGHESTMODSEQ"
assert_eq 1 "$(sqlite3 -readonly "$T/data/mailagent.db" "select count(*) from outbox where event = 'mailbox.message'")" \
  "no mailbox.message event when nothing is new"
assert_eq 4 "$(prov imap)" "second sync: no provenance added"

make_message "$T/in4.eml" "Customer 4 <c4@client.test>" alice@example.test "Question 4" "in4@client.test"
imap_append alice@example.test alice-secret INBOX "$T/in4.eml"
ma mailbox sync acme "$ALICE" >/dev/null
assert_eq 5 "$(msgs)" "incremental sync: the new message"
assert_eq 5 "$(prov imap)" "incremental sync: one provenance row more"
ma mailbox show acme "$ALICE" --json > "$T/show.json"
assert_eq 5 "$(json_get "$T/show.json" 'd["counts"]["archived"]')" "the binding counts the 5 messages that reached the archive"

# the server never saw a flag change: every message is still unseen
unseen=$(/usr/bin/python3 - "$IMAP_PORT" <<'PY'
import imaplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1])); m.login("alice@example.test", "alice-secret")
m.select("INBOX", readonly=True); print(len(m.search(None, "UNSEEN")[1][0].split())); m.logout()
PY
)
assert_eq 4 "$unseen" "collection never sets \\Seen (EXAMINE + BODY.PEEK)"

# ---- UIDVALIDITY change: the folder is re-listed, nothing doubles -------------------------------
doveadm -c "$DOVECOT_CONF" mailbox update -u alice@example.test --uid-validity 424242 INBOX
ma mailbox sync acme "$ALICE" >/dev/null
assert_eq 5 "$(msgs)" "UIDVALIDITY change: no message doubled"
assert_eq 5 "$(prov imap)" "UIDVALIDITY change: no provenance doubled"
cp=$(sqlite3 -readonly "$T/data/mailagent.db" "select uidvalidity from mailbox_folders where mailbox_id = '$ALICE' and folder = 'INBOX'")
assert_eq 424242 "$cp" "the checkpoint follows the new UIDVALIDITY"
make_message "$T/in5.eml" "Customer 5 <c5@client.test>" alice@example.test "Question 5" "in5@client.test"
imap_append alice@example.test alice-secret INBOX "$T/in5.eml"
ma mailbox sync acme "$ALICE" >/dev/null
assert_eq 6 "$(msgs)" "after the UIDVALIDITY change, new mail still comes"

# ---- STARTTLS on the plain port -----------------------------------------------------------------
out=$(ma mailbox bind acme bob@example.test --host localhost --port "$IMAP_PORT" --security starttls \
      --password-file "$T/bob.pw" 2>&1)
assert_contains "$out" "bound for bob@example.test" "STARTTLS bind verified"
assert_contains "$out" "is not an employee" "an address that is no employee is bound with a warning"

# ---- POP3S: the same mailbox by UIDL; the same mail is stored once -----------------------------
out=$(ma mailbox bind acme alice@example.test --protocol pop3 --host localhost --port "$POP3S_PORT" --security tls \
      --password-file "$T/alice.pw" 2>&1)
assert_contains "$out" "bound for alice@example.test (pop3" "POP3S bind verified"
POP=$(ma mailbox list acme --json | json_get - '[i["id"] for i in d["items"] if i["protocol"]=="pop3"][0]')
ma mailbox sync acme "$POP" >/dev/null
assert_eq 6 "$(msgs)" "POP3: the INBOX mail is not archived twice"
assert_eq 5 "$(prov pop3)" "POP3: one provenance row per INBOX message"
ma mailbox sync acme "$POP" >/dev/null
assert_eq 5 "$(prov pop3)" "POP3: a second sync adds nothing (UIDL)"
assert_eq 5 "$(ma mailbox show acme "$POP" --json | json_get - 'd["counts"]["archived"]')" \
  "the POP3 binding counts its 5 messages, though the archive had them already from IMAP"
n=$(/usr/bin/python3 - "$POP3_PORT" <<'PY'
import poplib, sys
p = poplib.POP3("127.0.0.1", int(sys.argv[1])); p.user("alice@example.test"); p.pass_("alice-secret")
print(p.stat()[0]); p.quit()
PY
)
assert_eq 5 "$n" "POP3 collection deleted nothing"

# ---- an untrusted CA is refused unless the binding allows it ----------------------------------
CONF_OTHER=$T/other.conf
sed "s|ca_file=.*|ca_file=$T/pki/other.pem|" "$CONF" > "$CONF_OTHER"
out=$("$MAILAGENT" mailbox bind -c "$CONF_OTHER" acme bob@example.test --protocol pop3 --host localhost \
      --port "$POP3S_PORT" --password-file "$T/bob.pw" 2>&1) && st=0 || st=$?
assert_eq 2 "$st" "a certificate from an unknown CA is refused"
assert_contains "$out" "unable to get local issuer certificate" "the reason is OpenSSL's"
out=$("$MAILAGENT" mailbox bind -c "$CONF_OTHER" acme bob@example.test --protocol pop3 --host localhost \
      --port "$POP3S_PORT" --password-file "$T/bob.pw" --allow-untrusted-certificate 2>&1)
assert_contains "$out" "bound for bob@example.test" "accepted when the binding allows an untrusted certificate"
BOBPOP=$(ma mailbox list acme --json | json_get - '[i["id"] for i in d["items"] if i["email"]=="bob@example.test" and i["protocol"]=="pop3"][0]')
assert_contains "$(ma mailbox show acme "$BOBPOP")" "UNTRUSTED certificate allowed" "status shows the untrusted certificate"

# ---- pause, resume, unbind ---------------------------------------------------------------------
ma mailbox pause acme "$ALICE" >/dev/null
assert_eq paused "$(ma mailbox show acme "$ALICE" --json | json_get - 'd["state"]')" "paused"
ma mailbox resume acme "$ALICE" >/dev/null
assert_eq active "$(ma mailbox show acme "$ALICE" --json | json_get - 'd["state"]')" "resumed"
ma mailbox unbind acme "$BOBPOP" >/dev/null
ma mailbox show acme "$BOBPOP" >/dev/null 2>&1 && st=0 || st=$?
assert_eq 2 "$st" "unbound mailbox is gone"
assert_eq 6 "$(msgs)" "unbinding keeps archived mail"

finish
