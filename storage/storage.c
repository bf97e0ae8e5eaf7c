/* storage.c - the public storage interface: opens a backend and dispatches every storage_* call
 * through its table of functions (storage_backend.h); also the constructors and destructors of the
 * structures storage.h returns.
 *
 * Holds no SQL and no state beyond the backend pointer: each function is a one-line dispatch, so
 * the contract lives in storage.h and its implementation in the backend. Never add behaviour here
 * that a second backend would have to duplicate differently: backend-neutral behaviour lives in
 * storage_<area>.c (the timeline's delivery states and copies in storage_timeline.c, the streamed
 * blobs' pull in storage_blob_pull.c, the outbound, mailbox and relay helpers in theirs).
 */
#include "storage.h"
#include "storage_backend.h"

#include "agent/lib/error.h"

#include <string.h>

/* ---- structures ----------------------------------------------------------------------------- */

void ma_inbound_address_free(MaInboundAddress *a)
{
  if (!a) return;
  g_free(a->local);
  g_free(a->enterprise_id);
  g_free(a);
}

void ma_enterprise_free(MaEnterprise *e)
{
  if (!e) return;
  g_free(e->id);
  g_free(e->slug);
  g_free(e->name);
  g_free(e->inbound_local);
  if (e->domains) g_ptr_array_unref(e->domains);
  g_free(e);
}

void ma_employee_free(MaEmployee *e)
{
  if (!e) return;
  g_free(e->id);
  g_free(e->enterprise_id);
  g_free(e->email);
  g_free(e->name);
  g_free(e);
}

void ma_api_key_free(MaApiKey *k)
{
  if (!k) return;
  g_free(k->id);
  g_free(k->enterprise_id);
  g_free(k->label);
  g_free(k->prefix);
  g_free(k);
}

void ma_mailbox_free(MaMailbox *m)
{
  if (!m) return;
  g_free(m->id);
  g_free(m->enterprise_id);
  g_free(m->employee_id);
  g_free(m->email);
  g_free(m->username);
  g_free(m->protocol);
  g_free(m->host);
  g_free(m->security);
  g_free(m->auth);
  g_free(m->secret_sealed);
  g_free(m->smtp_host);
  g_free(m->smtp_security);
  g_free(m->preset);
  g_free(m->folders);
  g_free(m->state);
  g_free(m->last_error);
  g_free(m);
}

void ma_oauth2_grant_free(MaOAuth2Grant *g)
{
  if (!g) return;
  g_free(g->owner);
  g_free(g->enterprise_id);
  g_free(g->provider);
  g_free(g->access_sealed);
  g_free(g->refresh_sealed);
  g_free(g->state);
  g_free(g);
}

MaStoredMessage *ma_stored_message_new(void)
{
  MaStoredMessage *m = g_new0(MaStoredMessage, 1);
  m->participants = g_ptr_array_new_with_free_func((GDestroyNotify)ma_participant_free);
  m->attachments = g_ptr_array_new_with_free_func((GDestroyNotify)ma_attachment_free);
  m->links = g_ptr_array_new_with_free_func((GDestroyNotify)ma_record_ref_free);
  return m;
}

void ma_stored_message_free(MaStoredMessage *m)
{
  if (!m) return;
  g_free(m->id);
  g_free(m->enterprise_id);
  g_free(m->thread_id);
  g_free(m->message_id);
  g_free(m->dedup_key);
  g_free(m->subject);
  g_free(m->raw_sha256);
  g_free(m->text);
  g_free(m->html);
  g_free(m->snippet);
  g_free(m->parse_error);
  g_free(m->machine_reason);
  if (m->participants) g_ptr_array_unref(m->participants);
  if (m->attachments) g_ptr_array_unref(m->attachments);
  if (m->links) g_ptr_array_unref(m->links);
  g_free(m);
}

void ma_activity_free(MaActivity *a)
{
  if (!a) return;
  g_free(a->id);
  g_free(a->enterprise_id);
  g_free(a->message_id);
  g_free(a->record.id);
  g_free(a->rule_id);
  g_free(a->rule_name);
  g_free(a->activity_type);
  g_free(a->title);
  g_free(a->content);
  g_free(a->owner);
  g_free(a);
}

void ma_timeline_item_free(MaTimelineItem *item)
{
  if (!item) return;
  ma_stored_message_free(item->message);
  ma_activity_free(item->activity);
  if (item->delivery) g_ptr_array_unref(item->delivery);
  g_free(item);
}

