#!/usr/bin/env bash
# match_explain.sh - issue 16's explainability and rule dry run, through the real binary:
# - `mailagent explain` (text and --json) and GET /v1/messages/{id}/explain show participants
#   (internal, external, excluded by never_log), each link with its reason, the rules evaluated in
#   order with the condition that failed or matched, and the activity made;
# - machine mail: an auto-reply is archived with is_auto (the default) or skipped (auto_replies=skip),
#   and a rule testing is_auto decides its activity;
# - `mailagent rules test` (FILE.eml and --last N) and POST /v1/rules:test evaluate a draft set and
#   create nothing: every table's row count is the same before and after.
. "$(dirname "$0")/lib/common.sh"

write_config
ma init >/dev/null
KEY=$(ma enterprise add --name Acme --domain acme.example --slug acme --json | json_get - 'd["api_key"]["secret"]')
ma employee add acme homer@acme.example >/dev/null
ma records import acme "$FIXTURES_DIR/walkthrough/records.jsonl" >/dev/null
DB=$T/data/mailagent.db

# Two rules: the first never matches a quote (it wants an auto-reply), the second does.
assert_status 0 ma rules add acme '{"name":"Auto-replies","object_types":["contact","account","opportunity","lead"],
  "conditions":[{"field":"is_auto","op":"equals","value":true}],"action":{"activity_type":"auto_reply"}}'
assert_status 0 ma rules add acme '{"name":"Quotes","object_types":["contact"],
  "conditions":[{"field":"direction","op":"equals","value":"inbound"},{"field":"subject","op":"contains","value":"quote"}],
  "action":{"activity_type":"email","title":"Quote: {{subject}}"}}'
# Mindy (cc) is never logged: she is not linked, her address shows as excluded.
assert_status 0 ma settings acme never_log=mindy@globex.example

assert_status 0 ma ingest acme "$FIXTURES_DIR/walkthrough/quote-request.eml" --json
msg=$(json_get "$T/last.out" 'd["id"]')

assert_status 0 ma explain acme "$msg" --json
cp "$T/last.out" "$T/explain.json"
assert_eq "from hank@globex.example = contact CON-1" \
  "$(json_get "$T/explain.json" '[l["reason"] for l in d["links"] if l["type"]=="contact"][0]')" "contact link reason"
assert_eq "domain globex.example = account ACC-1" \
  "$(json_get "$T/explain.json" '[l["reason"] for l in d["links"] if l["type"]=="account"][0]')" "account link reason"
assert_eq "contact CON-1 in open opportunity OPP-1" \
  "$(json_get "$T/explain.json" '[l["reason"] for l in d["links"] if l["type"]=="opportunity"][0]')" "opportunity link reason"
assert_eq "False" "$(json_get "$T/explain.json" 'any(l["id"]=="CON-2" for l in d["links"])')" "excluded cc never linked"
assert_eq "mindy@globex.example excluded|hank@globex.example external|homer@acme.example internal" \
  "$(json_get "$T/explain.json" '"|".join(p["address"]+" "+p["class"] for p in sorted(d["participants"], key=lambda p: p["class"]))')" \
  "participants classified"
assert_eq "mindy@globex.example" "$(json_get "$T/explain.json" 'd["exclusions"][0]["never_log"]')" "exclusion names its entry"
# The contact's rules, in order: 1 failed on is_auto, 2 matched (no single deciding condition under "all").
assert_eq "1 failed is_auto|2 matched -" \
  "$(json_get "$T/explain.json" '"|".join("%d %s %s" % (r["position"], r["result"], (r["condition"] or {}).get("field","-")) for r in [x for x in d["rules"] if x["record"]["id"]=="CON-1"][0]["rules"])')" \
  "rules in order with the deciding condition"
assert_eq "other_record_type" \
  "$(json_get "$T/explain.json" '[x for x in d["rules"] if x["record"]["id"]=="ACC-1"][0]["rules"][1]["result"]')" "rule for other types"
