/* relay_channels.c - an enterprise's channel settings beside its relays: the system account of
 * each channel (the address its workflow mail is sent from), checked against the channel before
 * it is stored - a relay must carry mail from its domain (enterprise_relay), the domain must be in
 * the verified domain scope (mailagent_relay), or it must be an active bound mailbox
 * (employee_mailbox) - and the JSON the CLI and GET /v1/channels show, with the kinds employees
 * may use (setting employee_channels). A workflow message sent without a From takes the first
 * system account set, in the order enterprise_relay, mailagent_relay, employee_mailbox. Also an
 * employee's default sending mailbox, one of the mailboxes bound to them.
 */
#include "relay.h"

#include "agent/codec/codec.h"
#include "agent/domains/domains.h"
#include "agent/lib/clock.h"
#include "agent/lib/error.h"
#include "agent/tenant/settings.h"

#include <string.h>

const char *const relay_channels[] = {"enterprise_relay", "mailagent_relay", "employee_mailbox", NULL};

static gboolean known_channel(const char *channel)
{
  for (const char *const *c = relay_channels; *c; c++)
    if (g_strcmp0(*c, channel) == 0) return TRUE;
  return FALSE;
}

/* 1 when the channel can send as address, 0 with *why, -1 on a storage error. */
static int channel_can_send(MaStorage *st, const char *enterprise_id, const char *channel, const char *address,
                            const char *domain, char **why, GError **error)
{
  if (strcmp(channel, "mailagent_relay") == 0) {
    g_autofree char *reason = NULL;
    int rc = ma_domains_may_send(st, enterprise_id, domain, &reason, error);
    if (rc == 0) *why = g_strdup_printf("mailagent's own delivery is not open to %s: %s", domain, reason ? reason : "?");
    return rc;
  }
  if (strcmp(channel, "enterprise_relay") == 0) {
    g_autoptr(GPtrArray) relays = g_ptr_array_new_with_free_func((GDestroyNotify) ma_relay_free);
    if (storage_relay_list(st, enterprise_id, relays, error) < 0) return -1;
    for (guint i = 0; i < relays->len; i++) {
      const MaRelay *r = g_ptr_array_index(relays, i);
      for (guint k = 0; r->enabled && k < r->filters->len; k++)
        if (strcmp(((MaRelayFilter *) g_ptr_array_index(r->filters, k))->sender_domain, domain) == 0) return 1;
    }
    *why = g_strdup_printf("no enabled relay has a filter for %s", domain);
    return 0;
  }
  g_autoptr(GPtrArray) boxes = g_ptr_array_new_with_free_func((GDestroyNotify) ma_mailbox_free);
  if (storage_mailbox_list(st, enterprise_id, boxes, error) < 0) return -1;
  for (guint i = 0; i < boxes->len; i++) {
    const MaMailbox *m = g_ptr_array_index(boxes, i);
    if (g_ascii_strcasecmp(m->email, address) == 0 && strcmp(m->state, "active") == 0) return 1;
  }
  *why = g_strdup_printf("%s is not an active bound mailbox", address);
  return 0;
}

int relay_channel_account_set(MaStorage *st, const char *enterprise_id, const char *channel, const char *address,
                              GError **error)
{
  if (!known_channel(channel)) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "channel: \"%s\" is not employee_mailbox, enterprise_relay or mailagent_relay",
                channel ? channel : "");
    return -1;
  }
  const char *at = address ? strrchr(address, '@') : NULL;
  if (!at || at == address || strlen(address) > 254 || strpbrk(address, " <>\r\n\t,;\"")) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "address: \"%.64s\" is not an address (local@domain)", address ? address : "");
    return -1;
  }
  GError *bad = NULL;
  g_autofree char *domain = ma_domain_normalize(at + 1, &bad);
  if (!domain) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "address: %s", bad->message);
    g_error_free(bad);
    return -1;
  }
  g_autofree char *canon = g_strdup_printf("%.*s@%s", (int) (at - address), address, domain);
  g_autofree char *why = NULL;
  int rc = channel_can_send(st, enterprise_id, channel, canon, domain, &why, error);
  if (rc < 0) return -1;
  if (rc == 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "%s cannot send as %s: %s", channel, canon, why);
    return -1;
  }
  return storage_channel_account_set(st, enterprise_id, channel, canon, ma_now(), error);
}

json_t *relay_channels_to_json(MaStorage *st, const MaConfig *cfg, const char *enterprise_id, GError **error)
{
  g_autofree char *allowed = NULL;
  if (settings_get(st, cfg, enterprise_id, "employee_channels", &allowed, error) < 0) return NULL;
  json_t *kinds = json_array();
  g_auto(GStrv) words = g_strsplit(allowed, " ", -1);
  for (char **w = words; *w; w++)
    if (**w && strcmp(*w, "none") != 0) json_array_append_new(kinds, json_string(*w));
  json_t *accounts = json_object();
  for (const char *const *c = relay_channels; *c; c++) {
    g_autofree char *address = NULL;
    gint64 verified = 0;
    int rc = storage_channel_account_get(st, enterprise_id, *c, &address, &verified, error);
    if (rc < 0) {
      json_decref(kinds);
      json_decref(accounts);
      return NULL;
    }
    json_object_set_new(accounts, *c, rc ? json_pack("{s:s,s:o}", "address", address, "verified_at", codec_time(verified))
                                         : json_null());
  }
  return json_pack("{s:o,s:o}", "employee_channels", kinds, "system_accounts", accounts);
}

