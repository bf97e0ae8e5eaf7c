/* storage_sqlite_pending.c - SQLite backend: the pending store of issue 16 (mail held because no
 * record matched it, for late re-matching). A held message is a row of pending_messages (its raw
 * copy is a blob, like an archived message's) and one row per external participant in
 * pending_participants, indexed by address (without +tag) and by domain, so finding the held mail
 * a record import may now match is one index probe per held participant, never a scan of the
 * archive. Deleting or purging a held message deletes its blob unless an archived message, an
 * attachment or another held message still references the same digest. Also the other half of
 * re-matching: a deleted record's links go, and mail linked to nothing leaves the archive for the
 * pending store (storage_record_unlink, storage_message_unarchive).
 */
#include "sqlite_internal.h"

#define PENDING_COLS "id, enterprise_id, raw_sha256, received_at, expires_at, reason, route, employee_id, mailbox"

static MaPending *pending_row(sqlite3_stmt *s)
{
  MaPending *p = ma_pending_new();
  p->id = sql_col_dup(s, 0);
  p->enterprise_id = sql_col_dup(s, 1);
  p->raw_sha256 = sql_col_dup(s, 2);
  p->received_at = sqlite3_column_int64(s, 3);
  p->expires_at = sqlite3_column_int64(s, 4);
  p->reason = sql_col_dup(s, 5);
  p->route = sql_col_dup(s, 6);
  p->employee_id = sql_col_dup(s, 7);
  p->mailbox = sql_col_dup(s, 8);
  return p;
}

static int pending_add_body(SqlDb *d, const MaPending *p, GError **error)
{
  sqlite3_stmt *s = sql_prep(d,
                             "INSERT OR IGNORE INTO pending_messages(" PENDING_COLS ") VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, p->id);
  sql_bind_text(s, 2, p->enterprise_id);
  sql_bind_text(s, 3, p->raw_sha256);
  sqlite3_bind_int64(s, 4, p->received_at);
  sqlite3_bind_int64(s, 5, p->expires_at);
  sql_bind_text(s, 6, p->reason);
  sql_bind_text(s, 7, p->route);
  sql_bind_text(s, 8, p->employee_id);
  sql_bind_text(s, 9, p->mailbox);
  if (sql_step_enterprise_row(d, s, p->enterprise_id, error, "hold message") < 0) return -1;
  if (sqlite3_changes(d->db) == 0) return 0; /* held already (the same raw message) */
  for (guint i = 0; p->addresses && i < p->addresses->len; i++) {
    const char *a = p->addresses->pdata[i];
    const char *at = strrchr(a, '@');
    if (!at) continue;
    s = sql_prep(d,
                 "INSERT OR IGNORE INTO pending_participants(pending_id, enterprise_id, address, address_noplus, domain)"
                 " VALUES(?, ?, ?, ?, ?)",
                 error);
    if (!s) return -1;
    g_autofree char *np = ma_address_key(a, TRUE); /* the form record_emails.email_noplus holds */
    sql_bind_text(s, 1, p->id);
    sql_bind_text(s, 2, p->enterprise_id);
    sql_bind_text(s, 3, a);
    sql_bind_text(s, 4, np);
    sql_bind_text(s, 5, at + 1);
    if (sql_step_done(d, s, error, "hold message participant") < 0) return -1;
  }
  return 1;
}

int sqlite_pending_add(void *impl, const MaPending *p, GError **error)
{
  SqlDb *d = impl;
  g_assert(p && p->id && p->enterprise_id && p->raw_sha256);
  if (sql_write_begin(d, error) < 0) return -1;
  return sql_write_end(d, pending_add_body(d, p, error), error);
}

int sqlite_messages_by_participant(void *impl, const char *enterprise_id, const char *address, const char *domain,
                                   gint64 since, GPtrArray *out, GError **error)
{
  SqlDb *d = impl;
  /* the expressions are those of the index of migration 170 (domain, then address; an address's
   * domain is its own, so both columns are probed), named and joined first (CROSS JOIN) so that
   * SQLite probes it instead of walking the enterprise's recent messages */
  sqlite3_stmt *s = sql_prep(d,
                             address ? "SELECT DISTINCT p.message_id FROM participants p INDEXED BY participants_by_domain_address"
                                       " CROSS JOIN messages m ON m.id = p.message_id"
                                       " WHERE lower(substr(p.address, instr(p.address, '@') + 1)) = substr(?2, instr(?2, '@') + 1)"
                                       " AND lower(p.address) = ?2 AND p.role <> 5 AND m.enterprise_id = ?1"
                                       " AND m.archived_at >= ?3 ORDER BY p.message_id"
                                     : "SELECT DISTINCT p.message_id FROM participants p INDEXED BY participants_by_domain_address"
                                       " CROSS JOIN messages m ON m.id = p.message_id"
                                       " WHERE lower(substr(p.address, instr(p.address, '@') + 1)) = ?2 AND p.role <> 5"
                                       " AND m.enterprise_id = ?1 AND m.archived_at >= ?3 ORDER BY p.message_id",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, enterprise_id);
  sql_bind_text(s, 2, address ? address : domain);
  sqlite3_bind_int64(s, 3, since);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) g_ptr_array_add(out, sql_col_dup(s, 0));
  sql_reset(s);
  if (rc != SQLITE_DONE) return sql_fail(d, rc, error, "messages by participant");
  return 0;
}

