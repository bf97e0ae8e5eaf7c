/* relink.c - see relink.h. Archived messages are found by participant through the indexes of
 * migration 129 (storage_messages_by_participant), one probe per changed email or domain, so the
 * work is the mail that matches the change, not the archive. A message is matched again from its
 * stored participants (match_message, as the pipeline did), its new links written with their
 * reasons and the rules evaluated for those links only, before the write transaction opens.
 */
#include "relink.h"

#include "activities.h"
#include "agent/lib/clock.h"
#include "agent/match/match.h"

#include <string.h>

#define DAY (24 * 3600)

static gboolean has_ref(const GPtrArray *links, const MaRecordRef *ref)
{
  for (guint i = 0; links && i < links->len; i++) {
    const MaRecordRef *l = links->pdata[i];
    if (l->type == ref->type && strcmp(l->id, ref->id) == 0) return TRUE;
  }
  return FALSE;
}

/* A message as matching reads it, from its stored participants. */
static MaMessage *message_of(const MaStoredMessage *m)
{
  MaMessage *msg = ma_message_new();
  g_free(msg->subject);
  msg->subject = g_strdup(m->subject ? m->subject : "");
  msg->date = m->date;
  for (guint i = 0; m->participants && i < m->participants->len; i++) {
    const MaParticipant *p = m->participants->pdata[i];
    g_ptr_array_add(msg->participants, ma_participant_new(p->role, p->name, p->address));
  }
  return msg;
}

/* Matches one archived message again. 1 new links written, 0 none, -1 error. */
static int relink_one(MaStorage *st, const MaMatchContext *ctx, const char *id, GError **error)
{
  const char *ent = ctx->enterprise_id;
  MaStoredMessage *m = NULL;
  int rc = storage_message_get(st, ent, id, &m, error);
  if (rc <= 0) return rc;
  g_autoptr(GPtrArray) have = g_ptr_array_new_with_free_func((GDestroyNotify) ma_record_ref_free);
  g_autoptr(GPtrArray) fresh = g_ptr_array_new_with_free_func((GDestroyNotify) ma_record_ref_free);
  g_autoptr(MaMessage) msg = message_of(m);
  g_autoptr(MaMatch) match = NULL;
  MaActivityPlan *plan = NULL;
  rc = storage_message_links(st, ent, id, have, error);
  if (rc == 0) rc = match_message(st, ctx, msg, &match, error);
  for (guint i = 0; rc == 0 && i < match->links->len; i++) {
    const MaRecordRef *ref = match->links->pdata[i];
    if (!has_ref(have, ref)) match_link_add_why(fresh, ref->type, ref->id, ref->reason);
  }
  if (rc == 0 && fresh->len == 0) {
    ma_stored_message_free(m);
    return 0;
  }
  /* evaluate, then write: the rules run for the new links alone, before the transaction */
  if (rc == 0 && ctx->settings->activities) rc = activities_plan(st, ent, m, fresh, NULL, &plan, error);
  if (rc == 0) rc = storage_begin(st, error);
  if (rc == 0) {
    for (guint i = 0; rc == 0 && i < fresh->len; i++) rc = storage_link_add(st, ent, id, fresh->pdata[i], error) < 0 ? -1 : 0;
    if (rc == 0 && activities_write(st, ent, id, m->date, fresh, plan, error) < 0) rc = -1;
    if (rc == 0) rc = storage_commit(st, error);
    if (rc < 0) storage_rollback(st);
  }
  activities_plan_free(plan);
  ma_stored_message_free(m);
  return rc < 0 ? -1 : 1;
}

