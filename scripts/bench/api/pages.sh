#!/usr/bin/env bash
# pages.sh - instructions per computed timeline page, in process (pages.c under callgrind: storage,
# the JSON writer and the item cache only, no HTTP, threads or page cache), on the archive run.sh
# builds. Instruction counts do not move with the machine's load, so two builds compare in any run:
# PAGES pages minus the same program computing none, divided by PAGES. Two figures: "cold", every
# item decoded and written (items never seen: what main did for every page), and "items cached",
# the same pages through the API's item cache (api_item_cache.c) after one page filled it (what a
# page of items seen before costs: the steady state of uncached.lua). Run run.sh first (it builds
# the archive and the Release build). Environment: BUILD_DIR (default build-bench), WORK (run.sh's),
# PAGES (200).
set -euo pipefail
src=$(cd "$(dirname "$0")/../../.." && pwd)
build=${BUILD_DIR:-$src/build-bench}
WORK=${WORK:-/tmp/mailagent-bench-api}
PAGES=${PAGES:-200}
command -v valgrind >/dev/null || { echo "pages.sh: valgrind is not installed" >&2; exit 1; }
[ -f "$WORK/data/mailagent.db" ] || { echo "pages.sh: no archive in $WORK: run scripts/bench/api/run.sh first" >&2; exit 1; }
pkgs="glib-2.0 gio-2.0 gmime-3.0 sqlite3 libcurl openssl libpcre2-8 libevent libevent_openssl libevent_pthreads jansson libxml-2.0 libpq"
libs=""
for m in api codec pipeline match mime rules webhook tenant storage search lib; do libs="$libs $build/libma_$m.a"; done
# shellcheck disable=SC2086
cc -O2 -std=gnu11 -D_GNU_SOURCE -I"$src" $(pkg-config --cflags $pkgs) "$src/scripts/bench/api/pages.c" -o "$WORK/pages" \
  -Wl,--start-group $libs -Wl,--end-group $(pkg-config --libs $pkgs) -lpthread -lm
ent=$(/usr/bin/python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select id from enterprises where slug = ?", ("bench",)).fetchone()[0])' "$WORK/data/mailagent.db")
count() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$WORK/pages" "$WORK/data" "$ent" "$1" "$2" 2>&1 | awk '/Collected :/ {print $4}'; }
count 0 cold >/dev/null # the first open may checkpoint a write-ahead log left by a migration: not a page's cost
for mode in cold cached; do
  base=$(count 0 $mode)
  all=$(count "$PAGES" $mode)
  label=$([ $mode = cold ] && echo "every item decoded and written" || echo "items cached")
  echo "instructions per computed page (storage + JSON, 50 items, $label): $(( (all - base) / PAGES ))"
done
echo "reproduce: BUILD_DIR=$build WORK=$WORK PAGES=$PAGES $0"
