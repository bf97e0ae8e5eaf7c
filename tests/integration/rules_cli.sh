#!/usr/bin/env bash
# rules_cli.sh - `mailagent rules ...` end to end: add (argv, file, stdin), list, validation errors
# (unknown operator, bad regex with its offset, 11th rule), move, enable/disable, update, delete;
# then activities through `mailagent ingest`: one per (message, record) by the first matching rule,
# shown on the timeline next to its mail; a duplicate arrival creates no second activity but gives
# one to a link whose rule is now satisfied (the copy's employee); the `activities` switch
# (rules kept, nothing created while off) and `rules replay --since` (catches up, idempotent).
. "$(dirname "$0")/lib/common.sh"

write_config
ma init >/dev/null
ma enterprise add --name Acme --domain acme.example --slug acme >/dev/null
ma employee add acme homer@acme.example >/dev/null
ma records import acme "$FIXTURES_DIR/walkthrough/records.jsonl" >/dev/null

assert_status 0 ma rules list acme
assert_eq "no rules" "$(cat "$T/last.out")" "empty list"

# Add from argv, a file and stdin.
assert_status 0 ma rules add acme '{"name":"Quotes","object_types":["contact","opportunity"],
  "conditions":[{"field":"subject","op":"contains","value":"QUOTE"},{"field":"has_attachment","op":"equals","value":true}],
  "action":{"activity_type":"email","title":"Quote: {{subject}}","content":"{{record.name}} / {{from}}"}}'
quotes_id=$(sed -n 's/^rule \([a-z0-9]*\) added$/\1/p' "$T/last.out")
assert_eq 20 "${#quotes_id}" "add prints the new id"
cat > "$T/rule-account.json" <<'J'
{"name":"Homer's accounts","object_types":["account"],
 "conditions":[{"field":"employee","op":"equals","value":"HOMER@acme.example"}],
 "action":{"activity_type":"call","title":"{{record.name}}: {{subject}}"}}
J
assert_status 0 ma rules add acme "$T/rule-account.json"
echo '{"name":"Catch-all","enabled":false,"object_types":["contact","account","opportunity","lead"],"action":{"activity_type":"note"}}' \
  > "$T/stdin.json"
got=0; ma rules add acme - --json < "$T/stdin.json" > "$T/add.json" || got=$?
assert_eq 0 "$got" "add from stdin"
assert_eq "Quotes|Homer's accounts|Catch-all" "$(json_get "$T/add.json" '"|".join(r["name"] for r in d["items"])')" "list after adds"
account_id=$(json_get "$T/add.json" 'd["items"][1]["id"]')
catchall_id=$(json_get "$T/add.json" 'd["items"][2]["id"]')
assert_eq "False" "$(json_get "$T/add.json" 'd["items"][2]["enabled"]')" "disabled on add"

# Validation errors name the place; nothing is stored.
assert_status 2 ma rules add acme '{"name":"x","object_types":["contact"],"conditions":[{"field":"subject","op":"like","value":"a"}],"action":{"activity_type":"x"}}'
assert_contains "$(cat "$T/last.err")" 'rule.conditions[0].op: unknown operator "like"' "unknown operator named"
assert_status 2 ma rules add acme '{"name":"x","object_types":["contact"],"conditions":[{"field":"body","op":"matches","value":"ab(c"}],"action":{"activity_type":"x"}}'
assert_contains "$(cat "$T/last.err")" "bad regular expression at offset 4" "regex error offset"
assert_status 2 ma rules add acme '{"name":"x","object_types":[],"action":{"activity_type":"x"}}'
assert_contains "$(cat "$T/last.err")" "rule.object_types" "empty object types"
assert_status 0 ma rules list acme --json
assert_eq 3 "$(json_get "$T/last.out" 'len(d["items"])')" "still three rules"

