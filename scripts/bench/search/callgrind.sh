#!/usr/bin/env bash
# callgrind.sh - instructions per search request, newest first and by relevance, on run.sh's
# archive: `mailagent serve` under callgrind counting only the search handler, its read worker
# and the reply (search_get, search_run, search_done), while curl asks the ten queries of
# queries.lua ROUNDS times each way, one at a time. Instruction counts do not depend on the
# machine's load, so two builds compare in any minute (issue 16: relevance <= 1.5x newest first).
# Prints each order's instructions per request and their ratio, and keeps each answer in
# $WORK/callgrind-<order>-<query>.json (to compare two builds' answers byte for byte).
#
# Environment: BUILD_DIR (default build-bench), WORK (run.sh's, default /tmp/mailagent-bench-search;
# run run.sh first), ROUNDS (default 3).
set -euo pipefail
src=$(cd "$(dirname "$0")/../../.." && pwd)
build=${BUILD_DIR:-$src/build-bench}
WORK=${WORK:-/tmp/mailagent-bench-search}
ROUNDS=${ROUNDS:-3}
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind is not installed" >&2; exit 1; }
[ -f "$WORK/archive.key" ] || { echo "callgrind.sh: no archive in $WORK (run scripts/bench/search/run.sh first)" >&2; exit 1; }
conf=$WORK/mailagent.conf
key=$(cat "$WORK/archive.key")
port=$(awk -F: '/^\[api\]/ {api = 1; next} /^\[/ {api = 0} api && /^listen/ {print $NF; exit}' "$conf")
queries=$(awk '/^local queries = \{/, /^\}/' "$src/scripts/bench/search/queries.lua" | grep -o '"[^"]*"' | tr -d '"')
per_request() { # ORDER -> instructions per request
  local order=$1 out=$WORK/callgrind-$1.out pid n=0 q extra=""
  [ "$order" = relevance ] && extra="&order=relevance"
  rm -f "$out"
  valgrind --tool=callgrind --callgrind-out-file="$out" --toggle-collect=search_get --toggle-collect=search_run \
    --toggle-collect=search_done "$build/mailagent" serve -c "$conf" >"$WORK/callgrind-serve.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 600); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.2; done
  for _ in $(seq 1 "$ROUNDS"); do
    for q in $queries; do
      curl -sS -H "Authorization: Bearer $key" "http://127.0.0.1:$port/v1/search?limit=50&q=$q$extra" \
        >"$WORK/callgrind-$order-$q.json"
      n=$((n + 1))
    done
  done
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  awk -v n="$n" '/^summary:/ {s += $2} END {printf "%.0f", s / n}' "$out"
}
newest=$(per_request newest)
relevance=$(per_request relevance)
echo "instructions per search request ($ROUNDS x $(wc -w <<<"$queries") queries): newest first $newest, by relevance $relevance (x$(awk -v a="$relevance" -v b="$newest" 'BEGIN { printf "%.2f", a / b }'))"
echo "reproduce: BUILD_DIR=$build WORK=$WORK ROUNDS=$ROUNDS $0"
