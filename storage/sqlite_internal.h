/* sqlite_internal.h - private to the SQLite backend (storage_sqlite_*.c, storage_migrations.c):
 * the connection state, the prepared-statement cache, transaction helpers, error mapping and the
 * row readers shared between files. Nothing outside storage/ includes this.
 *
 * Statement discipline: sql_prep returns a cached, reset statement; every function resets each
 * statement it used (sql_reset) before returning, so no read transaction outlives a call.
 * Write discipline: every write runs between sql_write_begin and sql_write_end, which is BEGIN
 * IMMEDIATE/COMMIT on its own or a SAVEPOINT inside storage_begin, so a failed write never leaves
 * half of itself behind; inside storage_begin_batch there is no savepoint, a failed write spoils
 * the transaction instead (every later write and the commit fail until the rollback).
 */
#ifndef MA_SQLITE_INTERNAL_H
#define MA_SQLITE_INTERNAL_H

#include "storage.h"
#include "storage_search.h"
#include "storage_backend.h"
#include "storage_list.h"
#include "storage_archive.h"

#include <sqlite3.h>

#define SQL_DB_FILE "mailagent.db"
#define SQL_BUSY_TIMEOUT_MS 10000

typedef struct {
  sqlite3 *db;
  char *path;
  GHashTable *stmts;     /* SQL text (owned copy) -> sqlite3_stmt* */
  gboolean in_txn;       /* inside storage_begin or storage_begin_batch */
  gboolean batch;        /* ... storage_begin_batch: writes take no savepoint */
  gboolean spoiled;      /* a write failed inside the batch: only rollback is left */
  GArray *search_pending; /* gint64 docs of this batch in search_docs, not yet in search_index */
  char *search_tenant_id; /* the enterprise whose index number this batch read last (owned; NULL: none) */
  gint64 search_tenant_num; /* ... and that number (tenant_number, storage_sqlite_search.c) */
  GPtrArray *versions_pending; /* enterprise ids (owned) whose archive version this batch moves at commit */
  struct { const char *name; gint64 delta; } counts_pending[4]; /* sql_counter_add's of this batch */
  int fail_commits;      /* fault injection: commits still to fail */
  int schema_version;
  gint64 local_commits;  /* commits through this handle */
  gint64 seen_version;   /* last PRAGMA data_version read */
  guint8 seen_wal_hdr[48]; /* the WAL-index header at the last sqlite_data_version (all 0: none yet) */
  gint64 other_changes;  /* times seen_version changed: commits by other handles */
} SqlDb;

/* ---- core helpers (storage_sqlite_core.c) --------------------------------------------------- */

/* Sets *error from an SQLite result code: BUSY/LOCKED/FULL/IOERR/CANTOPEN/NOMEM/READONLY are
 * MA_ERROR_TEMPFAIL, CONSTRAINT is MA_ERROR_CONFLICT, the rest MA_ERROR_INTERNAL. Returns -1. */
int sql_fail(SqlDb *d, int rc, GError **error, const char *what);
int sql_error_code(int rc);
/* A cached statement, reset and with cleared bindings; NULL with *error on a prepare failure. */
sqlite3_stmt *sql_prep(SqlDb *d, const char *sql, GError **error);
void sql_reset(sqlite3_stmt *s);
/* Runs SQL without results (may hold several statements). */
int sql_exec(SqlDb *d, const char *sql, GError **error);
/* Steps s once expecting SQLITE_DONE, then resets it. Returns 0 or -1. */
int sql_step_done(SqlDb *d, sqlite3_stmt *s, GError **error, const char *what);
/* sql_step_done for a row that references its enterprise: a foreign-key failure is
 * MA_ERROR_NOT_FOUND "no enterprise <enterprise_id>" rather than a storage error. */
int sql_step_enterprise_row(SqlDb *d, sqlite3_stmt *s, const char *enterprise_id, GError **error, const char *what);
/* Large values (messages, attachments) are streamed with sqlite3_blob_* instead of bound or read
 * whole, so SQLite never holds a second full copy in memory. */
#define SQL_STREAM_MIN (256 * 1024)
/* A message's text as every reader sees it (migration 173), from `messages` (prefix m) and its
 * LEFT JOINed message_bodies row (prefix b): the row's text, or, when the message's row names a
 * slice of its raw blob (text_raw_at, text_raw_len: set only for raw blobs under SQL_STREAM_MIN
 * bytes, so the read is bounded), those bytes with CRLF and lone CR made LF (ma_text_slice), as
 * the mime module made the text. NULL when there is neither. */
#define SQL_BODY_TEXT(m, b)                                                                             \
  "CASE WHEN " m "text_raw_len IS NULL THEN " b "text ELSE (SELECT ma_text_slice(r.data, "            \
  m "text_raw_at, " m "text_raw_len) FROM blobs r WHERE r.sha256 = " m "raw_sha256) END"