void ma_outbox_event_free(MaOutboxEvent *e)
{
  if (!e) return;
  g_free(e->idempotency_key);
  g_free(e->enterprise_id);
  g_free(e->event);
  g_free(e->payload);
  g_free(e->last_error);
  g_free(e);
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

/* The process's choice (storage_select_backend); SQLite until one is made. */
static const MaStorageBackend *selected = &ma_storage_sqlite_backend;
static char *selected_conninfo;

void storage_backend_coverage(const MaStorageBackend *be, guint *filled, guint *total)
{
  /* Every member after `name` is a function pointer (storage_backend.h), so the table can be
   * walked as an array of them. */
  typedef void (*AnyFn)(void);
  const AnyFn *fn = (const AnyFn *)((const char *)be + sizeof(const char *));
  guint n = (sizeof *be - sizeof(const char *)) / sizeof(AnyFn);
  *total = n;
  *filled = 0;
  for (guint i = 0; i < n; i++)
    if (fn[i]) (*filled)++;
}

int storage_select_backend(const char *name, const char *conninfo, GError **error)
{
  if (!name || g_str_equal(name, "sqlite")) {
    selected = &ma_storage_sqlite_backend;
    return 0;
  }
  if (!g_str_equal(name, "postgresql")) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "[storage] backend: \"%s\" is not one of sqlite, postgresql", name);
    return -1;
  }
  if (!conninfo || !*conninfo) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "[storage] backend = postgresql needs [storage] postgresql (a conninfo)");
    return -1;
  }
  guint filled = 0, total = 0;
  storage_backend_coverage(&ma_storage_pg_backend, &filled, &total);
  if (filled < total) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID,
                "[storage] backend = postgresql: the PostgreSQL backend implements %u of %u storage functions so far;"
                " use sqlite", filled, total);
    return -1;
  }
  selected = &ma_storage_pg_backend;
  g_free(selected_conninfo);
  selected_conninfo = g_strdup(conninfo);
  return 0;
}

int storage_open_backend(const MaStorageBackend *be, const char *location, gboolean create, MaStorage **out,
                         GError **error)
{
  void *impl = NULL;
  *out = NULL;
  if (be->open(location, create, &impl, error) < 0) return -1;
  MaStorage *st = g_new0(MaStorage, 1);
  st->be = be;
  st->impl = impl;
  *out = st;
  return 0;
}

int storage_open(const char *data_dir, gboolean create, MaStorage **out, GError **error)
{
  g_assert(data_dir != NULL && out != NULL);
  return storage_open_backend(selected, selected == &ma_storage_pg_backend ? selected_conninfo : data_dir, create, out,
                              error);
}

void storage_close(MaStorage **st)
{
  if (!st || !*st) return;
  (*st)->be->close((*st)->impl);
  g_free(*st);
  *st = NULL;
}

int storage_schema_version(MaStorage *st)
{
  g_assert(st != NULL);
  return st->be->schema_version(st->impl);
}

char *storage_library_version(void)
{
  return selected->library_version();
}

int storage_begin(MaStorage *st, GError **error)
{
  g_assert(st != NULL);
  return st->be->begin(st->impl, error);
}

int storage_begin_batch(MaStorage *st, GError **error)
{
  g_assert(st != NULL);
  return st->be->begin_batch(st->impl, error);
}

int storage_commit(MaStorage *st, GError **error)
{
  g_assert(st != NULL);
  return st->be->commit(st->impl, error);
}

void storage_rollback(MaStorage *st)
{
  g_assert(st != NULL);
  st->be->rollback(st->impl);
}

void storage_fault_inject_commit_failures(MaStorage *st, int n)
{
  g_assert(st != NULL);
  st->be->fault_inject_commit_failures(st->impl, n);
}

void storage_debug_statements(MaStorage *st, GPtrArray *out)
{
  g_assert(st != NULL && out != NULL);
  st->be->debug_statements(st->impl, out);
}

int storage_debug_query(MaStorage *st, const char *sql, GPtrArray *rows, GError **error)
{
  g_assert(st != NULL && sql != NULL && rows != NULL);
  return st->be->debug_query(st->impl, sql, rows, error);
}

