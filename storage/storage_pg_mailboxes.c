/* storage_pg_mailboxes.c - PostgreSQL backend: employee mailbox bindings for the collector; the same
 * contracts and results as storage_sqlite_mailboxes.c: the binding rows with their status counters
 * and scheduling deadline, the per-mailbox lease, folder checkpoints, the collected keys whose
 * primary key makes a replay after a crash a no-op, and per-message failure counts (quarantine).
 *
 * Many nodes share these rows, so every once-only step is decided by the database: the lease is
 * one conditional UPDATE (free, ours, or expired: a dead node's lease is taken over once it ends),
 * failure counts are one upsert returning the new count, and a message crosses into quarantine in
 * exactly one transaction (a conditional UPDATE or an insert that wins its conflict). Secrets
 * arrive sealed and stay opaque; they are never logged.
 */
#include "pg_internal.h"

#include "agent/lib/clock.h"

#include <string.h>

#define MAILBOX_COLS                                                                                     \
  "id, enterprise_id, employee_id, email, username, protocol, host, port, security, auth, secret_sealed," \
  " allow_untrusted, preset, send_id, folders, archiving, state, created_at, last_sync_at, last_error_at,"  \
  " last_error, failures, next_attempt_at, fetched, archived, skipped, quarantined, smtp_host, smtp_port,"    \
  " smtp_security, sent_copy, daily_limit"

static gboolean col_bool(const PGresult *r, int row, int col)
{
  return g_strcmp0(PQgetvalue(r, row, col), "t") == 0;
}

static MaMailbox *mailbox_read(const PGresult *r, int row)
{
  MaMailbox *m = g_new0(MaMailbox, 1);
  int c = 0;
  m->id = pg_col_dup(r, row, c++);
  m->enterprise_id = pg_col_dup(r, row, c++);
  m->employee_id = pg_col_dup(r, row, c++);
  m->email = pg_col_dup(r, row, c++);
  m->username = pg_col_dup(r, row, c++);
  m->protocol = pg_col_dup(r, row, c++);
  m->host = pg_col_dup(r, row, c++);
  m->port = (int)pg_col_int(r, row, c++);
  m->security = pg_col_dup(r, row, c++);
  m->auth = pg_col_dup(r, row, c++);
  m->secret_sealed = pg_col_dup(r, row, c++);
  m->allow_untrusted = col_bool(r, row, c++);
  m->preset = pg_col_dup(r, row, c++);
  m->send_id = col_bool(r, row, c++);
  m->folders = pg_col_dup(r, row, c++);
  m->archiving = col_bool(r, row, c++);
  m->state = pg_col_dup(r, row, c++);
  m->created_at = pg_col_int(r, row, c++);
  m->last_sync_at = pg_col_int(r, row, c++);
  m->last_error_at = pg_col_int(r, row, c++);
  m->last_error = pg_col_dup(r, row, c++);
  m->failures = (int)pg_col_int(r, row, c++);
  m->next_attempt_at = pg_col_int(r, row, c++);
  m->fetched = pg_col_int(r, row, c++);
  m->archived = pg_col_int(r, row, c++);
  m->skipped = pg_col_int(r, row, c++);
  m->quarantined = pg_col_int(r, row, c++);
  m->smtp_host = pg_col_dup(r, row, c++);
  m->smtp_port = (int)pg_col_int(r, row, c++);
  m->smtp_security = pg_col_dup(r, row, c++);
  m->sent_copy = col_bool(r, row, c++);
  m->daily_limit = (int)pg_col_int(r, row, c++);
  return m;
}

static void param_bool(PgParams *p, gboolean v)
{
  pg_param_text(p, v ? "true" : "false");
}

