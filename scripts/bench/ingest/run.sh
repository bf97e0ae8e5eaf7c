#!/bin/bash
# run.sh - the ingest benchmark (issue 2, "Tests and figures"): generates a corpus of 10,000
# messages of about 4 KB and 100,000 CRM records, imports the records, then times
# `mailagent ingest` (parse + match + archive, the exact pipeline received mail runs; one thread,
# pinned to one core) and prints messages per second (wall clock, and per CPU-second, which is the
# one-core figure on a shared machine), the resident memory at 2.5k/5k/7.5k/10k messages - heap
# (rss_anon) and file pages (rss_file: the binary and libraries; storage does not mmap the
# database), both must stay flat as the corpus grows - the peak RSS, and the command that
# reproduces it.
# In the same run, on the same files and pinned to the same core, it times two peers: bare_gmime
# (built here from bare_gmime.c: GMime parsing every file and decoding its header fields and text
# parts, nothing else) and `mu index` (maildir-utils: parse and index a Maildir into Xapian), and
# prints mailagent's CPU-seconds per message as a fraction of each (issue 15's targets: the GMime
# parse is at least 40% of mailagent's cost per message, and mailagent at least 3x as fast as mu);
# and the storage floor (floor.c: the parse plus the raw message, then also an FTS5 index of its
# text, in SQLite with mailagent's durability settings), the most any archive on that storage could
# show against bare GMime.
# The full-text index's share is timed apart (rebuilding the index of the same messages) and the
# ratio to bare GMime printed without it too (issue 16). Each program's user and system time are
# printed apart, with the ratio in user time alone and a probe of what new file pages cost on this
# machine (the archive's growth pays it; bare GMime does not): diagnostics, the targets are on CPU
# time.
# Then big.sh: the peak RSS growth of one ~52 MB message, text and attachment (target < 25 MB).
#
# Usage: scripts/bench/ingest/run.sh [--messages N] [--records N] [--batch N] [--keep]
# Environment: MAILAGENT (a built binary; default: builds Release into build-bench/), TMPDIR.
# Not a ctest: it takes about a minute and its figures depend on the machine.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/../../.." && pwd)
MESSAGES=10000
RECORDS=100000
BATCH=500
KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --messages) MESSAGES=$2; shift 2 ;;
    --records) RECORDS=$2; shift 2 ;;
    --batch) BATCH=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    *) echo "usage: $0 [--messages N] [--records N] [--batch N] [--keep]" >&2; exit 2 ;;
  esac
done

source "$SRC/scripts/bench/ingest/setup.sh"
bench_ingest_binary

bench_ingest_workdir mailagent-bench

bench_ingest_prepare

PIN=()
command -v taskset >/dev/null && PIN=(taskset -c 0)
STEP=$((MESSAGES / 4)); [ "$STEP" -gt 0 ] || STEP=1
CMD=("${PIN[@]}" /usr/bin/time -v "$MAILAGENT" ingest -c "$CONF" --batch "$BATCH" --progress "$STEP" acme "$WORK/corpus/mail")
data_before_kb=$(du -sk "$WORK/data" | cut -f1)
echo "ingesting..."
"${CMD[@]}" > "$WORK/ingest.out" 2> "$WORK/ingest.err" || { tail -20 "$WORK/ingest.err"; exit 1; }

archived=$(grep -c ': archived ' "$WORK/ingest.out" || true)
duplicate=$(grep -c ': duplicate ' "$WORK/ingest.out" || true)
skipped=$(grep -c ': skipped ' "$WORK/ingest.out" || true)
peak=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/ingest.err")
user=$(awk -F': ' '/User time \(seconds\)/ {print $2}' "$WORK/ingest.err")
sys=$(awk -F': ' '/System time \(seconds\)/ {print $2}' "$WORK/ingest.err")
cpu_rate=$(awk -v n="$MESSAGES" -v u="$user" -v s="$sys" 'BEGIN { printf "%.0f", n / (u + s) }')
echo
echo "== ingest benchmark: $MESSAGES messages (~4 KB), $RECORDS records, batch $BATCH, one core"
grep '^progress:' "$WORK/ingest.err" | sed 's/^progress: /  /'
last=$(grep '^progress:' "$WORK/ingest.err" | tail -1)
rate=$(sed -E 's/.*rate=([0-9]+).*/\1/' <<<"$last")
echo "  result: archived=$archived duplicate=$duplicate skipped=$skipped"
echo "  throughput: $rate messages/s wall clock; $cpu_rate messages per CPU-second (user ${user}s + sys ${sys}s)"
echo "  (target 5000/s on one core; on a shared machine the CPU-second figure is the one-core rate)"
echo "  peak RSS: ${peak} KB"

