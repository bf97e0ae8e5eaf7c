/* pg_internal.h - what the PostgreSQL backend's files share (storage_pg_*.c): the connection
 * handle, statements prepared once per connection and run with text parameters, the write
 * bracket that mirrors the SQLite backend's (a savepoint per write inside storage_begin, nothing
 * inside a batch, where an error aborts the whole batch, and a transaction of its own otherwise),
 * and the mapping of SQLSTATEs to MA_ERROR codes.
 *
 * One connection per handle, used by one thread at a time (libpq connections are not shared).
 * Never logs parameters: they can hold message bodies and secrets.
 */
#ifndef MA_PG_INTERNAL_H
#define MA_PG_INTERNAL_H

#include "storage_backend.h"
#include "storage_list.h"
#include "storage_archive.h"

#include <libpq-fe.h>

typedef struct {
  PGconn *conn;
  GHashTable *stmts;  /* SQL text (owned) -> prepared statement name (owned) */
  guint next_stmt;
  gboolean in_txn;    /* inside storage_begin / storage_begin_batch */
  gboolean batch;
  gboolean spoiled;   /* a write failed inside the batch: commit must refuse */
  int schema_version;
  int fail_commits;   /* fault injection: the next n commits fail as if the server refused them */
  gboolean disk_full; /* fault injection: every write fails as on a full disk (SQLSTATE 53100) */
  gint64 data_version; /* the last value pg_data_version returned */
  char *conninfo;      /* as opened: the commit watcher's own connection uses it */
  struct PgWatcher *watcher; /* started by the first pg_data_version; NULL until then */
  /* Rows counted for /metrics (counters) by their writers, held until the commit: the counters row
   * is then updated once per transaction, locked only while it commits (every node writes it). */
  gint64 unit_counts[2];  /* this write unit's, until it ends */
  gint64 txn_counts[2];   /* the open transaction's, written just before COMMIT */
  gint64 work_base[2];    /* pg_work_counters: the database's totals at its last reset (steps, scans) */
} PgDb;

/* What pg_count_add counts (the counters rows of the same names). */
typedef enum { PG_COUNT_MESSAGES, PG_COUNT_ACTIVITIES } PgCount;
/* Counts delta rows of what in the current write unit: kept if the unit succeeds, written with
 * its transaction's commit, forgotten if it is rolled back. */
void pg_count_add(PgDb *d, PgCount what, gint64 delta);

/* A list parameter crosses the wire joined by SQL_LIST_SEP (storage_list.h); in SQL this is the
 * separator for string_to_array(..., PG_LIST_SEP) and array_to_string. */
#define PG_LIST_SEP "E'\\x1f'"

/* Text parameters for pg_run: strings are borrowed, numbers formatted into the struct. */
#define PG_MAX_PARAMS 24
typedef struct {
  const char *values[PG_MAX_PARAMS];
  char numbers[PG_MAX_PARAMS][24];
  int n;
} PgParams;

void pg_param_text(PgParams *p, const char *text); /* NULL is SQL NULL */
void pg_param_int(PgParams *p, gint64 v);

/* Runs sql, prepared on first use on this connection, with p's parameters (p may be NULL). The
 * result (caller PQclear) when the server accepted it, else NULL with *error naming what. */
PGresult *pg_run(PgDb *d, const char *sql, const PgParams *p, const char *what, GError **error);
/* pg_run for a statement whose rows are not needed: the number of rows it touched, or -1. */
gint64 pg_exec(PgDb *d, const char *sql, const PgParams *p, const char *what, GError **error);
/* pg_exec for a row that belongs to enterprise_id: a missing enterprise (the foreign key) becomes
 * MA_ERROR_NOT_FOUND "no enterprise <id>", as the SQLite backend says it. */
gint64 pg_exec_enterprise_row(PgDb *d, const char *sql, const PgParams *p, const char *enterprise_id, const char *what,
                              GError **error);
/* Runs a statement without parameters or preparation (transaction control, DDL). 0 or -1. */
int pg_control(PgDb *d, const char *sql, GError **error);

