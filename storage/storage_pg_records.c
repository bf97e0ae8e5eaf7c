/* storage_pg_records.c - PostgreSQL backend: CRM records and the look-ups matching needs (by e-mail
 * address with or without "+tag", accounts by domain, open opportunities of a contact or an
 * account); the same contracts and results as storage_sqlite_records.c.
 *
 * A record row keeps its lists as text[] so reading a record is one row; record_emails,
 * record_domains and opportunity_contacts index those lists for matching and are rewritten on
 * every upsert. All queries are scoped by enterprise_id. Lists cross the wire joined by
 * SQL_LIST_SEP (storage_list.h): string_to_array and array_to_string convert them.
 */
#include "pg_internal.h"

#include "agent/lib/model.h"

/* The SQL below spells these enum values as numbers. */
G_STATIC_ASSERT(MA_RECORD_ACCOUNT == 0 && MA_RECORD_OPPORTUNITY == 3);
G_STATIC_ASSERT(MA_STAGE_NONE == 0 && MA_STAGE_OPEN == 1);

#define SEP "E'\\x1f'"
#define RECORD_COLS                                                                                        \
  "r.type, r.id, r.name, array_to_string(r.emails, " SEP "), array_to_string(r.domains, " SEP "), r.account_id," \
  " array_to_string(r.contact_ids, " SEP "), r.stage, r.attributes"

static MaRecord *record_read(const PGresult *res, int row)
{
  MaRecord *r = ma_record_new((MaRecordType)pg_col_int(res, row, 0), PQgetvalue(res, row, 1));
  r->name = pg_col_dup(res, row, 2);
  sql_list_split(PQgetvalue(res, row, 3), r->emails);
  sql_list_split(PQgetvalue(res, row, 4), r->domains);
  r->account_id = pg_col_dup(res, row, 5);
  sql_list_split(PQgetvalue(res, row, 6), r->contact_ids);
  r->stage = (MaStage)pg_col_int(res, row, 7);
  g_free(r->attributes_json);
  r->attributes_json = PQgetisnull(res, row, 8) ? g_strdup("{}") : pg_col_dup(res, row, 8);
  return r;
}

static int records_collect(PGresult *res, GPtrArray *out)
{
  if (!res) return -1;
  for (int i = 0; i < PQntuples(res); i++) g_ptr_array_add(out, record_read(res, i));
  PQclear(res);
  return 0;
}

/* ---- upsert / delete -------------------------------------------------------------------------- */

static int record_unindex(PgDb *d, const char *enterprise_id, MaRecordType type, const char *id, GError **error)
{
  static const char *const sqls[] = {
    "DELETE FROM record_emails WHERE enterprise_id = $1 AND type = $2 AND record_id = $3",
    "DELETE FROM record_domains WHERE enterprise_id = $1 AND record_id = $3 AND $2 = 0",
    "DELETE FROM opportunity_contacts WHERE enterprise_id = $1 AND opportunity_id = $3 AND $2 = 3",
  };
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_int(&p, type);
  pg_param_text(&p, id);
  for (guint i = 0; i < G_N_ELEMENTS(sqls); i++)
    if (pg_exec(d, sqls[i], &p, "unindex record", error) < 0) return -1;
  return 0;
}

/* Rows of one index table: sql has $1 enterprise, $2 value, $3 record id, and for addresses also
 * $4 the record's type and $5 the address without its "+tag". */
static int record_index_list(PgDb *d, const char *sql, const char *enterprise_id, const MaRecord *r, GPtrArray *values,
                             gboolean address, GError **error)
{
  for (guint i = 0; values && i < values->len; i++) {
    const char *v = g_ptr_array_index(values, i);
    if (!v || !*v) continue;
    g_autofree char *key = address ? ma_address_key(v, FALSE) : g_ascii_strdown(v, -1);
    g_autofree char *noplus = address ? ma_address_key(v, TRUE) : NULL;
    PgParams p = {0};
    pg_param_text(&p, enterprise_id);
    pg_param_text(&p, address ? key : v);
    pg_param_text(&p, r->id);
    if (address) {
      pg_param_int(&p, r->type);
      pg_param_text(&p, noplus);
    }
    if (pg_exec(d, sql, &p, "index record", error) < 0) return -1;
  }
  return 0;
}

