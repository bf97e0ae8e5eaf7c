/* storage_sqlite_records.c - SQLite backend: CRM records and the look-ups matching needs (by
 * e-mail address with or without "+tag", accounts by domain, open opportunities of a contact or
 * an account).
 *
 * A record row keeps its lists (emails, domains, contact ids) joined by SQL_LIST_SEP so reading a
 * record is one row; record_emails, record_domains and opportunity_contacts index those lists for
 * matching and are rewritten on every upsert (and deleted with the record). All queries are scoped
 * by enterprise_id. The matching look-ups read their index table alone, never a records row
 * (migration 174): record_emails and opportunity_contacts carry the record's account_id (and an
 * opportunity's stage), which the upsert writes with them, and records_by_account covers the
 * stage. They return what matching reads (type, id, account_id, stage), not whole records.
 */
#include "sqlite_internal.h"

#include <string.h>

/* The SQL below spells these enum values as numbers. */
G_STATIC_ASSERT(MA_RECORD_ACCOUNT == 0 && MA_RECORD_OPPORTUNITY == 3);
G_STATIC_ASSERT(MA_STAGE_NONE == 0 && MA_STAGE_OPEN == 1);

MaRecord *sql_record_read(sqlite3_stmt *s, int first)
{
  MaRecord *r = ma_record_new((MaRecordType)sqlite3_column_int(s, first), (const char *)sqlite3_column_text(s, first + 1));
  r->name = sql_col_dup(s, first + 2);
  sql_list_split((const char *)sqlite3_column_text(s, first + 3), r->emails);
  sql_list_split((const char *)sqlite3_column_text(s, first + 4), r->domains);
  r->account_id = sql_col_dup(s, first + 5);
  sql_list_split((const char *)sqlite3_column_text(s, first + 6), r->contact_ids);
  r->stage = (MaStage)sqlite3_column_int(s, first + 7);
  g_free(r->attributes_json);
  r->attributes_json = sql_col_dup(s, first + 8);
  if (!r->attributes_json) r->attributes_json = g_strdup("{}");
  return r;
}

/* A row of the matching look-ups (type, id, account_id, stage from column first on): a record
 * with those alone. */
static MaRecord *sql_record_match_read(sqlite3_stmt *s, int first)
{
  MaRecord *r = ma_record_new((MaRecordType)sqlite3_column_int(s, first), (const char *)sqlite3_column_text(s, first + 1));
  r->account_id = sql_col_dup(s, first + 2);
  r->stage = (MaStage)sqlite3_column_int(s, first + 3);
  return r;
}

/* Steps s (all bound) to its end, appending read(row) of every row to out, and resets it. */
static int records_collect_with(SqlDb *d, sqlite3_stmt *s, MaRecord *(*read)(sqlite3_stmt *, int), GPtrArray *out,
                                GError **error)
{
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) g_ptr_array_add(out, read(s, 0));
  sql_reset(s);
  if (rc != SQLITE_DONE) return sql_fail(d, rc, error, "record look-up");
  return 0;
}

int sql_records_collect(SqlDb *d, sqlite3_stmt *s, GPtrArray *out, GError **error)
{
  return records_collect_with(d, s, sql_record_read, out, error);
}

/* sql_records_collect for the matching look-ups, whose rows are type, id, account_id, stage. */
static int sql_record_matches_collect(SqlDb *d, sqlite3_stmt *s, GPtrArray *out, GError **error)
{
  return records_collect_with(d, s, sql_record_match_read, out, error);
}

/* ---- upsert / delete ------------------------------------------------------------------------ */

static int record_unindex(SqlDb *d, const char *enterprise_id, MaRecordType type, const char *id, GError **error)
{
  static const char *const sqls[] = {
    "DELETE FROM record_emails WHERE enterprise_id = ?1 AND type = ?2 AND record_id = ?3",
    "DELETE FROM record_domains WHERE enterprise_id = ?1 AND record_id = ?3 AND ?2 = 0",
    "DELETE FROM opportunity_contacts WHERE enterprise_id = ?1 AND opportunity_id = ?3 AND ?2 = 3",
  };
  for (guint i = 0; i < G_N_ELEMENTS(sqls); i++) {
    sqlite3_stmt *s = sql_prep(d, sqls[i], error);
    if (!s) return -1;
    sql_bind_text(s, 1, enterprise_id);
    sqlite3_bind_int(s, 2, (int)type);
    sql_bind_text(s, 3, id);
    if (sql_step_done(d, s, error, "unindex record") < 0) return -1;
  }
  return 0;
}

/* Rows of one index table: sql has ?1 enterprise, ?2 value, ?3 record id, ?4 type, ?5 extra, and
 * may name ?6 the record's account_id and ?7 its stage (copies matching reads, migration 174). */
