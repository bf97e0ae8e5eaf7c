#!/usr/bin/env bash
# collector_pop3_window.sh - POP3 has no SEARCH SINCE, so a binding's first sync applies the
# [collector] initial_days window by each message's Date header (read with TOP n 0): older mail is
# recorded as done and never fetched, mail without a Date is taken; later syncs take every new
# UIDL whatever its date. A pulled message the archive always refuses is quarantined in the
# binding's status, kept raw in the spool. Against a real Dovecot.
source "$(dirname "$0")/lib/common.sh"
source "$FIXTURES_DIR/collector/dovecot.sh"

pki_make
dovecot_user alice@example.test alice-secret
dovecot_start
write_config "[collector]" "ca_file=$T/pki/root.pem" "timeout=10" "initial_days=30"
ma init >/dev/null
ma enterprise add --name Acme --slug acme --domain example.test >/dev/null
ma employee add acme alice@example.test >/dev/null
ma settings acme archive_unmatched=on >/dev/null
echo alice-secret > "$T/alice.pw"
db() { sqlite3 -readonly "$T/data/mailagent.db" "$1"; }

# old_message FILE SUBJECT MESSAGE-ID DATE|-: DATE "-" leaves the Date header out
old_message() {
  { printf 'From: C <c@client.test>\r\nTo: alice@example.test\r\nSubject: %s\r\nMessage-ID: <%s>\r\n' "$2" "$3"
    [ "$4" = - ] || printf 'Date: %s\r\n' "$4"
    printf 'MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nbody\r\n'; } > "$1"
}
old_message "$T/a.eml" "Two years old" a@client.test "Mon, 02 Dec 2024 10:00:00 +0000"
old_message "$T/b.eml" "Forty days old, east of UTC" b@client.test "$(date -u -R -d '-40 days' | sed 's/+0000/+0800/')"
old_message "$T/c.eml" "Recent" c@client.test "$(date -R -d '-2 days')"
old_message "$T/d.eml" "No date" d@client.test -
imap_append alice@example.test alice-secret INBOX "$T/a.eml" "$T/b.eml" "$T/c.eml" "$T/d.eml"

ma mailbox bind acme alice@example.test --protocol pop3 --host localhost --port "$POP3S_PORT" \
  --password-file "$T/alice.pw" >/dev/null
ID=$(ma mailbox list acme --json | json_get - 'd["items"][0]["id"]')
ma mailbox sync acme "$ID" >/dev/null
assert_eq "No date
Recent" "$(db 'select subject from messages order by subject')" "first sync: only mail inside the 30-day window, and mail without a Date"
assert_eq 4 "$(db "select count(*) from mailbox_keys where mailbox_id = '$ID'")" \
  "every UIDL is recorded: the old ones are never asked for again"

old_message "$T/e.eml" "Old date, arrived after the first sync" e@client.test "Mon, 02 Dec 2024 10:00:00 +0000"
imap_append alice@example.test alice-secret INBOX "$T/e.eml"
ma mailbox sync acme "$ID" >/dev/null
assert_eq 3 "$(db 'select count(*) from messages')" "later syncs take every new UIDL, whatever its Date"
ma mailbox sync acme "$ID" >/dev/null
assert_eq 3 "$(db 'select count(*) from messages')" "and nothing twice"

# ---- a pulled message the archive always refuses: quarantined in the binding's status, kept raw --
sqlite3 -cmd ".timeout 5000" "$T/data/mailagent.db" \
  "CREATE TRIGGER poison BEFORE INSERT ON messages WHEN NEW.subject LIKE 'poison%' BEGIN SELECT RAISE(ABORT, 'poisoned by the test'); END;"
old_message "$T/p.eml" "poison pill" p@client.test "$(date -R)"
imap_append alice@example.test alice-secret INBOX "$T/p.eml"
ma mailbox sync acme "$ID" >/dev/null 2>&1 || true
ma mailbox show acme "$ID" --json > "$T/show.json"
assert_eq 1 "$(json_get "$T/show.json" 'd["counts"]["quarantined"]')" "the refused message counts as quarantined on its binding"
q=$(json_get "$T/show.json" '" | ".join(d["quarantine"])')
assert_contains "$q" "kept raw in the spool (mailagent spool show" "the status says where the raw message is"
SPOOL_ID=$(ma spool list --dead --json | json_get - 'd["items"][0]["id"]')
assert_contains "$q" "$SPOOL_ID" "and names its spool entry"
assert_contains "$(ma spool show "$SPOOL_ID" --raw 2>&1)" "Subject: poison pill" "the raw message is kept"
ma mailbox sync acme "$ID" >/dev/null 2>&1 || true
assert_eq 1 "$(ma mailbox show acme "$ID" --json | json_get - 'd["counts"]["quarantined"]')" \
  "the next sync moves past it (UIDL recorded), counted once"
finish