int pg_mailbox_add(void *impl, const MaMailbox *m, GError **error)
{
  PgDb *d = impl;
  g_assert(m && m->id && m->enterprise_id && m->email && m->username && m->protocol && m->host);
  g_assert(m->security && m->auth);
  g_autofree char *email = g_utf8_strdown(m->email, -1);
  PgParams p = {0};
  pg_param_text(&p, m->id);
  pg_param_text(&p, m->enterprise_id);
  pg_param_text(&p, m->employee_id);
  pg_param_text(&p, email);
  pg_param_text(&p, m->username);
  pg_param_text(&p, m->protocol);
  pg_param_text(&p, m->host);
  pg_param_int(&p, m->port);
  pg_param_text(&p, m->security);
  pg_param_text(&p, m->auth);
  pg_param_text(&p, m->secret_sealed);
  param_bool(&p, m->allow_untrusted);
  pg_param_text(&p, m->preset);
  param_bool(&p, m->send_id);
  pg_param_text(&p, m->folders);
  param_bool(&p, m->archiving);
  pg_param_text(&p, m->state ? m->state : "active");
  pg_param_int(&p, m->created_at ? m->created_at : ma_now());
  pg_param_int(&p, m->next_attempt_at);
  pg_param_text(&p, m->smtp_host);
  pg_param_int(&p, m->smtp_port);
  pg_param_text(&p, m->smtp_security);
  param_bool(&p, m->sent_copy);
  pg_param_int(&p, m->daily_limit);
  if (pg_write_begin(d, error) < 0) return -1;
  GError *local = NULL;
  gint64 n = pg_exec_enterprise_row(d,
                                    "INSERT INTO mailboxes(id, enterprise_id, employee_id, email, username, protocol, host,"
                                    " port, security, auth, secret_sealed, allow_untrusted, preset, send_id, folders,"
                                    " archiving, state, created_at, next_attempt_at, smtp_host, smtp_port, smtp_security,"
                                    " sent_copy, daily_limit) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,"
                                    " $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)",
                                    &p, m->enterprise_id, "add mailbox", &local);
  if (n < 0 && local->code == MA_ERROR_CONFLICT) {
    g_clear_error(&local);
    g_set_error(&local, MA_ERROR, MA_ERROR_CONFLICT, "%s is already bound on %s (%s)", email, m->host, m->protocol);
  }
  if (local) g_propagate_error(error, local);
  return pg_write_end(d, n < 0 ? -1 : 0, error);
}

static int mailboxes_collect(PGresult *r, GPtrArray *out)
{
  if (!r) return -1;
  for (int i = 0; i < PQntuples(r); i++) g_ptr_array_add(out, mailbox_read(r, i));
  PQclear(r);
  return 0;
}

int pg_mailbox_get(void *impl, const char *enterprise_id, const char *id_or_email, MaMailbox **out, GError **error)
{
  PgDb *d = impl;
  *out = NULL;
  g_autofree char *email = g_utf8_strdown(id_or_email, -1);
  PgParams p = {0};
  pg_param_text(&p, id_or_email);
  PGresult *r;
  if (enterprise_id) {
    pg_param_text(&p, enterprise_id);
    pg_param_text(&p, email);
    /* the id first; else the oldest binding of the address */
    r = pg_run(d,
               "SELECT " MAILBOX_COLS " FROM mailboxes WHERE enterprise_id = $2 AND (id = $1 OR email = $3)"
               " ORDER BY id = $1 DESC, created_at, id LIMIT 1",
               &p, "mailbox look-up", error);
  } else {
    r = pg_run(d, "SELECT " MAILBOX_COLS " FROM mailboxes WHERE id = $1", &p, "mailbox look-up", error);
  }
  if (!r) return -1;
  if (PQntuples(r) > 0) *out = mailbox_read(r, 0);
  PQclear(r);
  return *out ? 1 : 0;
}

int pg_mailbox_list(void *impl, const char *enterprise_id, GPtrArray *out, GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  return mailboxes_collect(pg_run(d,
                                  "SELECT " MAILBOX_COLS " FROM mailboxes WHERE $1::text IS NULL OR enterprise_id = $1"
                                  " ORDER BY created_at, id",
                                  &p, "list mailboxes", error),
                           out);
}

int pg_mailbox_remove(void *impl, const char *enterprise_id, const char *id, GError **error)
{
  /* checkpoints, keys and failures go with the row (ON DELETE CASCADE), the grant by its owner */
  return pg_delete_with_grant(impl, "DELETE FROM mailboxes WHERE enterprise_id = $1 AND id = $2", enterprise_id, id,
                              "mailbox", "remove mailbox", error);
}

