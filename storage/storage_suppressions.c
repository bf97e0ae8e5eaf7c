/* storage_suppressions.c - the bounce issue's part of the storage interface (storage.h): the
 * suppression list, soft-bounce streaks and the outbound look-ups a returned message needs
 * (and the timeline's delivery states), dispatched through the backend table. */
#include "storage.h"
#include "storage_backend.h"

void ma_suppression_free(MaSuppression *s)
{
  if (!s) return;
  g_free(s->enterprise_id);
  g_free(s->address);
  g_free(s->reason);
  g_free(s->detail);
  g_free(s->source);
  g_free(s);
}

int storage_outbound_recipient_get(MaStorage *st, const char *enterprise_id, gint64 row_id,
                                   MaOutboundRecipient **out, GError **error)
{
  g_assert(st != NULL && out != NULL);
  return st->be->outbound_recipient_get(st->impl, enterprise_id, row_id, out, error);
}

int storage_outbound_find_message(MaStorage *st, const char *enterprise_id, const char *message_id,
                                  char **outbound_id_r, GError **error)
{
  g_assert(st != NULL && enterprise_id != NULL && message_id != NULL);
  return st->be->outbound_find_message(st->impl, enterprise_id, message_id, outbound_id_r, error);
}

int storage_outbound_delivery(MaStorage *st, const char *enterprise_id, const char *message_id, GPtrArray **out,
                              GError **error)
{
  g_assert(st != NULL && enterprise_id != NULL && message_id != NULL && out != NULL);
  *out = NULL;
  g_autofree char *outbound_id = NULL;
  int rc = st->be->outbound_find_message(st->impl, enterprise_id, message_id, &outbound_id, error);
  if (rc <= 0) return rc;
  MaOutbound *m = NULL;
  rc = st->be->outbound_get(st->impl, enterprise_id, outbound_id, &m, error);
  if (rc > 0 && m->recipients->len > 0) *out = g_ptr_array_ref(m->recipients);
  ma_outbound_free(m);
  return rc < 0 ? -1 : 0;
}

int storage_outbound_bounce(MaStorage *st, gint64 id, MaOutboundState state, const char *reply, gint64 now,
                            GError **error)
{
  g_assert(st != NULL);
  return st->be->outbound_bounce(st->impl, id, state, reply, now, error);
}

int storage_suppression_add(MaStorage *st, const MaSuppression *s, GError **error)
{
  g_assert(st != NULL && s && s->enterprise_id && s->address && s->reason);
  return st->be->suppression_add(st->impl, s, error);
}

int storage_suppression_remove(MaStorage *st, const char *enterprise_id, const char *address, GError **error)
{
  g_assert(st != NULL && enterprise_id != NULL && address != NULL);
  return st->be->suppression_remove(st->impl, enterprise_id, address, error);
}

int storage_suppression_get(MaStorage *st, const char *enterprise_id, const char *address, MaSuppression **out,
                            GError **error)
{
  g_assert(st != NULL && enterprise_id != NULL && address != NULL);
  return st->be->suppression_get(st->impl, enterprise_id, address, out, error);
}

int storage_suppression_list(MaStorage *st, const char *enterprise_id, const char *after_address, int limit,
                             GPtrArray *out, GError **error)
{
  g_assert(st != NULL && enterprise_id != NULL);
  return st->be->suppression_list(st->impl, enterprise_id, after_address, limit, out, error);
}

int storage_soft_bounce_add(MaStorage *st, const char *enterprise_id, const char *address, gint64 now,
                            gint64 window, gint64 *count_r, GError **error)
{
  g_assert(st != NULL && enterprise_id != NULL && address != NULL);
  return st->be->soft_bounce_add(st->impl, enterprise_id, address, now, window, count_r, error);
}

int storage_soft_bounce_reset(MaStorage *st, const char *enterprise_id, const char *address, GError **error)
{
  g_assert(st != NULL && enterprise_id != NULL && address != NULL);
  return st->be->soft_bounce_reset(st->impl, enterprise_id, address, error);
}
