/* storage_backend.h - the table of functions behind storage.h. A backend (today only SQLite, see
 * storage_sqlite_*.c) fills one MaStorageBackend; storage.c dispatches every public storage_*
 * call through it, so callers never know which database is underneath and a PostgreSQL backend
 * can be added later without touching them.
 *
 * Each entry has the public function's contract (storage.h), with the backend's private state
 * `impl` in place of the MaStorage handle. Backends must scope every query by enterprise_id and
 * must never log message bodies.
 */
#ifndef MA_STORAGE_BACKEND_H
#define MA_STORAGE_BACKEND_H

#include "storage.h"
#include "storage_search.h"

#include "agent/lib/crypto.h"

typedef struct MaStorageBackend {
  const char *name;
  /* lifecycle: open creates *impl_out (owned by the backend, released by close). location: the
   * data directory (SQLite) or the libpq conninfo (PostgreSQL). */
  int (*open)(const char *location, gboolean create, void **impl_out, GError **error);
  void (*close)(void *impl);
  int (*schema_version)(void *impl);
  /* The client library's name and version (caller frees); needs no open database. */
  char *(*library_version)(void);
  int (*begin)(void *impl, GError **error);
  int (*begin_batch)(void *impl, GError **error);
  int (*commit)(void *impl, GError **error);
  void (*rollback)(void *impl);
  void (*fault_inject_commit_failures)(void *impl, int n);
  void (*debug_statements)(void *impl, GPtrArray *out);
  int (*debug_query)(void *impl, const char *sql, GPtrArray *rows, GError **error);
  gint64 (*data_version)(void *impl);
  void (*fault_inject_disk_full)(void *impl, gboolean full);
  int (*checkpoint)(void *impl, GError **error);

  int (*enterprise_create)(void *impl, const MaEnterprise *e, GError **error);
  int (*enterprise_delete)(void *impl, const char *enterprise_id, GError **error);
  int (*enterprise_get)(void *impl, const char *id_or_slug, MaEnterprise **out, GError **error);
  int (*enterprise_list)(void *impl, GPtrArray *out, GError **error);
  int (*enterprise_domain_add)(void *impl, const char *enterprise_id, const char *domain, GError **error);
  int (*enterprise_domain_remove)(void *impl, const char *enterprise_id, const char *domain, GError **error);
  int (*inbound_lookup)(void *impl, const char *local_part, gint64 now, char **enterprise_id, GError **error);
  int (*inbound_rotate)(void *impl, const char *enterprise_id, const char *new_local, gint64 old_expires_at,
                        GError **error);
  int (*inbound_list)(void *impl, const char *enterprise_id, gint64 now, GPtrArray *out, GError **error);
  int (*inbound_all)(void *impl, gint64 now, GPtrArray *out, GError **error);
  int (*tenant_version)(void *impl, gint64 *out, GError **error);
  int (*archive_version)(void *impl, const char *enterprise_id, gint64 *out, GError **error);
  int (*employee_add)(void *impl, const MaEmployee *e, GError **error);
  int (*employee_remove)(void *impl, const char *enterprise_id, const char *id_or_email, GError **error);
  int (*employee_find)(void *impl, const char *enterprise_id, const char *id_or_email, MaEmployee **out,
                       GError **error);
  int (*employee_list)(void *impl, const char *enterprise_id, GPtrArray *out, GError **error);
  int (*apikey_add)(void *impl, const MaApiKey *k, const char *secret_hash, GError **error);
  int (*apikey_find)(void *impl, const char *secret_hash, MaApiKey **out, GError **error);
  int (*apikey_list)(void *impl, const char *enterprise_id, GPtrArray *out, GError **error);
  int (*apikey_get)(void *impl, const char *id, MaApiKey **out, GError **error);
  int (*apikey_revoke)(void *impl, const char *id, gint64 now, GError **error);
  int (*setting_get)(void *impl, const char *enterprise_id, const char *key, char **value, GError **error);
  int (*setting_set)(void *impl, const char *enterprise_id, const char *key, const char *value,
                     GError **error);
  int (*setting_list)(void *impl, const char *enterprise_id, GHashTable *out, GError **error);
  int (*record_upsert)(void *impl, const char *enterprise_id, const MaRecord *r, GError **error);
  int (*record_delete)(void *impl, const char *enterprise_id, MaRecordType type, const char *id,
                       GError **error);
  int (*record_get)(void *impl, const char *enterprise_id, MaRecordType type, const char *id, MaRecord **out,
                    GError **error);
  int (*record_list)(void *impl, const char *enterprise_id, MaRecordType type, const char *after_id,
                     int limit, GPtrArray *out, GError **error);
  int (*records_by_email)(void *impl, const char *enterprise_id, const char *address_key,
                          gboolean ignore_plus, GPtrArray *out, GError **error);
  int (*accounts_by_domain)(void *impl, const char *enterprise_id, const char *domain, GPtrArray *out,
                            GError **error);
  int (*opportunities_open_for_contact)(void *impl, const char *enterprise_id, const char *contact_id,
                                        GPtrArray *out, GError **error);
  int (*opportunities_open_for_account)(void *impl, const char *enterprise_id, const char *account_id,
                                        GPtrArray *out, GError **error);
  int (*blob_put)(void *impl, const void *data, gsize len, char sha256_out[65], GError **error);
  int (*blob_get)(void *impl, const char *sha256, GBytes **out, GError **error);
  int (*blob_put_stream)(void *impl, const char *sha256, gsize size, MaBlobReader read, void *ctx, GError **error);
  int (*message_find_duplicate)(void *impl, const char *enterprise_id, const char *message_id,
                                const char *dedup_key, char **id_out, GError **error);
  int (*message_insert)(void *impl, const MaStoredMessage *m, GError **error);
  int (*message_archive)(void *impl, const MaStoredMessage *m, const MaProvenance *p, GError **error);
  int (*message_get)(void *impl, const char *enterprise_id, const char *id, MaStoredMessage **out,
                     GError **error);
  int (*pending_add)(void *impl, const MaPending *p, GError **error);
  int (*messages_by_participant)(void *impl, const char *enterprise_id, const char *address, const char *domain,
                                 gint64 since, GPtrArray *out, GError **error);
  int (*work_counters)(void *impl, gboolean reset, gint64 *steps, gint64 *full_scans, GError **error);
  int (*record_unlink)(void *impl, const char *enterprise_id, const MaRecordRef *record, GPtrArray *orphans,
                       GError **error);
  int (*message_unarchive)(void *impl, const char *enterprise_id, const char *message_id, const MaPending *hold,
                           GError **error);
  int (*loop_count)(void *impl, const char *enterprise_id, const MaRecordRef *record, const char *from, gint64 since,
                    gint64 *count, GError **error);
  int (*pending_candidates)(void *impl, const char *enterprise_id, int limit, GPtrArray *out, GError **error);
  int (*pending_list)(void *impl, const char *enterprise_id, const char *id, int limit, GPtrArray *out, GError **error);
  int (*pending_delete)(void *impl, const char *enterprise_id, const char *id, GError **error);
  int (*pending_purge)(void *impl, gint64 now, gint64 *purged, GError **error);
  int (*message_ids_latest)(void *impl, const char *enterprise_id, int limit, GPtrArray *out, GError **error);
  int (*message_ids_archived_since)(void *impl, const char *enterprise_id, gint64 since,
                                    const char *after_id, int limit, GPtrArray *out, GError **error);
  int (*attachment_visible)(void *impl, const char *enterprise_id, const char *sha256, char **filename,
                            char **content_type, GError **error);
  int (*link_add)(void *impl, const char *enterprise_id, const char *message_id, const MaRecordRef *ref,
                  GError **error);
  int (*message_links)(void *impl, const char *enterprise_id, const char *message_id, GPtrArray *out,
                       GError **error);
  int (*provenance_add)(void *impl, const char *enterprise_id, const char *message_id, const MaProvenance *p,
                        GError **error);
  int (*provenance_list)(void *impl, const char *enterprise_id, const char *message_id, GPtrArray *out,
                         GError **error);
  int (*thread_find_by_message_ids)(void *impl, const char *enterprise_id, const char *const *ids, guint n,
                                    char **thread_id, GError **error);
  int (*thread_find_by_subject)(void *impl, const char *enterprise_id, const char *subject_key,
                                const char *participants_key, gint64 since, char **thread_id,
                                GError **error);
  int (*thread_create)(void *impl, const char *enterprise_id, const char *thread_id, const char *subject_key,
                       const char *participants_key, gint64 latest, GError **error);
  int (*thread_touch)(void *impl, const char *enterprise_id, const char *thread_id, gint64 date,
                      GError **error);
  int (*thread_opportunity_links)(void *impl, const char *enterprise_id, const char *thread_id,
                                  GPtrArray *out, GError **error);
  int (*thread_messages)(void *impl, const char *enterprise_id, const char *thread_id, GPtrArray *out,
                         GError **error);
  int (*activity_create)(void *impl, const MaActivity *a, GError **error);
  int (*links_without_activity)(void *impl, const char *enterprise_id, const char *message_id,
                                GPtrArray *out, GError **error);
  int (*activity_get)(void *impl, const char *enterprise_id, const char *id, MaActivity **out,
                      GError **error);
  int (*message_activities)(void *impl, const char *enterprise_id, const char *message_id, GPtrArray *out,
                            GError **error);
  /* storage_timeline_each, which has checked limit (1..TIMELINE_MAX_LIMIT) and the direction;
   * storage_timeline copies the visited items */
  int (*timeline_each)(void *impl, const char *enterprise_id, MaRecordType type, const char *record_id,
                       const MaTimelineFilter *filter, const char *cursor, int limit, MaTimelineKnown known,
                       MaTimelineVisit visit, void *user_data, char **next_cursor, GError **error);
  int (*rules_get)(void *impl, const char *enterprise_id, char **json_array, GError **error);
  int (*rules_put)(void *impl, const char *enterprise_id, const char *json_array, GError **error);
  int (*domain_get)(void *impl, const char *enterprise_id, const char *domain, MaDomain **out, GError **error);
  int (*domain_list)(void *impl, const char *enterprise_id, GPtrArray *out, GError **error);
  int (*domain_due)(void *impl, gint64 now, int limit, GPtrArray *out, GError **error);
  int (*domain_update)(void *impl, const MaDomain *d, GError **error);
  int (*domain_owner)(void *impl, const char *domain, char **enterprise_id, GError **error);
  int (*domain_report_put)(void *impl, const char *enterprise_id, const char *domain, const char *json, GError **error);
  int (*domain_report_get)(void *impl, const char *enterprise_id, const char *domain, char **json, GError **error);
  int (*domain_key_add)(void *impl, const MaDomainKey *k, GError **error);
  int (*domain_key_list)(void *impl, const char *enterprise_id, const char *domain, GPtrArray *out, GError **error);
  int (*domain_key_remove)(void *impl, const char *enterprise_id, const char *id, GError **error);
  int (*domain_key_update)(void *impl, const MaDomainKey *k, GError **error);
  int (*outbox_add)(void *impl, const char *enterprise_id, const char *event, const char *idempotency_key,
                    const char *payload, gint64 now, GError **error);
  int (*outbox_claim)(void *impl, gint64 now, gint64 lease_until, int limit, GPtrArray *out, GError **error);
  int (*outbox_release)(void *impl, gint64 seq, GError **error);
  int (*outbox_delivered)(void *impl, gint64 seq, gint64 now, GError **error);
  int (*outbox_failed)(void *impl, gint64 seq, int attempts, gint64 next_attempt_at, const char *error_text,
                       gboolean dead, GError **error);
  int (*outbox_backlog)(void *impl, gint64 *count, GError **error);
  int (*outbox_dead_list)(void *impl, const char *enterprise_id, gint64 after_seq, int limit, GPtrArray *out,
                          GError **error);
  int (*outbox_get)(void *impl, const char *enterprise_id, gint64 seq, MaOutboxEvent **out, GError **error);
  int (*outbox_dead_retry)(void *impl, const char *enterprise_id, gint64 seq, gint64 now, gint64 *count,
                           GError **error);
  int (*outbox_dead_purge)(void *impl, const char *enterprise_id, gint64 seq, gint64 *count, GError **error);
  int (*outbox_dead_count)(void *impl, gint64 *count, GError **error);
  int (*audit_add)(void *impl, const MaAuditEntry *e, GError **error);
  int (*audit_list)(void *impl, const char *enterprise_id, gint64 before_seq, int limit, GPtrArray *out,
                    GError **error);
  /* mailbox bindings and OAuth2 grants (migration 10) */
  int (*mailbox_add)(void *impl, const MaMailbox *m, GError **error);
  int (*mailbox_get)(void *impl, const char *enterprise_id, const char *id_or_email, MaMailbox **out, GError **error);
  int (*mailbox_list)(void *impl, const char *enterprise_id, GPtrArray *out, GError **error);
  int (*mailbox_remove)(void *impl, const char *enterprise_id, const char *id, GError **error);
  int (*mailbox_set_state)(void *impl, const char *enterprise_id, const char *id, const char *state, gint64 next_attempt_at, GError **error);
  int (*mailbox_report)(void *impl, const char *mailbox_id, const MaMailboxSyncReport *r, GError **error);
  int (*mailbox_lease)(void *impl, const char *mailbox_id, const char *owner, gint64 now, gint64 until, GError **error);
  int (*mailbox_release)(void *impl, const char *mailbox_id, const char *owner, GError **error);
  int (*mailbox_checkpoint_get)(void *impl, const char *mailbox_id, const char *folder, MaFolderCheckpoint *out, GError **error);
  int (*mailbox_checkpoint_advance)(void *impl, const char *mailbox_id, const char *folder, const MaFolderCheckpoint *cp, guint32 key_uidvalidity, const char *const *keys, guint n, GError **error);
  int (*mailbox_key_seen)(void *impl, const char *mailbox_id, const char *folder, guint32 uidvalidity, const char *key, GError **error);
  int (*mailbox_failure_count)(void *impl, const char *mailbox_id, const char *folder, const char *key, const char *error_text, gint64 now, int *count, GError **error);
  int (*mailbox_quarantine_list)(void *impl, const char *mailbox_id, int min_failures, GPtrArray *out, GError **error);
  int (*oauth2_grant_put)(void *impl, const MaOAuth2Grant *g, GError **error);
  int (*oauth2_grant_get)(void *impl, const char *owner, MaOAuth2Grant **out, GError **error);
  int (*oauth2_grant_rotate)(void *impl, const char *owner, gint64 expect_generation, const char *access_sealed, gint64 access_expires_at, const char *refresh_sealed, gint64 now, GError **error);
  int (*oauth2_grant_revoke)(void *impl, const char *owner, gint64 now, GError **error);
  int (*oauth2_state_add)(void *impl, const char *state, const char *owner, const char *enterprise_id, const char *verifier_sealed, gint64 expires_at, GError **error);
  int (*oauth2_state_take)(void *impl, const char *state, gint64 now, char **owner, char **verifier_sealed, GError **error);
  int (*mailbox_states)(void *impl, GHashTable *out, gint64 *quarantined, GError **error);
  int (*mailbox_quarantine)(void *impl, const char *mailbox_id, const char *folder, const char *key,
                            const char *error_text, gint64 now, GError **error);
  int (*oauth2_state_find)(void *impl, const char *state, gint64 now, char **owner, char **enterprise_id, GError **error);
  int (*mailbox_set_secret)(void *impl, const char *mailbox_id, const char *secret_sealed, GError **error);
  /* sending through employee mailboxes (migrations 115, 116) */
  int (*mailbox_set_daily_limit)(void *impl, const char *enterprise_id, const char *id, int daily_limit, GError **error);
  int (*mailbox_send_reserve)(void *impl, const char *mailbox_id, const char *day, int limit, int want, int *granted, gint64 *sent_r, GError **error);
  int (*mailbox_send_release)(void *impl, const char *mailbox_id, const char *day, int n, GError **error);
  int (*mailbox_sent_on)(void *impl, const char *mailbox_id, const char *day, gint64 *sent, GError **error);
  int (*outbound_recipient_reroute)(void *impl, gint64 id, const char *route_json, gint64 next_attempt_at, gint64 now, GError **error);
  int (*sent_copy_add)(void *impl, const char *outbound_id, const char *enterprise_id, const char *mailbox_id, gint64 now, GError **error);
  int (*sent_copy_claim)(void *impl, gint64 now, gint64 lease_until, int limit, GPtrArray *out, GError **error);
  int (*sent_copy_result)(void *impl, const char *outbound_id, const char *state, const char *folder, const char *error_text, gint64 next_attempt_at, gint64 now, GError **error);
  int (*sent_copy_get)(void *impl, const char *enterprise_id, const char *outbound_id, MaSentCopy **out, GError **error);
  int (*counts)(void *impl, gint64 *messages, gint64 *activities, gint64 *records, GError **error);
  int (*outbound_enqueue)(void *impl, const MaOutbound *m, const char *idem_key, const char *request_hash,
                          const char *response, gint64 now, char **prior_hash, char **prior_response,
                          GError **error);
  int (*outbound_get)(void *impl, const char *enterprise_id, const char *id, MaOutbound **out, GError **error);
  int (*outbound_list)(void *impl, const char *enterprise_id, int state, const char *after_id, int limit,
                       GPtrArray *out, GError **error);
  int (*outbound_claim)(void *impl, gint64 now, gint64 lease_until, int limit, GPtrArray *out, GError **error);
  int (*outbound_result)(void *impl, gint64 id, MaOutboundState state, const char *reply, gint64 next_attempt_at,
                         const char *deferred_reason, gint64 now, GError **error);
  int (*outbound_operate)(void *impl, const char *enterprise_id, const char *id, MaOutboundOp op, gint64 now,
                          int *changed, GError **error);
  int (*outbound_stats)(void *impl, gint64 counts[MA_OUT__COUNT], gint64 *oldest_pending, GError **error);
  int (*outbound_recipient_get)(void *impl, const char *enterprise_id, gint64 row_id, MaOutboundRecipient **out,
                                GError **error);
  int (*outbound_find_message)(void *impl, const char *enterprise_id, const char *message_id, char **outbound_id_r,
                               GError **error);
  int (*outbound_bounce)(void *impl, gint64 id, MaOutboundState state, const char *reply, gint64 now, GError **error);
  int (*suppression_add)(void *impl, const MaSuppression *s, GError **error);
  int (*suppression_remove)(void *impl, const char *enterprise_id, const char *address, GError **error);
  int (*suppression_get)(void *impl, const char *enterprise_id, const char *address, MaSuppression **out,
                         GError **error);
  int (*suppression_list)(void *impl, const char *enterprise_id, const char *after_address, int limit, GPtrArray *out,
                          GError **error);
  int (*soft_bounce_add)(void *impl, const char *enterprise_id, const char *address, gint64 now, gint64 window,
                         gint64 *count_r, GError **error);
  int (*soft_bounce_reset)(void *impl, const char *enterprise_id, const char *address, GError **error);
  int (*submission_add)(void *impl, const MaSubmissionCredential *c, const char *secret_hash, GError **error);
  int (*submission_find)(void *impl, const char *username, MaSubmissionCredential **out, char **secret_hash,
                         GError **error);
  int (*submission_list)(void *impl, const char *enterprise_id, GPtrArray *out, GError **error);
  int (*submission_revoke)(void *impl, const char *enterprise_id, const char *id_or_username, gint64 now,
                           GError **error);
  /* enterprise relays (migration 110) */
  int (*relay_add)(void *impl, const MaRelay *r, GError **error);
  int (*relay_update)(void *impl, const MaRelay *r, GError **error);
  int (*relay_get)(void *impl, const char *enterprise_id, const char *id_or_name, MaRelay **out, GError **error);
  int (*relay_list)(void *impl, const char *enterprise_id, GPtrArray *out, GError **error);
  int (*relay_delete)(void *impl, const char *enterprise_id, const char *id, GError **error);
  int (*relay_set_status)(void *impl, const char *enterprise_id, const char *id, const char *status, gint64 since,
                          const char *reason, gint64 suspended_until, GError **error);
  int (*relay_usage)(void *impl, const char *enterprise_id, const char *relay_id, const char *day, gint64 *sent,
                     int *failures, gint64 *last_failure_at, GError **error);
  int (*relay_reserve)(void *impl, const char *enterprise_id, const char *relay_id, const char *day, gint64 limit,
                       int want, int *granted, GError **error);
  int (*relay_count_sent)(void *impl, const char *enterprise_id, const char *relay_id, const char *day, gint64 delta,
                          GError **error);
  int (*relay_count_failure)(void *impl, const char *enterprise_id, const char *relay_id, const char *day, gint64 now,
                             gint64 min_gap, int *failures, GError **error);
  int (*outbound_set_route)(void *impl, const char *enterprise_id, const char *id, const char *route_json,
                            GError **error);
  /* the shared relay's reputation (migration 111) */
  int (*default_path_record)(void *impl, const char *enterprise_id, const char *outbound_id, const char *address,
                             gint64 at, GError **error);
  int (*default_path_count)(void *impl, const char *enterprise_id, gint64 since, gint64 *count, GError **error);
  int (*default_path_complaint)(void *impl, const char *enterprise_id, const char *outbound_id, const char *address,
                                gint64 at, GError **error);
  int (*default_path_rates)(void *impl, const char *enterprise_id, int last, gint64 *total, gint64 *bounced,
                            gint64 *complained, GError **error);  /* complaints: migration 134 */
  int (*default_path_suspend)(void *impl, const char *enterprise_id, gint64 at, const char *reason, GError **error);
  int (*default_path_suspension)(void *impl, const char *enterprise_id, gint64 *since, char **reason, GError **error);
  int (*default_path_resume)(void *impl, const char *enterprise_id, gint64 now, GError **error);
  /* channel system accounts (migration 112) */
  int (*channel_account_set)(void *impl, const char *enterprise_id, const char *channel, const char *address,
                             gint64 verified_at, GError **error);
  int (*channel_account_get)(void *impl, const char *enterprise_id, const char *channel, char **address,
                             gint64 *verified_at, GError **error);
  int (*channel_account_clear)(void *impl, const char *enterprise_id, const char *channel, GError **error);
  int (*employee_send_mailbox_set)(void *impl, const char *enterprise_id, const char *employee_id,
                                   const char *mailbox_id, GError **error);
  int (*employee_send_mailbox_get)(void *impl, const char *enterprise_id, const char *employee_id, char **mailbox_id,
                                   GError **error);
  /* the full-text index and the deletions that must leave no trace (storage_search.h) */
  int (*search_index)(void *impl, const MaStoredMessage *m, GError **error);
  int (*search)(void *impl, const char *enterprise_id, const MaSearchRequest *req, gint64 after, int limit,
                GPtrArray *out, GError **error);
  int (*erase_address)(void *impl, const char *enterprise_id, const char *address, MaEraseCounts *counts,
                       GError **error);
  int (*expire_before)(void *impl, const char *enterprise_id, gint64 before, int limit, MaEraseCounts *counts,
                       GError **error);
  int (*search_compact)(void *impl, GError **error);
  int (*search_rebuild)(void *impl, GError **error);
  /* the installation's shared values (SQLite migration 149) */
  int (*installation_get)(void *impl, const char *name, char **value, GError **error);
  int (*installation_set_once)(void *impl, const char *name, const char *value, char **stored, GError **error);
  /* leaders of scheduled jobs (SQLite migration 150) */
  int (*job_lease)(void *impl, const char *job, const char *owner, gint64 now, gint64 until, GError **error);
} MaStorageBackend;

