#!/usr/bin/env bash
# scripts/bench/dns/run.sh - a burst of simultaneous look-ups through agent/dns against nsd on
# loopback (tests/integration/lib/dns.sh): DNS_BENCH_N distinct names (NXDOMAIN, default 5000)
# started at once on one loop, then DNS_BENCH_N identical MX questions (one query in flight,
# the rest follow it). Prints how many were answered and the wall time. What it guards: with at
# most DNS_MAX_IN_FLIGHT (agent/dns/dns_resolver.c) c-ares queries out, a burst is answered in
# full; without the cap the socket's receive buffer overflows and about half time out.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../../.." && pwd)
BUILD=${BUILD:-$SRC/build}
N=${DNS_BENCH_N:-5000}
cmake -S "$SRC" -B "$BUILD" >/dev/null
cmake --build "$BUILD" --target dns_probe -j2 >/dev/null
export MAILAGENT=/bin/true SRC_DIR=$SRC FIXTURES_DIR=$SRC/tests/fixtures
source "$SRC/tests/integration/lib/common.sh"
source "$SRC/tests/integration/lib/dns.sh"
dns_start "$FIXTURES_DIR/dns/example.test.zone"
echo "command: DNS_BENCH_N=$N $0"
run() {
  local what=$1; shift
  local start end
  start=$(date +%s%N)
  "$BUILD/tests/support/dns_probe" -s "$DNS_SERVERS" "$@" > "$T/out"
  end=$(date +%s%N)
  echo "$what: $(grep -c "$ANSWERED" "$T/out") of $N answered in $(( (end - start) / 1000000 )) ms"
}
names=(); for i in $(seq 1 "$N"); do names+=("n$i.example.test/TXT"); done
ANSWERED=' nxdomain ' run "$N simultaneous distinct look-ups (NXDOMAIN)" "${names[@]}"
names=(); for i in $(seq 1 "$N"); do names+=("example.test/MX"); done
ANSWERED='MX ok' run "$N simultaneous identical MX look-ups" "${names[@]}"
PASSES=1
finish >/dev/null