int sqlite_pending_candidates(void *impl, const char *enterprise_id, int limit, GPtrArray *out, GError **error)
{
  SqlDb *d = impl;
  /* per held participant: one probe of record_emails_noplus and one of record_domains' key */
  sqlite3_stmt *s = sql_prep(d,
                             "SELECT DISTINCT pp.pending_id FROM pending_participants pp WHERE pp.enterprise_id = ?1 AND ("
                             " EXISTS(SELECT 1 FROM record_emails e WHERE e.enterprise_id = ?1 AND e.email_noplus = pp.address_noplus)"
                             " OR EXISTS(SELECT 1 FROM record_domains x WHERE x.enterprise_id = ?1 AND x.domain = pp.domain))"
                             " ORDER BY pp.pending_id LIMIT ?2",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, enterprise_id);
  sqlite3_bind_int(s, 2, limit > 0 ? limit : -1);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) g_ptr_array_add(out, sql_col_dup(s, 0));
  sql_reset(s);
  if (rc != SQLITE_DONE) return sql_fail(d, rc, error, "pending candidates");
  return 0;
}

static int load_addresses(SqlDb *d, MaPending *p, GError **error)
{
  sqlite3_stmt *s = sql_prep(d, "SELECT address FROM pending_participants WHERE pending_id = ? ORDER BY address", error);
  if (!s) return -1;
  sql_bind_text(s, 1, p->id);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) g_ptr_array_add(p->addresses, sql_col_dup(s, 0));
  sql_reset(s);
  if (rc != SQLITE_DONE) return sql_fail(d, rc, error, "pending participants");
  return 0;
}

int sqlite_pending_list(void *impl, const char *enterprise_id, const char *id, int limit, GPtrArray *out,
                        GError **error)
{
  SqlDb *d = impl;
  sqlite3_stmt *s = sql_prep(d,
                             id ? "SELECT " PENDING_COLS " FROM pending_messages WHERE enterprise_id = ?1 AND id = ?2"
                                : "SELECT " PENDING_COLS " FROM pending_messages WHERE enterprise_id = ?1"
                                  " ORDER BY received_at DESC, id DESC LIMIT ?3",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, enterprise_id);
  if (id) sql_bind_text(s, 2, id);
  sqlite3_bind_int(s, 3, limit > 0 ? limit : -1);
  int rc;
  guint first = out->len;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) g_ptr_array_add(out, pending_row(s));
  sql_reset(s);
  if (rc != SQLITE_DONE) return sql_fail(d, rc, error, "pending list");
  for (guint i = first; i < out->len; i++)
    if (load_addresses(d, out->pdata[i], error) < 0) return -1;
  return 0;
}

/* Deletes the blobs in temp.pending_doomed that nothing references any more. */
static int drop_doomed_blobs(SqlDb *d, GError **error)
{
  sqlite3_stmt *s = sql_prep(d,
                             "DELETE FROM blobs WHERE sha256 IN (SELECT sha256 FROM temp.pending_doomed)"
                             " AND NOT EXISTS (SELECT 1 FROM messages WHERE raw_sha256 = blobs.sha256)"
                             " AND NOT EXISTS (SELECT 1 FROM attachments WHERE sha256 = blobs.sha256)"
                             " AND NOT EXISTS (SELECT 1 FROM pending_messages WHERE raw_sha256 = blobs.sha256)",
                             error);
  if (!s || sql_step_done(d, s, error, "drop held blobs") < 0) return -1;
  s = sql_prep(d, "DELETE FROM temp.pending_doomed", error);
  return s ? sql_step_done(d, s, error, "drop held blobs") : -1;
}

