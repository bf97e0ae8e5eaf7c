#!/bin/bash
# io.sh - the ingest benchmark's disk I/O, counted rather than timed (issue 15): generates the
# corpus run.sh uses (--first N more messages ingested beforehand, untraced, for an archive that
# already holds mail), ingests --messages N under strace and prints, per message, the pwrite64 /
# pread64 calls and bytes on the write-ahead log and on the database file, and per 1,000 messages
# the 8 KB pages each table and index wrote to and read from each (io_tables.py). Counts do not
# move with the machine's load: compare two builds in any run. Needs strace and python3's sqlite3
# with dbstat.
# Usage: scripts/bench/ingest/io.sh [--messages N] [--first N] [--records N] [--batch N] [--keep]
# Environment: MAILAGENT (a built binary; default: builds Release into build-bench/), TMPDIR.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../../.." && pwd)
MESSAGES=10000 FIRST=0 RECORDS=100000 BATCH=500 KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --messages) MESSAGES=$2; shift 2 ;;
    --first) FIRST=$2; shift 2 ;;
    --records) RECORDS=$2; shift 2 ;;
    --batch) BATCH=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    *) echo "usage: $0 [--messages N] [--first N] [--records N] [--batch N] [--keep]" >&2; exit 2 ;;
  esac
done
source "$SRC/scripts/bench/ingest/setup.sh"
bench_ingest_binary
command -v strace >/dev/null || { echo "io.sh: strace is not installed" >&2; exit 1; }
bench_ingest_workdir mailagent-io
bench_ingest_prepare $((FIRST + MESSAGES)) >/dev/null
mkdir -p "$WORK/first" "$WORK/traced"
# the corpus's files sort in generation order: the first FIRST go in untraced (not through
# `ls | head -n 0`: head exits at once, ls dies of SIGPIPE, and pipefail ends the script)
if [ "$FIRST" -gt 0 ]; then
  ls "$WORK/corpus/mail" | head -n "$FIRST" | while read -r f; do mv "$WORK/corpus/mail/$f" "$WORK/first/"; done
fi
mv "$WORK/corpus/mail"/* "$WORK/traced/"
[ "$FIRST" = 0 ] || "$MAILAGENT" ingest -c "$CONF" --batch "$BATCH" acme "$WORK/first" >/dev/null 2>&1
strace -f -y -s 24 -x -e trace=pwrite64,pread64,fdatasync -o "$WORK/strace.txt" \
  "$MAILAGENT" ingest -c "$CONF" --batch "$BATCH" acme "$WORK/traced" > "$WORK/ingest.out" 2> "$WORK/ingest.err"
echo "== ingest I/O: $MESSAGES messages (~4 KB) after $FIRST, $RECORDS records, batch $BATCH"
echo "  archived=$(grep -c ': archived ' "$WORK/ingest.out" || true)"
/usr/bin/python3 "$SRC/scripts/bench/ingest/io_tables.py" "$WORK/strace.txt" "$WORK/data/mailagent.db" "$MESSAGES"
echo "  reproduce: MAILAGENT=$MAILAGENT $0 --messages $MESSAGES --first $FIRST --records $RECORDS --batch $BATCH"
