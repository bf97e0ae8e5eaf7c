#!/usr/bin/env bash
# run.sh - cluster figures (issue 18, "Tests and figures"; not a timed test). In one run, the same
# SMTP load (smtp-source) against, each from an empty database:
#   - one `mailagent serve` on SQLite (the embedded default),
#   - one `mailagent serve` on PostgreSQL,
#   - two `mailagent serve` nodes on one PostgreSQL, the load split evenly between them,
#   - three nodes on one PostgreSQL, likewise.
# Every message takes the full archive path: its sender is a CRM contact with a rule making an
# activity, so each is parsed, matched, stored (message, thread, provenance, raw blob, search
# index) with an activity and a webhook event in the outbox (no webhook URL: never sent).
# For each it prints SMTP acceptance (messages/s until the last 250; every 250 is durable in the
# node's spool) and ingest (messages/s until the nodes' archive pipelines have finished the last
# message: parse, match, store; counted from each node's /metrics), the ratios, the nodes' CPU per
# message, and for PostgreSQL what the database spends per archived message: statement execution
# time (pg_stat_statements, loaded with shared_preload_libraries), transactions (pg_stat_database
# xact_commit), the CPU of all the server's processes (/proc: the postmaster, its live children,
# and its reaped children's cutime/cstime), WAL bytes and syncs (pg_stat_wal); then the five
# statements that took most time and the nodes' connections. docs/scaling.md works out from these how many
# nodes one PostgreSQL serves. On a 2-core machine the two nodes share the cores with PostgreSQL
# and the load generator: the two-node figure shows contention, not scaling; the per-message
# costs are the figures that carry over to a bigger machine.
#
#   scripts/bench/cluster/run.sh            (uses ./build/mailagent, or $MAILAGENT)
#   MSGS=10000 SESSIONS=20 SIZE=4096 scripts/bench/cluster/run.sh     (the defaults; about 3.5 minutes)
#
# Needs root (PostgreSQL runs as the unprivileged postgres user), smtp-source (postfix), curl and
# Debian's PostgreSQL (initdb, pg_ctl, pg_stat_statements); the private PostgreSQL is
# tests/integration/lib/postgres.sh's, sourced here.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
MA=${MAILAGENT:-$ROOT/build/mailagent}
MSGS=${MSGS:-10000}; SESS=${SESSIONS:-20}; SIZE=${SIZE:-4096}
[ -x "$MA" ] || { echo "no mailagent binary at $MA (build it, or set MAILAGENT)" >&2; exit 2; }
command -v smtp-source >/dev/null || { echo "smtp-source (postfix) is not installed" >&2; exit 2; }
W=$(mktemp -d /tmp/mailagent-bench-cluster.XXXXXX); chmod 755 "$W"
ulimit -n 8192
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
now() { date +%s.%N; }
py() { /usr/bin/python3 -c "print($1)"; }
HZ=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' /proc/"$1"/stat; } # user + system clock ticks of PID

