#!/usr/bin/env bash
# collector_crash.sh - crash safety of mailbox collection against a real Dovecot: the sync is
# SIGKILLed at each named point (after a FETCH, after the spool fsync and before the checkpoint,
# after the checkpoint), each point proven hit by its marker and the exit status, the checkpoint
# checked at that instant, then the next run: nothing lost, nothing doubled (messages and
# provenance). Also: the lease a killed sync held keeps a second sync out until it expires (test
# clock), one fetch per mailbox at a time.
source "$(dirname "$0")/lib/common.sh"
source "$FIXTURES_DIR/collector/dovecot.sh"

pki_make
dovecot_user alice@example.test alice-secret
dovecot_start
clock_start
write_config "[collector]" "ca_file=$T/pki/root.pem" "timeout=10"
ma init >/dev/null
ma enterprise add --name Acme --slug acme --domain example.test >/dev/null
ma employee add acme alice@example.test >/dev/null
ma settings acme archive_unmatched=on >/dev/null
echo alice-secret > "$T/alice.pw"
for i in 1 2; do make_message "$T/m$i.eml" "C$i <c$i@client.test>" alice@example.test "Hello $i" "m$i@client.test"; done
imap_append alice@example.test alice-secret INBOX "$T/m1.eml" "$T/m2.eml"
ma mailbox bind acme alice@example.test --host localhost --port "$IMAPS_PORT" --password-file "$T/alice.pw" >/dev/null
ID=$(ma mailbox list acme --json | json_get - 'd["items"][0]["id"]')
ma mailbox sync acme "$ID" >/dev/null

db() { sqlite3 -readonly "$T/data/mailagent.db" "$1"; }
spool() { sqlite3 -readonly "$T/data/spool.db" "$1"; }
last_uid() { db "select last_uid from mailbox_folders where mailbox_id = '$ID' and folder = 'INBOX'"; }
assert_eq 2 "$(db 'select count(*) from messages')" "baseline: 2 messages"

n=2
for point in after_fetch after_spool after_checkpoint; do
  n=$((n + 1))
  make_message "$T/m$n.eml" "C$n <c$n@client.test>" alice@example.test "Hello $n" "m$n@client.test"
  imap_append alice@example.test alice-secret INBOX "$T/m$n.eml"
  before_uid=$(last_uid)
  rm -f "$T/mark"
  MAILAGENT_COLLECTOR_CRASH_AT=$point MAILAGENT_COLLECTOR_CRASH_MARK=$T/mark ma mailbox sync acme "$ID" >/dev/null 2>&1 \
    && st=0 || st=$?
  assert_eq 137 "$st" "$point: the sync was SIGKILLed"
  assert_eq "$point" "$(cat "$T/mark" 2>/dev/null)" "$point: the point was hit"
  case $point in
    after_fetch)
      assert_eq "$before_uid" "$(last_uid)" "after_fetch: checkpoint not advanced"
      assert_eq 0 "$(spool 'select count(*) from spool')" "after_fetch: nothing in the spool" ;;
    after_spool)
      assert_eq "$before_uid" "$(last_uid)" "after_spool: checkpoint not advanced"
      assert_eq 1 "$(spool 'select count(*) from spool')" "after_spool: the message is durable in the spool" ;;
    after_checkpoint)
      assert_eq $((before_uid + 1)) "$(last_uid)" "after_checkpoint: checkpoint advanced"
      assert_eq 1 "$(spool 'select count(*) from spool')" "after_checkpoint: the message waits in the spool" ;;
  esac
  # the killed sync still holds the lease: a second sync is turned away until it expires
  ma mailbox sync acme "$ID" >/dev/null 2>&1 && st=0 || st=$?
  assert_eq 75 "$st" "$point: the dead sync's lease keeps others out (one fetch at a time)"
  clock_advance 120
  ma mailbox sync acme "$ID" >/dev/null
  assert_eq $n "$(db 'select count(*) from messages')" "$point: after restart nothing lost ($n messages)"
  assert_eq $n "$(db "select count(*) from provenance where route = 'imap'")" "$point: nothing doubled (provenance)"
  assert_eq 0 "$(db 'select count(*) from (select spool_id from provenance group by spool_id having count(*) > 1)')" \
    "$point: every spool id once"
  assert_eq 0 "$(spool 'select count(*) from spool')" "$point: spool drained"
done

finish
