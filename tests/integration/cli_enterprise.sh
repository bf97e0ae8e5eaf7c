#!/usr/bin/env bash
# cli_enterprise.sh - `mailagent enterprise`, `employee` and `settings`: creation output (id,
# slug, inbound address, key once), slugs, domains, address rotation with a grace period, employees
# with the out-of-domain warning, settings validation (all or nothing), and unknown enterprises.
. "$(dirname "$0")/lib/common.sh"

write_config
ma init >/dev/null

# --- enterprise add ---
assert_status 0 ma enterprise add --name "Acme Hammocks Ltd." --domain ACME.example --domain acme.test
out=$(cat "$T/last.out")
assert_contains "$out" "slug:            acme-hammocks-ltd" "slug derived from the name"
assert_contains "$out" "domains:         acme.example acme.test" "domains lower-cased"
[[ "$out" =~ inbound\ address:\ (acme-hammocks-ltd-[a-z0-9]{8})@inbound.test ]] && pass "inbound address <slug>-<8 alnum>@inbound_domain" || fail "inbound address: $out"
local_part=${BASH_REMATCH[1]:-}
assert_eq 1 "$(grep -c 'mak_[0-9a-f]\{64\}' <<<"$out")" "enterprise key printed once"
id=$(grep '^id:' <<<"$out" | awk '{print $2}')
assert_eq 20 "${#id}" "enterprise id"

# Same name again: a unique slug; an explicit taken slug and a taken domain are refused.
assert_status 0 ma enterprise add --name "Acme Hammocks Ltd." --domain other.example --json
assert_eq "acme-hammocks-ltd-2" "$(json_get "$T/last.out" 'd["slug"]')" "second slug made unique"
assert_eq "enterprise" "$(json_get "$T/last.out" 'd["api_key"]["scope"]')" "--json carries the key"
assert_eq 68 "$(json_get "$T/last.out" 'len(d["api_key"]["secret"])')" "--json carries the secret once"
assert_status 2 ma enterprise add --name X --domain x.example --slug acme-hammocks-ltd
assert_contains "$(cat "$T/last.err")" "slug \"acme-hammocks-ltd\" is taken" "taken slug refused"
# (a domain another enterprise holds verified is refused: tests/integration/domains.sh)
assert_status 2 ma enterprise add --name X --domain "not a domain" --slug y
assert_contains "$(cat "$T/last.err")" "\"not a domain\" is not a domain name" "bad domain named"
assert_status 2 ma enterprise add --name X --slug z
assert_contains "$(cat "$T/last.err")" "at least one --domain" "domain required"
assert_status 2 ma enterprise add --domain z.example
assert_status 2 ma enterprise add --name X --domain z.example --slug "Bad_Slug"

# --- list / show by id and slug ---
assert_status 0 ma enterprise list --json
assert_eq "acme-hammocks-ltd acme-hammocks-ltd-2" "$(json_get "$T/last.out" '" ".join(e["slug"] for e in d["items"])')" "list, oldest first"
assert_status 0 ma enterprise show "$id" --json
assert_eq "acme-hammocks-ltd" "$(json_get "$T/last.out" 'd["slug"]')" "show by id"
assert_status 0 ma enterprise show acme-hammocks-ltd
assert_contains "$(cat "$T/last.out")" "$local_part@inbound.test (current)" "show lists the live address"

# --- domains ---
assert_status 0 ma enterprise domain add acme-hammocks-ltd sales.acme.example
assert_status 0 ma enterprise show acme-hammocks-ltd --json
assert_contains "$(json_get "$T/last.out" '" ".join(d["domains"])')" "sales.acme.example" "domain added"
assert_status 0 ma enterprise domain remove acme-hammocks-ltd acme.test --json
assert_eq "acme.example sales.acme.example" "$(json_get "$T/last.out" '" ".join(sorted(d["domains"]))')" "domain remove --json prints the enterprise"
assert_status 2 ma enterprise domain remove acme-hammocks-ltd acme.test
assert_contains "$(cat "$T/last.err")" "acme.test is not a domain of" "removing an absent domain"
# An unverified claim blocks nobody: the first enterprise to verify the domain owns it.
assert_status 0 ma enterprise domain add acme-hammocks-ltd-2 sales.acme.example
assert_status 2 ma enterprise domain drop acme-hammocks-ltd x.example