/* MA_ERROR code for a failed result: TEMPFAIL for serialization failures, deadlocks, lost
 * connections and full disks; CONFLICT for unique violations; NOT_FOUND for a missing parent row
 * (foreign key); INTERNAL otherwise. */
int pg_error_code(const PGresult *r, PGconn *conn);
/* TRUE when r failed with this SQLSTATE. */
gboolean pg_sqlstate_is(const PGresult *r, const char *sqlstate);

/* The write bracket: pg_write_end(d, rc, error) returns rc, or -1 when ending failed. */
int pg_write_begin(PgDb *d, GError **error);
int pg_write_end(PgDb *d, int rc, GError **error);

/* One write statement in the write bracket: 1 when it touched a row, 0 when none (its condition
 * failed), -1 on error. For conditional UPDATEs and DELETEs whose answer is "changed or not". */
int pg_write_changed(PgDb *d, const char *sql, const PgParams *p, const char *what, GError **error);

/* A write statement whose rows are the answer (a claim: UPDATE ... RETURNING), in the write
 * bracket: each row read by read_row is appended to out (which owns them) only once the write
 * ended well, so a failed commit hands out nothing. 0 or -1. */
int pg_write_rows(PgDb *d, const char *sql, const PgParams *p, const char *what,
                  gpointer (*read_row)(const PGresult *r, int row), GDestroyNotify free_row, GPtrArray *out,
                  GError **error);

/* A consistent snapshot for a read of several statements, as SQLite's read transaction: outside
 * storage_begin it opens a REPEATABLE READ READ ONLY transaction (*own set) that pg_read_end ends,
 * returning rc; inside one it does nothing. */
int pg_read_begin(PgDb *d, gboolean *own, GError **error);
int pg_read_end(PgDb *d, gboolean own, int rc);

/* Column helpers: a new string (NULL for SQL NULL) and an integer (0 for NULL). */
char *pg_col_dup(const PGresult *r, int row, int col);
gint64 pg_col_int(const PGresult *r, int row, int col);
/* The first column of r's rows appended to out as new strings, then r cleared; r NULL (the query
 * failed, *error set by pg_run) gives -1. */
int pg_ids_collect(PGresult *r, GPtrArray *out);

/* Before deleting blobs that nothing may reference any more: locks (FOR UPDATE, in digest order)
 * the stored blobs whose digests digests_sql (a subquery with p's parameters) names, waiting for
 * the transactions that found one of them in storage_blob_put and may be inserting a reference;
 * the DELETE that follows, a new statement, then sees their references. 0 or -1. */
int pg_blobs_lock_doomed(PgDb *d, const char *digests_sql, const PgParams *p, GError **error);

/* The migrations: numbered SQL files of storage/pg/, compiled in by CMake (pg_migrations.c). */
typedef struct {
  int version;
  const char *name;
  const char *sql;
} PgMigration;
extern const PgMigration ma_pg_migrations[];
extern const int ma_pg_migrations_count;

/* items[0..n) as the text of a PostgreSQL array ("{"a","b",NULL}"; a NULL item is SQL NULL), for
 * a parameter cast to text[] (or int[], bigint[]) and unnested: one statement for many rows. */
char *pg_array_literal(const char *const *items, guint n);

/* TRUE when a table of this name exists (a later area's migration may not be applied yet). */
int pg_table_exists(PgDb *d, const char *table, GError **error);

/* ---- the archive's rows, shared by storage_pg_messages.c, _threads.c and _timeline.c ------------ */

/* 1 when message id belongs to enterprise, 0 when not (or absent), -1 on error. */
int pg_message_owned(PgDb *d, const char *enterprise_id, const char *id, GError **error);
/* After a write that changed nothing: 0 when message id is the enterprise's (the row existed), -1
 * with MA_ERROR_NOT_FOUND "no message <id>" when it is not (or on error). */
