#!/usr/bin/env bash
# spf_rfc7208.sh - the RFC 7208 test suite that python3-spf ships (rfc7208-tests.yml, 203 tests
# in 16 scenarios) passes in full through agent/spf's evaluator: each scenario's zone is served
# through the evaluator's resolver interface (tests/support/spf_suite.c), each result (and
# explanation, where the suite gives one) compared with the suite's.
source "$(dirname "$0")/lib/common.sh"

SUITE=/usr/share/doc/python3-spf/rfc7208-tests.yml.gz
[ -r "$SUITE" ] || { fail "$SUITE missing: install python3-spf (scripts/setup.sh)"; finish; }
/usr/bin/python3 "$SRC_DIR/tests/support/spf_suite_json.py" "$SUITE" > "$T/suite.json"
want=$(/usr/bin/python3 -c 'import json,sys; print(sum(len(s["tests"]) for s in json.load(open(sys.argv[1]))))' "$T/suite.json")
assert_eq 203 "$want" "the suite holds its 203 tests"

"$BUILD_DIR/tests/support/spf_suite" "$T/suite.json" > "$T/suite.out" || true
grep '^FAIL' "$T/suite.out" >&2 || true
assert_eq "$want passed, 0 failed" "$(tail -1 "$T/suite.out")" "every RFC 7208 suite test passes"
assert_eq "$want" "$(grep -c '^ok ' "$T/suite.out")" "one ok line per test"
for id in include-loop mx-limit void-over-limit multitxt2 ptr-cname-loop v-macro-ip6 redirect-cancels-exp; do
  assert_contains "$(cat "$T/suite.out")" "ok $id" "suite test $id"
done
finish
