/* api_mailboxes.c - /v1/mailboxes: employees' bound IMAP/POP3 mailboxes and their status.
 *
 * The event loop never waits on a mail server, so checking a binding against its server happens
 * on a collector thread: POST /v1/mailboxes validates the request, saves the binding "verifying"
 * with its sealed password and answers 202; GET /v1/mailboxes/{id} then shows "active", or
 * "rejected" with last_error naming the failed step (DNS, connect, TLS and certificate, greeting,
 * STARTTLS, login, folders) and the password removed. OAuth2 bindings are saved "pending";
 * POST /v1/mailboxes/{id}:authorize {"redirect_uri"} answers the provider's URL; the CRM, which
 * hosts the redirect, posts the code back with POST /v1/mailboxes/{id}:callback {"state", "code",
 * "redirect_uri"} (202, "authorizing"; a collector thread exchanges it and checks the mailbox:
 * "active", or "pending" again with last_error). When `[api] public_url` is set, the redirect can
 * be mailagent's own instead: :authorize without a redirect_uri uses <public_url>/v1/oauth2/callback,
 * where the browser brings the code back (api_oauth2.c). Also GET (list), DELETE (unbind),
 * POST {id}:pause, :resume and :sync (due now), and {id}:limit (the daily limit of mail sent
 * through it, `mailbox limit`). The password is never part of an answer.
 */
#include "api_internal.h"
#include "agent/codec/codec.h"
#include "agent/collector/collector.h"
#include "agent/lib/clock.h"

#include <string.h>

#define MAX_FIELD_LEN 1024

CollectorEnv *api_collector_env(ApiCtx *ctx)
{
  static CollectorEnv env;
  static gboolean ready;
  if (ready) return &env;
  g_autoptr(GError) error = NULL;
  if (collector_env_init(&env, ctx->cfg, &error) < 0) {
    api_reply_error(ctx, 503, "unavailable", "mailbox bindings are not available: %s", error->message);
    return NULL;
  }
  ready = TRUE;
  return &env;
}

static void mailboxes_list(ApiCtx *ctx)
{
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func((GDestroyNotify)ma_mailbox_free);
  g_autoptr(GError) error = NULL;
  if (!api_check_query(ctx, NULL)) return;
  if (storage_mailbox_list(ctx->st, ctx->enterprise_id, out, &error) < 0) {
    api_reply_gerror(ctx, error);
    return;
  }
  json_t *items = json_array();
  for (guint i = 0; i < out->len; i++) json_array_append_new(items, codec_mailbox_to_json(g_ptr_array_index(out, i), NULL));
  api_reply_json(ctx, 200, api_page(items, NULL));
}

/* A string field or NULL; FALSE (answered 422) when present and not a short string. */
static gboolean opt_string(ApiCtx *ctx, json_t *body, const char *name, const char **out)
{
  json_t *v = json_object_get(body, name);
  *out = NULL;
  if (!v || json_is_null(v)) return TRUE;
  if (!json_is_string(v) || strlen(json_string_value(v)) > MAX_FIELD_LEN) {
    api_reply_error(ctx, 422, "invalid", "field '%s' must be a string of at most %d bytes", name, MAX_FIELD_LEN);
    return FALSE;
  }
  *out = json_string_value(v);
  return TRUE;
}

