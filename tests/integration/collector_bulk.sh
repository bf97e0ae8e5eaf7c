#!/usr/bin/env bash
# collector_bulk.sh - a 5,000-message initial sync from Dovecot (messages written straight into the
# user's Maildir): every message archived once, the checkpoint at the last UID, one provenance row
# each, and a second sync that fetches nothing. Also a message over the size limit is quarantined
# (listed in status) while the rest sync.
source "$(dirname "$0")/lib/common.sh"
source "$FIXTURES_DIR/collector/dovecot.sh"

N=5000
pki_make
dovecot_user alice@example.test alice-secret
dovecot_start
write_config "[smtp]" "max_message_size=200000" "[collector]" "ca_file=$T/pki/root.pem" "timeout=30"
# (write_config already opened [smtp]; a second [smtp] group line is merged by GKeyFile)
ma init >/dev/null
ma enterprise add --name Acme --slug acme --domain example.test >/dev/null
ma settings acme archive_unmatched=on >/dev/null
echo alice-secret > "$T/alice.pw"

md=$T/dovecot/mail/alice@example.test
mkdir -p "$md/cur" "$md/new" "$md/tmp"
/usr/bin/python3 - "$md" "$N" <<'PY'
import os, sys, time
md, n = sys.argv[1], int(sys.argv[2])
now = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
body = ("Dear Alice, about our order.\r\n" * 100)[:3000]
for i in range(1, n + 1):
    msg = ("From: Customer %d <c%d@client.test>\r\nTo: alice@example.test\r\nSubject: Order %d\r\n"
           "Message-ID: <bulk%d@client.test>\r\nDate: %s\r\n\r\n%s\r\n") % (i % 50, i % 50, i, i, now, body)
    with open(os.path.join(md, "new", "%d.M%dP1.test" % (int(time.time()), i)), "w") as f:
        f.write(msg)
big = "From: Big <big@client.test>\r\nTo: alice@example.test\r\nSubject: Too big\r\nMessage-ID: <big@client.test>\r\nDate: %s\r\n\r\n%s\r\n" % (now, "x" * 300000)
with open(os.path.join(md, "new", "%d.M999999P1.test" % int(time.time())), "w") as f:
    f.write(big)
PY
[ "$(id -u)" = 0 ] && chown -R dovecot:dovecot "$T/dovecot/mail"

ma mailbox bind acme alice@example.test --host localhost --port "$IMAPS_PORT" --password-file "$T/alice.pw" --folders INBOX >/dev/null
ID=$(ma mailbox list acme --json | json_get - 'd["items"][0]["id"]')
ma mailbox sync acme "$ID" >/dev/null
db() { sqlite3 -readonly "$T/data/mailagent.db" "$1"; }
assert_eq $N "$(db 'select count(*) from messages')" "initial sync: all $N messages archived"
assert_eq $N "$(db "select count(*) from provenance where route = 'imap'")" "one provenance row each"
assert_eq $((N + 1)) "$(db "select last_uid from mailbox_folders where mailbox_id = '$ID'")" "checkpoint at the last UID"
ma mailbox show acme "$ID" --json > "$T/show.json"
assert_eq 1 "$(json_get "$T/show.json" 'd["counts"]["quarantined"]')" "the oversize message is quarantined"
assert_contains "$(json_get "$T/show.json" '" ".join(d["quarantine"])')" "larger than the message size limit" "and listed with its reason"
assert_eq $N "$(json_get "$T/show.json" 'd["counts"]["fetched"]')" "fetched count"
ma mailbox sync acme "$ID" >/dev/null
assert_eq $N "$(json_get - 'd["counts"]["fetched"]' < <(ma mailbox show acme "$ID" --json))" "a second sync fetches nothing"
finish
