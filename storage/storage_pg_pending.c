/* storage_pg_pending.c - PostgreSQL backend: the pending store of issue 16 (mail held because no
 * record matched it, for late re-matching), and the other half of re-matching (a deleted record's
 * links go; mail linked to nothing leaves the archive for the store); the same contracts and
 * results as storage_sqlite_pending.c.
 *
 * A held message is a row of pending_messages (its raw copy a blob) and one row per external
 * participant in pending_participants, indexed by address (without +tag) and by domain, so the
 * candidates after a records change are index probes per held participant. Holding is idempotent
 * by the database: the unique (enterprise, raw digest) lets two nodes holding the same message at
 * once store it once. Deleting or purging held mail deletes its blobs (rows and chunks) unless an
 * archived message, an attachment or other held mail still references the digest; the digests are
 * gathered in a temporary table of the connection, as the SQLite backend does. Also the work
 * counters by which re-matching proves its cost bound, read from the server's table statistics.
 */
#include "pg_internal.h"

#include "agent/lib/model.h"

#include <string.h>

#define PENDING_COLS "id, enterprise_id, raw_sha256, received_at, expires_at, reason, route, employee_id, mailbox"

static MaPending *pending_read(const PGresult *r, int row)
{
  MaPending *p = ma_pending_new();
  p->id = pg_col_dup(r, row, 0);
  p->enterprise_id = pg_col_dup(r, row, 1);
  p->raw_sha256 = pg_col_dup(r, row, 2);
  p->received_at = pg_col_int(r, row, 3);
  p->expires_at = pg_col_int(r, row, 4);
  p->reason = pg_col_dup(r, row, 5);
  p->route = pg_col_dup(r, row, 6);
  p->employee_id = pg_col_dup(r, row, 7);
  p->mailbox = pg_col_dup(r, row, 8);
  return p;
}

