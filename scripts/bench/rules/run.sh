#!/bin/sh
# scripts/bench/rules/run.sh - cost of rule evaluation per (message, record, rule).
#
# Builds tests/unit/test_rules_bench.c in an optimised build directory and runs it on
# RULES_BENCH_MESSAGES synthetic messages (default 20000; 1.5-4 KB bodies, once mostly ASCII with
# some accented words, once Chinese) x 3 linked records x 10 rules of mixed conditions, four of them regexes. No rule matches,
# so every pair walks all ten rules (the worst case); building each message's input, including
# case folding, is part of the time. Target: under 2 microseconds per (message, record, rule).
set -eu
SRC=$(cd "$(dirname "$0")/../../.." && pwd)
BUILD=${BUILD:-$SRC/build-bench-rules}
export RULES_BENCH_MESSAGES=${RULES_BENCH_MESSAGES:-20000}
cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" --target test_rules_bench -j2 >/dev/null
for text in ascii cjk; do
  echo "command: RULES_BENCH_TEXT=$text RULES_BENCH_MESSAGES=$RULES_BENCH_MESSAGES $BUILD/tests/test_rules_bench"
  RULES_BENCH_TEXT=$text "$BUILD/tests/test_rules_bench" | grep '^# \(rules bench\|cost\)'
done
