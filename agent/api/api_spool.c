/* api_spool.c - admin: /v1/spool, the same view of the node-local spool as `mailagent spool`.
 *
 * GET /v1/spool[?state=dead|live][&enterprise=ID or slug][&limit][&cursor] lists entries oldest
 * first (codec_spool_entry_to_json: never the message); GET /v1/spool/{id} shows one;
 * POST /v1/spool/{id}:retry requeues one (dead or waiting: tried at once) and answers it;
 * POST /v1/spool:retry-dead[?enterprise=] requeues every dead entry; DELETE /v1/spool/{id} purges
 * a dead entry (409 for a live one, which still belongs to the pipeline).
 *
 * The spool is node-local: these answer for the node that serves the request. Each request opens
 * its own spool handle (these requests are rare; no handle is kept for them).
 */
#include "api_internal.h"
#include "agent/codec/codec.h"

#include <string.h>

/* Opens the spool; answers 503/500 and returns NULL on failure. Close with spool_close. */
static MaSpool *open_spool(ApiCtx *ctx)
{
  g_autoptr(GError) error = NULL;
  MaSpool *sp = NULL;
  if (spool_open(ctx->cfg->data_dir, &sp, &error) < 0) {
    api_reply_gerror(ctx, error);
    return NULL;
  }
  return sp;
}

static void spool_list_handler(ApiCtx *ctx)
{
  static const char *const allowed[] = {"state", "enterprise", "limit", "cursor", NULL};
  int limit = 0;
  if (!api_check_query(ctx, allowed) || !api_query_limit(ctx, &limit)) return;
  const char *state = api_query(ctx, "state");
  if (state && strcmp(state, "dead") != 0 && strcmp(state, "live") != 0) {
    api_reply_error(ctx, 400, "invalid_query", "state must be dead or live");
    return;
  }
  g_autofree char *enterprise_id = NULL;
  if (!api_query_enterprise(ctx, &enterprise_id)) return;
  MaSpool *sp = open_spool(ctx);
  if (!sp) return;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func((GDestroyNotify) ma_spool_entry_free);
  g_autofree char *next = NULL;
  MaSpoolState which = !state ? MA_SPOOL_ANY : strcmp(state, "dead") == 0 ? MA_SPOOL_DEAD : MA_SPOOL_LIVE;
  int rc = spool_list(sp, which, enterprise_id, limit, api_query(ctx, "cursor"), items, &next, &error);
  spool_close(&sp);
  if (rc < 0 && error->domain == MA_ERROR && error->code == MA_ERROR_INVALID) {
    api_reply_error(ctx, 400, "bad_cursor", "the cursor is not one this API returned");
    return;
  }
  if (rc < 0) {
    api_reply_gerror(ctx, error);
    return;
  }
  json_t *arr = json_array();
  for (guint i = 0; i < items->len; i++) json_array_append_new(arr, codec_spool_entry_to_json(items->pdata[i]));
  api_reply_json(ctx, 200, api_page(arr, next));
}

/* Answers the entry with id (200), or 404. */
static void reply_entry(ApiCtx *ctx, MaSpool *sp, const char *id)
{
  g_autoptr(GError) error = NULL;
  MaSpoolEntry *e = NULL;
  int rc = spool_get(sp, id, FALSE, &e, &error);
  if (rc < 0) api_reply_gerror(ctx, error);
  else if (rc == 0) api_reply_error(ctx, 404, "not_found", "no such spool entry");
  else api_reply_json(ctx, 200, codec_spool_entry_to_json(e));
  ma_spool_entry_free(e);
}

static void spool_get_handler(ApiCtx *ctx)
{
  if (!api_check_query(ctx, NULL)) return;
  MaSpool *sp = open_spool(ctx);
  if (!sp) return;
  reply_entry(ctx, sp, api_param(ctx, "id"));
  spool_close(&sp);
}

static void spool_retry_handler(ApiCtx *ctx)
{
  if (!api_check_query(ctx, NULL)) return;
  MaSpool *sp = open_spool(ctx);
  if (!sp) return;
  g_autoptr(GError) error = NULL;
  int rc = spool_retry(sp, api_param(ctx, "id"), &error);
  if (rc < 0) api_reply_gerror(ctx, error);
  else if (rc == 0) api_reply_error(ctx, 404, "not_found", "no such spool entry");
  else reply_entry(ctx, sp, api_param(ctx, "id"));
  spool_close(&sp);
}

static void spool_retry_dead_handler(ApiCtx *ctx)
{
  static const char *const allowed[] = {"enterprise", NULL};
  if (!api_check_query(ctx, allowed)) return;
  g_autofree char *enterprise_id = NULL;
  if (!api_query_enterprise(ctx, &enterprise_id)) return;
  MaSpool *sp = open_spool(ctx);
  if (!sp) return;
  g_autoptr(GError) error = NULL;
  gint64 n = 0;
  int rc = spool_retry_dead(sp, enterprise_id, &n, &error);
  spool_close(&sp);
  if (rc < 0) api_reply_gerror(ctx, error);
  else api_reply_json(ctx, 200, json_pack("{sI}", "requeued", (json_int_t) n));
}

static void spool_purge_handler(ApiCtx *ctx)
{
  if (!api_check_query(ctx, NULL)) return;
  MaSpool *sp = open_spool(ctx);
  if (!sp) return;
  g_autoptr(GError) error = NULL;
  int rc = spool_purge(sp, api_param(ctx, "id"), &error);
  spool_close(&sp);
  if (rc < 0) api_reply_gerror(ctx, error);
  else if (rc == 0) api_reply_error(ctx, 404, "not_found", "no such spool entry");
  else api_reply_no_content(ctx);
}

const ApiRoute api_spool_routes[] = {
  {EVHTTP_REQ_GET, "/v1/spool", API_AUTH_ADMIN, spool_list_handler},
  {EVHTTP_REQ_POST, "/v1/spool:retry-dead", API_AUTH_ADMIN, spool_retry_dead_handler},
  {EVHTTP_REQ_POST, "/v1/spool/{id}:retry", API_AUTH_ADMIN, spool_retry_handler},
  {EVHTTP_REQ_GET, "/v1/spool/{id}", API_AUTH_ADMIN, spool_get_handler},
  {EVHTTP_REQ_DELETE, "/v1/spool/{id}", API_AUTH_ADMIN, spool_purge_handler},
  {0},
};