static int pending_add_body(PgDb *d, const MaPending *p, GError **error)
{
  PgParams row = {0};
  pg_param_text(&row, p->id);
  pg_param_text(&row, p->enterprise_id);
  pg_param_text(&row, p->raw_sha256);
  pg_param_int(&row, p->received_at);
  pg_param_int(&row, p->expires_at);
  pg_param_text(&row, p->reason);
  pg_param_text(&row, p->route);
  pg_param_text(&row, p->employee_id);
  pg_param_text(&row, p->mailbox);
  /* the same raw message held already (the unique digest, or the id): nothing more to do */
  gint64 n = pg_exec_enterprise_row(d,
                                    "INSERT INTO pending_messages(" PENDING_COLS ") VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                                    " ON CONFLICT DO NOTHING",
                                    &row, p->enterprise_id, "hold message", error);
  if (n <= 0) return (int)n;
  for (guint i = 0; p->addresses && i < p->addresses->len; i++) {
    const char *a = p->addresses->pdata[i];
    const char *at = strrchr(a, '@');
    if (!at) continue;
    g_autofree char *noplus = ma_address_key(a, TRUE); /* the form record_emails.email_noplus holds */
    PgParams q = {0};
    pg_param_text(&q, p->id);
    pg_param_text(&q, p->enterprise_id);
    pg_param_text(&q, a);
    pg_param_text(&q, noplus);
    pg_param_text(&q, at + 1);
    if (pg_exec(d,
                "INSERT INTO pending_participants(pending_id, enterprise_id, address, address_noplus, domain)"
                " VALUES($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                &q, "hold message participant", error) < 0)
      return -1;
  }
  return 1;
}

int pg_pending_add(void *impl, const MaPending *p, GError **error)
{
  PgDb *d = impl;
  g_assert(p && p->id && p->enterprise_id && p->raw_sha256);
  if (pg_write_begin(d, error) < 0) return -1;
  return pg_write_end(d, pending_add_body(d, p, error), error);
}

int pg_messages_by_participant(void *impl, const char *enterprise_id, const char *address, const char *domain,
                               gint64 since, GPtrArray *out, GError **error)
{
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, address ? address : domain);
  pg_param_int(&p, since);
  /* the expressions are those of the participant index (054_participants_one_index.sql: domain,
   * then address; an address's domain is its own, so both columns are probed) */
  return pg_ids_collect(pg_run(impl,
                            address ? "SELECT DISTINCT p.message_id COLLATE \"C\" FROM participants p"
                                      " JOIN messages m ON m.id = p.message_id"
                                      " WHERE lower(substr(p.address, strpos(p.address, '@') + 1)) = substr($2, strpos($2, '@') + 1)"
                                      " AND lower(p.address) = $2 AND p.role <> 5"
                                      " AND m.enterprise_id = $1 AND m.archived_at >= $3 ORDER BY 1"
                                    : "SELECT DISTINCT p.message_id COLLATE \"C\" FROM participants p"
                                      " JOIN messages m ON m.id = p.message_id"
                                      " WHERE lower(substr(p.address, strpos(p.address, '@') + 1)) = $2 AND p.role <> 5"
                                      " AND m.enterprise_id = $1 AND m.archived_at >= $3 ORDER BY 1",
                            &p, "messages by participant", error),
                     out);
}

int pg_pending_candidates(void *impl, const char *enterprise_id, int limit, GPtrArray *out, GError **error)
{
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  if (limit > 0) pg_param_int(&p, limit);
  else pg_param_text(&p, NULL); /* LIMIT NULL: all */
  /* per held participant: one probe of record_emails_noplus and one of record_domains' key */
  return pg_ids_collect(pg_run(impl,
                            "SELECT DISTINCT pp.pending_id COLLATE \"C\" FROM pending_participants pp"
                            " WHERE pp.enterprise_id = $1 AND ("
                            " EXISTS(SELECT 1 FROM record_emails e WHERE e.enterprise_id = $1"
                            " AND e.email_noplus = pp.address_noplus)"
                            " OR EXISTS(SELECT 1 FROM record_domains x WHERE x.enterprise_id = $1 AND x.domain = pp.domain))"
                            " ORDER BY 1 LIMIT $2::bigint",
                            &p, "pending candidates", error),
                     out);
}

int pg_pending_list(void *impl, const char *enterprise_id, const char *id, int limit, GPtrArray *out, GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  PGresult *r;
  if (id) {
    pg_param_text(&p, id);
    r = pg_run(d, "SELECT " PENDING_COLS " FROM pending_messages WHERE enterprise_id = $1 AND id = $2", &p,
               "pending list", error);
  } else {
    if (limit > 0) pg_param_int(&p, limit);
    else pg_param_text(&p, NULL); /* LIMIT NULL: all */
    r = pg_run(d,
               "SELECT " PENDING_COLS " FROM pending_messages WHERE enterprise_id = $1"
               " ORDER BY received_at DESC, id COLLATE \"C\" DESC LIMIT $2::bigint",
               &p, "pending list", error);
  }
  if (!r) return -1;
  guint first = out->len;
  for (int i = 0; i < PQntuples(r); i++) g_ptr_array_add(out, pending_read(r, i));
  PQclear(r);
  for (guint i = first; i < out->len; i++) {
    MaPending *held = out->pdata[i];
    PgParams q = {0};
    pg_param_text(&q, held->id);
    if (pg_ids_collect(pg_run(d, "SELECT address FROM pending_participants WHERE pending_id = $1 ORDER BY address COLLATE \"C\"",
                           &q, "pending participants", error),
                    held->addresses) < 0)
      return -1;
  }
  return 0;
}

/* ---- blobs of deleted held mail ------------------------------------------------------------------- */

/* The connection's list of digests whose blobs may have lost their last reference (created at
 * first use; emptied by every drop). */
static int doomed_table(PgDb *d, GError **error)
{
  return pg_control(d, "CREATE TEMP TABLE IF NOT EXISTS pending_doomed(sha256 text PRIMARY KEY)", error);
}

/* Deletes the blobs (row and chunks) of pending_doomed that nothing references any more. */
static int drop_doomed_blobs(PgDb *d, GError **error)
{
  if (pg_blobs_lock_doomed(d, "SELECT sha256 FROM pending_doomed", NULL, error) < 0 ||
      pg_exec(d,
              "WITH dropped AS (DELETE FROM blobs WHERE sha256 IN (SELECT sha256 FROM pending_doomed)"
              " AND NOT EXISTS (SELECT 1 FROM messages WHERE raw_sha256 = blobs.sha256)"
              " AND NOT EXISTS (SELECT 1 FROM attachments WHERE sha256 = blobs.sha256)"
              " AND NOT EXISTS (SELECT 1 FROM pending_messages WHERE raw_sha256 = blobs.sha256) RETURNING sha256)"
              " DELETE FROM blob_chunks WHERE sha256 IN (SELECT sha256 FROM dropped)",
              NULL, "drop held blobs", error) < 0)
    return -1;
  return pg_exec(d, "DELETE FROM pending_doomed", NULL, "drop held blobs", error) < 0 ? -1 : 0;
}

int pg_pending_delete_body(PgDb *d, const char *enterprise_id, const char *id, GError **error)
{
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, id);
  if (doomed_table(d, error) < 0) return -1;
  /* participants go by ON DELETE CASCADE */
  gint64 n = pg_exec(d,
                     "WITH gone AS (DELETE FROM pending_messages WHERE enterprise_id = $1 AND id = $2 RETURNING raw_sha256)"
                     " INSERT INTO pending_doomed SELECT DISTINCT raw_sha256 FROM gone ON CONFLICT DO NOTHING",
                     &p, "delete held message", error);
  if (n < 0 || drop_doomed_blobs(d, error) < 0) return -1;
  return n > 0 ? 1 : 0;
}

