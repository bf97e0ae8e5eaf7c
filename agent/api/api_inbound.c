/* api_inbound.c - the enterprise's virtual inbound address (where employees forward or copy mail):
 * GET /v1/inbound-address and POST /v1/inbound-address:rotate.
 *
 * Rotation makes a fresh address current and keeps the old one live for a grace period ({"grace_
 * seconds": n}, default 7 days, at most 90 days, 0 retires it at once), so mail already configured
 * to the old address is not lost while the employees' forwarding rules are updated.
 */
#include "api_internal.h"
#include "agent/codec/codec.h"
#include "agent/lib/clock.h"
#include "agent/lib/crypto.h"

#define DEFAULT_GRACE (7 * 24 * 3600)
#define MAX_GRACE (90 * 24 * 3600)

static void reply_addresses(ApiCtx *ctx, int status, json_t *extra)
{
  g_autoptr(GPtrArray) live = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GError) error = NULL;
  json_t *all, *doc;

  if (storage_inbound_list(ctx->st, ctx->enterprise_id, ma_now(), live, &error) < 0) {
    json_decref(extra);
    api_reply_gerror(ctx, error);
    return;
  }
  all = json_array();
  for (guint i = 0; i < live->len; i++) {
    g_autofree char *a = codec_inbound_address(g_ptr_array_index(live, i), ctx->cfg->inbound_domain);
    json_array_append_new(all, json_string(a));
  }
  doc = json_pack("{s:O?,s:o}", "address", json_array_get(all, 0), "live", all);
  if (extra) {
    json_object_update(doc, extra);
    json_decref(extra);
  }
  api_reply_json(ctx, status, doc);
}

static void inbound_get(ApiCtx *ctx)
{
  if (api_check_query(ctx, NULL))
    reply_addresses(ctx, 200, NULL);
}

static void inbound_rotate(ApiCtx *ctx)
{
  static const char *const fields[] = {"grace_seconds", NULL};
  g_autoptr(GError) error = NULL;
  g_autofree char *suffix = NULL;
  g_autofree char *local = NULL;
  MaEnterprise *e = NULL;
  json_t *body = NULL, *g;
  json_int_t grace = DEFAULT_GRACE;
  gint64 expires;
  char when[32];
  gsize len = 0;
  int rc;

  if (!api_check_query(ctx, NULL) || !api_body_bytes(ctx, &len))
    return;
  if (len > 0) {
    if (!(body = api_body_json(ctx, TRUE)))
      return;
    if (!api_check_fields(ctx, body, fields))
      goto out;
    g = json_object_get(body, "grace_seconds");
    if (g) {
      if (!json_is_integer(g) || json_integer_value(g) < 0 || json_integer_value(g) > MAX_GRACE) {
        api_reply_error(ctx, 422, "invalid", "field 'grace_seconds' must be an integer from 0 to %d", MAX_GRACE);
        goto out;
      }
      grace = json_integer_value(g);
    }
  }
  rc = storage_enterprise_get(ctx->st, ctx->enterprise_id, &e, &error);
  if (rc <= 0) {
    if (rc == 0)
      g_set_error(&error, MA_ERROR, MA_ERROR_INTERNAL, "the key's enterprise is gone");
    api_reply_gerror(ctx, error);
    goto out;
  }
  suffix = ma_random_alnum(8);
  local = g_strdup_printf("%s-%s", e->slug, suffix);
  expires = ma_now() + grace;
  if (storage_inbound_rotate(ctx->st, ctx->enterprise_id, local, expires, &error) < 0) {
    api_reply_gerror(ctx, error);
    goto out;
  }
  api_audit(ctx, ctx->enterprise_id, "inbound.rotate", NULL, json_pack("{s:I}", "grace_seconds", (json_int_t) grace), NULL);
  ma_time_format(expires, when);
  reply_addresses(ctx, 200, json_pack("{s:s}", "previous_expires_at", when));
out:
  ma_enterprise_free(e);
  json_decref(body);
}

const ApiRoute api_inbound_routes[] = {
  {EVHTTP_REQ_GET, "/v1/inbound-address", API_AUTH_ENTERPRISE, inbound_get},
  {EVHTTP_REQ_POST, "/v1/inbound-address:rotate", API_AUTH_ENTERPRISE, inbound_rotate},
  {0},
};