static void mailboxes_add(ApiCtx *ctx)
{
  static const char *const fields[] = {"email", "username", "preset", "protocol", "host", "port", "security", "auth",
                                       "password", "folders", "allow_untrusted_certificate", "archiving", "smtp",
                                       "send", "sent_copy", "daily_limit", NULL};
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) joined = g_string_new(NULL);
  json_t *body;
  if (!api_check_query(ctx, NULL) || !(body = api_body_json(ctx, TRUE))) return;
  CollectorBindRequest req = {0};
  const char *password = NULL, *folders = NULL;
  json_t *port = json_object_get(body, "port"), *untrusted = json_object_get(body, "allow_untrusted_certificate");
  json_t *archiving = json_object_get(body, "archiving"), *folder_list = json_object_get(body, "folders");
  json_t *send = json_object_get(body, "send"), *sent_copy = json_object_get(body, "sent_copy");
  json_t *daily_limit = json_object_get(body, "daily_limit");
  if (!api_check_fields(ctx, body, fields) || !opt_string(ctx, body, "email", &req.email) ||
      !opt_string(ctx, body, "username", &req.username) || !opt_string(ctx, body, "preset", &req.preset) ||
      !opt_string(ctx, body, "protocol", &req.protocol) || !opt_string(ctx, body, "host", &req.host) ||
      !opt_string(ctx, body, "security", &req.security) || !opt_string(ctx, body, "auth", &req.auth) ||
      !opt_string(ctx, body, "password", &password) || !opt_string(ctx, body, "smtp", &req.smtp))
    goto out;
  if ((send && !json_is_boolean(send)) || (sent_copy && !json_is_boolean(sent_copy)) ||
      (daily_limit && (!json_is_integer(daily_limit) || json_integer_value(daily_limit) < 0 ||
                       json_integer_value(daily_limit) > G_MAXINT))) {
    api_reply_error(ctx, 422, "invalid", "fields 'send' and 'sent_copy' are booleans, 'daily_limit' a count (0: none)");
    goto out;
  }
  req.no_send = send && json_is_false(send);
  req.no_sent_copy = sent_copy && json_is_false(sent_copy);
  req.daily_limit = daily_limit ? (int) json_integer_value(daily_limit) : 0;
  if (port && !json_is_integer(port)) {
    api_reply_error(ctx, 422, "invalid", "field 'port' must be an integer");
    goto out;
  }
  if ((untrusted && !json_is_boolean(untrusted)) || (archiving && !json_is_boolean(archiving))) {
    api_reply_error(ctx, 422, "invalid", "fields 'allow_untrusted_certificate' and 'archiving' are booleans");
    goto out;
  }
  if (folder_list && !json_is_null(folder_list)) {
    size_t i;
    json_t *f;
    if (!json_is_array(folder_list) || json_array_size(folder_list) > 64) {
      api_reply_error(ctx, 422, "invalid", "field 'folders' must be an array of at most 64 names");
      goto out;
    }
    json_array_foreach(folder_list, i, f) {
      if (!json_is_string(f) || strchr(json_string_value(f), ',') || strlen(json_string_value(f)) > MAX_FIELD_LEN) {
        api_reply_error(ctx, 422, "invalid", "field 'folders' must hold folder names (strings without commas)");
        goto out;
      }
      g_string_append_printf(joined, "%s%s", i ? "," : "", json_string_value(f));
    }
    folders = joined->str;
  }
  req.port = port ? (int)json_integer_value(port) : 0;
  req.folders = folders;
  req.allow_untrusted = untrusted && json_is_true(untrusted);
  req.archiving_off = archiving && json_is_false(archiving);
  if (!req.email) {
    api_reply_error(ctx, 422, "invalid", "field 'email' is required");
    goto out;
  }
  if (req.host && !req.port) {
    api_reply_error(ctx, 422, "invalid", "field 'host' needs 'port'");
    goto out;
  }
  if (!req.auth && password) req.auth = "password";
  CollectorEnv *env = api_collector_env(ctx);
  if (!env) goto out;
  MaMailbox *m = NULL;
  if (collector_bind_deferred(env, ctx->st, ctx->enterprise_id, &req, password, &m, &error) < 0) {
    if (error->code == MA_ERROR_INVALID) api_reply_error(ctx, 422, "invalid", "%s", error->message);
    else api_reply_gerror(ctx, error);
  } else {
    api_audit(ctx, ctx->enterprise_id, "mailbox.bind", m->id,
              json_pack("{s:s, s:s, s:s}", "email", m->email, "host", m->host, "protocol", m->protocol), NULL);
    api_reply_json(ctx, 202, codec_mailbox_to_json(m, NULL));
    ma_mailbox_free(m);
  }
out:
  /* the body held the password: wipe it before it is freed */
  if (password) memset((char *)password, 0, strlen(password));
  json_decref(body);
}

/* The mailbox named by {id}; answers 404 itself. */
static MaMailbox *mailbox_of(ApiCtx *ctx)
{
  g_autoptr(GError) error = NULL;
  MaMailbox *m = NULL;
  int rc = storage_mailbox_get(ctx->st, ctx->enterprise_id, api_param(ctx, "id"), &m, &error);
  if (rc < 0) api_reply_gerror(ctx, error);
  else if (rc == 0) api_reply_error(ctx, 404, "not_found", "no such mailbox");
  return m;
}

static void mailbox_get(ApiCtx *ctx)
{
  if (!api_check_query(ctx, NULL)) return;
  g_autoptr(MaMailbox) m = mailbox_of(ctx);
  if (!m) return;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) q = g_ptr_array_new_with_free_func(g_free);
  if (storage_mailbox_quarantine_list(ctx->st, m->id, MA_MAILBOX_QUARANTINE_AFTER, q, &error) < 0) api_reply_gerror(ctx, error);
  else api_reply_json(ctx, 200, codec_mailbox_to_json(m, q));
}

