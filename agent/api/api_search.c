/* api_search.c - GET /v1/search: full-text search of the key's enterprise's archive; and
 * POST /v1/erasures: deleting mail without trace (by address, or what retention_days would
 * delete), answered with counts.
 *
 * Search query: q (required, the syntax of agent/search/search_query.h), record=TYPE:ID,
 * order=newest|relevance, limit (1..200, default 50), cursor (from next_cursor). Any input the
 * syntax refuses is a 400 invalid_query naming why; nothing of q reaches the database as syntax.
 * The search itself runs on a read worker (api_workers.c), so a slow one holds up no other request.
 * Erasure body: {"address": "a@b"} or {"expired": true}. The index rewrite that makes deletion
 * complete runs on the retention thread within a second (it can take seconds on a large
 * archive; this thread answers other requests meanwhile).
 */
#include "api_internal.h"

#include "agent/codec/codec.h"
#include "agent/codec/codec_search.h"
#include "agent/lib/clock.h"
#include "agent/lib/crypto.h"
#include "agent/retention/retention.h"

#include <string.h>

#define API_MAX_CURSOR_LEN 32
#define API_MAX_ADDRESS_LEN 320

/* A search computed by a read worker (api_workers.c): the parsed request in, the JSON text out. */
typedef struct {
  char *enterprise_id;
  MaSearchRequest req;  /* record_id points into the parked request's query */
  MaSearchQuery *query; /* req.query, owned */
  gint64 after;
  int limit;
  GString *text;        /* the page's JSON */
  GError *error;
} SearchJob;

static void search_run(MaStorage *st, void *data)
{
  SearchJob *job = data;
  g_autoptr(GPtrArray) hits = g_ptr_array_new_with_free_func((GDestroyNotify)ma_search_hit_free);

  if (storage_search(st, job->enterprise_id, &job->req, job->after, job->limit + 1, hits, &job->error) < 0)
    return;
  g_autofree char *next = codec_seq_page_trim(hits, (guint)job->limit, ma_search_hit_seq);
  CodecWriter w; /* straight to text: no jansson tree to build, dump and free */
  codec_writer_init(&w, g_string_sized_new(1024 * hits->len + 64));
  codec_write_page_begin(&w);
  for (guint i = 0; i < hits->len; i++) codec_write_search_hit(&w, hits->pdata[i]);
  codec_write_page_end(&w, next);
  job->text = w.out;
}

static void search_done(ApiCtx *ctx, void *data)
{
  SearchJob *job = data;

  if (job->error && g_error_matches(job->error, MA_ERROR, MA_ERROR_INVALID))
    api_reply_error(ctx, 400, "invalid_query", "%s", job->error->message);
  else if (job->error)
    api_reply_gerror(ctx, job->error);
  else
    api_reply_text(ctx, g_steal_pointer(&job->text));
  if (job->text) g_string_free(job->text, TRUE);
  g_clear_error(&job->error);
  search_query_free(job->query);
  g_free(job->enterprise_id);
  g_free(job);
}

static void search_get(ApiCtx *ctx)
{
  static const char *const allowed[] = {"q", "record", "order", "limit", "cursor", NULL};
  int limit;
  if (!api_check_query(ctx, allowed) || !api_query_limit(ctx, &limit)) return;
  g_autoptr(GError) error = NULL;
  const char *q = api_query(ctx, "q");
  if (!q) {
    api_reply_error(ctx, 400, "invalid_query", "q (the words to search for) is required");
    return;
  }
  MaSearchRequest req;
  const char *record = api_query(ctx, "record");
  if (record && strlen(record) > API_MAX_PARAM_LEN) record = "";
  if (codec_search_request_parse(api_query(ctx, "order"), record, &req, &error) < 0) {
    api_reply_error(ctx, 400, "invalid_query", "%s", error->message);
    return;
  }
  g_autoptr(MaSearchQuery) query = search_query_parse(q, &error);
  if (!query) {
    api_reply_error(ctx, 400, "invalid_query", "q: %s", error->message);
    return;
  }
  const char *cursor = api_query(ctx, "cursor");
  gint64 after = 0;
  if (cursor && (strlen(cursor) > API_MAX_CURSOR_LEN || !(after = codec_seq_parse(cursor)))) {
    api_reply_error(ctx, 400, "bad_cursor", "the cursor is not one this API returned");
    return;
  }
  SearchJob *job = g_new0(SearchJob, 1);
  job->enterprise_id = g_strdup(ctx->enterprise_id);
  job->req = req;
  job->query = g_steal_pointer(&query);
  job->req.query = job->query;
  job->after = after;
  job->limit = limit;
  api_defer(ctx, search_run, search_done, job);
}

static void erase_reply(ApiCtx *ctx, const json_t *body)
{
  static const char *const fields[] = {"address", "expired", NULL};
  if (!api_check_fields(ctx, body, fields)) return;
  const json_t *address = json_object_get(body, "address");
  const json_t *expired = json_object_get(body, "expired");
  if (!address == !(expired && json_is_true(expired)) || (address && !json_is_string(address)) ||
      (expired && !json_is_boolean(expired))) {
    api_reply_error(ctx, 422, "invalid", "give either \"address\": an e-mail address, or \"expired\": true");
    return;
  }
  g_autofree char *addr = address ? g_strstrip(g_ascii_strdown(json_string_value(address), -1)) : NULL;
  if (addr && (!*addr || strlen(addr) > API_MAX_ADDRESS_LEN || !strchr(addr, '@'))) {
    api_reply_error(ctx, 422, "invalid", "address: not an e-mail address");
    return;
  }
  g_autoptr(GError) error = NULL;
  MaEraseCounts c = {0};
  int rc;
  if (addr) {
    rc = storage_erase_address(ctx->st, ctx->enterprise_id, addr, &c, &error);
  } else {
    rc = retention_expire(ctx->st, ctx->enterprise_id, ma_now(), &c, &error);
  }
  if (c.messages > 0) {
    retention_scheduler_request_compact();
    api_item_cache_clear(ctx->srv->item_cache); /* the erased items' JSON leaves memory now */
    char digest[65];
    if (addr) ma_sha256_hex(addr, strlen(addr), digest);
    api_audit(ctx, ctx->enterprise_id, addr ? "erase.address" : "erase.expired", addr ? digest : NULL,
              codec_erase_counts_to_json(&c), NULL);
  }
  if (rc < 0) {
    api_reply_gerror(ctx, error);
    return;
  }
  api_reply_json(ctx, 200, codec_erase_counts_to_json(&c));
}

static void erasures_post(ApiCtx *ctx)
{
  json_t *body = api_body_json(ctx, TRUE);
  if (!body) return;
  erase_reply(ctx, body);
  json_decref(body);
}

const ApiRoute api_search_routes[] = {
  {EVHTTP_REQ_GET, "/v1/search", API_AUTH_ENTERPRISE, search_get},
  {EVHTTP_REQ_POST, "/v1/erasures", API_AUTH_ENTERPRISE, erasures_post},
  {0},
};
