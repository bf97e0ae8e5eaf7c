/* match_thread.c - which thread a message joins. References/In-Reply-To first (any referenced
 * Message-ID already archived names the thread), else the normalised subject with the same set of
 * external participants whose thread's latest message is at most MA_MATCH_THREAD_WINDOW before
 * this one, else a new thread. An empty subject key never joins by subject (every "(no subject)"
 * mail from one customer is not one conversation). Finding never writes; assigning runs inside
 * the caller's transaction.
 */
#include "match.h"

#include "agent/lib/clock.h"

/* The message's subject key, folded once for both thread calls (about 7,000 instructions a
 * subject); kept in match, borrowed by the caller. */
static const char *subject_key_of(MaMatch *match, const MaMessage *msg)
{
  if (!match->subject_key) match->subject_key = match_subject_key(msg->subject);
  return match->subject_key;
}

int match_thread_find(MaStorage *st, const char *enterprise_id, const MaMessage *msg, MaMatch *match,
                      gint64 date, char **thread_id, GError **error)
{
  *thread_id = NULL;
  g_autoptr(GPtrArray) ids = g_ptr_array_new();
  for (guint i = 0; msg->references && i < msg->references->len; i++) g_ptr_array_add(ids, msg->references->pdata[i]);
  if (msg->in_reply_to && *msg->in_reply_to) g_ptr_array_add(ids, msg->in_reply_to);
  if (ids->len) {
    int rc = storage_thread_find_by_message_ids(st, enterprise_id, (const char *const *) ids->pdata, ids->len,
                                                thread_id, error);
    if (rc != 0) return rc;
  }
  const char *subject_key = subject_key_of(match, msg);
  if (!*subject_key) return 0;
  return storage_thread_find_by_subject(st, enterprise_id, subject_key, match->participants_key,
                                        date - MA_MATCH_THREAD_WINDOW, thread_id, error);
}

int match_thread_assign(MaStorage *st, const char *enterprise_id, const MaMessage *msg, MaMatch *match,
                        gint64 date, const char *found, char **thread_id, gboolean *created, GError **error)
{
  *thread_id = NULL;
  *created = FALSE;
  if (found) {
    if (storage_thread_touch(st, enterprise_id, found, date, error) < 0) return -1;
    *thread_id = g_strdup(found);
    return 0;
  }
  const char *subject_key = subject_key_of(match, msg);
  g_autofree char *id = ma_id_new();
  if (storage_thread_create(st, enterprise_id, id, subject_key, match->participants_key, date, error) < 0) return -1;
  *thread_id = g_steal_pointer(&id);
  *created = TRUE;
  return 0;
}

int match_thread_inherit(MaStorage *st, const char *enterprise_id, const char *thread_id, MaMatch *match,
                         GError **error)
{
  g_autoptr(GPtrArray) refs = g_ptr_array_new_with_free_func((GDestroyNotify) ma_record_ref_free);
  if (storage_thread_opportunity_links(st, enterprise_id, thread_id, refs, error) < 0) return -1;
  int added = 0;
  for (guint i = 0; i < refs->len; i++) {
    const MaRecordRef *r = refs->pdata[i];
    /* storage gives, as the ref's reason, the id of the thread's earliest message linked to it */
    g_autofree char *why = g_strdup_printf("thread of message %s -> opportunity %s", r->reason ? r->reason : thread_id, r->id);
    if (r->type == MA_RECORD_OPPORTUNITY && match_link_add_why(match->links, r->type, r->id, why)) added++;
  }
  return added;
}