static void mailbox_delete(ApiCtx *ctx)
{
  if (!api_check_query(ctx, NULL)) return;
  g_autoptr(MaMailbox) m = mailbox_of(ctx);
  if (!m) return;
  g_autoptr(GError) error = NULL;
  if (storage_mailbox_remove(ctx->st, ctx->enterprise_id, m->id, &error) < 0) {
    api_reply_gerror(ctx, error);
    return;
  }
  api_audit(ctx, ctx->enterprise_id, "mailbox.unbind", m->id, json_pack("{s:s}", "email", m->email), NULL);
  api_reply_no_content(ctx);
}

/* :pause, :resume, :sync */
static void mailbox_change(ApiCtx *ctx, const char *action)
{
  if (!api_check_query(ctx, NULL)) return;
  g_autoptr(MaMailbox) m = mailbox_of(ctx);
  if (!m) return;
  g_autoptr(GError) error = NULL;
  const char *state = g_str_equal(action, "pause") ? "paused" : "active";
  gboolean usable = g_strcmp0(m->state, "pending") != 0 && g_strcmp0(m->state, "verifying") != 0 &&
                    g_strcmp0(m->state, "rejected") != 0 && g_strcmp0(m->state, "authorizing") != 0;
  if (!usable || (g_str_equal(action, "sync") && g_strcmp0(m->state, "active") != 0)) {
    api_reply_error(ctx, 409, "conflict", "mailbox is %s", m->state);
    return;
  }
  if (storage_mailbox_set_state(ctx->st, ctx->enterprise_id, m->id, state, ma_now(), &error) < 0) {
    api_reply_gerror(ctx, error);
    return;
  }
  if (!g_str_equal(action, "sync"))
    api_audit(ctx, ctx->enterprise_id, g_str_equal(action, "pause") ? "mailbox.pause" : "mailbox.resume", m->id,
              json_pack("{s:s}", "email", m->email), NULL);
  g_autoptr(MaMailbox) after = NULL;
  if (storage_mailbox_get(ctx->st, ctx->enterprise_id, m->id, &after, &error) <= 0) api_reply_gerror(ctx, error);
  else api_reply_json(ctx, g_str_equal(action, "sync") ? 202 : 200, codec_mailbox_to_json(after, NULL));
}

static void mailbox_pause(ApiCtx *ctx) { mailbox_change(ctx, "pause"); }
static void mailbox_resume(ApiCtx *ctx) { mailbox_change(ctx, "resume"); }
static void mailbox_sync(ApiCtx *ctx) { mailbox_change(ctx, "sync"); }

/* :limit {"daily_limit": N} (0: none) */
static void mailbox_limit(ApiCtx *ctx)
{
  static const char *const fields[] = {"daily_limit", NULL};
  g_autoptr(GError) error = NULL;
  json_t *body;
  if (!api_check_query(ctx, NULL) || !(body = api_body_json(ctx, TRUE))) return;
  json_t *limit = json_object_get(body, "daily_limit");
  g_autoptr(MaMailbox) m = NULL, after = NULL;
  if (!api_check_fields(ctx, body, fields)) goto out;
  if (!limit || !json_is_integer(limit) || json_integer_value(limit) < 0 || json_integer_value(limit) > G_MAXINT) {
    api_reply_error(ctx, 422, "invalid", "field 'daily_limit' is required: a count of recipients a day (0: none)");
    goto out;
  }
  if (!(m = mailbox_of(ctx))) goto out;
  if (storage_mailbox_set_daily_limit(ctx->st, ctx->enterprise_id, m->id, (int) json_integer_value(limit), &error) < 0) {
    api_reply_gerror(ctx, error);
    goto out;
  }
  api_audit(ctx, ctx->enterprise_id, "mailbox.limit", m->id, json_pack("{s:I}", "daily_limit", json_integer_value(limit)),
            NULL);
  if (storage_mailbox_get(ctx->st, ctx->enterprise_id, m->id, &after, &error) <= 0) api_reply_gerror(ctx, error);
  else api_reply_json(ctx, 200, codec_mailbox_to_json(after, NULL));
out:
  json_decref(body);
}

