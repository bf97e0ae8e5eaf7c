/* relay_oauth2.c - an enterprise relay that signs in with SMTP AUTH XOAUTH2: its grant (agent/oauth2,
 * owner "relay:<id>", sealed at rest like every grant) obtained by the authorization-code flow with
 * PKCE that employee mailboxes use, from the provider the relay names (a preset with OAuth2
 * endpoints; the enterprise's client for it is the one `mailbox oauth2-client` sets), and what a
 * refused grant does to the relay: it needs sign-in again (status untested with the reason, and the
 * webhook event relay.needs_sign_in once), so routing passes it over until an administrator signs
 * in and `relay test` passes.
 *
 * relay_oauth2_finish exchanges the code over HTTP: the CLI or a worker thread calls it, never an
 * event loop. Tokens and codes never reach a log or an error text.
 */
#include "relay.h"

#include "agent/lib/clock.h"
#include "agent/lib/error.h"

#include <string.h>

/* How the status reason of a relay that needs sign-in starts. */
#define RELAY_NEEDS_SIGN_IN "needs sign-in:"

char *relay_oauth2_owner(const char *relay_id)
{
  return g_strconcat("relay:", relay_id, NULL);
}

gboolean relay_uses_oauth2(const MaRelay *r)
{
  return r->auth_enabled && g_strcmp0(r->auth_mechanism, "XOAUTH2") == 0;
}

gboolean relay_needs_sign_in(const MaRelay *r)
{
  return relay_uses_oauth2(r) && g_strcmp0(r->grant_state, "valid") != 0;
}

/* MA_ERROR_CONFLICT unless r signs in with XOAUTH2 and a provider. */
static int check_oauth2(const MaRelay *r, GError **error)
{
  if (relay_uses_oauth2(r) && r->auth_provider) return 0;
  g_set_error(error, MA_ERROR, MA_ERROR_CONFLICT,
              "relay %s does not use AUTH XOAUTH2 with a provider (relay update --auth on --mechanism XOAUTH2"
              " --username U --provider P)", r->name);
  return -1;
}

int relay_oauth2_begin(const MaOAuth2Env *env, MaStorage *st, const MaRelay *r, const char *redirect_uri, char **url,
                       GError **error)
{
  *url = NULL;
  if (check_oauth2(r, error) < 0) return -1;
  g_autofree char *owner = relay_oauth2_owner(r->id);
  return oauth2_authorize_begin(env, st, r->enterprise_id, owner, r->auth_provider, redirect_uri, r->username, url,
                                error);
}

int relay_oauth2_finish(const MaOAuth2Env *env, MaStorage *st, const MaRelay *r, const char *state, const char *code,
                        const char *redirect_uri, GError **error)
{
  if (check_oauth2(r, error) < 0) return -1;
  g_autofree char *owner = relay_oauth2_owner(r->id);
  if (oauth2_authorize_finish(env, st, r->enterprise_id, owner, r->auth_provider, state, code, redirect_uri, error) < 0)
    return -1;
  /* a new grant is proved by a test, as any change to how the relay is reached */
  g_autofree char *reason = g_strdup_printf("signed in at %s as %s: run mailagent relay test", r->auth_provider, r->username);
  return storage_relay_set_status(st, r->enterprise_id, r->id, "untested", ma_now(), reason, 0, error) < 0 ? -1 : 0;
}

/* relay_oauth2_revoked inside its transaction. */
static int mark_needs_sign_in(MaStorage *st, const char *relay_id, const char *why, GError **error)
{
  g_autofree char *owner = relay_oauth2_owner(relay_id);
  g_autoptr(MaOAuth2Grant) g = NULL;
  int found = storage_oauth2_grant_get(st, owner, &g, error);
  if (found <= 0) return found;
  g_autoptr(MaRelay) r = NULL;
  if ((found = storage_relay_get(st, g->enterprise_id, relay_id, &r, error)) <= 0) return found;
  /* told once per refused grant: a second refusal of the same grant (another connection) only
   * finds the relay marked already */
  if (g_strcmp0(r->status, "untested") == 0 && r->status_reason && g_str_has_prefix(r->status_reason, RELAY_NEEDS_SIGN_IN))
    return 1;
  gint64 now = ma_now();
  g_autofree char *reason = g_strdup_printf(RELAY_NEEDS_SIGN_IN " the provider refused the OAuth2 grant (%s); run"
                                            " mailagent relay authorize, then relay test", why ? why : "revoked");
  if (storage_relay_set_status(st, r->enterprise_id, r->id, "untested", now, reason, 0, error) < 0) return -1;
  char at[32];
  ma_time_format(now, at);
  g_autofree char *key = g_strdup_printf("relay.needs_sign_in:%s:%" G_GINT64_FORMAT, r->id, g->updated_at);
  json_t *doc = json_pack("{s:s,s:s,s:s,s:s?,s:s?,s:s,s:s,s:s}", "relay_id", r->id, "name", r->name, "host", r->host,
                          "provider", r->auth_provider, "username", r->username, "reason", reason, "at", at,
                          "idempotency_key", key);
  g_autofree char *payload = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  return storage_outbox_add(st, r->enterprise_id, "relay.needs_sign_in", key, payload, now, error) < 0 ? -1 : 1;
}

int relay_oauth2_revoked(MaStorage *st, const char *relay_id, const char *why, GError **error)
{
  /* the mark and the event together: a relay marked without its event would never be told again */
  if (storage_begin(st, error) < 0) return -1;
  int rc = mark_needs_sign_in(st, relay_id, why, error);
  if (rc < 0 || storage_commit(st, error) < 0) {
    storage_rollback(st);
    return -1;
  }
  return rc;
}
