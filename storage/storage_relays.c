/* storage_relays.c - the routing's part of the storage interface (storage.h): the enterprise relays'
 * model constructors and the dispatch of storage_relay_* (relays, filters, daily counters) and
 * storage_default_path_* (the shared relay's reputation) through the backend table. */
#include "storage.h"
#include "storage_backend.h"

void ma_relay_filter_free(MaRelayFilter *f)
{
  if (!f) return;
  g_free(f->sender_domain);
  g_free(f->recipient_patterns);
  g_free(f);
}

MaRelay *ma_relay_new(void)
{
  MaRelay *r = g_new0(MaRelay, 1);
  r->filters = g_ptr_array_new_with_free_func((GDestroyNotify) ma_relay_filter_free);
  return r;
}

void ma_relay_free(MaRelay *r)
{
  if (!r) return;
  g_free(r->id);
  g_free(r->enterprise_id);
  g_free(r->name);
  g_free(r->host);
  g_free(r->security);
  g_free(r->tls_mode);
  g_free(r->auth_mechanism);
  g_free(r->username);
  g_free(r->password_sealed);
  g_free(r->auth_provider);
  g_free(r->grant_state);
  g_free(r->email_types);
  g_free(r->status);
  g_free(r->status_reason);
  g_free(r->return_path);
  g_ptr_array_unref(r->filters);
  g_free(r);
}

int storage_relay_add(MaStorage *st, const MaRelay *r, GError **error)
{
  g_assert(st != NULL);
  return st->be->relay_add(st->impl, r, error);
}

int storage_relay_update(MaStorage *st, const MaRelay *r, GError **error)
{
  g_assert(st != NULL);
  return st->be->relay_update(st->impl, r, error);
}

int storage_relay_get(MaStorage *st, const char *enterprise_id, const char *id_or_name, MaRelay **out,
                      GError **error)
{
  g_assert(st != NULL);
  return st->be->relay_get(st->impl, enterprise_id, id_or_name, out, error);
}

int storage_relay_list(MaStorage *st, const char *enterprise_id, GPtrArray *out, GError **error)
{
  g_assert(st != NULL);
  return st->be->relay_list(st->impl, enterprise_id, out, error);
}

int storage_relay_delete(MaStorage *st, const char *enterprise_id, const char *id, GError **error)
{
  g_assert(st != NULL);
  return st->be->relay_delete(st->impl, enterprise_id, id, error);
}

int storage_relay_set_status(MaStorage *st, const char *enterprise_id, const char *id, const char *status,
                             gint64 since, const char *reason, gint64 suspended_until, GError **error)
{
  g_assert(st != NULL);
  return st->be->relay_set_status(st->impl, enterprise_id, id, status, since, reason, suspended_until, error);
}

int storage_relay_usage(MaStorage *st, const char *enterprise_id, const char *relay_id, const char *day,
                        gint64 *sent, int *failures, gint64 *last_failure_at, GError **error)
{
  g_assert(st != NULL);
  return st->be->relay_usage(st->impl, enterprise_id, relay_id, day, sent, failures, last_failure_at, error);
}

int storage_relay_reserve(MaStorage *st, const char *enterprise_id, const char *relay_id, const char *day,
                          gint64 limit, int want, int *granted, GError **error)
{
  g_assert(st != NULL);
  return st->be->relay_reserve(st->impl, enterprise_id, relay_id, day, limit, want, granted, error);
}

int storage_relay_count_sent(MaStorage *st, const char *enterprise_id, const char *relay_id, const char *day,
                             gint64 delta, GError **error)
{
  g_assert(st != NULL);
  return st->be->relay_count_sent(st->impl, enterprise_id, relay_id, day, delta, error);
}

int storage_relay_count_failure(MaStorage *st, const char *enterprise_id, const char *relay_id, const char *day,
                                gint64 now, gint64 min_gap, int *failures, GError **error)
{
  g_assert(st != NULL);
  return st->be->relay_count_failure(st->impl, enterprise_id, relay_id, day, now, min_gap, failures, error);
}

int storage_outbound_set_route(MaStorage *st, const char *enterprise_id, const char *id, const char *route_json,
                               GError **error)
{
  g_assert(st != NULL);
  return st->be->outbound_set_route(st->impl, enterprise_id, id, route_json, error);
}

int storage_default_path_record(MaStorage *st, const char *enterprise_id, const char *outbound_id,
                                const char *address, gint64 at, GError **error)
{
  g_assert(st != NULL);
  return st->be->default_path_record(st->impl, enterprise_id, outbound_id, address, at, error);
}

int storage_default_path_count(MaStorage *st, const char *enterprise_id, gint64 since, gint64 *count,
                               GError **error)
{
  g_assert(st != NULL);
  return st->be->default_path_count(st->impl, enterprise_id, since, count, error);
}

int storage_default_path_rates(MaStorage *st, const char *enterprise_id, int last, gint64 *total, gint64 *bounced,
                               gint64 *complained, GError **error)
{
  g_assert(st != NULL);
  return st->be->default_path_rates(st->impl, enterprise_id, last, total, bounced, complained, error);
}

int storage_default_path_complaint(MaStorage *st, const char *enterprise_id, const char *outbound_id,
                                   const char *address, gint64 at, GError **error)
{
  g_assert(st != NULL);
  return st->be->default_path_complaint(st->impl, enterprise_id, outbound_id, address, at, error);
}

int storage_default_path_suspend(MaStorage *st, const char *enterprise_id, gint64 at, const char *reason,
                                 GError **error)
{
  g_assert(st != NULL);
  return st->be->default_path_suspend(st->impl, enterprise_id, at, reason, error);
}

int storage_default_path_suspension(MaStorage *st, const char *enterprise_id, gint64 *since, char **reason,
                                    GError **error)
{
  g_assert(st != NULL);
  return st->be->default_path_suspension(st->impl, enterprise_id, since, reason, error);
}

int storage_default_path_resume(MaStorage *st, const char *enterprise_id, gint64 now, GError **error)
{
  g_assert(st != NULL);
  return st->be->default_path_resume(st->impl, enterprise_id, now, error);
}

int storage_channel_account_set(MaStorage *st, const char *enterprise_id, const char *channel, const char *address,
                                gint64 verified_at, GError **error)
{
  g_assert(st != NULL);
  return st->be->channel_account_set(st->impl, enterprise_id, channel, address, verified_at, error);
}

int storage_channel_account_get(MaStorage *st, const char *enterprise_id, const char *channel, char **address,
                                gint64 *verified_at, GError **error)
{
  g_assert(st != NULL);
  return st->be->channel_account_get(st->impl, enterprise_id, channel, address, verified_at, error);
}

int storage_channel_account_clear(MaStorage *st, const char *enterprise_id, const char *channel, GError **error)
{
  g_assert(st != NULL);
  return st->be->channel_account_clear(st->impl, enterprise_id, channel, error);
}

int storage_employee_send_mailbox_set(MaStorage *st, const char *enterprise_id, const char *employee_id,
                                      const char *mailbox_id, GError **error)
{
  g_assert(st != NULL);
  return st->be->employee_send_mailbox_set(st->impl, enterprise_id, employee_id, mailbox_id, error);
}

int storage_employee_send_mailbox_get(MaStorage *st, const char *enterprise_id, const char *employee_id,
                                      char **mailbox_id, GError **error)
{
  g_assert(st != NULL);
  return st->be->employee_send_mailbox_get(st->impl, enterprise_id, employee_id, mailbox_id, error);
}
