# cluster.sh - sourced by the cluster tests (after common.sh and postgres.sh, pg_start done):
# several `mailagent serve` nodes on the one PostgreSQL, each with its own config, data directory
# (its spool) and ports, all sharing the master key file $T/master.key (made by cluster_key).
#
# cluster_key: writes the shared master key file $T/master.key.
# node_config NAME [extra ini lines...]: $T/NAME.conf on the shared database and key, with
#   write_config's ports; sets NAME_SMTP, NAME_API and NAME_SUBMISSION.
# start_node NAME: serve in the background (its log $T/NAME.log, MAILAGENT_* of the caller's
#   environment passed on) until its SMTP and API answer; sets NAME_PID.
# kill_node NAME: SIGKILL, reaped.
# na NAME COMMAND ARGS...: a CLI command with NAME's config.
# spool_left NAME: entries in NAME's spool (1 when it cannot be read).
# owner_node OWNER NAMES...: the name of the node whose pid is in a lease owner (host:pid:random).

cluster_key() {
  /usr/bin/python3 -c 'import secrets; print(secrets.token_hex(32))' > "$T/master.key"
  chmod 600 "$T/master.key"
}

node_config() {
  local name=$1
  shift
  write_config "[security]" "master_key_file=$T/master.key" "$@"
  sed -i "s|^data_dir=.*|data_dir=$T/$name\nbackend=postgresql\npostgresql=$PG_CONNINFO|" "$CONF"
  mv "$CONF" "$T/$name.conf"
  printf -v "${name}_SMTP" '%s' "$SMTP_PORT"
  printf -v "${name}_API" '%s' "$API_PORT"
  printf -v "${name}_SUBMISSION" '%s' "$SUBMISSION_PORT"
}

start_node() {
  local smtp api pid
  smtp=$(eval echo "\$${1}_SMTP"); api=$(eval echo "\$${1}_API")
  "$MAILAGENT" serve -c "$T/$1.conf" >>"$T/$1.log" 2>&1 &
  pid=$!
  CLEANUP_PIDS+=("$pid")
  printf -v "${1}_PID" '%s' "$pid"
  for _ in $(seq 1 150); do
    if (exec 3<>/dev/tcp/127.0.0.1/"$smtp") 2>/dev/null && (exec 3<>/dev/tcp/127.0.0.1/"$api") 2>/dev/null; then return 0; fi
    kill -0 "$pid" 2>/dev/null || { cat "$T/$1.log"; fail "node $1 exited during start"; return 1; }
    sleep 0.1
  done
  cat "$T/$1.log"; fail "node $1 did not start listening"; return 1
}

kill_node() {
  local pid
  pid=$(eval echo "\$${1}_PID")
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

na() { "$MAILAGENT" "$2" -c "$T/$1.conf" "${@:3}"; }

spool_left() { sqlite3 -readonly -cmd ".timeout 5000" "$T/$1/spool.db" "select count(*) from spool" 2>/dev/null || echo 1; }

owner_node() {
  local owner=$1 name pid
  shift
  for name in "$@"; do
    pid=$(eval echo "\$${name}_PID")
    case "$owner" in *":$pid:"*) echo "$name"; return 0 ;; esac
  done
  echo "other($owner)"
}
