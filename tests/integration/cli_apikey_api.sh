#!/usr/bin/env bash
# cli_apikey_api.sh - keys made by the CLI work against the running HTTP API, and CLI revocation
# and rotation take effect at once: init's admin key, an enterprise key from `enterprise add`,
# `apikey create|rotate|revoke`, and the enterprise scope (another tenant's key sees nothing).
. "$(dirname "$0")/lib/common.sh"

write_config
admin=$(ma init | grep -o 'maa_[0-9a-f]\{64\}')
acme=$(ma enterprise add --name Acme --domain acme.example --slug acme | grep -o 'mak_[0-9a-f]\{64\}')
other=$(ma enterprise add --name Other --domain other.example --slug other | grep -o 'mak_[0-9a-f]\{64\}')
ma employee add acme homer@acme.example >/dev/null
start_serve

# status KEY PATH: prints the HTTP status of GET PATH with that bearer key.
status() { curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $1" "http://127.0.0.1:$API_PORT$2"; }

assert_eq 200 "$(status "$admin" /v1/apikeys)" "init's admin key works"
assert_eq 200 "$(status "$acme" /v1/employees)" "enterprise key from enterprise add works"
assert_contains "$(cat "$T/body")" "homer@acme.example" "enterprise key sees its employees"
assert_eq 200 "$(status "$other" /v1/employees)" "the other tenant's key works"
assert_not_contains "$(cat "$T/body")" "homer@acme.example" "and does not see acme's employees"
assert_eq 401 "$(status "mak_$(printf '0%.0s' {1..64})" /v1/employees)" "an unknown key is refused"

# create -> works; rotate -> old refused, new works; revoke -> refused at once.
created=$(ma apikey create acme --label ci --json)
kid=$(echo "$created" | json_get - 'd["id"]'); ksec=$(echo "$created" | json_get - 'd["secret"]')
assert_eq 200 "$(status "$ksec" /v1/employees)" "created key works"
rotated=$(ma apikey rotate "$kid" --json)
rid=$(echo "$rotated" | json_get - 'd["id"]'); rsec=$(echo "$rotated" | json_get - 'd["secret"]')
assert_eq 401 "$(status "$ksec" /v1/employees)" "rotated-away key refused at once"
assert_eq 200 "$(status "$rsec" /v1/employees)" "rotated key works"
ma apikey revoke "$rid" >/dev/null
assert_eq 401 "$(status "$rsec" /v1/employees)" "revoked key refused at once"

second_admin=$(ma apikey create --admin --json | json_get - 'd["secret"]')
assert_eq 200 "$(status "$second_admin" /v1/apikeys)" "a second admin key works"
stop_serve
finish