int pg_pending_delete(void *impl, const char *enterprise_id, const char *id, GError **error)
{
  PgDb *d = impl;
  if (pg_write_begin(d, error) < 0) return -1;
  return pg_write_end(d, pg_pending_delete_body(d, enterprise_id, id, error), error);
}

int pg_pending_purge(void *impl, gint64 now, gint64 *purged, GError **error)
{
  PgDb *d = impl;
  *purged = 0;
  PgParams p = {0};
  pg_param_int(&p, now);
  if (pg_write_begin(d, error) < 0) return -1;
  int rc = doomed_table(d, error);
  PGresult *r = rc < 0 ? NULL
                       : pg_run(d,
                                "WITH gone AS (DELETE FROM pending_messages WHERE expires_at <= $1 RETURNING raw_sha256),"
                                " noted AS (INSERT INTO pending_doomed SELECT DISTINCT raw_sha256 FROM gone"
                                " ON CONFLICT DO NOTHING) SELECT count(*) FROM gone",
                                &p, "purge held mail", error);
  if (!r) rc = -1;
  else {
    *purged = pg_col_int(r, 0, 0);
    PQclear(r);
    rc = drop_doomed_blobs(d, error);
  }
  return pg_write_end(d, rc, error);
}

/* The work counters from the server's statistics of the database's tables (pg_stat_user_tables):
 * steps are the rows read by sequential scans, the index scans started and the rows they fetched,
 * and the rows written; full scans are the rows read by sequential scans. PostgreSQL counts per
 * table, not per statement, and a backend flushes its counts to the shared statistics when it goes
 * idle, at most once a second unless told: pg_stat_force_next_flush() (PostgreSQL 15) makes the
 * idle after it flush, so the next statement reads every count this connection made so far.
 * The totals are the database's: work of other connections in between is counted too (tests
 * and benchmarks run alone on their database). Outside a transaction only: inside one the
 * counts of the open transaction are not flushed yet. */
static int database_work(PgDb *d, gint64 out[2], GError **error)
{
  if (pg_control(d, "SELECT pg_stat_force_next_flush()", error) < 0) return -1;
  PGresult *r = pg_run(d,
                       "SELECT coalesce(sum(seq_tup_read + coalesce(idx_scan, 0) + coalesce(idx_tup_fetch, 0)"
                       " + n_tup_ins + n_tup_upd + n_tup_del), 0), coalesce(sum(seq_tup_read), 0)"
                       " FROM pg_stat_user_tables WHERE schemaname = current_schema()",
                       NULL, "read work counters", error);
  if (!r) return -1;
  out[0] = pg_col_int(r, 0, 0);
  out[1] = pg_col_int(r, 0, 1);
  PQclear(r);
  return 0;
}

int pg_work_counters(void *impl, gboolean reset, gint64 *steps, gint64 *full_scans, GError **error)
{
  PgDb *d = impl;
  *steps = *full_scans = 0;
  if (d->in_txn) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID,
                "storage: PostgreSQL counts a transaction's work once it ended: read the counters outside one");
    return -1;
  }
  gint64 now[2];
  if (database_work(d, now, error) < 0) return -1;
  if (reset) {
    d->work_base[0] = now[0];
    d->work_base[1] = now[1];
  }
  *steps = now[0] - d->work_base[0];
  *full_scans = now[1] - d->work_base[1];
  return 0;
}

