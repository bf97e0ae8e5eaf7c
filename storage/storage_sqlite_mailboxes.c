/* storage_sqlite_mailboxes.c - employee mailbox bindings for the collector: the binding rows with
 * their status counters and scheduling deadline, the per-mailbox lease (one fetch at a time across
 * processes), folder checkpoints, the collected-key table whose primary key makes a replay after a
 * crash a no-op, and per-message failure counts (quarantine).
 *
 * Secrets arrive sealed and stay opaque here. Every enterprise-facing call is scoped by
 * enterprise_id; the scheduler's calls take a mailbox id it got from the admin listing.
 */
#include "sqlite_internal.h"

#include "agent/lib/clock.h"

#include <string.h>

#define MAILBOX_COLS                                                                                     \
  "id, enterprise_id, employee_id, email, username, protocol, host, port, security, auth, secret_sealed," \
  " allow_untrusted, preset, send_id, folders, archiving, state, created_at, last_sync_at, last_error_at,"  \
  " last_error, failures, next_attempt_at, fetched, archived, skipped, quarantined, smtp_host, smtp_port,"    \
  " smtp_security, sent_copy, daily_limit"

static MaMailbox *mailbox_read(sqlite3_stmt *s)
{
  MaMailbox *m = g_new0(MaMailbox, 1);
  int c = 0;
  m->id = sql_col_dup(s, c++);
  m->enterprise_id = sql_col_dup(s, c++);
  m->employee_id = sql_col_dup(s, c++);
  m->email = sql_col_dup(s, c++);
  m->username = sql_col_dup(s, c++);
  m->protocol = sql_col_dup(s, c++);
  m->host = sql_col_dup(s, c++);
  m->port = sqlite3_column_int(s, c++);
  m->security = sql_col_dup(s, c++);
  m->auth = sql_col_dup(s, c++);
  m->secret_sealed = sql_col_dup(s, c++);
  m->allow_untrusted = sqlite3_column_int(s, c++) != 0;
  m->preset = sql_col_dup(s, c++);
  m->send_id = sqlite3_column_int(s, c++) != 0;
  m->folders = sql_col_dup(s, c++);
  m->archiving = sqlite3_column_int(s, c++) != 0;
  m->state = sql_col_dup(s, c++);
  m->created_at = sqlite3_column_int64(s, c++);
  m->last_sync_at = sqlite3_column_int64(s, c++);
  m->last_error_at = sqlite3_column_int64(s, c++);
  m->last_error = sql_col_dup(s, c++);
  m->failures = sqlite3_column_int(s, c++);
  m->next_attempt_at = sqlite3_column_int64(s, c++);
  m->fetched = sqlite3_column_int64(s, c++);
  m->archived = sqlite3_column_int64(s, c++);
  m->skipped = sqlite3_column_int64(s, c++);
  m->quarantined = sqlite3_column_int64(s, c++);
  m->smtp_host = sql_col_dup(s, c++);
  m->smtp_port = sqlite3_column_int(s, c++);
  m->smtp_security = sql_col_dup(s, c++);
  m->sent_copy = sqlite3_column_int(s, c++) != 0;
  m->daily_limit = sqlite3_column_int(s, c++);
  return m;
}