static int record_index_list(SqlDb *d, const char *sql, const char *enterprise_id, const MaRecord *r,
                             GPtrArray *values, gboolean strip_plus_extra, GError **error)
{
  for (guint i = 0; values && i < values->len; i++) {
    const char *v = g_ptr_array_index(values, i);
    if (!v || !*v) continue;
    sqlite3_stmt *s = sql_prep(d, sql, error);
    if (!s) return -1;
    char *key = strip_plus_extra ? ma_address_key(v, FALSE) : g_ascii_strdown(v, -1);
    char *noplus = strip_plus_extra ? ma_address_key(v, TRUE) : NULL;
    sql_bind_text(s, 1, enterprise_id);
    sql_bind_text(s, 2, strip_plus_extra ? key : v);
    sql_bind_text(s, 3, r->id);
    sqlite3_bind_int(s, 4, (int)r->type);
    sql_bind_text(s, 5, noplus);
    int n_params = sqlite3_bind_parameter_count(s);
    if (n_params >= 6) sql_bind_text(s, 6, r->account_id);
    if (n_params >= 7) sqlite3_bind_int(s, 7, (int)r->stage);
    int rc = sql_step_done(d, s, error, "index record");
    g_free(key);
    g_free(noplus);
    if (rc < 0) return -1;
  }
  return 0;
}

static int record_upsert_body(SqlDb *d, const char *enterprise_id, const MaRecord *r, GError **error)
{
  if (record_unindex(d, enterprise_id, r->type, r->id, error) < 0) return -1;
  sqlite3_stmt *s = sql_prep(d,
                             "INSERT INTO records(enterprise_id, type, id, name, emails, domains, account_id,"
                             " contact_ids, stage, attributes) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                             " ON CONFLICT(enterprise_id, type, id) DO UPDATE SET name = excluded.name,"
                             " emails = excluded.emails, domains = excluded.domains, account_id = excluded.account_id,"
                             " contact_ids = excluded.contact_ids, stage = excluded.stage,"
                             " attributes = excluded.attributes",
                             error);
  if (!s) return -1;
  char *emails = sql_list_join(r->emails);
  char *domains = sql_list_join(r->type == MA_RECORD_ACCOUNT ? r->domains : NULL);
  char *contacts = sql_list_join(r->type == MA_RECORD_OPPORTUNITY ? r->contact_ids : NULL);
  sql_bind_text(s, 1, enterprise_id);
  sqlite3_bind_int(s, 2, (int)r->type);
  sql_bind_text(s, 3, r->id);
  sql_bind_text(s, 4, r->name);
  sql_bind_text(s, 5, emails);
  sql_bind_text(s, 6, domains);
  sql_bind_text(s, 7, r->account_id);
  sql_bind_text(s, 8, contacts);
  sqlite3_bind_int(s, 9, (int)r->stage);
  sql_bind_text(s, 10, r->attributes_json ? r->attributes_json : "{}");
  int rc = sql_step_done(d, s, error, "upsert record");
  g_free(emails);
  g_free(domains);
  g_free(contacts);
  if (rc < 0) return -1;
  if (record_index_list(d,
                        "INSERT OR IGNORE INTO record_emails(enterprise_id, email, record_id, type, email_noplus,"
                        " account_id) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
                        enterprise_id, r, r->emails, TRUE, error) < 0)
    return -1;
  if (r->type == MA_RECORD_ACCOUNT &&
      record_index_list(d,
                        "INSERT OR IGNORE INTO record_domains(enterprise_id, domain, record_id)"
                        " VALUES(?1, lower(?2), ?3)",
                        enterprise_id, r, r->domains, FALSE, error) < 0)
    return -1;
  if (r->type == MA_RECORD_OPPORTUNITY &&
      record_index_list(d,
                        "INSERT OR IGNORE INTO opportunity_contacts(enterprise_id, contact_id, opportunity_id,"
                        " account_id, stage) VALUES(?1, ?2, ?3, ?6, ?7)",
                        enterprise_id, r, r->contact_ids, FALSE, error) < 0)
    return -1;
  return 0;
}

int sqlite_record_upsert(void *impl, const char *enterprise_id, const MaRecord *r, GError **error)
{
  SqlDb *d = impl;
  g_assert(enterprise_id && r && r->id);
  if (sql_write_begin(d, error) < 0) return -1;
  return sql_write_end(d, record_upsert_body(d, enterprise_id, r, error), error);
}

int sqlite_record_delete(void *impl, const char *enterprise_id, MaRecordType type, const char *id, GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  int ret = -1;
  if (record_unindex(d, enterprise_id, type, id, error) == 0) {
    sqlite3_stmt *s = sql_prep(d, "DELETE FROM records WHERE enterprise_id = ? AND type = ? AND id = ?", error);
    if (s) {
      sql_bind_text(s, 1, enterprise_id);
      sqlite3_bind_int(s, 2, (int)type);
      sql_bind_text(s, 3, id);
      if (sql_step_done(d, s, error, "delete record") == 0) ret = sqlite3_changes(d->db) > 0 ? 1 : 0;
    }
  }
  return sql_write_end(d, ret, error);
}

/* ---- reads ---------------------------------------------------------------------------------- */