# ---- the peers, on the same corpus in the same run --------------------------------------------
cpu_seconds() { # the `/usr/bin/time -v` output file -> user + sys
  awk -F': ' '/User time \(seconds\)/ {u = $2} /System time \(seconds\)/ {s = $2} END {printf "%.3f", u + s}' "$1"
}
user_sys() { # the `/usr/bin/time -v` output file -> "user U + sys S"
  awk -F': ' '/User time \(seconds\)/ {u = $2} /System time \(seconds\)/ {s = $2} END {printf "user %s + sys %s", u, s}' "$1"
}
user_seconds() { awk -F': ' '/User time \(seconds\)/ {print $2}' "$1"; }
ours=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.3f", u + s }')
pkgs="gmime-3.0"
# shellcheck disable=SC2046
cc -O2 -std=gnu11 "$SRC/scripts/bench/ingest/bare_gmime.c" -o "$WORK/bare_gmime" $(pkg-config --cflags --libs $pkgs)
ls "$WORK"/corpus/mail/*.eml > "$WORK/files.txt"
"${PIN[@]}" /usr/bin/time -v "$WORK/bare_gmime" < "$WORK/files.txt" > "$WORK/bare.out" 2> "$WORK/bare.err" ||
  { tail -5 "$WORK/bare.err"; exit 1; }
bare=$(cpu_seconds "$WORK/bare.err")
echo "  bare GMime parse+decode: ${bare} CPU-s for $MESSAGES messages ($(awk -v n="$MESSAGES" -v c="$bare" 'BEGIN { printf "%.0f", n / c }') per CPU-second; $(user_sys "$WORK/bare.err"))"
awk -v o="$ours" -v b="$bare" 'BEGIN { r = b / o; printf "  GMime alone is %.0f%% of mailagent'"'"'s CPU-seconds per message (target >= 40%%): %s\n", 100 * r, (r >= 0.40 ? "met" : "NOT met") }'
# Where the gap lies: the kernel's share (system time: the archive's page reads and writes; bare
# GMime only reads its files) and the ratio in user time alone. Diagnostic only: the target is on
# the whole CPU time above.
awk -v u="$user" -v s="$sys" -v bu="$(user_seconds "$WORK/bare.err")" 'BEGIN { printf "  (of that, system time is %.0f%% of mailagent'"'"'s CPU; in user time alone GMime is %.0f%% of mailagent'"'"'s)\n", 100 * s / (u + s), 100 * bu / u }'
# The storage floor (floor.c): the same parse, then only the raw message into SQLite with
# mailagent's durability settings, and then also an FTS5 index of the text: what any archive on this
# storage pays before matching, threading and linking. bare / floor is the highest share of parsing
# such an archive could show.
# shellcheck disable=SC2046
cc -O2 -std=gnu11 "$SRC/scripts/bench/ingest/floor.c" -o "$WORK/floor" $(pkg-config --cflags --libs gmime-3.0 sqlite3 libcrypto)
for variant in raw fts; do
  flag=(); [ "$variant" = fts ] && flag=(--fts)
  rm -f "$WORK/floor-$variant.db"
  "${PIN[@]}" /usr/bin/time -v "$WORK/floor" "$WORK/floor-$variant.db" "${flag[@]}" < "$WORK/files.txt" \
    > "$WORK/floor-$variant.out" 2> "$WORK/floor-$variant.err" || { tail -5 "$WORK/floor-$variant.err"; exit 1; }
done
floor_raw=$(cpu_seconds "$WORK/floor-raw.err")
floor_fts=$(cpu_seconds "$WORK/floor-fts.err")
echo "  storage floor: parse + the raw message into SQLite (WAL, synchronous=FULL, batches of 500): ${floor_raw} CPU-s ($(user_sys "$WORK/floor-raw.err")); + an FTS5 index of the text: ${floor_fts} CPU-s ($(user_sys "$WORK/floor-fts.err"))"
awk -v b="$bare" -v r="$floor_raw" -v f="$floor_fts" 'BEGIN { printf "  GMime alone is %.0f%% of the first floor and %.0f%% of the second (the most an archive on this storage could show)\n", 100 * b / r, 100 * b / f }'
# The machine's price of file pages the kernel has to find anew, which every archive pays for the
# bytes it adds and bare GMime does not: on a VM whose host takes freed memory back, a page touched
# for the first time costs far more than one overwritten (2026-12-04 here: 1.8 s of system time
# against 0.08 s for 400 MB). The same 256 MB written to a new file, then over itself.
probe=$WORK/probe.dat
new_sys=$( { /usr/bin/time -f '%S' dd if=/dev/zero of="$probe" bs=8k count=32768 status=none; } 2>&1)
over_sys=$( { /usr/bin/time -f '%S' dd if=/dev/zero of="$probe" bs=8k count=32768 conv=notrunc status=none; } 2>&1)
rm -f "$probe"
grown_mb=$(( ($(du -sk "$WORK/data" | cut -f1) - data_before_kb) / 1024 ))
echo "  this machine: 256 MB written to new file pages take ${new_sys} s of system time, over the same pages ${over_sys} s; mailagent's archive grew by ${grown_mb} MB (its write-ahead log included)"
if command -v mu >/dev/null; then
  # mu reads a Maildir: the same files, hard-linked into cur/ with the "seen" flag
  mkdir -p "$WORK/maildir/cur" "$WORK/maildir/new" "$WORK/maildir/tmp"
  for f in "$WORK"/corpus/mail/*.eml; do ln "$f" "$WORK/maildir/cur/$(basename "$f" .eml):2,S"; done
  mu init --muhome="$WORK/mu" --maildir="$WORK/maildir" >/dev/null
  "${PIN[@]}" /usr/bin/time -v mu index --muhome="$WORK/mu" > "$WORK/mu.out" 2> "$WORK/mu.err" ||
    { tail -5 "$WORK/mu.err"; exit 1; }
  mu_cpu=$(cpu_seconds "$WORK/mu.err")
  echo "  mu index ($(mu --version | head -1)): ${mu_cpu} CPU-s for $MESSAGES messages ($(awk -v n="$MESSAGES" -v c="$mu_cpu" 'BEGIN { printf "%.0f", n / c }') per CPU-second; $(user_sys "$WORK/mu.err"))"
  awk -v o="$ours" -v m="$mu_cpu" 'BEGIN { r = m / o; printf "  mailagent is %.1fx as fast as mu index per CPU-second (target >= 3x): %s\n", r, (r >= 3 ? "met" : "NOT met") }'
else
  echo "  mu index: not installed (apt-get install maildir-utils; scripts/setup.sh does)"
fi
# The full-text index's share (issue 16), timed alone: rebuilding the index of the same messages
# (`mailagent search --rebuild-index`) is the tokenizing and index writing that ingest did for them.
idx=$( { /usr/bin/time -f 'cpu %U %S' "$MAILAGENT" search -c "$CONF" --rebuild-index >/dev/null; } 2>&1 | awk '/^cpu/ {print $2 + $3}')
awk -v n="$archived" -v c="$idx" -v u="$user" -v s="$sys" 'BEGIN { printf "  search indexing: %.2f CPU-seconds for the %d archived messages (%.0f us/message, %.0f%% of the ingest CPU; timed by rebuilding the index)\n", c, n, c * 1e6 / n, 100 * c / (u + s) }'
# ... and the ratio to bare GMime without it (issue 16: the indexing cost reported apart)
awk -v o="$ours" -v c="$idx" -v b="$bare" 'BEGIN { r = b / (o - c); printf "  without the search index: GMime alone is %.0f%% of mailagent'"'"'s CPU-seconds per message (%.3f CPU-s less the index'"'"'s %.2f)\n", 100 * r, o, c }'
echo "  reproduce: MAILAGENT=$MAILAGENT $0 --messages $MESSAGES --records $RECORDS --batch $BATCH"
# Issue 15's other ingest target, in the same run: the memory one ~52 MB message costs (big.sh).
echo
MAILAGENT=$MAILAGENT "$SRC/scripts/bench/ingest/big.sh"
