#!/usr/bin/env bash
# dns_resolver.sh - agent/dns against a real authoritative server (nsd on loopback, zones in
# tests/fixtures/dns) through tests/support/dns_probe: TXT strings joined per record and never
# across records, CNAME chains followed and loops stopped, MX sorted and null MX, NXDOMAIN vs
# NODATA with the SOA's negative TTL, PTR, concurrent look-ups on one loop, the synchronous
# wrapper, answers served from the cache after the server is gone, and a time-out against a
# server that never answers while the loop keeps turning.
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/dns.sh"
Z=$FIXTURES_DIR/dns
PROBE=$BUILD_DIR/tests/support/dns_probe

dns_start "$Z/example.test.zone" "$Z/spf.test.zone" "$Z/mailagent.test.zone" "$Z/2.0.192.in-addr.arpa.zone"
dns_blackhole

# one round of concurrent look-ups
"$PROBE" -s "$DNS_SERVERS" example.test/MX nomail.example.test/MX big._domainkey.example.test/TXT \
  two.example.test/TXT alias.example.test/TXT alias.example.test/A loop1.example.test/A \
  missing._domainkey.example.test/TXT host.example.test/TXT 20.2.0.192.in-addr.arpa/PTR \
  split.spf.test/TXT 'bad..name/A' > "$T/round.out"
out=$(cat "$T/round.out")
# block NAME TYPE: the lines of one answer (header and its records)
block() { awk -v h="$1 $2 " 'index($0, h) == 1 { p = 1; print; next } /^[^ ]/ { p = 0 } p' "$T/round.out"; }

b=$(block example.test MX)
assert_contains "$b" "example.test MX ok ttl=300" "MX answered with its TTL"
assert_eq "  mx 10 mx1.example.test
  mx 20 mx2.example.test" "$(grep '^  mx' <<<"$b")" "MX sorted by preference (published 20 first)"
b=$(block nomail.example.test MX)
assert_contains "$b" "ok ttl=300 canonical=nomail.example.test null_mx" "null MX (RFC 7505) recognised"
assert_eq 0 "$(grep -c '^  mx' <<<"$b" || true)" "null MX lists no exchange"

b=$(block big._domainkey.example.test TXT)
key=$(cat "$Z/keys/big.pub.b64")
assert_eq "  txt \"v=DKIM1; k=rsa; p=$key\" len=$(( ${#key} + 18 ))" "$(grep '^  txt' <<<"$b")" \
  "a 2048-bit key split across two strings is joined into one value"
b=$(block two.example.test TXT)
assert_eq 2 "$(grep -c '^  txt' <<<"$b")" "two TXT records stay two values"
assert_contains "$b" '  txt "first record" len=12' "one record's strings joined without a separator"
assert_contains "$b" '  txt "second record" len=13' "the second record on its own"
b=$(block split.spf.test TXT)
assert_contains "$b" 'txt "v=spf1 ip4:192.0.2.0/24 include:_spf.spf.test ~all"' "an SPF record split across strings joined"

b=$(block alias.example.test TXT)
assert_contains "$b" "ok ttl=300 canonical=target.example.test" "CNAME chain followed to its target"
assert_contains "$b" 'txt "target text"' "TXT found through two CNAMEs"
assert_contains "$(block alias.example.test A)" "addr 192.0.2.10" "A found through two CNAMEs"
assert_contains "$(block loop1.example.test A)" "failed ttl=0" "a CNAME loop fails"
assert_contains "$(block loop1.example.test A)" "reason=CNAME chain too long or a loop" "and says why"

assert_contains "$(block missing._domainkey.example.test TXT)" "nxdomain ttl=60" "NXDOMAIN with the SOA's negative TTL"
assert_contains "$(block host.example.test TXT)" "nodata ttl=60" "NODATA for a name without that type"
b=$(block 20.2.0.192.in-addr.arpa PTR)
assert_contains "$b" "  ptr host.example.test" "PTR answered"
assert_contains "$b" "  ptr other.example.test" "every PTR record kept"
assert_contains "$(block bad..name A)" "failed ttl=0 canonical=bad..name reason=not a valid domain name" \
  "an invalid name is answered without a query"
assert_eq 12 "$(grep -vc "^  \|^ticks=" "$T/round.out")" "every look-up answered exactly once"

# the synchronous wrapper
out=$("$PROBE" --sync -s "$DNS_SERVERS" example.test/TXT host.example.test/A)
assert_contains "$out" 'txt "v=spf1 mx ip4:192.0.2.0/24 include:_spf.spf.test ~all"' "sync: SPF TXT"
assert_contains "$out" 'txt "google-site-verification=not-an-spf-record"' "sync: the other TXT record"
assert_contains "$out" "host.example.test A ok ttl=5" "sync: the record's own TTL (5 s)"

# the cache: round 2 runs after nsd is stopped
coproc PROBE_CO { "$PROBE" --pause -s "$DNS_SERVERS" -t 200 -r 1 example.test/MX host.example.test/A \
  missing._domainkey.example.test/TXT -- example.test/MX missing._domainkey.example.test/TXT two.example.test/TXT; }
round1=""
while read -r line <&"${PROBE_CO[0]}"; do [ "$line" = paused ] && break; round1+="$line"$'\n'; done
assert_contains "$round1" "example.test MX ok" "cache round 1 answered by nsd"
kill "$DNS_PID"; wait "$DNS_PID" 2>/dev/null || true
echo go >&"${PROBE_CO[1]}"
round2=$(cat <&"${PROBE_CO[0]}")
assert_contains "$round2" "example.test MX ok" "MX answered from the cache after nsd stopped"
assert_contains "$round2" "mx 10 mx1.example.test" "the cached answer keeps its records"
assert_contains "$round2" "missing._domainkey.example.test TXT nxdomain" "NXDOMAIN answered from the cache"
assert_not_contains "$round2" "two.example.test TXT ok" "a name never asked is not answered without nsd"

# a server that never answers: a time-out, while the loop keeps turning
out=$("$PROBE" -s "$BLACKHOLE_SERVERS" -t 100 -r 2 example.test/MX example.test/TXT)
assert_contains "$out" "example.test MX timeout ttl=0" "MX times out"
assert_contains "$out" "example.test TXT timeout ttl=0" "TXT times out"
assert_contains "$out" "ticks=some" "the event loop turned while the look-ups waited"
queries=$(grep -c query "$T/blackhole.log")
assert_eq 4 "$queries" "two tries each for two look-ups reached the silent server"

assert_status 2 "$PROBE" -s "not-an-address" example.test/A
assert_contains "$(cat "$T/last.err")" "[dns] servers" "a bad servers list is refused naming the key"
finish