/* The handle behind storage.h's MaStorage: a backend and its state (storage.c opens it; the
 * dispatch files only read it). */
struct MaStorage {
  const MaStorageBackend *be;
  void *impl;
};

/* A streamed blob's bytes as the backends pull them (storage_blob_put_stream): exactly size bytes
 * from the caller's reader, hashed on the way, checked against the promised digest at the end. */
typedef struct {
  MaBlobReader read;
  void *ctx;
  gsize left;       /* bytes still expected */
  MaSha256 *hash;   /* owned until storage_blob_pull_finish or _clear */
} MaBlobPull;

void storage_blob_pull_init(MaBlobPull *p, MaBlobReader read, void *ctx, gsize size);
/* Fills buf with the next min(cap, left) bytes (looping over short reads) and hashes them: how
 * many, 0 once size bytes were read, or -1 with *error (MA_ERROR_INVALID when the source ends
 * early, or the reader's own error). */
gssize storage_blob_pull_next(MaBlobPull *p, guint8 *buf, gsize cap, GError **error);
/* After the last piece: 0 when the source is at its end and the bytes hash to sha256, else -1 with
 * MA_ERROR_INVALID. Releases the hash either way. */
int storage_blob_pull_finish(MaBlobPull *p, const char *sha256, GError **error);
/* Releases the hash of a pull given up half-way (idempotent). */
void storage_blob_pull_clear(MaBlobPull *p);

