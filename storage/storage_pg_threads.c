/* storage_pg_threads.c - PostgreSQL backend: conversation threads, found by the Message-IDs a new
 * message refers to or by subject and participants within a window; the same contracts and results
 * as storage_sqlite_threads.c. The rules of threading belong to the matcher; this file only stores
 * and finds. All queries are scoped by enterprise_id.
 */
#include "pg_internal.h"

static int one_id(PGresult *r, char **out)
{
  if (!r) return -1;
  int found = PQntuples(r) > 0;
  if (found) *out = pg_col_dup(r, 0, 0);
  PQclear(r);
  return found;
}

int pg_thread_find_by_message_ids(void *impl, const char *enterprise_id, const char *const *ids, guint n,
                                  char **thread_id, GError **error)
{
  *thread_id = NULL;
  /* the first of ids (in their order) that names a threaded message wins */
  for (guint i = 0; i < n; i++) {
    if (!ids[i] || !*ids[i]) continue;
    PgParams p = {0};
    pg_param_text(&p, enterprise_id);
    pg_param_text(&p, ids[i]);
    int found = one_id(pg_run(impl,
                              "SELECT thread_id FROM messages WHERE enterprise_id = $1 AND message_id = $2"
                              " AND thread_id IS NOT NULL",
                              &p, "thread by message id", error),
                       thread_id);
    if (found != 0) return found;
  }
  return 0;
}

int pg_thread_find_by_subject(void *impl, const char *enterprise_id, const char *subject_key,
                              const char *participants_key, gint64 since, char **thread_id, GError **error)
{
  *thread_id = NULL;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, subject_key ? subject_key : "");
  pg_param_text(&p, participants_key ? participants_key : "");
  pg_param_int(&p, since);
  return one_id(pg_run(impl,
                       "SELECT id FROM threads WHERE enterprise_id = $1 AND subject_key = $2 AND participants_key = $3"
                       " AND latest >= $4 ORDER BY latest DESC, id DESC LIMIT 1",
                       &p, "thread by subject", error),
                thread_id);
}

int pg_thread_create(void *impl, const char *enterprise_id, const char *thread_id, const char *subject_key,
                     const char *participants_key, gint64 latest, GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_text(&p, thread_id);
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, subject_key ? subject_key : "");
  pg_param_text(&p, participants_key ? participants_key : "");
  pg_param_int(&p, latest);
  if (pg_write_begin(d, error) < 0) return -1;
  GError *local = NULL;
  int rc = pg_exec_enterprise_row(d,
                                  "INSERT INTO threads(id, enterprise_id, subject_key, participants_key, latest)"
                                  " VALUES($1, $2, $3, $4, $5)",
                                  &p, enterprise_id, "create thread", &local) < 0 ? -1 : 0;
  if (rc < 0 && local->code == MA_ERROR_CONFLICT) {
    g_clear_error(&local);
    g_set_error(&local, MA_ERROR, MA_ERROR_CONFLICT, "thread %s exists", thread_id);
  }
  if (local) g_propagate_error(error, local);
  return pg_write_end(d, rc, error);
}

int pg_thread_touch(void *impl, const char *enterprise_id, const char *thread_id, gint64 date, GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_int(&p, date);
  pg_param_text(&p, thread_id);
  pg_param_text(&p, enterprise_id);
  if (pg_write_begin(d, error) < 0) return -1;
  int rc = pg_exec(d, "UPDATE threads SET latest = $1 WHERE id = $2 AND enterprise_id = $3 AND latest < $1", &p,
                   "touch thread", error) < 0 ? -1 : 0;
  return pg_write_end(d, rc, error);
}

int pg_thread_opportunity_links(void *impl, const char *enterprise_id, const char *thread_id, GPtrArray *out,
                                GError **error)
{
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, thread_id);
  /* each opportunity with the thread's earliest message linked to it (ties: the smallest id) */
  PGresult *r = pg_run(impl,
                       "SELECT DISTINCT ON (l.record_id) l.record_id, m.id FROM messages m"
                       " JOIN message_links l ON l.message_id = m.id"
                       " WHERE m.enterprise_id = $1 AND m.thread_id = $2 AND l.record_type = 3"
                       " ORDER BY l.record_id, m.date, m.id",
                       &p, "thread opportunities", error);
  if (!r) return -1;
  for (int i = 0; i < PQntuples(r); i++) {
    MaRecordRef *ref = ma_record_ref_new(MA_RECORD_OPPORTUNITY, PQgetvalue(r, i, 0));
    ref->reason = pg_col_dup(r, i, 1);
    g_ptr_array_add(out, ref);
  }
  PQclear(r);
  return 0;
}

int pg_thread_messages(void *impl, const char *enterprise_id, const char *thread_id, GPtrArray *out, GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, thread_id);
  PGresult *r = pg_run(d, "SELECT id FROM messages WHERE enterprise_id = $1 AND thread_id = $2 ORDER BY date, id", &p,
                       "thread messages", error);
  if (!r) return -1;
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);
  for (int i = 0; i < PQntuples(r); i++) g_ptr_array_add(ids, pg_col_dup(r, i, 0));
  PQclear(r);
  /* the whole thread in a fixed number of statements, appended in the order of ids */
  GHashTable *by_id = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)ma_stored_message_free);
  int rc = pg_messages_load_many(d, enterprise_id, ids, MA_BODIES_ALL, by_id, error);
  for (guint i = 0; rc == 0 && i < ids->len; i++) {
    gpointer m = NULL;
    if (g_hash_table_steal_extended(by_id, g_ptr_array_index(ids, i), NULL, &m)) g_ptr_array_add(out, m);
  }
  g_hash_table_unref(by_id);
  return rc;
}
