/* api_webhook.c - admin: /v1/webhook/dead, the same view of dead webhook events as `mailagent
 * webhook dead`.
 *
 * GET /v1/webhook/dead[?enterprise=ID or slug][&limit][&cursor] lists dead events oldest first
 * (codec_outbox_event_to_json without payload); GET /v1/webhook/dead/{id} shows one event in any
 * state, with its payload; POST /v1/webhook/dead/{id}:retry requeues one dead event and answers it;
 * POST /v1/webhook/dead:retry[?enterprise=] requeues every dead one; DELETE /v1/webhook/dead/{id}
 * purges one (204), 404 when it is not dead.
 */
#include "api_internal.h"
#include "agent/codec/codec.h"
#include "agent/lib/clock.h"

/* The {id} parameter (or a cursor) as a seq: 0 after answering 404 when it is not one. */
static gint64 event_id(ApiCtx *ctx, const char *text)
{
  gint64 v = codec_seq_parse(text);
  if (!v) {
    api_reply_error(ctx, 404, "not_found", "no such webhook event");
    return 0;
  }
  return v;
}

static void dead_list(ApiCtx *ctx)
{
  static const char *const allowed[] = {"enterprise", "limit", "cursor", NULL};
  int limit = 0;
  if (!api_check_query(ctx, allowed) || !api_query_limit(ctx, &limit)) return;
  const char *cursor = api_query(ctx, "cursor");
  gint64 after = cursor ? codec_seq_parse(cursor) : 0;
  if (cursor && !after) {
    api_reply_error(ctx, 400, "invalid_cursor", "cursor is not one this API returned");
    return;
  }
  g_autofree char *enterprise_id = NULL;
  if (!api_query_enterprise(ctx, &enterprise_id)) return;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func((GDestroyNotify) ma_outbox_event_free);
  if (storage_outbox_dead_list(ctx->st, enterprise_id, after, limit + 1, items, &error) < 0) {
    api_reply_gerror(ctx, error);
    return;
  }
  g_autofree char *next = codec_seq_page_trim(items, (guint) limit, ma_outbox_event_seq);
  json_t *arr = json_array();
  for (guint i = 0; i < items->len; i++) json_array_append_new(arr, codec_outbox_event_to_json(items->pdata[i], FALSE));
  api_reply_json(ctx, 200, api_page(arr, next));
}

/* Answers the event seq with its payload (status 200), or 404. */
static void reply_event(ApiCtx *ctx, gint64 seq)
{
  g_autoptr(GError) error = NULL;
  MaOutboxEvent *e = NULL;
  int rc = storage_outbox_get(ctx->st, NULL, seq, &e, &error);
  if (rc < 0) api_reply_gerror(ctx, error);
  else if (rc == 0) api_reply_error(ctx, 404, "not_found", "no such webhook event");
  else api_reply_json(ctx, 200, codec_outbox_event_to_json(e, TRUE));
  ma_outbox_event_free(e);
}

static void dead_get(ApiCtx *ctx)
{
  if (!api_check_query(ctx, NULL)) return;
  gint64 seq = event_id(ctx, api_param(ctx, "id"));
  if (seq) reply_event(ctx, seq);
}

static void dead_retry_one(ApiCtx *ctx)
{
  if (!api_check_query(ctx, NULL)) return;
  gint64 seq = event_id(ctx, api_param(ctx, "id"));
  if (!seq) return;
  g_autoptr(GError) error = NULL;
  gint64 n = 0;
  if (storage_outbox_dead_retry(ctx->st, NULL, seq, ma_now(), &n, &error) < 0) api_reply_gerror(ctx, error);
  else if (n == 0) api_reply_error(ctx, 404, "not_found", "no dead webhook event %" G_GINT64_FORMAT, seq);
  else reply_event(ctx, seq);
}

static void dead_retry_all(ApiCtx *ctx)
{
  static const char *const allowed[] = {"enterprise", NULL};
  if (!api_check_query(ctx, allowed)) return;
  g_autofree char *enterprise_id = NULL;
  if (!api_query_enterprise(ctx, &enterprise_id)) return;
  g_autoptr(GError) error = NULL;
  gint64 n = 0;
  if (storage_outbox_dead_retry(ctx->st, enterprise_id, 0, ma_now(), &n, &error) < 0) api_reply_gerror(ctx, error);
  else api_reply_json(ctx, 200, json_pack("{sI}", "requeued", (json_int_t) n));
}

static void dead_purge(ApiCtx *ctx)
{
  if (!api_check_query(ctx, NULL)) return;
  gint64 seq = event_id(ctx, api_param(ctx, "id"));
  if (!seq) return;
  g_autoptr(GError) error = NULL;
  gint64 n = 0;
  if (storage_outbox_dead_purge(ctx->st, NULL, seq, &n, &error) < 0) api_reply_gerror(ctx, error);
  else if (n == 0) api_reply_error(ctx, 404, "not_found", "no dead webhook event %" G_GINT64_FORMAT, seq);
  else api_reply_no_content(ctx);
}

const ApiRoute api_webhook_routes[] = {
  {EVHTTP_REQ_GET, "/v1/webhook/dead", API_AUTH_ADMIN, dead_list},
  {EVHTTP_REQ_POST, "/v1/webhook/dead:retry", API_AUTH_ADMIN, dead_retry_all},
  {EVHTTP_REQ_POST, "/v1/webhook/dead/{id}:retry", API_AUTH_ADMIN, dead_retry_one},
  {EVHTTP_REQ_GET, "/v1/webhook/dead/{id}", API_AUTH_ADMIN, dead_get},
  {EVHTTP_REQ_DELETE, "/v1/webhook/dead/{id}", API_AUTH_ADMIN, dead_purge},
  {0},
};
