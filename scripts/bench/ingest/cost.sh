#!/bin/bash
# cost.sh - where the instructions of one archived message go (issue 15, ingest): runs
# `mailagent ingest` on the ingest benchmark's corpus (gen_corpus.py; 2,000 messages and 100,000
# records unless told) under valgrind's callgrind and prints, per message, the instructions of the
# whole run, of each pipeline stage (inclusive cost of the functions named below), and of each
# SQL statement (the inclusive cost of sqlite3_step under each storage function that runs one).
# Instruction counts do not depend on the load of the machine, so two builds compare in one table
# each: run it with MAILAGENT set to each binary.
# Only the ingest is measured; the corpus, `init` and the records import run natively first.
# Functions the compiler inlined into their caller do not appear (their cost is the caller's).
#
# Usage: scripts/bench/ingest/cost.sh [--messages N] [--records N] [--keep]
# Environment: MAILAGENT (a built binary; default: builds Release into build-bench/), TMPDIR.
# Not a ctest: it takes a few minutes (callgrind runs the ingest about 50 times slower).
set -euo pipefail

SRC=$(cd "$(dirname "$0")/../../.." && pwd)
MESSAGES=2000
RECORDS=100000
KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --messages) MESSAGES=$2; shift 2 ;;
    --records) RECORDS=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    *) echo "usage: $0 [--messages N] [--records N] [--keep]" >&2; exit 2 ;;
  esac
done
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
source "$SRC/scripts/bench/ingest/setup.sh"
bench_ingest_binary

bench_ingest_workdir mailagent-cost

bench_ingest_prepare

valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind.out" \
  "$MAILAGENT" ingest -c "$CONF" --batch 500 -q acme "$WORK/corpus/mail" > "$WORK/ingest.out" 2> "$WORK/valgrind.err" ||
  { tail -20 "$WORK/valgrind.err"; exit 1; }
archived=$(grep -c ': archived ' "$WORK/ingest.out" || true)
skipped=$(grep -c ': skipped ' "$WORK/ingest.out" || true)

# inclusive cost per function (callgrind_annotate's "file:function" names, the file dropped)
callgrind_annotate --inclusive=yes --threshold=100 "$WORK/callgrind.out" 2>/dev/null |
  awk '/^ *[0-9,]+ .*:/ { n = $1; gsub(",", "", n); f = $0; sub(/^ *[0-9,]+ +(\([^)]*\) +)?/, "", f);
                          sub(/^.*:/, "", f); sub(/ .*$/, "", f); if (!(f in c)) c[f] = n }
       END { for (f in c) print f, c[f] }' > "$WORK/inclusive.txt"
total=$(awk '/^summary:|^events:/ {next} /^totals:|^summary:/ {print $2}' "$WORK/callgrind.out" | tail -1)
[ -n "$total" ] || total=$(callgrind_annotate "$WORK/callgrind.out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')

echo "== instructions per message: $MESSAGES messages ($archived archived, $skipped skipped), $RECORDS records"
awk -v t="$total" -v n="$MESSAGES" 'BEGIN { printf "  whole run: %.0f instructions per message (%.3g in all)\n", t / n, t }'
echo "  -- stages (inclusive; a stage's lines overlap the ones under it)"
STAGES="main pipeline_parse_raw mime_parse_raw g_mime_parser_construct_message g_object_unref pipeline_prepare
  storage_message_find_duplicate match_message storage_records_by_email storage_accounts_by_domain match_addresses match_domains link_accounts match_opportunities
  ingest_match match_thread_find match_thread_inherit loop_guard ingest_store match_thread_assign store_blobs
  raw_blob_put storage_message_insert storage_search_index storage_provenance_add emit_archived ingest_act
  storage_commit sql_search_flush tok_tokenize search_tokenize token_bridge ma_sha256_hex EVP_MD_fetch malloc free"
for f in $STAGES; do
  awk -v f="$f" -v t="$total" -v n="$MESSAGES" '$1 == f { printf "  %-34s %9.0f  %5.1f%%\n", f, $2 / n, 100 * $2 / t }' "$WORK/inclusive.txt"
done

echo "  -- SQL statements (sqlite3_step and its callees, by the storage function that steps it; through"
echo "     the shared helpers sql_step_done and sql_commit_now, by their callers)"
callgrind_annotate --tree=caller --inclusive=yes --threshold=100 "$WORK/callgrind.out" 2>/dev/null > "$WORK/callers.txt"
# callers.txt: blocks of "N (p%)  < file:caller (Kx) [obj]" lines, then "N (p%)  *  file:function [obj]"
awk -v n="$MESSAGES" -v t="$total" '
  function name(line) { sub(/^.*[<*]  ?/, "", line); sub(/^[^:]*:/, "", line); sub(/ .*$/, "", line); return line }
  function num(line) { sub(/^ */, "", line); sub(/ .*$/, "", line); gsub(",", "", line); return line + 0 }
  / < / { k++; cn[k] = name($0); cv[k] = num($0); next }
  / \*  / { f = name($0); for (i = 1; i <= k; i++) calls[f, cn[i]] = cv[i]; callers[f] = k; for (i = 1; i <= k; i++) cl[f, i] = cn[i]; k = 0; next }
  /^$/ { k = 0 }
  END {
    helper["sql_step_done"] = 1; helper["sql_commit_now"] = 1; helper["sql_step_enterprise_row"] = 1
    helper["sql_records_collect"] = 1; helper["sql_control"] = 1
    for (i = 1; i <= callers["sqlite3_step"]; i++) {
      c = cl["sqlite3_step", i]; v = calls["sqlite3_step", c]
      if (c in helper) { for (j = 1; j <= callers[c]; j++) { d = cl[c, j]; out[c ">" d] += calls[c, d] } }
      else out[c] += v
    }
    for (f in out) if (out[f] / n >= 100) printf "  %-48s %9.0f  %5.1f%%\n", f, out[f] / n, 100 * out[f] / t
  }' "$WORK/callers.txt" | sort -k2 -n -r
echo "  reproduce: MAILAGENT=$MAILAGENT $0 --messages $MESSAGES --records $RECORDS"
