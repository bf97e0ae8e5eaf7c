/* oauth2.c - the token provider and the authorization-code flow (see oauth2.h): token-endpoint
 * requests over libcurl, sealing, and the rotation that never loses a refresh token.
 *
 * Bounded: a provider's answer is read up to OAUTH2_RESPONSE_MAX bytes, each request within
 * env->timeout seconds. Nothing here logs a token, a code or a client secret; errors name the
 * provider's error code only.
 */
#include "oauth2.h"

#include "agent/lib/clock.h"
#include "agent/lib/crypto.h"
#include "agent/lib/error.h"

#include <curl/curl.h>
#include <string.h>

void ma_oauth2_client_free(MaOAuth2Client *c)
{
  if (!c) return;
  g_free(c->provider);
  g_free(c->authorize_url);
  g_free(c->token_url);
  g_free(c->revoke_url);
  g_free(c->scope);
  g_free(c->client_id);
  if (c->client_secret) memset(c->client_secret, 0, strlen(c->client_secret));
  g_free(c->client_secret);
  g_free(c);
}

static void wipe_free(char *s)
{
  if (!s) return;
  memset(s, 0, strlen(s));
  g_free(s);
}

static char *grant_aad(const char *owner)
{
  return g_strconcat("oauth2:", owner, NULL);
}

typedef struct {
  GString *body;
  gboolean too_big;
} HttpBody;

static size_t on_body(char *data, size_t size, size_t n, void *user)
{
  HttpBody *b = user;
  size_t len = size * n;
  if (b->body->len + len > OAUTH2_RESPONSE_MAX) {
    b->too_big = TRUE;
    return 0; /* aborts the transfer */
  }
  g_string_append_len(b->body, data, (gssize)len);
  return len;
}

/* Appends name=value (form-encoded) to form. */
static void form_add(GString *form, CURL *curl, const char *name, const char *value)
{
  if (!value) return;
  char *esc = curl_easy_escape(curl, value, 0);
  g_string_append_printf(form, "%s%s=%s", form->len ? "&" : "", name, esc ? esc : "");
  curl_free(esc);
}

/* POSTs form to url; parses the answer. 0 with *resp (success or the provider's error code), or -1
 * with *error (MA_ERROR_TEMPFAIL: the provider could not be asked or answered nonsense). */
static int token_request(const MaOAuth2Env *env, const char *url, GString *form, MaOAuth2TokenResponse *resp,
                         GError **error)
{
  CURL *curl = curl_easy_init();
  if (!curl) {
    g_set_error(error, MA_ERROR, MA_ERROR_INTERNAL, "oauth2: cannot create an HTTP handle");
    return -1;
  }
  HttpBody body = {.body = g_string_new(NULL)};
  struct curl_slist *headers = curl_slist_append(NULL, "Accept: application/json");
  curl_easy_setopt(curl, CURLOPT_URL, url);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, form->str);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)form->len);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)MAX(env->timeout, 1));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https,http");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  CURLcode cc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  memset(form->str, 0, form->len); /* held a refresh token or a code */
  int rc = -1;
  if (cc != CURLE_OK) {
    g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "oauth2: token endpoint: %s",
                body.too_big ? "answer too large" : curl_easy_strerror(cc));
  } else if (oauth2_token_response_parse(body.body->str, body.body->len, resp, NULL) < 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "oauth2: token endpoint answered HTTP %ld without a token", status);
  } else if (!resp->error && status != 200) {
    ma_oauth2_token_response_clear(resp);
    g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "oauth2: token endpoint answered HTTP %ld", status);
  } else {
    rc = 0;
  }
  memset(body.body->str, 0, body.body->len);
  g_string_free(body.body, TRUE);
  return rc;
}

static int client_for(const MaOAuth2Env *env, MaStorage *st, const char *enterprise_id, const char *provider,
                      MaOAuth2Client **out, GError **error)
{
  if (!env->client_fn) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "oauth2: no client configured for %s", provider);
    return -1;
  }
  return env->client_fn(st, enterprise_id, provider, out, env->client_data, error);
}

/* Opens the grant's stored access token. */
static char *open_access(const MaOAuth2Env *env, const MaOAuth2Grant *g, GError **error)
{
  g_autofree char *aad = grant_aad(g->owner);
  return ma_secret_open(env->master_key, aad, g->access_sealed, error);
}

