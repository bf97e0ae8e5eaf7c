#!/usr/bin/env bash
# api_endpoints.sh - runs every curl example of docs/api.md verbatim against `mailagent serve` and
# checks the answers: health and metrics, records (put/get/list/delete, bulk atomic and
# skip_invalid), the timeline and its pages, messages/raw/attachments/threads, settings, rules,
# employees, the inbound address, enterprises and API keys (create, list, rotate, revoke).
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/api_lib.bash"

api_setup || { finish; exit 1; }

# ---- health and metrics (no key)
expect_example healthz 200 'd["status"]' ok
run_example metrics
assert_eq 200 "$STATUS" "example metrics: status"
assert_contains "$BODY" "mailagent_messages_received_total" "metrics: received counter"
assert_contains "$BODY" "mailagent_archive_messages 1" "metrics: archive size from storage"
assert_contains "$BODY" "mailagent_webhook_backlog " "metrics: webhook backlog"
assert_contains "$BODY" 'mailagent_api_request_duration_seconds_bucket{le="+Inf"}' "metrics: latency histogram"

# ---- records
expect_example record-put 201 'd["id"], d["type"], d["emails"]' "('CON-9', 'contact', ['ada@analytical.example'])"
expect_example record-put 200 'd["attributes"]["tier"]' gold
expect_example record-get 200 'd["name"]' "Ada Lovelace"
expect_example record-list 200 'len(d["items"]), d["next_cursor"] is not None' "(2, True)"
expect_example record-delete 204
expect_example record-get 404 'd["error"]["code"]' not_found
expect_example records-bulk 200 'd["created"], d["invalid"]' "(2, 0)"
expect_example records-bulk-invalid 422 'd["error"]["invalid"], d["error"]["problems"][0]["line"]' "(1, 2)"
req GET /v1/records/contact/CON-8 "$KEY"
assert_eq 404 "$STATUS" "atomic bulk wrote nothing"
expect_example records-bulk-skip 200 'd["created"], d["invalid"]' "(1, 1)"
req GET /v1/records/contact/CON-8 "$KEY"
assert_eq 200 "$STATUS" "skip_invalid wrote the good line"
# a NUL byte in a CSV cell is an error for that line, never a cut id: "CON-8\0-evil" must not
# update CON-8 (issue 9)
printf 'type,id,name\ncontact,CON-8\0-evil,Mallory\ncontact,CON-77,Ok\n' > "$T/nul.csv"
out=$(curl -sS -w '\n%{http_code}' -X POST "$API/v1/records:bulk?skip_invalid=true" -H "Authorization: Bearer $KEY" \
  -H "Content-Type: text/csv" --data-binary @"$T/nul.csv")
printf '%s' "${out%$'\n'*}" > "$T/body"
assert_eq "200 (1, 1)" "${out##*$'\n'} $(json_get "$T/body" '(d["created"], d["invalid"])')" "bulk CSV: the line with a NUL is invalid, the other created"
req GET /v1/records/contact/CON-8 "$KEY"
assert_eq Milton "$(json_get "$T/body" 'd["name"]')" "bulk CSV: CON-8 untouched by CON-8\\0-evil"

# ---- timeline and messages
expect_example timeline 200 'len(d["items"]), d["items"][0]["kind"], d["items"][0]["subject"], d["next_cursor"]' \
  "(1, 'message', 'Quote for 500 hammocks', None)"
MESSAGE_ID=$(json_get "$T/body" 'd["items"][0]["id"]')
THREAD_ID=$(json_get "$T/body" 'd["items"][0]["thread_id"]')
SHA256=$(json_get "$T/body" '[a["sha256"] for a in d["items"][0]["attachments"] if a["filename"]=="hammock-specs.csv"][0]')
export MESSAGE_ID THREAD_ID SHA256
expect_example timeline-filtered 200 'len(d["items"])' 1
expect_example search 200 'len(d["items"]), d["items"][0]["subject"], d["items"][0]["highlight"]["subject"]' \
  "(1, 'Quote for 500 hammocks', '<mark>Quote</mark> for 500 <mark>hammocks</mark>')"
expect_example search-in-record 200 'len(d["items"]), d["items"][0]["id"] == "'"$MESSAGE_ID"'"' "(1, True)"
req GET "/v1/search?q=hammocks" "$OTHER_KEY"
assert_eq "200 0" "$STATUS $(json_get "$T/body" 'len(d["items"])')" "search: another enterprise's key finds nothing"
expect_example erasure 200 'd["messages"], d["index_entries"]' "(0, 0)"
req GET "/v1/records/contact/CON-1/timeline?direction=outbound" "$KEY"
assert_eq "200 0" "$STATUS $(json_get "$T/body" 'len(d["items"])')" "timeline direction filter excludes"
expect_example message-get 200 'd["subject"], d["from"]["address"], "could you send us a quote" in d["text"]' \
  "('Quote for 500 hammocks', 'hank@globex.example', True)"