int pg_mailbox_set_state(void *impl, const char *enterprise_id, const char *id, const char *state,
                         gint64 next_attempt_at, GError **error)
{
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, id);
  pg_param_text(&p, state);
  pg_param_int(&p, next_attempt_at);
  return pg_write_changed(impl,
                   "UPDATE mailboxes SET state = $3, next_attempt_at = $4,"
                   " failures = CASE WHEN $3 = 'active' THEN 0 ELSE failures END"
                   " WHERE enterprise_id = $1 AND id = $2",
                   &p, "set mailbox state", error);
}

int pg_mailbox_set_secret(void *impl, const char *mailbox_id, const char *secret_sealed, GError **error)
{
  PgParams p = {0};
  pg_param_text(&p, secret_sealed);
  pg_param_text(&p, mailbox_id);
  return pg_write_changed(impl, "UPDATE mailboxes SET secret_sealed = $1 WHERE id = $2", &p, "set mailbox secret", error) < 0
           ? -1
           : 0;
}

int pg_mailbox_report(void *impl, const char *mailbox_id, const MaMailboxSyncReport *r, GError **error)
{
  PgParams p = {0};
  pg_param_text(&p, mailbox_id);
  param_bool(&p, r->ok);
  pg_param_int(&p, r->now);
  pg_param_text(&p, r->error_text);
  pg_param_text(&p, r->new_state);
  pg_param_int(&p, r->next_attempt_at);
  pg_param_int(&p, r->fetched);
  pg_param_int(&p, r->archived);
  pg_param_int(&p, r->skipped);
  pg_param_int(&p, r->quarantined);
  return pg_write_changed(impl,
                   "UPDATE mailboxes SET"
                   " last_sync_at = CASE WHEN $2 THEN $3 ELSE last_sync_at END,"
                   " last_error = CASE WHEN $2 THEN NULL ELSE $4 END,"
                   " last_error_at = CASE WHEN $2 THEN last_error_at ELSE $3 END,"
                   " failures = CASE WHEN $2 THEN 0 ELSE failures + 1 END,"
                   " state = coalesce($5, state), next_attempt_at = $6,"
                   " fetched = fetched + $7, archived = archived + $8, skipped = skipped + $9,"
                   " quarantined = quarantined + $10"
                   " WHERE id = $1",
                   &p, "report mailbox sync", error) < 0
           ? -1
           : 0;
}

/* The row lock of the UPDATE serialises two nodes asking at once: the second re-reads the row
 * after the first commits and finds the lease taken (0), unless it has expired by its `now`. */
int pg_mailbox_lease(void *impl, const char *mailbox_id, const char *owner, gint64 now, gint64 until, GError **error)
{
  PgParams p = {0};
  pg_param_text(&p, mailbox_id);
  pg_param_text(&p, owner);
  pg_param_int(&p, now);
  pg_param_int(&p, until);
  return pg_write_changed(impl,
                   "UPDATE mailboxes SET lease_owner = $2, lease_until = $4"
                   " WHERE id = $1 AND (lease_owner IS NULL OR lease_owner = $2 OR lease_until <= $3)",
                   &p, "take mailbox lease", error);
}

int pg_mailbox_release(void *impl, const char *mailbox_id, const char *owner, GError **error)
{
  PgParams p = {0};
  pg_param_text(&p, mailbox_id);
  pg_param_text(&p, owner);
  return pg_write_changed(impl, "UPDATE mailboxes SET lease_owner = NULL, lease_until = 0 WHERE id = $1 AND lease_owner = $2",
                   &p, "release mailbox lease", error) < 0
           ? -1
           : 0;
}