# ---- PostgreSQL: tests/integration/lib/postgres.sh, given what it expects from common.sh ------------
T=$W; CLEANUP_CMDS=(); free_port() { port; }
skip() { echo "cannot run: $*" >&2; exit 2; }
fail() { echo "$*" >&2; exit 1; }
source "$ROOT/tests/integration/lib/postgres.sh"
NODES=()
stop_nodes() {
  local p
  for p in "${NODES[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  for p in "${NODES[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
  NODES=()
}
cleanup() {
  stop_nodes
  local cmd
  for cmd in "${CLEANUP_CMDS[@]:-}"; do [ -n "$cmd" ] && eval "$cmd" >/dev/null 2>&1 || true; done
  if [ -n "${KEEP:-}" ]; then echo "files kept in $W" >&2; else rm -rf "$W"; fi
}
trap cleanup EXIT
pg_start
# pg_stat_statements must be preloaded: set it, then restart (pg_ctl restart keeps pg_start's options)
pg_sql "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'" >/dev/null
"${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w -t 60 restart >"$W/pg-restart.log" 2>&1 ||
  { cat "$W/pg-restart.log"; exit 1; }
pg_sql "CREATE SCHEMA stats; CREATE EXTENSION pg_stat_statements SCHEMA stats" >/dev/null # outside public, which each run empties
PG_VERSION=$(pg_sql "SHOW server_version")
# CPU ticks of the whole server: the postmaster, its live children, and its reaped children
pg_ticks() {
  local pm c n
  pm=$(head -n 1 "$PG_DIR/data/postmaster.pid")
  n=$(awk '{print $14 + $15 + $16 + $17}' /proc/"$pm"/stat)
  for c in $(ps -o pid= --ppid "$pm"); do n=$((n + $(cpu_ticks "$c" 2>/dev/null || echo 0))); done
  echo "$n"
}
pg_counters() { # statement ms and commits in database mailagent, WAL bytes and WAL syncs (the server's)
  pg_sql "SELECT (SELECT coalesce(sum(total_exec_time), 0) FROM stats.pg_stat_statements WHERE dbid = d.oid),
                 s.xact_commit, w.wal_bytes, w.wal_sync
          FROM pg_database d JOIN pg_stat_database s ON s.datid = d.oid, pg_stat_wal w WHERE d.datname = 'mailagent'" | tr '|' ' '
}

# node_conf NAME BACKEND: writes $W/NAME.conf (own data directory and spool, own ports, the shared
# master key file) and prints "SMTP_PORT API_PORT"
node_conf() {
  local sp ap
  sp=$(port); ap=$(port)
  {
    echo "[storage]"; echo "data_dir=$W/$1"
    [ "$2" = postgresql ] && { echo "backend=postgresql"; echo "postgresql=$PG_CONNINFO"; }
    echo "[smtp]"; echo "listen=127.0.0.1:$sp"; echo "inbound_domain=inbound.bench"; echo "hostname=mx.inbound.bench"
    echo "max_sessions=3000"; echo "max_sessions_per_client=3000"
    echo "[submission]"; echo "listen=127.0.0.1:$(port)"
    echo "[api]"; echo "listen=127.0.0.1:$ap"
    echo "[security]"; echo "master_key_file=$W/master.key"
    echo "[log]"; echo "level=warn"
  } >"$W/$1.conf"
  echo "$sp $ap"
}

# API_PORT...: messages the nodes' pipelines finished (archived or skipped: each message ends as one
# of them), and the failed attempts (a deferred entry counts there, then again when archived; an
# entry parked dead stays in its spool's dead count). Summing the failures in as well once made the
# SQLite run count 10,043 for 10,000 messages: entries taken twice by two workers (fixed in
# pipeline_workers.c), each second take failing on its vanished spool file.
processed() {
  local total=0 p
  for p in "$@"; do
    total=$((total + $(curl -sS "http://127.0.0.1:$p/metrics" |
      awk '$1 ~ /^mailagent_messages_(archived|skipped)_total/ {n += $2} END {printf "%d", n}')))
  done
  echo "$total"
}
failed_attempts() {
  local total=0 p
  for p in "$@"; do
    total=$((total + $(curl -sS "http://127.0.0.1:$p/metrics" | awk '$1 == "mailagent_messages_failed_total" {printf "%d", $2}')))
  done
  echo "$total"
}

# run LABEL BACKEND N_NODES: prints "smtp/s ingest/s node_cpu_us db_ms commits db_cpu_us wal_bytes wal_syncs connections",
# all but the rates per message through the pipelines
run() {
  local label=$1 backend=$2 n=$3 i sp ap
  rm -f "$W/master.key"
  [ "$backend" = postgresql ] && pg_sql "SET client_min_messages = warning; DROP SCHEMA public CASCADE; CREATE SCHEMA public AUTHORIZATION mailagent" >/dev/null
  local smtp=() api=()
  for i in $(seq 1 "$n"); do
    read -r sp ap < <(node_conf "$label-$i" "$backend")
    smtp+=("$sp"); api+=("$ap")
    "$MA" init -c "$W/$label-$i.conf" >"$W/$label-$i.init" 2>&1 ||
      { echo "$label: init of node $i failed: $(tail -n 1 "$W/$label-$i.init")" >&2; exit 1; }
  done
  "$MA" enterprise add -c "$W/$label-1.conf" --json --name Bench --slug bench --domain bench.example >"$W/$label.ent"
  local rcpt
  rcpt=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["inbound_address"])' "$W/$label.ent")
  # the full archive path for every message (as integration/cluster_pg): the sender is a CRM
  # contact, a rule makes an activity, and the loop limit (50 messages from one sender an hour) is off
  "$MA" employee add -c "$W/$label-1.conf" bench alice@bench.example >/dev/null
  "$MA" settings -c "$W/$label-1.conf" bench forwarder_policy=any archive_internal=on archive_unmatched=on loop_limit=0 >/dev/null
  echo '{"type":"contact","id":"c1","name":"Sender","emails":["sender@client.example"]}' |
    "$MA" records import -c "$W/$label-1.conf" bench - >/dev/null 2>&1
  "$MA" rules add -c "$W/$label-1.conf" bench '{"name":"All contacts","object_types":["contact"],"action":{"activity_type":"email"}}' >/dev/null
  for i in $(seq 1 "$n"); do
    "$MA" serve -c "$W/$label-$i.conf" >"$W/$label-$i.log" 2>&1 &
    NODES+=($!)
  done
  for i in $(seq 0 $((n - 1))); do
    wait_port "${smtp[$i]}" && wait_port "${api[$i]}" || { echo "$label: node $((i + 1)) did not start" >&2; cat "$W/$label-$((i + 1)).log" >&2; exit 1; }
  done
  local db0="0 0 0 0" pg0=0
  if [ "$backend" = postgresql ]; then
    pg_sql "SELECT stats.pg_stat_statements_reset()" >/dev/null
    db0=$(pg_counters); pg0=$(pg_ticks)
  fi
  local c0=0 p
  for p in "${NODES[@]}"; do c0=$((c0 + $(cpu_ticks "$p"))); done
  local t0 t1 t2 per=$((MSGS / n)) pids=()
  t0=$(now)
  for i in $(seq 0 $((n - 1))); do
    timeout 900 smtp-source -s "$SESS" -m "$per" -l "$SIZE" -f sender@client.example -t "$rcpt" \
      "127.0.0.1:${smtp[$i]}" 2>>"$W/$label.source.err" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || true; done
  t1=$(now)
  local acked=0 got=0
  for i in $(seq 1 "$n"); do acked=$((acked + $(grep -c 'result=250' "$W/$label-$i.log" || true))); done
  [ "$acked" -gt 0 ] || acked=$((per * n)) # (a serve that logs no session lines: count what was sent)
  for _ in $(seq 1 6000); do
    got=$(processed "${api[@]}")
    [ "$got" -ge "$acked" ] && break
    sleep 0.1
  done
  t2=$(now)
  local c1=0 conns=0 failed
  for p in "${NODES[@]}"; do c1=$((c1 + $(cpu_ticks "$p"))); done
  failed=$(failed_attempts "${api[@]}")
  [ "$backend" = postgresql ] && conns=$(pg_sql "SELECT count(*) FROM pg_stat_activity WHERE usename = 'mailagent'")
  stop_nodes
  # after the nodes stopped: their backends have exited, flushing their statistics, and been
  # reaped, so that their CPU is in the postmaster's cutime/cstime
  local db_ms=0 commits=0 db_cpu=0 wal=0 syncs=0
  if [ "$backend" = postgresql ]; then
    sleep 1
    local a b c d e f g h
    read -r a b c d <<<"$db0"; read -r e f g h < <(pg_counters)
    db_ms=$(py "$e - $a"); commits=$((f - b)); wal=$((g - c)); syncs=$((h - d))
    db_cpu=$(($(pg_ticks) - pg0))
    # where the statement time went: the five statements that took most
    pg_sql "SELECT round(total_exec_time::numeric / $acked, 3), round(calls::numeric / $acked, 2), left(regexp_replace(query, '\s+', ' ', 'g'), 90)
            FROM stats.pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'mailagent')
            ORDER BY total_exec_time DESC LIMIT 5" >"$W/$label.top"
  fi
  [ "$got" -ge "$acked" ] || { echo "$label: the pipelines finished only $got of $acked messages in 10 minutes" >&2; exit 1; }
  echo "$label: $((per * n)) sent over $n node(s), $acked acknowledged, $got archived or skipped by the pipelines," \
       "$failed failed attempts" >&2
  local m=$acked
  echo "$(py "round($acked / ($t1 - $t0))") $(py "round($acked / ($t2 - $t0))") $(py "round(1e6 * ($c1 - $c0) / $HZ / $m)")" \
       "$(py "round($db_ms / $m, 3)") $(py "round($commits / $m, 2)") $(py "round(1e6 * $db_cpu / $HZ / $m)")" \
       "$(py "round($wal / $m)") $(py "round($syncs / $m, 2)") $conns"
}