/* ---- a deleted record (late re-matching's other half) ------------------------------------------------ */

static int unlink_body(PgDb *d, const char *enterprise_id, const MaRecordRef *ref, GPtrArray *orphans, GError **error)
{
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_int(&p, ref->type);
  pg_param_text(&p, ref->id);
  /* the record's messages, from its timeline rows (kind 0: linked messages), deleted with them */
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);
  if (pg_ids_collect(pg_run(d,
                         "WITH gone AS (DELETE FROM timeline WHERE enterprise_id = $1 AND record_type = $2"
                         " AND record_id = $3 RETURNING message_id, kind)"
                         " SELECT message_id FROM gone WHERE kind = 0 ORDER BY message_id COLLATE \"C\"",
                         &p, "unlink record", error),
                  ids) < 0)
    return -1;
  for (guint i = 0; i < ids->len; i++) {
    PgParams q = {0};
    pg_param_text(&q, ids->pdata[i]);
    pg_param_int(&q, ref->type);
    pg_param_text(&q, ref->id);
    pg_param_text(&q, enterprise_id);
    PGresult *r = pg_run(d,
                         "WITH gone AS (DELETE FROM message_links WHERE message_id = $1 AND record_type = $2"
                         " AND record_id = $3 AND enterprise_id = $4 RETURNING message_id)"
                         " SELECT EXISTS(SELECT 1 FROM message_links l WHERE l.message_id = $1"
                         " AND NOT (l.record_type = $2 AND l.record_id = $3))",
                         &q, "unlink record", error);
    if (!r) return -1;
    gboolean linked = g_strcmp0(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (linked && pg_timeline_rows_refresh(d, enterprise_id, ids->pdata[i], error) < 0) /* its other rows' links */
      return -1;
    if (!linked && orphans) g_ptr_array_add(orphans, g_strdup(ids->pdata[i]));
  }
  return (int)ids->len;
}

int pg_record_unlink(void *impl, const char *enterprise_id, const MaRecordRef *ref, GPtrArray *orphans,
                     GError **error)
{
  PgDb *d = impl;
  if (pg_write_begin(d, error) < 0) return -1;
  return pg_write_end(d, unlink_body(d, enterprise_id, ref, orphans, error), error);
}

static int unarchive_body(PgDb *d, const char *enterprise_id, const char *message_id, const MaPending *hold,
                          GError **error)
{
  if (doomed_table(d, error) < 0) return -1;
  if (hold && pending_add_body(d, hold, error) < 0) return -1;
  PgParams p = {0};
  pg_param_text(&p, message_id);
  pg_param_text(&p, enterprise_id);
  if (pg_exec(d,
              "INSERT INTO pending_doomed SELECT raw_sha256 FROM messages WHERE id = $1 AND enterprise_id = $2"
              " AND raw_sha256 IS NOT NULL UNION SELECT sha256 FROM attachments WHERE message_id = $1"
              " ON CONFLICT DO NOTHING",
              &p, "unarchive message", error) < 0 ||
      /* before the message goes: its delete locks the counters row (a trigger) that a put holding
       * one of these blobs needs for its commit */
      pg_blobs_lock_doomed(d, "SELECT sha256 FROM pending_doomed", NULL, error) < 0 ||
      pg_exec(d, "DELETE FROM timeline WHERE message_id = $1 AND enterprise_id = $2", &p, "unarchive message", error) < 0)
    return -1;
  /* participants, attachments, links, activities (and the search entry) go by ON DELETE CASCADE */
  gint64 n = pg_exec(d, "DELETE FROM messages WHERE id = $1 AND enterprise_id = $2", &p, "unarchive message", error);
  if (n < 0 || drop_doomed_blobs(d, error) < 0) return -1;
  return n > 0 ? 1 : 0;
}

int pg_message_unarchive(void *impl, const char *enterprise_id, const char *message_id, const MaPending *hold,
                         GError **error)
{
  PgDb *d = impl;
  if (pg_write_begin(d, error) < 0) return -1;
  return pg_write_end(d, unarchive_body(d, enterprise_id, message_id, hold, error), error);
}
