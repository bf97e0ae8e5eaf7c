/* storage_pg_messages.c - PostgreSQL backend: archived messages with their bodies, participants,
 * attachment rows, record links (and their timeline rows) and provenance, and reading them back;
 * the same contracts and results as storage_sqlite_messages.c and storage_sqlite_load.c.
 *
 * A message is unique per enterprise by its normalised Message-ID and by its dedup key, enforced
 * by the database's unique indexes: when two nodes insert the same message at once, the second
 * waits for the first's commit and gets MA_ERROR_CONFLICT (then finds the message as a duplicate
 * and adds its provenance). Links, provenance and activities are added with ON CONFLICT DO NOTHING,
 * never by a look-up before the insert. A message's parts are written with one statement per kind
 * (arrays unnested), not one per row. Every read checks the enterprise. Never logs bodies.
 */
#include "pg_internal.h"

#include <string.h>

/* ---- rows ----------------------------------------------------------------------------------- */

MaStoredMessage *pg_message_read(const PGresult *r, int row, int first)
{
  MaStoredMessage *m = ma_stored_message_new();
  m->id = pg_col_dup(r, row, first);
  m->enterprise_id = pg_col_dup(r, row, first + 1);
  m->thread_id = pg_col_dup(r, row, first + 2);
  m->message_id = pg_col_dup(r, row, first + 3);
  m->dedup_key = pg_col_dup(r, row, first + 4);
  m->subject = pg_col_dup(r, row, first + 5);
  m->direction = (MaDirection)pg_col_int(r, row, first + 6);
  m->date = pg_col_int(r, row, first + 7);
  m->archived_at = pg_col_int(r, row, first + 8);
  m->size = pg_col_int(r, row, first + 9);
  m->raw_sha256 = pg_col_dup(r, row, first + 10);
  m->snippet = pg_col_dup(r, row, first + 11);
  m->parse_error = pg_col_dup(r, row, first + 12);
  m->machine = (guint)pg_col_int(r, row, first + 13);
  m->machine_reason = pg_col_dup(r, row, first + 14);
  return m;
}

int pg_message_owned(PgDb *d, const char *enterprise_id, const char *id, GError **error)
{
  PgParams p = {0};
  pg_param_text(&p, id);
  pg_param_text(&p, enterprise_id);
  PGresult *r = pg_run(d, "SELECT 1 FROM messages WHERE id = $1 AND enterprise_id = $2", &p, "message look-up", error);
  if (!r) return -1;
  int owned = PQntuples(r) > 0;
  PQclear(r);
  return owned;
}

int pg_message_missing(PgDb *d, const char *enterprise_id, const char *id, GError **error)
{
  int owned = pg_message_owned(d, enterprise_id, id, error);
  if (owned < 0) return -1;
  if (owned == 1) return 0;
  g_set_error(error, MA_ERROR, MA_ERROR_NOT_FOUND, "no message %s", id);
  return -1;
}

static gboolean has_real_attachment(GPtrArray *attachments)
{
  for (guint i = 0; attachments && i < attachments->len; i++)
    if (!((MaAttachment *)g_ptr_array_index(attachments, i))->is_inline) return TRUE;
  return FALSE;
}

/* ---- parts, many messages at once ------------------------------------------------------------- */

/* One statement for the three kinds of parts of the messages named by $1 (text[]): (message id,
 * part, two sort keys, six values), participants (0) and attachments (1) by position, links (2)
 * by record. */
#define PARTS_SQL                                                                                             \
  "SELECT message_id, 0, pos, NULL, role::text, name, address, NULL, NULL, NULL FROM participants"           \
  " WHERE message_id = ANY($1::text[])"                                                                      \
  " UNION ALL SELECT message_id, 1, pos, NULL, filename, content_type, content_id, is_inline::text, size::text," \
  " sha256 FROM attachments WHERE message_id = ANY($1::text[])"                                              \
  " UNION ALL SELECT message_id, 2, record_type, record_id, record_type::text, record_id, NULL, NULL, NULL, NULL" \
  " FROM message_links WHERE message_id = ANY($1::text[]) ORDER BY 1, 2, 3, 4"