run sqlite sqlite 1 >"$W/sqlite.fig"
run pg1 postgresql 1 >"$W/pg1.fig"
run pg2 postgresql 2 >"$W/pg2.fig"
run pg3 postgresql 3 >"$W/pg3.fig"
read -r s_smtp s_ingest s_cpu _ <"$W/sqlite.fig"
read -r p1_smtp p1_ingest p1_cpu p1_db p1_commits p1_dbcpu p1_wal p1_sync p1_conns <"$W/pg1.fig"
read -r p2_smtp p2_ingest p2_cpu p2_db p2_commits p2_dbcpu p2_wal p2_sync p2_conns <"$W/pg2.fig"
read -r p3_smtp p3_ingest p3_cpu p3_db p3_commits p3_dbcpu p3_wal p3_sync p3_conns <"$W/pg3.fig"

ratio() { py "round($1 / max($2, 1), 2)"; }
echo "== cluster: smtp-source -s $SESS -l $SIZE, $MSGS messages per configuration (PostgreSQL $PG_VERSION, synchronous_commit on; $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)) =="
printf "%-24s %10s %12s %14s %15s %16s %15s\n" "configuration" "SMTP msg/s" "ingest msg/s" "node CPU us/msg" "db stmt ms/msg" "db xacts/msg" "db CPU us/msg"
printf "%-24s %10s %12s %14s %15s %16s %15s\n" "SQLite, one node" "$s_smtp" "$s_ingest" "$s_cpu" "-" "-" "-"
printf "%-24s %10s %12s %14s %15s %16s %15s\n" "PostgreSQL, one node" "$p1_smtp" "$p1_ingest" "$p1_cpu" "$p1_db" "$p1_commits" "$p1_dbcpu"
printf "%-24s %10s %12s %14s %15s %16s %15s\n" "PostgreSQL, two nodes" "$p2_smtp" "$p2_ingest" "$p2_cpu" "$p2_db" "$p2_commits" "$p2_dbcpu"
printf "%-24s %10s %12s %14s %15s %16s %15s\n" "PostgreSQL, three nodes" "$p3_smtp" "$p3_ingest" "$p3_cpu" "$p3_db" "$p3_commits" "$p3_dbcpu"
echo "(node CPU: all the nodes' serve processes, acceptance and pipeline; db: statement execution time from pg_stat_statements, transactions (read-only ones too) from pg_stat_database xact_commit, CPU of every PostgreSQL process; all per acknowledged message, from the first SMTP connection until the pipelines finished the last message)"
echo "WAL per message (pg_stat_wal): one node ${p1_wal} bytes and ${p1_sync} WAL syncs; two nodes ${p2_wal} bytes and ${p2_sync} syncs; three nodes ${p3_wal} bytes and ${p3_sync} syncs"
for l in pg1 pg2 pg3; do
  echo "statements that took most time ($l; ms per message | calls per message | statement):"
  sed 's/^/  /' "$W/$l.top"
done
echo "connections to PostgreSQL at the end of the load: one node ${p1_conns}, two nodes ${p2_conns}, three nodes ${p3_conns}"
echo "PostgreSQL one node / SQLite: SMTP $(ratio "$p1_smtp" "$s_smtp")x, ingest $(ratio "$p1_ingest" "$s_ingest")x"
echo "two nodes / one node (PostgreSQL): SMTP $(ratio "$p2_smtp" "$p1_smtp")x, ingest $(ratio "$p2_ingest" "$p1_ingest")x"
echo "three nodes / one node (PostgreSQL): SMTP $(ratio "$p3_smtp" "$p1_smtp")x, ingest $(ratio "$p3_ingest" "$p1_ingest")x"
echo "one PostgreSQL core, on paper: $(py "round(1e6 / max($p1_dbcpu, 1))") messages/s by its CPU per message; one node's core: $(py "round(1e6 / max($p1_cpu, 1))") messages/s by the node's CPU per message"
echo "reproduce: MSGS=$MSGS SESSIONS=$SESS SIZE=$SIZE MAILAGENT=$MA $0"
