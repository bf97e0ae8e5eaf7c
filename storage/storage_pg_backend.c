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
  .counts = pg_counts,
  .blob_put = pg_blob_put,
  .blob_get = pg_blob_get,
  .employee_add = pg_employee_add,
  .employee_remove = pg_employee_remove,
  .employee_find = pg_employee_find,
  .employee_list = pg_employee_list,
  .apikey_add = pg_apikey_add,
  .apikey_find = pg_apikey_find,
  .apikey_list = pg_apikey_list,
  .apikey_get = pg_apikey_get,
  .apikey_revoke = pg_apikey_revoke,
  .setting_get = pg_setting_get,
  .setting_set = pg_setting_set,
  .setting_list = pg_setting_list,
  .rules_get = pg_rules_get,
  .rules_put = pg_rules_put,
  .record_upsert = pg_record_upsert,
  .record_delete = pg_record_delete,
  .record_get = pg_record_get,
  .record_list = pg_record_list,
  .records_by_email = pg_records_by_email,
  .accounts_by_domain = pg_accounts_by_domain,
  .opportunities_open_for_contact = pg_opportunities_open_for_contact,
  .opportunities_open_for_account = pg_opportunities_open_for_account,
};