static char *ids_literal(GHashTable *by_id)
{
  guint n = 0;
  g_autofree const char **ids = (const char **)g_hash_table_get_keys_as_array(by_id, &n);
  return pg_array_literal(ids, n);
}

int pg_message_parts_many(PgDb *d, GHashTable *by_id, GError **error)
{
  if (g_hash_table_size(by_id) == 0) return 0;
  g_autofree char *ids = ids_literal(by_id);
  PgParams p = {0};
  pg_param_text(&p, ids);
  PGresult *r = pg_run(d, PARTS_SQL, &p, "message parts", error);
  if (!r) return -1;
  for (int i = 0; i < PQntuples(r); i++) {
    MaStoredMessage *m = g_hash_table_lookup(by_id, PQgetvalue(r, i, 0));
    if (!m) continue;
    gint64 part = pg_col_int(r, i, 1);
    if (part == 0) {
      g_ptr_array_add(m->participants, ma_participant_new((MaRole)pg_col_int(r, i, 4),
                                                          PQgetisnull(r, i, 5) ? NULL : PQgetvalue(r, i, 5),
                                                          PQgetvalue(r, i, 6)));
    } else if (part == 1) {
      MaAttachment *a = ma_attachment_new();
      a->filename = pg_col_dup(r, i, 4);
      a->content_type = pg_col_dup(r, i, 5);
      a->content_id = pg_col_dup(r, i, 6);
      a->is_inline = pg_col_int(r, i, 7) != 0;
      a->size = (gsize)pg_col_int(r, i, 8);
      g_strlcpy(a->sha256, PQgetvalue(r, i, 9), sizeof a->sha256);
      g_ptr_array_add(m->attachments, a);
    } else {
      g_ptr_array_add(m->links, ma_record_ref_new((MaRecordType)pg_col_int(r, i, 4), PQgetvalue(r, i, 5)));
    }
  }
  PQclear(r);
  return 0;
}

int pg_messages_load_many(PgDb *d, const char *enterprise_id, GPtrArray *ids, MaBodies bodies, GHashTable *by_id,
                          GError **error)
{
  gboolean with_bodies = bodies != MA_BODIES_NONE;
  if (ids->len == 0) return 0;
  g_autofree char *list = pg_array_literal((const char *const *)ids->pdata, ids->len);
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, list);
  PGresult *r = pg_run(d,
                       bodies == MA_BODIES_ALL    ? "SELECT " SQL_MESSAGE_COLS_OF("m.") ", coalesce(b.text, ''), b.html"
                                                    " FROM messages m LEFT JOIN message_bodies b ON b.message_id = m.id"
                                                    " WHERE m.enterprise_id = $1 AND m.id = ANY($2::text[])"
                       : bodies == MA_BODIES_TEXT ? "SELECT " SQL_MESSAGE_COLS_OF("m.") ", coalesce(b.text, ''), NULL"
                                                    " FROM messages m LEFT JOIN message_bodies b ON b.message_id = m.id"
                                                    " WHERE m.enterprise_id = $1 AND m.id = ANY($2::text[])"
                                                  : "SELECT " SQL_MESSAGE_COLS_OF("") " FROM messages"
                                                    " WHERE enterprise_id = $1 AND id = ANY($2::text[])",
                       &p, "get messages", error);
  if (!r) return -1;
  GHashTable *fresh = g_hash_table_new(g_str_hash, g_str_equal); /* borrowed: the parts go to these */
  for (int i = 0; i < PQntuples(r); i++) {
    MaStoredMessage *m = pg_message_read(r, i, 0);
    if (with_bodies) {
      m->text = pg_col_dup(r, i, SQL_MESSAGE_NCOLS);
      m->html = pg_col_dup(r, i, SQL_MESSAGE_NCOLS + 1);
    }
    g_hash_table_replace(by_id, m->id, m);
    g_hash_table_replace(fresh, m->id, m);
  }
  PQclear(r);
  int rc = pg_message_parts_many(d, fresh, error);
  g_hash_table_unref(fresh);
  return rc;
}

