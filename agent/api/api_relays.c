/* api_relays.c - /v1/relays: an enterprise's own SMTP relays (agent/relay). GET lists them, POST
 * adds one, GET/PUT/DELETE /v1/relays/{id} (id or name) read, change (the fields given; the
 * others stay) and delete one,
 * POST {id}:enable and :disable switch it, POST {id}:test runs `relay test` (relay_test, on one of
 * the API's read workers, so neither the API's loop nor the SMTP loop waits for the session) and
 * answers every step. A relay that signs in with XOAUTH2 gets its grant as an OAuth2 mailbox does:
 * POST {id}:authorize {"redirect_uri"} answers the provider's URL, POST {id}:callback {"state",
 * "code", "redirect_uri"} exchanges the code on a read worker (an HTTP exchange with the provider)
 * and answers the relay, signed in and untested until a test passes. Bodies are the relay's JSON
 * fields; every rule is
 * relay_create/relay_modify's (the CLI runs the same), so a refusal names the field and why
 * (422). Answers use the one relay shape of relay_to_json; the password is write-only.
 */
#include "api_internal.h"

#include "agent/relay/relay.h"

static json_t *relay_json(ApiCtx *ctx, const MaRelay *r)
{
  gint64 sent = 0;
  g_autoptr(GError) error = NULL;
  relay_today(ctx->st, ctx->cfg, r, &sent, &error); /* unknown counts show as 0 */
  return relay_to_json(r, sent);
}

/* MA_ERROR_INVALID is a 422 here: the body was JSON, its content is wrong. */
static void reply_refusal(ApiCtx *ctx, const GError *error)
{
  if (error->domain == MA_ERROR && error->code == MA_ERROR_INVALID)
    api_reply_error(ctx, 422, "invalid", "%s", error->message);
  else
    api_reply_gerror(ctx, error);
}

static void relays_list(ApiCtx *ctx)
{
  if (!api_check_query(ctx, NULL)) return;
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func((GDestroyNotify) ma_relay_free);
  g_autoptr(GError) error = NULL;
  if (storage_relay_list(ctx->st, ctx->enterprise_id, list, &error) < 0) {
    api_reply_gerror(ctx, error);
    return;
  }
  json_t *items = json_array();
  for (guint i = 0; i < list->len; i++) json_array_append_new(items, relay_json(ctx, g_ptr_array_index(list, i)));
  api_reply_json(ctx, 200, api_page(items, NULL));
}

static void relays_add(ApiCtx *ctx)
{
  json_t *body = api_body_json(ctx, TRUE);
  if (!body) return;
  g_autoptr(GError) error = NULL;
  MaRelay *r = NULL;
  int rc = relay_create(ctx->st, ctx->cfg, ctx->enterprise_id, body, &r, &error);
  json_decref(body);
  if (rc < 0) {
    reply_refusal(ctx, error);
    return;
  }
  api_audit(ctx, ctx->enterprise_id, "relay.add", r->id, json_pack("{s:s}", "name", r->name), NULL);
  api_reply_json(ctx, 201, relay_json(ctx, r));
  ma_relay_free(r);
}

/* The relay {id} of the request's enterprise, or NULL with 404/500 answered. Caller frees. */
static MaRelay *relay_of(ApiCtx *ctx)
{
  g_autoptr(GError) error = NULL;
  MaRelay *r = NULL;
  int rc = storage_relay_get(ctx->st, ctx->enterprise_id, api_param(ctx, "id"), &r, &error);
  if (rc < 0) api_reply_gerror(ctx, error);
  else if (rc == 0) api_reply_error(ctx, 404, "not_found", "no relay %s", api_param(ctx, "id"));
  return r;
}

static void relay_get(ApiCtx *ctx)
{
  if (!api_check_query(ctx, NULL)) return;
  MaRelay *r = relay_of(ctx);
  if (r) api_reply_json(ctx, 200, relay_json(ctx, r));
  ma_relay_free(r);
}

static void modify(ApiCtx *ctx, json_t *fields, const char *action)
{
  g_autoptr(GError) error = NULL;
  MaRelay *r = NULL;
  int rc = relay_modify(ctx->st, ctx->cfg, ctx->enterprise_id, api_param(ctx, "id"), fields, &r, &error);
  json_decref(fields);
  if (rc < 0) {
    reply_refusal(ctx, error);
    return;
  }
  api_audit(ctx, ctx->enterprise_id, action, r->id, json_pack("{s:s}", "name", r->name), NULL);
  api_reply_json(ctx, 200, relay_json(ctx, r));
  ma_relay_free(r);
}

