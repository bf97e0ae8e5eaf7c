/* collector_oauth2.c - what the collector gives agent/oauth2 and takes from it: the OAuth2 client
 * of an enterprise for a provider (endpoints from the presets, client id and sealed secret from the
 * enterprise's settings), and the CRM's events about bindings: mailbox.needs_reauth when a grant
 * is revoked, mailbox.message when a sync pulled new mail (for the CRM's new-mail notifications).
 */
#include "collector.h"

#include "agent/lib/clock.h"
#include "agent/lib/crypto.h"
#include "agent/lib/metrics.h"

#include <jansson.h>
#include <string.h>

static char *client_aad(const char *enterprise_id, const char *provider)
{
  return g_strdup_printf("oauth2-client:%s:%s", enterprise_id, provider);
}

int collector_oauth2_client(MaStorage *st, const char *enterprise_id, const char *provider, MaOAuth2Client **out,
                            gpointer data, GError **error)
{
  const CollectorEnv *env = data;
  *out = NULL;
  const MaPreset *p = provider ? g_hash_table_lookup(env->presets, provider) : NULL;
  if (!p || !p->oauth2_authorize_url || !p->oauth2_token_url) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "oauth2: preset %s has no OAuth2 endpoints", provider ? provider : "(none)");
    return -1;
  }
  g_autofree char *id_key = g_strdup_printf("oauth2.%s.client_id", provider);
  g_autofree char *secret_key = g_strdup_printf("oauth2.%s.client_secret", provider);
  g_autofree char *client_id = NULL, *secret_sealed = NULL;
  int found = storage_setting_get(st, enterprise_id, id_key, &client_id, error);
  if (found < 0) return -1;
  if (found == 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "oauth2: the enterprise has no client for %s (mailbox oauth2-client)",
                provider);
    return -1;
  }
  if (storage_setting_get(st, enterprise_id, secret_key, &secret_sealed, error) < 0) return -1;
  MaOAuth2Client *c = g_new0(MaOAuth2Client, 1);
  c->provider = g_strdup(provider);
  c->authorize_url = g_strdup(p->oauth2_authorize_url);
  c->token_url = g_strdup(p->oauth2_token_url);
  c->revoke_url = g_strdup(p->oauth2_revoke_url);
  c->scope = g_strdup(p->oauth2_scope);
  c->client_id = g_steal_pointer(&client_id);
  if (secret_sealed) {
    g_autofree char *aad = client_aad(enterprise_id, provider);
    c->client_secret = ma_secret_open(env->master_key, aad, secret_sealed, error);
    if (!c->client_secret) {
      ma_oauth2_client_free(c);
      return -1;
    }
  }
  *out = c;
  return 0;
}

int collector_oauth2_client_set(const CollectorEnv *env, MaStorage *st, const char *enterprise_id, const char *provider,
                                const char *client_id, const char *client_secret, GError **error)
{
  const MaPreset *p = g_hash_table_lookup(env->presets, provider);
  if (!p || !p->oauth2_token_url) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "preset %s has no OAuth2 endpoints", provider);
    return -1;
  }
  g_autofree char *id_key = g_strdup_printf("oauth2.%s.client_id", provider);
  g_autofree char *secret_key = g_strdup_printf("oauth2.%s.client_secret", provider);
  g_autofree char *aad = client_aad(enterprise_id, provider);
  g_autofree char *sealed = client_secret ? ma_secret_seal(env->master_key, aad, client_secret) : NULL;
  if (storage_begin(st, error) < 0) return -1;
  if (storage_setting_set(st, enterprise_id, id_key, client_id, error) < 0 ||
      storage_setting_set(st, enterprise_id, secret_key, sealed, error) < 0) {
    storage_rollback(st);
    return -1;
  }
  return storage_commit(st, error);
}

void collector_notify_new_mail(MaStorage *st, const MaMailbox *m, gint64 count)
{
  gint64 now_ms = ma_now_ms();
  char when[32];
  ma_time_format(now_ms / 1000, when);
  json_t *doc = json_pack("{s:s, s:s, s:o, s:I, s:s}", "mailbox_id", m->id, "email", m->email, "employee_id",
                          m->employee_id ? json_string(m->employee_id) : json_null(), "new_messages", (json_int_t)count,
                          "at", when);
  char *payload = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  g_autofree char *key = g_strdup_printf("mailbox.message:%s:%" G_GINT64_FORMAT, m->id, now_ms);
  storage_outbox_add(st, m->enterprise_id, "mailbox.message", key, payload, now_ms / 1000, NULL);
  free(payload);
}

void collector_grant_revoked(MaStorage *st, const char *mailbox_id, const char *why)
{
  g_autoptr(MaMailbox) m = NULL;
  if (storage_mailbox_get(st, NULL, mailbox_id, &m, NULL) <= 0 || g_strcmp0(m->state, "needs_reauth") == 0) return;
  MaMailboxSyncReport report = {.ok = FALSE, .error_text = why, .new_state = "needs_reauth", .now = ma_now()};
  if (storage_mailbox_report(st, m->id, &report, NULL) == 0) collector_notify_needs_reauth(st, m, why);
}

void collector_notify_needs_reauth(MaStorage *st, const MaMailbox *m, const char *why)
{
  gint64 now = ma_now();
  char when[32];
  ma_time_format(now, when);
  json_t *doc = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "mailbox_id", m->id, "email", m->email, "employee_id",
                          m->employee_id ? m->employee_id : "", "state", "needs_reauth", "reason",
                          why ? why : "", "at", when);
  char *payload = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  g_autofree char *key = g_strdup_printf("mailbox.needs_reauth:%s:%" G_GINT64_FORMAT, m->id, now);
  /* a failure here leaves the state (visible in status) as the signal; the next sync tries again */
  if (storage_outbox_add(st, m->enterprise_id, "mailbox.needs_reauth", key, payload, now, NULL) >= 0)
    ma_metrics_inc(MA_METRIC_MAILBOX_NEEDS_REAUTH);
  free(payload);
}

char *collector_oauth2_own_redirect(const MaConfig *cfg)
{
  return cfg->api_public_url ? g_strconcat(cfg->api_public_url, COLLECTOR_OAUTH2_CALLBACK_PATH, NULL) : NULL;
}