/* Registers ma_text_slice(DATA, AT, LEN) on d's connection: DATA's bytes [AT, AT + LEN) with CRLF
 * and lone CR made LF, as UTF-8 text (an error when the slice lies outside DATA; NULL for a NULL
 * DATA). One pass in C: SQL's replace() over a 4 KB text cost 80,000 instructions a message at the
 * index's commit. Must run before the migrations (173's view names it). */
int sql_body_register(SqlDb *d, GError **error);
#define SQL_STREAM_CHUNK (256 * 1024)
/* The page cache of a connection, in KiB (PRAGMA cache_size=-N), and the one a streamed blob's
 * write runs under: a blob larger than the cache would pass through all of it, evicting the index
 * pages worth keeping and leaving 16 MB of its own pages resident for nothing. */
#define SQL_CACHE_KIB 16000
#define SQL_STREAM_CACHE_KIB 1024
/* Writes len bytes of data into the zeroblob column `column` of row `rowid` of `table`. */
int sql_blob_stream_write(sqlite3 *db, const char *table, const char *column, sqlite3_int64 rowid, const void *data,
                          gsize len);
/* Reads len bytes of column `column` of row `rowid` of `table` into a new GBytes (*out). */
int sql_blob_stream_read(sqlite3 *db, const char *table, const char *column, sqlite3_int64 rowid, gsize len,
                         GBytes **out);

/* Process-wide SQLite configuration (memory statistics off); call before the first open of any
 * database, the spool's included. Idempotent and thread-safe. */
void sql_global_init(void);
/* Busy handler for both databases: short sleeps growing to 2 ms, giving up once
 * storage_set_busy_timeout's limit (default SQL_BUSY_TIMEOUT_MS) has passed on the monotonic clock
 * (sqlite3_busy_timeout's 5-25 ms steps idle writers that could proceed). */
int sql_busy_handler(void *unused, int count);
/* Commit with fault injection; on failure rolls back. */
int sql_commit_now(SqlDb *d, GError **error);

/* Starts a write unit; sql_write_end(d, rc, error) commits when rc >= 0 (returning rc, or -1 when
 * the commit fails) and rolls back when rc < 0 (returning -1; *error was set by the caller).
 * Inside a batch transaction (storage_begin_batch) rc < 0 marks the transaction spoiled instead,
 * and sql_write_begin refuses every later write. */
int sql_write_begin(SqlDb *d, GError **error);
int sql_write_end(SqlDb *d, int rc, GError **error);

/* Adds delta to the row count `name` (a string literal) of the counters table (migration 4).
 * Inserts into messages and activities call it themselves (migration 6); deletes and records are
 * counted by triggers. Inside a batch the deltas are summed and written once, at its commit
 * (sql_counts_flush), as PostgreSQL's backend does for every transaction; sql_counts_forget drops
 * them on a rollback. */
int sql_counter_add(SqlDb *d, const char *name, int delta, GError **error);
int sql_counts_flush(SqlDb *d, GError **error);
void sql_counts_forget(SqlDb *d);

/* storage_sqlite_timeline.c: the enterprise's archive version (storage_archive_version) moves
 * because a timeline row was inserted for it (migration 166: no per-row trigger does it). Inside
 * a batch (storage_begin_batch) it moves once, at the commit (sql_archive_versions_flush);
 * otherwise now, inside the caller's write unit. */
int sql_archive_version_bump(SqlDb *d, const char *enterprise_id, GError **error);
/* Moves the version of every enterprise the batch touched and empties the list; called by the
 * batch's commit before COMMIT. sql_archive_versions_forget empties it on a rollback. */
int sql_archive_versions_flush(SqlDb *d, GError **error);
void sql_archive_versions_forget(SqlDb *d);

/* Binding and reading. Strings are bound SQLITE_STATIC: they must outlive the step. */
void sql_bind_text(sqlite3_stmt *s, int i, const char *text);
char *sql_col_dup(sqlite3_stmt *s, int i); /* g_strdup of a text column, NULL for SQL NULL */

/* ---- search (storage_sqlite_search.c) ------------------------------------------------------- */

/* Registers the "mailagent" FTS5 tokenizer (agent/search/search_tokenize.h) and the ma_rank
 * function on d's connection; must run before the migrations, which create the index with it. */
int sql_search_register(SqlDb *d, GError **error);
/* ma_rank(search_index, IDF[, KEEP]): the FTS5 auxiliary function of storage_sqlite_rank.c, minus
 * BM25 with the inverse document frequencies given (a blob of one double per phrase); with KEEP,
 * a document that cannot be among the statement's KEEP best scores SEARCH_RANK_NEVER instead. */
