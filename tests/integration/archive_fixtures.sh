#!/bin/bash
# archive_fixtures.sh - the archive pipeline through the real binary: `mailagent ingest --json` over
# tests/fixtures/archive (result and linked records as each NAME.expect.json says, for the fixtures
# that need no per-message settings), a second ingest adds nothing, stdin input, exit statuses; then
# `mailagent serve`: a message forwarded over SMTP by an employee is archived by the pipeline
# workers and shows in the timeline, SIGHUP reloads, SIGTERM drains and exits 0; after a SIGKILL
# while the workers are busy, a restarted serve finishes the spool: every message that got a 250 is
# archived with its activity, none twice.
source "$(dirname "$0")/lib/common.sh"

FX=$FIXTURES_DIR/archive
write_config
ma init >/dev/null
ma enterprise add --name Acme --slug acme --domain acme.example --json > "$T/ent.json"
INBOUND=$(json_get "$T/ent.json" 'd["inbound_address"]')
for e in alice@acme.example bob@acme.example dave.sales@outlook.com; do ma employee add acme "$e" >/dev/null 2>&1; done
ma records import acme "$FX/records.jsonl" >/dev/null

# ---- ingest: every fixture, JSON lines ----
ma ingest --json acme "$FX" > "$T/ingest1.jsonl"
assert_eq "$(ls "$FX"/*.eml | wc -l)" "$(wc -l < "$T/ingest1.jsonl")" "one JSON line per fixture"
/usr/bin/python3 - "$T/ingest1.jsonl" "$FX" > "$T/check1.txt" <<'PY'
import json, os, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
bad = []
checked = 0
for r in lines:
    name = os.path.basename(r["file"])[:-4]
    want = json.load(open(os.path.join(sys.argv[2], name + ".expect.json")))
    if "settings" in want or "provenance" in want:
        continue  # per-message settings and routes are exercised by test_pipeline_fixtures
    checked += 1
    got_records = sorted("%s:%s" % (x["type"], x["id"]) for x in r["records"])
    if r["result"] != want["result"]: bad.append("%s: result %s want %s" % (name, r["result"], want["result"]))
    if r["reason"] != want.get("reason"): bad.append("%s: reason %s" % (name, r["reason"]))
    if got_records != sorted(want["records"]): bad.append("%s: records %s want %s" % (name, got_records, want["records"]))
    if "direction" in want and r["result"] != "duplicate" and r["direction"] != want["direction"]:
        bad.append("%s: direction %s" % (name, r["direction"]))
print("checked=%d" % checked)
for b in bad: print(b)
PY
assert_eq "" "$(grep -v '^checked=' "$T/check1.txt" || true)" "ingest --json matches the fixtures' expectations"
assert_eq "checked=44" "$(head -1 "$T/check1.txt")" "44 fixtures checked through the CLI"

# ---- a second run archives nothing new ----
ma ingest --json acme "$FX" > "$T/ingest2.jsonl"
assert_eq "0" "$(grep -c '"result":"archived"' "$T/ingest2.jsonl" || true)" "second ingest archives nothing"
assert_eq "0" "$(grep -c '"provenance_added":true' "$T/ingest2.jsonl" || true)" "second ingest adds no provenance"

# ---- stdin, text output, exit statuses ----
out=$(sed 's/q3-quote-1@globex/stdin-copy@globex/' "$FX/01_contact_by_address.eml" | ma ingest acme -)
assert_contains "$out" "-: archived " "stdin message archived"
assert_contains "$out" "contact:con-hank" "stdin message linked"
assert_status 2 ma ingest nosuch "$FX/01_contact_by_address.eml"
assert_status 1 ma ingest acme "$T/does-not-exist.eml"
# a message over [smtp] max_message_size is refused as too large (exit 2, reason on stderr), never
# reported as an "unreadable" skip with exit 0; the other files of the same run are still archived
sed '/^\[smtp\]/a max_message_size=4000' "$CONF" > "$T/small.conf"
{ sed -n '1,/^$/p' "$FX/01_contact_by_address.eml" | sed 's/q3-quote-1@globex/too-big@globex/'; head -c 6000 /dev/zero | tr '\0' 'x' | fold -w 70; } > "$T/big.eml"
sed 's/q3-quote-1@globex/small-ok@globex/' "$FX/01_contact_by_address.eml" > "$T/small-ok.eml"
rc=0; "$MAILAGENT" ingest -c "$T/small.conf" acme "$T/big.eml" "$T/small-ok.eml" > "$T/big.out" 2> "$T/big.err" || rc=$?
assert_eq 2 "$rc" "ingest of a message over max_message_size exits 2"
assert_contains "$(cat "$T/big.err")" "big.eml: too large: more than 4000 bytes" "the reason names the file and the limit"
assert_eq "" "$(grep big.eml "$T/big.out" || true)" "the oversized message is not reported as processed"
assert_contains "$(cat "$T/big.out")" "small-ok.eml: archived " "the other file of the run is archived"
rc=0; "$MAILAGENT" ingest -c "$T/small.conf" acme - < "$T/big.eml" > /dev/null 2> "$T/big.err" || rc=$?
assert_eq 2 "$rc" "the same from standard input"
assert_contains "$(cat "$T/big.err")" "-: too large" "stdin reason"

