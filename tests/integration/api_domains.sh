#!/usr/bin/env bash
# api_domains.sh - the /v1/domains examples of docs/api.md, run verbatim against `mailagent serve`
# with a real DNS server (nsd): add an IDN domain, create a key, ask for a check (202, done by
# serve's verification thread, not the API), read the doctor's stored report; the errors (bad
# names and selectors name their rule, unknown domains, another enterprise's key sees nothing).
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/dns.sh"
source "$(dirname "$0")/api_lib.bash"

D=xn--bcher-kva.example
{
  echo "\$ORIGIN $D."; echo "\$TTL 300"
  echo "@ IN SOA ns1.$D. hostmaster.$D. 1 3600 600 86400 60"; echo "@ IN NS ns1.$D."; echo "ns1 IN A 127.0.0.1"
  echo "@ IN MX 10 mx.$D."
} > "$T/zone"
dns_start "$T/zone"
write_config "[dns]" "servers=$DNS_SERVERS" "timeout_ms=500" "tries=1"
ma init >/dev/null
KEY=$(ma enterprise add --name Acme --domain acme.example --slug acme --json | json_get - 'd["api_key"]["secret"]')
OTHER_KEY=$(ma enterprise add --name Globex --domain globex.test --slug globex --json | json_get - 'd["api_key"]["secret"]')
start_serve
API=http://127.0.0.1:$API_PORT

expect_example domain-add 201 'd["domain"]' "$D" 'd["unicode"]' "bücher.example" 'd["status"]' pending
expect_example domain-dkim 201 'd["selector"]' crm1 'd["name"]' "crm1._domainkey.$D" 'd["value"][:22]' "v=DKIM1; k=ed25519; p="
KEYVALUE=$(json_get "$T/body" 'd["value"]')
expect_example domain-get 200 'd["dkim"][0]["state"]' pending 'd["dkim"][0]["value"]' "$KEYVALUE"
expect_example domain-verify 202 'd["domain"]' "$D"
# serve checked the domain when it was added (no key then); wait for the check that sees the key.
for _ in $(seq 1 50); do
  req GET "/v1/domains/$D/doctor" "$KEY"
  [ "$STATUS" == 200 ] && [[ "$BODY" == *"crm1._domainkey"* ]] && break
  sleep 0.1
done
expect_example domain-doctor 200 'd["status"]+" "+d["reason"]' "pending no_record" \
  '[r["expected"] for r in d["records"] if r["kind"]=="dkim"][0]' "$KEYVALUE" \
  '[r["published"] for r in d["records"] if r["kind"]=="mx"][0][0]' "10 mx.$D"

expect_error POST /v1/domains "$KEY" '{"domain": "a..b"}' 422 invalid "empty label refused"
assert_contains "$(json_get "$T/body" 'd["error"]["message"]')" "empty label" "the rule is named"
expect_error POST "/v1/domains/$D/dkim" "$KEY" '{"selector": "Crm-"}' 422 invalid "bad selector refused"
assert_contains "$(json_get "$T/body" 'd["error"]["message"]')" "lowercase letters, digits and hyphens only" "the selector rule is named"
expect_error POST "/v1/domains/$D/dkim" "$KEY" '{"selector": "crm1"}' 409 conflict "a taken selector"
expect_error GET /v1/domains/unknown.example "$KEY" - 404 not_found "unknown domain"
expect_error GET "/v1/domains/$D" "$OTHER_KEY" - 404 not_found "another enterprise's key does not see it"
req GET /v1/domains "$OTHER_KEY"
assert_eq "globex.test" "$(json_get "$T/body" '" ".join(i["domain"] for i in d["items"])')" "another enterprise lists only its own"
req DELETE "/v1/domains/$D" "$KEY"
assert_eq 204 "$STATUS" "DELETE /v1/domains/{d}"
finish