/* Which bodies a backend's loader of many messages reads with them: none, the text alone (a search
 * hit's excerpt; an HTML body can be many times its text), or the text and the HTML. */
typedef enum { MA_BODIES_NONE, MA_BODIES_TEXT, MA_BODIES_ALL } MaBodies;

/* The last step of a backend's storage_search (storage_search.c): each of hits (MaSearchHit*, in page
 * order, whose message holds only its id) takes its message from by_id (id -> MaStoredMessage*
 * loaded with MA_BODIES_TEXT; taken out), gets its subject and an excerpt of its body text marked
 * with the query's tokens, loses the body, and moves to the end of out. A hit whose message is
 * not in by_id (deleted meanwhile) stays in hits, freed with it. */
void storage_search_hits_finish(GPtrArray *hits, GHashTable *by_id, const MaSearchQuery *query, GPtrArray *out);

/* The SQLite backend (storage_sqlite_backend.c). */
extern const MaStorageBackend ma_storage_sqlite_backend;
/* The PostgreSQL backend (storage_pg_backend.c); it fills every entry. */
extern const MaStorageBackend ma_storage_pg_backend;

/* Opens be at location (a data directory, or a conninfo) whatever the process's selection: for
 * storage_open, and for the tests that prove a backend function by function while it is built. */
int storage_open_backend(const MaStorageBackend *be, const char *location, gboolean create, MaStorage **out,
                         GError **error);
/* How many of the table's functions a backend fills, and how many there are. */
void storage_backend_coverage(const MaStorageBackend *be, guint *filled, guint *total);

#endif