void storage_fault_inject_disk_full(MaStorage *st, gboolean full)
{
  g_assert(st != NULL);
  st->be->fault_inject_disk_full(st->impl, full);
}

int storage_checkpoint(MaStorage *st, GError **error)
{
  g_assert(st != NULL);
  return st->be->checkpoint(st->impl, error);
}

gint64 storage_data_version(MaStorage *st)
{
  g_assert(st != NULL);
  return st->be->data_version(st->impl);
}

/* ---- dispatch ------------------------------------------------------------------------------- */

int storage_enterprise_delete(MaStorage *st, const char *enterprise_id, GError **error)
{
  g_assert(st != NULL && enterprise_id != NULL);
  return st->be->enterprise_delete(st->impl, enterprise_id, error);
}

int storage_enterprise_create(MaStorage *st, const MaEnterprise *e, GError **error)
{
  g_assert(st != NULL);
  return st->be->enterprise_create(st->impl, e, error);
}

int storage_enterprise_get(MaStorage *st, const char *id_or_slug, MaEnterprise **out, GError **error)
{
  g_assert(st != NULL);
  return st->be->enterprise_get(st->impl, id_or_slug, out, error);
}

int storage_enterprise_list(MaStorage *st, GPtrArray *out, GError **error)
{
  g_assert(st != NULL);
  return st->be->enterprise_list(st->impl, out, error);
}

int storage_enterprise_domain_add(MaStorage *st, const char *enterprise_id, const char *domain,
                                  GError **error)
{
  g_assert(st != NULL);
  return st->be->enterprise_domain_add(st->impl, enterprise_id, domain, error);
}

int storage_enterprise_domain_remove(MaStorage *st, const char *enterprise_id, const char *domain,
                                     GError **error)
{
  g_assert(st != NULL);
  return st->be->enterprise_domain_remove(st->impl, enterprise_id, domain, error);
}

int storage_inbound_lookup(MaStorage *st, const char *local_part, gint64 now, char **enterprise_id,
                           GError **error)
{
  g_assert(st != NULL);
  return st->be->inbound_lookup(st->impl, local_part, now, enterprise_id, error);
}

int storage_inbound_all(MaStorage *st, gint64 now, GPtrArray *out, GError **error)
{
  g_assert(st != NULL);
  return st->be->inbound_all(st->impl, now, out, error);
}

int storage_tenant_version(MaStorage *st, gint64 *out, GError **error)
{
  g_assert(st != NULL);
  return st->be->tenant_version(st->impl, out, error);
}

int storage_archive_version(MaStorage *st, const char *enterprise_id, gint64 *out, GError **error)
{
  g_assert(st != NULL && enterprise_id != NULL);
  return st->be->archive_version(st->impl, enterprise_id, out, error);
}

int storage_inbound_rotate(MaStorage *st, const char *enterprise_id, const char *new_local,
                           gint64 old_expires_at, GError **error)
{
  g_assert(st != NULL);
  return st->be->inbound_rotate(st->impl, enterprise_id, new_local, old_expires_at, error);
}

int storage_inbound_list(MaStorage *st, const char *enterprise_id, gint64 now, GPtrArray *out, GError **error)
{
  g_assert(st != NULL);
  return st->be->inbound_list(st->impl, enterprise_id, now, out, error);
}

int storage_employee_add(MaStorage *st, const MaEmployee *e, GError **error)
{
  g_assert(st != NULL);
  return st->be->employee_add(st->impl, e, error);
}

int storage_employee_remove(MaStorage *st, const char *enterprise_id, const char *id_or_email, GError **error)
{
  g_assert(st != NULL);
  return st->be->employee_remove(st->impl, enterprise_id, id_or_email, error);
}

int storage_employee_find(MaStorage *st, const char *enterprise_id, const char *id_or_email,
                          MaEmployee **out, GError **error)
{
  g_assert(st != NULL);
  return st->be->employee_find(st->impl, enterprise_id, id_or_email, out, error);
}

int storage_employee_list(MaStorage *st, const char *enterprise_id, GPtrArray *out, GError **error)
{
  g_assert(st != NULL);
  return st->be->employee_list(st->impl, enterprise_id, out, error);
}

int storage_apikey_add(MaStorage *st, const MaApiKey *k, const char *secret_hash, GError **error)
{
  g_assert(st != NULL);
  return st->be->apikey_add(st->impl, k, secret_hash, error);
}