int pg_mailbox_checkpoint_get(void *impl, const char *mailbox_id, const char *folder, MaFolderCheckpoint *out,
                              GError **error)
{
  PgDb *d = impl;
  memset(out, 0, sizeof *out);
  PgParams p = {0};
  pg_param_text(&p, mailbox_id);
  pg_param_text(&p, folder);
  PGresult *r = pg_run(d,
                       "SELECT uidvalidity, last_uid, highest_modseq FROM mailbox_folders"
                       " WHERE mailbox_id = $1 AND folder = $2",
                       &p, "checkpoint look-up", error);
  if (!r) return -1;
  int found = PQntuples(r) > 0;
  if (found) {
    out->uidvalidity = (guint32)pg_col_int(r, 0, 0);
    out->last_uid = (guint32)pg_col_int(r, 0, 1);
    out->highest_modseq = (guint64)pg_col_int(r, 0, 2);
  }
  PQclear(r);
  return found;
}

int pg_mailbox_checkpoint_advance(void *impl, const char *mailbox_id, const char *folder, const MaFolderCheckpoint *cp,
                                  guint32 key_uidvalidity, const char *const *keys, guint n, GError **error)
{
  PgDb *d = impl;
  /* the keys cross in one parameter (UIDs and UIDL values never hold the list separator) */
  g_autoptr(GPtrArray) list = g_ptr_array_new();
  for (guint i = 0; i < n; i++) g_ptr_array_add(list, (char *)keys[i]);
  g_autofree char *joined = sql_list_join(list);
  if (pg_write_begin(d, error) < 0) return -1;
  int ret = 0;
  if (n > 0) {
    PgParams p = {0};
    pg_param_text(&p, mailbox_id);
    pg_param_text(&p, folder);
    pg_param_int(&p, key_uidvalidity);
    pg_param_text(&p, joined);
    if (pg_exec(d,
                "INSERT INTO mailbox_keys(mailbox_id, folder, uidvalidity, key)"
                " SELECT $1, $2, $3, k FROM unnest(string_to_array($4, E'\\x1f')) AS k"
                " ON CONFLICT DO NOTHING",
                &p, "record collected keys", error) < 0)
      ret = -1;
  }
  if (ret == 0 && cp) {
    PgParams p = {0};
    pg_param_text(&p, mailbox_id);
    pg_param_text(&p, folder);
    pg_param_int(&p, cp->uidvalidity);
    pg_param_int(&p, cp->last_uid);
    pg_param_int(&p, (gint64)cp->highest_modseq);
    GError *local = NULL;
    if (pg_exec(d,
                "INSERT INTO mailbox_folders(mailbox_id, folder, uidvalidity, last_uid, highest_modseq)"
                " VALUES($1, $2, $3, $4, $5) ON CONFLICT(mailbox_id, folder) DO UPDATE SET"
                " uidvalidity = $3, last_uid = $4, highest_modseq = $5",
                &p, "advance checkpoint", &local) < 0) {
      if (local->code == MA_ERROR_NOT_FOUND) { /* the foreign key: no such mailbox */
        g_clear_error(&local);
        g_set_error(&local, MA_ERROR, MA_ERROR_NOT_FOUND, "no mailbox %s", mailbox_id);
      }
      g_propagate_error(error, local);
      ret = -1;
    }
  }
  return pg_write_end(d, ret, error);
}

int pg_mailbox_key_seen(void *impl, const char *mailbox_id, const char *folder, guint32 uidvalidity, const char *key,
                        GError **error)
{
  PgParams p = {0};
  pg_param_text(&p, mailbox_id);
  pg_param_text(&p, folder);
  pg_param_int(&p, uidvalidity);
  pg_param_text(&p, key);
  PGresult *r = pg_run(impl,
                       "SELECT 1 FROM mailbox_keys WHERE mailbox_id = $1 AND folder = $2 AND uidvalidity = $3 AND key = $4",
                       &p, "collected key look-up", error);
  if (!r) return -1;
  int found = PQntuples(r) > 0;
  PQclear(r);
  return found;
}

