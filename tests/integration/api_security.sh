#!/usr/bin/env bash
# api_security.sh - the API's refusals against a real `mailagent serve`: tenant isolation (another
# enterprise's records, messages, raw copies, attachments, threads, rules and employees are 404 and
# never leak data), missing/invalid/revoked keys (401) and wrong scopes (403), malformed JSON,
# unknown fields and parameters, oversized bodies (ours and evhttp's 413), bad cursors, and
# timeline pagination that stays stable while new mail is archived.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/api_lib.bash"

api_setup || { finish; exit 1; }

# acme's message, thread and attachment
req GET "/v1/records/contact/CON-1/timeline" "$KEY"
MID=$(json_get "$T/body" 'd["items"][0]["id"]')
TID=$(json_get "$T/body" 'd["items"][0]["thread_id"]')
SHA=$(json_get "$T/body" 'd["items"][0]["attachments"][0]["sha256"]')

# ---- tenant isolation: globex's key on acme's things
expect_error GET "/v1/messages/$MID" "$OTHER_KEY" - 404 not_found "cross-tenant message"
assert_not_contains "$BODY" "hammocks" "cross-tenant message leaks nothing"
expect_error GET "/v1/messages/$MID/raw" "$OTHER_KEY" - 404 not_found "cross-tenant raw message"
expect_error GET "/v1/attachments/$SHA" "$OTHER_KEY" - 404 not_found "cross-tenant attachment"
expect_error GET "/v1/threads/$TID" "$OTHER_KEY" - 404 not_found "cross-tenant thread"
req GET "/v1/records/contact/CON-1/timeline" "$OTHER_KEY"
assert_eq "200 0" "$STATUS $(json_get "$T/body" 'len(d["items"])')" "globex's CON-1 has no acme mail"
req PUT /v1/records/contact/ACME-ONLY "$KEY" '{"name":"Acme secret"}'
assert_eq 201 "$STATUS" "acme record created"
expect_error GET /v1/records/contact/ACME-ONLY "$OTHER_KEY" - 404 not_found "cross-tenant record read"
expect_error DELETE /v1/records/contact/ACME-ONLY "$OTHER_KEY" - 404 not_found "cross-tenant record delete"
expect_error GET /v1/records/contact/ACME-ONLY/timeline "$OTHER_KEY" - 404 not_found "cross-tenant timeline"
req GET /v1/records/contact/ACME-ONLY "$KEY"
assert_eq "200 Acme secret" "$STATUS $(json_get "$T/body" 'd["name"]')" "record survived the other tenant's delete"
req GET "/v1/records/contact?limit=200" "$OTHER_KEY"
assert_not_contains "$BODY" "ACME-ONLY" "other tenant's listing does not show it"
req POST /v1/rules "$KEY" '{"name":"acme rule","object_types":["contact"],"action":{"activity_type":"email"}}'
RID=$(json_get "$T/body" 'd["id"]')
expect_error GET "/v1/rules/$RID" "$OTHER_KEY" - 404 not_found "cross-tenant rule read"
expect_error POST "/v1/rules/$RID:disable" "$OTHER_KEY" - 404 not_found "cross-tenant rule disable"
expect_error DELETE /v1/employees/homer@acme.example "$OTHER_KEY" - 404 not_found "cross-tenant employee delete"
req GET /v1/employees "$KEY"
assert_contains "$BODY" "homer@acme.example" "employee survived"
req GET /v1/inbound-address "$OTHER_KEY"
assert_contains "$(json_get "$T/body" 'd["address"]')" "globex-" "each tenant sees its own inbound address"

# ---- keys and scopes
expect_error GET /v1/settings "" - 401 unauthorized "no key"
expect_error GET /v1/settings "mak_$(printf '0%.0s' $(seq 64))" - 401 unauthorized "unknown key"
expect_error GET /v1/settings "not-a-key" - 401 unauthorized "malformed key"
expect_error GET /v1/settings "$ADMIN_KEY" - 403 forbidden "admin key on tenant data"
expect_error GET /v1/enterprises "$KEY" - 403 forbidden "enterprise key on admin resource"
expect_error POST /v1/apikeys "$KEY" '{"enterprise":"globex"}' 403 forbidden "enterprise key cannot mint keys"
req POST /v1/apikeys "$ADMIN_KEY" '{"enterprise":"acme","label":"temp"}'
TEMP=$(json_get "$T/body" 'd["secret"]'); TEMP_ID=$(json_get "$T/body" 'd["id"]')
req GET /v1/settings "$TEMP"
assert_eq 200 "$STATUS" "temp key works"
ma apikey revoke "$TEMP_ID" >/dev/null 2>&1 || req DELETE "/v1/apikeys/$TEMP_ID" "$ADMIN_KEY"
expect_error GET /v1/settings "$TEMP" - 401 unauthorized "key revoked (CLI) is refused at once by the running server"