int pg_message_get(void *impl, const char *enterprise_id, const char *id, MaStoredMessage **out, GError **error)
{
  *out = NULL;
  g_autoptr(GPtrArray) ids = g_ptr_array_new();
  g_ptr_array_add(ids, (gpointer)id);
  GHashTable *by_id = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)ma_stored_message_free);
  int rc = pg_messages_load_many(impl, enterprise_id, ids, MA_BODIES_ALL, by_id, error);
  gpointer m = NULL;
  if (rc == 0 && g_hash_table_steal_extended(by_id, id, NULL, &m)) {
    *out = m;
    rc = 1;
  }
  g_hash_table_unref(by_id);
  return rc;
}

/* ---- links ---------------------------------------------------------------------------------- */

/* The timeline rows of a message's links ($1 message, $2 enterprise; only the link to record $3-$4
 * when they are not NULL), each the message's item as the view timeline_message_fields makes it
 * (migration 050), read after the message's parts and links are written; rows that exist are left
 * as they are. */
#define LINK_TIMELINE_SQL                                                                                    \
  "INSERT INTO timeline(enterprise_id, record_type, record_id, date, message_id, kind, direction, has_attachment," \
  " thread_id, item)"                                                                                            \
  " SELECT v.enterprise_id, l.record_type, l.record_id, v.date, v.id, 0, v.direction, v.has_attachment,"        \
  " v.thread_id, v.item"                                                                                         \
  " FROM message_links l JOIN timeline_message_fields v ON v.id = l.message_id"                                 \
  " WHERE l.message_id = $1 AND v.enterprise_id = $2"                                                            \
  " AND ($3::int IS NULL OR (l.record_type = $3::int AND l.record_id = $4::text)) ON CONFLICT DO NOTHING"

int pg_timeline_rows_refresh(PgDb *d, const char *enterprise_id, const char *message_id, GError **error)
{
  PgParams p = {0};
  pg_param_text(&p, message_id);
  pg_param_text(&p, enterprise_id);
  return pg_exec(d,
                 "UPDATE timeline t SET item = v.item FROM timeline_message_fields v"
                 " WHERE v.id = $1 AND v.enterprise_id = $2 AND t.message_id = $1 AND t.kind = 0"
                 " AND t.item IS DISTINCT FROM v.item",
                 &p, "rewrite timeline rows", error) < 0 ? -1 : 0;
}

static int link_add_body(PgDb *d, const char *enterprise_id, const char *message_id, const MaRecordRef *ref,
                         GError **error)
{
  PgParams p = {0};
  pg_param_text(&p, message_id);
  pg_param_text(&p, enterprise_id);
  pg_param_int(&p, ref->type);
  pg_param_text(&p, ref->id);
  pg_param_text(&p, ref->reason);
  gint64 n = pg_exec(d,
                     "INSERT INTO message_links(message_id, record_type, record_id, enterprise_id, reason)"
                     " SELECT id, $3, $4, enterprise_id, $5 FROM messages WHERE id = $1 AND enterprise_id = $2"
                     " ON CONFLICT DO NOTHING",
                     &p, "add link", error);
  if (n <= 0) return n < 0 ? -1 : pg_message_missing(d, enterprise_id, message_id, error);
  /* the rows of the message's other links list the new one too, and it gets its own row */
  if (pg_timeline_rows_refresh(d, enterprise_id, message_id, error) < 0) return -1;
  p.n = 4;
  return pg_exec(d, LINK_TIMELINE_SQL, &p, "add timeline row", error) < 0 ? -1 : 1;
}

int pg_link_add(void *impl, const char *enterprise_id, const char *message_id, const MaRecordRef *ref, GError **error)
{
  PgDb *d = impl;
  if (pg_write_begin(d, error) < 0) return -1;
  return pg_write_end(d, link_add_body(d, enterprise_id, message_id, ref, error), error);
}

static int links_load(PgDb *d, const char *sql, const char *enterprise_id, const char *message_id, GPtrArray *out,
                      GError **error)
{
  PgParams p = {0};
  pg_param_text(&p, message_id);
  pg_param_text(&p, enterprise_id);
  PGresult *r = pg_run(d, sql, &p, "message links", error);
  if (!r) return -1;
  for (int i = 0; i < PQntuples(r); i++) {
    MaRecordRef *ref = ma_record_ref_new((MaRecordType)pg_col_int(r, i, 0), PQgetvalue(r, i, 1));
    ref->reason = pg_col_dup(r, i, 2);
    g_ptr_array_add(out, ref);
  }
  PQclear(r);
  return 0;
}

