#!/usr/bin/env bash
# bounce_oracle.sh - `mailagent bounce parse` against an oracle nobody here wrote: Sisimai
# (libsisimai-perl) classifies the same part of its own set-of-emails corpus
# (tests/fixtures/bounce/sisimai, BSD-2-Clause). Required: agreement on recipient, hard/soft and
# reason for >= AGREE_MIN% of the recipients Sisimai gives a defined reason (its "undefined" does
# not count either way), and a classification for >= FILES_MIN% of the files Sisimai parses. Every
# disagreement is listed (DISAGREE: a recipient classified otherwise or not found; UNCLASSIFIED: a
# file Sisimai parses and we do not), with the two percentages.
#
# Issue 14 asks 95% for both, and both floors are 95: below either the test fails. Reproduce the
# figures with `cd build && ctest -R bounce_oracle -V` (the RESULT line).
. "$(dirname "$0")/lib/common.sh"

AGREE_MIN=${AGREE_MIN:-95}
FILES_MIN=${FILES_MIN:-95}
perl -MSisimai -e 1 2>/dev/null || skip "libsisimai-perl is not installed (scripts/setup.sh)"
CORPUS=$FIXTURES_DIR/bounce/sisimai
files=("$CORPUS"/maildir-*/*.eml)
[ "${#files[@]}" -ge 400 ] && pass "corpus has ${#files[@]} messages" || fail "corpus missing: ${#files[@]} files"

rc=0; perl "$SRC_DIR/tests/support/sisimai_oracle.pl" "${files[@]}" > "$T/oracle.tsv" 2> "$T/oracle.err" || rc=$?
assert_eq 0 "$rc" "sisimai classified the corpus"
rc=0; "$MAILAGENT" bounce parse --json "${files[@]}" > "$T/ours.jsonl" 2> "$T/ours.err" || rc=$?
assert_eq 0 "$rc" "mailagent bounce parse read every file $(head -c 300 "$T/ours.err")"

/usr/bin/python3 - "$T/oracle.tsv" "$T/ours.jsonl" "$AGREE_MIN" "$FILES_MIN" > "$T/compare.out" <<'PY'
import collections, json, sys
oracle, ours = collections.defaultdict(dict), collections.defaultdict(dict)
for line in open(sys.argv[1]):
    f, rcpt, hard, reason = line.rstrip("\n").split("\t")
    oracle[f][rcpt] = (int(hard), reason)
for line in open(sys.argv[2]):
    o = json.loads(line)
    ours[o["file"]][o["recipient"]] = (-1 if o["hard"] is None else int(o["hard"]), o["reason"])
total = agree = 0
for f in sorted(oracle):
    for rcpt, want in sorted(oracle[f].items()):
        if want[1] == "undefined":
            continue
        total += 1
        got = ours[f].get(rcpt)
        if got == want:
            agree += 1
        else:
            print("DISAGREE %s %s sisimai=%s/%s ours=%s" % (f.rsplit("/", 1)[-1], rcpt, want[1], want[0],
                  "%s/%s" % (got[1], got[0]) if got else "-"))
files = len(oracle)
covered = sum(1 for f in oracle if ours[f])
for f in sorted(oracle):
    if not ours[f]:
        print("UNCLASSIFIED %s (sisimai: %s)" % (f.rsplit("/", 1)[-1], ", ".join("%s %s" % (r, v[1]) for r, v in sorted(oracle[f].items()))))
pa, pf = 100.0 * agree / max(total, 1), 100.0 * covered / max(files, 1)
print("RESULT recipients %d/%d agree (%.1f%%), files %d/%d classified (%.1f%%)" % (agree, total, pa, covered, files, pf))
print("AGREE_OK" if pa >= float(sys.argv[3]) else "AGREE_LOW")
print("FILES_OK" if pf >= float(sys.argv[4]) else "FILES_LOW")
PY
grep -E '^(DISAGREE|UNCLASSIFIED) ' "$T/compare.out" || true
result=$(grep RESULT "$T/compare.out")
echo "# $result"
n=$(wc -l < "$T/oracle.tsv")
[ "$n" -ge 400 ] && pass "sisimai found $n recipients" || fail "sisimai found only $n recipients"
assert_contains "$(cat "$T/compare.out")" "FILES_OK" "classified >= $FILES_MIN% of the files sisimai parses ($result)"
assert_contains "$(cat "$T/compare.out")" "AGREE_OK" "agree with sisimai on >= $AGREE_MIN% of recipients ($result)"

# The command's own contract: usage errors exit 2, an unreadable file 1 after the others are done,
# and every JSON object carries the issue's fields.
assert_status 2 "$MAILAGENT" bounce parse
assert_status 1 "$MAILAGENT" bounce parse "$T/missing.eml" "$CORPUS/maildir-bsd/lhost-postfix-01.eml"
assert_contains "$(cat "$T/last.out")" "mailererror" "the readable file is still classified (procmail failed: X-Unix)"
fields=$(/usr/bin/python3 -c '
import json, sys
keys = {"file", "recipient", "action", "status", "diagnostic", "hard", "reason"}
rows = [json.loads(l) for l in open(sys.argv[1])]
print(sum(1 for r in rows if keys <= set(r)), len(rows))' "$T/ours.jsonl")
read -r complete rows <<<"$fields"
[ "$rows" -ge 400 ] && [ "$complete" -eq "$rows" ] && pass "all $rows JSON objects have file, recipient, action, status, diagnostic, hard, reason" \
  || fail "JSON objects with every field: $complete of $rows"
finish