int pg_message_missing(PgDb *d, const char *enterprise_id, const char *id, GError **error);
/* A message row of SQL_MESSAGE_COLS (storage_archive.h) from column first of row on. */
MaStoredMessage *pg_message_read(const PGresult *r, int row, int first);
/* An activity row of SQL_ACTIVITY_COLS from column first of row on. */
MaActivity *pg_activity_read(const PGresult *r, int row, int first);
/* Appends the participants, attachments and links of the messages of by_id (id -> MaStoredMessage*)
 * in one statement, in their order (participants and attachments by position, links by record). */
int pg_message_parts_many(PgDb *d, GHashTable *by_id, GError **error);
/* storage_pg_messages.c: rewrites the items of a message's timeline rows from
 * timeline_message_fields after one of its links came or went (migration 050). */
int pg_timeline_rows_refresh(PgDb *d, const char *enterprise_id, const char *message_id, GError **error);
/* Loads the messages named by ids (char*) that belong to the enterprise, with their parts (and the
 * bodies asked for), into by_id, keyed by each message's own id. */
int pg_messages_load_many(PgDb *d, const char *enterprise_id, GPtrArray *ids, MaBodies bodies, GHashTable *by_id,
                          GError **error);

/* ---- the backend's functions (storage_backend.h contracts) ------------------------------------- */

int pg_open(const char *conninfo, gboolean create, void **impl_out, GError **error);
void pg_close(void *impl);
int pg_schema_version(void *impl);
char *pg_library_version(void);
int pg_begin(void *impl, GError **error);
int pg_begin_batch(void *impl, GError **error);
int pg_commit(void *impl, GError **error);
void pg_rollback(void *impl);
void pg_fault_inject_commit_failures(void *impl, int n);
void pg_fault_inject_disk_full(void *impl, gboolean full);
void pg_debug_statements(void *impl, GPtrArray *out);
int pg_debug_query(void *impl, const char *sql, GPtrArray *rows, GError **error);
gint64 pg_data_version(void *impl);
int pg_checkpoint(void *impl, GError **error);
int pg_enterprise_delete(void *impl, const char *enterprise_id, GError **error);

int pg_message_find_duplicate(void *impl, const char *enterprise_id, const char *message_id, const char *dedup_key,
                              char **id_out, GError **error);
int pg_message_insert(void *impl, const MaStoredMessage *m, GError **error);
int pg_message_get(void *impl, const char *enterprise_id, const char *id, MaStoredMessage **out, GError **error);
int pg_message_links(void *impl, const char *enterprise_id, const char *message_id, GPtrArray *out, GError **error);
int pg_link_add(void *impl, const char *enterprise_id, const char *message_id, const MaRecordRef *ref, GError **error);
int pg_links_without_activity(void *impl, const char *enterprise_id, const char *message_id, GPtrArray *out,
                              GError **error);
int pg_message_archive(void *impl, const MaStoredMessage *m, const MaProvenance *p, GError **error);
/* pg_search_index inside the caller's write (pg_write_begin). */
int pg_search_index_body(PgDb *d, const MaStoredMessage *m, GError **error);
int pg_provenance_add(void *impl, const char *enterprise_id, const char *message_id, const MaProvenance *p,
                      GError **error);
int pg_provenance_list(void *impl, const char *enterprise_id, const char *message_id, GPtrArray *out, GError **error);
int pg_attachment_visible(void *impl, const char *enterprise_id, const char *sha256, char **filename,
                          char **content_type, GError **error);
int pg_message_ids_archived_since(void *impl, const char *enterprise_id, gint64 since, const char *after_id, int limit,
                                  GPtrArray *out, GError **error);
int pg_message_ids_latest(void *impl, const char *enterprise_id, int limit, GPtrArray *out, GError **error);

int pg_thread_find_by_message_ids(void *impl, const char *enterprise_id, const char *const *ids, guint n,
                                  char **thread_id, GError **error);
int pg_thread_find_by_subject(void *impl, const char *enterprise_id, const char *subject_key,
                              const char *participants_key, gint64 since, char **thread_id, GError **error);
int pg_thread_create(void *impl, const char *enterprise_id, const char *thread_id, const char *subject_key,
                     const char *participants_key, gint64 latest, GError **error);
