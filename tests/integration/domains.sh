#!/usr/bin/env bash
# domains.sh - issue 10's domains against a real DNS server (nsd from lib/dns.sh): names (IDN,
# the broken rule named), selector rules, a DKIM key published as the split strings mailagent
# prints, verification pending -> verified, both key types signing, `mailagent dkim verify` on our
# messages and on RFC 8463's example (and its refusal after one body byte changes), ownership (a
# verified domain refuses another enterprise), rotation end to end, a DNS time-out that drops
# nothing, and `serve` re-verifying on the test clock: the records disappear, the domain stays
# verified after one check, fails after the second, and the CRM gets domain.status_changed.
# Interop with python3-dkim and opendkim-testmsg is in domains_interop.sh.
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/dns.sh"

D=xn--bcher-kva.test
ZONE=$T/bucher.zone
SERIAL=1
RECORDS=()
# publish: rewrites the customer's zone with RECORDS and waits until nsd serves the new serial.
publish() {
  SERIAL=$((SERIAL + 1))
  {
    echo "\$ORIGIN $D."
    echo "\$TTL 1"
    echo "@ IN SOA ns1.$D. hostmaster.$D. $SERIAL 3600 600 86400 1"
    echo "@ IN NS ns1.$D."
    echo "ns1 IN A 127.0.0.1"
    echo "serial IN TXT \"$SERIAL\""
    echo "@ IN MX 10 mx1.$D."
    echo "@ IN TXT \"v=spf1 ip4:192.0.2.0/24 -all\""
    echo "_dmarc IN TXT \"v=DMARC1; p=quarantine; adkim=s\""
    for r in "${RECORDS[@]:-}"; do [ -n "$r" ] && echo "$r"; done
  } > "$ZONE"
  if [ -n "${DNS_PID:-}" ]; then
    cp "$ZONE" "$T/nsd/zones/$D.zone"
    kill -HUP "$DNS_PID"
    for _ in $(seq 1 100); do
      dns_query "serial.$D" TXT 2>/dev/null | grep -q "\"$SERIAL\"" && return 0
      sleep 0.1
    done
    fail "nsd did not load serial $SERIAL"
  fi
}
# key_record NAME VALUE_SPLIT: the zone line for a key as `domain dkim --json` prints it.
key_line() { echo "$1. IN TXT $2"; }

publish
dns_start "$ZONE" "$FIXTURES_DIR/dns/football.example.com.zone" "$FIXTURES_DIR/dns/example.test.zone"
clock_start
HOOK_PORT=$(free_port)
printf 'domains-secret\n' > "$T/webhook.secret"
write_config "[dns]" "servers=$DNS_SERVERS" "timeout_ms=300" "tries=1" \
  "[relay]" "source_addresses=192.0.2.25" "bounce_domain=bounces.mailagent.test" \
  "[webhook]" "url=http://127.0.0.1:$HOOK_PORT/hook" "secret_file=$T/webhook.secret" "max_backoff=1" "max_attempts=100"
ma init >/dev/null
ma enterprise add --name Acme --domain acme.test --slug acme >/dev/null
ma enterprise add --name Beta --domain beta.test --slug beta >/dev/null

# --- names -------------------------------------------------------------------------------------
assert_status 2 ma domain add acme "bad domain.test"
assert_contains "$(cat "$T/last.err")" "space" "a space is refused with the reason"
assert_status 2 ma domain add acme "x-.test"
assert_contains "$(cat "$T/last.err")" "starts or ends with a hyphen" "a leading hyphen is named"
assert_status 2 ma domain add acme "$(printf 'a%.0s' $(seq 1 64)).test"
assert_contains "$(cat "$T/last.err")" "at most 63" "a 64-octet label is refused"
assert_status 0 ma domain add acme "BÜCHER.test." --json
assert_eq "$D bücher.test pending" "$(json_get "$T/last.out" 'd["domain"]+" "+d["unicode"]+" "+d["status"]')" \
  "IDN stored as its A-label, shown in Unicode"
assert_status 0 ma enterprise show acme --json
assert_contains "$(json_get "$T/last.out" '" ".join(d["domains"])')" "$D" "one list: enterprise show lists the domain"

# --- selector rules ----------------------------------------------------------------------------
assert_status 2 ma domain dkim acme bücher.test --selector Sel1
assert_contains "$(cat "$T/last.err")" "lowercase letters, digits and hyphens only" "uppercase selector: rule named"
assert_status 2 ma domain dkim acme bücher.test --selector s-
assert_contains "$(cat "$T/last.err")" "starts or ends with a hyphen" "trailing hyphen: rule named"
assert_status 2 ma domain dkim acme bücher.test --selector abcdefghijklmnopqrstu
assert_contains "$(cat "$T/last.err")" "at most 20" "21 characters: rule named"
assert_status 2 ma domain dkim acme bücher.test --algorithm rsa-512
assert_contains "$(cat "$T/last.err")" "rsa-2048, rsa-1024 or ed25519" "unknown algorithm: the choices named"