int sqlite_mailbox_add(void *impl, const MaMailbox *m, GError **error)
{
  SqlDb *d = impl;
  g_assert(m && m->id && m->enterprise_id && m->email && m->username && m->protocol && m->host);
  g_assert(m->security && m->auth);
  char *email = g_utf8_strdown(m->email, -1);
  if (sql_write_begin(d, error) < 0) {
    g_free(email);
    return -1;
  }
  int ret = -1;
  sqlite3_stmt *s = sql_prep(d,
                             "INSERT INTO mailboxes(id, enterprise_id, employee_id, email, username, protocol, host,"
                             " port, security, auth, secret_sealed, allow_untrusted, preset, send_id, folders,"
                             " archiving, state, created_at, next_attempt_at, smtp_host, smtp_port, smtp_security,"
                             " sent_copy, daily_limit)"
                             " VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             error);
  if (s) {
    int c = 1;
    sql_bind_text(s, c++, m->id);
    sql_bind_text(s, c++, m->enterprise_id);
    sql_bind_text(s, c++, m->employee_id);
    sql_bind_text(s, c++, email);
    sql_bind_text(s, c++, m->username);
    sql_bind_text(s, c++, m->protocol);
    sql_bind_text(s, c++, m->host);
    sqlite3_bind_int(s, c++, m->port);
    sql_bind_text(s, c++, m->security);
    sql_bind_text(s, c++, m->auth);
    sql_bind_text(s, c++, m->secret_sealed);
    sqlite3_bind_int(s, c++, m->allow_untrusted);
    sql_bind_text(s, c++, m->preset);
    sqlite3_bind_int(s, c++, m->send_id);
    sql_bind_text(s, c++, m->folders);
    sqlite3_bind_int(s, c++, m->archiving);
    sql_bind_text(s, c++, m->state ? m->state : "active");
    sqlite3_bind_int64(s, c++, m->created_at ? m->created_at : ma_now());
    sqlite3_bind_int64(s, c++, m->next_attempt_at);
    sql_bind_text(s, c++, m->smtp_host);
    sqlite3_bind_int(s, c++, m->smtp_port);
    sql_bind_text(s, c++, m->smtp_security);
    sqlite3_bind_int(s, c++, m->sent_copy);
    sqlite3_bind_int(s, c++, m->daily_limit);
    int rc = sqlite3_step(s);
    sql_reset(s);
    if (rc == SQLITE_DONE)
      ret = 0;
    else if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
      g_set_error(error, MA_ERROR, MA_ERROR_CONFLICT, "%s is already bound on %s (%s)", email, m->host,
                  m->protocol);
    else if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
      g_set_error(error, MA_ERROR, MA_ERROR_NOT_FOUND, "no enterprise %s", m->enterprise_id);
    else
      sql_fail(d, rc, error, "add mailbox");
  }
  g_free(email);
  return sql_write_end(d, ret, error);
}

int sqlite_mailbox_get(void *impl, const char *enterprise_id, const char *id_or_email, MaMailbox **out,
                       GError **error)
{
  SqlDb *d = impl;
  *out = NULL;
  char *email = g_utf8_strdown(id_or_email, -1);
  sqlite3_stmt *s =
    enterprise_id
      ? sql_prep(d,
                 "SELECT " MAILBOX_COLS " FROM mailboxes WHERE enterprise_id = ?1 AND id = ?2"
                 " UNION ALL SELECT * FROM (SELECT " MAILBOX_COLS " FROM mailboxes"
                 " WHERE enterprise_id = ?1 AND email = ?3 ORDER BY created_at, id) LIMIT 1",
                 error)
      : sql_prep(d, "SELECT " MAILBOX_COLS " FROM mailboxes WHERE id = ?2", error);
  if (!s) {
    g_free(email);
    return -1;
  }
  if (enterprise_id) sql_bind_text(s, 1, enterprise_id);
  sql_bind_text(s, 2, id_or_email);
  if (enterprise_id) sql_bind_text(s, 3, email);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) *out = mailbox_read(s);
  sql_reset(s);
  g_free(email);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sql_fail(d, rc, error, "mailbox look-up");
  return rc == SQLITE_ROW ? 1 : 0;
}

int sqlite_mailbox_list(void *impl, const char *enterprise_id, GPtrArray *out, GError **error)
{
  SqlDb *d = impl;
  sqlite3_stmt *s =
    enterprise_id ? sql_prep(d, "SELECT " MAILBOX_COLS " FROM mailboxes WHERE enterprise_id = ? ORDER BY created_at, id",
                             error)
                  : sql_prep(d, "SELECT " MAILBOX_COLS " FROM mailboxes ORDER BY created_at, id", error);
  if (!s) return -1;
  if (enterprise_id) sql_bind_text(s, 1, enterprise_id);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) g_ptr_array_add(out, mailbox_read(s));
  sql_reset(s);
  if (rc != SQLITE_DONE) return sql_fail(d, rc, error, "list mailboxes");
  return 0;
}

int sqlite_mailbox_remove(void *impl, const char *enterprise_id, const char *id, GError **error)
{
  return sql_delete_with_grant(impl, "DELETE FROM mailboxes WHERE enterprise_id = ? AND id = ?", enterprise_id, id,
                               "mailbox", "remove mailbox", error);
}

/* Runs one UPDATE/DELETE statement in its own write unit; 1 when a row changed, 0 when none. */
static int write_changes(SqlDb *d, sqlite3_stmt *s, GError **error, const char *what)
{
  int ret = sql_step_done(d, s, error, what);
  if (ret == 0) ret = sqlite3_changes(d->db) > 0 ? 1 : 0;
  return sql_write_end(d, ret, error);
}