int storage_apikey_find(MaStorage *st, const char *secret_hash, MaApiKey **out, GError **error)
{
  g_assert(st != NULL);
  return st->be->apikey_find(st->impl, secret_hash, out, error);
}

int storage_apikey_list(MaStorage *st, const char *enterprise_id, GPtrArray *out, GError **error)
{
  g_assert(st != NULL);
  return st->be->apikey_list(st->impl, enterprise_id, out, error);
}

int storage_apikey_get(MaStorage *st, const char *id, MaApiKey **out, GError **error)
{
  g_assert(st != NULL);
  return st->be->apikey_get(st->impl, id, out, error);
}

int storage_apikey_revoke(MaStorage *st, const char *id, gint64 now, GError **error)
{
  g_assert(st != NULL);
  return st->be->apikey_revoke(st->impl, id, now, error);
}

int storage_setting_get(MaStorage *st, const char *enterprise_id, const char *key, char **value,
                        GError **error)
{
  g_assert(st != NULL);
  return st->be->setting_get(st->impl, enterprise_id, key, value, error);
}

int storage_setting_set(MaStorage *st, const char *enterprise_id, const char *key, const char *value,
                        GError **error)
{
  g_assert(st != NULL);
  return st->be->setting_set(st->impl, enterprise_id, key, value, error);
}

int storage_setting_list(MaStorage *st, const char *enterprise_id, GHashTable *out, GError **error)
{
  g_assert(st != NULL);
  return st->be->setting_list(st->impl, enterprise_id, out, error);
}

int storage_installation_get(MaStorage *st, const char *name, char **value, GError **error)
{
  g_assert(st != NULL && name != NULL && value != NULL);
  *value = NULL;
  return st->be->installation_get(st->impl, name, value, error);
}

int storage_installation_set_once(MaStorage *st, const char *name, const char *value, char **stored, GError **error)
{
  g_assert(st != NULL && name != NULL && value != NULL && stored != NULL);
  *stored = NULL;
  return st->be->installation_set_once(st->impl, name, value, stored, error);
}

int storage_job_lease(MaStorage *st, const char *job, const char *owner, gint64 now, gint64 until, GError **error)
{
  g_assert(st != NULL && job != NULL && owner != NULL);
  return st->be->job_lease(st->impl, job, owner, now, until, error);
}

int storage_record_upsert(MaStorage *st, const char *enterprise_id, const MaRecord *r, GError **error)
{
  g_assert(st != NULL);
  return st->be->record_upsert(st->impl, enterprise_id, r, error);
}

int storage_record_delete(MaStorage *st, const char *enterprise_id, MaRecordType type, const char *id,
                          GError **error)
{
  g_assert(st != NULL);
  return st->be->record_delete(st->impl, enterprise_id, type, id, error);
}

int storage_record_get(MaStorage *st, const char *enterprise_id, MaRecordType type, const char *id,
                       MaRecord **out, GError **error)
{
  g_assert(st != NULL);
  return st->be->record_get(st->impl, enterprise_id, type, id, out, error);
}

int storage_record_list(MaStorage *st, const char *enterprise_id, MaRecordType type, const char *after_id,
                        int limit, GPtrArray *out, GError **error)
{
  g_assert(st != NULL);
  return st->be->record_list(st->impl, enterprise_id, type, after_id, limit, out, error);
}

int storage_records_by_email(MaStorage *st, const char *enterprise_id, const char *address_key,
                             gboolean ignore_plus, GPtrArray *out, GError **error)
{
  g_assert(st != NULL);
  return st->be->records_by_email(st->impl, enterprise_id, address_key, ignore_plus, out, error);
}

int storage_accounts_by_domain(MaStorage *st, const char *enterprise_id, const char *domain, GPtrArray *out,
                               GError **error)
{
  g_assert(st != NULL);
  return st->be->accounts_by_domain(st->impl, enterprise_id, domain, out, error);
}

int storage_opportunities_open_for_contact(MaStorage *st, const char *enterprise_id, const char *contact_id,
                                           GPtrArray *out, GError **error)
{
  g_assert(st != NULL);
  return st->be->opportunities_open_for_contact(st->impl, enterprise_id, contact_id, out, error);
}

int storage_opportunities_open_for_account(MaStorage *st, const char *enterprise_id, const char *account_id,
                                           GPtrArray *out, GError **error)
{
  g_assert(st != NULL);
  return st->be->opportunities_open_for_account(st->impl, enterprise_id, account_id, out, error);
}