#define SEARCH_RANK_NEVER 1e300 /* above every -BM25 (<= 0): sorts after every real score */
void sql_search_rank(const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_context *ctx, int n_args,
                     sqlite3_value **args);
/* storage_search_compact (outside any transaction): merges the index so no deleted message's
 * terms remain, and truncates the write-ahead log. */
int sql_search_compact(SqlDb *d, GError **error);
/* Adds the batch's pending documents (SqlDb.search_pending) to the full-text index in one
 * statement and empties the list; 0 when there were none. Called before the batch commits and
 * before anything that reads the index or deletes messages (whose trigger unindexes them). */
int sql_search_flush(SqlDb *d, GError **error);
/* Deletes the timeline rows of a message, one per linked record and per activity, found by their
 * full key (the timeline has no index by message: migration 3); adds their number to *links.
 * Call it before the message and its links go. */
int sql_timeline_forget(SqlDb *d, const char *enterprise_id, const char *message_id, gint64 *links, GError **error);
int sqlite_search_index(void *impl, const MaStoredMessage *m, GError **error);
/* sqlite_search_index inside the caller's write (sql_write_begin); owned: the caller knows the
 * message is the enterprise's (it just inserted it), so it is not looked up. */
int sql_search_index_body(SqlDb *d, const MaStoredMessage *m, gboolean owned, GError **error);
int sqlite_search(void *impl, const char *enterprise_id, const MaSearchRequest *req, gint64 after, int limit,
                  GPtrArray *out, GError **error);
int sqlite_erase_address(void *impl, const char *enterprise_id, const char *address, MaEraseCounts *counts,
                         GError **error);
int sqlite_expire_before(void *impl, const char *enterprise_id, gint64 before, int limit, MaEraseCounts *counts,
                         GError **error);
int sqlite_search_compact(void *impl, GError **error);
int sqlite_search_rebuild(void *impl, GError **error);

/* ---- migrations (storage_migrations.c) ------------------------------------------------------ */

int sql_migrate(SqlDb *d, GError **error);
int sql_migrations_latest(void);

/* ---- shared row readers --------------------------------------------------------------------- */

/* Columns of SQL_RECORD_COLS, starting at column `first`. */
#define SQL_RECORD_COLS "r.type, r.id, r.name, r.emails, r.domains, r.account_id, r.contact_ids, r.stage, r.attributes"
MaRecord *sql_record_read(sqlite3_stmt *s, int first);
/* Runs a prepared record query (all bound) and appends every row to out (MaRecord*). */
int sql_records_collect(SqlDb *d, sqlite3_stmt *s, GPtrArray *out, GError **error);

/* storage_sqlite_load.c: loads the message row and, as asked, its text/html, with participants,
 * attachments and links. 1 found, 0 not (in this enterprise), -1 error. */
int sql_message_load(SqlDb *d, const char *enterprise_id, const char *id, gboolean with_bodies,
                     MaStoredMessage **out, GError **error);
/* Loads the messages (activities) named by ids (char*, not owned) that belong to the enterprise
 * into by_id: id -> MaStoredMessage* (MaActivity*), keyed by the value's own id string. */
/* 1 when message id belongs to enterprise, 0 when not (or absent), -1 on error. */
int sql_message_owned(SqlDb *d, const char *enterprise_id, const char *id, GError **error);
/* storage_sqlite_messages.c: rewrites the items of a message's timeline rows after one of its links
 * came or went (migration 165). */
int sql_timeline_rows_refresh(SqlDb *d, const char *enterprise_id, const char *message_id, GError **error);
int sql_messages_load_many(SqlDb *d, const char *enterprise_id, GPtrArray *ids, MaBodies bodies,
                           GHashTable *by_id, GError **error);
/* The message row reader of SQL_MESSAGE_COLS (storage_archive.h) from column first on. */
MaStoredMessage *sql_message_read(sqlite3_stmt *s, int first);
/* Participants, attachments and links of the messages in by_id (id -> MaStoredMessage*) whose ids
 * are ids (char*, not owned), in ONE statement per LOAD_CHUNK ids, appended in their order. */
int sql_message_parts_many(SqlDb *d, GPtrArray *ids, GHashTable *by_id, GError **error);
int sql_activities_load_many(SqlDb *d, const char *enterprise_id, GPtrArray *ids, GHashTable *by_id,
                             GError **error);

/* storage_sqlite_timeline.c: the reader of SQL_ACTIVITY_COLS (storage_archive.h) from column first on. */
MaActivity *sql_activity_read(sqlite3_stmt *s, int first);

/* ---- backend entry points -------------------------------------------------------------------- */