int relay_channel_default_from(MaStorage *st, const char *enterprise_id, char **from_r, GError **error)
{
  *from_r = NULL;
  for (const char *const *c = relay_channels; *c; c++) {
    gint64 verified = 0;
    int rc = storage_channel_account_get(st, enterprise_id, *c, from_r, &verified, error);
    if (rc != 0) return rc;
  }
  return 0;
}

int relay_employee_mailbox_set(MaStorage *st, const char *enterprise_id, const char *employee, const char *mailbox,
                               GError **error)
{
  g_autofree char *lower = g_ascii_strdown(employee, -1);
  MaEmployee *emp = NULL;
  int rc = storage_employee_find(st, enterprise_id, lower, &emp, error);
  if (rc == 0) g_set_error(error, MA_ERROR, MA_ERROR_NOT_FOUND, "no employee %s", employee);
  if (rc <= 0) return -1;
  MaMailbox *m = NULL;
  rc = storage_mailbox_get(st, enterprise_id, mailbox, &m, error);
  if (rc == 0) g_set_error(error, MA_ERROR, MA_ERROR_NOT_FOUND, "no mailbox %s", mailbox);
  else if (rc > 0 && g_strcmp0(m->employee_id, emp->id) != 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "mailbox %s is not bound to %s", m->email, emp->email);
    rc = -1;
  } else if (rc > 0) {
    rc = storage_employee_send_mailbox_set(st, enterprise_id, emp->id, m->id, error);
  }
  ma_mailbox_free(m);
  ma_employee_free(emp);
  return rc < 0 || (error && *error) ? -1 : 0;
}

int relay_employee_send_mailbox(MaStorage *st, const char *enterprise_id, const MaEmployee *emp, const char *from,
                                char **id_r, gboolean *chosen_r, GError **error)
{
  *id_r = NULL;
  if (chosen_r) *chosen_r = FALSE;
  g_autofree char *chosen = NULL;
  int rc = storage_employee_send_mailbox_get(st, enterprise_id, emp->id, &chosen, error);
  g_autoptr(GPtrArray) boxes = g_ptr_array_new_with_free_func((GDestroyNotify) ma_mailbox_free);
  if (rc >= 0) rc = storage_mailbox_list(st, enterprise_id, boxes, error);
  /* the chosen one while it is active, else the oldest active one */
  for (guint i = 0; rc >= 0 && i < boxes->len; i++) {
    const MaMailbox *m = g_ptr_array_index(boxes, i);
    /* a mailbox that can send (an SMTP server), and whose address is the From when one is given */
    if (g_strcmp0(m->employee_id, emp->id) != 0 || strcmp(m->state, "active") != 0 || !m->smtp_host ||
        (from && g_ascii_strcasecmp(m->email, from) != 0))
      continue;
    if (!*id_r || g_strcmp0(m->id, chosen) == 0) {
      g_free(*id_r);
      *id_r = g_strdup(m->id);
      if (chosen_r) *chosen_r = g_strcmp0(m->id, chosen) == 0;
    }
  }
  return rc < 0 ? -1 : 0;
}

json_t *relay_employee_mailbox_json(MaStorage *st, const char *enterprise_id, const char *employee, GError **error)
{
  g_autofree char *lower = g_ascii_strdown(employee, -1);
  MaEmployee *emp = NULL;
  int rc = storage_employee_find(st, enterprise_id, lower, &emp, error);
  if (rc == 0) g_set_error(error, MA_ERROR, MA_ERROR_NOT_FOUND, "no employee %s", employee);
  if (rc <= 0) return NULL;
  g_autofree char *id = NULL;
  gboolean chosen = FALSE;
  MaMailbox *m = NULL;
  rc = relay_employee_send_mailbox(st, enterprise_id, emp, NULL, &id, &chosen, error);
  if (rc >= 0 && id) rc = storage_mailbox_get(st, enterprise_id, id, &m, error);
  json_t *doc = NULL;
  if (rc >= 0)
    doc = json_pack("{s:s,s:s,s:o,s:b}", "employee_id", emp->id, "employee", emp->email, "default_mailbox",
                    m ? json_pack("{s:s,s:s,s:s}", "id", m->id, "email", m->email, "state", m->state) : json_null(),
                    "chosen", chosen);
  ma_mailbox_free(m);
  ma_employee_free(emp);
  return doc;
}