int storage_blob_put(MaStorage *st, const void *data, gsize len, char sha256_out[65], GError **error)
{
  g_assert(st != NULL);
  return st->be->blob_put(st->impl, data, len, sha256_out, error);
}

int storage_blob_get(MaStorage *st, const char *sha256, GBytes **out, GError **error)
{
  g_assert(st != NULL);
  return st->be->blob_get(st->impl, sha256, out, error);
}

int storage_blob_put_stream(MaStorage *st, const char *sha256, gsize size, MaBlobReader read, void *ctx,
                            GError **error)
{
  g_assert(st != NULL && sha256 != NULL && read != NULL);
  return st->be->blob_put_stream(st->impl, sha256, size, read, ctx, error);
}

int storage_message_find_duplicate(MaStorage *st, const char *enterprise_id, const char *message_id,
                                   const char *dedup_key, char **id_out, GError **error)
{
  g_assert(st != NULL);
  return st->be->message_find_duplicate(st->impl, enterprise_id, message_id, dedup_key, id_out, error);
}

int storage_message_insert(MaStorage *st, const MaStoredMessage *m, GError **error)
{
  g_assert(st != NULL);
  return st->be->message_insert(st->impl, m, error);
}

int storage_message_archive(MaStorage *st, const MaStoredMessage *m, const MaProvenance *p, GError **error)
{
  g_assert(st != NULL && m != NULL && m->id && m->enterprise_id);
  return st->be->message_archive(st->impl, m, p, error);
}

int storage_message_get(MaStorage *st, const char *enterprise_id, const char *id, MaStoredMessage **out,
                        GError **error)
{
  g_assert(st != NULL);
  return st->be->message_get(st->impl, enterprise_id, id, out, error);
}

int storage_messages_by_participant(MaStorage *st, const char *enterprise_id, const char *address, const char *domain,
                                    gint64 since, GPtrArray *out, GError **error)
{
  g_assert(st != NULL && (address || domain));
  return st->be->messages_by_participant(st->impl, enterprise_id, address, domain, since, out, error);
}

int storage_work_counters(MaStorage *st, gboolean reset, gint64 *steps, gint64 *full_scans, GError **error)
{
  g_assert(st != NULL);
  return st->be->work_counters(st->impl, reset, steps, full_scans, error);
}

int storage_record_unlink(MaStorage *st, const char *enterprise_id, const MaRecordRef *record, GPtrArray *orphans,
                          GError **error)
{
  g_assert(st != NULL);
  return st->be->record_unlink(st->impl, enterprise_id, record, orphans, error);
}

int storage_message_unarchive(MaStorage *st, const char *enterprise_id, const char *message_id, const MaPending *hold,
                              GError **error)
{
  g_assert(st != NULL);
  return st->be->message_unarchive(st->impl, enterprise_id, message_id, hold, error);
}

int storage_loop_count(MaStorage *st, const char *enterprise_id, const MaRecordRef *record, const char *from,
                       gint64 since, gint64 *count, GError **error)
{
  g_assert(st != NULL);
  return st->be->loop_count(st->impl, enterprise_id, record, from, since, count, error);
}

MaPending *ma_pending_new(void)
{
  MaPending *p = g_new0(MaPending, 1);
  p->addresses = g_ptr_array_new_with_free_func(g_free);
  return p;
}

void ma_pending_free(MaPending *p)
{
  if (!p) return;
  g_free(p->id);
  g_free(p->enterprise_id);
  g_free(p->raw_sha256);
  g_free(p->reason);
  g_free(p->route);
  g_free(p->employee_id);
  g_free(p->mailbox);
  g_ptr_array_unref(p->addresses);
  g_free(p);
}

int storage_pending_add(MaStorage *st, const MaPending *p, GError **error)
{
  g_assert(st != NULL);
  return st->be->pending_add(st->impl, p, error);
}

int storage_pending_candidates(MaStorage *st, const char *enterprise_id, int limit, GPtrArray *out, GError **error)
{
  g_assert(st != NULL);
  return st->be->pending_candidates(st->impl, enterprise_id, limit, out, error);
}

int storage_pending_list(MaStorage *st, const char *enterprise_id, const char *id, int limit, GPtrArray *out,
                         GError **error)
{
  g_assert(st != NULL);
  return st->be->pending_list(st->impl, enterprise_id, id, limit, out, error);
}