int sqlite_mailbox_set_state(void *impl, const char *enterprise_id, const char *id, const char *state,
                             gint64 next_attempt_at, GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  sqlite3_stmt *s = sql_prep(d,
                             "UPDATE mailboxes SET state = ?3, next_attempt_at = ?4,"
                             " failures = CASE WHEN ?3 = 'active' THEN 0 ELSE failures END"
                             " WHERE enterprise_id = ?1 AND id = ?2",
                             error);
  if (!s) return sql_write_end(d, -1, error);
  sql_bind_text(s, 1, enterprise_id);
  sql_bind_text(s, 2, id);
  sql_bind_text(s, 3, state);
  sqlite3_bind_int64(s, 4, next_attempt_at);
  return write_changes(d, s, error, "set mailbox state");
}

int sqlite_mailbox_set_secret(void *impl, const char *mailbox_id, const char *secret_sealed, GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  sqlite3_stmt *s = sql_prep(d, "UPDATE mailboxes SET secret_sealed = ? WHERE id = ?", error);
  if (!s) return sql_write_end(d, -1, error);
  sql_bind_text(s, 1, secret_sealed);
  sql_bind_text(s, 2, mailbox_id);
  return write_changes(d, s, error, "set mailbox secret") < 0 ? -1 : 0;
}

int sqlite_mailbox_report(void *impl, const char *mailbox_id, const MaMailboxSyncReport *r, GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  sqlite3_stmt *s = sql_prep(d,
                             "UPDATE mailboxes SET"
                             " last_sync_at = CASE WHEN ?2 THEN ?3 ELSE last_sync_at END,"
                             " last_error = CASE WHEN ?2 THEN NULL ELSE ?4 END,"
                             " last_error_at = CASE WHEN ?2 THEN last_error_at ELSE ?3 END,"
                             " failures = CASE WHEN ?2 THEN 0 ELSE failures + 1 END,"
                             " state = coalesce(?5, state), next_attempt_at = ?6,"
                             " fetched = fetched + ?7, archived = archived + ?8, skipped = skipped + ?9,"
                             " quarantined = quarantined + ?10"
                             " WHERE id = ?1",
                             error);
  if (!s) return sql_write_end(d, -1, error);
  sql_bind_text(s, 1, mailbox_id);
  sqlite3_bind_int(s, 2, r->ok);
  sqlite3_bind_int64(s, 3, r->now);
  sql_bind_text(s, 4, r->error_text);
  sql_bind_text(s, 5, r->new_state);
  sqlite3_bind_int64(s, 6, r->next_attempt_at);
  sqlite3_bind_int64(s, 7, r->fetched);
  sqlite3_bind_int64(s, 8, r->archived);
  sqlite3_bind_int64(s, 9, r->skipped);
  sqlite3_bind_int64(s, 10, r->quarantined);
  int rc = write_changes(d, s, error, "report mailbox sync");
  return rc < 0 ? -1 : 0;
}

int sqlite_mailbox_lease(void *impl, const char *mailbox_id, const char *owner, gint64 now, gint64 until,
                         GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  sqlite3_stmt *s = sql_prep(d,
                             "UPDATE mailboxes SET lease_owner = ?2, lease_until = ?4"
                             " WHERE id = ?1 AND (lease_owner IS NULL OR lease_owner = ?2 OR lease_until <= ?3)",
                             error);
  if (!s) return sql_write_end(d, -1, error);
  sql_bind_text(s, 1, mailbox_id);
  sql_bind_text(s, 2, owner);
  sqlite3_bind_int64(s, 3, now);
  sqlite3_bind_int64(s, 4, until);
  return write_changes(d, s, error, "take mailbox lease");
}

int sqlite_mailbox_release(void *impl, const char *mailbox_id, const char *owner, GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  sqlite3_stmt *s = sql_prep(d,
                             "UPDATE mailboxes SET lease_owner = NULL, lease_until = 0"
                             " WHERE id = ? AND lease_owner = ?",
                             error);
  if (!s) return sql_write_end(d, -1, error);
  sql_bind_text(s, 1, mailbox_id);
  sql_bind_text(s, 2, owner);
  return write_changes(d, s, error, "release mailbox lease") < 0 ? -1 : 0;
}

