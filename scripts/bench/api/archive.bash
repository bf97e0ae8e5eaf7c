# archive.bash - sourced by scripts/bench/api/run.sh, threads.sh and scripts/bench/search/run.sh
# (not a script of its own): builds the Release binary and gen_archive.c, writes a loopback
# configuration, builds the benchmark archive under $WORK (kept and reused while its parameters
# match; BENCH_FRESH=1 rebuilds it) and starts `mailagent serve` on it, stopped when the sourcing
# script exits.
#
# bench_api_settings DURATION: the timeline benchmarks' settings from the environment, the same
# defaults for run.sh and threads.sh so that both measure one archive: sets build, TOTAL, BIG,
# DURATION (default: the argument), CONNECTIONS and WORK. Needs src.
bench_api_settings() {
  build=${BUILD_DIR:-$src/build-bench}
  TOTAL=${TOTAL:-500000}
  BIG=${BIG:-10000}
  DURATION=${DURATION:-$1}
  CONNECTIONS=${CONNECTIONS:-16}
  WORK=${WORK:-/tmp/mailagent-bench-api}
}

# bench_archive_serve TOTAL BIG [index]: needs src, build and WORK set; sets conf, port, key,
# serve_pid. A command in the array BENCH_BEFORE_SERVE, when set, runs just before serve starts.
bench_archive_serve() {
  local total=$1 big=$2 index=${3:-} m libs="" start stamp
  local pkgs="glib-2.0 gio-2.0 gmime-3.0 sqlite3 libcurl openssl libpcre2-8 libevent libevent_openssl libevent_pthreads jansson libxml-2.0 libpq"
  command -v wrk >/dev/null || { echo "run.sh: wrk is not installed (apt-get install wrk)" >&2; exit 1; }
  mkdir -p "$WORK"
  if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  fi
  cmake --build "$build" --target mailagent -j"$(nproc)" >"$WORK.build.log" 2>&1 || { cat "$WORK.build.log" >&2; exit 1; }
  # gen_archive links the same static libraries as the binary.
  for m in api codec pipeline match mime rules webhook tenant storage search lib; do libs="$libs $build/libma_$m.a"; done
  # shellcheck disable=SC2086
  cc -O2 -std=gnu11 -D_GNU_SOURCE -I"$src" $(pkg-config --cflags $pkgs) "$src/scripts/bench/api/gen_archive.c" \
    -o "$WORK/gen_archive" -Wl,--start-group $libs -Wl,--end-group $(pkg-config --libs $pkgs) -lpthread -lm

  free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
  port=$(free_port)
  conf=$WORK/mailagent.conf
  cat >"$conf" <<CONF
[storage]
data_dir = $WORK/data
[smtp]
listen = 127.0.0.1:$(free_port)
[submission]
listen = 127.0.0.1:$(free_port)
[api]
listen = 127.0.0.1:$port
${READ_WORKERS:+read_workers = $READ_WORKERS}
[log]
level = warn
CONF

  stamp="$total $big $index"
  if [ "${BENCH_FRESH:-0}" = 1 ] || [ ! -f "$WORK/archive.key" ] || [ "$(cat "$WORK/archive.stamp" 2>/dev/null)" != "$stamp" ]; then
    rm -rf "$WORK/data" "$WORK/archive.key" "$WORK/archive.stamp"
    "$build/mailagent" init -c "$conf" >/dev/null
    echo "building the archive: $total messages, $big on contact 'big'${index:+, indexed}..." >&2
    start=$(date +%s)
    # shellcheck disable=SC2086
    "$WORK/gen_archive" "$WORK/data" "$total" "$big" $index >"$WORK/archive.key"
    echo "archive built in $(( $(date +%s) - start )) s" >&2
    echo "$stamp" >"$WORK/archive.stamp"
  fi
  key=$(cat "$WORK/archive.key")
  if [ -n "${BENCH_BEFORE_SERVE+x}" ]; then "${BENCH_BEFORE_SERVE[@]}" >&2; fi

  "$build/mailagent" serve -c "$conf" >"$WORK/serve.log" 2>&1 &
  serve_pid=$!
  trap 'kill $serve_pid 2>/dev/null || true; wait $serve_pid 2>/dev/null || true' EXIT
  for _ in $(seq 1 100); do
    (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "run.sh: serve did not start (see $WORK/serve.log)" >&2
  exit 1
}
