/* api_relays.c - /v1/relays: an enterprise's own SMTP relays (agent/relay). GET lists them, POST
 * adds one, GET/PUT/DELETE /v1/relays/{id} (id or name) read, change (the fields given; the
 * others stay) and delete one,
 * POST {id}:enable and :disable switch it, POST {id}:test runs `relay test` (relay_test; it blocks
 * this thread for the session, bounded by [queue] connect_timeout and command_timeout, never the
 * SMTP loop) and answers every step. Bodies are the relay's JSON fields; every rule is
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

static void relay_get(ApiCtx *ctx)
{
  if (!api_check_query(ctx, NULL)) return;
  g_autoptr(GError) error = NULL;
  MaRelay *r = NULL;
  int rc = storage_relay_get(ctx->st, ctx->enterprise_id, api_param(ctx, "id"), &r, &error);
  if (rc < 0) api_reply_gerror(ctx, error);
  else if (rc == 0) api_reply_error(ctx, 404, "not_found", "no relay %s", api_param(ctx, "id"));
  else api_reply_json(ctx, 200, relay_json(ctx, r));
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

/* POST /v1/relays/{id}:test {"to"?, "from"?}: relay_test, every step's command and reply in
 * "steps"; a pass marks the relay ok. Runs on the API thread, bounded by the session's timeouts. */
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
  g_autoptr(GError) error = NULL;
  MaRelay *r = NULL;
  int rc = storage_relay_get(ctx->st, ctx->enterprise_id, api_param(ctx, "id"), &r, &error);
  if (rc == 0) api_reply_error(ctx, 404, "not_found", "no relay %s", api_param(ctx, "id"));
  if (rc <= 0) {
    if (rc < 0) api_reply_gerror(ctx, error);
    json_decref(body);
    return;
  }
  if ((to && (!*to || !strchr(to, '@'))) || (from && !strchr(from, '@'))) {
    api_reply_error(ctx, 422, "invalid", "to and from: addresses local@domain");
  } else {
    json_t *steps = json_array();
    g_autofree char *failure = NULL;
    if (relay_test(ctx->st, ctx->cfg, r, to, from, collect_step, steps, &failure, &error) < 0) {
      json_decref(steps);
      reply_refusal(ctx, error);
    } else {
      api_audit(ctx, ctx->enterprise_id, "relay.test", r->id, json_pack("{s:s,s:b}", "name", r->name, "passed", !failure),
                NULL);
      MaRelay *now = NULL;
      g_clear_error(&error);
      if (storage_relay_get(ctx->st, ctx->enterprise_id, r->id, &now, &error) <= 0) now = NULL;
      api_reply_json(ctx, 200, json_pack("{s:b,s:s?,s:o,s:o}", "passed", !failure, "failure", failure, "steps", steps,
                                         "relay", now ? relay_json(ctx, now) : json_null()));
      ma_relay_free(now);
    }
  }
  json_decref(body);
  ma_relay_free(r);
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
  {0},
};