int sqlite_mailbox_checkpoint_get(void *impl, const char *mailbox_id, const char *folder, MaFolderCheckpoint *out,
                                  GError **error)
{
  SqlDb *d = impl;
  memset(out, 0, sizeof *out);
  sqlite3_stmt *s = sql_prep(d,
                             "SELECT uidvalidity, last_uid, highest_modseq FROM mailbox_folders"
                             " WHERE mailbox_id = ? AND folder = ?",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, mailbox_id);
  sql_bind_text(s, 2, folder);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    out->uidvalidity = (guint32)sqlite3_column_int64(s, 0);
    out->last_uid = (guint32)sqlite3_column_int64(s, 1);
    out->highest_modseq = (guint64)sqlite3_column_int64(s, 2);
  }
  sql_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sql_fail(d, rc, error, "checkpoint look-up");
  return rc == SQLITE_ROW ? 1 : 0;
}

int sqlite_mailbox_checkpoint_advance(void *impl, const char *mailbox_id, const char *folder,
                                      const MaFolderCheckpoint *cp, guint32 key_uidvalidity,
                                      const char *const *keys, guint n, GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  int ret = 0;
  for (guint i = 0; i < n && ret == 0; i++) {
    sqlite3_stmt *s = sql_prep(d,
                               "INSERT OR IGNORE INTO mailbox_keys(mailbox_id, folder, uidvalidity, key)"
                               " VALUES(?, ?, ?, ?)",
                               error);
    if (!s) {
      ret = -1;
      break;
    }
    sql_bind_text(s, 1, mailbox_id);
    sql_bind_text(s, 2, folder);
    sqlite3_bind_int64(s, 3, key_uidvalidity);
    sql_bind_text(s, 4, keys[i]);
    ret = sql_step_done(d, s, error, "record collected key");
  }
  if (ret == 0 && cp) {
    sqlite3_stmt *s = sql_prep(d,
                               "INSERT INTO mailbox_folders(mailbox_id, folder, uidvalidity, last_uid, highest_modseq)"
                               " VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(mailbox_id, folder) DO UPDATE SET"
                               " uidvalidity = ?3, last_uid = ?4, highest_modseq = ?5",
                               error);
    if (!s)
      ret = -1;
    else {
      sql_bind_text(s, 1, mailbox_id);
      sql_bind_text(s, 2, folder);
      sqlite3_bind_int64(s, 3, cp->uidvalidity);
      sqlite3_bind_int64(s, 4, cp->last_uid);
      sqlite3_bind_int64(s, 5, (sqlite3_int64)cp->highest_modseq);
      ret = sql_step_done(d, s, error, "advance checkpoint");
      if (ret == 0 && sqlite3_changes(d->db) == 0) {
        g_set_error(error, MA_ERROR, MA_ERROR_NOT_FOUND, "no mailbox %s", mailbox_id);
        ret = -1;
      }
    }
  }
  return sql_write_end(d, ret, error);
}

int sqlite_mailbox_key_seen(void *impl, const char *mailbox_id, const char *folder, guint32 uidvalidity,
                            const char *key, GError **error)
{
  SqlDb *d = impl;
  sqlite3_stmt *s = sql_prep(d,
                             "SELECT 1 FROM mailbox_keys WHERE mailbox_id = ? AND folder = ? AND uidvalidity = ?"
                             " AND key = ?",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, mailbox_id);
  sql_bind_text(s, 2, folder);
  sqlite3_bind_int64(s, 3, uidvalidity);
  sql_bind_text(s, 4, key);
  int rc = sqlite3_step(s);
  sql_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sql_fail(d, rc, error, "collected key look-up");
  return rc == SQLITE_ROW ? 1 : 0;
}

int sqlite_mailbox_failure_count(void *impl, const char *mailbox_id, const char *folder, const char *key,
                                 const char *error_text, gint64 now, int *count, GError **error)
{
  SqlDb *d = impl;
  *count = 0;
  if (sql_write_begin(d, error) < 0) return -1;
  sqlite3_stmt *s = sql_prep(d,
                             "INSERT INTO mailbox_failures(mailbox_id, folder, key, failures, last_error, updated_at)"
                             " VALUES(?1, ?2, ?3, 1, ?4, ?5) ON CONFLICT(mailbox_id, folder, key) DO UPDATE SET"
                             " failures = failures + 1, last_error = ?4, updated_at = ?5 RETURNING failures",
                             error);
  if (!s) return sql_write_end(d, -1, error);
  sql_bind_text(s, 1, mailbox_id);
  sql_bind_text(s, 2, folder);
  sql_bind_text(s, 3, key);
  sql_bind_text(s, 4, error_text);
  sqlite3_bind_int64(s, 5, now);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    *count = sqlite3_column_int(s, 0);
    rc = sqlite3_step(s);
  }
  sql_reset(s);
  int ret = rc == SQLITE_DONE ? 0 : sql_fail(d, rc, error, "count message failure");
  return sql_write_end(d, ret, error);
}