# Order is editable; enable/disable.
assert_status 0 ma rules move acme "$catchall_id" --to 1
assert_status 0 ma rules list acme --json
assert_eq "Catch-all|Quotes|Homer's accounts" "$(json_get "$T/last.out" '"|".join(r["name"] for r in d["items"])')" "moved to first"
assert_status 0 ma rules move acme "$catchall_id" --to 3
assert_status 2 ma rules move acme "$catchall_id" --to 4
assert_status 2 ma rules enable acme nosuchrule
assert_contains "$(cat "$T/last.err")" "no rule with id" "unknown id"
assert_status 0 ma rules enable acme "$catchall_id"
assert_status 0 ma rules disable acme "$catchall_id"
assert_status 0 ma rules list acme
assert_contains "$(cat "$T/last.out")" "$catchall_id" "text list shows ids"

# The ten-rule cap counts disabled rules.
for i in 4 5 6 7 8 9 10; do
  ma rules add acme "{\"name\":\"filler $i\",\"enabled\":false,\"object_types\":[\"lead\"],\"action\":{\"activity_type\":\"x\"}}" >/dev/null
done
assert_status 2 ma rules add acme '{"name":"eleventh","object_types":["lead"],"action":{"activity_type":"x"}}'
assert_contains "$(cat "$T/last.err")" "at most 10 rules" "11th rule refused"
for id in $(ma rules list acme --json | json_get - '" ".join(r["id"] for r in d["items"] if r["name"].startswith("filler"))'); do
  ma rules delete acme "$id" >/dev/null
done
assert_status 0 ma rules list acme --json
assert_eq 3 "$(json_get "$T/last.out" 'len(d["items"])')" "fillers deleted"

# Ingest: the quote creates one activity per linked contact and opportunity (rule "Quotes"), none
# for the account (rule "Homer's accounts" needs the employee, and this copy has none).
assert_status 0 ma ingest acme "$FIXTURES_DIR/walkthrough/quote-request.eml" --json
msg=$(json_get "$T/last.out" 'd["id"]')
links=$(json_get "$T/last.out" '" ".join(sorted(r["type"] + ":" + r["id"] for r in d["records"]))')
created=$(json_get "$T/last.out" 'd["activities_created"]')
want=$(echo "$links" | tr ' ' '\n' | grep -c -E '^(contact|opportunity):')
assert_eq "$want" "$created" "one activity per linked contact/opportunity ($links)"

assert_status 0 ma timeline acme contact CON-1 --json
assert_eq "activity message" "$(json_get "$T/last.out" '" ".join(i["kind"] for i in d["items"])')" "activity next to its mail"
assert_eq "$msg" "$(json_get "$T/last.out" 'd["items"][0]["message_id"]')" "activity refers to the mail"
assert_eq "Quote: Quote for 500 hammocks" "$(json_get "$T/last.out" 'd["items"][0]["title"]')" "title rendered"
assert_eq "Hank Scorpio / Hank Scorpio <hank@globex.example>" "$(json_get "$T/last.out" 'd["items"][0]["content"]')" "content rendered"
assert_eq "homer@acme.example" "$(json_get "$T/last.out" 'd["items"][0]["owner"]')" "owner: first internal recipient"
assert_eq "$quotes_id" "$(json_get "$T/last.out" 'd["items"][0]["rule_id"]')" "rule id"
assert_status 0 ma timeline acme account ACC-1 --json
assert_eq "message" "$(json_get "$T/last.out" '" ".join(i["kind"] for i in d["items"])')" "account: no activity yet"