int sqlite_open(const char *data_dir, gboolean create, void **impl_out, GError **error);
void sqlite_close(void *impl);
int sqlite_schema_version(void *impl);
char *sqlite_library_version(void);
int sqlite_checkpoint(void *impl, GError **error);
int sqlite_begin(void *impl, GError **error);
int sqlite_begin_batch(void *impl, GError **error);
int sqlite_commit(void *impl, GError **error);
void sqlite_rollback(void *impl);
void sqlite_fault_inject_commit_failures(void *impl, int n);
gint64 sqlite_data_version(void *impl);
void sqlite_fault_inject_disk_full(void *impl, gboolean full);
int sqlite_enterprise_create(void *impl, const MaEnterprise *e, GError **error);
/* storage_sqlite_erase.c */
int sqlite_enterprise_delete(void *impl, const char *enterprise_id, GError **error);
int sqlite_enterprise_get(void *impl, const char *id_or_slug, MaEnterprise **out, GError **error);
int sqlite_enterprise_list(void *impl, GPtrArray *out, GError **error);
int sqlite_enterprise_domain_add(void *impl, const char *enterprise_id, const char *domain, GError **error);
int sqlite_enterprise_domain_remove(void *impl, const char *enterprise_id, const char *domain,
                                    GError **error);
int sqlite_inbound_lookup(void *impl, const char *local_part, gint64 now, char **enterprise_id,
                          GError **error);
int sqlite_inbound_rotate(void *impl, const char *enterprise_id, const char *new_local,
                          gint64 old_expires_at, GError **error);
int sqlite_inbound_list(void *impl, const char *enterprise_id, gint64 now, GPtrArray *out, GError **error);
int sqlite_inbound_all(void *impl, gint64 now, GPtrArray *out, GError **error);
int sqlite_tenant_version(void *impl, gint64 *out, GError **error);
void sqlite_debug_statements(void *impl, GPtrArray *out);
int sqlite_debug_query(void *impl, const char *sql, GPtrArray *rows, GError **error);
int sqlite_archive_version(void *impl, const char *enterprise_id, gint64 *out, GError **error);
int sqlite_employee_add(void *impl, const MaEmployee *e, GError **error);
int sqlite_employee_remove(void *impl, const char *enterprise_id, const char *id_or_email, GError **error);
int sqlite_employee_find(void *impl, const char *enterprise_id, const char *id_or_email, MaEmployee **out,
                         GError **error);
int sqlite_employee_list(void *impl, const char *enterprise_id, GPtrArray *out, GError **error);
int sqlite_apikey_add(void *impl, const MaApiKey *k, const char *secret_hash, GError **error);
int sqlite_apikey_find(void *impl, const char *secret_hash, MaApiKey **out, GError **error);
int sqlite_apikey_list(void *impl, const char *enterprise_id, GPtrArray *out, GError **error);
int sqlite_apikey_get(void *impl, const char *id, MaApiKey **out, GError **error);
int sqlite_apikey_revoke(void *impl, const char *id, gint64 now, GError **error);
int sqlite_installation_get(void *impl, const char *name, char **value, GError **error);
int sqlite_installation_set_once(void *impl, const char *name, const char *value, char **stored, GError **error);
int sqlite_job_lease(void *impl, const char *job, const char *owner, gint64 now, gint64 until, GError **error);
int sqlite_setting_get(void *impl, const char *enterprise_id, const char *key, char **value, GError **error);
int sqlite_setting_set(void *impl, const char *enterprise_id, const char *key, const char *value,
                       GError **error);
int sqlite_setting_list(void *impl, const char *enterprise_id, GHashTable *out, GError **error);
int sqlite_record_upsert(void *impl, const char *enterprise_id, const MaRecord *r, GError **error);
int sqlite_record_delete(void *impl, const char *enterprise_id, MaRecordType type, const char *id,
                         GError **error);
int sqlite_record_get(void *impl, const char *enterprise_id, MaRecordType type, const char *id,
                      MaRecord **out, GError **error);
int sqlite_record_list(void *impl, const char *enterprise_id, MaRecordType type, const char *after_id,
                       int limit, GPtrArray *out, GError **error);
int sqlite_records_by_email(void *impl, const char *enterprise_id, const char *address_key,
                            gboolean ignore_plus, GPtrArray *out, GError **error);
int sqlite_accounts_by_domain(void *impl, const char *enterprise_id, const char *domain, GPtrArray *out,
                              GError **error);
int sqlite_opportunities_open_for_contact(void *impl, const char *enterprise_id, const char *contact_id,
                                          GPtrArray *out, GError **error);
int sqlite_opportunities_open_for_account(void *impl, const char *enterprise_id, const char *account_id,
                                          GPtrArray *out, GError **error);