# --- rotate-address: the old address stays live during the grace period ---
assert_status 0 ma enterprise rotate-address acme-hammocks-ltd --grace-days 3 --json
new_addr=$(json_get "$T/last.out" 'd["address"]')
assert_eq "$new_addr $local_part@inbound.test" "$(json_get "$T/last.out" '" ".join(d["live"])')" "rotate --json lists the live addresses (API shape)"
assert_eq "$local_part@inbound.test" "$(json_get "$T/last.out" 'd["previous_address"]')" "previous address reported"
assert_status 0 ma enterprise show acme-hammocks-ltd --json
assert_eq "$new_addr $local_part@inbound.test" "$(json_get "$T/last.out" '" ".join(d["inbound_addresses"])')" "both addresses live, current first"
assert_eq "$new_addr" "$(json_get "$T/last.out" 'd["inbound_address"]')" "current address switched"
# After the grace period (fake clock 4 days ahead) only the new one is live.
later=$(( $(date +%s) + 4 * 86400 ))
MAILAGENT_FAKE_NOW=$later ma enterprise show acme-hammocks-ltd --json > "$T/later.json"
assert_eq "$new_addr" "$(json_get "$T/later.json" '" ".join(d["inbound_addresses"])')" "old address expired after the grace period"

# --- employees ---
assert_status 0 ma employee add acme-hammocks-ltd Homer@ACME.example --name "Homer Simpson"
assert_eq "" "$(cat "$T/last.err")" "in-domain employee: no warning"
assert_status 0 ma employee add acme-hammocks-ltd homer.private@gmail.example --json
assert_contains "$(cat "$T/last.err")" "warning: homer.private@gmail.example is not in a domain" "out-of-domain warning"
emp_id=$(json_get "$T/last.out" 'd["id"]')
assert_status 2 ma employee add acme-hammocks-ltd homer@acme.example
assert_contains "$(cat "$T/last.err")" "already an employee" "duplicate employee"
assert_status 2 ma employee add acme-hammocks-ltd "not an address"
assert_status 0 ma employee list acme-hammocks-ltd --json
assert_eq "homer.private@gmail.example:None homer@acme.example:Homer Simpson" \
  "$(json_get "$T/last.out" '" ".join(sorted(e["email"] + ":" + str(e["name"]) for e in d["items"]))')" "employee list"
assert_status 0 ma employee list acme-hammocks-ltd-2 --json
assert_eq 0 "$(json_get "$T/last.out" 'len(d["items"])')" "employees are per enterprise"
assert_status 0 ma employee remove acme-hammocks-ltd HOMER@acme.example
assert_status 0 ma employee remove acme-hammocks-ltd "$emp_id"
assert_status 2 ma employee remove acme-hammocks-ltd homer@acme.example
assert_contains "$(cat "$T/last.err")" "is not an employee" "removing twice"

# --- settings ---
assert_status 0 ma settings acme-hammocks-ltd
assert_contains "$(cat "$T/last.out")" "archive_internal     off  (default)" "settings shown with defaults"
assert_status 0 ma settings acme-hammocks-ltd archive_internal=on ignore_plus_tags=yes --json
assert_eq "on on" "$(json_get "$T/last.out" 'd["settings"]["archive_internal"], d["settings"]["ignore_plus_tags"]' | tr -d "(),'")" "settings changed"
assert_status 2 ma settings acme-hammocks-ltd archive_internal=off capture_level=bogus
assert_contains "$(cat "$T/last.err")" "capture_level" "bad value named"
assert_status 0 ma settings acme-hammocks-ltd --json
assert_eq "on" "$(json_get "$T/last.out" 'd["settings"]["archive_internal"]')" "one bad value changes nothing"
assert_status 2 ma settings acme-hammocks-ltd no_such_key=1
assert_contains "$(cat "$T/last.err")" "unknown setting \"no_such_key\"" "unknown setting named"
assert_status 2 ma settings acme-hammocks-ltd archive_internal
assert_status 0 ma settings acme-hammocks-ltd archive_internal=default --json
assert_contains "$(json_get "$T/last.out" '" ".join(d["defaults"])')" "archive_internal" "key=default restores the default"
assert_status 0 ma settings acme-hammocks-ltd-2 --json
assert_eq "off" "$(json_get "$T/last.out" 'd["settings"]["ignore_plus_tags"]')" "settings are per enterprise"

# --- unknown enterprise everywhere: exit 2 and the name ---
for cmd in "enterprise show" "enterprise rotate-address" "employee list" "settings" "apikey create" "apikey list"; do
  assert_status 2 ma $cmd nosuch
  assert_contains "$(cat "$T/last.err")" "no enterprise \"nosuch\"" "$cmd: unknown enterprise"
done
assert_status 2 ma employee add nosuch a@b.example
assert_status 2 ma timeline nosuch contact C1
assert_status 2 ma enterprise frobnicate
assert_status 2 ma enterprise
assert_status 0 ma enterprise --help
assert_status 0 ma enterprise add --help
assert_contains "$(cat "$T/last.out")" "--domain" "add --help lists its options"
finish
