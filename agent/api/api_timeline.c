/* api_timeline.c - GET /v1/records/{type}/{id}/timeline: a record's messages and activities,
 * newest first, one page at a time.
 *
 * Query: direction=inbound|outbound, since/until (RFC 3339; until exclusive), has_attachment=
 * true|false, thread=<thread id>, limit (1..200, default 50), cursor (opaque, from next_cursor).
 * The cursor is storage's (a position in the (date, id) order), so pages stay stable while mail
 * arrives: a new message sorts before the first page, never into a later one. A record with no
 * items that does not exist answers 404; a deleted record keeps its history. Pages are served
 * from api_cache.c while nothing has been committed to this enterprise's archive since they were
 * built (storage_archive_version, read by the worker of a page asked for after any commit, never on
 * the loop); the others are computed by a read worker (api_workers.c) while
 * the event loop answers other requests. A computed page copies each item rendered before from the
 * item cache (api_item_cache.c, keyed by the row and its stored bytes, so never stale), and
 * storage decodes only the rows that cache has not got.
 */
#include "api_internal.h"
#include "agent/codec/codec.h"
#include "agent/lib/clock.h"

#include <string.h>

#define API_MAX_CURSOR_LEN 512

static gboolean parse_filter(ApiCtx *ctx, MaTimelineFilter *f)
{
  g_autoptr(GError) error = NULL;
  const char *thread = api_query(ctx, "thread");
  if (thread && strlen(thread) > API_MAX_PARAM_LEN) thread = "";
  if (codec_timeline_filter_parse(api_query(ctx, "direction"), api_query(ctx, "since"), api_query(ctx, "until"),
                                  api_query(ctx, "has_attachment"), thread, f, &error) < 0) {
    api_reply_error(ctx, 400, "invalid_query", "%s", error->message);
    return FALSE;
  }
  return TRUE;
}

/* A page computed by a read worker (api_workers.c): the request's values copied in, the answer
 * out. The filter's thread id points into the parked request's query, untouched meanwhile. */
typedef struct {
  char *enterprise_id;
  MaRecordType type;
  char *record_id;
  MaTimelineFilter filter;
  char *cursor;
  int limit;
  ApiItemCache *item_cache; /* the server's; thread-safe */
  ApiWorkers *pool;         /* the server's read workers (NULL without): the page buffer's */
  CodecWriter w;      /* the page's JSON, written item by item as storage visits them */
  guint items;
  gboolean no_record; /* no item and no such record: 404 */
  GError *error;
  gboolean read_version;  /* the page cache wants this enterprise's archive version (api_cache_validate) */
  gint64 synced;          /* ... at this data version of the page cache's */
  int version_rc;         /* storage_archive_version's */
  gint64 archive_version;
  GError *version_error;
} PageJob;

/* A row the item cache has rendered already: its JSON copied into the page, no decoding. */
static gboolean known_item(const MaTimelineRow *row, void *user_data)
{
  PageJob *job = user_data;
  if (!api_item_cache_write(job->item_cache, row, &job->w))
    return FALSE;
  job->items++;
  return TRUE;
}

/* A row storage decoded: written, then kept in the item cache (which refuses what it must not keep). */
static void write_item(const MaTimelineItem *item, void *user_data)
{
  PageJob *job = user_data;
  api_item_cache_render(job->item_cache, &job->w, item);
  job->items++;
}

/* Worker: the page straight to text while storage reads the rows (a page is the API's hottest
 * answer: no copy of the rows, no jansson tree to build and free). Whatever the worker allocates
 * for itself is freed here, by the thread whose malloc arena it came from: a free on the loop takes
 * that arena's lock, which the worker holds often while it allocates (perf on serve). */
static void page_run(MaStorage *st, void *data)
{
  PageJob *job = data;
  MaRecord *r = NULL;
  char *next = NULL;
  int rc;

  /* read before the page: a commit in between leaves a page newer than its version, which the next
   * check drops, never an older one kept */
  if (job->read_version)
    job->version_rc = storage_archive_version(st, job->enterprise_id, &job->archive_version, &job->version_error);
  codec_writer_init(&job->w, api_workers_buffer_take(job->pool)); /* reused: no allocation per page */
  codec_write_page_begin(&job->w);
  if (storage_timeline_each_known(st, job->enterprise_id, job->type, job->record_id, &job->filter, job->cursor,
                                  job->limit, known_item, write_item, job, &next, &job->error) < 0)
    goto out;
  if (job->items == 0 && !job->cursor) {
    rc = storage_record_get(st, job->enterprise_id, job->type, job->record_id, &r, &job->error);
    ma_record_free(r);
    if (rc <= 0) {
      job->no_record = rc == 0;
      goto out;
    }
  }
  codec_write_page_end(&job->w, next); /* the cursor is in the page: the loop needs no copy */
out:
  g_free(next);
}

/* Loop: the answer (the page buffer itself, lent to the reply: api_reply_page gives it back), or
 * an error with the buffer given back here; then the job freed. */
static void page_done(ApiCtx *ctx, void *data)
{
  PageJob *job = data;
  GString *text = job->w.out;

  if (job->read_version)
    api_cache_validate(ctx, job->synced, job->version_rc, job->archive_version, job->version_error);
  if (job->error && job->error->domain == MA_ERROR && job->error->code == MA_ERROR_INVALID && job->cursor)
    api_reply_error(ctx, 400, "bad_cursor", "the cursor is not one this API returned");
  else if (job->error)
    api_reply_gerror(ctx, job->error);
  else if (job->no_record)
    api_reply_error(ctx, 404, "not_found", "no %s with this id", ma_record_type_name(job->type));
  else {
    api_reply_page(ctx, job->pool, text); /* takes the buffer; cached when still current and admitted */
    text = NULL;
  }
  api_workers_buffer_give(job->pool, text);
  g_clear_error(&job->error);
  g_clear_error(&job->version_error);
  g_free(job->enterprise_id);
  g_free(job->record_id);
  g_free(job->cursor);
  g_free(job);
}

static void timeline_get(ApiCtx *ctx)
{
  static const char *const allowed[] = {"direction", "since", "until", "has_attachment", "thread",
                                        "limit", "cursor", NULL};
  MaRecordType type;
  MaTimelineFilter filter;
  const char *cursor;
  PageJob *job;
  int limit;

  if (!api_check_query(ctx, allowed) || !api_query_limit(ctx, &limit) || !parse_filter(ctx, &filter) ||
      !api_param_record_type(ctx, &type))
    return;
  if (api_cache_reply(ctx))
    return;
  cursor = api_query(ctx, "cursor");
  if (cursor && (!*cursor || strlen(cursor) > API_MAX_CURSOR_LEN)) {
    api_reply_error(ctx, 400, "bad_cursor", "the cursor is not one this API returned");
    return;
  }
  job = g_new0(PageJob, 1);
  job->enterprise_id = g_strdup(ctx->enterprise_id);
  job->type = type;
  job->record_id = g_strdup(api_param(ctx, "id"));
  job->filter = filter;
  job->cursor = g_strdup(cursor);
  job->limit = limit;
  job->item_cache = ctx->srv->item_cache;
  job->pool = ctx->srv->workers;
  job->read_version = ctx->cache_unchecked;
  job->synced = api_cache_synced(ctx);
  api_defer(ctx, page_run, page_done, job);
}

const ApiRoute api_timeline_routes[] = {
  {EVHTTP_REQ_GET, "/v1/records/{type}/{id}/timeline", API_AUTH_ENTERPRISE, timeline_get},
  {0},
};