int pg_thread_touch(void *impl, const char *enterprise_id, const char *thread_id, gint64 date, GError **error);
int pg_thread_opportunity_links(void *impl, const char *enterprise_id, const char *thread_id, GPtrArray *out,
                                GError **error);
int pg_thread_messages(void *impl, const char *enterprise_id, const char *thread_id, GPtrArray *out, GError **error);

int pg_activity_create(void *impl, const MaActivity *a, GError **error);
int pg_activity_get(void *impl, const char *enterprise_id, const char *id, MaActivity **out, GError **error);
int pg_message_activities(void *impl, const char *enterprise_id, const char *message_id, GPtrArray *out,
                          GError **error);
int pg_loop_count(void *impl, const char *enterprise_id, const MaRecordRef *record, const char *from, gint64 since,
                  gint64 *count, GError **error);
int pg_archive_version(void *impl, const char *enterprise_id, gint64 *out, GError **error);
int pg_timeline_each(void *impl, const char *enterprise_id, MaRecordType type, const char *record_id,
                     const MaTimelineFilter *filter, const char *cursor, int limit, MaTimelineKnown known,
                     MaTimelineVisit visit, void *user_data, char **next_cursor, GError **error);

int pg_outbox_add(void *impl, const char *enterprise_id, const char *event, const char *idempotency_key,
                  const char *payload, gint64 now, GError **error);
int pg_outbox_claim(void *impl, gint64 now, gint64 lease_until, int limit, GPtrArray *out, GError **error);
int pg_outbox_release(void *impl, gint64 seq, GError **error);
int pg_outbox_delivered(void *impl, gint64 seq, gint64 now, GError **error);
int pg_outbox_failed(void *impl, gint64 seq, int attempts, gint64 next_attempt_at, const char *error_text,
                     gboolean dead, GError **error);
int pg_outbox_backlog(void *impl, gint64 *count, GError **error);
int pg_outbox_dead_list(void *impl, const char *enterprise_id, gint64 after_seq, int limit, GPtrArray *out,
                        GError **error);
int pg_outbox_get(void *impl, const char *enterprise_id, gint64 seq, MaOutboxEvent **out, GError **error);
int pg_outbox_dead_retry(void *impl, const char *enterprise_id, gint64 seq, gint64 now, gint64 *count,
                         GError **error);
int pg_outbox_dead_purge(void *impl, const char *enterprise_id, gint64 seq, gint64 *count, GError **error);
int pg_outbox_dead_count(void *impl, gint64 *count, GError **error);

int pg_enterprise_create(void *impl, const MaEnterprise *e, GError **error);
int pg_enterprise_get(void *impl, const char *id_or_slug, MaEnterprise **out, GError **error);
int pg_enterprise_list(void *impl, GPtrArray *out, GError **error);
int pg_enterprise_domain_add(void *impl, const char *enterprise_id, const char *domain, GError **error);
int pg_enterprise_domain_remove(void *impl, const char *enterprise_id, const char *domain, GError **error);
int pg_inbound_lookup(void *impl, const char *local_part, gint64 now, char **enterprise_id, GError **error);
int pg_inbound_rotate(void *impl, const char *enterprise_id, const char *new_local, gint64 old_expires_at,
                      GError **error);
int pg_inbound_list(void *impl, const char *enterprise_id, gint64 now, GPtrArray *out, GError **error);
int pg_inbound_all(void *impl, gint64 now, GPtrArray *out, GError **error);
int pg_tenant_version(void *impl, gint64 *out, GError **error);
int pg_blob_put(void *impl, const void *data, gsize len, char sha256_out[65], GError **error);
int pg_blob_get(void *impl, const char *sha256, GBytes **out, GError **error);
int pg_blob_put_stream(void *impl, const char *sha256, gsize size, MaBlobReader read, void *ctx, GError **error);
/* Runs sql (a DELETE of one row: $1 enterprise_id, $2 id) and, when it deleted the row, the OAuth2
 * grant of owner "<kind>:<id>", in one write. 1 deleted, 0 no such row, -1 on error. */
