#!/usr/bin/env bash
# collector_idle.sh - IMAP IDLE in `mailagent serve`: with polling an hour apart, mail appended to
# Dovecot after the first sync is pulled and archived only because the idler held an IDLE on the
# INBOX (Dovecot lists the connection), and the mailbox's stored poll deadline is still in the
# future when it arrives. Pausing the mailbox ends its IDLE connection; max_idle = 0 polls only.
source "$(dirname "$0")/lib/common.sh"
source "$FIXTURES_DIR/collector/dovecot.sh"

pki_make
dovecot_user alice@example.test alice-secret
dovecot_start
write_config "[collector]" "ca_file=$T/pki/root.pem" "timeout=10" "interval=3600" "max_idle=10"
ma init >/dev/null
ma enterprise add --name Acme --slug acme --domain example.test >/dev/null
ma settings acme archive_unmatched=on >/dev/null
echo alice-secret > "$T/alice.pw"
ma mailbox bind acme alice@example.test --host localhost --port "$IMAPS_PORT" --password-file "$T/alice.pw" >/dev/null
ID=$(ma mailbox list acme --json | json_get - 'd["items"][0]["id"]')
msgs() { sqlite3 -readonly "$T/data/mailagent.db" "select count(*) from messages"; }
idling() { doveadm -c "$DOVECOT_CONF" who 2>/dev/null | grep -c 'alice@example.test.*imap' || true; }

start_serve
for _ in $(seq 1 100); do [ "$(sqlite3 -readonly "$T/data/mailagent.db" "select last_sync_at from mailboxes where id = '$ID'")" != 0 ] && break; sleep 0.1; done
for _ in $(seq 1 100); do [ "$(idling)" -ge 1 ] && break; sleep 0.1; done
assert_eq 1 "$(idling)" "after the first sync an IDLE connection is held on the INBOX"
next=$(sqlite3 -readonly "$T/data/mailagent.db" "select next_attempt_at from mailboxes where id = '$ID'")

make_message "$T/m1.eml" "C1 <c1@client.test>" alice@example.test "Pushed" "m1@client.test"
imap_append alice@example.test alice-secret INBOX "$T/m1.eml"
for _ in $(seq 1 100); do [ "$(msgs)" -ge 1 ] && break; sleep 0.1; done
assert_eq 1 "$(msgs)" "new mail announced by IDLE is archived"
now=$(date +%s)
if [ "$next" -gt "$now" ]; then pass "the next poll was still due in $((next - now)) s: IDLE brought it"; else fail "poll was due"; fi

make_message "$T/m2.eml" "C2 <c2@client.test>" alice@example.test "Pushed again" "m2@client.test"
imap_append alice@example.test alice-secret INBOX "$T/m2.eml"
for _ in $(seq 1 100); do [ "$(msgs)" -ge 2 ] && break; sleep 0.1; done
assert_eq 2 "$(msgs)" "the idler idles again after a sync"

ma mailbox pause acme "$ID" >/dev/null
for _ in $(seq 1 150); do [ "$(idling)" = 0 ] && break; sleep 0.1; done
assert_eq 0 "$(idling)" "pausing ends the IDLE (the scheduler stops its idler)"
stop_serve

# max_idle = 0: polling only, no IDLE connection
sed -i 's/max_idle=10/max_idle=0/' "$CONF"
ma mailbox resume acme "$ID" >/dev/null
start_serve
for _ in $(seq 1 50); do [ "$(sqlite3 -readonly "$T/data/mailagent.db" "select next_attempt_at from mailboxes where id = '$ID'")" -gt "$(date +%s)" ] && break; sleep 0.1; done
sleep 0.5
assert_eq 0 "$(idling)" "max_idle = 0 holds no IDLE connection"
stop_serve
finish