run_example message-raw
assert_eq 200 "$STATUS" "example message-raw: status"
assert_contains "$BODY" "Subject: Quote for 500 hammocks" "raw message is the message as received"
run_example attachment-get
assert_eq 200 "$STATUS" "example attachment-get: status"
assert_eq "$SHA256" "$(printf '%s' "$BODY" | sha256sum | cut -d' ' -f1)" "attachment content matches its digest"
expect_example thread-get 200 'd["id"] == "'"$THREAD_ID"'", len(d["messages"])' "(True, 1)"

# ---- settings
expect_example settings-get 200 'd["settings"]["archiving"], "archiving" in d["defaults"]' "('on', True)"
expect_example settings-put 200 'd["settings"]["archive_internal"], d["settings"]["capture_level"]' "('on', 'no_attachments')"

# ---- rules
expect_example rule-create 201 'd["name"], d["position"], d["enabled"]' "('Quote requests', 1, True)"
RULE_ID=$(json_get "$T/body" 'd["id"]'); export RULE_ID
req POST /v1/rules "$KEY" '{"name":"Second","object_types":["lead"],"action":{"activity_type":"email"}}'
assert_eq 201 "$STATUS" "second rule"
expect_example rule-list 200 'len(d["items"]), d["items"][0]["id"] == "'"$RULE_ID"'"' "(2, True)"
expect_example rule-update 200 'd["object_types"], d["conditions"][0]["op"]' "(['contact'], 'matches')"
req POST "/v1/rules/$RULE_ID:move" "$KEY" '{"position": 2}'
assert_eq 200 "$STATUS" "move to 2"
expect_example rule-move 200 'd["items"][0]["id"] == "'"$RULE_ID"'"' True
expect_example rule-disable 200 'd["enabled"]' False
expect_example rule-enable 200 'd["enabled"]' True
expect_example rule-delete 204
req GET "/v1/rules/$RULE_ID" "$KEY"
assert_eq 404 "$STATUS" "deleted rule is gone"

# ---- employees
expect_example employee-add 201 'd["email"], d["name"]' "('marge@acme.example', 'Marge Simpson')"
expect_example employee-add 409 'd["error"]["code"]' conflict
expect_example employee-list 200 'sorted(e["email"] for e in d["items"])' "['homer@acme.example', 'marge@acme.example']"
expect_example employee-delete 204
expect_example employee-delete 404 'd["error"]["code"]' not_found

# ---- inbound address
expect_example inbound-get 200 'd["address"].startswith("acme-"), d["address"].endswith("@inbound.test"), len(d["live"])' \
  "(True, True, 1)"
OLD_ADDRESS=$(json_get "$T/body" 'd["address"]')
expect_example inbound-rotate 200 'd["address"] != "'"$OLD_ADDRESS"'", d["live"][1] == "'"$OLD_ADDRESS"'"' "(True, True)"

# ---- admin: enterprises and keys
expect_example enterprise-create 201 'd["slug"], d["api_key"]["scope"], d["api_key"]["secret"].startswith("mak_")' \
  "('initech', 'enterprise', True)"
expect_example enterprise-create 409 'd["error"]["code"]' conflict
expect_example enterprise-list 200 'sorted(e["slug"] for e in d["items"])' "['acme', 'globex', 'initech']"
expect_example apikey-create 201 'd["label"], d["secret"].startswith("mak_")' "('crm-sync', True)"
KEY_ID=$(json_get "$T/body" 'd["id"]'); NEW_SECRET=$(json_get "$T/body" 'd["secret"]'); export KEY_ID
req GET /v1/employees "$NEW_SECRET"
assert_eq 200 "$STATUS" "new key works"
expect_example apikey-list 200 'len(d["items"]), "'"$NEW_SECRET"'" in str(d)' "(2, False)"
expect_example apikey-rotate 201 'd["label"]' crm-sync
ROTATED_SECRET=$(json_get "$T/body" 'd["secret"]'); KEY_ID=$(json_get "$T/body" 'd["id"]'); export KEY_ID
req GET /v1/employees "$NEW_SECRET"
assert_eq 401 "$STATUS" "rotated-away key refused at once"
req GET /v1/employees "$ROTATED_SECRET"
assert_eq 200 "$STATUS" "rotated key works"
expect_example apikey-revoke 204
req GET /v1/employees "$ROTATED_SECRET"
assert_eq 401 "$STATUS" "revoked key refused at once"
expect_example apikey-revoke 404 'd["error"]["code"]' not_found

# the API served everything above from one process; check its request counter moved
run_example metrics
assert_not_contains "$BODY" "mailagent_api_requests_total 0" "API requests counted"
finish