# --- an RSA key, published as split strings -----------------------------------------------------
assert_status 0 ma domain dkim acme bücher.test --json
RSA_SEL=$(json_get "$T/last.out" 'd["selector"]')
RSA_NAME=$(json_get "$T/last.out" 'd["name"]')
RSA_SPLIT=$(json_get "$T/last.out" 'd["value_split"]')
[[ "$RSA_SEL" =~ ^ma[0-9]{8}r$ ]] && pass "generated date-based selector $RSA_SEL" || fail "selector $RSA_SEL"
assert_eq "$RSA_SEL._domainkey.$D" "$RSA_NAME" "record name S._domainkey.DOMAIN"
assert_eq 2 "$(grep -o '" "' <<<"$RSA_SPLIT" | wc -l | awk '{print $1+1}')" "2048-bit record split into two strings"
assert_status 1 ma domain verify acme bücher.test --json
assert_eq "pending no_record" "$(json_get "$T/last.out" 'd["status"]+" "+d["reason"]')" "nothing published: pending, no_record"

RECORDS=("$(key_line "$RSA_NAME" "$RSA_SPLIT")")
publish
assert_status 0 ma domain verify acme bücher.test --json
assert_eq "verified active" "$(json_get "$T/last.out" 'd["status"]+" "+d["dkim"][0]["state"]')" "published: verified, key active"

# --- an ed25519 key too: both sign --------------------------------------------------------------
assert_status 0 ma domain dkim acme bücher.test --algorithm ed25519 --json
ED_SEL=$(json_get "$T/last.out" 'd["selector"]')
ED_LINE=$(key_line "$(json_get "$T/last.out" 'd["name"]')" "$(json_get "$T/last.out" 'd["value_split"]')")
assert_eq 44 "$(json_get "$T/last.out" 'len(d["value"].split("p=")[1])')" "ed25519 p= is the raw 32-byte key (44 base64 characters)"
RECORDS+=("$ED_LINE")
publish
assert_status 0 ma domain verify acme bücher.test
printf 'From: Homer <homer@bücher.test>\r\nTo: x@example.net\r\nSubject: Both keys\r\n\r\nHello, world.\r\n' > "$T/plain.eml"
assert_status 0 ma dkim sign acme "$T/plain.eml"
cp "$T/last.out" "$T/signed.eml"
assert_eq 2 "$(grep -c '^DKIM-Signature:' "$T/signed.eml")" "two signatures when both key types are active"
assert_status 0 ma dkim verify "$T/signed.eml"
assert_contains "$(cat "$T/last.out")" "pass d=$D s=$RSA_SEL a=rsa-sha256" "our RSA signature verifies through DNS"
assert_contains "$(cat "$T/last.out")" "pass d=$D s=$ED_SEL a=ed25519-sha256" "our Ed25519 signature verifies through DNS"
sed 's/Hello, world/Hello, World/' "$T/signed.eml" > "$T/tampered.eml"
assert_status 1 ma dkim verify "$T/tampered.eml"
assert_contains "$(cat "$T/last.out")" "body hash does not match" "one body byte changed: fail"

# --- RFC 8463's example message through DNS ------------------------------------------------------
RFC=/usr/lib/python3/dist-packages/dkim/tests/data/rfc6376.signed.msg
assert_status 0 ma dkim verify "$RFC"
assert_contains "$(cat "$T/last.out")" "pass d=football.example.com s=brisbane a=ed25519-sha256" "RFC 8463 ed25519 example passes"
assert_contains "$(cat "$T/last.out")" "pass d=football.example.com s=test a=rsa-sha256" "RFC 8463 rsa example passes"
sed 's/hungry/Hungry/' "$RFC" > "$T/rfc-tampered.eml"
assert_status 1 ma dkim verify "$T/rfc-tampered.eml" --json
assert_eq "fail fail" "$(json_get "$T/last.out" '" ".join(i["result"] for i in d["items"])')" "RFC 8463 example with one body byte changed: both fail"

# --- an imported key (a domain that already signs elsewhere): example.test publishes sel1's key
#     and, under "stale", another key; "big" is a 2048-bit key split across two strings ------------
K=$FIXTURES_DIR/dns/keys
assert_status 0 ma domain add beta example.test
assert_status 0 ma domain dkim beta example.test --selector stale --import-key "$K/sel1.key.pem" --json
assert_eq "rsa-1024 $(cat "$K/sel1.pub.b64")" "$(json_get "$T/last.out" 'd["algorithm"]+" "+d["value"].split("p=")[1]')" \
  "imported key: its type and public half"
