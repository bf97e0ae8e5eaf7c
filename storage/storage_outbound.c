/* storage_outbound.c - the outbound queue's part of the storage interface (storage.h): its
 * structures' helpers and the dispatch of storage_outbound_* and storage_submission_* through the
 * backend table, kept apart from storage.c so each file stays one readable job. */
#include "storage.h"
#include "storage_backend.h"

#include <string.h>

/* ---- outbound queue --------------------------------------------------------------------------- */

static const char *const outbound_state_names[MA_OUT__COUNT] = {
  [MA_OUT_QUEUED] = "queued",   [MA_OUT_SENDING] = "sending", [MA_OUT_SENT] = "sent",
  [MA_OUT_DEFERRED] = "deferred", [MA_OUT_BOUNCED] = "bounced", [MA_OUT_EXPIRED] = "expired",
  [MA_OUT_HELD] = "held",       [MA_OUT_SUPPRESSED] = "suppressed",
};

const char *ma_outbound_state_name(MaOutboundState st)
{
  g_assert(st >= 0 && st < MA_OUT__COUNT);
  return outbound_state_names[st];
}

int ma_outbound_state_parse(const char *name, MaOutboundState *out)
{
  for (int i = 0; i < MA_OUT__COUNT; i++)
    if (name && strcmp(name, outbound_state_names[i]) == 0) {
      *out = (MaOutboundState) i;
      return 0;
    }
  return -1;
}

void ma_outbound_recipient_free(MaOutboundRecipient *r)
{
  if (!r) return;
  g_free(r->outbound_id);
  g_free(r->enterprise_id);
  g_free(r->address);
  g_free(r->last_reply);
  g_free(r->deferred_reason);
  g_free(r->route_json);
  g_free(r);
}

MaOutbound *ma_outbound_new(void)
{
  MaOutbound *m = g_new0(MaOutbound, 1);
  m->recipients = g_ptr_array_new_with_free_func((GDestroyNotify) ma_outbound_recipient_free);
  return m;
}

void ma_outbound_free(MaOutbound *m)
{
  if (!m) return;
  g_free(m->id);
  g_free(m->enterprise_id);
  g_free(m->sent_copy_state);
  g_free(m->sent_copy_detail);
  g_free(m->type);
  g_free(m->channel);
  g_free(m->employee);
  g_free(m->mail_from);
  g_free(m->header_from);
  g_free(m->subject);
  g_free(m->message_id);
  g_free(m->raw_sha256);
  g_free(m->records_json);
  g_free(m->route_json);
  g_free(m->return_path);
  if (m->recipients) g_ptr_array_unref(m->recipients);
  g_free(m);
}

void ma_submission_credential_free(MaSubmissionCredential *c)
{
  if (!c) return;
  g_free(c->id);
  g_free(c->enterprise_id);
  g_free(c->username);
  g_free(c->label);
  g_free(c);
}

int storage_outbound_enqueue(MaStorage *st, const MaOutbound *m, const char *idem_key, const char *request_hash,
                             const char *response, gint64 now, char **prior_hash, char **prior_response,
                             GError **error)
{
  g_assert(st != NULL && m != NULL);
  return st->be->outbound_enqueue(st->impl, m, idem_key, request_hash, response, now, prior_hash, prior_response,
                                  error);
}

int storage_outbound_get(MaStorage *st, const char *enterprise_id, const char *id, MaOutbound **out,
                         GError **error)
{
  g_assert(st != NULL);
  return st->be->outbound_get(st->impl, enterprise_id, id, out, error);
}

int storage_outbound_list(MaStorage *st, const char *enterprise_id, int state, const char *after_id, int limit,
                          GPtrArray *out, GError **error)
{
  g_assert(st != NULL);
  return st->be->outbound_list(st->impl, enterprise_id, state, after_id, limit, out, error);
}

int storage_outbound_claim(MaStorage *st, gint64 now, gint64 lease_until, int limit, GPtrArray *out,
                           GError **error)
{
  g_assert(st != NULL);
  return st->be->outbound_claim(st->impl, now, lease_until, limit, out, error);
}

int storage_outbound_result(MaStorage *st, gint64 id, MaOutboundState state, const char *reply,
                            gint64 next_attempt_at, const char *deferred_reason, gint64 now, GError **error)
{
  g_assert(st != NULL);
  return st->be->outbound_result(st->impl, id, state, reply, next_attempt_at, deferred_reason, now, error);
}

int storage_outbound_operate(MaStorage *st, const char *enterprise_id, const char *id, MaOutboundOp op, gint64 now,
                             int *changed, GError **error)
{
  g_assert(st != NULL);
  return st->be->outbound_operate(st->impl, enterprise_id, id, op, now, changed, error);
}

int storage_outbound_stats(MaStorage *st, gint64 counts[MA_OUT__COUNT], gint64 *oldest_pending, GError **error)
{
  g_assert(st != NULL);
  return st->be->outbound_stats(st->impl, counts, oldest_pending, error);
}

int storage_submission_add(MaStorage *st, const MaSubmissionCredential *c, const char *secret_hash, GError **error)
{
  g_assert(st != NULL);
  return st->be->submission_add(st->impl, c, secret_hash, error);
}

int storage_submission_find(MaStorage *st, const char *username, MaSubmissionCredential **out, char **secret_hash,
                            GError **error)
{
  g_assert(st != NULL);
  return st->be->submission_find(st->impl, username, out, secret_hash, error);
}

int storage_submission_list(MaStorage *st, const char *enterprise_id, GPtrArray *out, GError **error)
{
  g_assert(st != NULL);
  return st->be->submission_list(st->impl, enterprise_id, out, error);
}

int storage_submission_revoke(MaStorage *st, const char *enterprise_id, const char *id_or_username, gint64 now,
                              GError **error)
{
  g_assert(st != NULL);
  return st->be->submission_revoke(st->impl, enterprise_id, id_or_username, now, error);
}
