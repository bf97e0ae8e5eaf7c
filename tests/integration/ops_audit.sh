#!/usr/bin/env bash
# ops_audit.sh - every administrative change, through the CLI or the API, leaves one audit entry:
# who (cli:<unix user>, or apikey:<key id>), what, on which enterprise, when; `mailagent audit` and
# GET /v1/audit list them newest first (an enterprise key sees only its enterprise's); no entry
# holds a secret.
. "$(dirname "$0")/lib/common.sh"

write_config
ADMIN=$(ma init | grep -o 'maa_[0-9a-f]\{64\}')
ME="cli:$(id -un)"
ma enterprise add --name Acme --domain acme.example --slug acme >"$T/acme.out"
ACME_SECRET=$(grep -o 'ma[a-z]_[0-9a-f]\{64\}' "$T/acme.out" | head -1)
ma employee add acme homer@acme.example >/dev/null
ma rules add acme '{"name":"All contacts","object_types":["contact"],"action":{"activity_type":"email"}}' >/dev/null
ma settings acme archive_internal=on activities=off >/dev/null
ma apikey create acme --label sync --json >"$T/key.json"
KEY_ID=$(json_get "$T/key.json" 'd["id"]'); KEY_SECRET=$(json_get "$T/key.json" 'd["secret"]')
ma apikey revoke "$KEY_ID" >/dev/null
ma domain add acme sales.acme.example >/dev/null
ma submission add acme --label crm >/dev/null

actions() { python3 -c 'import json,sys; print(" ".join(e["action"] for e in json.load(sys.stdin)["items"]))'; }
assert_status 0 ma audit acme --json
assert_eq "submission.add domain.add apikey.revoke apikey.create settings.update settings.update rules.add employee.add apikey.create enterprise.create" \
  "$(actions <"$T/last.out")" "acme: every CLI change, newest first"
assert_eq "$ME" "$(json_get "$T/last.out" 'sorted(set(e["actor"] for e in d["items"]))[0]')" "CLI entries name the Unix user"
assert_eq "activities=off archive_internal=on" \
  "$(json_get "$T/last.out" '" ".join(e["target"] + "=" + e["details"]["value"] for e in d["items"] if e["action"] == "settings.update")')" \
  "a setting change records the key and value"
assert_status 0 ma audit --json
assert_contains "$(actions <"$T/last.out")" "apikey.revoke" "the revocation is in the full log"

start_serve
api() { curl -s -H "Authorization: Bearer $1" -H "Content-Type: application/json" -X "$2" "http://127.0.0.1:$API_PORT$3" ${4:+-d "$4"}; }
api "$ADMIN" POST /v1/enterprises '{"slug": "globex", "name": "Globex", "domains": ["globex.example"]}' >"$T/globex.json"
GLOBEX=$(json_get "$T/globex.json" 'd["api_key"]["secret"]')
GLOBEX_ID=$(json_get "$T/globex.json" 'd["id"]')
api "$GLOBEX" PUT /v1/settings '{"settings": {"capture_level": "metadata"}}' >/dev/null
api "$GLOBEX" POST /v1/rules '{"name":"Quotes","object_types":["account"],"action":{"activity_type":"task"}}' >/dev/null
api "$GLOBEX" GET /v1/audit >"$T/globex-audit.json"
assert_eq "rules.add settings.update apikey.create enterprise.create" "$(actions <"$T/globex-audit.json")" \
  "an enterprise key reads its own entries, newest first"
admin_key_id=$(ma apikey list --admin --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
globex_key_id=$(json_get "$T/globex.json" 'd["api_key"]["id"]')
assert_eq "apikey:$globex_key_id apikey:$globex_key_id apikey:$admin_key_id apikey:$admin_key_id" \
  "$(python3 -c 'import json,sys; print(" ".join(e["actor"] for e in json.load(open(sys.argv[1]))["items"]))' "$T/globex-audit.json")" \
  "API entries name the key that made the change"
assert_eq "$(ma audit acme --json | actions)" "$(api "$ADMIN" GET "/v1/audit?enterprise=acme" | actions)" "admin: ?enterprise= reads the same as the CLI"
assert_eq 400 "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $GLOBEX" "http://127.0.0.1:$API_PORT/v1/audit?enterprise=acme")" \
  "an enterprise key cannot ask for another enterprise"
page=$(api "$ADMIN" GET "/v1/audit?limit=2")
cursor=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["next_cursor"])' "$page")
assert_eq 3 "$(api "$ADMIN" GET "/v1/audit?limit=3&cursor=$cursor" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')" "pages follow the cursor"

# No secret in any entry, nor in the table.
all=$(ma audit --json --limit 1000)
for secret in "$ADMIN" "$ACME_SECRET" "$KEY_SECRET" "$GLOBEX"; do
  assert_not_contains "$all" "$secret" "no API key secret in the audit log"
done
rows=$(sqlite3 "$T/data/mailagent.db" 'SELECT * FROM audit')
for secret in "$ADMIN" "$ACME_SECRET" "$KEY_SECRET" "$GLOBEX"; do
  assert_not_contains "$rows" "${secret:4:32}" "no part of a key secret in the stored rows"
done
finish