int sqlite_blob_put(void *impl, const void *data, gsize len, char sha256_out[65], GError **error);
int sqlite_blob_get(void *impl, const char *sha256, GBytes **out, GError **error);
int sqlite_blob_put_stream(void *impl, const char *sha256, gsize size, MaBlobReader read, void *ctx,
                           GError **error);
int sqlite_message_find_duplicate(void *impl, const char *enterprise_id, const char *message_id,
                                  const char *dedup_key, char **id_out, GError **error);
int sqlite_message_insert(void *impl, const MaStoredMessage *m, GError **error);
int sqlite_message_archive(void *impl, const MaStoredMessage *m, const MaProvenance *p, GError **error);
int sqlite_message_get(void *impl, const char *enterprise_id, const char *id, MaStoredMessage **out,
                       GError **error);
int sqlite_pending_add(void *impl, const MaPending *p, GError **error);
int sqlite_messages_by_participant(void *impl, const char *enterprise_id, const char *address, const char *domain,
                                   gint64 since, GPtrArray *out, GError **error);
int sqlite_work_counters(void *impl, gboolean reset, gint64 *steps, gint64 *full_scans, GError **error);
int sqlite_record_unlink(void *impl, const char *enterprise_id, const MaRecordRef *ref, GPtrArray *orphans,
                         GError **error);
int sqlite_message_unarchive(void *impl, const char *enterprise_id, const char *message_id, const MaPending *hold,
                             GError **error);
int sqlite_loop_count(void *impl, const char *enterprise_id, const MaRecordRef *record, const char *from, gint64 since,
                      gint64 *count, GError **error);
int sqlite_pending_candidates(void *impl, const char *enterprise_id, int limit, GPtrArray *out, GError **error);
int sqlite_pending_list(void *impl, const char *enterprise_id, const char *id, int limit, GPtrArray *out,
                        GError **error);
int sqlite_pending_delete(void *impl, const char *enterprise_id, const char *id, GError **error);
int sqlite_pending_purge(void *impl, gint64 now, gint64 *purged, GError **error);
int sqlite_message_ids_latest(void *impl, const char *enterprise_id, int limit, GPtrArray *out, GError **error);
int sqlite_message_ids_archived_since(void *impl, const char *enterprise_id, gint64 since,
                                      const char *after_id, int limit, GPtrArray *out, GError **error);
int sqlite_attachment_visible(void *impl, const char *enterprise_id, const char *sha256, char **filename,
                              char **content_type, GError **error);
int sqlite_link_add(void *impl, const char *enterprise_id, const char *message_id, const MaRecordRef *ref,
                    GError **error);
int sqlite_message_links(void *impl, const char *enterprise_id, const char *message_id, GPtrArray *out,
                         GError **error);
int sqlite_provenance_add(void *impl, const char *enterprise_id, const char *message_id,
                          const MaProvenance *p, GError **error);
int sqlite_provenance_list(void *impl, const char *enterprise_id, const char *message_id, GPtrArray *out,
                           GError **error);
int sqlite_thread_find_by_message_ids(void *impl, const char *enterprise_id, const char *const *ids, guint n,
                                      char **thread_id, GError **error);
int sqlite_thread_find_by_subject(void *impl, const char *enterprise_id, const char *subject_key,
                                  const char *participants_key, gint64 since, char **thread_id,
                                  GError **error);
int sqlite_thread_create(void *impl, const char *enterprise_id, const char *thread_id,
                         const char *subject_key, const char *participants_key, gint64 latest,
                         GError **error);
int sqlite_thread_touch(void *impl, const char *enterprise_id, const char *thread_id, gint64 date,
                        GError **error);
int sqlite_thread_opportunity_links(void *impl, const char *enterprise_id, const char *thread_id,
                                    GPtrArray *out, GError **error);
int sqlite_thread_messages(void *impl, const char *enterprise_id, const char *thread_id, GPtrArray *out,
                           GError **error);
int sqlite_activity_create(void *impl, const MaActivity *a, GError **error);
int sqlite_links_without_activity(void *impl, const char *enterprise_id, const char *message_id,
                                  GPtrArray *out, GError **error);
int sqlite_activity_get(void *impl, const char *enterprise_id, const char *id, MaActivity **out,
                        GError **error);
int sqlite_message_activities(void *impl, const char *enterprise_id, const char *message_id, GPtrArray *out,
                              GError **error);
int sqlite_timeline_each(void *impl, const char *enterprise_id, MaRecordType type, const char *record_id,
                         const MaTimelineFilter *filter, const char *cursor, int limit, MaTimelineKnown known,
                         MaTimelineVisit visit, void *user_data, char **next_cursor, GError **error);