static int doomed_table(SqlDb *d, GError **error)
{
  sqlite3_stmt *s = sql_prep(d, "CREATE TEMP TABLE IF NOT EXISTS pending_doomed(sha256 TEXT PRIMARY KEY) WITHOUT ROWID",
                             error);
  return s ? sql_step_done(d, s, error, "drop held blobs") : -1;
}

static int pending_delete_body(SqlDb *d, const char *enterprise_id, const char *id, GError **error)
{
  if (doomed_table(d, error) < 0) return -1;
  sqlite3_stmt *s = sql_prep(d,
                             "INSERT OR IGNORE INTO temp.pending_doomed SELECT raw_sha256 FROM pending_messages"
                             " WHERE enterprise_id = ? AND id = ?",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, enterprise_id);
  sql_bind_text(s, 2, id);
  if (sql_step_done(d, s, error, "delete held message") < 0) return -1;
  s = sql_prep(d, "DELETE FROM pending_messages WHERE enterprise_id = ? AND id = ?", error);
  if (!s) return -1;
  sql_bind_text(s, 1, enterprise_id);
  sql_bind_text(s, 2, id);
  if (sql_step_done(d, s, error, "delete held message") < 0) return -1;
  int n = sqlite3_changes(d->db);
  s = sql_prep(d, "DELETE FROM pending_participants WHERE enterprise_id = ? AND pending_id = ?", error);
  if (!s) return -1;
  sql_bind_text(s, 1, enterprise_id);
  sql_bind_text(s, 2, id);
  if (sql_step_done(d, s, error, "delete held message") < 0 || drop_doomed_blobs(d, error) < 0) return -1;
  return n > 0 ? 1 : 0;
}

int sql_pending_delete(SqlDb *d, const char *enterprise_id, const char *id, GError **error)
{
  return pending_delete_body(d, enterprise_id, id, error);
}

int sqlite_pending_delete(void *impl, const char *enterprise_id, const char *id, GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  return sql_write_end(d, pending_delete_body(d, enterprise_id, id, error), error);
}

static int pending_purge_body(SqlDb *d, gint64 now, gint64 *purged, GError **error)
{
  if (doomed_table(d, error) < 0) return -1;
  sqlite3_stmt *s = sql_prep(d, "INSERT OR IGNORE INTO temp.pending_doomed SELECT raw_sha256 FROM pending_messages"
                                " WHERE expires_at <= ?", error);
  if (!s) return -1;
  sqlite3_bind_int64(s, 1, now);
  if (sql_step_done(d, s, error, "purge held mail") < 0) return -1;
  s = sql_prep(d, "DELETE FROM pending_participants WHERE pending_id IN (SELECT id FROM pending_messages WHERE expires_at <= ?)",
               error);
  if (!s) return -1;
  sqlite3_bind_int64(s, 1, now);
  if (sql_step_done(d, s, error, "purge held mail") < 0) return -1;
  s = sql_prep(d, "DELETE FROM pending_messages WHERE expires_at <= ?", error);
  if (!s) return -1;
  sqlite3_bind_int64(s, 1, now);
  if (sql_step_done(d, s, error, "purge held mail") < 0) return -1;
  *purged = sqlite3_changes(d->db);
  return drop_doomed_blobs(d, error);
}

int sqlite_pending_purge(void *impl, gint64 now, gint64 *purged, GError **error)
{
  SqlDb *d = impl;
  *purged = 0;
  if (sql_write_begin(d, error) < 0) return -1;
  return sql_write_end(d, pending_purge_body(d, now, purged, error), error);
}

int sqlite_work_counters(void *impl, gboolean reset, gint64 *steps, gint64 *full_scans, GError **error)
{
  SqlDb *d = impl;
  (void) error;
  *steps = *full_scans = 0;
  /* every statement of the handle is cached (sql_prep), so they are all still there to ask */
  for (sqlite3_stmt *s = sqlite3_next_stmt(d->db, NULL); s; s = sqlite3_next_stmt(d->db, s)) {
    *steps += sqlite3_stmt_status(s, SQLITE_STMTSTATUS_VM_STEP, reset);
    *full_scans += sqlite3_stmt_status(s, SQLITE_STMTSTATUS_FULLSCAN_STEP, reset);
  }
  return 0;
}

/* ---- a deleted record (late re-matching's other half) ------------------------------------------ */