int pg_delete_with_grant(PgDb *d, const char *sql, const char *enterprise_id, const char *id, const char *kind,
                         const char *what, GError **error);
int pg_oauth2_grant_put(void *impl, const MaOAuth2Grant *g, GError **error);
int pg_oauth2_grant_get(void *impl, const char *owner, MaOAuth2Grant **out, GError **error);
int pg_oauth2_grant_rotate(void *impl, const char *owner, gint64 expect_generation, const char *access_sealed,
                           gint64 access_expires_at, const char *refresh_sealed, gint64 now, GError **error);
int pg_oauth2_grant_revoke(void *impl, const char *owner, gint64 now, GError **error);
int pg_oauth2_state_add(void *impl, const char *state, const char *owner, const char *enterprise_id,
                        const char *verifier_sealed, gint64 expires_at, GError **error);
int pg_oauth2_state_take(void *impl, const char *state, gint64 now, char **owner, char **verifier_sealed,
                         GError **error);
int pg_oauth2_state_find(void *impl, const char *state, gint64 now, char **owner, char **enterprise_id, GError **error);
int pg_audit_add(void *impl, const MaAuditEntry *e, GError **error);
int pg_audit_list(void *impl, const char *enterprise_id, gint64 before_seq, int limit, GPtrArray *out, GError **error);
int pg_domain_get(void *impl, const char *enterprise_id, const char *domain, MaDomain **out, GError **error);
int pg_domain_list(void *impl, const char *enterprise_id, GPtrArray *out, GError **error);
int pg_domain_due(void *impl, gint64 now, int limit, GPtrArray *out, GError **error);
int pg_domain_update(void *impl, const MaDomain *dom, GError **error);
int pg_domain_owner(void *impl, const char *domain, char **enterprise_id, GError **error);
int pg_domain_report_put(void *impl, const char *enterprise_id, const char *domain, const char *json, GError **error);
int pg_domain_report_get(void *impl, const char *enterprise_id, const char *domain, char **json, GError **error);
int pg_domain_key_add(void *impl, const MaDomainKey *k, GError **error);
int pg_domain_key_list(void *impl, const char *enterprise_id, const char *domain, GPtrArray *out, GError **error);
int pg_domain_key_remove(void *impl, const char *enterprise_id, const char *id, GError **error);
int pg_domain_key_update(void *impl, const MaDomainKey *k, GError **error);
int pg_counts(void *impl, gint64 *messages, gint64 *activities, gint64 *records, GError **error);
int pg_employee_add(void *impl, const MaEmployee *e, GError **error);
int pg_employee_remove(void *impl, const char *enterprise_id, const char *id_or_email, GError **error);
int pg_employee_find(void *impl, const char *enterprise_id, const char *id_or_email, MaEmployee **out,
                     GError **error);
int pg_employee_list(void *impl, const char *enterprise_id, GPtrArray *out, GError **error);

int pg_apikey_add(void *impl, const MaApiKey *k, const char *secret_hash, GError **error);
int pg_apikey_find(void *impl, const char *secret_hash, MaApiKey **out, GError **error);
int pg_apikey_get(void *impl, const char *id, MaApiKey **out, GError **error);
int pg_apikey_list(void *impl, const char *enterprise_id, GPtrArray *out, GError **error);
int pg_apikey_revoke(void *impl, const char *id, gint64 now, GError **error);
int pg_installation_get(void *impl, const char *name, char **value, GError **error);
int pg_installation_set_once(void *impl, const char *name, const char *value, char **stored, GError **error);
int pg_job_lease(void *impl, const char *job, const char *owner, gint64 now, gint64 until, GError **error);
int pg_setting_get(void *impl, const char *enterprise_id, const char *key, char **value, GError **error);
int pg_setting_set(void *impl, const char *enterprise_id, const char *key, const char *value, GError **error);
int pg_setting_list(void *impl, const char *enterprise_id, GHashTable *out, GError **error);
int pg_rules_get(void *impl, const char *enterprise_id, char **json_array, GError **error);
int pg_rules_put(void *impl, const char *enterprise_id, const char *json_array, GError **error);