int sqlite_rules_get(void *impl, const char *enterprise_id, char **json_array, GError **error);
int sqlite_rules_put(void *impl, const char *enterprise_id, const char *json_array, GError **error);
int sqlite_domain_get(void *impl, const char *enterprise_id, const char *domain, MaDomain **out, GError **error);
int sqlite_domain_list(void *impl, const char *enterprise_id, GPtrArray *out, GError **error);
int sqlite_domain_due(void *impl, gint64 now, int limit, GPtrArray *out, GError **error);
int sqlite_domain_update(void *impl, const MaDomain *d, GError **error);
int sqlite_domain_owner(void *impl, const char *domain, char **enterprise_id, GError **error);
int sqlite_domain_report_put(void *impl, const char *enterprise_id, const char *domain, const char *json, GError **error);
int sqlite_domain_report_get(void *impl, const char *enterprise_id, const char *domain, char **json, GError **error);
int sqlite_domain_key_add(void *impl, const MaDomainKey *k, GError **error);
int sqlite_domain_key_list(void *impl, const char *enterprise_id, const char *domain, GPtrArray *out, GError **error);
int sqlite_domain_key_remove(void *impl, const char *enterprise_id, const char *id, GError **error);
int sqlite_domain_key_update(void *impl, const MaDomainKey *k, GError **error);
int sqlite_outbox_add(void *impl, const char *enterprise_id, const char *event, const char *idempotency_key,
                      const char *payload, gint64 now, GError **error);
int sqlite_outbox_claim(void *impl, gint64 now, gint64 lease_until, int limit, GPtrArray *out, GError **error);
int sqlite_outbox_release(void *impl, gint64 seq, GError **error);
int sqlite_outbox_delivered(void *impl, gint64 seq, gint64 now, GError **error);
int sqlite_outbox_failed(void *impl, gint64 seq, int attempts, gint64 next_attempt_at,
                         const char *error_text, gboolean dead, GError **error);
int sqlite_outbox_backlog(void *impl, gint64 *count, GError **error);
int sqlite_outbox_dead_list(void *impl, const char *enterprise_id, gint64 after_seq, int limit, GPtrArray *out,
                            GError **error);
int sqlite_outbox_get(void *impl, const char *enterprise_id, gint64 seq, MaOutboxEvent **out, GError **error);
int sqlite_outbox_dead_retry(void *impl, const char *enterprise_id, gint64 seq, gint64 now, gint64 *count,
                             GError **error);
int sqlite_outbox_dead_purge(void *impl, const char *enterprise_id, gint64 seq, gint64 *count, GError **error);
int sqlite_outbox_dead_count(void *impl, gint64 *count, GError **error);
/* storage_sqlite_audit.c */
int sqlite_audit_add(void *impl, const MaAuditEntry *e, GError **error);
int sqlite_audit_list(void *impl, const char *enterprise_id, gint64 before_seq, int limit, GPtrArray *out,
                      GError **error);
int sqlite_mailbox_add(void *impl, const MaMailbox *m, GError **error);
int sqlite_mailbox_get(void *impl, const char *enterprise_id, const char *id_or_email, MaMailbox **out, GError **error);
int sqlite_mailbox_list(void *impl, const char *enterprise_id, GPtrArray *out, GError **error);
int sqlite_mailbox_remove(void *impl, const char *enterprise_id, const char *id, GError **error);
int sqlite_mailbox_set_state(void *impl, const char *enterprise_id, const char *id, const char *state, gint64 next_attempt_at, GError **error);
int sqlite_mailbox_report(void *impl, const char *mailbox_id, const MaMailboxSyncReport *r, GError **error);
int sqlite_mailbox_lease(void *impl, const char *mailbox_id, const char *owner, gint64 now, gint64 until, GError **error);
int sqlite_mailbox_release(void *impl, const char *mailbox_id, const char *owner, GError **error);
int sqlite_mailbox_checkpoint_get(void *impl, const char *mailbox_id, const char *folder, MaFolderCheckpoint *out, GError **error);
int sqlite_mailbox_checkpoint_advance(void *impl, const char *mailbox_id, const char *folder, const MaFolderCheckpoint *cp, guint32 key_uidvalidity, const char *const *keys, guint n, GError **error);
int sqlite_mailbox_key_seen(void *impl, const char *mailbox_id, const char *folder, guint32 uidvalidity, const char *key, GError **error);
int sqlite_mailbox_failure_count(void *impl, const char *mailbox_id, const char *folder, const char *key, const char *error_text, gint64 now, int *count, GError **error);
int sqlite_mailbox_quarantine_list(void *impl, const char *mailbox_id, int min_failures, GPtrArray *out, GError **error);
/* Runs sql (a DELETE of one row: ?1 enterprise_id, ?2 id) and, when it deleted the row, the OAuth2
 * grant of owner "<kind>:<id>", in one write. 1 deleted, 0 no such row, -1 on error. */