static void mailbox_authorize(ApiCtx *ctx)
{
  static const char *const fields[] = {"redirect_uri", NULL};
  g_autoptr(GError) error = NULL;
  g_autofree char *owner = NULL, *url = NULL, *own_redirect = NULL;
  json_t *body;
  if (!api_check_query(ctx, NULL) || !(body = api_body_json(ctx, TRUE))) return;
  const char *redirect = NULL;
  MaMailbox *m = NULL;
  if (!api_check_fields(ctx, body, fields) || !opt_string(ctx, body, "redirect_uri", &redirect)) goto out;
  if (!redirect && !ctx->cfg->api_public_url) {
    api_reply_error(ctx, 422, "invalid", "field 'redirect_uri' is required (or set [api] public_url to use mailagent's own)");
    goto out;
  }
  if (!redirect) redirect = own_redirect = collector_oauth2_own_redirect(ctx->cfg);
  if (!(m = mailbox_of(ctx))) goto out;
  if (!g_str_equal(m->auth, "oauth2") || !m->preset) {
    api_reply_error(ctx, 409, "conflict", "mailbox does not use OAuth2 with a preset");
    goto out;
  }
  CollectorEnv *env = api_collector_env(ctx);
  if (!env) goto out;
  owner = collector_secret_aad(m->id);
  if (oauth2_authorize_begin(&env->oauth2, ctx->st, ctx->enterprise_id, owner, m->preset, redirect, m->email, &url,
                             &error) < 0) {
    if (error->code == MA_ERROR_INVALID) api_reply_error(ctx, 422, "invalid", "%s", error->message);
    else api_reply_gerror(ctx, error);
  } else {
    api_reply_json(ctx, 200, json_pack("{s:s}", "authorization_url", url));
  }
out:
  ma_mailbox_free(m);
  json_decref(body);
}

static void mailbox_callback(ApiCtx *ctx)
{
  static const char *const fields[] = {"state", "code", "redirect_uri", NULL};
  g_autoptr(GError) error = NULL;
  g_autoptr(MaMailbox) m = NULL;
  json_t *body;
  if (!api_check_query(ctx, NULL) || !(body = api_body_json(ctx, TRUE))) return;
  const char *state = NULL, *code = NULL, *redirect = NULL;
  if (!api_check_fields(ctx, body, fields) || !opt_string(ctx, body, "state", &state) ||
      !opt_string(ctx, body, "code", &code) || !opt_string(ctx, body, "redirect_uri", &redirect))
    goto out;
  if (!state || !code || !redirect) {
    api_reply_error(ctx, 422, "invalid", "fields 'state', 'code' and 'redirect_uri' are required");
    goto out;
  }
  CollectorEnv *env = api_collector_env(ctx);
  if (!env) goto out;
  if (collector_authorize_deferred(env, ctx->st, ctx->enterprise_id, api_param(ctx, "id"), state, code, redirect,
                                   &error) < 0) {
    api_reply_gerror(ctx, error);
    goto out;
  }
  if (storage_mailbox_get(ctx->st, ctx->enterprise_id, api_param(ctx, "id"), &m, &error) <= 0) api_reply_gerror(ctx, error);
  else api_reply_json(ctx, 202, codec_mailbox_to_json(m, NULL));
out:
  if (code) memset((char *)code, 0, strlen(code));
  json_decref(body);
}

const ApiRoute api_mailboxes_routes[] = {
  {EVHTTP_REQ_GET, "/v1/mailboxes", API_AUTH_ENTERPRISE, mailboxes_list},
  {EVHTTP_REQ_POST, "/v1/mailboxes", API_AUTH_ENTERPRISE, mailboxes_add},
  {EVHTTP_REQ_GET, "/v1/mailboxes/{id}", API_AUTH_ENTERPRISE, mailbox_get},
  {EVHTTP_REQ_DELETE, "/v1/mailboxes/{id}", API_AUTH_ENTERPRISE, mailbox_delete},
  {EVHTTP_REQ_POST, "/v1/mailboxes/{id}:pause", API_AUTH_ENTERPRISE, mailbox_pause},
  {EVHTTP_REQ_POST, "/v1/mailboxes/{id}:resume", API_AUTH_ENTERPRISE, mailbox_resume},
  {EVHTTP_REQ_POST, "/v1/mailboxes/{id}:sync", API_AUTH_ENTERPRISE, mailbox_sync},
  {EVHTTP_REQ_POST, "/v1/mailboxes/{id}:limit", API_AUTH_ENTERPRISE, mailbox_limit},
  {EVHTTP_REQ_POST, "/v1/mailboxes/{id}:authorize", API_AUTH_ENTERPRISE, mailbox_authorize},
  {EVHTTP_REQ_POST, "/v1/mailboxes/{id}:callback", API_AUTH_ENTERPRISE, mailbox_callback},
  {0},
};