int pg_record_upsert(void *impl, const char *enterprise_id, const MaRecord *r, GError **error);
int pg_record_delete(void *impl, const char *enterprise_id, MaRecordType type, const char *id, GError **error);
int pg_record_get(void *impl, const char *enterprise_id, MaRecordType type, const char *id, MaRecord **out,
                  GError **error);
int pg_record_list(void *impl, const char *enterprise_id, MaRecordType type, const char *after_id, int limit,
                   GPtrArray *out, GError **error);
int pg_records_by_email(void *impl, const char *enterprise_id, const char *address_key, gboolean ignore_plus,
                        GPtrArray *out, GError **error);
int pg_accounts_by_domain(void *impl, const char *enterprise_id, const char *domain, GPtrArray *out, GError **error);
int pg_opportunities_open_for_contact(void *impl, const char *enterprise_id, const char *contact_id, GPtrArray *out,
                                      GError **error);
int pg_opportunities_open_for_account(void *impl, const char *enterprise_id, const char *account_id, GPtrArray *out,
                                      GError **error);

/* the sending side (storage_pg_outbound.c, storage_pg_relays.c, storage_pg_sending.c,
 * storage_pg_suppressions.c) */
int pg_mailbox_set_daily_limit(void *impl, const char *enterprise_id, const char *id, int daily_limit, GError **error);
int pg_mailbox_send_reserve(void *impl, const char *mailbox_id, const char *day, int limit, int want, int *granted, gint64 *sent_r, GError **error);
int pg_mailbox_send_release(void *impl, const char *mailbox_id, const char *day, int n, GError **error);
int pg_mailbox_sent_on(void *impl, const char *mailbox_id, const char *day, gint64 *sent, GError **error);
int pg_outbound_recipient_reroute(void *impl, gint64 id, const char *route_json, gint64 next_attempt_at, gint64 now, GError **error);
int pg_sent_copy_add(void *impl, const char *outbound_id, const char *enterprise_id, const char *mailbox_id, gint64 now, GError **error);
int pg_sent_copy_claim(void *impl, gint64 now, gint64 lease_until, int limit, GPtrArray *out, GError **error);
int pg_sent_copy_result(void *impl, const char *outbound_id, const char *state, const char *folder, const char *error_text, gint64 next_attempt_at, gint64 now, GError **error);
int pg_sent_copy_get(void *impl, const char *enterprise_id, const char *outbound_id, MaSentCopy **out, GError **error);
int pg_outbound_recipient_get(void *impl, const char *enterprise_id, gint64 row_id, MaOutboundRecipient **out,
                                  GError **error);
int pg_outbound_find_message(void *impl, const char *enterprise_id, const char *message_id, char **outbound_id_r,
                                 GError **error);
int pg_outbound_bounce(void *impl, gint64 id, MaOutboundState state, const char *reply, gint64 now, GError **error);
int pg_suppression_add(void *impl, const MaSuppression *s, GError **error);
int pg_suppression_remove(void *impl, const char *enterprise_id, const char *address, GError **error);
int pg_suppression_get(void *impl, const char *enterprise_id, const char *address, MaSuppression **out,
                           GError **error);
int pg_suppression_list(void *impl, const char *enterprise_id, const char *after_address, int limit, GPtrArray *out,
                            GError **error);
int pg_soft_bounce_add(void *impl, const char *enterprise_id, const char *address, gint64 now, gint64 window,
                           gint64 *count_r, GError **error);
int pg_soft_bounce_reset(void *impl, const char *enterprise_id, const char *address, GError **error);
int pg_outbound_enqueue(void *impl, const MaOutbound *m, const char *idem_key, const char *request_hash,
                            const char *response, gint64 now, char **prior_hash, char **prior_response,
                            GError **error);
int pg_outbound_get(void *impl, const char *enterprise_id, const char *id, MaOutbound **out, GError **error);
int pg_outbound_list(void *impl, const char *enterprise_id, int state, const char *after_id, int limit,
                         GPtrArray *out, GError **error);
