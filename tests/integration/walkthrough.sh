#!/usr/bin/env bash
# walkthrough.sh - runs the README's "Five-minute walk-through" block VERBATIM (extracted from
# README.md, not copied) in a temporary directory laid out like the source tree (build/mailagent
# and tests/fixtures), then checks that the timeline shows the sample message with its records.
. "$(dirname "$0")/lib/common.sh"

block=$T/walkthrough-block.sh
/usr/bin/python3 - "$SRC_DIR/README.md" "$block" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
start = text.index("## Five-minute walk-through")
m = re.search(r"^```sh\n(.*?)^```", text[start:], re.S | re.M)
open(sys.argv[2], "w").write(m.group(1))
PY
assert_contains "$(cat "$block")" "mailagent timeline" "README block extracted"

mkdir -p "$T/tree/build"
ln -s "$MAILAGENT" "$T/tree/build/mailagent"
ln -s "$SRC_DIR/tests" "$T/tree/tests"

out=$T/walkthrough.out
if (cd "$T/tree" && bash -e "$block") >"$out" 2>"$T/walkthrough.err"; then
  pass "README walk-through runs without error"
else
  fail "README walk-through failed: $(cat "$T/walkthrough.err")"
fi
o=$(cat "$out")
assert_contains "$o" "maa_" "init printed the admin API key"
assert_contains "$o" "inbound address: acme-" "enterprise add printed the inbound address"
assert_contains "$o" "created 5, updated 0, deleted 0, invalid 0" "records import counts"
assert_contains "$o" "archived" "ingest archived the message"
assert_contains "$o" "From:    Hank Scorpio <hank@globex.example>" "timeline shows the sender"
assert_contains "$o" "Subject: Quote for 500 hammocks" "timeline shows the subject"
assert_contains "$o" "hammock-specs.csv" "timeline shows the attachment name"
assert_contains "$o" "opportunity OPP-1" "timeline shows the linked opportunity"
assert_contains "$o" "could you send us a quote" "timeline shows the snippet"

# The same installation answers in JSON with the API's page shape.
json=$(cd "$T/tree" && build/mailagent timeline -c demo/mailagent.conf acme contact CON-1 --json)
assert_eq "1 message Quote for 500 hammocks None" \
  "$(echo "$json" | json_get - 'len(d["items"]), d["items"][0]["kind"], d["items"][0]["subject"], d["next_cursor"]' | tr -d "(),'")" \
  "timeline --json page"
finish