int storage_pending_delete(MaStorage *st, const char *enterprise_id, const char *id, GError **error)
{
  g_assert(st != NULL);
  return st->be->pending_delete(st->impl, enterprise_id, id, error);
}

int storage_pending_purge(MaStorage *st, gint64 now, gint64 *purged, GError **error)
{
  g_assert(st != NULL);
  return st->be->pending_purge(st->impl, now, purged, error);
}

int storage_message_ids_latest(MaStorage *st, const char *enterprise_id, int limit, GPtrArray *out, GError **error)
{
  g_assert(st != NULL);
  return st->be->message_ids_latest(st->impl, enterprise_id, limit, out, error);
}

int storage_message_ids_archived_since(MaStorage *st, const char *enterprise_id, gint64 since,
                                       const char *after_id, int limit, GPtrArray *out, GError **error)
{
  g_assert(st != NULL);
  return st->be->message_ids_archived_since(st->impl, enterprise_id, since, after_id, limit, out, error);
}

int storage_attachment_visible(MaStorage *st, const char *enterprise_id, const char *sha256, char **filename,
                               char **content_type, GError **error)
{
  g_assert(st != NULL);
  if (filename) *filename = NULL;
  if (content_type) *content_type = NULL;
  return st->be->attachment_visible(st->impl, enterprise_id, sha256, filename, content_type, error);
}

int storage_link_add(MaStorage *st, const char *enterprise_id, const char *message_id,
                     const MaRecordRef *ref, GError **error)
{
  g_assert(st != NULL);
  return st->be->link_add(st->impl, enterprise_id, message_id, ref, error);
}

int storage_message_links(MaStorage *st, const char *enterprise_id, const char *message_id, GPtrArray *out,
                          GError **error)
{
  g_assert(st != NULL);
  return st->be->message_links(st->impl, enterprise_id, message_id, out, error);
}

int storage_provenance_add(MaStorage *st, const char *enterprise_id, const char *message_id,
                           const MaProvenance *p, GError **error)
{
  g_assert(st != NULL);
  return st->be->provenance_add(st->impl, enterprise_id, message_id, p, error);
}

int storage_provenance_list(MaStorage *st, const char *enterprise_id, const char *message_id, GPtrArray *out,
                            GError **error)
{
  g_assert(st != NULL);
  return st->be->provenance_list(st->impl, enterprise_id, message_id, out, error);
}

int storage_thread_find_by_message_ids(MaStorage *st, const char *enterprise_id, const char *const *ids,
                                       guint n, char **thread_id, GError **error)
{
  g_assert(st != NULL);
  return st->be->thread_find_by_message_ids(st->impl, enterprise_id, ids, n, thread_id, error);
}

int storage_thread_find_by_subject(MaStorage *st, const char *enterprise_id, const char *subject_key,
                                   const char *participants_key, gint64 since, char **thread_id,
                                   GError **error)
{
  g_assert(st != NULL);
  return st->be->thread_find_by_subject(st->impl, enterprise_id, subject_key, participants_key, since,
                                        thread_id, error);
}

int storage_thread_create(MaStorage *st, const char *enterprise_id, const char *thread_id,
                          const char *subject_key, const char *participants_key, gint64 latest,
                          GError **error)
{
  g_assert(st != NULL);
  return st->be->thread_create(st->impl, enterprise_id, thread_id, subject_key, participants_key, latest,
                               error);
}

int storage_thread_touch(MaStorage *st, const char *enterprise_id, const char *thread_id, gint64 date,
                         GError **error)
{
  g_assert(st != NULL);
  return st->be->thread_touch(st->impl, enterprise_id, thread_id, date, error);
}

int storage_thread_opportunity_links(MaStorage *st, const char *enterprise_id, const char *thread_id,
                                     GPtrArray *out, GError **error)
{
  g_assert(st != NULL);
  return st->be->thread_opportunity_links(st->impl, enterprise_id, thread_id, out, error);
}

int storage_thread_messages(MaStorage *st, const char *enterprise_id, const char *thread_id, GPtrArray *out,
                            GError **error)
{
  g_assert(st != NULL);
  return st->be->thread_messages(st->impl, enterprise_id, thread_id, out, error);
}

