/* api_suppressions.c - the enterprise's suppression list over HTTP: GET /v1/suppressions
 * (?limit=&cursor=, by address), GET/DELETE /v1/suppressions/{address}, POST /v1/suppressions
 * {"address", "reason"?, "note"?} (201 when added, 200 with the existing entry when the address
 * was listed already); and the RFC 8058 one-click unsubscribe, POST /v1/unsubscribe/{token}, which
 * needs no API key: the token (agent/bounce/bounce_verp.h, a MAC over the recipient row) is the
 * authority, and a forged one is 404. The same JSON as `mailagent suppression --json`.
 */
#include "api_internal.h"

#include "agent/bounce/bounce_verp.h"
#include "agent/lib/crypto.h"
#include "agent/outbound/outbound.h"

#include <string.h>

static void reply_entry(ApiCtx *ctx, int status, const char *address)
{
  g_autoptr(GError) error = NULL;
  MaSuppression *s = NULL;
  int rc = storage_suppression_get(ctx->st, ctx->enterprise_id, address, &s, &error);
  if (rc < 0) api_reply_gerror(ctx, error);
  else if (rc == 0) api_reply_error(ctx, 404, "not_found", "%s is not on the suppression list", address);
  else api_reply_json(ctx, status, outbound_suppression_json(s));
  ma_suppression_free(s);
}

static void list_h(ApiCtx *ctx)
{
  static const char *const allowed[] = {"limit", "cursor", NULL};
  int limit;
  if (!api_check_query(ctx, allowed) || !api_query_limit(ctx, &limit)) return;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func((GDestroyNotify) ma_suppression_free);
  if (storage_suppression_list(ctx->st, ctx->enterprise_id, api_query(ctx, "cursor"), limit + 1, list, &error) < 0) {
    api_reply_gerror(ctx, error);
    return;
  }
  json_t *items = json_array();
  for (guint i = 0; i < list->len && i < (guint) limit; i++)
    json_array_append_new(items, outbound_suppression_json(list->pdata[i]));
  const char *next = list->len > (guint) limit ? ((MaSuppression *) list->pdata[limit - 1])->address : NULL;
  api_reply_json(ctx, 200, api_page(items, next));
}

static void get_h(ApiCtx *ctx)
{
  if (!api_check_query(ctx, NULL)) return;
  g_autoptr(GError) error = NULL;
  g_autofree char *address = outbound_suppression_address(api_param(ctx, "address"), &error);
  if (!address) api_reply_gerror(ctx, error);
  else reply_entry(ctx, 200, address);
}

static void add_h(ApiCtx *ctx)
{
  static const char *const fields[] = {"address", "reason", "note", NULL};
  if (!api_check_query(ctx, NULL)) return;
  json_t *doc = api_body_json(ctx, TRUE);
  if (!doc) return;
  const json_t *address = json_object_get(doc, "address"), *reason = json_object_get(doc, "reason"),
               *note = json_object_get(doc, "note");
  g_autoptr(GError) error = NULL;
  if (!api_check_fields(ctx, doc, fields)) {
    /* answered */
  } else if (!json_is_string(address) || (reason && !json_is_string(reason)) || (note && !json_is_string(note))) {
    api_reply_error(ctx, 422, "invalid", "address (and reason, note when given) must be strings");
  } else {
    int rc = outbound_suppression_add(ctx->st, ctx->enterprise_id, json_string_value(address),
                                      json_string_value(reason), json_string_value(note), &error);
    g_autofree char *canon = rc >= 0 ? outbound_suppression_address(json_string_value(address), NULL) : NULL;
    if (rc < 0) api_reply_gerror(ctx, error);
    else {
      if (rc > 0) api_audit(ctx, ctx->enterprise_id, "suppression.add", canon, NULL, NULL);
      reply_entry(ctx, rc > 0 ? 201 : 200, canon);
    }
  }
  json_decref(doc);
}

static void delete_h(ApiCtx *ctx)
{
  if (!api_check_query(ctx, NULL)) return;
  g_autoptr(GError) error = NULL;
  g_autofree char *address = outbound_suppression_address(api_param(ctx, "address"), &error);
  int rc = address ? storage_suppression_remove(ctx->st, ctx->enterprise_id, address, &error) : -1;
  if (rc < 0) api_reply_gerror(ctx, error);
  else if (rc == 0) api_reply_error(ctx, 404, "not_found", "%s is not on the suppression list", address);
  else {
    api_audit(ctx, ctx->enterprise_id, "suppression.remove", address, NULL, NULL);
    api_reply_no_content(ctx);
  }
}

/* RFC 8058: the body of the one-click POST is "List-Unsubscribe=One-Click" (form-encoded, or a
 * multipart/form-data part of that name); a GET never unsubscribes (mail scanners follow links). */
static void unsubscribe_h(ApiCtx *ctx)
{
  if (!api_check_query(ctx, NULL)) return;
  gsize len = 0;
  const char *body = api_body_bytes(ctx, &len);
  if (!body) return;
  if (!g_strstr_len(body, (gssize) len, "List-Unsubscribe=One-Click") &&
      !(g_strstr_len(body, (gssize) len, "name=\"List-Unsubscribe\"") && g_strstr_len(body, (gssize) len, "One-Click"))) {
    api_reply_error(ctx, 400, "invalid", "the body must be List-Unsubscribe=One-Click (RFC 8058)");
    return;
  }
  const char *token = api_param(ctx, "token");
  g_autoptr(GError) error = NULL;
  guint8 master[32], key[BOUNCE_TOKEN_KEY_LEN];
  if (ma_master_key_load(ctx->cfg->master_key_file, FALSE, master, &error) < 0) {
    api_reply_gerror(ctx, error);
    return;
  }
  bounce_token_key(master, key);
  memset(master, 0, sizeof master);
  BounceTokenKind kind;
  gint64 row = 0;
  int valid = bounce_token_decode(key, token, strlen(token), &kind, &row);
  memset(key, 0, sizeof key);
  int rc = valid == 1 && kind == BOUNCE_TOKEN_UNSUBSCRIBE ? outbound_unsubscribe(ctx->st, row, "one-click", &error) : 0;
  if (rc < 0) api_reply_gerror(ctx, error);
  else if (rc == 0) api_reply_error(ctx, 404, "not_found", "no such unsubscribe link");
  else api_reply_json(ctx, 200, json_pack("{s:b}", "unsubscribed", TRUE));
}

const ApiRoute api_suppressions_routes[] = {
  {EVHTTP_REQ_GET, "/v1/suppressions", API_AUTH_ENTERPRISE, list_h},
  {EVHTTP_REQ_POST, "/v1/suppressions", API_AUTH_ENTERPRISE, add_h},
  {EVHTTP_REQ_GET, "/v1/suppressions/{address}", API_AUTH_ENTERPRISE, get_h},
  {EVHTTP_REQ_DELETE, "/v1/suppressions/{address}", API_AUTH_ENTERPRISE, delete_h},
  {EVHTTP_REQ_POST, "/v1/unsubscribe/{token}", API_AUTH_NONE, unsubscribe_h},
  {0},
};