int pg_message_links(void *impl, const char *enterprise_id, const char *message_id, GPtrArray *out, GError **error)
{
  return links_load(impl,
                    "SELECT record_type, record_id, reason FROM message_links WHERE message_id = $1 AND enterprise_id = $2"
                    " ORDER BY record_type, record_id",
                    enterprise_id, message_id, out, error);
}

int pg_links_without_activity(void *impl, const char *enterprise_id, const char *message_id, GPtrArray *out,
                              GError **error)
{
  return links_load(impl,
                    "SELECT l.record_type, l.record_id, l.reason FROM message_links l"
                    " WHERE l.message_id = $1 AND l.enterprise_id = $2 AND NOT EXISTS(SELECT 1 FROM activities a"
                    " WHERE a.message_id = l.message_id AND a.record_type = l.record_type AND a.record_id = l.record_id)"
                    " ORDER BY l.record_type, l.record_id",
                    enterprise_id, message_id, out, error);
}

/* ---- insert --------------------------------------------------------------------------------- */

/* Rows to insert with one statement: each column an array of owned strings (NULL items are SQL
 * NULL), sent as array literals after the statement's other parameters and unnested there. */
typedef struct {
  GPtrArray *col[6];
  guint n;
} PgRows;

static void rows_init(PgRows *rows, guint ncols)
{
  memset(rows, 0, sizeof *rows);
  rows->n = ncols;
  for (guint c = 0; c < ncols; c++) rows->col[c] = g_ptr_array_new_with_free_func(g_free);
}

/* Runs sql with p's parameters followed by one array per column, and frees the rows. 0 or -1. */
static int rows_run(PgDb *d, PgRows *rows, PgParams *p, const char *sql, const char *what, GError **error)
{
  char *literals[6] = {0};
  for (guint c = 0; c < rows->n; c++) {
    literals[c] = pg_array_literal((const char *const *)rows->col[c]->pdata, rows->col[c]->len);
    pg_param_text(p, literals[c]);
  }
  gint64 n = pg_exec(d, sql, p, what, error);
  for (guint c = 0; c < rows->n; c++) {
    g_free(literals[c]);
    g_ptr_array_unref(rows->col[c]);
  }
  return n < 0 ? -1 : 0;
}

static int message_insert_participants(PgDb *d, const MaStoredMessage *m, GError **error)
{
  if (!m->participants || m->participants->len == 0) return 0;
  PgRows rows;
  rows_init(&rows, 3);
  for (guint i = 0; i < m->participants->len; i++) {
    const MaParticipant *x = g_ptr_array_index(m->participants, i);
    g_ptr_array_add(rows.col[0], g_strdup_printf("%d", (int)x->role));
    g_ptr_array_add(rows.col[1], g_strdup(x->name));
    g_ptr_array_add(rows.col[2], g_strdup(x->address ? x->address : ""));
  }
  PgParams p = {0};
  pg_param_text(&p, m->id);
  return rows_run(d, &rows, &p,
                  "INSERT INTO participants(message_id, pos, role, name, address)"
                  " SELECT $1, u.ord - 1, u.role, u.name, u.address"
                  " FROM unnest($2::int[], $3::text[], $4::text[]) WITH ORDINALITY AS u(role, name, address, ord)",
                  "add participants", error);
}

static int message_insert_attachments(PgDb *d, const MaStoredMessage *m, GError **error)
{
  if (!m->attachments || m->attachments->len == 0) return 0;
  PgRows rows;
  rows_init(&rows, 6);
  for (guint i = 0; i < m->attachments->len; i++) {
    const MaAttachment *a = g_ptr_array_index(m->attachments, i);
    g_ptr_array_add(rows.col[0], g_strdup(a->filename));
    g_ptr_array_add(rows.col[1], g_strdup(a->content_type));
    g_ptr_array_add(rows.col[2], g_strdup(a->content_id));
    g_ptr_array_add(rows.col[3], g_strdup(a->is_inline ? "1" : "0"));
    g_ptr_array_add(rows.col[4], g_strdup_printf("%" G_GUINT64_FORMAT, (guint64)a->size));
    g_ptr_array_add(rows.col[5], g_strdup(a->sha256));
  }
  PgParams p = {0};
  pg_param_text(&p, m->id);
  return rows_run(d, &rows, &p,
                  "INSERT INTO attachments(message_id, pos, filename, content_type, content_id, is_inline, size, sha256)"
                  " SELECT $1, u.ord - 1, u.filename, u.content_type, u.content_id, u.is_inline, u.size, u.sha256"
                  " FROM unnest($2::text[], $3::text[], $4::text[], $5::int[], $6::bigint[], $7::text[])"
                  " WITH ORDINALITY AS u(filename, content_type, content_id, is_inline, size, sha256, ord)",
                  "add attachments", error);
}

