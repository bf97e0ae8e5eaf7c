#!/usr/bin/env bash
# storage_pg.sh - the storage unit tests the PostgreSQL backend can run so far (test_storage's
# /storage/postgresql/... cases: migrations under the advisory lock, transactions and batches,
# inbound addresses, employees, API keys, settings and rules, records and the matching look-ups; the
# outbound queue, relays, sending counts and suppressions of test_storage_outbound, _relays and
# _claims), against a real PostgreSQL this script starts (initdb and pg_ctl
# as the unprivileged postgres user, loopback port, password only in a libpq password file).
# The same test functions run against SQLite in unit/test_storage: one parameter, the backend.
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/postgres.sh"

pg_start
out=$(MAILAGENT_TEST_PG="$PG_CONNINFO" "$BUILD_DIR/tests/test_storage" -p /storage/postgresql 2>&1) && st=0 || st=$?
echo "$out" | grep -E '^(ok|not ok)' || true
assert_eq 0 "$st" "the storage tests pass against PostgreSQL"
n=$(echo "$out" | grep -c '^ok' || true)
assert_eq 0 "$(echo "$out" | grep -c 'SKIP' || true)" "none of them skipped"
if [ "$n" -ge 17 ]; then pass "$n PostgreSQL storage tests ran"; else fail "only $n PostgreSQL storage tests ran"; fi
assert_eq 1 "$(pg_sql "select count(*) from schema_migrations where version = 1")" "migration 001 recorded once"

# The sending side: the outbound queue, relays, the employee-mailbox channel's counts and the
# suppressions, and their once-only semantics with two handles in two threads (test_storage_claims).
for t in "test_storage_outbound /storage_outbound/postgresql 5" "test_storage_relays /storage/postgresql/relays 5" \
         "test_storage_claims /storage_claims/postgresql 4"; do
  set -- $t
  out=$(MAILAGENT_TEST_PG="$PG_CONNINFO" "$BUILD_DIR/tests/$1" -p "$2" 2>&1) && st=0 || st=$?
  echo "$out" | grep -E '^(ok|not ok)' || true
  assert_eq 0 "$st" "$1 passes against PostgreSQL"
  assert_eq "$3" "$(echo "$out" | grep -c '^ok' || true)" "all $3 PostgreSQL tests of $1 ran"
done

# The CLI refuses the backend, saying why, until every storage function exists for it.
write_config
sed -i "/^data_dir=/a backend=postgresql\npostgresql=$PG_CONNINFO" "$CONF"
out=$(ma init 2>&1) && st=0 || st=$?
assert_eq 2 "$st" "init with backend = postgresql exits 2 for now"
assert_contains "$out" "storage functions so far" "and says how far the backend is"
finish
