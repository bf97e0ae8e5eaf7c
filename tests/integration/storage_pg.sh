#!/usr/bin/env bash
# storage_pg.sh - the storage unit tests the PostgreSQL backend can run (test_storage's
# /storage/postgresql/... cases: migrations under the advisory lock, transactions and batches,
# inbound addresses, employees, API keys, settings and rules, records and the matching look-ups,
# the data version, a full disk; test_storage_archive's: messages, threads, activities, the
# timeline, the outbox's claims, the same message stored by two handles at once, deleting an
# enterprise; test_storage_mailboxes': mailbox bindings, leases raced by two handles, checkpoints,
# quarantine, the daily counts and Sent copies; test_relay_plan's routes over bound mailboxes; the
# outbound queue, relays, sending counts and suppressions of test_storage_outbound, _relays and
# _claims; the pending store and search; a blob's put raced by its erasure (test_storage_blob_race); re-matching's cost bound (test_pipeline_rematch, counted by storage_work_counters); the scheduled jobs' leader leases of test_storage_leases; the API's item cache over the timeline rows, test_api_item_cache), against a real PostgreSQL this script starts (initdb and pg_ctl
# as the unprivileged postgres user, loopback port, password only in a libpq password file).
# The same test functions run against SQLite in unit/test_storage: one parameter, the backend.
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/postgres.sh"

pg_start
# run_pg PROGRAM PREFIX MIN: PROGRAM's tests whose paths start with PREFIX/, each named with -p
# (GLib's -p runs one suite level: /storage/postgresql alone finds none of /storage/postgresql/x/y),
# all passing, none skipped, at least MIN of them.
run_pg() {
  local out st n
  local -a paths=()
  for path in $(MAILAGENT_TEST_PG="$PG_CONNINFO" "$BUILD_DIR/tests/$1" -l | grep "^$2/"); do paths+=(-p "$path"); done
  out=$(MAILAGENT_TEST_PG="$PG_CONNINFO" "$BUILD_DIR/tests/$1" "${paths[@]}" 2>&1) && st=0 || st=$?
  echo "$out" | grep -E '^(ok|not ok)' || true
  [ "$st" = 0 ] || echo "$out" | grep -vE '^(ok|not ok|#)' | tail -20 # the failed assertion's own words
  assert_eq 0 "$st" "$1: the storage tests pass against PostgreSQL"
  n=$(echo "$out" | grep -c "^ok .*$2/" || true)
  assert_eq 0 "$(echo "$out" | grep -c 'SKIP' || true)" "$1: none of them skipped"
  if [ "$n" -ge "$3" ]; then pass "$1: $n PostgreSQL storage tests ran"; else fail "$1: only $n PostgreSQL storage tests ran"; fi
}
run_pg test_storage /storage/postgresql 20
# the archive: messages, threads, activities, timeline, outbox claims, the same message on two handles
run_pg test_storage_archive /storage/postgresql 23
run_pg test_storage_mailboxes /storage/postgresql/mailboxes 7
run_pg test_relay_plan /relay/plan/postgresql 4
# held mail, re-matching's unlinking, search (CJK, fields, relevance, pages) and erasure without trace
run_pg test_storage_pending /storage/postgresql/pending 2
run_pg test_storage_search /storage/postgresql/search 8
# a blob stored on one node while retention erases its last reference on another, both orders
run_pg test_storage_blob_race /storage/postgresql/blob-race 2
# re-matching's cost follows the matching mail, not the archive (work counted by the table statistics)
run_pg test_pipeline_rematch /pipeline/rematch/postgresql 1
# the API's item cache over this backend's rows: pages equal uncached ones, a changed row and a held
# outbound message's delivery states are never served stale
run_pg test_api_item_cache /api/item_cache/postgresql 2
assert_eq 1 "$(pg_sql "select count(*) from schema_migrations where version = 1")" "migration 001 recorded once"

# The sending side: the outbound queue, relays, the employee-mailbox channel's counts and the
# suppressions, and their once-only semantics with two handles in two threads (test_storage_claims).
run_pg test_storage_outbound /storage_outbound/postgresql 6
run_pg test_storage_relays /storage/postgresql/relays 6
run_pg test_storage_claims /storage_claims/postgresql 5
# the leaders of serve's scheduled jobs: one granted per job when two handles race, expired leases taken over
run_pg test_storage_leases /storage_leases/postgresql 2

# The backend fills every storage function: the CLI runs on it ([storage] backend = postgresql).
write_config
sed -i "/^data_dir=/a backend=postgresql\npostgresql=$PG_CONNINFO" "$CONF"
pg_sql "DROP SCHEMA public CASCADE; CREATE SCHEMA public AUTHORIZATION mailagent" >/dev/null
assert_status 0 ma init
assert_contains "$(cat "$T/last.out")" "admin_api_key    created" "init on PostgreSQL makes the admin key"
assert_eq 1 "$(pg_sql "select count(*) from api_keys where enterprise_id is null")" "and stores it in PostgreSQL"
assert_status 0 ma enterprise add --slug acme --name Acme --domain acme.example
assert_eq 1 "$(pg_sql "select count(*) from enterprises where slug = 'acme'")" "an enterprise made by the CLI is in PostgreSQL"
finish
