# postgres.sh - sourced by tests that need a real PostgreSQL (after common.sh): pg_start makes a
# private cluster with Debian's initdb and pg_ctl, run as the unprivileged `postgres` user (initdb
# refuses root), on a loopback port and a socket directory inside the test's directory, and stops
# it on exit. It creates the role and database `mailagent`, whose password is only in a libpq
# password file (PGPASSFILE), never in the conninfo or the config file.
#
# Exports PG_PORT, PG_CONNINFO ("host=127.0.0.1 port=... dbname=mailagent user=mailagent") and
# PGPASSFILE; pg_sql SQL runs a statement as the superuser and prints the result unaligned.

PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)

pg_start() {
  [ -x "$PG_BIN/initdb" ] || skip "PostgreSQL is not installed (scripts/setup.sh installs it)"
  PG_DIR=$T/pg
  PG_PORT=$(free_port)
  mkdir -p "$PG_DIR/sock"
  chmod 755 "$T"
  if [ "$(id -u)" = 0 ]; then
    chown -R postgres "$PG_DIR"
    PG_AS=(runuser -u postgres --)
  else
    PG_AS=()
  fi
  "${PG_AS[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust -U postgres --no-sync --locale=C -E UTF8 >"$T/pg-initdb.log" 2>&1 ||
    { cat "$T/pg-initdb.log"; fail "initdb failed"; return 1; }
  # fsync=off: the tests stop PostgreSQL at most with -m immediate (its writes are in the OS
  # cache, nothing is lost) and inject a full disk through storage_fault_inject_disk_full; the
  # syncs only made storage_pg 2-3x slower on a shared disk (under ASan with two CPU hogs it ran
  # into ctest's 300 s timeout; test_storage against PostgreSQL 48 s -> 18 s, test_storage_archive
  # 79 s -> 51 s). synchronous_commit stays on, as the backend sets it.
  "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -c port=$PG_PORT -c unix_socket_directories=$PG_DIR/sock -c fsync=off" \
    >"$T/pg-start.log" 2>&1 || { cat "$T/pg-start.log" "$PG_DIR/log"; fail "PostgreSQL did not start"; return 1; }
  cleanup_cmd "${PG_AS[*]} $PG_BIN/pg_ctl -D $PG_DIR/data -m immediate -w stop"
  pg_sql "CREATE ROLE mailagent LOGIN PASSWORD 'pg-test-secret'" >/dev/null
  pg_sql "CREATE DATABASE mailagent OWNER mailagent" >/dev/null
  # Password authentication from here on: trust stays only for the superuser's local socket.
  printf 'host all mailagent 127.0.0.1/32 scram-sha-256\nlocal all postgres trust\n' > "$PG_DIR/data/pg_hba.conf"
  "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" reload >/dev/null 2>&1
  printf '127.0.0.1:%s:mailagent:mailagent:pg-test-secret\n' "$PG_PORT" > "$T/pgpass"
  chmod 600 "$T/pgpass"
  PGPASSFILE=$T/pgpass
  PG_CONNINFO="host=127.0.0.1 port=$PG_PORT dbname=mailagent user=mailagent"
  export PG_PORT PG_CONNINFO PGPASSFILE
}

# pg_sql SQL: runs SQL as the superuser in database mailagent (postgres before it exists).
pg_sql() {
  local db=mailagent
  "$PG_BIN/psql" -h "$PG_DIR/sock" -p "$PG_PORT" -U postgres -d postgres -Atqc "SELECT 1 FROM pg_database WHERE datname = 'mailagent'" \
    2>/dev/null | grep -q 1 || db=postgres
  "$PG_BIN/psql" -h "$PG_DIR/sock" -p "$PG_PORT" -U postgres -d "$db" -v ON_ERROR_STOP=1 -Atqc "$1"
}
