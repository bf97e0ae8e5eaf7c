/* storage_pg_records.c - PostgreSQL backend: CRM records and the look-ups matching needs (by e-mail
 * address with or without "+tag", accounts by domain, open opportunities of a contact or an
 * account); the same contracts and results as storage_sqlite_records.c.
 *
 * A record row keeps its lists as text[] so reading a record is one row; record_emails,
 * record_domains and opportunity_contacts index those lists for matching and are rewritten on
 * every upsert (and deleted with the record). All queries are scoped by enterprise_id. Lists cross
 * the wire joined by SQL_LIST_SEP (storage_list.h): string_to_array and array_to_string convert
 * them. The matching look-ups read their index table alone, never a records row (migration 055):
 * record_emails and opportunity_contacts carry the record's account_id (and an opportunity's stage),
 * which the upsert writes with them. They return type, id, account_id, stage, not whole records.
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

/* The matching look-ups' rows: type, id, account_id, stage; a record with those alone. */
static int record_matches_collect(PGresult *res, GPtrArray *out)
{
  if (!res) return -1;
  for (int i = 0; i < PQntuples(res); i++) {
    MaRecord *r = ma_record_new((MaRecordType)pg_col_int(res, i, 0), PQgetvalue(res, i, 1));
    r->account_id = pg_col_dup(res, i, 2);
    r->stage = (MaStage)pg_col_int(res, i, 3);
    g_ptr_array_add(out, r);
  }
  PQclear(res);
  return 0;
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

/* What an index table's row carries besides its value (the copies matching reads, migration 055). */
typedef enum {
  RECORD_INDEX_DOMAIN,     /* $1 enterprise, $2 value, $3 record id */
  RECORD_INDEX_ADDRESS,    /* and $4 the record's type, $5 the address without "+tag", $6 account_id */
  RECORD_INDEX_OPPORTUNITY /* and $4 account_id, $5 stage */
} RecordIndexKind;

/* Rows of one index table; sql has the parameters of kind. */
static int record_index_list(PgDb *d, const char *sql, const char *enterprise_id, const MaRecord *r, GPtrArray *values,
                             RecordIndexKind kind, GError **error)
{
  gboolean address = kind == RECORD_INDEX_ADDRESS;
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
      pg_param_text(&p, r->account_id);
    } else if (kind == RECORD_INDEX_OPPORTUNITY) {
      pg_param_text(&p, r->account_id);
      pg_param_int(&p, r->stage);
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
                        "INSERT INTO record_emails(enterprise_id, email, record_id, type, email_noplus, account_id)"
                        " VALUES($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                        enterprise_id, r, r->emails, RECORD_INDEX_ADDRESS, error) < 0)
    return -1;
  if (r->type == MA_RECORD_ACCOUNT &&
      record_index_list(d,
                        "INSERT INTO record_domains(enterprise_id, domain, record_id)"
                        " VALUES($1, lower($2), $3) ON CONFLICT DO NOTHING",
                        enterprise_id, r, r->domains, RECORD_INDEX_DOMAIN, error) < 0)
    return -1;
  if (r->type == MA_RECORD_OPPORTUNITY &&
      record_index_list(d,
                        "INSERT INTO opportunity_contacts(enterprise_id, contact_id, opportunity_id, account_id, stage)"
                        " VALUES($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                        enterprise_id, r, r->contact_ids, RECORD_INDEX_OPPORTUNITY, error) < 0)
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
  g_autofree char *folded = ma_address_key_is_folded(address_key, ignore_plus) ? NULL : ma_address_key(address_key, ignore_plus);
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, folded ? folded : address_key);
  /* DISTINCT: two addresses of a record may share their form without "+tag" */
  PGresult *res = pg_run(d,
                         ignore_plus
                           ? "SELECT DISTINCT e.type, e.record_id, e.account_id, 0 FROM record_emails e"
                             " WHERE e.enterprise_id = $1 AND e.email_noplus = $2 ORDER BY e.type, e.record_id"
                           : "SELECT e.type, e.record_id, e.account_id, 0 FROM record_emails e"
                             " WHERE e.enterprise_id = $1 AND e.email = $2 ORDER BY e.type, e.record_id",
                         &p, "record look-up", error);
  return record_matches_collect(res, out);
}

int pg_accounts_by_domain(void *impl, const char *enterprise_id, const char *domain, GPtrArray *out, GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, domain);
  /* a record_domains row is an account's as long as the account exists (upsert and delete keep
   * them together), so the account's row is not read */
  PGresult *res = pg_run(d,
                         "SELECT 0, x.record_id, NULL, 0 FROM record_domains x"
                         " WHERE x.enterprise_id = $1 AND x.domain = lower($2) ORDER BY x.record_id",
                         &p, "record look-up", error);
  return record_matches_collect(res, out);
}

int pg_opportunities_open_for_contact(void *impl, const char *enterprise_id, const char *contact_id, GPtrArray *out,
                                      GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, contact_id);
  PGresult *res = pg_run(d,
                         "SELECT 3, x.opportunity_id, x.account_id, x.stage FROM opportunity_contacts x"
                         " WHERE x.enterprise_id = $1 AND x.contact_id = $2 AND x.stage IN (0, 1) ORDER BY x.opportunity_id",
                         &p, "record look-up", error);
  return record_matches_collect(res, out);
}

int pg_opportunities_open_for_account(void *impl, const char *enterprise_id, const char *account_id, GPtrArray *out,
                                      GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, account_id);
  PGresult *res = pg_run(d,
                         "SELECT r.type, r.id, r.account_id, r.stage FROM records r WHERE r.enterprise_id = $1"
                         " AND r.account_id = $2 AND r.type = 3 AND r.stage IN (0, 1) ORDER BY r.id",
                         &p, "record look-up", error);
  return record_matches_collect(res, out);
}
