#!/usr/bin/env bash
# scripts/fuzz.sh TARGET SECONDS [libFuzzer options...] - runs one libFuzzer target for SECONDS
# with every mailagent library instrumented (the FUZZ=ON configuration, clang, in its own build
# directory; configured and built here when needed). TARGET is the part after fuzz_ in
# tests/fuzz/fuzz_TARGET.c, e.g. `scripts/fuzz.sh mime 300`; `scripts/fuzz.sh list` lists them.
#
# The run starts from the target's seed corpus (the tests/ directories named in
# tests/fuzz/CMakeLists.txt) and its regression inputs (tests/fuzz/regressions/TARGET), and grows a
# working corpus in $BUILD/corpus/TARGET that the next run continues from. Findings are written to
# $BUILD/artifacts/TARGET/; copy one into tests/fuzz/regressions/TARGET/ when it is fixed, and
# ctest replays it in the normal build from then on. The run is niced (the machine is shared).
# Prints the final coverage (edges), features, corpus size and executions; exits non-zero on a finding.
# Environment: FUZZ_BUILD_DIR (default build-fuzz), CC (default clang).
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
build=${FUZZ_BUILD_DIR:-build-fuzz}
targets=$(sed -n 's/^set(fuzz_targets \(.*\))$/\1/p' tests/fuzz/CMakeLists.txt | tr ' ' '\n' | cut -d: -f1)

usage() { echo "usage: scripts/fuzz.sh TARGET SECONDS [libFuzzer options]; targets: $(echo $targets)" >&2; exit 2; }
[ $# -ge 1 ] || usage
if [ "$1" = list ]; then echo "$targets"; exit 0; fi
[ $# -ge 2 ] || usage
target=$1 seconds=$2
shift 2
echo "$targets" | grep -qx "$target" || usage
case "$seconds" in ''|*[!0-9]*) usage ;; esac

if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=${CC:-clang} cmake -S . -B "$build" -DFUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
else
  cmake "$build" >/dev/null # picks up targets added since the last run
fi
nice -n 10 cmake --build "$build" --target "fuzz_$target" -j2 >/dev/null

seeds=()
for d in $(sed -n "s/^set(fuzz_seeds_$target \(.*\))$/\1/p" tests/fuzz/CMakeLists.txt); do seeds+=("$src/tests/$d"); done
case "$target" in
  mime|bounce) max_len=65536 ;;
  *) max_len=8192 ;;
esac
corpus=$build/corpus/$target
artifacts=$build/artifacts/$target
mkdir -p "$corpus" "$artifacts" "$build/logs"
log=$build/logs/$target.log
echo "fuzz_$target: ${seconds}s, log $log" >&2
set +e
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
G_DEBUG=fatal-criticals \
nice -n 10 "$build/tests/fuzz/fuzz_$target" -max_total_time="$seconds" -max_len="$max_len" -timeout=20 \
  -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" "$@" \
  "$corpus" "${seeds[@]}" "$src/tests/fuzz/regressions/$target" >"$log" 2>&1
rc=$?
set -e
# the last status line ("#N DONE cov: E ft: F corp: C/S ...") and the execution count
grep -E '^#[0-9]+' "$log" | tail -1 | sed "s/^/fuzz_$target: /"
grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' "$log" | sed "s/^/fuzz_$target: /"
if [ $rc -ne 0 ]; then
  echo "fuzz_$target: FINDING (exit $rc), see $log; inputs in $artifacts/:" >&2
  ls "$artifacts" >&2
  exit 1
fi
