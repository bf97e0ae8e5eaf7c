#!/usr/bin/env bash
# dns_fixture.sh - the DNS test fixture itself: nsd started by lib/dns.sh from the zone files in
# tests/fixtures/dns answers what the other DNS tests rely on, on the wire, and the black hole
# never answers. (mailagent's resolver is tested against the same server in dns_resolver.sh.)
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/dns.sh"
Z=$FIXTURES_DIR/dns

dns_start "$Z/example.test.zone" "$Z/spf.test.zone" "$Z/mailagent.test.zone"
assert_eq "127.0.0.1:$DNS_PORT" "$DNS_SERVERS" "DNS_SERVERS names the port"

out=$(dns_query example.test MX)
assert_contains "$out" "example.test MX 300 10 mx1.example.test" "MX served"
assert_contains "$out" "example.test MX 300 20 mx2.example.test" "second MX served"
out=$(dns_query big._domainkey.example.test TXT)
strings=$(grep -o '"[^"]*"' <<<"$out" | wc -l)
assert_eq 2 "$strings" "the 2048-bit DKIM key is served as two strings in one record"
out=$(dns_query two.spf.test TXT)
assert_eq 2 "$(grep -c 'v=spf1' <<<"$out")" "two SPF records at two.spf.test"
out=$(dns_query _spf.mailagent.test TXT)
assert_contains "$out" "v=spf1 ip4:198.51.100.0/24" "mailagent.test zone served"
out=$(dns_query missing._domainkey.example.test TXT)
assert_contains "$out" "rcode 3" "a missing DKIM key is NXDOMAIN"

dns_blackhole
if dns_query example.test MX "$BLACKHOLE_PORT" >/dev/null 2>&1; then
  fail "the black hole answered"
else
  pass "the black hole never answers"
fi
finish
