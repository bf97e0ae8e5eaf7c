#!/usr/bin/env bash
# match_loop.sh - loop protection (issue 16), on the test clock: with loop_limit=3 and a 60-minute
# window, a sender's 4th and 5th messages linked to one record are not archived (loop_throttled),
# one loop.throttled webhook event reports it (not one per message), another sender to the same
# record is not held back, and once the window has passed the sender's mail is archived again.
. "$(dirname "$0")/lib/common.sh"

write_config
clock_start 1725271200
ma init >/dev/null
ma enterprise add --name Acme --domain acme.example --slug acme >/dev/null
ma employee add acme homer@acme.example >/dev/null
ma records import acme "$FIXTURES_DIR/walkthrough/records.jsonl" >/dev/null
DB=$T/data/mailagent.db
sql() { /usr/bin/python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])" "$DB" "$1"; }
assert_status 0 ma settings acme loop_limit=3 loop_window_minutes=60

send() { # send FROM N: one message, its result printed
  printf 'From: <%s>\r\nTo: homer@acme.example\r\nSubject: Out of the loop %s\r\nMessage-ID: <loop-%s-%s@globex.example>\r\n\r\nAgain.\r\n' \
    "$1" "$2" "$1" "$2" > "$T/m.eml"
  ma ingest acme "$T/m.eml" --json | json_get - 'd["result"]+("/"+d["reason"] if d["reason"] else "")'
}
got=""
for n in 1 2 3 4 5; do got="$got $(send hank@globex.example $n)"; done
assert_eq " archived archived archived skipped/loop_throttled skipped/loop_throttled" "$got" "the 4th and 5th are throttled"
assert_eq 1 "$(sql "select count(*) from outbox where event='loop.throttled'")" "reported once"
assert_eq "hank@globex.example 3" \
  "$(sql "select json_extract(payload,'\$.sender')||' '||json_extract(payload,'\$.limit') from outbox where event='loop.throttled'")" \
  "the report names the sender and the limit"
assert_eq "archived" "$(send mindy@globex.example 1)" "another sender to the same records is not held back"
clock_advance $((61 * 60))
assert_eq "archived" "$(send hank@globex.example 6)" "archived again once the window has passed"
assert_status 0 ma settings acme loop_limit=0
for n in 7 8 9; do send hank@globex.example $n >/dev/null; done
assert_eq "archived" "$(send hank@globex.example 10)" "loop_limit=0: no limit"
finish