int sqlite_mailbox_quarantine(void *impl, const char *mailbox_id, const char *folder, const char *key,
                              const char *error_text, gint64 now, GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  int before = 0;
  sqlite3_stmt *s = sql_prep(d, "SELECT failures FROM mailbox_failures WHERE mailbox_id = ?1 AND folder = ?2 AND key = ?3",
                             error);
  if (!s) return sql_write_end(d, -1, error);
  sql_bind_text(s, 1, mailbox_id);
  sql_bind_text(s, 2, folder);
  sql_bind_text(s, 3, key);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    before = sqlite3_column_int(s, 0);
    rc = SQLITE_DONE;
  }
  sql_reset(s);
  if (rc != SQLITE_DONE) return sql_write_end(d, sql_fail(d, rc, error, "read message failures"), error);
  s = sql_prep(d,
               "INSERT INTO mailbox_failures(mailbox_id, folder, key, failures, last_error, updated_at)"
               " VALUES(?1, ?2, ?3, ?6, ?4, ?5) ON CONFLICT(mailbox_id, folder, key) DO UPDATE SET"
               " failures = max(failures, ?6), last_error = ?4, updated_at = ?5",
               error);
  if (!s) return sql_write_end(d, -1, error);
  sql_bind_text(s, 1, mailbox_id);
  sql_bind_text(s, 2, folder);
  sql_bind_text(s, 3, key);
  sql_bind_text(s, 4, error_text);
  sqlite3_bind_int64(s, 5, now);
  sqlite3_bind_int(s, 6, MA_MAILBOX_QUARANTINE_AFTER);
  int ret = sql_step_done(d, s, error, "quarantine message");
  if (ret == 0 && before < MA_MAILBOX_QUARANTINE_AFTER) {
    s = sql_prep(d, "UPDATE mailboxes SET quarantined = quarantined + 1 WHERE id = ?", error);
    if (!s) return sql_write_end(d, -1, error);
    sql_bind_text(s, 1, mailbox_id);
    ret = sql_step_done(d, s, error, "count quarantined message");
  }
  return sql_write_end(d, ret, error);
}

int sqlite_mailbox_states(void *impl, GHashTable *out, gint64 *quarantined, GError **error)
{
  SqlDb *d = impl;
  *quarantined = 0;
  sqlite3_stmt *s = sql_prep(d, "SELECT state, count(*), total(quarantined) FROM mailboxes GROUP BY state", error);
  if (!s) return -1;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    g_hash_table_replace(out, sql_col_dup(s, 0), GINT_TO_POINTER(sqlite3_column_int(s, 1)));
    *quarantined += sqlite3_column_int64(s, 2);
  }
  sql_reset(s);
  return rc == SQLITE_DONE ? 0 : sql_fail(d, rc, error, "count mailboxes by state");
}

int sqlite_mailbox_quarantine_list(void *impl, const char *mailbox_id, int min_failures, GPtrArray *out,
                                   GError **error)
{
  SqlDb *d = impl;
  sqlite3_stmt *s = sql_prep(d,
                             "SELECT folder, key, last_error FROM mailbox_failures"
                             " WHERE mailbox_id = ? AND failures >= ? ORDER BY updated_at, folder, key",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, mailbox_id);
  sqlite3_bind_int(s, 2, min_failures);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW)
    g_ptr_array_add(out, g_strdup_printf("%s %s: %s", (const char *)sqlite3_column_text(s, 0),
                                         (const char *)sqlite3_column_text(s, 1),
                                         sqlite3_column_text(s, 2) ? (const char *)sqlite3_column_text(s, 2) : ""));
  sql_reset(s);
  if (rc != SQLITE_DONE) return sql_fail(d, rc, error, "list quarantine");
  return 0;
}
