#!/usr/bin/env bash
# smtp_crash.sh - crash safety of the acknowledgement: Postfix's smtp-source sends thousands of
# messages over many parallel sessions while `mailagent serve` is SIGKILLed at random moments and
# restarted. Odd rounds send 300-octet messages (kept in their spool rows: the spool's commit is
# their only sync), even rounds 70,000-octet ones (over a body's 64 KiB buffer: body files). After
# each kill the spool's write-ahead log gets a torn tail (random octets after its last frame, what a
# power cut in the middle of a commit's append leaves): the restart must ignore it and lose no
# acknowledged message. Afterwards every message that got "250 ... queued as ID" (as smtp-source saw it) is
# archived exactly once (one provenance row for its spool id, nothing left in the spool, no body
# file left in data/spool), every archived message has exactly one activity, and no activity is
# duplicated.
source "$(dirname "$0")/lib/common.sh"
source "$FIXTURES_DIR/smtp/setup.sh"

smtp_setup
# one sender floods one contact here on purpose: loop protection (loop_limit) would rightly throttle it
ma settings acme forwarder_policy=any loop_limit=0 >/dev/null
echo '{"type":"contact","id":"c1","name":"Customer","emails":["customer@client.example"]}' | ma records import acme - >/dev/null
ma rules add acme '{"name":"All contacts","object_types":["contact"],"action":{"activity_type":"email"}}' >/dev/null

# at least 5 kills, and rounds until 1,500 messages were acknowledged (at most 15 rounds)
MIN_ACKED=${SMTP_CRASH_MIN_ACKED:-1500}
acked_so_far() { cat "$T"/source.*.log 2>/dev/null | grep -o 'queued as [0-9a-z]*' | sort -u | wc -l; }
ROUNDS=0 TORN=0
for round in $(seq 1 15); do
  if [ "$round" -gt 5 ] && [ "$(acked_so_far)" -ge "$MIN_ACKED" ]; then break; fi
  ROUNDS=$round
  start_serve
  size=300; [ $((round % 2)) = 0 ] && size=70000
  smtp-source -v -A -s 20 -m 3000 -l "$size" -f customer@client.example -t "$INBOUND" "127.0.0.1:$SMTP_PORT" \
    >"$T/source.$round.log" 2>&1 &
  src=$!
  sleep "$(/usr/bin/python3 -c 'import random; print(round(random.uniform(0.4, 1.6), 2))')"
  kill -KILL "$SERVE_PID" 2>/dev/null || true
  wait "$SERVE_PID" 2>/dev/null || true
  SERVE_PID=
  if [ -s "$T/data/spool.db-wal" ]; then
    head -c $((RANDOM % 8000 + 1)) /dev/urandom >>"$T/data/spool.db-wal"
    TORN=$((TORN + 1))
  fi
  sleep 0.3
  kill "$src" 2>/dev/null || true
  wait "$src" 2>/dev/null || true
done
# a last clean run finishes whatever the spool holds
start_serve
for _ in $(seq 1 200); do
  left=$(sqlite3 -readonly "$T/data/spool.db" "select count(*) from spool" 2>/dev/null || echo 1)
  [ "$left" = 0 ] && break
  sleep 0.1
done
assert_eq 0 "$left" "spool drained after the last restart"
stop_serve
# the body files of archived messages are gone, and so are those of messages a kill caught in DATA
assert_eq 0 "$(ls "$T/data/spool" | wc -l)" "no body file left in data/spool after kills, sweep and drain"

cat "$T"/source.*.log | grep -o 'queued as [0-9a-z]*' | awk '{print $3}' | sort -u >"$T/acked.txt"
acked=$(wc -l <"$T/acked.txt")
echo "acknowledged by 250: $acked messages over $ROUNDS SIGKILLed runs"
[ "$TORN" -ge 3 ] && pass "$TORN restarts found a torn tail after the spool's write-ahead log" || fail "only $TORN torn tails"
bigs=$(for r in $(seq 2 2 "$ROUNDS"); do cat "$T/source.$r.log"; done | { grep -o 'queued as [0-9a-z]*' || true; } | sort -u | wc -l)
[ "$bigs" -ge 20 ] && pass "$bigs acknowledged messages over 64 KiB (body files)" || fail "only $bigs large messages acknowledged"
if [ "$acked" -ge 1000 ]; then pass "over a thousand messages acknowledged ($acked)"; else fail "too few acknowledged messages: $acked"; fi

check=$(/usr/bin/python3 - "$T/data/mailagent.db" "$T/acked.txt" <<'PY'
import sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
acked = [l.strip() for l in open(sys.argv[2]) if l.strip()]
rows = dict(db.execute("select spool_id, count(*) from provenance where spool_id is not null group by spool_id"))
missing = [i for i in acked if rows.get(i, 0) == 0]
doubled = [i for i, n in rows.items() if n > 1]
msgs = db.execute("select count(*) from messages").fetchone()[0]
acts = db.execute("select count(*) from activities").fetchone()[0]
distinct_acts = db.execute("select count(*) from (select distinct message_id, record_type, record_id from activities)").fetchone()[0]
per_msg = db.execute("select count(*) from messages m where (select count(*) from activities a where a.message_id = m.id) != 1").fetchone()[0]
dup_mid = db.execute("select count(*) from (select message_id from messages where message_id is not null group by message_id having count(*) > 1)").fetchone()[0]
print("missing=%d doubled=%d messages=%d activities=%d distinct_activities=%d msgs_without_one_activity=%d dup_message_ids=%d"
      % (len(missing), len(doubled), msgs, acts, distinct_acts, per_msg, dup_mid))
PY
)
echo "$check"
assert_contains "$check" "missing=0 " "every acknowledged message is archived"
assert_contains "$check" "doubled=0 " "no spool entry archived twice"
assert_contains "$check" "msgs_without_one_activity=0 " "each archived message has exactly one activity"
assert_contains "$check" "dup_message_ids=0" "no Message-ID archived twice"
if [[ "$check" =~ activities=([0-9]+)\ distinct_activities=([0-9]+) ]] && [ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ]; then
  pass "no activity duplicated"; else fail "activities duplicated: $check"; fi
finish