# ---- malformed input
expect_error PUT /v1/records/contact/X "$KEY" '{"name": ' 400 invalid_json "truncated JSON"
expect_error PUT /v1/records/contact/X "$KEY" '"just a string"' 400 invalid_json "JSON that is not an object"
expect_error PUT /v1/records/contact/X "$KEY" '{"name":"a","name":"b"}' 400 invalid_json "duplicate keys"
expect_error PUT /v1/records/contact/X "$KEY" '{"name":"a","nickname":"b"}' 400 unknown_field "unknown record field"
assert_contains "$BODY" "nickname" "the unknown field is named"
expect_error PUT /v1/settings "$KEY" '{"settings":{"archving":"on"}}' 400 unknown_field "unknown setting"
expect_error PUT /v1/settings "$KEY" '{"settings":{"archiving":"perhaps"}}' 422 invalid "bad setting value"
expect_error POST /v1/employees "$KEY" '{"email":"x@y.example","admin":true}' 400 unknown_field "unknown employee field"
expect_error PUT /v1/records/opportunity/O1 "$KEY" '{"name":"o","stage":"maybe"}' 422 invalid "validation error"
expect_error GET "/v1/records/contact/CON-1?expand=all" "$KEY" - 400 unknown_parameter "unknown query parameter"
expect_error GET /v1/records/planet/CON-1 "$KEY" - 404 not_found "unknown record type"
expect_error GET /v1/nowhere "$KEY" - 404 not_found "unknown path"
expect_error POST /v1/settings "$KEY" '{}' 405 method_not_allowed "wrong method"
DEEP=$(/usr/bin/python3 -c 'print("{\"name\":" + "["*3000 + "]"*3000 + "}")')
expect_error PUT /v1/records/contact/X "$KEY" "$DEEP" 400 invalid_json "nesting deeper than the parser allows"

# ---- oversized bodies (max_body=65536 in this config)
/usr/bin/python3 -c 'print("{\"name\":\"" + "a"*70000 + "\"}")' >"$T/big.json"
out=$(command curl -sS -o "$T/big.out" -w '%{http_code} %{content_type}' -X PUT "$API/v1/records/contact/X" \
      -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" --data-binary @"$T/big.json" 2>&1 || true)
assert_eq "413 text/html" "$out" "evhttp refuses a Content-Length over max_body itself (HTML)"
out=$(command curl -sS -o "$T/big.out" -w '%{http_code}' -X PUT "$API/v1/records/contact/X" \
      -H "Authorization: Bearer $KEY" -H "Transfer-Encoding: chunked" --data-binary @"$T/big.json" 2>&1 || true)
assert_eq "413" "$out" "a chunked body growing over max_body is refused"
out=$(command curl -sS -o /dev/null -w '%{http_code}' -X PATCH "$API/v1/settings" -H "Authorization: Bearer $KEY" || true)
assert_eq 501 "$out" "evhttp answers methods outside GET/POST/PUT/DELETE itself"

# ---- cursors and pagination under concurrent inserts
for i in 1 2 3 4 5; do
  cat >"$T/m$i.eml" <<EML
From: Hank Scorpio <hank@globex.example>
To: Homer Simpson <homer@acme.example>
Subject: follow-up $i
Date: Mon, 0$i Jan 2024 10:00:00 +0000
Message-ID: <follow-up-$i@globex.example>

Follow-up number $i.
EML
done
ma ingest acme "$T/m1.eml" "$T/m2.eml" "$T/m3.eml" "$T/m4.eml" "$T/m5.eml" >/dev/null
expect_error GET "/v1/records/contact/CON-1/timeline?cursor=bm90LWEtY3Vyc29y" "$KEY" - 400 bad_cursor "forged cursor"
expect_error GET "/v1/records/contact/CON-1/timeline?cursor=%00%01" "$KEY" - 400 bad_cursor "binary cursor"
expect_error GET "/v1/records/contact?cursor=%21%21" "$KEY" - 400 bad_cursor "forged record-list cursor"
expect_error GET "/v1/records/contact/CON-1/timeline?limit=1000" "$KEY" - 400 invalid_query "page size over the cap"
ids=(); cursor=; pages=0; inserted=0
while :; do
  path="/v1/records/contact/CON-1/timeline?limit=2${cursor:+&cursor=$cursor}"
  req GET "$path" "$KEY"
  [ "$STATUS" == 200 ] || { fail "timeline page: $STATUS $BODY"; break; }
  while read -r id; do [ -n "$id" ] && ids+=("$id"); done < <(json_get "$T/body" '"\n".join(i["id"] for i in d["items"] if i["kind"] == "message")')
  cursor=$(json_get "$T/body" 'd["next_cursor"] or ""')
  pages=$((pages + 1))
  if [ "$inserted" == 0 ]; then
    # newer mail arrives between page 1 and page 2
    sed -e 's/follow-up 5/late news/; s/follow-up-5@/late-news@/; s/0[5] Jan 2024/01 Feb 2031/' "$T/m5.eml" >"$T/late.eml"
    ma ingest acme "$T/late.eml" >/dev/null
    inserted=1
  fi
  [ -z "$cursor" ] || [ "$pages" -gt 10 ] && break
done
assert_eq 6 "${#ids[@]}" "paging saw the 6 messages present at the first page, once each (not the late one)"
assert_eq 6 "$(printf '%s\n' "${ids[@]}" | sort -u | wc -l)" "no message twice across pages"
req GET "/v1/records/contact/CON-1/timeline?limit=2" "$KEY"
assert_eq "late news" "$(json_get "$T/body" '[i for i in d["items"] if i["kind"] == "message"][0]["subject"]')" \
  "the newer message heads a fresh first page"
req GET "/v1/records/contact/CON-1/timeline?limit=200" "$KEY"
assert_contains "$(json_get "$T/body" 'sorted(set(i["kind"] for i in d["items"]))')" "activity" \
  "activities from the acme rule are interleaved with messages"
finish