static void relay_put(ApiCtx *ctx)
{
  json_t *body = api_body_json(ctx, TRUE);
  if (body) modify(ctx, body, "relay.update");
}

static void relay_enable(ApiCtx *ctx) { modify(ctx, json_pack("{s:b}", "enabled", 1), "relay.enable"); }
static void relay_disable(ApiCtx *ctx) { modify(ctx, json_pack("{s:b}", "enabled", 0), "relay.disable"); }

static void collect_step(void *arg, const char *step, const char *text)
{
  json_array_append_new(arg, json_pack("{s:s,s:s}", "step", step, "text", text));
}

/* A relay test parked with api_defer: the SMTP session runs on a read worker (its own storage
 * handle, which marks the relay ok on a pass), so the API's loop keeps answering meanwhile. The
 * job owns everything in it; relay_test_done frees it on the loop. */
typedef struct {
  const MaConfig *cfg; /* the server's, read-only for its lifetime */
  const MaOAuth2Env *oauth2; /* the process's (api_collector_env), XOAUTH2 relays only, else NULL */
  char *enterprise_id;
  MaRelay *relay;
  char *to, *from;
  json_t *steps;
  char *failure;
  MaRelay *now; /* the relay as stored after the test */
  GError *error;
  int rc;
} RelayTestJob;

static void relay_test_run(MaStorage *st, void *data)
{
  RelayTestJob *job = data;
  RelayProbeEnv env = {.cfg = job->cfg, .oauth2 = job->oauth2, .st = st};
  job->rc = relay_test(&env, job->relay, job->to, job->from, collect_step, job->steps, &job->failure, &job->error);
  if (job->rc >= 0) {
    g_autoptr(GError) error = NULL;
    if (storage_relay_get(st, job->enterprise_id, job->relay->id, &job->now, &error) <= 0) job->now = NULL;
  }
}

static void relay_test_done(ApiCtx *ctx, void *data)
{
  RelayTestJob *job = data;
  if (job->rc < 0) {
    reply_refusal(ctx, job->error);
  } else {
    api_audit(ctx, ctx->enterprise_id, "relay.test", job->relay->id,
              json_pack("{s:s,s:b}", "name", job->relay->name, "passed", !job->failure), NULL);
    api_reply_json(ctx, 200, json_pack("{s:b,s:s?,s:O,s:o}", "passed", !job->failure, "failure", job->failure,
                                       "steps", job->steps, "relay", job->now ? relay_json(ctx, job->now) : json_null()));
  }
  json_decref(job->steps);
  g_free(job->enterprise_id);
  g_free(job->to);
  g_free(job->from);
  g_free(job->failure);
  g_clear_error(&job->error);
  ma_relay_free(job->relay);
  ma_relay_free(job->now);
  g_free(job);
}

/* POST /v1/relays/{id}:test {"to"?, "from"?}: relay_test, every step's command and reply in
 * "steps"; a pass marks the relay ok. The session runs on a read worker (relay_test_run), bounded
 * by its timeouts. */
static void relay_test_post(ApiCtx *ctx)
{
  static const char *const fields[] = {"to", "from", NULL};
  gsize len = 0;
  if (!api_body_bytes(ctx, &len)) return;
  json_t *body = len > 0 ? api_body_json(ctx, TRUE) : NULL; /* the body is optional */
  if (len > 0 && !body) return;
  if (body && !api_check_fields(ctx, body, fields)) {
    json_decref(body);
    return;
  }
  const char *to = json_string_value(json_object_get(body, "to"));
  const char *from = json_string_value(json_object_get(body, "from"));
  MaRelay *r = relay_of(ctx);
  if (!r) {
    json_decref(body);
    return;
  }
  if ((to && (!*to || !strchr(to, '@'))) || (from && !strchr(from, '@'))) {
    api_reply_error(ctx, 422, "invalid", "to and from: addresses local@domain");
    json_decref(body);
    ma_relay_free(r);
    return;
  }
  CollectorEnv *coll = NULL;
  if (relay_uses_oauth2(r) && !(coll = api_collector_env(ctx))) { /* 503 answered */
    json_decref(body);
    ma_relay_free(r);
    return;
  }
  RelayTestJob *job = g_new0(RelayTestJob, 1);
  job->cfg = ctx->cfg;
  job->oauth2 = coll ? &coll->oauth2 : NULL;
  job->enterprise_id = g_strdup(ctx->enterprise_id);
  job->relay = r;
  job->to = g_strdup(to);
  job->from = g_strdup(from);
  job->steps = json_array();
  json_decref(body);
  api_defer(ctx, relay_test_run, relay_test_done, job);
}