static int unlink_body(SqlDb *d, const char *enterprise_id, const MaRecordRef *ref, GPtrArray *orphans, GError **error)
{
  /* the record's messages, from its timeline (keyed by record), before its rows go */
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);
  sqlite3_stmt *s = sql_prep(d,
                             "SELECT message_id FROM timeline WHERE enterprise_id = ? AND record_type = ? AND record_id = ?"
                             " AND kind = 0",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, enterprise_id);
  sqlite3_bind_int(s, 2, (int) ref->type);
  sql_bind_text(s, 3, ref->id);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) g_ptr_array_add(ids, sql_col_dup(s, 0));
  sql_reset(s);
  if (rc != SQLITE_DONE) return sql_fail(d, rc, error, "unlink record");
  s = sql_prep(d, "DELETE FROM timeline WHERE enterprise_id = ? AND record_type = ? AND record_id = ?", error);
  if (!s) return -1;
  sql_bind_text(s, 1, enterprise_id);
  sqlite3_bind_int(s, 2, (int) ref->type);
  sql_bind_text(s, 3, ref->id);
  if (sql_step_done(d, s, error, "unlink record") < 0) return -1;
  for (guint i = 0; i < ids->len; i++) {
    s = sql_prep(d, "DELETE FROM message_links WHERE message_id = ? AND record_type = ? AND record_id = ? AND enterprise_id = ?",
                 error);
    if (!s) return -1;
    sql_bind_text(s, 1, ids->pdata[i]);
    sqlite3_bind_int(s, 2, (int) ref->type);
    sql_bind_text(s, 3, ref->id);
    sql_bind_text(s, 4, enterprise_id);
    if (sql_step_done(d, s, error, "unlink record") < 0 ||
        sql_timeline_rows_refresh(d, enterprise_id, ids->pdata[i], error) < 0) /* its other rows' links */
      return -1;
    s = sql_prep(d, "SELECT EXISTS(SELECT 1 FROM message_links WHERE message_id = ?)", error);
    if (!s) return -1;
    sql_bind_text(s, 1, ids->pdata[i]);
    rc = sqlite3_step(s);
    gboolean linked = rc == SQLITE_ROW && sqlite3_column_int(s, 0) != 0;
    sql_reset(s);
    if (rc != SQLITE_ROW) return sql_fail(d, rc, error, "unlink record");
    if (!linked && orphans) g_ptr_array_add(orphans, g_strdup(ids->pdata[i]));
  }
  return (int) ids->len;
}

int sqlite_record_unlink(void *impl, const char *enterprise_id, const MaRecordRef *ref, GPtrArray *orphans,
                         GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  return sql_write_end(d, unlink_body(d, enterprise_id, ref, orphans, error), error);
}

static int unarchive_body(SqlDb *d, const char *enterprise_id, const char *message_id, const MaPending *hold,
                          GError **error)
{
  if (sql_search_flush(d, error) < 0) return -1; /* search_forget unindexes what must be indexed */
  if (doomed_table(d, error) < 0) return -1;
  if (hold && pending_add_body(d, hold, error) < 0) return -1;
  sqlite3_stmt *s = sql_prep(d,
                             "INSERT OR IGNORE INTO temp.pending_doomed SELECT raw_sha256 FROM messages"
                             " WHERE id = ?1 AND enterprise_id = ?2 AND raw_sha256 IS NOT NULL"
                             " UNION SELECT sha256 FROM attachments WHERE message_id = ?1",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, message_id);
  sql_bind_text(s, 2, enterprise_id);
  if (sql_step_done(d, s, error, "unarchive message") < 0) return -1;
  /* the timeline rows by their keys (a delete by message_id alone would read the enterprise's
   * whole timeline), then the message: participants, attachments, links, activities cascade */
  gint64 timeline_rows = 0;
  if (sql_timeline_forget(d, enterprise_id, message_id, &timeline_rows, error) < 0) return -1;
  s = sql_prep(d, "DELETE FROM messages WHERE id = ?1 AND enterprise_id = ?2", error);
  if (!s) return -1;
  sql_bind_text(s, 1, message_id);
  sql_bind_text(s, 2, enterprise_id);
  if (sql_step_done(d, s, error, "unarchive message") < 0) return -1;
  int n = sqlite3_changes(d->db);
  if (drop_doomed_blobs(d, error) < 0) return -1;
  return n > 0 ? 1 : 0;
}

int sqlite_message_unarchive(void *impl, const char *enterprise_id, const char *message_id, const MaPending *hold,
                             GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  return sql_write_end(d, unarchive_body(d, enterprise_id, message_id, hold, error), error);
}