int pg_outbound_claim(void *impl, gint64 now, gint64 lease_until, int limit, GPtrArray *out, GError **error);
int pg_outbound_result(void *impl, gint64 id, MaOutboundState state, const char *reply, gint64 next_attempt_at,
                           const char *deferred_reason, gint64 now, GError **error);
int pg_outbound_operate(void *impl, const char *enterprise_id, const char *id, MaOutboundOp op, gint64 now,
                            int *changed, GError **error);
int pg_outbound_stats(void *impl, gint64 counts[MA_OUT__COUNT], gint64 *oldest_pending, GError **error);
int pg_submission_add(void *impl, const MaSubmissionCredential *c, const char *secret_hash, GError **error);
int pg_submission_find(void *impl, const char *username, MaSubmissionCredential **out, char **secret_hash,
                           GError **error);
int pg_submission_list(void *impl, const char *enterprise_id, GPtrArray *out, GError **error);
int pg_submission_revoke(void *impl, const char *enterprise_id, const char *id_or_username, gint64 now,
                             GError **error);
int pg_relay_add(void *impl, const MaRelay *r, GError **error);
int pg_relay_update(void *impl, const MaRelay *r, GError **error);
int pg_relay_get(void *impl, const char *enterprise_id, const char *id_or_name, MaRelay **out, GError **error);
int pg_relay_list(void *impl, const char *enterprise_id, GPtrArray *out, GError **error);
int pg_relay_delete(void *impl, const char *enterprise_id, const char *id, GError **error);
int pg_relay_set_status(void *impl, const char *enterprise_id, const char *id, const char *status, gint64 since,
                            const char *reason, gint64 suspended_until, GError **error);
int pg_relay_usage(void *impl, const char *enterprise_id, const char *relay_id, const char *day, gint64 *sent,
                       int *failures, gint64 *last_failure_at, GError **error);
int pg_relay_count_sent(void *impl, const char *enterprise_id, const char *relay_id, const char *day,
                            gint64 delta, GError **error);
int pg_relay_count_failure(void *impl, const char *enterprise_id, const char *relay_id, const char *day,
                               gint64 now, gint64 min_gap, int *failures, GError **error);
int pg_outbound_set_route(void *impl, const char *enterprise_id, const char *id, const char *route_json,
                              GError **error);
int pg_default_path_record(void *impl, const char *enterprise_id, const char *outbound_id, const char *address,
                               gint64 at, GError **error);
int pg_default_path_count(void *impl, const char *enterprise_id, gint64 since, gint64 *count, GError **error);
int pg_default_path_complaint(void *impl, const char *enterprise_id, const char *outbound_id, const char *address,
                              gint64 at, GError **error);
int pg_relay_reserve(void *impl, const char *enterprise_id, const char *relay_id, const char *day, gint64 limit, int want,
                     int *granted, GError **error);
int pg_default_path_rates(void *impl, const char *enterprise_id, int last, gint64 *total, gint64 *bounced,
                          gint64 *complained,
                              GError **error);
int pg_default_path_suspend(void *impl, const char *enterprise_id, gint64 at, const char *reason, GError **error);
int pg_default_path_suspension(void *impl, const char *enterprise_id, gint64 *since, char **reason,
                                   GError **error);
int pg_default_path_resume(void *impl, const char *enterprise_id, gint64 now, GError **error);
int pg_channel_account_set(void *impl, const char *enterprise_id, const char *channel, const char *address,
                               gint64 verified_at, GError **error);
int pg_channel_account_get(void *impl, const char *enterprise_id, const char *channel, char **address,
                               gint64 *verified_at, GError **error);
int pg_channel_account_clear(void *impl, const char *enterprise_id, const char *channel, GError **error);
int pg_employee_send_mailbox_set(void *impl, const char *enterprise_id, const char *employee_id,
                                     const char *mailbox_id, GError **error);
int pg_employee_send_mailbox_get(void *impl, const char *enterprise_id, const char *employee_id, char **mailbox_id,
                                     GError **error);