/* The links of the message being inserted (a link listed twice counts once), then their timeline
 * rows. */
static int message_insert_links(PgDb *d, const MaStoredMessage *m, GError **error)
{
  if (!m->links || m->links->len == 0) return 0;
  PgRows rows;
  rows_init(&rows, 3);
  for (guint i = 0; i < m->links->len; i++) {
    const MaRecordRef *ref = g_ptr_array_index(m->links, i);
    g_ptr_array_add(rows.col[0], g_strdup_printf("%d", (int)ref->type));
    g_ptr_array_add(rows.col[1], g_strdup(ref->id));
    g_ptr_array_add(rows.col[2], g_strdup(ref->reason));
  }
  PgParams p = {0};
  pg_param_text(&p, m->id);
  pg_param_text(&p, m->enterprise_id);
  if (rows_run(d, &rows, &p,
               "INSERT INTO message_links(message_id, record_type, record_id, enterprise_id, reason)"
               " SELECT $1, u.record_type, u.record_id, $2, u.reason"
               " FROM unnest($3::int[], $4::text[], $5::text[]) AS u(record_type, record_id, reason)"
               " ON CONFLICT DO NOTHING",
               "add links", error) < 0)
    return -1;
  PgParams all = {0}; /* every link's row: no record named */
  pg_param_text(&all, m->id);
  pg_param_text(&all, m->enterprise_id);
  pg_param_text(&all, NULL);
  pg_param_text(&all, NULL);
  return pg_exec(d, LINK_TIMELINE_SQL, &all, "add timeline rows", error) < 0 ? -1 : 0;
}

/* The message's text and html in message_bodies (none when both are empty). */
static int message_body_insert(PgDb *d, const MaStoredMessage *m, GError **error)
{
  if ((!m->text || !*m->text) && !m->html) return 0;
  PgParams p = {0};
  pg_param_text(&p, m->id);
  pg_param_text(&p, m->html);
  pg_param_text(&p, m->text ? m->text : "");
  return pg_exec(d, "INSERT INTO message_bodies(message_id, html, text) VALUES($1, $2, $3)", &p, "insert message body",
                 error) < 0 ? -1 : 0;
}

static int message_insert_body(PgDb *d, const MaStoredMessage *m, GError **error)
{
  g_autofree char *snippet = m->snippet ? NULL : storage_snippet_make(m->text);
  PgParams p = {0};
  pg_param_text(&p, m->id);
  pg_param_text(&p, m->enterprise_id);
  pg_param_text(&p, m->thread_id);
  pg_param_text(&p, m->message_id);
  pg_param_text(&p, m->dedup_key ? m->dedup_key : m->id);
  pg_param_text(&p, m->subject ? m->subject : "");
  pg_param_int(&p, m->direction);
  pg_param_int(&p, m->date);
  pg_param_int(&p, m->archived_at);
  pg_param_int(&p, m->size);
  pg_param_text(&p, m->raw_sha256);
  pg_param_text(&p, m->snippet ? m->snippet : snippet);
  pg_param_int(&p, has_real_attachment(m->attachments) ? 1 : 0);
  pg_param_text(&p, m->parse_error);
  pg_param_int(&p, m->machine);
  pg_param_text(&p, m->machine_reason);
  GError *local = NULL;
  if (pg_exec_enterprise_row(d,
                             "INSERT INTO messages(id, enterprise_id, thread_id, message_id, dedup_key, subject, direction,"
                             " date, archived_at, size, raw_sha256, snippet, has_attachment, parse_error, machine,"
                             " machine_reason) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
                             &p, m->enterprise_id, "insert message", &local) < 0) {
    if (local->code == MA_ERROR_CONFLICT) {
      g_clear_error(&local);
      g_set_error(error, MA_ERROR, MA_ERROR_CONFLICT,
                  "message %s is archived already (same id, Message-ID or dedup key)", m->id);
    } else {
      g_propagate_error(error, local);
    }
    return -1;
  }
  pg_count_add(d, PG_COUNT_MESSAGES, 1);
  if (message_body_insert(d, m, error) < 0 || message_insert_participants(d, m, error) < 0 ||
      message_insert_attachments(d, m, error) < 0)
    return -1;
  return message_insert_links(d, m, error);
}