assert_status 1 ma domain verify beta example.test --json
assert_eq "failed wrong_key" "$(json_get "$T/last.out" 'd["status"]+" "+d["reason"]')" "another key published: failed, wrong_key"
assert_contains "$(json_get "$T/last.out" '[r["fix"] for r in d["records"] if r["kind"]=="dkim"][0]')" "holds another key" "the fix says so"
assert_status 2 ma domain dkim beta example.test --selector big --import-key "$K/big.key.pem"
assert_contains "$(cat "$T/last.err")" "still waiting for its DNS record" "one pending key of a type at a time"
assert_status 0 ma domain dkim beta example.test --remove stale
assert_status 0 ma domain dkim beta example.test --selector big --import-key "$K/big.key.pem"
assert_status 0 ma domain verify beta example.test
assert_contains "$(cat "$T/last.out")" "DKIM big (rsa-2048, active): ok" "the 2048-bit key split across strings verifies"
printf 'From: x@example.test\r\nSubject: imported\r\n\r\nbody\r\n' > "$T/ex.eml"
assert_status 0 ma dkim sign beta "$T/ex.eml"; cp "$T/last.out" "$T/ex-signed.eml"
assert_status 0 ma dkim verify "$T/ex-signed.eml"
assert_contains "$(cat "$T/last.out")" "pass d=example.test s=big a=rsa-sha256" "signed with the imported key, verified through DNS"
assert_status 2 ma domain dkim beta example.test --remove big
assert_contains "$(cat "$T/last.err")" "signs mail" "an active key cannot be removed"
printf 'not a key\n' > "$T/junk.pem"
assert_status 2 ma domain dkim beta example.test --selector junk --import-key "$T/junk.pem"
assert_contains "$(cat "$T/last.err")" "not a PEM private key" "a file that is not a key is refused"

# --- ownership: verified by acme, so beta's claim is refused ------------------------------------
assert_status 2 ma domain add beta bücher.test
assert_contains "$(cat "$T/last.err")" "verified by another enterprise" "a verified domain refuses another enterprise"

# --- rotation: the old key signs until the new one verifies --------------------------------------
assert_status 0 ma domain dkim acme bücher.test --json
NEW_SEL=$(json_get "$T/last.out" 'd["selector"]')
NEW_LINE=$(key_line "$(json_get "$T/last.out" 'd["name"]')" "$(json_get "$T/last.out" 'd["value_split"]')")
assert_eq "${RSA_SEL}2" "$NEW_SEL" "rotation gets the next selector of the day"
assert_status 0 ma domain verify acme bücher.test   # the old key still verifies the domain
assert_status 0 ma domain show acme bücher.test --json
assert_eq "active pending" "$(json_get "$T/last.out" '" ".join(k["state"] for k in d["dkim"] if k["algorithm"]=="rsa-2048")')" "new key pending, old one active"
assert_status 0 ma dkim sign acme "$T/plain.eml"
assert_contains "$(cat "$T/last.out")" "s=$RSA_SEL;" "still signed with the old selector"
RECORDS+=("$NEW_LINE")
publish
assert_status 0 ma domain verify acme bücher.test
assert_contains "$(cat "$T/last.out")" "note: DKIM selector $NEW_SEL of $D verified" "the operator is told the new key signs"
assert_contains "$(cat "$T/last.out")" "note: DKIM selector $RSA_SEL of $D retired (replaced by $NEW_SEL): its DNS record may be removed after" "and when the old record may go"
assert_status 0 ma dkim sign acme "$T/plain.eml"
assert_contains "$(cat "$T/last.out")" "s=$NEW_SEL;" "now signed with the new selector"
assert_not_contains "$(cat "$T/last.out")" "s=$RSA_SEL;" "not with the old one"

# --- a DNS time-out drops nothing ---------------------------------------------------------------
dns_blackhole
sed "s/^servers=.*/servers=$BLACKHOLE_SERVERS/" "$CONF" > "$T/blackhole.conf"
assert_status 0 "$MAILAGENT" domain verify -c "$T/blackhole.conf" acme bücher.test --json
assert_eq "verified dns_timeout 0" "$(json_get "$T/last.out" 'd["status"]+" "+d["reason"]+" "+str(d["consecutive_failures"])')" \
  "a time-out keeps the domain verified"
assert_status 0 ma domain verify acme bücher.test