assert_eq "email on CON-1" "$(json_get "$T/explain.json" '" ".join([d["activities"][0]["activity_type"], "on", d["activities"][0]["record"]["id"]])')" \
  "the activity made"
assert_eq 1 "$(json_get "$T/explain.json" 'len(d["activities"])')" "one activity"
assert_eq None "$(json_get "$T/explain.json" 'd["rules_changed_at"]')" "the rules are those the message met"
assert_status 0 ma explain acme "$msg"
assert_contains "$(cat "$T/last.out")" "contact CON-1: from hank@globex.example = contact CON-1" "text lists the link reason"
assert_contains "$(cat "$T/last.out")" "1. Auto-replies: failed (is_auto equals true)" "text names the failed condition"
assert_status 2 ma explain acme no-such-message

# An auto-reply from Hank: archived with is_auto, the first rule makes its activity.
sed -e 's/^Subject: .*/Subject: Automatic reply: Quote for 500 hammocks/' -e 's/^Message-ID: .*/Message-ID: <ooo-77@globex.example>/' \
  -e '/^Cc:/d' "$FIXTURES_DIR/walkthrough/quote-request.eml" > "$T/ooo.eml"
assert_status 0 ma ingest acme "$T/ooo.eml" --json
ooo=$(json_get "$T/last.out" 'd["id"]')
assert_status 0 ma explain acme "$ooo" --json
assert_eq "True out-of-office subject" "$(json_get "$T/last.out" 'str(d["message"]["is_auto"])+" "+d["message"]["machine_reason"]')" "auto-reply flagged"
assert_eq "auto_reply" "$(json_get "$T/last.out" '[a["activity_type"] for a in d["activities"] if a["record"]["id"]=="CON-1"][0]')" \
  "is_auto rule made the activity"
sed -e 's/^Message-ID: .*/Message-ID: <ooo-78@globex.example>/' "$T/ooo.eml" > "$T/ooo2.eml"
assert_status 0 ma settings acme auto_replies=skip
assert_status 0 ma ingest acme "$T/ooo2.eml" --json
assert_eq "skipped auto_reply" "$(json_get "$T/last.out" 'd["result"]+" "+d["reason"]')" \
  "auto_replies=skip skips it"
sed -e 's/^Message-ID: .*/Message-ID: <ooo-79@globex.example>/' "$T/ooo.eml" > "$T/ooo3.eml"
assert_status 0 ma ingest acme "$T/ooo3.eml" --explain
assert_contains "$(cat "$T/last.out")" "why: machine mail (an auto-reply or delivery report) and the auto_replies setting skips it" \
  "ingest --explain says why"
assert_contains "$(cat "$T/last.out")" "machine mail: out-of-office subject" "and which signal"

# The dry run creates nothing.
counts() {
  /usr/bin/python3 - "$DB" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
# every table but the full-text index's own (its segments are merged by serve's maintenance in
# between, whatever the dry runs do; search_docs counts the indexed messages) and job_leases (serve,
# started in between, leads its scheduled jobs there)
names = [r[0] for r in db.execute("select name from sqlite_master where type='table' and name not like 'sqlite_%'"
                                  " and name not like 'search_index%' and name <> 'job_leases' order by name")]
print(" ".join("%s=%d" % (n, db.execute('select count(*) from "%s"' % n).fetchone()[0]) for n in names))
PY
}
before=$(counts)
cat > "$T/draft.json" <<'J'
[{"name":"Everything","object_types":["contact","account","opportunity","lead"],
  "conditions":[{"field":"subject","op":"contains","value":"hammocks"}],"action":{"activity_type":"draft","title":"D: {{subject}}"}}]