int pg_message_insert(void *impl, const MaStoredMessage *m, GError **error)
{
  PgDb *d = impl;
  g_assert(m && m->id && m->enterprise_id);
  if (pg_write_begin(d, error) < 0) return -1;
  return pg_write_end(d, message_insert_body(d, m, error), error);
}

/* Defined with provenance below. */
static int provenance_add_body(PgDb *d, const char *enterprise_id, const char *message_id, const MaProvenance *pv,
                               GError **error);

int pg_message_archive(void *impl, const MaStoredMessage *m, const MaProvenance *p, GError **error)
{
  PgDb *d = impl;
  g_assert(m && m->id && m->enterprise_id);
  if (pg_write_begin(d, error) < 0) return -1;
  int rc = message_insert_body(d, m, error);
  if (rc == 0) rc = pg_search_index_body(d, m, error);
  if (rc == 0 && p) rc = provenance_add_body(d, m->enterprise_id, m->id, p, error) < 0 ? -1 : 0;
  return pg_write_end(d, rc, error);
}

/* ---- reads ---------------------------------------------------------------------------------- */

int pg_message_find_duplicate(void *impl, const char *enterprise_id, const char *message_id, const char *dedup_key,
                              char **id_out, GError **error)
{
  PgDb *d = impl;
  *id_out = NULL;
  const char *keys[2] = {message_id, dedup_key};
  const char *sqls[2] = {"SELECT id FROM messages WHERE enterprise_id = $1 AND message_id = $2",
                         "SELECT id FROM messages WHERE enterprise_id = $1 AND dedup_key = $2"};
  for (int i = 0; i < 2; i++) {
    if (!keys[i]) continue;
    PgParams p = {0};
    pg_param_text(&p, enterprise_id);
    pg_param_text(&p, keys[i]);
    PGresult *r = pg_run(d, sqls[i], &p, "find duplicate", error);
    if (!r) return -1;
    if (PQntuples(r) > 0) *id_out = pg_col_dup(r, 0, 0);
    PQclear(r);
    if (*id_out) return 1;
  }
  return 0;
}

int pg_message_ids_archived_since(void *impl, const char *enterprise_id, gint64 since, const char *after_id, int limit,
                                  GPtrArray *out, GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_int(&p, since);
  pg_param_text(&p, after_id);
  pg_param_int(&p, limit > 0 ? limit : G_MAXINT32);
  return pg_ids_collect(pg_run(d,
                            after_id ? "SELECT id FROM messages WHERE enterprise_id = $1 AND archived_at >= $2"
                                       " AND (archived_at, id) > (SELECT archived_at, id FROM messages"
                                       "  WHERE id = $3 AND enterprise_id = $1)"
                                       " ORDER BY archived_at, id LIMIT $4"
                                     : "SELECT id FROM messages WHERE enterprise_id = $1 AND archived_at >= $2"
                                       " AND $3::text IS NULL ORDER BY archived_at, id LIMIT $4",
                            &p, "messages archived since", error),
                     out);
}

int pg_message_ids_latest(void *impl, const char *enterprise_id, int limit, GPtrArray *out, GError **error)
{
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_int(&p, limit);
  return pg_ids_collect(pg_run(impl,
                            "SELECT id FROM messages WHERE enterprise_id = $1 ORDER BY archived_at DESC, id DESC LIMIT $2",
                            &p, "latest messages", error),
                     out);
}