int storage_activity_create(MaStorage *st, const MaActivity *a, GError **error)
{
  g_assert(st != NULL);
  return st->be->activity_create(st->impl, a, error);
}

int storage_links_without_activity(MaStorage *st, const char *enterprise_id, const char *message_id,
                                   GPtrArray *out, GError **error)
{
  g_assert(st != NULL);
  return st->be->links_without_activity(st->impl, enterprise_id, message_id, out, error);
}

int storage_activity_get(MaStorage *st, const char *enterprise_id, const char *id, MaActivity **out,
                         GError **error)
{
  g_assert(st != NULL);
  return st->be->activity_get(st->impl, enterprise_id, id, out, error);
}

int storage_message_activities(MaStorage *st, const char *enterprise_id, const char *message_id, GPtrArray *out,
                               GError **error)
{
  g_assert(st != NULL);
  return st->be->message_activities(st->impl, enterprise_id, message_id, out, error);
}

int storage_rules_get(MaStorage *st, const char *enterprise_id, char **json_array, GError **error)
{
  g_assert(st != NULL);
  return st->be->rules_get(st->impl, enterprise_id, json_array, error);
}

int storage_rules_put(MaStorage *st, const char *enterprise_id, const char *json_array, GError **error)
{
  g_assert(st != NULL);
  return st->be->rules_put(st->impl, enterprise_id, json_array, error);
}

void ma_domain_free(MaDomain *d)
{
  if (!d) return;
  g_free(d->enterprise_id);
  g_free(d->domain);
  g_free(d->status);
  g_free(d->reason);
  g_free(d->detail);
  g_free(d->challenge);
  g_free(d->return_path);
  g_free(d);
}

void ma_domain_key_free(MaDomainKey *k)
{
  if (!k) return;
  g_free(k->id);
  g_free(k->enterprise_id);
  g_free(k->domain);
  g_free(k->selector);
  g_free(k->algorithm);
  g_free(k->private_sealed);
  g_free(k->public_b64);
  g_free(k->state);
  g_free(k->target);
  g_free(k);
}

int storage_domain_get(MaStorage *st, const char *enterprise_id, const char *domain, MaDomain **out, GError **error)
{
  g_assert(st != NULL);
  return st->be->domain_get(st->impl, enterprise_id, domain, out, error);
}

int storage_domain_list(MaStorage *st, const char *enterprise_id, GPtrArray *out, GError **error)
{
  g_assert(st != NULL);
  return st->be->domain_list(st->impl, enterprise_id, out, error);
}

int storage_domain_due(MaStorage *st, gint64 now, int limit, GPtrArray *out, GError **error)
{
  g_assert(st != NULL);
  return st->be->domain_due(st->impl, now, limit, out, error);
}

int storage_domain_update(MaStorage *st, const MaDomain *d, GError **error)
{
  g_assert(st != NULL);
  return st->be->domain_update(st->impl, d, error);
}

int storage_domain_owner(MaStorage *st, const char *domain, char **enterprise_id, GError **error)
{
  g_assert(st != NULL);
  return st->be->domain_owner(st->impl, domain, enterprise_id, error);
}

int storage_domain_report_put(MaStorage *st, const char *enterprise_id, const char *domain, const char *json,
                              GError **error)
{
  g_assert(st != NULL);
  return st->be->domain_report_put(st->impl, enterprise_id, domain, json, error);
}

int storage_domain_report_get(MaStorage *st, const char *enterprise_id, const char *domain, char **json,
                              GError **error)
{
  g_assert(st != NULL);
  return st->be->domain_report_get(st->impl, enterprise_id, domain, json, error);
}

int storage_domain_key_add(MaStorage *st, const MaDomainKey *k, GError **error)
{
  g_assert(st != NULL);
  return st->be->domain_key_add(st->impl, k, error);
}

int storage_domain_key_list(MaStorage *st, const char *enterprise_id, const char *domain, GPtrArray *out, GError **error)
{
  g_assert(st != NULL);
  return st->be->domain_key_list(st->impl, enterprise_id, domain, out, error);
}

int storage_domain_key_remove(MaStorage *st, const char *enterprise_id, const char *id, GError **error)
{
  g_assert(st != NULL);
  return st->be->domain_key_remove(st->impl, enterprise_id, id, error);
}

int storage_domain_key_update(MaStorage *st, const MaDomainKey *k, GError **error)
{
  g_assert(st != NULL);
  return st->be->domain_key_update(st->impl, k, error);
}

