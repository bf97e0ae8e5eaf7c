/* storage_pg_backend.c - the PostgreSQL backend's table of functions (see storage_backend.h).
 * Only wiring: the functions live in storage_pg_<area>.c.
 *
 * Being built (issue 18): entries not filled here are NULL, and storage_select_backend refuses
 * "postgresql" until every entry is filled; tests/unit/test_storage_pg.c proves the filled ones
 * against a real PostgreSQL with the same checks the SQLite backend passes.
 */
#include "pg_internal.h"

const MaStorageBackend ma_storage_pg_backend = {
  .name = "postgresql",
  .open = pg_open,
  .close = pg_close,
  .schema_version = pg_schema_version,
  .library_version = pg_library_version,
  .begin = pg_begin,
  .begin_batch = pg_begin_batch,
  .commit = pg_commit,
  .rollback = pg_rollback,
  .fault_inject_commit_failures = pg_fault_inject_commit_failures,
  .enterprise_create = pg_enterprise_create,
  .enterprise_get = pg_enterprise_get,
  .enterprise_list = pg_enterprise_list,
  .enterprise_domain_add = pg_enterprise_domain_add,
  .enterprise_domain_remove = pg_enterprise_domain_remove,
  .inbound_lookup = pg_inbound_lookup,
  .inbound_rotate = pg_inbound_rotate,
  .inbound_list = pg_inbound_list,
  .inbound_all = pg_inbound_all,
  .tenant_version = pg_tenant_version,
  .employee_add = pg_employee_add,
  .employee_remove = pg_employee_remove,
  .employee_find = pg_employee_find,
  .employee_list = pg_employee_list,
};