/* A string field of body into *out (borrowed; NULL when absent); FALSE with 422 answered when it is
 * not a string of 1 to max bytes. */
static gboolean body_string(ApiCtx *ctx, json_t *body, const char *name, gsize max, const char **out)
{
  json_t *v = json_object_get(body, name);
  *out = NULL;
  if (!v) return TRUE;
  if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max) {
    api_reply_error(ctx, 422, "invalid", "field '%s' must be a string of 1 to %zu bytes", name, max);
    return FALSE;
  }
  *out = json_string_value(v);
  return TRUE;
}

/* POST /v1/relays/{id}:authorize {"redirect_uri"?}: the provider's authorization URL for an XOAUTH2
 * relay (no redirect_uri: mailagent's own callback under [api] public_url). Storage only: the
 * provider is not asked until the code comes back. */
static void relay_authorize(ApiCtx *ctx)
{
  static const char *const fields[] = {"redirect_uri", NULL};
  json_t *body;
  if (!api_check_query(ctx, NULL) || !(body = api_body_json(ctx, TRUE))) return;
  const char *redirect = NULL;
  g_autofree char *own = NULL, *url = NULL;
  g_autoptr(GError) error = NULL;
  MaRelay *r = NULL;
  CollectorEnv *env = NULL;
  if (!api_check_fields(ctx, body, fields) || !body_string(ctx, body, "redirect_uri", 2048, &redirect)) goto out;
  if (!redirect && !(redirect = own = collector_oauth2_own_redirect(ctx->cfg))) {
    api_reply_error(ctx, 422, "invalid", "field 'redirect_uri' is required (or set [api] public_url to use mailagent's own)");
    goto out;
  }
  if (!(r = relay_of(ctx)) || !(env = api_collector_env(ctx))) goto out;
  if (relay_oauth2_begin(&env->oauth2, ctx->st, r, redirect, &url, &error) < 0) {
    reply_refusal(ctx, error);
    goto out;
  }
  api_reply_json(ctx, 200, json_pack("{s:s}", "authorization_url", url));
out:
  ma_relay_free(r);
  json_decref(body);
}

/* An XOAUTH2 sign-in finished on a read worker (relay_oauth2_finish exchanges the code with the
 * provider over HTTP). The job owns everything in it; relay_callback_done frees it on the loop. */
typedef struct {
  const MaOAuth2Env *oauth2;  /* the process's, read-only */
  MaRelay *relay;
  char *state, *code, *redirect;
  MaRelay *now;               /* the relay as stored after the sign-in */
  GError *error;
  int rc;
} RelayCallbackJob;

static void relay_callback_run(MaStorage *st, void *data)
{
  RelayCallbackJob *job = data;
  job->rc = relay_oauth2_finish(job->oauth2, st, job->relay, job->state, job->code, job->redirect, &job->error);
  int found = job->rc == 0 ? storage_relay_get(st, job->relay->enterprise_id, job->relay->id, &job->now, &job->error) : 1;
  if (found == 0) g_set_error(&job->error, MA_ERROR, MA_ERROR_NOT_FOUND, "relay %s was deleted meanwhile", job->relay->name);
  if (found <= 0) job->rc = -1;
}

static void relay_callback_done(ApiCtx *ctx, void *data)
{
  RelayCallbackJob *job = data;
  if (job->rc < 0) {
    reply_refusal(ctx, job->error);
  } else {
    api_audit(ctx, ctx->enterprise_id, "relay.authorize", job->relay->id,
              json_pack("{s:s,s:s}", "name", job->relay->name, "provider", job->relay->auth_provider), NULL);
    api_reply_json(ctx, 200, relay_json(ctx, job->now));
  }
  memset(job->code, 0, strlen(job->code));
  g_free(job->code);
  g_free(job->state);
  g_free(job->redirect);
  g_clear_error(&job->error);
  ma_relay_free(job->relay);
  ma_relay_free(job->now);
  g_free(job);
}

