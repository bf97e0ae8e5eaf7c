/* storage_sqlite_threads.c - SQLite backend: conversation threads. A thread is found by the
 * Message-IDs a new message refers to (through the messages table's per-enterprise Message-ID
 * index), or by normalised subject plus external-participant key within a time window.
 *
 * The rules of threading (which ids to try, the window, subject normalisation) belong to the
 * matcher; this file only stores and finds. All queries are scoped by enterprise_id.
 */
#include "sqlite_internal.h"

int sqlite_thread_find_by_message_ids(void *impl, const char *enterprise_id, const char *const *ids, guint n,
                                      char **thread_id, GError **error)
{
  SqlDb *d = impl;
  *thread_id = NULL;
  for (guint i = 0; i < n; i++) {
    if (!ids[i] || !*ids[i]) continue;
    sqlite3_stmt *s = sql_prep(d,
                               "SELECT thread_id FROM messages WHERE enterprise_id = ? AND message_id = ?"
                               " AND thread_id IS NOT NULL",
                               error);
    if (!s) return -1;
    sql_bind_text(s, 1, enterprise_id);
    sql_bind_text(s, 2, ids[i]);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) *thread_id = sql_col_dup(s, 0);
    sql_reset(s);
    if (rc == SQLITE_ROW) return 1;
    if (rc != SQLITE_DONE) return sql_fail(d, rc, error, "thread by message id");
  }
  return 0;
}

int sqlite_thread_find_by_subject(void *impl, const char *enterprise_id, const char *subject_key,
                                  const char *participants_key, gint64 since, char **thread_id, GError **error)
{
  SqlDb *d = impl;
  *thread_id = NULL;
  sqlite3_stmt *s = sql_prep(d,
                             "SELECT id FROM threads WHERE enterprise_id = ? AND subject_key = ?"
                             " AND participants_key = ? AND latest >= ? ORDER BY latest DESC, id DESC LIMIT 1",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, enterprise_id);
  sql_bind_text(s, 2, subject_key ? subject_key : "");
  sql_bind_text(s, 3, participants_key ? participants_key : "");
  sqlite3_bind_int64(s, 4, since);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) *thread_id = sql_col_dup(s, 0);
  sql_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sql_fail(d, rc, error, "thread by subject");
  return rc == SQLITE_ROW ? 1 : 0;
}

int sqlite_thread_create(void *impl, const char *enterprise_id, const char *thread_id, const char *subject_key,
                         const char *participants_key, gint64 latest, GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  int ret = -1;
  sqlite3_stmt *s = sql_prep(d,
                             "INSERT INTO threads(id, enterprise_id, subject_key, participants_key, latest)"
                             " VALUES(?, ?, ?, ?, ?)",
                             error);
  if (s) {
    sql_bind_text(s, 1, thread_id);
    sql_bind_text(s, 2, enterprise_id);
    sql_bind_text(s, 3, subject_key ? subject_key : "");
    sql_bind_text(s, 4, participants_key ? participants_key : "");
    sqlite3_bind_int64(s, 5, latest);
    int rc = sqlite3_step(s);
    sql_reset(s);
    if (rc == SQLITE_DONE)
      ret = 0;
    else if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
      g_set_error(error, MA_ERROR, MA_ERROR_NOT_FOUND, "no enterprise %s", enterprise_id);
    else if ((rc & 0xff) == SQLITE_CONSTRAINT)
      g_set_error(error, MA_ERROR, MA_ERROR_CONFLICT, "thread %s exists", thread_id);
    else
      sql_fail(d, rc, error, "create thread");
  }
  return sql_write_end(d, ret, error);
}

int sqlite_thread_touch(void *impl, const char *enterprise_id, const char *thread_id, gint64 date, GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  int ret = -1;
  sqlite3_stmt *s =
    sql_prep(d, "UPDATE threads SET latest = ? WHERE id = ? AND enterprise_id = ? AND latest < ?", error);
  if (s) {
    sqlite3_bind_int64(s, 1, date);
    sql_bind_text(s, 2, thread_id);
    sql_bind_text(s, 3, enterprise_id);
    sqlite3_bind_int64(s, 4, date);
    ret = sql_step_done(d, s, error, "touch thread");
  }
  return sql_write_end(d, ret, error);
}

int sqlite_thread_opportunity_links(void *impl, const char *enterprise_id, const char *thread_id, GPtrArray *out,
                                    GError **error)
{
  SqlDb *d = impl;
  sqlite3_stmt *s = sql_prep(d,
                             /* with MIN(), SQLite takes m.id from the row holding the earliest date */
                             "SELECT l.record_id, m.id, MIN(m.date) FROM messages m JOIN message_links l ON l.message_id = m.id"
                             " WHERE m.enterprise_id = ? AND m.thread_id = ? AND l.record_type = 3"
                             " GROUP BY l.record_id ORDER BY l.record_id",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, enterprise_id);
  sql_bind_text(s, 2, thread_id);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    MaRecordRef *ref = ma_record_ref_new(MA_RECORD_OPPORTUNITY, (const char *)sqlite3_column_text(s, 0));
    ref->reason = sql_col_dup(s, 1);
    g_ptr_array_add(out, ref);
  }
  sql_reset(s);
  if (rc != SQLITE_DONE) return sql_fail(d, rc, error, "thread opportunities");
  return 0;
}

int sqlite_thread_messages(void *impl, const char *enterprise_id, const char *thread_id, GPtrArray *out,
                           GError **error)
{
  SqlDb *d = impl;
  sqlite3_stmt *s = sql_prep(d, "SELECT id FROM messages WHERE enterprise_id = ? AND thread_id = ? ORDER BY date, id",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, enterprise_id);
  sql_bind_text(s, 2, thread_id);
  GPtrArray *ids = g_ptr_array_new_with_free_func(g_free);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) g_ptr_array_add(ids, sql_col_dup(s, 0));
  sql_reset(s);
  if (rc != SQLITE_DONE) {
    g_ptr_array_unref(ids);
    return sql_fail(d, rc, error, "thread messages");
  }
  /* The whole thread in a fixed number of queries, appended in the order of ids. */
  GHashTable *by_id = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)ma_stored_message_free);
  if (sql_messages_load_many(d, enterprise_id, ids, MA_BODIES_ALL, by_id, error) < 0) {
    g_hash_table_unref(by_id);
    g_ptr_array_unref(ids);
    return -1;
  }
  for (guint i = 0; i < ids->len; i++) {
    gpointer m = NULL;
    if (g_hash_table_steal_extended(by_id, g_ptr_array_index(ids, i), NULL, &m)) g_ptr_array_add(out, m);
  }
  g_hash_table_unref(by_id);
  g_ptr_array_unref(ids);
  return 0;
}
