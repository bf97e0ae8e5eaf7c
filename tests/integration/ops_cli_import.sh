#!/usr/bin/env bash
# ops_cli_import.sh - the frictions of long and bulk commands: a CSV column that is neither a field
# nor attr.NAME becomes an attribute with a warning naming it (CLI and API), --strict refuses it,
# --delimiter reads Excel's ';', progress lines and a summary on stderr (none with --quiet);
# `ingest` ends with a summary naming why messages were skipped.
. "$(dirname "$0")/lib/common.sh"

write_config
ma init >/dev/null
ma enterprise add --name Acme --domain acme.example --slug acme --json >"$T/ent.json"
KEY=$(json_get "$T/ent.json" 'd["api_key"]["secret"]')

printf 'type,id,nmae,region\ncontact,C1,Ann,EMEA\n' >"$T/typo.csv"
assert_status 0 ma records import acme "$T/typo.csv"
err=$(cat "$T/last.err")
assert_contains "$err" 'column "nmae" is not a field' "a typo in the header is named"
assert_contains "$err" 'column "region" is not a field' "every implicit attribute is named"
assert_status 0 ma records show acme contact C1 --json
assert_eq "Ann" "$(json_get "$T/last.out" 'd["attributes"]["nmae"]')" "the column still became an attribute (as documented)"
assert_status 2 ma records import acme "$T/typo.csv" --strict
assert_contains "$(cat "$T/last.err")" 'column "nmae" is not a field (write attr.nmae for an attribute)' "--strict refuses it"
printf 'type;id;name;emails;attr.region\ncontact;C2;"Smithers, Waylon";w@globex.example|ws@globex.example;EMEA\n' >"$T/excel.csv"
assert_status 0 ma records import acme "$T/excel.csv" --delimiter ';' --strict
assert_status 0 ma records show acme contact C2 --json
assert_eq "Smithers, Waylon 2 EMEA" "$(json_get "$T/last.out" '"%s %d %s" % (d["name"], len(d["emails"]), d["attributes"]["region"])')" \
  "--delimiter ';' reads Excel's CSV"
assert_status 2 ma records import acme "$T/excel.csv" --delimiter ';;'

# Progress: a line every N records (counted as the input is read, chunk by chunk), then the
# summary; nothing with --quiet.
python3 -c '
print("type,id,name")
for i in range(20000): print("contact,P%d,Person number %d of the progress test" % (i, i))' >"$T/many.csv"
assert_status 0 ma records import acme "$T/many.csv" --progress 5000
n=$(grep -c '^mailagent: records import: [0-9]* records, ' "$T/last.err" || true)
[ "$n" -ge 3 ] && [ "$n" -le 4 ] && pass "a progress line about every 5000 of 20000 records ($n)" || fail "progress lines: $n"
assert_contains "$(cat "$T/last.err")" "mailagent: records import: 20000 records read: 20000 created, 0 updated, 0 deleted, 0 invalid" "a summary line"
assert_status 0 ma records import acme "$T/many.csv" --quiet
assert_eq "" "$(cat "$T/last.err")" "--quiet: nothing on stderr"

# The API says the same words: ?strict, ?delimiter, and warnings.
start_serve
bulk() { curl -s -o "$T/bulk.json" -w '%{http_code}' -X POST -H "Authorization: Bearer $KEY" -H "Content-Type: text/csv" \
  --data-binary @"$1" "http://127.0.0.1:$API_PORT/v1/records:bulk$2"; }
assert_eq 200 "$(bulk "$T/typo.csv" "")" "bulk CSV with an implicit attribute"
assert_contains "$(json_get "$T/bulk.json" 'd["warnings"][0]')" 'column "nmae" is not a field' "the API returns the warning"
assert_eq 422 "$(bulk "$T/typo.csv" "?strict=true")" "?strict=true refuses it"
assert_eq 200 "$(bulk "$T/excel.csv" "?delimiter=%3B&strict=true")" "?delimiter=; reads Excel's CSV"
assert_eq 400 "$(bulk "$T/excel.csv" "?delimiter=ab")" "a bad delimiter is a 400"
stop_serve

# ingest: the reason and a summary.
ma employee add acme homer@acme.example >/dev/null
cat > "$T/internal.eml" <<'M'
From: Homer <homer@acme.example>
To: Marge <marge@acme.example>
Subject: Lunch
Date: Wed, 04 Sep 2024 10:00:00 +0000
Message-ID: <lunch@acme.example>

Noon?
M
ma records import acme "$FIXTURES_DIR/walkthrough/records.jsonl" --quiet >/dev/null
assert_status 0 ma ingest acme "$FIXTURES_DIR/walkthrough/quote-request.eml" "$FIXTURES_DIR/walkthrough/quote-request.eml" "$T/internal.eml"
assert_contains "$(cat "$T/last.out")" "internal.eml: skipped (internal_only)" "the skip reason is printed without --json"
assert_contains "$(cat "$T/last.err")" "mailagent: ingest: 3 messages: 1 archived, 1 duplicate, 1 skipped (internal_only 1)" "ingest ends with a summary"
assert_status 0 ma ingest acme "$T/internal.eml" --quiet
assert_eq "" "$(cat "$T/last.err")" "ingest --quiet: no summary"

# rules replay: a summary on stderr in the CLI; the same operation over the API.
ma rules add acme '{"name":"All","object_types":["contact"],"action":{"activity_type":"email"}}' >/dev/null
assert_status 0 ma rules replay acme --since 2000-01-01
assert_contains "$(cat "$T/last.err")" "mailagent: rules replay: 1 messages, " "rules replay ends with a summary"
start_serve
curl -s -o "$T/replay.json" -X POST -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" \
  -d '{"since": "2000-01-01"}' "http://127.0.0.1:$API_PORT/v1/rules:replay"
assert_eq "1 0" "$(json_get "$T/replay.json" '"%d %d" % (d["messages"], d["activities_created"])')" \
  "POST /v1/rules:replay replays (idempotent: nothing new after the CLI's replay)"
assert_eq 422 "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" \
  -d '{"since": "yesterday"}' "http://127.0.0.1:$API_PORT/v1/rules:replay")" "a bad date is a 422"
finish