# ---- serve: SMTP -> spool -> workers -> archive ----
start_serve
/usr/bin/python3 - "$SMTP_PORT" "$INBOUND" "$FX/13_won_lost_not_linked.eml" <<'PY'
import smtplib, sys
raw = open(sys.argv[3], 'rb').read().replace(b'thanks-1@lexcorp', b'thanks-serve@lexcorp').replace(b'Thanks for the delivery', b'Delivered over SMTP')
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=10)
s.ehlo('mx.acme.example')
s.sendmail('bob@acme.example', [sys.argv[2]], raw)
s.quit()
PY
found=""
for _ in $(seq 1 50); do
  if ma timeline --json acme contact con-lisa 2>/dev/null | grep -q "Delivered over SMTP"; then found=yes; break; fi
  sleep 0.1
done
assert_eq "yes" "$found" "message received over SMTP is archived and on the contact's timeline"
kill -HUP "$SERVE_PID"
sleep 0.3
kill -0 "$SERVE_PID" 2>/dev/null && pass "serve survives SIGHUP" || fail "serve died on SIGHUP"
kill -TERM "$SERVE_PID"
rc=0; wait "$SERVE_PID" || rc=$?
SERVE_PID=
assert_eq 0 "$rc" "serve exits 0 after SIGTERM"
assert_contains "$(cat "$T/serve.log")" "configuration reloaded" "SIGHUP reloaded the configuration"

# ---- SIGKILL while the workers are busy, then restart ----
ma rules add acme '{"name": "contacts", "object_types": ["contact"], "action": {"activity_type": "email"}}' >/dev/null
metric() { /usr/bin/python3 -c "
import sys, urllib.request
for line in urllib.request.urlopen('http://127.0.0.1:$API_PORT/metrics', timeout=5).read().decode().splitlines():
    if line.startswith(sys.argv[1] + ' '): print(int(float(line.split()[1])))" "$1"; }
send_batch() { # send_batch FIRST COUNT: messages from a contact, 20 per SMTP session; prints how many got 250
  /usr/bin/python3 - "$SMTP_PORT" "$INBOUND" "$1" "$2" <<'PY'
import smtplib, sys
port, rcpt, first, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
ok = 0
for start in range(first, first + count, 20):
    s = smtplib.SMTP('127.0.0.1', port, timeout=10)
    s.ehlo('mx.acme.example')
    for i in range(start, min(start + 20, first + count)):
        raw = ("From: Hank Hill <hank@globex.example>\r\nTo: alice@acme.example\r\nSubject: Crash order %d\r\n"
               "Date: Mon, 04 Mar 2024 10:00:00 +0000\r\nMessage-ID: <crash-%d@globex.example>\r\n\r\nOrder %d.\r\n" % (i, i, i))
        s.sendmail('alice@acme.example', [rcpt], raw.encode())
        ok += 1
    s.quit()
print(ok)
PY
}
start_serve
m0=$(metric mailagent_archive_messages); a0=$(metric mailagent_archive_activities)
# Hold the archive database's write lock so the workers cannot commit: the 250s still come (the
# spool is its own database), the mail waits in the spool, and the SIGKILL finds it there.
/usr/bin/python3 - "$T/data/mailagent.db" "$T/locked" "$T/release" <<'PY' &
import os, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
db.execute("BEGIN IMMEDIATE")
open(sys.argv[2], "w").close()
while not os.path.exists(sys.argv[3]): time.sleep(0.05)
db.execute("ROLLBACK")
PY
LOCKER=$!
for _ in $(seq 1 100); do [ -e "$T/locked" ] && break; sleep 0.05; done
sent1=$(send_batch 0 200)
kill -KILL "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true; SERVE_PID=
touch "$T/release"; wait "$LOCKER"
start_serve
sent2=$(send_batch 200 100)
want=$((m0 + sent1 + sent2))
for _ in $(seq 1 100); do [ "$(metric mailagent_archive_messages)" -ge "$want" ] && break; sleep 0.1; done
assert_eq "300" "$((sent1 + sent2))" "every message got a 250"
assert_eq "$want" "$(metric mailagent_archive_messages)" "after SIGKILL and restart every acknowledged message is archived once"
assert_eq "$((a0 + sent1 + sent2))" "$(metric mailagent_archive_activities)" "one activity per message, none duplicated"
after_restart=$(awk '/worker\(s\) started/ {n++; c=0} /pipeline: spool=.*result=archived/ {c++} END {print c}' "$T/serve.log")
assert_eq "$((sent1 + sent2))" "$after_restart" "the restarted serve archived what the killed one had only spooled"
stop_serve
finish