int pg_mailbox_failure_count(void *impl, const char *mailbox_id, const char *folder, const char *key,
                             const char *error_text, gint64 now, int *count, GError **error)
{
  PgDb *d = impl;
  *count = 0;
  PgParams p = {0};
  pg_param_text(&p, mailbox_id);
  pg_param_text(&p, folder);
  pg_param_text(&p, key);
  pg_param_text(&p, error_text);
  pg_param_int(&p, now);
  if (pg_write_begin(d, error) < 0) return -1;
  PGresult *r = pg_run(d,
                       "INSERT INTO mailbox_failures(mailbox_id, folder, key, failures, last_error, updated_at)"
                       " VALUES($1, $2, $3, 1, $4, $5) ON CONFLICT(mailbox_id, folder, key) DO UPDATE SET"
                       " failures = mailbox_failures.failures + 1, last_error = $4, updated_at = $5 RETURNING failures",
                       &p, "count message failure", error);
  if (r) {
    *count = (int)pg_col_int(r, 0, 0);
    PQclear(r);
  }
  return pg_write_end(d, r ? 0 : -1, error);
}

/* The message crosses into quarantine in exactly one transaction, also when two nodes park it at
 * once: either the UPDATE that lifts a count below the threshold (the row lock makes the second
 * one find it lifted) or the INSERT that wins the primary key does; only that one counts it in
 * the binding's quarantined total. */
int pg_mailbox_quarantine(void *impl, const char *mailbox_id, const char *folder, const char *key,
                          const char *error_text, gint64 now, GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_text(&p, mailbox_id);
  pg_param_text(&p, folder);
  pg_param_text(&p, key);
  pg_param_text(&p, error_text);
  pg_param_int(&p, now);
  pg_param_int(&p, MA_MAILBOX_QUARANTINE_AFTER);
  if (pg_write_begin(d, error) < 0) return -1;
  gint64 crossed = pg_exec(d,
                           "UPDATE mailbox_failures SET failures = $6, last_error = $4, updated_at = $5"
                           " WHERE mailbox_id = $1 AND folder = $2 AND key = $3 AND failures < $6",
                           &p, "quarantine message", error);
  if (crossed == 0)
    crossed = pg_exec(d,
                      "INSERT INTO mailbox_failures(mailbox_id, folder, key, failures, last_error, updated_at)"
                      " VALUES($1, $2, $3, $6, $4, $5) ON CONFLICT DO NOTHING",
                      &p, "quarantine message", error);
  if (crossed == 0) { /* quarantined already: only the latest error and time */
    PgParams again = p;
    again.n = 5;
    if (pg_exec(d,
                "UPDATE mailbox_failures SET last_error = $4, updated_at = $5"
                " WHERE mailbox_id = $1 AND folder = $2 AND key = $3",
                &again, "quarantine message", error) < 0)
      crossed = -1;
  }
  if (crossed > 0) {
    PgParams m = {0};
    pg_param_text(&m, mailbox_id);
    if (pg_exec(d, "UPDATE mailboxes SET quarantined = quarantined + 1 WHERE id = $1", &m, "count quarantined message",
                error) < 0)
      crossed = -1;
  }
  return pg_write_end(d, crossed < 0 ? -1 : 0, error);
}

int pg_mailbox_states(void *impl, GHashTable *out, gint64 *quarantined, GError **error)
{
  *quarantined = 0;
  PGresult *r = pg_run(impl, "SELECT state, count(*), coalesce(sum(quarantined), 0) FROM mailboxes GROUP BY state", NULL,
                       "count mailboxes by state", error);
  if (!r) return -1;
  for (int i = 0; i < PQntuples(r); i++) {
    g_hash_table_replace(out, pg_col_dup(r, i, 0), GINT_TO_POINTER((int)pg_col_int(r, i, 1)));
    *quarantined += pg_col_int(r, i, 2);
  }
  PQclear(r);
  return 0;
}

int pg_mailbox_quarantine_list(void *impl, const char *mailbox_id, int min_failures, GPtrArray *out, GError **error)
{
  PgParams p = {0};
  pg_param_text(&p, mailbox_id);
  pg_param_int(&p, min_failures);
  PGresult *r = pg_run(impl,
                       "SELECT folder, key, coalesce(last_error, '') FROM mailbox_failures"
                       " WHERE mailbox_id = $1 AND failures >= $2 ORDER BY updated_at, folder, key",
                       &p, "list quarantine", error);
  if (!r) return -1;
  for (int i = 0; i < PQntuples(r); i++)
    g_ptr_array_add(out, g_strdup_printf("%s %s: %s", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2)));
  PQclear(r);
  return 0;
}