# The same mail again, now from Homer's copy: no second activity for the contact, one for the account.
assert_status 0 ma ingest acme --employee homer@acme.example "$FIXTURES_DIR/walkthrough/quote-request.eml" --json
assert_eq "duplicate" "$(json_get "$T/last.out" 'd["result"]')" "second copy is a duplicate"
assert_eq 1 "$(json_get "$T/last.out" 'd["activities_created"]')" "duplicate re-evaluates links without activity"
assert_status 0 ma timeline acme contact CON-1 --json
assert_eq "activity message" "$(json_get "$T/last.out" '" ".join(i["kind"] for i in d["items"])')" "still one activity for the contact"
assert_status 0 ma timeline acme account ACC-1 --json
assert_eq "activity message" "$(json_get "$T/last.out" '" ".join(i["kind"] for i in d["items"])')" "account activity after the duplicate"
assert_eq "Globex Corporation: Quote for 500 hammocks" "$(json_get "$T/last.out" 'd["items"][0]["title"]')" "account title"
assert_status 0 ma ingest acme --employee homer@acme.example "$FIXTURES_DIR/walkthrough/quote-request.eml" --json
assert_eq 0 "$(json_get "$T/last.out" 'd["activities_created"]')" "third copy creates nothing"

# Switch off: rules kept, nothing created; back on: replay catches up, idempotently.
assert_status 0 ma settings acme activities=off
cat > "$T/quote2.eml" <<'M'
From: Hank Scorpio <hank@globex.example>
To: homer@acme.example
Subject: Another quote please
Date: Wed, 04 Sep 2024 10:00:00 +0000
Message-ID: <quote-2@globex.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b"

--b
Content-Type: text/plain

Also 20 umbrellas.
--b
Content-Type: application/pdf; name="umbrella.pdf"
Content-Disposition: attachment; filename="umbrella.pdf"
Content-Transfer-Encoding: base64

JVBERi0xLjQK
--b--
M
assert_status 0 ma ingest acme "$T/quote2.eml" --json
assert_eq 0 "$(json_get "$T/last.out" 'd["activities_created"]')" "switch off: none created"
msg2=$(json_get "$T/last.out" 'd["id"]')
want2=$(json_get "$T/last.out" 'len([r for r in d["records"] if r["type"] in ("contact", "opportunity")])')
if [ "$want2" -ge 1 ]; then pass "second quote linked to a contact"; else fail "second quote not linked"; fi
assert_status 0 ma rules list acme --json
assert_eq 3 "$(json_get "$T/last.out" 'len(d["items"])')" "rules kept while off"
assert_status 0 ma rules replay acme --since 2000-01-01 --json
assert_eq 0 "$(json_get "$T/last.out" 'd["activities_created"]')" "replay while off creates nothing"
assert_contains "$(cat "$T/last.err")" "activities are off" "replay warns when off"
assert_status 0 ma settings acme activities=on
assert_status 0 ma rules replay acme --since 2000-01-01 --json
assert_eq 2 "$(json_get "$T/last.out" 'd["messages"]')" "replay walks archived mail"
assert_eq "$want2" "$(json_get "$T/last.out" 'd["activities_created"]')" "replay creates the missing activities"
assert_status 0 ma timeline acme contact CON-1 --json
assert_eq "$msg2" "$(json_get "$T/last.out" '[i["message_id"] for i in d["items"] if i["kind"] == "activity"][0]')" "replayed activity on the timeline"
assert_status 0 ma rules replay acme --since 2000-01-01 --json
assert_eq 0 "$(json_get "$T/last.out" 'd["activities_created"]')" "replay is idempotent"
assert_status 2 ma rules replay acme
assert_status 2 ma rules replay acme --since yesterday

# Update keeps the position; delete.
assert_status 0 ma rules update acme "$quotes_id" '{"name":"Quotes v2","object_types":["contact"],"action":{"activity_type":"email"}}'
assert_status 0 ma rules list acme --json
assert_eq "Quotes v2" "$(json_get "$T/last.out" 'd["items"][0]["name"]')" "update keeps position"
assert_eq "$quotes_id" "$(json_get "$T/last.out" 'd["items"][0]["id"]')" "update keeps id"
assert_status 0 ma rules delete acme "$account_id"
assert_status 0 ma rules list acme --json
assert_eq "Quotes v2|Catch-all" "$(json_get "$T/last.out" '"|".join(r["name"] for r in d["items"])')" "deleted"
assert_status 0 ma rules --help

finish