int sql_delete_with_grant(SqlDb *d, const char *sql, const char *enterprise_id, const char *id, const char *kind,
                          const char *what, GError **error);
int sqlite_oauth2_grant_put(void *impl, const MaOAuth2Grant *g, GError **error);
int sqlite_oauth2_grant_get(void *impl, const char *owner, MaOAuth2Grant **out, GError **error);
int sqlite_oauth2_grant_rotate(void *impl, const char *owner, gint64 expect_generation, const char *access_sealed, gint64 access_expires_at, const char *refresh_sealed, gint64 now, GError **error);
int sqlite_oauth2_grant_revoke(void *impl, const char *owner, gint64 now, GError **error);
int sqlite_oauth2_state_add(void *impl, const char *state, const char *owner, const char *enterprise_id, const char *verifier_sealed, gint64 expires_at, GError **error);
int sqlite_oauth2_state_take(void *impl, const char *state, gint64 now, char **owner, char **verifier_sealed, GError **error);
int sqlite_mailbox_states(void *impl, GHashTable *out, gint64 *quarantined, GError **error);
int sqlite_mailbox_quarantine(void *impl, const char *mailbox_id, const char *folder, const char *key,
                              const char *error_text, gint64 now, GError **error);
int sqlite_oauth2_state_find(void *impl, const char *state, gint64 now, char **owner, char **enterprise_id, GError **error);
int sqlite_mailbox_set_secret(void *impl, const char *mailbox_id, const char *secret_sealed, GError **error);
/* storage_sqlite_sending.c */
int sqlite_mailbox_set_daily_limit(void *impl, const char *enterprise_id, const char *id, int daily_limit, GError **error);
int sqlite_mailbox_send_reserve(void *impl, const char *mailbox_id, const char *day, int limit, int want, int *granted, gint64 *sent_r, GError **error);
int sqlite_mailbox_send_release(void *impl, const char *mailbox_id, const char *day, int n, GError **error);
int sqlite_mailbox_sent_on(void *impl, const char *mailbox_id, const char *day, gint64 *sent, GError **error);
int sqlite_outbound_recipient_reroute(void *impl, gint64 id, const char *route_json, gint64 next_attempt_at, gint64 now, GError **error);
int sqlite_sent_copy_add(void *impl, const char *outbound_id, const char *enterprise_id, const char *mailbox_id, gint64 now, GError **error);
int sqlite_sent_copy_claim(void *impl, gint64 now, gint64 lease_until, int limit, GPtrArray *out, GError **error);
int sqlite_sent_copy_result(void *impl, const char *outbound_id, const char *state, const char *folder, const char *error_text, gint64 next_attempt_at, gint64 now, GError **error);
int sqlite_sent_copy_get(void *impl, const char *enterprise_id, const char *outbound_id, MaSentCopy **out, GError **error);
int sqlite_counts(void *impl, gint64 *messages, gint64 *activities, gint64 *records, GError **error);
/* storage_sqlite_outbound.c (bounces) and storage_sqlite_suppressions.c */
int sqlite_outbound_recipient_get(void *impl, const char *enterprise_id, gint64 row_id, MaOutboundRecipient **out,
                                  GError **error);
int sqlite_outbound_find_message(void *impl, const char *enterprise_id, const char *message_id, char **outbound_id_r,
                                 GError **error);
int sqlite_outbound_bounce(void *impl, gint64 id, MaOutboundState state, const char *reply, gint64 now, GError **error);
int sqlite_suppression_add(void *impl, const MaSuppression *s, GError **error);
int sqlite_suppression_remove(void *impl, const char *enterprise_id, const char *address, GError **error);
int sqlite_suppression_get(void *impl, const char *enterprise_id, const char *address, MaSuppression **out,
                           GError **error);
int sqlite_suppression_list(void *impl, const char *enterprise_id, const char *after_address, int limit, GPtrArray *out,
                            GError **error);
int sqlite_soft_bounce_add(void *impl, const char *enterprise_id, const char *address, gint64 now, gint64 window,
                           gint64 *count_r, GError **error);
int sqlite_soft_bounce_reset(void *impl, const char *enterprise_id, const char *address, GError **error);
/* storage_sqlite_outbound.c */
int sqlite_outbound_enqueue(void *impl, const MaOutbound *m, const char *idem_key, const char *request_hash,
                            const char *response, gint64 now, char **prior_hash, char **prior_response,
                            GError **error);