/* POST /v1/relays/{id}:callback {"state", "code", "redirect_uri"}: the code the provider sent back,
 * exchanged for the relay's grant (relay_callback_run). 200 with the relay (auth.authorized true,
 * status untested until a test passes); 422 for a state unknown, used or expired or a code the
 * provider refuses; 409 when the relay does not use XOAUTH2. */
static void relay_callback(ApiCtx *ctx)
{
  static const char *const fields[] = {"state", "code", "redirect_uri", NULL};
  json_t *body;
  if (!api_check_query(ctx, NULL) || !(body = api_body_json(ctx, TRUE))) return;
  const char *state = NULL, *code = NULL, *redirect = NULL;
  MaRelay *r = NULL;
  CollectorEnv *env = NULL;
  if (!api_check_fields(ctx, body, fields) || !body_string(ctx, body, "state", 1024, &state) ||
      !body_string(ctx, body, "code", 4096, &code) || !body_string(ctx, body, "redirect_uri", 2048, &redirect))
    goto out;
  if (!state || !code || !redirect) {
    api_reply_error(ctx, 422, "invalid", "fields 'state', 'code' and 'redirect_uri' are required");
    goto out;
  }
  if (!(r = relay_of(ctx)) || !(env = api_collector_env(ctx))) goto out;
  RelayCallbackJob *job = g_new0(RelayCallbackJob, 1);
  job->oauth2 = &env->oauth2;
  job->relay = g_steal_pointer(&r);
  job->state = g_strdup(state);
  job->code = g_strdup(code);
  job->redirect = g_strdup(redirect);
  api_defer(ctx, relay_callback_run, relay_callback_done, job);
out:
  if (code) memset((char *) code, 0, strlen(code));
  ma_relay_free(r);
  json_decref(body);
}

static void relay_delete(ApiCtx *ctx)
{
  g_autoptr(GError) error = NULL;
  MaRelay *r = NULL;
  int rc = storage_relay_get(ctx->st, ctx->enterprise_id, api_param(ctx, "id"), &r, &error);
  if (rc > 0) rc = storage_relay_delete(ctx->st, ctx->enterprise_id, r->id, &error);
  if (rc < 0) api_reply_gerror(ctx, error);
  else if (rc == 0) api_reply_error(ctx, 404, "not_found", "no relay %s", api_param(ctx, "id"));
  else {
    api_audit(ctx, ctx->enterprise_id, "relay.delete", r->id, json_pack("{s:s}", "name", r->name), NULL);
    api_reply_no_content(ctx);
  }
  ma_relay_free(r);
}

const ApiRoute api_relays_routes[] = {
  {EVHTTP_REQ_GET, "/v1/relays", API_AUTH_ENTERPRISE, relays_list},
  {EVHTTP_REQ_POST, "/v1/relays", API_AUTH_ENTERPRISE, relays_add},
  {EVHTTP_REQ_GET, "/v1/relays/{id}", API_AUTH_ENTERPRISE, relay_get},
  {EVHTTP_REQ_PUT, "/v1/relays/{id}", API_AUTH_ENTERPRISE, relay_put},
  {EVHTTP_REQ_DELETE, "/v1/relays/{id}", API_AUTH_ENTERPRISE, relay_delete},
  {EVHTTP_REQ_POST, "/v1/relays/{id}:enable", API_AUTH_ENTERPRISE, relay_enable},
  {EVHTTP_REQ_POST, "/v1/relays/{id}:disable", API_AUTH_ENTERPRISE, relay_disable},
  {EVHTTP_REQ_POST, "/v1/relays/{id}:test", API_AUTH_ENTERPRISE, relay_test_post},
  {EVHTTP_REQ_POST, "/v1/relays/{id}:authorize", API_AUTH_ENTERPRISE, relay_authorize},
  {EVHTTP_REQ_POST, "/v1/relays/{id}:callback", API_AUTH_ENTERPRISE, relay_callback},
  {0},
};
