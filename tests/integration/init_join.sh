#!/usr/bin/env bash
# init_join.sh - nodes share their secrets (issue 18): `mailagent init` on a second node against an
# initialised database joins it. Node 1's init makes the master key and the admin key and records
# the key's check value in the database; node 2, given a copy of node 1's key file, joins (exit 0,
# its key file kept, no new admin key printed, still one admin key); node 3, with another key file,
# is refused (exit 2, saying so) before it makes anything, and serve refuses to run with that key;
# node 4, with no key file, is refused without minting one; a wrong MAILAGENT_MASTER_KEY is refused.
# Run twice: on SQLite, nodes sharing one data directory's database (each with its own key file),
# and on a real PostgreSQL (tests/integration/lib/postgres.sh), nodes with their own data
# directories.
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/postgres.sh"

# node_config NAME DATA_DIR KEY_FILE [STORAGE LINES...]: writes $T/NAME.conf
node_config() {
  local name=$1 data=$2 key=$3
  shift 3
  mkdir -p "$(dirname "$key")"
  {
    echo "[storage]"; echo "data_dir=$data"
    for line in "$@"; do echo "$line"; done
    echo "[smtp]"; echo "hostname=mx.inbound.test"
    echo "[security]"; echo "master_key_file=$key"
  } > "$T/$name.conf"
}
node() { "$MAILAGENT" "$2" -c "$T/$1.conf" "${@:3}"; }
admin_keys() { node "$1" apikey list --admin --json | json_get - 'len(d["items"])'; }

# join_round LABEL DATA1 DATA2 DATA3 DATA4 [STORAGE LINES...]
join_round() {
  local label=$1 d1=$2 d2=$3 d3=$4 d4=$5
  shift 5
  node_config "$label-n1" "$d1" "$T/$label/n1/master.key" "$@"
  node_config "$label-n2" "$d2" "$T/$label/n2/master.key" "$@"
  node_config "$label-n3" "$d3" "$T/$label/n3/master.key" "$@"
  node_config "$label-n4" "$d4" "$T/$label/n4/master.key" "$@"

  assert_status 0 node "$label-n1" init
  local out
  out=$(cat "$T/last.out")
  assert_contains "$out" "$T/$label/n1/master.key (created)" "$label: node 1 makes the master key"
  assert_eq 1 "$(grep -c 'maa_[0-9a-f]\{64\}' <<<"$out" || true)" "$label: node 1 prints the admin secret once"

  cp "$T/$label/n1/master.key" "$T/$label/n2/master.key"
  chmod 600 "$T/$label/n2/master.key"
  assert_status 0 node "$label-n2" init
  out=$(cat "$T/last.out")
  assert_contains "$out" "$T/$label/n2/master.key (exists)" "$label: node 2 uses the shared key file"
  assert_contains "$out" "not shown again" "$label: node 2 finds the installation's admin key"
  assert_eq 0 "$(grep -c 'maa_[0-9a-f]\{64\}' <<<"$out" || true)" "$label: node 2 prints no admin secret"
  assert_eq "$(cat "$T/$label/n1/master.key")" "$(cat "$T/$label/n2/master.key")" "$label: node 2's key file unchanged"
  assert_eq 1 "$(admin_keys "$label-n2")" "$label: one admin key after node 2 joined"

  printf '%s\n' "$(openssl rand -hex 32)" > "$T/$label/n3/master.key"
  chmod 600 "$T/$label/n3/master.key"
  assert_status 2 node "$label-n3" init
  assert_contains "$(cat "$T/last.err")" "is not this installation's master key" "$label: node 3's other key is refused"
  assert_eq 0 "$(grep -c 'maa_[0-9a-f]\{64\}' "$T/last.out" || true)" "$label: node 3 prints no admin secret"
  assert_eq 1 "$(admin_keys "$label-n1")" "$label: node 3 made no admin key"
  # nor does serve run with it (it would seal secrets no other node can open)
  assert_status 2 timeout 30 "$MAILAGENT" serve -c "$T/$label-n3.conf"
  assert_contains "$(cat "$T/last.err")" "is not this installation's master key" "$label: serve refuses node 3's key"

  assert_status 2 node "$label-n4" init
  assert_contains "$(cat "$T/last.err")" "copy the master key file of the installation's first node" \
    "$label: node 4 without a key file is told to copy it"
  assert_status 1 test -e "$T/$label/n4/master.key"
  assert_eq 1 "$(admin_keys "$label-n1")" "$label: node 4 made no admin key"

  MAILAGENT_MASTER_KEY=$(openssl rand -hex 32) assert_status 2 node "$label-n4" init
  assert_contains "$(cat "$T/last.err")" "\$MAILAGENT_MASTER_KEY is not this installation's master key" \
    "$label: another key in the environment is refused"
  MAILAGENT_MASTER_KEY=$(cat "$T/$label/n1/master.key") assert_status 0 node "$label-n4" init
  assert_contains "$(cat "$T/last.out")" "(from environment)" "$label: the installation's key in the environment joins"

  # node 1 again: idempotent, its key still the installation's
  assert_status 0 node "$label-n1" init
  assert_contains "$(cat "$T/last.out")" "$T/$label/n1/master.key (exists)" "$label: node 1 runs init again"
}

# SQLite: one database (one data directory), four nodes' key files
join_round sqlite "$T/shared" "$T/shared" "$T/shared" "$T/shared"

# PostgreSQL: one database, four nodes with their own data directories
pg_start
join_round postgresql "$T/pg1" "$T/pg2" "$T/pg3" "$T/pg4" backend=postgresql "postgresql=$PG_CONNINFO"
assert_eq 1 "$(pg_sql "SELECT count(*) FROM installation WHERE name = 'master_key_check'")" \
  "postgresql: one check value in the database"
assert_eq 0 "$(pg_sql "SELECT count(*) FROM installation WHERE value LIKE '%$(cat "$T/postgresql/n1/master.key")%'")" \
  "postgresql: the database does not hold the key"
finish
