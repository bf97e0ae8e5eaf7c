#!/usr/bin/env bash
# spf_dns.sh - SPF evaluation, merge and lint through agent/dns against nsd serving
# tests/fixtures/dns (tests/support/spf_probe): nested includes, a redirect, an include loop, 11
# look-ups, two records, void look-ups, +all, ptr, a syntax error, a record split across
# strings, no record, and a server that never answers (temperror). mailagent's mechanism is
# include:_spf.mailagent.test (198.51.100.0/24), or ip4:198.51.100.25.
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/dns.sh"
Z=$FIXTURES_DIR/dns
dns_start "$Z/example.test.zone" "$Z/spf.test.zone" "$Z/mailagent.test.zone" "$Z/2.0.192.in-addr.arpa.zone"
P=("$BUILD_DIR/tests/support/spf_probe" -s "$DNS_SERVERS")
OURS=(--include _spf.mailagent.test)
check() { "${P[@]}" check "$@"; }
plan() { "${P[@]}" plan "$@"; }
line() { grep "^$1=" <<<"$2" | head -1 | cut -d= -f2-; }

# ---- evaluation ----
out=$(check 198.51.100.25 nested.spf.test u@nested.spf.test)
assert_contains "$out" "result=pass mechanism=include:level1.spf.test" "nested includes: pass through three levels"
assert_contains "$out" "dns_terms=3" "nested includes: three look-up terms counted"
out=$(check 192.0.2.1 nested.spf.test)
assert_contains "$out" "result=pass" "nested: the middle level's ip4 passes"
out=$(check 192.0.2.99 nested.spf.test)
assert_contains "$out" "result=softfail mechanism=~all domain=nested.spf.test" "nested: -all inside an include is no match; the outer ~all decides"
out=$(check 203.0.113.7 redirect.spf.test)
assert_contains "$out" "result=pass mechanism=ip4:203.0.113.0/24 domain=_spf.spf.test" "redirect followed"
out=$(check 198.51.100.25 redirect.spf.test)
assert_contains "$out" "result=fail mechanism=-all domain=_spf.spf.test" "redirect target's -all decides"
assert_contains "$out" "explanation=_spf.spf.test does not authorise 198.51.100.25" "fail carries the default explanation"
out=$(check 198.51.100.25 loop.spf.test)
assert_contains "$out" "result=permerror" "include loop: permerror"
assert_contains "$out" "more than 10 DNS-querying terms" "include loop ends at the look-up limit"
out=$(check 198.51.100.25 eleven.spf.test)
assert_contains "$out" "result=permerror" "11 look-ups: permerror"
assert_contains "$out" 'at "include:i9.spf.test"' "the 11th term is named"
out=$(check 198.51.100.25 ten.spf.test)
assert_contains "$out" "result=fail mechanism=-all domain=ten.spf.test dns_terms=10" "10 look-ups are allowed"
out=$(check 192.0.2.1 two.spf.test)
assert_contains "$out" "result=permerror" "two SPF records: permerror"
assert_contains "$out" "has 2 SPF records" "two SPF records: said so"
out=$(check 198.51.100.25 void3.spf.test)
assert_contains "$out" "result=permerror" "three void look-ups: permerror"
assert_contains "$out" "void=3" "void look-ups counted"
out=$(check 192.0.2.3 void2.spf.test)
assert_contains "$out" "result=pass mechanism=ip4:192.0.2.3 domain=void2.spf.test dns_terms=2 void=2" "two void look-ups are allowed"
out=$(check 192.0.2.3 split.spf.test)
assert_contains "$out" "result=pass mechanism=ip4:192.0.2.0/24" "a record split across strings is evaluated joined"
out=$(check 203.0.113.9 split.spf.test)
assert_contains "$out" "result=pass mechanism=include:_spf.spf.test" "the second string's include works"
out=$(check 192.0.2.1 nospf.spf.test)
assert_contains "$out" "result=none" "no SPF record: none"
out=$(check 192.0.2.3 badsyntax.spf.test)
assert_contains "$out" "result=permerror" "syntax error: permerror"
out=$(check 192.0.2.10 ptr.spf.test u@ptr.spf.test)
assert_contains "$out" "result=fail" "ptr: a name outside the domain does not match"
out=$(check 192.0.2.25 eleven.spf.test)
assert_contains "$out" "result=pass mechanism=mx" "mx: the exchange's address matches"
out=$(check 198.51.100.25 mailagent.test)
assert_contains "$out" "result=pass mechanism=include:_spf.mailagent.test" "mailagent.test authorises its own addresses"

# ---- merge ----
out=$(plan example.test "${OURS[@]}")
assert_eq "v=spf1 mx ip4:192.0.2.0/24 include:_spf.spf.test include:_spf.mailagent.test ~all" "$(line proposed "$out")" \
  "merge: our include goes once, just before ~all"
