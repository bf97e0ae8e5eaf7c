#!/usr/bin/env bash
# cli_apikey.sh - `mailagent apikey` lifecycle: create (enterprise and admin, secret once, only a
# hash stored), list (prefix, scope, --all for revoked), rotate (new key, same scope and label, old
# revoked), revoke (immediate, not twice), and the errors.
. "$(dirname "$0")/lib/common.sh"

write_config
ma init >/dev/null
ma enterprise add --name Acme --domain acme.example --slug acme >/dev/null
ma enterprise add --name Other --domain other.example --slug other >/dev/null

assert_status 0 ma apikey create acme --label crm-sync --json
k1=$(json_get "$T/last.out" 'd["id"]'); s1=$(json_get "$T/last.out" 'd["secret"]')
assert_eq "enterprise crm-sync ${s1:0:12}" "$(json_get "$T/last.out" 'd["scope"] + " " + d["label"] + " " + d["prefix"]')" "create --json"
[[ "$s1" =~ ^mak_[0-9a-f]{64}$ ]] && pass "enterprise secret shape" || fail "secret shape: $s1"
assert_eq "" "$(grep -rl "$s1" "$T/data" 2>/dev/null || true)" "secret not stored in clear"
hash=$(printf '%s' "$s1" | sha256sum | cut -d' ' -f1)
assert_contains "$(grep -rl "$hash" "$T/data" 2>/dev/null || true)" "$T/data/mailagent.db" "its SHA-256 is stored"

assert_status 0 ma apikey create acme
assert_contains "$(cat "$T/last.out")" "The secret is shown once" "text output says once"
assert_eq 1 "$(grep -c 'mak_[0-9a-f]\{64\}' "$T/last.out")" "text output has the secret once"
assert_status 0 ma apikey create --admin --label ops --json
assert_eq "admin" "$(json_get "$T/last.out" 'd["scope"]')" "admin key"
[[ "$(json_get "$T/last.out" 'd["secret"]')" =~ ^maa_[0-9a-f]{64}$ ]] && pass "admin secret shape" || fail "admin secret shape"

# Listings never show secrets.
assert_status 0 ma apikey list acme --json
assert_eq 3 "$(json_get "$T/last.out" 'len(d["items"])')" "acme: default key + 2 created"
assert_not_contains "$(cat "$T/last.out")" "secret" "list has no secrets"
assert_status 0 ma apikey list other --json
assert_eq 1 "$(json_get "$T/last.out" 'len(d["items"])')" "keys are per enterprise"
assert_status 0 ma apikey list --admin --json
assert_eq 2 "$(json_get "$T/last.out" 'len(d["items"])')" "admin keys: init's + ops"
assert_status 0 ma apikey list --json
assert_eq 6 "$(json_get "$T/last.out" 'len(d["items"])')" "all keys"
assert_status 0 ma apikey list
assert_contains "$(cat "$T/last.out")" "${s1:0:12}" "text list shows the prefix"
assert_not_contains "$(cat "$T/last.out")" "$s1" "text list hides the secret"

# Rotate: new key with the same scope and label, old revoked.
assert_status 0 ma apikey rotate "$k1" --json
k2=$(json_get "$T/last.out" 'd["id"]'); s2=$(json_get "$T/last.out" 'd["secret"]')
assert_eq "crm-sync enterprise" "$(json_get "$T/last.out" 'd["label"] + " " + d["scope"]')" "rotated key keeps label and scope"
[[ "$k2" != "$k1" && "$s2" != "$s1" ]] && pass "rotation made a new key" || fail "rotation reused the key"
assert_status 0 ma apikey list acme --json
assert_not_contains "$(cat "$T/last.out")" "$k1" "rotated key hidden from the default list"
assert_status 0 ma apikey list acme --all --json
assert_eq "True" "$(json_get "$T/last.out" 'any(k["id"] == "'"$k1"'" and k["revoked_at"] for k in d["items"])')" "old key revoked (--all)"
assert_status 2 ma apikey rotate "$k1"
assert_contains "$(cat "$T/last.err")" "revoked already" "rotating a revoked key"

# Revoke.
assert_status 0 ma apikey revoke "$k2"
assert_status 2 ma apikey revoke "$k2"
assert_contains "$(cat "$T/last.err")" "no live API key" "revoking twice"
assert_status 2 ma apikey revoke nosuchkey
assert_status 2 ma apikey rotate nosuchkey
assert_contains "$(cat "$T/last.err")" "no API key \"nosuchkey\"" "rotating an unknown key"

# Usage errors.
assert_status 2 ma apikey create
assert_status 2 ma apikey create acme --admin
assert_status 2 ma apikey create nosuch
assert_status 2 ma apikey revoke
assert_status 2 ma apikey frob
assert_status 0 ma apikey --help
finish