int relink_changed(MaStorage *st, const MaConfig *cfg, const char *enterprise_id, const MaRecordChanges *changes,
                   MaRematchStats *stats, GError **error)
{
  if ((!changes->emails || changes->emails->len == 0) && (!changes->domains || changes->domains->len == 0)) return 0;
  MaMatchContext *ctx = NULL;
  if (match_context_load(st, cfg, enterprise_id, &ctx, error) < 0) return -1;
  if (ctx->settings->relink_days <= 0) { /* the enterprise turned relinking of archived mail off */
    match_context_free(ctx);
    return 0;
  }
  gint64 since = ma_now() - (gint64) ctx->settings->relink_days * DAY;
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);
  int rc = 0;
  for (guint i = 0; rc == 0 && changes->emails && i < changes->emails->len; i++)
    rc = storage_messages_by_participant(st, enterprise_id, changes->emails->pdata[i], NULL, since, ids, error);
  for (guint i = 0; rc == 0 && changes->domains && i < changes->domains->len; i++) {
    const char *domain = changes->domains->pdata[i];
    if (settings_is_public_domain(ctx->settings, domain)) continue; /* never matched by domain */
    rc = storage_messages_by_participant(st, enterprise_id, NULL, domain, since, ids, error);
  }
  g_autoptr(GHashTable) done = g_hash_table_new(g_str_hash, g_str_equal);
  for (guint i = 0; rc == 0 && i < ids->len; i++) {
    if (!g_hash_table_add(done, ids->pdata[i])) continue; /* found by two keys */
    int n = relink_one(st, ctx, ids->pdata[i], error);
    if (n < 0) rc = -1;
    else stats->relinked += n;
  }
  match_context_free(ctx);
  return rc;
}

/* The pending copy of an archived message about to leave the archive, or NULL when it is not held. */
static MaPending *hold_of(const MaMatchContext *ctx, const MaStoredMessage *m)
{
  const MaSettings *s = ctx->settings;
  if (s->pending_days <= 0 || s->capture_level == MA_CAPTURE_METADATA || !m->raw_sha256) return NULL;
  MaPending *p = ma_pending_new();
  p->id = ma_id_new();
  p->enterprise_id = g_strdup(ctx->enterprise_id);
  p->raw_sha256 = g_strdup(m->raw_sha256);
  p->received_at = ma_now();
  p->expires_at = p->received_at + (gint64) s->pending_days * DAY;
  p->reason = g_strdup("record_deleted");
  for (guint i = 0; m->participants && i < m->participants->len; i++) {
    const MaParticipant *pp = m->participants->pdata[i];
    if (pp->role == MA_ROLE_REPLY_TO || match_is_internal(ctx, pp->address) || match_is_inbound(ctx, pp->address)) continue;
    char *key = ma_address_key(pp->address, FALSE);
    gboolean dup = FALSE;
    for (guint k = 0; k < p->addresses->len && !dup; k++) dup = strcmp(p->addresses->pdata[k], key) == 0;
    if (dup) g_free(key);
    else g_ptr_array_add(p->addresses, key);
  }
  return p;
}

int relink_deleted(MaStorage *st, const MaConfig *cfg, const char *enterprise_id, const GPtrArray *deleted,
                   MaRematchStats *stats, GError **error)
{
  if (deleted->len == 0) return 0;
  MaMatchContext *ctx = NULL;
  if (match_context_load(st, cfg, enterprise_id, &ctx, error) < 0) return -1;
  int rc = 0;
  g_autoptr(GPtrArray) orphans = g_ptr_array_new_with_free_func(g_free);
  for (guint i = 0; rc == 0 && i < deleted->len; i++) {
    int n = storage_record_unlink(st, enterprise_id, deleted->pdata[i], orphans, error);
    if (n < 0) rc = -1;
    else stats->unlinked += n;
  }
  for (guint i = 0; rc == 0 && !ctx->settings->archive_unmatched && i < orphans->len; i++) {
    MaStoredMessage *m = NULL;
    int found = storage_message_get(st, enterprise_id, orphans->pdata[i], &m, error);
    if (found < 0) rc = -1;
    if (found != 1) continue;
    MaPending *hold = hold_of(ctx, m);
    int done = storage_message_unarchive(st, enterprise_id, m->id, hold, error);
    ma_pending_free(hold);
    ma_stored_message_free(m);
    if (done < 0) rc = -1;
    else stats->returned += done;
  }
  match_context_free(ctx);
  return rc;
}