J
sed -e 's/^Message-ID: .*/Message-ID: <never-stored@globex.example>/' "$FIXTURES_DIR/walkthrough/quote-request.eml" > "$T/new.eml"
assert_status 0 ma rules test acme "$T/draft.json" "$T/new.eml" --json
assert_eq "3 None" "$(json_get "$T/last.out" 'str(d["would_create"])+" "+str(d["messages"][0]["message"]["skip_reason"])')" \
  "file: three activities would be created (contact, account, opportunity)"
assert_status 0 ma rules test acme "$T/draft.json" --last 2 --json
assert_eq 2 "$(json_get "$T/last.out" 'len(d["messages"])')" "--last 2: two messages"
assert_eq 6 "$(json_get "$T/last.out" 'd["would_create"]')" "--last 2: three records each"
assert_status 0 ma rules test acme "$T/draft.json" --last 1
assert_contains "$(cat "$T/last.out")" "3 activities would be created (nothing was written)" "text summary"
assert_status 2 ma rules test acme '[{"name":"bad","object_types":["contact"],"conditions":[{"field":"x","op":"equals","value":1}],"action":{"activity_type":"a"}}]' --last 1
assert_status 2 ma rules test acme "$T/draft.json"

start_serve
API=http://127.0.0.1:$API_PORT
code=$(curl -sS -o "$T/api.json" -w '%{http_code}' -H "Authorization: Bearer $KEY" "$API/v1/messages/$msg/explain")
assert_eq 200 "$code" "GET explain"
assert_eq "$(json_get "$T/explain.json" 'sorted(l["reason"] for l in d["links"])')" \
  "$(json_get "$T/api.json" 'sorted(l["reason"] for l in d["links"])')" "API explain = CLI explain"
code=$(curl -sS -o "$T/api.json" -w '%{http_code}' -H "Authorization: Bearer $KEY" "$API/v1/messages/nope/explain")
assert_eq 404 "$code" "unknown message 404"
/usr/bin/python3 -c "import json,sys; print(json.dumps({'rules': json.load(open(sys.argv[1])), 'message': open(sys.argv[2]).read()}))" \
  "$T/draft.json" "$T/new.eml" > "$T/test-body.json"
code=$(curl -sS -o "$T/api.json" -w '%{http_code}' -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" \
  --data-binary @"$T/test-body.json" "$API/v1/rules:test")
assert_eq "200 3" "$code $(json_get "$T/api.json" 'd["would_create"]')" "POST /v1/rules:test with a message"
code=$(curl -sS -o "$T/api.json" -w '%{http_code}' -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" \
  --data '{"rules": {"name":"one","object_types":["lead"],"action":{"activity_type":"x"}}, "last": 3}' "$API/v1/rules:test")
assert_eq "200 0" "$code $(json_get "$T/api.json" 'd["would_create"]')" "POST /v1/rules:test --last: no lead linked"
code=$(curl -sS -o "$T/api.json" -w '%{http_code}' -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" \
  --data '{"rules": []}' "$API/v1/rules:test")
assert_eq 422 "$code" "neither message nor last"
stop_serve
after=$(counts)
assert_eq "$before" "$after" "row counts before and after the dry runs"

# A rule changed after the message was archived: explain says so (the trace shows today's rules,
# the activities those of that time), from the audit log; a replay does not count as a change.
assert_status 0 ma rules list acme --json
quotes=$(json_get "$T/last.out" '[r["id"] for r in d["items"] if r["name"]=="Quotes"][0]')
clock_start $(( $(date +%s) + 60 )) # a minute after the message was archived
assert_status 0 ma rules disable acme "$quotes"
assert_status 0 ma explain acme "$msg" --json
assert_eq "True" "$(json_get "$T/last.out" 'd["rules_changed_at"] is not None and d["rules_changed_at"] != "unknown"')" \
  "explain names the time the rules changed"
assert_status 0 ma explain acme "$msg"
assert_contains "$(cat "$T/last.out")" "the rules changed after this message was archived" "the text says so too"
finish