# --- doctor ------------------------------------------------------------------------------------
assert_status 0 ma doctor acme --domain bücher.test
assert_contains "$(cat "$T/last.out")" "DMARC: v=DMARC1; p=quarantine; adkim=s" "doctor shows DMARC"
assert_contains "$(cat "$T/last.out")" "MX: 10 mx1.$D" "doctor shows MX"
assert_contains "$(cat "$T/last.out")" "mailagent sends from: 192.0.2.25" "doctor lists the sending addresses"
assert_contains "$(cat "$T/last.out")" "SPF (advisory: the return path is mailagent's, bounces.mailagent.test): pass" \
  "doctor: SPF advisory with mailagent's bounce domain as return path"
assert_status 1 ma doctor acme --json   # acme.test has nothing published
assert_eq "dkim dkim challenge spf dmarc mx" \
  "$(json_get "$T/last.out" '" ".join(r["kind"] for x in d["domains"] if x["domain"]=="'$D'" for r in x["records"])')" \
  "doctor --json: every record, the active DKIM keys first (the retired one is not checked)"
assert_eq "pass False" "$(json_get "$T/last.out" '[(r["result"], r["required"]) for x in d["domains"] if x["domain"]=="'$D'" for r in x["records"] if r["kind"]=="spf"][0][0]+" "+str([r["required"] for x in d["domains"] if x["domain"]=="'$D'" for r in x["records"] if r["kind"]=="spf"][0])')" \
  "SPF evaluated for 192.0.2.25 (advisory with mailagent's return path)"
assert_contains "$(json_get "$T/last.out" '[x["records"][0]["fix"] for x in d["domains"] if x["domain"]=="acme.test"][0]')" \
  "mailagent domain dkim" "a domain without a key: the fix names the command"

# --- SPF: the record to publish, through agent/spf's merge --------------------------------------
assert_status 0 ma domain spf acme bücher.test
assert_contains "$(cat "$T/last.out")" "published: v=spf1 ip4:192.0.2.0/24 -all" "domain spf shows the record"
assert_contains "$(cat "$T/last.out")" "mailagent's addresses: pass" "and that 192.0.2.25 passes it"

# --- serve re-verifies on the test clock; the CRM hears about the change ------------------------
/usr/bin/python3 "$SRC_DIR/tests/support/webhook_receiver.py" --port "$HOOK_PORT" --port-file "$T/hook.port" \
  --log "$T/hook.log" --secret-file "$T/webhook.secret" --plan "" &
CLEANUP_PIDS+=("$!")
start_serve
status_of() { ma domain show acme bücher.test --json >"$T/show.json" && json_get "$T/show.json" 'd["status"]+" "+str(d["consecutive_failures"])'; }
wait_status() { # WANT SECONDS
  for _ in $(seq 1 $(($2 * 10))); do [ "$(status_of)" == "$1" ] && return 0; sleep 0.1; done
  return 1
}
RECORDS=()
publish
before=$(json_get <(ma domain show acme bücher.test --json) 'd["checked_at"]')
clock_advance 60
sleep 2
assert_eq "$before" "$(json_get <(ma domain show acme bücher.test --json) 'd["checked_at"]')" "not due yet: no check"
clock_advance $((6 * 3600))
wait_status "verified 1" 10 && pass "records gone: still verified after the first scheduled check" \
  || fail "first scheduled check: $(status_of)"
clock_advance 301
wait_status "failed 2" 10 && pass "failed after the second consecutive definite failure" || fail "second check: $(status_of)"
events() { [ -f "$T/hook.log" ] && /usr/bin/python3 -c '
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["outcome"] == "accepted" and r["event"] == "domain.status_changed":
        d = json.loads(r["body"])["data"]
        if d["domain"] == sys.argv[2]:
            print(d["previous_status"] + ">" + d["status"])' "$T/hook.log" "$D" | tr '\n' ' '; }
for _ in $(seq 1 100); do [[ "$(events)" == *"verified>failed"* ]] && break; sleep 0.1; done
assert_eq "pending>verified verified>failed " "$(events)" "domain.status_changed delivered for each change, in order"

# --- the API serves the same shapes, the doctor from the stored report --------------------------
KEY=$(ma apikey create acme --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')
API=http://127.0.0.1:$API_PORT
out=$(curl -sS "$API/v1/domains/b%C3%BCcher.test/doctor" -H "Authorization: Bearer $KEY")
assert_eq "failed no_record" "$(json_get - 'd["status"]+" "+d["reason"]' <<<"$out")" "GET /v1/domains/{d}/doctor: the last check"
out=$(curl -sS "$API/v1/domains" -H "Authorization: Bearer $KEY")
assert_eq "acme.test $D" "$(json_get - '" ".join(i["domain"] for i in d["items"])' <<<"$out")" "GET /v1/domains"
finish