static gboolean access_fresh(const MaOAuth2Grant *g, gint64 now)
{
  return g->access_sealed && g->access_expires_at - OAUTH2_EXPIRY_MARGIN > now;
}

int oauth2_access_token(const MaOAuth2Env *env, MaStorage *st, const char *owner, gboolean force_refresh,
                        char **token, GError **error)
{
  *token = NULL;
  g_autoptr(MaOAuth2Grant) g = NULL;
  int found = storage_oauth2_grant_get(st, owner, &g, error);
  if (found < 0) return -1;
  if (found == 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_NOT_FOUND, "oauth2: no grant yet: authorize first");
    return -1;
  }
  if (g_strcmp0(g->state, "revoked") == 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_CONFLICT, "oauth2: the grant was revoked: needs reauthorization");
    return -1;
  }
  gint64 now = ma_now();
  if (!force_refresh && access_fresh(g, now)) {
    *token = open_access(env, g, error);
    return *token ? 0 : -1;
  }
  if (!g->refresh_sealed) {
    g_set_error(error, MA_ERROR, MA_ERROR_CONFLICT, "oauth2: the access token expired and there is no refresh token: needs reauthorization");
    return -1;
  }
  g_autoptr(MaOAuth2Client) client = NULL;
  if (client_for(env, st, g->enterprise_id, g->provider, &client, error) < 0) return -1;
  g_autofree char *aad = grant_aad(owner);
  char *refresh = ma_secret_open(env->master_key, aad, g->refresh_sealed, error);
  if (!refresh) return -1;

  CURL *esc = curl_easy_init();
  GString *form = g_string_new(NULL);
  form_add(form, esc, "grant_type", "refresh_token");
  form_add(form, esc, "refresh_token", refresh);
  form_add(form, esc, "client_id", client->client_id);
  form_add(form, esc, "client_secret", client->client_secret);
  curl_easy_cleanup(esc);
  wipe_free(refresh);
  MaOAuth2TokenResponse resp;
  int rc = token_request(env, client->token_url, form, &resp, error);
  g_string_free(form, TRUE);
  if (rc < 0) return -1;
  if (resp.error) {
    gboolean revoked = g_str_equal(resp.error, "invalid_grant") || g_str_equal(resp.error, "unauthorized_client");
    if (revoked) {
      if (storage_oauth2_grant_revoke(st, owner, now, error) < 0) {
        ma_oauth2_token_response_clear(&resp);
        return -1;
      }
      g_set_error(error, MA_ERROR, MA_ERROR_CONFLICT, "oauth2: refresh refused (%s): needs reauthorization", resp.error);
    } else {
      g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "oauth2: refresh refused (%s)", resp.error);
    }
    ma_oauth2_token_response_clear(&resp);
    return -1;
  }
  char *access_sealed = ma_secret_seal(env->master_key, aad, resp.access_token);
  char *refresh_sealed = resp.refresh_token ? ma_secret_seal(env->master_key, aad, resp.refresh_token) : NULL;
  int stored = storage_oauth2_grant_rotate(st, owner, g->generation, access_sealed, now + resp.expires_in,
                                           refresh_sealed, now, error);
  g_free(access_sealed);
  g_free(refresh_sealed);
  if (stored == 1) {
    *token = g_steal_pointer(&resp.access_token);
    ma_oauth2_token_response_clear(&resp);
    return 0;
  }
  ma_oauth2_token_response_clear(&resp);
  if (stored < 0) return -1;
  /* another refresher stored first; its token is the valid one (ours may rotate theirs away, so it
   * is dropped rather than stored) */
  g_clear_pointer(&g, ma_oauth2_grant_free);
  if (storage_oauth2_grant_get(st, owner, &g, error) <= 0 || !access_fresh(g, now)) {
    if (error && !*error) g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "oauth2: concurrent refresh; try again");
    return -1;
  }
  *token = open_access(env, g, error);
  return *token ? 0 : -1;
}

