/* api_timeline.c - GET /v1/records/{type}/{id}/timeline: a record's messages and activities,
 * newest first, one page at a time.
 *
 * Query: direction=inbound|outbound, since/until (RFC 3339; until exclusive), has_attachment=
 * true|false, thread=<thread id>, limit (1..200, default 50), cursor (opaque, from next_cursor).
 * The cursor is storage's (a position in the (date, id) order), so pages stay stable while mail
 * arrives: a new message sorts before the first page, never into a later one. A record with no
 * items that does not exist answers 404; a deleted record keeps its history. Pages are served
 * from api_cache.c while nothing has been committed to this enterprise's archive since they were
 * built (storage_archive_version).
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

/* The page's JSON, written item by item as storage visits them (the items are borrowed). */
typedef struct {
  CodecWriter w;
  guint items;
} PageWriter;

static void write_item(const MaTimelineItem *item, void *user_data)
{
  PageWriter *pw = user_data;
  codec_write_timeline_item(&pw->w, item);
  pw->items++;
}

static void timeline_get(ApiCtx *ctx)
{
  static const char *const allowed[] = {"direction", "since", "until", "has_attachment", "thread",
                                        "limit", "cursor", NULL};
  MaRecordType type;
  MaTimelineFilter filter;
  const char *record_id = api_param(ctx, "id");
  const char *cursor;
  g_autoptr(GError) error = NULL;
  g_autofree char *next = NULL;
  PageWriter pw = {.items = 0};
  GString *text;
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
  /* Written straight to text while storage reads the rows: a page is the API's hottest answer (no
   * copy of the rows, no jansson tree to build and free). */
  text = g_string_sized_new(512 * (gsize)limit + 64);
  codec_writer_init(&pw.w, text);
  codec_write_page_begin(&pw.w);
  if (storage_timeline_each(ctx->st, ctx->enterprise_id, type, record_id, &filter, cursor, limit, write_item, &pw,
                            &next, &error) < 0) {
    g_string_free(text, TRUE);
    if (error->domain == MA_ERROR && error->code == MA_ERROR_INVALID && cursor)
      api_reply_error(ctx, 400, "bad_cursor", "the cursor is not one this API returned");
    else
      api_reply_gerror(ctx, error);
    return;
  }
  if (pw.items == 0 && !cursor) {
    MaRecord *r = NULL;
    int rc = storage_record_get(ctx->st, ctx->enterprise_id, type, record_id, &r, &error);
    ma_record_free(r);
    if (rc <= 0) {
      g_string_free(text, TRUE);
      if (rc < 0)
        api_reply_gerror(ctx, error);
      else
        api_reply_error(ctx, 404, "not_found", "no %s with this id", ma_record_type_name(type));
      return;
    }
  }
  codec_write_page_end(&pw.w, next);
  api_reply_text_cached(ctx, text);
}

const ApiRoute api_timeline_routes[] = {
  {EVHTTP_REQ_GET, "/v1/records/{type}/{id}/timeline", API_AUTH_ENTERPRISE, timeline_get},
  {0},
};