int pg_attachment_visible(void *impl, const char *enterprise_id, const char *sha256, char **filename,
                          char **content_type, GError **error)
{
  PgParams p = {0};
  pg_param_text(&p, sha256);
  pg_param_text(&p, enterprise_id);
  /* attachments_by_sha finds the rows; the latest message's name wins */
  PGresult *r = pg_run(impl,
                       "SELECT a.filename, a.content_type FROM attachments a JOIN messages m ON m.id = a.message_id"
                       " WHERE a.sha256 = $1 AND m.enterprise_id = $2 ORDER BY m.id DESC LIMIT 1",
                       &p, "attachment visibility", error);
  if (!r) return -1;
  int found = PQntuples(r) > 0;
  if (found && filename) *filename = pg_col_dup(r, 0, 0);
  if (found && content_type) *content_type = pg_col_dup(r, 0, 1);
  PQclear(r);
  return found;
}

/* ---- provenance ----------------------------------------------------------------------------- */

/* A mailbox's count of archived mail (migration 030's mailboxes). */
static int mailbox_count_archived(PgDb *d, const char *enterprise_id, const char *mailbox, GError **error)
{
  PgParams p = {0};
  pg_param_text(&p, mailbox);
  pg_param_text(&p, enterprise_id);
  return pg_exec(d, "UPDATE mailboxes SET archived = archived + 1 WHERE id = $1 AND enterprise_id = $2", &p,
                 "count archived mail of the mailbox", error) < 0 ? -1 : 0;
}

static int provenance_add_body(PgDb *d, const char *enterprise_id, const char *message_id, const MaProvenance *pv,
                               GError **error)
{
  PgParams p = {0};
  pg_param_text(&p, message_id);
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, pv->route ? pv->route : "");
  pg_param_text(&p, pv->employee_id);
  pg_param_text(&p, pv->signal);
  pg_param_text(&p, pv->mailbox);
  pg_param_text(&p, pv->client);
  pg_param_text(&p, pv->envelope_from);
  pg_param_text(&p, pv->spool_id);
  pg_param_int(&p, pv->received_at);
  /* the message's row decides ownership in the same statement: no look-up before the insert */
  gint64 n = pg_exec(d,
                     "INSERT INTO provenance(message_id, enterprise_id, route, employee_id, signal, mailbox, client,"
                     " envelope_from, spool_id, received_at)"
                     " SELECT id, enterprise_id, $3, $4, $5, $6, $7, $8, $9, $10 FROM messages"
                     " WHERE id = $1 AND enterprise_id = $2 ON CONFLICT DO NOTHING",
                     &p, "add provenance", error);
  if (n <= 0) return n < 0 ? -1 : pg_message_missing(d, enterprise_id, message_id, error);
  if (pv->mailbox && mailbox_count_archived(d, enterprise_id, pv->mailbox, error) < 0) return -1;
  return 1;
}

int pg_provenance_add(void *impl, const char *enterprise_id, const char *message_id, const MaProvenance *pv,
                      GError **error)
{
  PgDb *d = impl;
  if (pg_write_begin(d, error) < 0) return -1;
  return pg_write_end(d, provenance_add_body(d, enterprise_id, message_id, pv, error), error);
}

int pg_provenance_list(void *impl, const char *enterprise_id, const char *message_id, GPtrArray *out, GError **error)
{
  PgParams p = {0};
  pg_param_text(&p, message_id);
  pg_param_text(&p, enterprise_id);
  PGresult *r = pg_run(impl,
                       "SELECT route, employee_id, signal, mailbox, client, envelope_from, spool_id, received_at"
                       " FROM provenance WHERE message_id = $1 AND enterprise_id = $2 ORDER BY received_at, seq",
                       &p, "list provenance", error);
  if (!r) return -1;
  for (int i = 0; i < PQntuples(r); i++) {
    MaProvenance *pv = ma_provenance_new(PQgetvalue(r, i, 0));
    pv->employee_id = pg_col_dup(r, i, 1);
    pv->signal = pg_col_dup(r, i, 2);
    pv->mailbox = pg_col_dup(r, i, 3);
    pv->client = pg_col_dup(r, i, 4);
    pv->envelope_from = pg_col_dup(r, i, 5);
    pv->spool_id = pg_col_dup(r, i, 6);
    pv->received_at = pg_col_int(r, i, 7);
    g_ptr_array_add(out, pv);
  }
  PQclear(r);
  return 0;
}
