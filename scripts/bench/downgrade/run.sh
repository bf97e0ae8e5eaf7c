#!/bin/sh
# scripts/bench/downgrade/run.sh - the 7-bit re-encoder (agent/mime/mime_downgrade) on a message of
# DOWNGRADE_BENCH_MB megabytes (default 50) whose one text part is 8-bit (German text with euro
# signs, lines of 70 octets): mime_downgrade_bytes, both passes (scan and write), against, in the same run,
# Python's quopri.encodestring on the same part's body (binascii's C encoder: one pass, no MIME
# walk, so the comparison favours it). Prints each one's best of DOWNGRADE_BENCH_RUNS (default 3)
# wall time, MB/s, the ratio, and the converter's peak RSS (input and output copies included).
# Needs the normal build in build/ (BUILD_DIR to change it).
set -eu
SRC=$(cd "$(dirname "$0")/../../.." && pwd)
BUILD=${BUILD_DIR:-$SRC/build}
MB=${DOWNGRADE_BENCH_MB:-50}
RUNS=${DOWNGRADE_BENCH_RUNS:-3}
DIR=$(mktemp -d "${TMPDIR:-/tmp}/downgrade-bench.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
cc -O2 -I"$SRC" $(pkg-config --cflags glib-2.0) "$SRC/scripts/bench/downgrade/downgrade_bench.c" -o "$DIR/bench" \
  "$BUILD/libma_mime.a" "$BUILD/libma_lib.a" $(pkg-config --libs glib-2.0)
python3 - "$DIR" "$MB" <<'PY'
import sys
d, mb = sys.argv[1], int(sys.argv[2])
line = "Grüße aus Köln, der Preis ist 100 € netto, bitte bestätigen Sie.\r\n".encode()
body = line * (mb * 1024 * 1024 // len(line))
head = (b"From: a@example.test\r\nTo: b@example.net\r\nSubject: bench\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n")
open(d + "/m.eml", "wb").write(head + body + b"--b--\r\n")
open(d + "/body", "wb").write(body)
PY
best=; rate=
i=0
while [ $i -lt "$RUNS" ]; do
  set -- $("$DIR/bench" "$DIR/m.eml")
  if [ -z "$best" ] || awk "BEGIN { exit !($1 < $best) }"; then best=$1; rate=$2; fi
  i=$((i + 1))
done
rss=$( { /usr/bin/time -f '%M' "$DIR/bench" "$DIR/m.eml" >/dev/null; } 2>&1 )
py=$(python3 - "$DIR/body" "$RUNS" <<'PY'
import quopri, sys, time
body = open(sys.argv[1], "rb").read()
best = None
for _ in range(int(sys.argv[2])):
    t = time.monotonic(); quopri.encodestring(body); t = time.monotonic() - t
    best = t if best is None or t < best else best
print("%.3f %.1f" % (best, len(body) / 1048576 / best))
PY
)
set -- $py
echo "message: $MB MB, one 8-bit text part; best of $RUNS"
echo "mailagent mime_downgrade (scan + write, MIME walk): $best s, $rate MB/s, peak RSS $((rss / 1024)) MB"
echo "python3 quopri.encodestring (body only, one pass):  $1 s, $2 MB/s"
echo "ratio (quopri time / mailagent time): $(awk "BEGIN { printf \"%.2f\", $1 / $best }")"
echo "command: DOWNGRADE_BENCH_MB=$MB DOWNGRADE_BENCH_RUNS=$RUNS scripts/bench/downgrade/run.sh"