assert_eq yes "$(line changed "$out")" "merge: changed"
out=$(plan nested.spf.test "${OURS[@]}")
assert_eq "v=spf1 include:level1.spf.test ~all" "$(line proposed "$out")" "merge: nothing added when an include chain has ours already"
assert_eq "yes no" "$(line already "$out") $(line changed "$out")" "merge: already authorised, unchanged"
out=$(plan nospf.spf.test "${OURS[@]}")
assert_eq "v=spf1 include:_spf.mailagent.test ~all" "$(line proposed "$out")" "merge: a fresh record when none exists"
assert_contains "$out" "lint warning no_record" "merge: the fresh record says to add other senders"
out=$(plan redirect.spf.test "${OURS[@]}")
assert_eq "v=spf1 include:_spf.mailagent.test redirect=_spf.spf.test" "$(line proposed "$out")" "merge: before a redirect when there is no all"
out=$(plan hasip.spf.test 198.51.100.25)
assert_eq "no" "$(line changed "$out")" "merge by address: an ip4 already there is not repeated"
out=$(plan viaa.spf.test 198.51.100.25)
assert_eq "yes no" "$(line already "$out") $(line changed "$out")" "merge by address: authorised through an a: term already"
out=$(plan viaa.spf.test 198.51.100.26)
assert_eq "v=spf1 a:relay.spf.test ip4:198.51.100.26 -all" "$(line proposed "$out")" "merge by address: another address is added"
out=$(plan noall.spf.test 198.51.100.25 2001:db8:100::/48)
assert_eq "v=spf1 mx ip4:198.51.100.25 ip6:2001:db8:100::/48" "$(line proposed "$out")" "merge by address: ip4 and ip6 appended after the last mechanism"
assert_contains "$out" "lint warning no_all" "lint: a record without all"

# ---- lint ----
out=$(plan ten.spf.test "${OURS[@]}")
assert_eq 11 "$(line dns_terms_after "$out")" "lint: 10 look-ups plus ours make 11"
assert_contains "$out" "lint error too_many_lookups The record with ours added needs 11" "lint: too many look-ups after the change"
out=$(plan eleven.spf.test "${OURS[@]}")
assert_contains "$out" "lint error too_many_lookups" "lint: 11 look-ups already"
out=$(plan two.spf.test "${OURS[@]}")
assert_contains "$out" "lint error multiple_records two.spf.test publishes 2 SPF records" "lint: two records"
out=$(plan void3.spf.test "${OURS[@]}")
assert_contains "$out" "lint error too_many_void_lookups 3 terms" "lint: void look-ups"
out=$(plan void2.spf.test "${OURS[@]}")
assert_not_contains "$out" "too_many_void_lookups" "lint: two void look-ups are fine"
out=$(plan plusall.spf.test "${OURS[@]}")
assert_contains "$out" "lint error plus_all" "lint: +all"
out=$(plan ptr.spf.test "${OURS[@]}")
assert_contains "$out" "lint warning ptr" "lint: ptr"
out=$(plan badsyntax.spf.test "${OURS[@]}")
assert_contains "$out" 'lint error syntax The SPF record of badsyntax.spf.test is invalid: "ip4:192.0.2.300"' "lint: syntax error named"
assert_eq "-" "$(line proposed "$out")" "lint: nothing proposed over a broken record"
out=$(plan loop.spf.test "${OURS[@]}")
assert_contains "$out" "lint error include_loop" "lint: include loop"
out=$(plan example.test "${OURS[@]}")
assert_not_contains "$out" "lint error" "lint: a healthy record has no errors"
out=$(plan diamond.spf.test "${OURS[@]}")
assert_not_contains "$out" "include_loop" "lint: two includes of one domain are no loop"
assert_eq 5 "$(line dns_terms_after "$out")" "lint: both paths counted, as a receiver would (2 + 1 + 1 + ours)"
out=$(check 203.0.113.1 diamond.spf.test)
assert_contains "$out" "result=pass mechanism=include:d1.spf.test" "diamond evaluates"

# ---- a server that never answers ----
dns_blackhole
out=$("$BUILD_DIR/tests/support/spf_probe" -s "$BLACKHOLE_SERVERS" -t 100 -r 1 check 192.0.2.1 example.test)
assert_contains "$out" "result=temperror" "time-out: temperror"
assert_contains "$out" "problem=DNS TXT look-up of example.test: timeout" "time-out: said so"
assert_status 75 "$BUILD_DIR/tests/support/spf_probe" -s "$BLACKHOLE_SERVERS" -t 100 -r 1 plan example.test "${OURS[@]}"
finish