int sqlite_record_get(void *impl, const char *enterprise_id, MaRecordType type, const char *id, MaRecord **out,
                      GError **error)
{
  SqlDb *d = impl;
  *out = NULL;
  sqlite3_stmt *s = sql_prep(d, "SELECT " SQL_RECORD_COLS " FROM records r WHERE r.enterprise_id = ? AND r.type = ? AND r.id = ?",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, enterprise_id);
  sqlite3_bind_int(s, 2, (int)type);
  sql_bind_text(s, 3, id);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) *out = sql_record_read(s, 0);
  sql_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sql_fail(d, rc, error, "get record");
  return rc == SQLITE_ROW ? 1 : 0;
}

int sqlite_record_list(void *impl, const char *enterprise_id, MaRecordType type, const char *after_id, int limit,
                       GPtrArray *out, GError **error)
{
  SqlDb *d = impl;
  sqlite3_stmt *s = sql_prep(d,
                             "SELECT " SQL_RECORD_COLS " FROM records r WHERE r.enterprise_id = ? AND r.type = ?"
                             " AND r.id > ? ORDER BY r.id LIMIT ?",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, enterprise_id);
  sqlite3_bind_int(s, 2, (int)type);
  sql_bind_text(s, 3, after_id ? after_id : "");
  sqlite3_bind_int(s, 4, limit > 0 ? limit : -1);
  return sql_records_collect(d, s, out, error);
}

int sqlite_records_by_email(void *impl, const char *enterprise_id, const char *address_key, gboolean ignore_plus,
                            GPtrArray *out, GError **error)
{
  SqlDb *d = impl;
  /* both read one index alone, in the order they return: the table's primary key, or
   * record_emails_noplus, which holds type, record_id and account_id too (migration 174). GROUP
   * BY: two addresses of a record may share their form without "+tag" (a record has one
   * account_id; grouped in index order, where DISTINCT made SQLite build a temporary B-tree) */
  sqlite3_stmt *s = sql_prep(d,
                             ignore_plus
                                 ? "SELECT e.type, e.record_id, e.account_id, 0 FROM record_emails e"
                                   " INDEXED BY record_emails_noplus WHERE e.enterprise_id = ? AND e.email_noplus = ?"
                                   " GROUP BY e.type, e.record_id, e.account_id ORDER BY e.type, e.record_id, e.account_id"
                                 : "SELECT e.type, e.record_id, e.account_id, 0 FROM record_emails e"
                                   " WHERE e.enterprise_id = ? AND e.email = ? ORDER BY e.type, e.record_id",
                             error);
  if (!s) return -1;
  g_autofree char *folded = ma_address_key_is_folded(address_key, ignore_plus) ? NULL : ma_address_key(address_key, ignore_plus);
  sql_bind_text(s, 1, enterprise_id);
  sql_bind_text(s, 2, folded ? folded : address_key);
  return sql_record_matches_collect(d, s, out, error);
}

int sqlite_accounts_by_domain(void *impl, const char *enterprise_id, const char *domain, GPtrArray *out,
                              GError **error)
{
  SqlDb *d = impl;
  /* a record_domains row is an account's as long as the account exists (upsert and delete keep
   * them together), so the account's row is not read */
  sqlite3_stmt *s = sql_prep(d,
                             "SELECT 0, x.record_id, NULL, 0 FROM record_domains x"
                             " WHERE x.enterprise_id = ? AND x.domain = lower(?) ORDER BY x.record_id",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, enterprise_id);
  sql_bind_text(s, 2, domain);
  return sql_record_matches_collect(d, s, out, error);
}

int sqlite_opportunities_open_for_contact(void *impl, const char *enterprise_id, const char *contact_id,
                                          GPtrArray *out, GError **error)
{
  SqlDb *d = impl;
  sqlite3_stmt *s = sql_prep(d,
                             "SELECT 3, x.opportunity_id, x.account_id, x.stage FROM opportunity_contacts x"
                             " WHERE x.enterprise_id = ? AND x.contact_id = ? AND x.stage IN (0, 1) ORDER BY x.opportunity_id",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, enterprise_id);
  sql_bind_text(s, 2, contact_id);
  return sql_record_matches_collect(d, s, out, error);
}

int sqlite_opportunities_open_for_account(void *impl, const char *enterprise_id, const char *account_id,
                                          GPtrArray *out, GError **error)
{
  SqlDb *d = impl;
  /* records_by_account (enterprise_id, account_id, type, id, stage) covers the query and gives its
   * rows in id order: no sort */
  sqlite3_stmt *s = sql_prep(d,
                             "SELECT r.type, r.id, r.account_id, r.stage FROM records r INDEXED BY records_by_account"
                             " WHERE r.enterprise_id = ? AND r.account_id = ? AND r.type = 3 AND r.stage IN (0, 1)"
                             " ORDER BY r.id",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, enterprise_id);
  sql_bind_text(s, 2, account_id);
  return sql_record_matches_collect(d, s, out, error);
}
