#!/usr/bin/env bash
# threads.sh - what a request costs each thread of `mailagent serve`, cached (p99.lua) and computed
# (uncached.lua), on run.sh's archive: CPU (user and system, from /proc/<pid>/task/*/stat),
# voluntary and involuntary context switches (/proc/<pid>/task/*/status), and, when perf is there,
# syscalls, futex calls, pipe reads and writes and page faults (perf stat tracepoint counts, which
# are exact counts and cheap). All per request of the run. Counts of wake-ups and switches depend on
# the timing (a faster loop answers smaller batches), so compare two builds in one sitting; CPU is
# noisy on a shared machine, instruction counts (callgrind) are not.
#
# Environment: BUILD_DIR, TOTAL, BIG, DURATION (default 8), CONNECTIONS, WORK, READ_WORKERS (as run.sh).
set -euo pipefail
src=$(cd "$(dirname "$0")/../../.." && pwd)
here=$src/scripts/bench/api

. "$here/archive.bash"
bench_api_settings 8
bench_archive_serve "$TOTAL" "$BIG"
url="http://127.0.0.1:$port/v1/records/contact/big/timeline?limit=50"
curl -sS -o /dev/null -H "Authorization: Bearer $key" "$url"
# the item cache warm, as in run.sh's computed run after its first pages
wrk -t1 -c"$CONNECTIONS" -d2s -s "$here/uncached.lua" -H "Authorization: Bearer $key" "$url" >/dev/null

# tid comm utime stime voluntary nonvoluntary, one line per thread
snapshot() {
  local t
  for t in /proc/"$serve_pid"/task/*; do
    printf '%s %s %s %s %s\n' "${t##*/}" "$(tr ' ' _ <"$t/comm")" "$(awk '{print $14, $15}' "$t/stat")" \
      "$(awk '/^voluntary_ctxt_switches/ {print $2}' "$t/status")" "$(awk '/^nonvoluntary_ctxt_switches/ {print $2}' "$t/status")"
  done | sort
}
events=raw_syscalls:sys_enter,syscalls:sys_enter_futex,syscalls:sys_enter_read,syscalls:sys_enter_write,exceptions:page_fault_user
use_perf=0
if command -v perf >/dev/null && perf stat -e "$events" -- true >/dev/null 2>&1; then use_perf=1; fi

for script in p99 uncached; do
  [ $use_perf = 1 ] && { perf stat -e "$events" --per-thread -p "$serve_pid" -o "$WORK/threads-$script.perf" -- sleep $((DURATION + 1)) & }
  perf_pid=$!
  snapshot >"$WORK/threads-0"
  out=$(wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" -s "$here/$script.lua" -H "Authorization: Bearer $key" "$url")
  snapshot >"$WORK/threads-1"
  [ $use_perf = 1 ] && wait "$perf_pid" || true
  n=$(awk '/^requests/ {print $2}' <<<"$out")
  echo "== $([ $script = p99 ] && echo cached || echo computed) ($script.lua): $n requests, $(awk '/^Requests\/sec:/ {print $2}' <<<"$out") req/s"
  # joined: tid, then comm utime stime voluntary nonvoluntary before ($2-$6) and after ($7-$11)
  join "$WORK/threads-0" "$WORK/threads-1" | awk -v n="$n" -v hz="$(getconf CLK_TCK)" '{
    u = ($8 - $3) / hz * 1e6 / n; s = ($9 - $4) / hz * 1e6 / n; v = ($10 - $5) / n; i = ($11 - $6) / n
    if (u + s > 0.3 || v > 0.01)
      printf "  %-10s tid %-8s CPU %5.1f us (user %5.1f, sys %5.1f)  switches: voluntary %.3f, involuntary %.3f\n", $2, $1, u + s, u, s, v, i
    tu += u; ts += s } END { printf "  all threads: CPU %.1f us per request\n", tu + ts }'
  if [ $use_perf = 1 ]; then
    awk -v n="$n" '$1 ~ /^api(-read)?-[0-9]+$/ { c = $2; gsub(",", "", c); if (c + 0 > 0) v[$1 " " $3] += c }
      END { for (k in v) if (v[k] / n >= 0.001) printf "  %-44s %8.3f per request\n", k, v[k] / n }' "$WORK/threads-$script.perf" | sort
  fi
done
echo "reproduce: BUILD_DIR=$build TOTAL=$TOTAL BIG=$BIG DURATION=$DURATION CONNECTIONS=$CONNECTIONS $0"
