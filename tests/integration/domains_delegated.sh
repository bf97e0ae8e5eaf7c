#!/usr/bin/env bash
# domains_delegated.sh - delegated DKIM: the customer publishes, once, CNAMEs from
# ma1._domainkey.D and ma2._domainkey.D to names under [relay] dkim_cname_domain; mailagent's
# operator publishes the keys there. Verification follows the CNAME (through nsd); a rotation
# moves to the other selector and needs no change in the customer's zone, only in mailagent's.
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/dns.sh"

D=delegated.test
C=dkim.mailagent.test
write_config "[relay]" "dkim_cname_domain=$C"
ma init >/dev/null
ma enterprise add --name Acme --domain acme.test --slug acme >/dev/null
ma domain add acme "$D" >/dev/null
assert_status 0 ma domain dkim acme "$D" --delegated
assert_contains "$(cat "$T/last.out")" "name:  ma1._domainkey.$D
  value: ma1._domainkey.$D.$C" "the customer's CNAME for ma1"
assert_contains "$(cat "$T/last.out")" "name:  ma2._domainkey.$D
  value: ma2._domainkey.$D.$C" "and for ma2, published at once for the next rotation"
ma domain show acme "$D" --json > "$T/k1.json"
assert_eq "ma1 CNAME ma1._domainkey.$D.$C" "$(json_get "$T/k1.json" '" ".join([d["dkim"][0]["selector"], d["dkim"][0]["type"], d["dkim"][0]["value"]])')" \
  "delegated key: selector ma1, a CNAME record"

# zones: the customer's (CNAMEs only, never changed below) and mailagent's (the keys).
{
  echo "\$ORIGIN $D."; echo "\$TTL 300"
  echo "@ IN SOA ns1.$D. hostmaster.$D. 1 3600 600 86400 60"; echo "@ IN NS ns1.$D."; echo "ns1 IN A 127.0.0.1"
  echo "ma1._domainkey IN CNAME ma1._domainkey.$D.$C."
  echo "ma2._domainkey IN CNAME ma2._domainkey.$D.$C."
} > "$T/customer.zone"
ours_zone() { # the operator's zone with the target records of the keys shown by domain show
  {
    echo "\$ORIGIN $C."; echo "\$TTL 300"
    echo "@ IN SOA ns1.$C. hostmaster.$C. 1 3600 600 86400 60"; echo "@ IN NS ns1.$C."; echo "ns1 IN A 127.0.0.1"
    ma domain show acme "$D" --json | /usr/bin/python3 -c '
import json, sys
for k in json.load(sys.stdin)["dkim"]:
    if k["state"] != "retired":
        print(k["target_record"]["name"] + ". IN TXT " + k["target_record"]["value_split"])'
  } > "$T/ours.zone"
}
restart_dns() {
  [ -n "${DNS_PID:-}" ] && { kill "$DNS_PID"; wait "$DNS_PID" 2>/dev/null || true; rm -rf "$T/nsd"; }
  ours_zone
  dns_start "$T/ours.zone" "$T/customer.zone"
  sed -i '/^\[dns\]/,$d' "$CONF"; printf '[dns]\nservers=%s\n' "$DNS_SERVERS" >> "$CONF"
}
restart_dns
cp "$T/customer.zone" "$T/customer.zone.orig"
assert_status 0 ma domain verify acme "$D" --json
assert_eq "verified ma1._domainkey.$D.$C" "$(json_get "$T/last.out" '[d["status"]] + [r["cname_found"] for r in d["records"] if r["kind"]=="dkim"]' | tr -d "[]',")" \
  "verified through the customer's CNAME"
printf 'From: a@%s\r\nSubject: x\r\n\r\nbody\r\n' "$D" > "$T/m.eml"
assert_status 0 ma dkim sign acme "$T/m.eml"; cp "$T/last.out" "$T/signed.eml"
assert_status 0 ma dkim verify "$T/signed.eml"
assert_contains "$(cat "$T/last.out")" "pass d=$D s=ma1" "a receiver finds the key through the CNAME"

# Rotation: the next delegated key takes ma2; only mailagent's zone changes.
assert_status 0 ma domain dkim acme "$D" --delegated --json
assert_eq "ma2" "$(json_get "$T/last.out" 'd["selector"]')" "rotation alternates to ma2"
restart_dns
assert_status 0 ma domain verify acme "$D"
assert_contains "$(cat "$T/last.out")" "DKIM selector ma1 of $D retired (replaced by ma2)" "ma2 took over, ma1 retired"
assert_status 0 ma dkim sign acme "$T/m.eml"; cp "$T/last.out" "$T/signed2.eml"
assert_status 0 ma dkim verify "$T/signed2.eml"
assert_contains "$(cat "$T/last.out")" "pass d=$D s=ma2" "signed with ma2, found through the second CNAME"
assert_eq "" "$(diff "$T/customer.zone.orig" "$T/customer.zone")" "the customer's zone never changed"
finish