int storage_outbox_add(MaStorage *st, const char *enterprise_id, const char *event,
                       const char *idempotency_key, const char *payload, gint64 now, GError **error)
{
  g_assert(st != NULL);
  return st->be->outbox_add(st->impl, enterprise_id, event, idempotency_key, payload, now, error);
}

int storage_outbox_claim(MaStorage *st, gint64 now, gint64 lease_until, int limit, GPtrArray *out, GError **error)
{
  g_assert(st != NULL);
  return st->be->outbox_claim(st->impl, now, lease_until, limit, out, error);
}

int storage_outbox_release(MaStorage *st, gint64 seq, GError **error)
{
  g_assert(st != NULL);
  return st->be->outbox_release(st->impl, seq, error);
}

int storage_outbox_delivered(MaStorage *st, gint64 seq, gint64 now, GError **error)
{
  g_assert(st != NULL);
  return st->be->outbox_delivered(st->impl, seq, now, error);
}

int storage_outbox_failed(MaStorage *st, gint64 seq, int attempts, gint64 next_attempt_at,
                          const char *error_text, gboolean dead, GError **error)
{
  g_assert(st != NULL);
  return st->be->outbox_failed(st->impl, seq, attempts, next_attempt_at, error_text, dead, error);
}

const char *ma_outbox_state_name(MaOutboxState state)
{
  static const char *const names[] = {"pending", "delivered", "dead", "purged"};
  return state <= MA_OUTBOX_PURGED ? names[state] : "unknown";
}

int storage_outbox_dead_list(MaStorage *st, const char *enterprise_id, gint64 after_seq, int limit, GPtrArray *out,
                             GError **error)
{
  g_assert(st != NULL && out != NULL);
  return st->be->outbox_dead_list(st->impl, enterprise_id, after_seq, limit, out, error);
}

int storage_outbox_get(MaStorage *st, const char *enterprise_id, gint64 seq, MaOutboxEvent **out, GError **error)
{
  g_assert(st != NULL && out != NULL);
  *out = NULL;
  return st->be->outbox_get(st->impl, enterprise_id, seq, out, error);
}

int storage_outbox_dead_retry(MaStorage *st, const char *enterprise_id, gint64 seq, gint64 now, gint64 *count,
                              GError **error)
{
  g_assert(st != NULL && count != NULL);
  return st->be->outbox_dead_retry(st->impl, enterprise_id, seq, now, count, error);
}

int storage_outbox_dead_purge(MaStorage *st, const char *enterprise_id, gint64 seq, gint64 *count, GError **error)
{
  g_assert(st != NULL && count != NULL);
  return st->be->outbox_dead_purge(st->impl, enterprise_id, seq, count, error);
}

int storage_outbox_dead_count(MaStorage *st, gint64 *count, GError **error)
{
  g_assert(st != NULL && count != NULL);
  return st->be->outbox_dead_count(st->impl, count, error);
}

gint64 ma_audit_entry_seq(gconstpointer e) { return ((const MaAuditEntry *) e)->seq; }
gint64 ma_outbox_event_seq(gconstpointer e) { return ((const MaOutboxEvent *) e)->seq; }

void ma_audit_entry_free(MaAuditEntry *e)
{
  if (!e) return;
  g_free(e->enterprise_id);
  g_free(e->actor);
  g_free(e->action);
  g_free(e->target);
  g_free(e->details);
  g_free(e);
}

int storage_audit_add(MaStorage *st, const MaAuditEntry *e, GError **error)
{
  g_assert(st != NULL && e != NULL && e->actor && e->action);
  return st->be->audit_add(st->impl, e, error);
}

int storage_audit_list(MaStorage *st, const char *enterprise_id, gint64 before_seq, int limit, GPtrArray *out,
                       GError **error)
{
  g_assert(st != NULL && out != NULL);
  return st->be->audit_list(st->impl, enterprise_id, before_seq, limit, out, error);
}

int storage_outbox_backlog(MaStorage *st, gint64 *count, GError **error)
{
  g_assert(st != NULL);
  return st->be->outbox_backlog(st->impl, count, error);
}

int storage_counts(MaStorage *st, gint64 *messages, gint64 *activities, gint64 *records, GError **error)
{
  g_assert(st != NULL);
  return st->be->counts(st->impl, messages, activities, records, error);
}
