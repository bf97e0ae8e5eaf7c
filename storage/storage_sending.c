/* storage_sending.c - the employee-mailbox channel's part of the storage interface (storage.h):
 * the dispatch of a mailbox's daily count, a recipient's own route after a fallback, and the Sent
 * copies, through the backend table. */
#include "storage.h"
#include "storage_backend.h"

void ma_sent_copy_free(MaSentCopy *c)
{
  if (!c) return;
  g_free(c->outbound_id);
  g_free(c->enterprise_id);
  g_free(c->mailbox_id);
  g_free(c->state);
  g_free(c->folder);
  g_free(c->last_error);
  g_free(c);
}

int storage_mailbox_set_daily_limit(MaStorage *st, const char *enterprise_id, const char *id, int daily_limit,
                                    GError **error)
{
  g_assert(st != NULL && enterprise_id != NULL && daily_limit >= 0);
  return st->be->mailbox_set_daily_limit(st->impl, enterprise_id, id, daily_limit, error);
}

int storage_mailbox_send_reserve(MaStorage *st, const char *mailbox_id, const char *day, int limit, int want,
                                 int *granted, gint64 *sent_r, GError **error)
{
  g_assert(st != NULL && limit >= 0 && want >= 0);
  return st->be->mailbox_send_reserve(st->impl, mailbox_id, day, limit, want, granted, sent_r, error);
}

int storage_mailbox_send_release(MaStorage *st, const char *mailbox_id, const char *day, int n, GError **error)
{
  g_assert(st != NULL && n >= 0);
  return st->be->mailbox_send_release(st->impl, mailbox_id, day, n, error);
}

int storage_mailbox_sent_on(MaStorage *st, const char *mailbox_id, const char *day, gint64 *sent, GError **error)
{
  g_assert(st != NULL);
  return st->be->mailbox_sent_on(st->impl, mailbox_id, day, sent, error);
}

int storage_outbound_recipient_reroute(MaStorage *st, gint64 id, const char *route_json, gint64 next_attempt_at,
                                       gint64 now, GError **error)
{
  g_assert(st != NULL);
  return st->be->outbound_recipient_reroute(st->impl, id, route_json, next_attempt_at, now, error);
}

int storage_sent_copy_add(MaStorage *st, const char *outbound_id, const char *enterprise_id, const char *mailbox_id,
                          gint64 now, GError **error)
{
  g_assert(st != NULL && outbound_id && enterprise_id && mailbox_id);
  return st->be->sent_copy_add(st->impl, outbound_id, enterprise_id, mailbox_id, now, error);
}

int storage_sent_copy_claim(MaStorage *st, gint64 now, gint64 lease_until, int limit, GPtrArray *out, GError **error)
{
  g_assert(st != NULL);
  return st->be->sent_copy_claim(st->impl, now, lease_until, limit, out, error);
}

int storage_sent_copy_result(MaStorage *st, const char *outbound_id, const char *state, const char *folder,
                             const char *error_text, gint64 next_attempt_at, gint64 now, GError **error)
{
  g_assert(st != NULL && state != NULL);
  return st->be->sent_copy_result(st->impl, outbound_id, state, folder, error_text, next_attempt_at, now, error);
}

int storage_sent_copy_get(MaStorage *st, const char *enterprise_id, const char *outbound_id, MaSentCopy **out,
                          GError **error)
{
  g_assert(st != NULL);
  return st->be->sent_copy_get(st->impl, enterprise_id, outbound_id, out, error);
}
