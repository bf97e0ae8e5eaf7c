#!/usr/bin/env bash
# cli_records.sh - `mailagent records import|show|list`: atomic refusal vs --skip-invalid with line
# numbers, CSV with a header row (quoting, multi-values, attributes), deletions, stdin, overlong
# lines, unknown enterprise and type, and paging.
. "$(dirname "$0")/lib/common.sh"

write_config
ma init >/dev/null
ma enterprise add --name "Acme" --domain acme.example --slug acme >/dev/null
ma enterprise add --name "Other" --domain other.example --slug other >/dev/null

# --- atomic by default: one bad line, nothing written, every bad line reported with its number ---
cat > "$T/mixed.jsonl" <<'J'
{"type":"account","id":"A1","name":"Globex","domains":["globex.example"]}
{"type":"contact","id":"C1","emails":["not-an-address"]}

{"type":"contact","id":"C2","name":"Ann","emails":["ann@globex.example"],"account_id":"A1"}
{"type":"contact","id":"C3","stage":"open"}
{"type":"contact","id":"C4","email":["x@globex.example"]}
{"type":"contact", "id":
J
assert_status 2 ma records import acme "$T/mixed.jsonl"
err=$(cat "$T/last.err")
assert_contains "$err" "line 2: emails[0]: \"not-an-address\" is not an e-mail address" "bad address reported with line 2"
assert_contains "$err" "line 5: stage: only opportunities" "stage on a contact reported with line 5"
assert_contains "$err" "line 6: unknown field \"email\"" "unknown field named, line 6"
assert_contains "$err" "line 7: bad JSON" "truncated JSON reported with line 7"
assert_contains "$err" "nothing imported: 4 bad lines" "atomic refusal says nothing was imported"
assert_status 2 ma records show acme account A1
assert_contains "$(cat "$T/last.err")" "no account \"A1\"" "atomic import wrote nothing"

# --- --skip-invalid imports the good lines ---
assert_status 1 ma records import acme "$T/mixed.jsonl" --skip-invalid
assert_contains "$(cat "$T/last.out")" "created 2, updated 0, deleted 0, invalid 4" "skip-invalid counts"
assert_status 0 ma records show acme contact C2 --json
assert_eq "A1 ann@globex.example" "$(json_get "$T/last.out" 'd["account_id"], d["emails"][0]' | tr -d "(),'")" "good contact stored"

# --- JSON output of an import, re-import is an update, deletion ---
printf '%s\n' '{"type":"contact","id":"C2","name":"Ann B","emails":["ANN@globex.example"],"account_id":"A1"}' \
              '{"type":"account","id":"A1","deleted":true}' '{"type":"lead","id":"nope","deleted":true}' > "$T/upd.jsonl"
assert_status 0 ma records import acme "$T/upd.jsonl" --json
assert_eq "0 1 1 1 0 True" "$(json_get "$T/last.out" 'd["created"], d["updated"], d["deleted"], d["not_found"], d["invalid"], d["committed"]' | tr -d "(),'")" "update/delete counts in JSON"
assert_status 2 ma records show acme account A1
assert_status 0 ma records show acme contact C2
assert_contains "$(cat "$T/last.out")" "Ann B" "re-import updated the name"

# --- stdin ---
echo '{"type":"lead","id":"L1","emails":["lead@initech.example"]}' | ma records import acme - >"$T/stdin.out"
assert_contains "$(cat "$T/stdin.out")" "created 1" "import from stdin"

# --- CSV: header, quoting with commas and newlines, multi-values, attributes, deleted column ---
cat > "$T/records.csv" <<'C'
type,id,name,emails,domains,account_id,contact_ids,stage,deleted,attr.region,segment
account,A2,"Initech, Inc.",,initech.example|initech.test,,,,,EMEA,smb
contact,C7,"Smithers, Waylon",waylon@initech.example;ws@initech.example,,A2,,,,EMEA,
opportunity,O1,"Deal ""big""",,,A2,C7;C2,won,,,
lead,L1,,,,,,,true,,
contact,C8,Carl,c8@initech.example,,,,,,"Multi
line",
C
assert_status 0 ma records import acme "$T/records.csv"
assert_contains "$(cat "$T/last.out")" "created 4, updated 0, deleted 1, invalid 0" "CSV counts"
assert_status 0 ma records show acme account A2 --json
assert_eq "Initech, Inc. initech.example initech.test EMEA smb" \
  "$(json_get "$T/last.out" '" ".join([d["name"]] + d["domains"] + [d["attributes"]["region"], d["attributes"]["segment"]])')" \
  "CSV account: quoted comma, '|' list, attr. and bare attribute columns"
assert_status 0 ma records show acme contact C7 --json
assert_eq "2 A2" "$(json_get "$T/last.out" 'len(d["emails"]), d["account_id"]' | tr -d "(),'")" "CSV ';' list of emails"
assert_status 0 ma records show acme opportunity O1 --json
assert_eq 'Deal "big" won C7,C2' "$(json_get "$T/last.out" 'd["name"] + " " + d["stage"] + " " + ",".join(d["contact_ids"])')" "CSV escaped quotes, stage, contact_ids"
assert_status 2 ma records show acme lead L1
assert_status 0 ma records show acme contact C8 --json
assert_eq "Multi
line" "$(json_get "$T/last.out" 'd["attributes"]["region"]')" "CSV quoted line break"

# A NUL byte in a cell is an error for that line, never a truncation ("C7\0-new" once updated C7).
printf 'type,id,name,emails\ncontact,C7\0-new-record,Mallory,mallory@evil.example\n' > "$T/nul.csv"
assert_status 2 ma records import acme "$T/nul.csv"
assert_contains "$(cat "$T/last.err")" "line 2: field 2 contains a NUL byte" "CSV NUL byte reported with its line"
assert_status 0 ma records show acme contact C7 --json
assert_eq "Smithers, Waylon" "$(json_get "$T/last.out" 'd["name"]')" "C7 untouched by C7\\0-new-record"

# CSV errors carry the physical line number of the row.
cat > "$T/bad.csv" <<'C'
type,id,emails,stage
contact,C9,c9@x.example,
contact,C10,"two
lines",
opportunity,O2,,closed
contact,C11
C
assert_status 2 ma records import acme "$T/bad.csv"
err=$(cat "$T/last.err")
assert_contains "$err" "line 3: emails[0]: \"two" "CSV bad address on the row starting at line 3"
assert_contains "$err" "line 5: stage: must be" "CSV bad stage at line 5 (after a two-line row)"
assert_contains "$err" "line 6: 2 fields, the header has 4" "CSV short row"
assert_status 2 ma records show acme contact C9

printf 'id,name\nX,Y\n' > "$T/nohead.csv"
assert_status 2 ma records import acme "$T/nohead.csv"
assert_contains "$(cat "$T/last.err")" "needs the columns type and id" "CSV header without type"

# --- an overlong line is reported, not buffered without bound ---
/usr/bin/python3 -c '
import json
print(json.dumps({"type":"lead","id":"big","name":"x"*(1100*1024)}))
print(json.dumps({"type":"lead","id":"L2"}))' > "$T/big.jsonl"
assert_status 1 ma records import acme "$T/big.jsonl" --skip-invalid
assert_contains "$(cat "$T/last.err")" "line 1: longer than 1048576 bytes" "overlong line reported"
assert_status 0 ma records show acme lead L2

# --- tenant isolation and errors ---
assert_status 2 ma records show other contact C2
assert_status 2 ma records import nosuch "$T/upd.jsonl"
assert_contains "$(cat "$T/last.err")" "no enterprise \"nosuch\"" "unknown enterprise named"
assert_status 2 ma records list acme person
assert_contains "$(cat "$T/last.err")" "\"person\" is not a record type" "unknown type named"
assert_status 2 ma records import acme "$T/does-not-exist.jsonl"
assert_status 2 ma records import acme
assert_status 0 ma records import --help

# --- a locked database is a temporary failure: exit 75, nothing written ---
# the lock is held until released (hold_write_lock), not for a fixed 20 s: on loaded cores the
# import's 10 s busy wait once began late enough to find the lock gone and succeed
hold_write_lock "$T/data/mailagent.db"
echo '{"type":"lead","id":"LOCKED"}' > "$T/locked.jsonl"
assert_status 75 ma records import acme "$T/locked.jsonl"
assert_contains "$(cat "$T/last.err")" "try again" "busy database: temporary failure message"
release_write_lock
assert_status 2 ma records show acme lead LOCKED

# --- paging ---
for i in 1 2 3 4 5; do echo "{\"type\":\"account\",\"id\":\"P$i\",\"domains\":[\"p$i.example\"]}"; done > "$T/page.jsonl"
ma records import acme "$T/page.jsonl" >/dev/null
assert_status 0 ma records list acme account --limit 2 --json
cur=$(json_get "$T/last.out" 'd["next_cursor"]')
assert_eq "A2 P1" "$(json_get "$T/last.out" '" ".join(r["id"] for r in d["items"])')" "first page"
assert_status 0 ma records list acme account --limit 2 --cursor "$cur" --json
assert_eq "P2 P3" "$(json_get "$T/last.out" '" ".join(r["id"] for r in d["items"])')" "second page"
assert_status 0 ma records list acme account --limit 10 --json
assert_eq "None" "$(json_get "$T/last.out" 'd["next_cursor"]')" "last page has next_cursor null"
finish