int oauth2_authorize_begin(const MaOAuth2Env *env, MaStorage *st, const char *enterprise_id, const char *owner,
                           const char *provider, const char *redirect_uri, const char *login_hint, char **url,
                           GError **error)
{
  *url = NULL;
  g_autoptr(MaOAuth2Client) client = NULL;
  if (client_for(env, st, enterprise_id, provider, &client, error) < 0) return -1;
  g_autofree char *verifier = oauth2_pkce_verifier();
  g_autofree char *challenge = oauth2_pkce_challenge(verifier);
  g_autofree char *state = ma_random_hex(24);
  g_autofree char *aad = g_strconcat("oauth2-state:", state, NULL);
  g_autofree char *verifier_sealed = ma_secret_seal(env->master_key, aad, verifier);
  if (storage_oauth2_state_add(st, state, owner, enterprise_id, verifier_sealed, ma_now() + OAUTH2_STATE_TTL, error) < 0)
    return -1;
  CURL *esc = curl_easy_init();
  GString *q = g_string_new(NULL);
  form_add(q, esc, "response_type", "code");
  form_add(q, esc, "client_id", client->client_id);
  form_add(q, esc, "redirect_uri", redirect_uri);
  form_add(q, esc, "scope", client->scope);
  form_add(q, esc, "state", state);
  form_add(q, esc, "code_challenge", challenge);
  form_add(q, esc, "code_challenge_method", "S256");
  form_add(q, esc, "access_type", "offline"); /* Google: issue a refresh token */
  form_add(q, esc, "prompt", "consent");
  form_add(q, esc, "login_hint", login_hint);
  curl_easy_cleanup(esc);
  *url = g_strdup_printf("%s%c%s", client->authorize_url, strchr(client->authorize_url, '?') ? '&' : '?', q->str);
  g_string_free(q, TRUE);
  return 0;
}

int oauth2_authorize_finish(const MaOAuth2Env *env, MaStorage *st, const char *enterprise_id, const char *owner,
                            const char *provider, const char *state, const char *code, const char *redirect_uri,
                            GError **error)
{
  char *state_owner = NULL, *verifier_sealed = NULL;
  int taken = storage_oauth2_state_take(st, state, ma_now(), &state_owner, &verifier_sealed, error);
  if (taken < 0) return -1;
  gboolean mine = taken == 1 && g_strcmp0(state_owner, owner) == 0;
  g_free(state_owner);
  if (!mine) {
    g_free(verifier_sealed);
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "oauth2: unknown, used or expired state");
    return -1;
  }
  g_autofree char *aad = g_strconcat("oauth2-state:", state, NULL);
  char *verifier = ma_secret_open(env->master_key, aad, verifier_sealed, error);
  g_free(verifier_sealed);
  if (!verifier) return -1;
  g_autoptr(MaOAuth2Client) client = NULL;
  if (client_for(env, st, enterprise_id, provider, &client, error) < 0) {
    wipe_free(verifier);
    return -1;
  }
  CURL *esc = curl_easy_init();
  GString *form = g_string_new(NULL);
  form_add(form, esc, "grant_type", "authorization_code");
  form_add(form, esc, "code", code);
  form_add(form, esc, "redirect_uri", redirect_uri);
  form_add(form, esc, "code_verifier", verifier);
  form_add(form, esc, "client_id", client->client_id);
  form_add(form, esc, "client_secret", client->client_secret);
  curl_easy_cleanup(esc);
  wipe_free(verifier);
  MaOAuth2TokenResponse resp;
  int rc = token_request(env, client->token_url, form, &resp, error);
  g_string_free(form, TRUE);
  if (rc < 0) return -1;
  if (resp.error) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "oauth2: the provider refused the code (%s)", resp.error);
    ma_oauth2_token_response_clear(&resp);
    return -1;
  }
  g_autofree char *gaad = grant_aad(owner);
  gint64 now = ma_now();
  MaOAuth2Grant g = {
    .owner = (char *)owner,
    .enterprise_id = (char *)enterprise_id,
    .provider = (char *)provider,
    .access_sealed = ma_secret_seal(env->master_key, gaad, resp.access_token),
    .access_expires_at = now + resp.expires_in,
    .refresh_sealed = resp.refresh_token ? ma_secret_seal(env->master_key, gaad, resp.refresh_token) : NULL,
    .updated_at = now,
  };
  ma_oauth2_token_response_clear(&resp);
  rc = storage_oauth2_grant_put(st, &g, error);
  g_free(g.access_sealed);
  g_free(g.refresh_sealed);
  return rc;
}