static int record_upsert_body(PgDb *d, const char *enterprise_id, const MaRecord *r, GError **error)
{
  if (record_unindex(d, enterprise_id, r->type, r->id, error) < 0) return -1;
  g_autofree char *emails = sql_list_join(r->emails);
  g_autofree char *domains = sql_list_join(r->type == MA_RECORD_ACCOUNT ? r->domains : NULL);
  g_autofree char *contacts = sql_list_join(r->type == MA_RECORD_OPPORTUNITY ? r->contact_ids : NULL);
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_int(&p, r->type);
  pg_param_text(&p, r->id);
  pg_param_text(&p, r->name);
  pg_param_text(&p, emails);
  pg_param_text(&p, domains);
  pg_param_text(&p, r->account_id);
  pg_param_text(&p, contacts);
  pg_param_int(&p, r->stage);
  pg_param_text(&p, r->attributes_json ? r->attributes_json : "{}");
  /* string_to_array('') is '{}', as SQLite's empty joined text is no item */
  if (pg_exec(d,
              "INSERT INTO records(enterprise_id, type, id, name, emails, domains, account_id, contact_ids, stage, attributes)"
              " VALUES($1, $2, $3, $4, string_to_array($5, " SEP "), string_to_array($6, " SEP "), $7,"
              " string_to_array($8, " SEP "), $9, $10)"
              " ON CONFLICT(enterprise_id, type, id) DO UPDATE SET name = excluded.name, emails = excluded.emails,"
              " domains = excluded.domains, account_id = excluded.account_id, contact_ids = excluded.contact_ids,"
              " stage = excluded.stage, attributes = excluded.attributes",
              &p, "upsert record", error) < 0)
    return -1;
  if (record_index_list(d,
                        "INSERT INTO record_emails(enterprise_id, email, record_id, type, email_noplus)"
                        " VALUES($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                        enterprise_id, r, r->emails, TRUE, error) < 0)
    return -1;
  if (r->type == MA_RECORD_ACCOUNT &&
      record_index_list(d,
                        "INSERT INTO record_domains(enterprise_id, domain, record_id)"
                        " VALUES($1, lower($2), $3) ON CONFLICT DO NOTHING",
                        enterprise_id, r, r->domains, FALSE, error) < 0)
    return -1;
  if (r->type == MA_RECORD_OPPORTUNITY &&
      record_index_list(d,
                        "INSERT INTO opportunity_contacts(enterprise_id, contact_id, opportunity_id)"
                        " VALUES($1, $2, $3) ON CONFLICT DO NOTHING",
                        enterprise_id, r, r->contact_ids, FALSE, error) < 0)
    return -1;
  return 0;
}

int pg_record_upsert(void *impl, const char *enterprise_id, const MaRecord *r, GError **error)
{
  PgDb *d = impl;
  g_assert(enterprise_id && r && r->id);
  if (pg_write_begin(d, error) < 0) return -1;
  return pg_write_end(d, record_upsert_body(d, enterprise_id, r, error), error);
}

int pg_record_delete(void *impl, const char *enterprise_id, MaRecordType type, const char *id, GError **error)
{
  PgDb *d = impl;
  if (pg_write_begin(d, error) < 0) return -1;
  int ret = -1;
  if (record_unindex(d, enterprise_id, type, id, error) == 0) {
    PgParams p = {0};
    pg_param_text(&p, enterprise_id);
    pg_param_int(&p, type);
    pg_param_text(&p, id);
    gint64 n = pg_exec(d, "DELETE FROM records WHERE enterprise_id = $1 AND type = $2 AND id = $3", &p, "delete record", error);
    if (n >= 0) ret = n > 0 ? 1 : 0;
  }
  return pg_write_end(d, ret, error);
}

/* ---- reads --------------------------------------------------------------------------------------- */

int pg_record_get(void *impl, const char *enterprise_id, MaRecordType type, const char *id, MaRecord **out,
                  GError **error)
{
  PgDb *d = impl;
  *out = NULL;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_int(&p, type);
  pg_param_text(&p, id);
  PGresult *res = pg_run(d, "SELECT " RECORD_COLS " FROM records r WHERE r.enterprise_id = $1 AND r.type = $2 AND r.id = $3",
                         &p, "get record", error);
  if (!res) return -1;
  if (PQntuples(res) > 0) *out = record_read(res, 0);
  PQclear(res);
  return *out ? 1 : 0;
}

int pg_record_list(void *impl, const char *enterprise_id, MaRecordType type, const char *after_id, int limit,
                   GPtrArray *out, GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_int(&p, type);
  pg_param_text(&p, after_id ? after_id : "");
  pg_param_int(&p, limit > 0 ? limit : G_MAXINT64);
  PGresult *res = pg_run(d,
                         "SELECT " RECORD_COLS " FROM records r WHERE r.enterprise_id = $1 AND r.type = $2 AND r.id > $3"
                         " ORDER BY r.id LIMIT $4",
                         &p, "list records", error);
  return records_collect(res, out);
}

int pg_records_by_email(void *impl, const char *enterprise_id, const char *address_key, gboolean ignore_plus,
                        GPtrArray *out, GError **error)
{
  PgDb *d = impl;
  g_autofree char *key = ma_address_key(address_key, ignore_plus);
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, key);
  PGresult *res = pg_run(d,
                         ignore_plus
                           ? "SELECT " RECORD_COLS " FROM records r WHERE (r.enterprise_id, r.type, r.id) IN"
                             " (SELECT e.enterprise_id, e.type, e.record_id FROM record_emails e"
                             "  WHERE e.enterprise_id = $1 AND e.email_noplus = $2) ORDER BY r.type, r.id"
                           : "SELECT " RECORD_COLS " FROM record_emails e JOIN records r"
                             " ON r.enterprise_id = e.enterprise_id AND r.type = e.type AND r.id = e.record_id"
                             " WHERE e.enterprise_id = $1 AND e.email = $2 ORDER BY e.type, e.record_id",
                         &p, "record look-up", error);
  return records_collect(res, out);
}

int pg_accounts_by_domain(void *impl, const char *enterprise_id, const char *domain, GPtrArray *out, GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, domain);
  PGresult *res = pg_run(d,
                         "SELECT " RECORD_COLS " FROM record_domains x JOIN records r"
                         " ON r.enterprise_id = x.enterprise_id AND r.type = 0 AND r.id = x.record_id"
                         " WHERE x.enterprise_id = $1 AND x.domain = lower($2) ORDER BY x.record_id",
                         &p, "record look-up", error);
  return records_collect(res, out);
}

int pg_opportunities_open_for_contact(void *impl, const char *enterprise_id, const char *contact_id, GPtrArray *out,
                                      GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, contact_id);
  PGresult *res = pg_run(d,
                         "SELECT " RECORD_COLS " FROM opportunity_contacts x JOIN records r"
                         " ON r.enterprise_id = x.enterprise_id AND r.type = 3 AND r.id = x.opportunity_id"
                         " WHERE x.enterprise_id = $1 AND x.contact_id = $2 AND r.stage IN (0, 1) ORDER BY x.opportunity_id",
                         &p, "record look-up", error);
  return records_collect(res, out);
}

int pg_opportunities_open_for_account(void *impl, const char *enterprise_id, const char *account_id, GPtrArray *out,
                                      GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, account_id);
  PGresult *res = pg_run(d,
                         "SELECT " RECORD_COLS " FROM records r WHERE r.enterprise_id = $1 AND r.account_id = $2"
                         " AND r.type = 3 AND r.stage IN (0, 1) ORDER BY r.id",
                         &p, "record look-up", error);
  return records_collect(res, out);
}