int pg_mailbox_add(void *impl, const MaMailbox *m, GError **error);
int pg_mailbox_get(void *impl, const char *enterprise_id, const char *id_or_email, MaMailbox **out, GError **error);
int pg_mailbox_list(void *impl, const char *enterprise_id, GPtrArray *out, GError **error);
int pg_mailbox_remove(void *impl, const char *enterprise_id, const char *id, GError **error);
int pg_mailbox_set_state(void *impl, const char *enterprise_id, const char *id, const char *state,
                         gint64 next_attempt_at, GError **error);
int pg_mailbox_set_secret(void *impl, const char *mailbox_id, const char *secret_sealed, GError **error);
int pg_mailbox_report(void *impl, const char *mailbox_id, const MaMailboxSyncReport *r, GError **error);
int pg_mailbox_lease(void *impl, const char *mailbox_id, const char *owner, gint64 now, gint64 until, GError **error);
int pg_mailbox_release(void *impl, const char *mailbox_id, const char *owner, GError **error);
int pg_mailbox_checkpoint_get(void *impl, const char *mailbox_id, const char *folder, MaFolderCheckpoint *out,
                              GError **error);
int pg_mailbox_checkpoint_advance(void *impl, const char *mailbox_id, const char *folder, const MaFolderCheckpoint *cp,
                                  guint32 key_uidvalidity, const char *const *keys, guint n, GError **error);
int pg_mailbox_key_seen(void *impl, const char *mailbox_id, const char *folder, guint32 uidvalidity, const char *key,
                        GError **error);
int pg_mailbox_failure_count(void *impl, const char *mailbox_id, const char *folder, const char *key,
                             const char *error_text, gint64 now, int *count, GError **error);
int pg_mailbox_quarantine(void *impl, const char *mailbox_id, const char *folder, const char *key,
                          const char *error_text, gint64 now, GError **error);
int pg_mailbox_states(void *impl, GHashTable *out, gint64 *quarantined, GError **error);
int pg_mailbox_quarantine_list(void *impl, const char *mailbox_id, int min_failures, GPtrArray *out, GError **error);

/* Deletes one held message and the blobs only it referenced, inside the caller's write: 1 deleted,
 * 0 not the enterprise's (storage_pg_pending.c; erasure by address uses it too). */
int pg_pending_delete_body(PgDb *d, const char *enterprise_id, const char *id, GError **error);
int pg_pending_add(void *impl, const MaPending *p, GError **error);
int pg_messages_by_participant(void *impl, const char *enterprise_id, const char *address, const char *domain,
                               gint64 since, GPtrArray *out, GError **error);
int pg_pending_candidates(void *impl, const char *enterprise_id, int limit, GPtrArray *out, GError **error);
int pg_pending_list(void *impl, const char *enterprise_id, const char *id, int limit, GPtrArray *out, GError **error);
int pg_pending_delete(void *impl, const char *enterprise_id, const char *id, GError **error);
int pg_pending_purge(void *impl, gint64 now, gint64 *purged, GError **error);
int pg_work_counters(void *impl, gboolean reset, gint64 *steps, gint64 *full_scans, GError **error);
int pg_record_unlink(void *impl, const char *enterprise_id, const MaRecordRef *ref, GPtrArray *orphans,
                     GError **error);
int pg_message_unarchive(void *impl, const char *enterprise_id, const char *message_id, const MaPending *hold,
                         GError **error);

int pg_search_index(void *impl, const MaStoredMessage *m, GError **error);
int pg_search(void *impl, const char *enterprise_id, const MaSearchRequest *req, gint64 after, int limit,
              GPtrArray *out, GError **error);
int pg_erase_address(void *impl, const char *enterprise_id, const char *address, MaEraseCounts *counts, GError **error);
int pg_expire_before(void *impl, const char *enterprise_id, gint64 before, int limit, MaEraseCounts *counts,
                     GError **error);
int pg_search_compact(void *impl, GError **error);
int pg_search_rebuild(void *impl, GError **error);

#endif
