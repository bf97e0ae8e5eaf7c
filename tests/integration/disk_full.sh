#!/usr/bin/env bash
# disk_full.sh - a full disk loses nothing and never spins. The data directory is a private 8 MiB
# tmpfs. Mail is spooled while the archive is locked, then the disk is filled to below
# [storage] archive_reserve (and [smtp] disk_reserve): SMTP answers 452 4.3.1 at MAIL, and the
# pipeline pauses with one log line per backoff step on the test clock (none while the clock
# stands still, however long). A clean stop checkpoints the databases; with the disk then full to
# the last byte, `serve` refuses to start, naming the free space it needs, without touching the
# databases; once space is back it starts, and every acknowledged message is archived.
source "$(dirname "$0")/lib/common.sh"
source "$FIXTURES_DIR/smtp/setup.sh"

mkdir -p "$T/data"
if ! mount -t tmpfs -o size=8m,mode=0700 tmpfs "$T/data" 2>"$T/mount.err"; then
  echo "SKIP: cannot mount a tmpfs here ($(cat "$T/mount.err")); this test needs root"
  exit 0
fi
cleanup_cmd "umount -l '$T/data'"
free_bytes() { df -B1 --output=avail "$T/data" | tail -1 | tr -d ' '; }
# fill_to BYTES NAME: a filler file that leaves about BYTES free
fill_to() { local f; f=$(free_bytes); fallocate -l $((f - $1)) "$T/data/$2"; }

# one worker: its first attempt meets the lock and pauses the pool on the frozen clock, so no batch
# can slip through between the release of the lock and the disk check
smtp_setup "[smtp]" "disk_reserve=3145728" "[storage]" "archive_reserve=2097152" "busy_timeout=200" \
  "[pipeline]" "workers=1"
ma settings acme forwarder_policy=any >/dev/null
clock_start 1800000000
start_serve
send() { swaks --server "127.0.0.1:$SMTP_PORT" --helo client.test --from customer@client.example --to "$INBOUND" \
  --header "Subject: $1" --body "body of $1" 2>&1; }

# ---- spooled while the archive is locked, then the disk fills ---------------------------------
hold_write_lock "$T/data/mailagent.db"
acked=0
for i in 1 2 3; do [[ "$(send "full $i")" == *"<-  250 2.0.0 Ok: queued as"* ]] && acked=$((acked + 1)); done
assert_eq 3 "$acked" "three messages acknowledged before the disk fills"
# the worker must have met the lock (and deferred) before it is released: otherwise its first
# attempt, still waiting in the busy handler, would simply succeed after the release
for _ in $(seq 1 100); do grep -q "archive unavailable" "$T/serve.log" && break; sleep 0.05; done
fill_to 1572864 filler1
release_write_lock

assert_contains "$(send "refused")" "452 4.3.1" "SMTP answers 452 4.3.1 at MAIL below the reserve"
disk_lines() { grep -c "disk nearly full" "$T/serve.log" || true; }
# the clock stands still: whatever happened while locked, at most one step may be logged for the disk
clock_advance 2
for _ in $(seq 1 50); do [ "$(disk_lines)" -ge 1 ] && break; sleep 0.1; done
assert_eq 1 "$(disk_lines)" "one line when the pipeline pauses for the disk"
lines_before=$(wc -l <"$T/serve.log")
sleep 3
assert_eq "$lines_before" "$(wc -l <"$T/serve.log")" "no line at all while the clock stands still (no hot loop)"
clock_advance 5
for _ in $(seq 1 50); do [ "$(disk_lines)" -ge 2 ] && break; sleep 0.1; done
assert_eq 2 "$(disk_lines)" "one more line for the next backoff step"
assert_eq 0 "$(db_query 'select count(*) from messages')" "nothing archived while the disk is nearly full"

# ---- clean stop, full to the last byte, refused start, then space back ------------------------
stop_serve
assert_contains "$(cat "$T/serve.log")" "databases checkpointed" "a clean stop checkpoints the databases"
ls "$T/data" >"$T/files.before"
fill_to 0 filler2 2>/dev/null || true
fallocate -l "$(free_bytes)" "$T/data/filler3" 2>/dev/null || true
assert_eq 0 "$(free_bytes)" "the disk is full"
status=0
timeout 20 "$MAILAGENT" serve -c "$CONF" >"$T/start.out" 2>&1 || status=$?
assert_eq 1 "$status" "serve refuses to start on a full disk"
assert_contains "$(cat "$T/start.out")" "only 0 bytes are free under $T/data; mailagent needs at least 1048576 bytes free" \
  "the refusal names the free space needed"
ls "$T/data" >"$T/files.after"
assert_eq "$(cat "$T/files.before")" "$(grep -v '^filler[23]$' "$T/files.after")" "the databases were not touched"

rm -f "$T/data/filler2" "$T/data/filler3"
start_serve
pass "serve starts again once a little space is back (archiving still paused)"
rm -f "$T/data/filler1"
clock_advance 400
assert_eq 3 "$(wait_archived 3 20)" "every acknowledged message archived once space is back"
for _ in $(seq 1 50); do [ "$(ma spool list --json | json_get - 'len(d["items"])')" = 0 ] && break; sleep 0.1; done
assert_eq 0 "$(ma spool list --json | json_get - 'len(d["items"])')" "spool empty"
stop_serve
finish