int sqlite_outbound_get(void *impl, const char *enterprise_id, const char *id, MaOutbound **out, GError **error);
int sqlite_outbound_list(void *impl, const char *enterprise_id, int state, const char *after_id, int limit,
                         GPtrArray *out, GError **error);
int sqlite_outbound_claim(void *impl, gint64 now, gint64 lease_until, int limit, GPtrArray *out, GError **error);
int sqlite_outbound_result(void *impl, gint64 id, MaOutboundState state, const char *reply, gint64 next_attempt_at,
                           const char *deferred_reason, gint64 now, GError **error);
int sqlite_outbound_operate(void *impl, const char *enterprise_id, const char *id, MaOutboundOp op, gint64 now,
                            int *changed, GError **error);
int sqlite_outbound_stats(void *impl, gint64 counts[MA_OUT__COUNT], gint64 *oldest_pending, GError **error);
int sqlite_submission_add(void *impl, const MaSubmissionCredential *c, const char *secret_hash, GError **error);
int sqlite_submission_find(void *impl, const char *username, MaSubmissionCredential **out, char **secret_hash,
                           GError **error);
int sqlite_submission_list(void *impl, const char *enterprise_id, GPtrArray *out, GError **error);
int sqlite_submission_revoke(void *impl, const char *enterprise_id, const char *id_or_username, gint64 now,
                             GError **error);

/* Deletes one held message of the pending store with its participants and, when nothing else
 * refers to it, its raw blob; inside the caller's write (storage_sqlite_pending.c). 1 deleted, 0
 * not there. */
int sql_pending_delete(SqlDb *d, const char *enterprise_id, const char *id, GError **error);

/* storage_sqlite_relays.c: enterprise relays, their filters and daily counters (migration 110). */
int sqlite_relay_add(void *impl, const MaRelay *r, GError **error);
int sqlite_relay_update(void *impl, const MaRelay *r, GError **error);
int sqlite_relay_get(void *impl, const char *enterprise_id, const char *id_or_name, MaRelay **out, GError **error);
int sqlite_relay_list(void *impl, const char *enterprise_id, GPtrArray *out, GError **error);
int sqlite_relay_delete(void *impl, const char *enterprise_id, const char *id, GError **error);
int sqlite_relay_set_status(void *impl, const char *enterprise_id, const char *id, const char *status, gint64 since,
                            const char *reason, gint64 suspended_until, GError **error);
int sqlite_relay_usage(void *impl, const char *enterprise_id, const char *relay_id, const char *day, gint64 *sent,
                       int *failures, gint64 *last_failure_at, GError **error);
int sqlite_relay_reserve(void *impl, const char *enterprise_id, const char *relay_id, const char *day, gint64 limit,
                         int want, int *granted, GError **error);
int sqlite_relay_count_sent(void *impl, const char *enterprise_id, const char *relay_id, const char *day,
                            gint64 delta, GError **error);
int sqlite_relay_count_failure(void *impl, const char *enterprise_id, const char *relay_id, const char *day,
                               gint64 now, gint64 min_gap, int *failures, GError **error);
int sqlite_outbound_set_route(void *impl, const char *enterprise_id, const char *id, const char *route_json,
                              GError **error);

int sqlite_default_path_record(void *impl, const char *enterprise_id, const char *outbound_id, const char *address,
                               gint64 at, GError **error);
int sqlite_default_path_count(void *impl, const char *enterprise_id, gint64 since, gint64 *count, GError **error);
int sqlite_default_path_complaint(void *impl, const char *enterprise_id, const char *outbound_id, const char *address,
                                  gint64 at, GError **error);
int sqlite_default_path_rates(void *impl, const char *enterprise_id, int last, gint64 *total, gint64 *bounced,
                              gint64 *complained,
                              GError **error);
int sqlite_default_path_suspend(void *impl, const char *enterprise_id, gint64 at, const char *reason, GError **error);
int sqlite_default_path_suspension(void *impl, const char *enterprise_id, gint64 *since, char **reason,
                                   GError **error);
int sqlite_default_path_resume(void *impl, const char *enterprise_id, gint64 now, GError **error);

int sqlite_channel_account_set(void *impl, const char *enterprise_id, const char *channel, const char *address,
                               gint64 verified_at, GError **error);
int sqlite_channel_account_get(void *impl, const char *enterprise_id, const char *channel, char **address,
                               gint64 *verified_at, GError **error);
int sqlite_channel_account_clear(void *impl, const char *enterprise_id, const char *channel, GError **error);
int sqlite_employee_send_mailbox_set(void *impl, const char *enterprise_id, const char *employee_id,
                                     const char *mailbox_id, GError **error);
int sqlite_employee_send_mailbox_get(void *impl, const char *enterprise_id, const char *employee_id, char **mailbox_id,
                                     GError **error);

#endif
