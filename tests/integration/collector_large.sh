#!/usr/bin/env bash
# collector_large.sh - a large message is pulled without being held in memory: IMAP fetches it in
# partial ranges and POP3 RETR is un-stuffed as it arrives, both straight into the spool file. Each
# sync is stopped at the after_spool crash point, where the message is complete in the spool and
# nothing later (the pipeline reads the file whole) has run: the process's peak RSS with a 24 MB
# message is compared with the same sync of a small message, and the spool file with the original
# octets (lines that begin with a dot prove POP3's un-stuffing). Then the syncs finish: the message
# is archived once, with one provenance row per binding.
source "$(dirname "$0")/lib/common.sh"
source "$FIXTURES_DIR/collector/dovecot.sh"
# Under -DSANITIZE=ON, ASan's quarantine keeps freed blocks (256 MB by default), so each freed
# FETCH range would count; a small quarantine keeps the measure about our own buffers.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4"

pki_make
dovecot_user alice@example.test alice-secret
dovecot_start
clock_start
# 1 MiB rounds: the 24 MB message comes in 24 ranges (IMAP), and a round never holds it whole
write_config "[collector]" "ca_file=$T/pki/root.pem" "timeout=20" "batch_bytes=1048576"
ma init >/dev/null
ma enterprise add --name Acme --slug acme --domain example.test >/dev/null
ma employee add acme alice@example.test >/dev/null
ma settings acme archive_unmatched=on >/dev/null
echo alice-secret > "$T/alice.pw"

db() { sqlite3 -readonly "$T/data/mailagent.db" "$1"; }
spool_file() { sqlite3 -readonly "$T/data/spool.db" "select body_file from spool where route = '$1' order by seq desc limit 1"; }
# peak_rss_kb ID POINT: runs one sync of binding ID killed at POINT; prints the peak RSS in kB
peak_rss_kb() {
  rm -f "$T/mark" "$T/rss"
  MAILAGENT_COLLECTOR_CRASH_AT=$2 MAILAGENT_COLLECTOR_CRASH_MARK=$T/mark \
    /usr/bin/time -o "$T/rss" -f %M "$MAILAGENT" mailbox -c "$CONF" sync acme "$1" >/dev/null 2>&1 || true
  [ "$(cat "$T/mark" 2>/dev/null)" = "$2" ] || { fail "sync of $1 did not reach $2"; echo 0; return; }
  tail -n 1 "$T/rss"
}
finish_sync() { clock_advance 120; ma mailbox sync acme "$1" >/dev/null; }

make_message "$T/small.eml" "C1 <c1@client.test>" alice@example.test "Small" "small@client.test"
imap_append alice@example.test alice-secret INBOX "$T/small.eml"
ma mailbox bind acme alice@example.test --host localhost --port "$IMAPS_PORT" --password-file "$T/alice.pw" >/dev/null
ma mailbox bind acme alice@example.test --protocol pop3 --host localhost --port "$POP3S_PORT" \
  --password-file "$T/alice.pw" >/dev/null
IMAP_ID=$(ma mailbox list acme --json | json_get - '[i["id"] for i in d["items"] if i["protocol"]=="imap"][0]')
POP_ID=$(ma mailbox list acme --json | json_get - '[i["id"] for i in d["items"] if i["protocol"]=="pop3"][0]')

# ---- baselines: the same syncs with one small message --------------------------------------------
imap_base=$(peak_rss_kb "$IMAP_ID" after_spool)
finish_sync "$IMAP_ID"
pop_base=$(peak_rss_kb "$POP_ID" after_spool)
finish_sync "$POP_ID"
assert_eq 1 "$(db 'select count(*) from messages')" "baseline: the small message archived once"

# ---- a 24 MB message whose body has dot-led lines --------------------------------------------------
/usr/bin/python3 - "$T/large.eml" <<'PY'
import base64, os, sys
body = base64.encodebytes(os.urandom(17 * 1024 * 1024)).replace(b"\n", b"\r\n")
head = (b"From: C2 <c2@client.test>\r\nTo: alice@example.test\r\nSubject: Large\r\n"
        b"Message-ID: <large@client.test>\r\nDate: Wed, 02 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\n"
        b".a line that begins with a dot\r\n..two dots\r\n.\r\nthe line above is a lone dot\r\n"
        b"--b1\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n")
open(sys.argv[1], "wb").write(head + body + b"--b1--\r\n")
PY
imap_append alice@example.test alice-secret INBOX "$T/large.eml"
size_kb=$(( $(stat -c %s "$T/large.eml") / 1024 ))
want=$(sha256sum < "$T/large.eml")

imap_large=$(peak_rss_kb "$IMAP_ID" after_spool)
growth=$((imap_large - imap_base))
if [ "$growth" -lt 8192 ]; then
  pass "IMAP: peak RSS grew by ${growth} kB for a ${size_kb} kB message (< 8 MB: partial ranges into the file)"
else
  fail "IMAP: peak RSS grew by ${growth} kB for a ${size_kb} kB message"
fi
assert_eq "$want" "$(sha256sum < "$T/data/spool/$(spool_file imap)")" "IMAP: the spool file holds the message octet for octet"
finish_sync "$IMAP_ID"
assert_eq 2 "$(db 'select count(*) from messages')" "IMAP: the large message archived"

pop_large=$(peak_rss_kb "$POP_ID" after_spool)
growth=$((pop_large - pop_base))
if [ "$growth" -lt 8192 ]; then
  pass "POP3: peak RSS grew by ${growth} kB for a ${size_kb} kB message (< 8 MB: RETR streamed into the file)"
else
  fail "POP3: peak RSS grew by ${growth} kB for a ${size_kb} kB message"
fi
assert_eq "$want" "$(sha256sum < "$T/data/spool/$(spool_file pop3)")" \
  "POP3: the spool file holds the message octet for octet (dot-led lines un-stuffed)"
finish_sync "$POP_ID"
assert_eq 2 "$(db 'select count(*) from messages')" "POP3: the large message is not archived twice"
assert_eq 1 "$(db "select count(*) from provenance p join messages m on m.id = p.message_id
                   where m.subject = 'Large' and p.route = 'pop3'")" "POP3: one provenance row for it"
for id in "$IMAP_ID" "$POP_ID"; do
  assert_eq 2 "$(ma mailbox show acme "$id" --json | json_get - 'd["counts"]["archived"]')" "binding $id counts 2 archived"
done

finish
