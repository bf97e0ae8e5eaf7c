/* api_records.c - CRM records: GET/PUT/DELETE /v1/records/{type}/{id}, GET /v1/records/{type}
 * (a page ordered by id) and POST /v1/records:bulk (JSON Lines).
 *
 * Validation is the codec's (codec_record_parse); this file only refuses unknown top-level keys up
 * front (400 unknown_field) and checks that a body's type/id agree with the path. The bulk import
 * is codec_import, the very implementation behind `mailagent records import`: JSON Lines (or CSV
 * with Content-Type: text/csv), atomic unless ?skip_invalid=true. It runs on the event-loop thread,
 * bounded by [api] max_body.
 */
#include "api_internal.h"
#include "agent/lib/log.h"
#include "agent/pipeline/pending.h"
#include "agent/codec/codec.h"
#include "agent/codec/codec_import.h"

#include <string.h>


static const char *const record_fields[] = {"type", "id", "name", "emails", "domains", "account_id",
                                            "contact_ids", "stage", "attributes", NULL};

/* "r1" + base64url(last id): opaque to clients, stable because records are ordered by id. */
static char *list_cursor_encode(const char *id)
{
  g_autofree char *b64 = g_base64_encode((const guchar *)id, strlen(id));
  g_strdelimit(b64, "+", '-');
  g_strdelimit(b64, "/", '_');
  return g_strconcat("r1", b64, NULL);
}

static char *list_cursor_decode(const char *cursor)
{
  g_autofree char *b64 = NULL;
  guchar *raw;
  gsize len = 0;

  if (!g_str_has_prefix(cursor, "r1") || strlen(cursor) < 3 || strlen(cursor) > 2 * API_MAX_PARAM_LEN)
    return NULL;
  b64 = g_strdup(cursor + 2);
  for (const char *p = b64; *p; p++)
    if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_' && *p != '=')
      return NULL;
  g_strdelimit(b64, "-", '+');
  g_strdelimit(b64, "_", '/');
  raw = g_base64_decode(b64, &len);
  if (!raw || len == 0 || memchr(raw, '\0', len) || !g_utf8_validate((const char *)raw, (gssize)len, NULL)) {
    g_free(raw);
    return NULL;
  }
  {
    char *id = g_malloc(len + 1);
    memcpy(id, raw, len);
    id[len] = '\0';
    g_free(raw);
    return id;
  }
}

/* Late re-matching after a committed records change (pending.h): held and recent archived mail
 * the records now match is linked, a deleted record's mail unlinked. The change itself stands
 * either way, so a failure is logged (the next change retries), not answered. */
static MaRematchStats rematch(ApiCtx *ctx, const MaRecordChanges *changes)
{
  g_autoptr(GError) error = NULL;
  MaRematchStats stats = {0};
  if (pending_rematch(ctx->st, ctx->cfg, ctx->enterprise_id, changes, &stats, &error) < 0)
    ma_warn("api", "enterprise=%s: re-matching mail after a records change failed (the next change retries): %s",
            ctx->enterprise_id, error->message);
  return stats;
}

static void record_get(ApiCtx *ctx)
{
  MaRecordType type;
  g_autoptr(GError) error = NULL;
  MaRecord *r = NULL;
  int rc;

  if (!api_check_query(ctx, NULL) || !api_param_record_type(ctx, &type))
    return;
  rc = storage_record_get(ctx->st, ctx->enterprise_id, type, api_param(ctx, "id"), &r, &error);
  if (rc < 0)
    api_reply_gerror(ctx, error);
  else if (rc == 0)
    api_reply_error(ctx, 404, "not_found", "no %s with this id", ma_record_type_name(type));
  else
    api_reply_json(ctx, 200, codec_record_to_json(r));
  ma_record_free(r);
}

static void record_list(ApiCtx *ctx)
{
  static const char *const allowed[] = {"limit", "cursor", NULL};
  MaRecordType type;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func((GDestroyNotify)ma_record_free);
  g_autofree char *after = NULL;
  g_autofree char *next = NULL;
  const char *cursor;
  json_t *items;
  int limit;

  if (!api_check_query(ctx, allowed) || !api_query_limit(ctx, &limit) || !api_param_record_type(ctx, &type))
    return;
  cursor = api_query(ctx, "cursor");
  if (cursor && !(after = list_cursor_decode(cursor))) {
    api_reply_error(ctx, 400, "bad_cursor", "the cursor is not one this API returned");
    return;
  }
  /* One more than asked tells whether a next page exists. */
  if (storage_record_list(ctx->st, ctx->enterprise_id, type, after, limit + 1, out, &error) < 0) {
    api_reply_gerror(ctx, error);
    return;
  }
  items = json_array();
  for (guint i = 0; i < out->len && i < (guint)limit; i++)
    json_array_append_new(items, codec_record_to_json(g_ptr_array_index(out, i)));
  if (out->len > (guint)limit)
    next = list_cursor_encode(((MaRecord *)g_ptr_array_index(out, limit - 1))->id);
  api_reply_json(ctx, 200, api_page(items, next));
}

static void record_put(ApiCtx *ctx)
{
  MaRecordType type;
  const char *id = api_param(ctx, "id");
  g_autoptr(GError) error = NULL;
  MaRecord *r = NULL;
  MaRecord *old = NULL;
  json_t *body;
  json_t *v;
  int existed;

  if (!api_check_query(ctx, NULL) || !api_param_record_type(ctx, &type))
    return;
  if (!(body = api_body_json(ctx, TRUE)))
    return;
  if (!api_check_fields(ctx, body, record_fields))
    goto out;
  v = json_object_get(body, "type");
  if (v && (!json_is_string(v) || strcmp(json_string_value(v), ma_record_type_name(type)) != 0)) {
    api_reply_error(ctx, 422, "invalid", "field 'type' does not match the path");
    goto out;
  }
  v = json_object_get(body, "id");
  if (v && (!json_is_string(v) || strcmp(json_string_value(v), id) != 0)) {
    api_reply_error(ctx, 422, "invalid", "field 'id' does not match the path");
    goto out;
  }
  json_object_set_new(body, "type", json_string(ma_record_type_name(type)));
  json_object_set_new(body, "id", json_string(id));
  if (codec_record_parse(body, &r, NULL, &error) < 0) {
    api_reply_gerror(ctx, error);
    goto out;
  }
  existed = storage_record_get(ctx->st, ctx->enterprise_id, type, id, &old, &error);
  if (existed < 0 || storage_record_upsert(ctx->st, ctx->enterprise_id, r, &error) < 0) {
    api_reply_gerror(ctx, error);
    goto out;
  }
  MaRecordChanges changes = {r->emails, r->type == MA_RECORD_ACCOUNT ? r->domains : NULL, NULL};
  rematch(ctx, &changes);
  api_reply_json(ctx, existed ? 200 : 201, codec_record_to_json(r));
out:
  ma_record_free(old);
  ma_record_free(r);
  json_decref(body);
}

static void record_delete(ApiCtx *ctx)
{
  MaRecordType type;
  g_autoptr(GError) error = NULL;
  int rc;

  if (!api_check_query(ctx, NULL) || !api_param_record_type(ctx, &type))
    return;
  rc = storage_record_delete(ctx->st, ctx->enterprise_id, type, api_param(ctx, "id"), &error);
  if (rc == 1) { /* its mail is unlinked; mail linked to nothing else leaves the archive (pending.h) */
    g_autoptr(GPtrArray) deleted = g_ptr_array_new_with_free_func((GDestroyNotify) ma_record_ref_free);
    g_ptr_array_add(deleted, ma_record_ref_new(type, api_param(ctx, "id")));
    MaRecordChanges changes = {NULL, NULL, deleted};
    rematch(ctx, &changes);
  }
  if (rc < 0)
    api_reply_gerror(ctx, error);
  else if (rc == 0)
    api_reply_error(ctx, 404, "not_found", "no %s with this id", ma_record_type_name(type));
  else
    api_reply_no_content(ctx);
}

/* ---- bulk ----------------------------------------------------------------------------------- */

static json_t *problems_json(const CodecImportResult *res)
{
  json_t *lines = json_array();

  for (guint i = 0; res->problems && i < res->problems->len; i++) {
    const CodecImportProblem *p = g_ptr_array_index(res->problems, i);
    json_array_append_new(lines, json_pack("{s:I,s:s}", "line", (json_int_t)p->line, "message", p->message));
  }
  return lines;
}

static void records_bulk(ApiCtx *ctx)
{
  static const char *const allowed[] = {"skip_invalid", "strict", "delimiter", NULL};
  g_autoptr(GError) error = NULL;
  CodecImportResult res = {0};
  CodecImport *imp;
  CodecFormat format = CODEC_FORMAT_JSONL;
  const char *skip, *ctype, *data;
  gboolean skip_invalid = FALSE;
  gsize len = 0;

  if (!api_check_query(ctx, allowed))
    return;
  skip = api_query(ctx, "skip_invalid");
  if (skip) {
    if (strcmp(skip, "true") == 0)
      skip_invalid = TRUE;
    else if (strcmp(skip, "false") != 0) {
      api_reply_error(ctx, 400, "invalid_query", "skip_invalid must be true or false");
      return;
    }
  }
  const char *strict_text = api_query(ctx, "strict");
  if (strict_text && strcmp(strict_text, "true") != 0 && strcmp(strict_text, "false") != 0) {
    api_reply_error(ctx, 400, "invalid_query", "strict must be true or false");
    return;
  }
  const char *delimiter_text = api_query(ctx, "delimiter");
  char delimiter = delimiter_text ? codec_import_delimiter_parse(delimiter_text) : ',';
  if (!delimiter) {
    api_reply_error(ctx, 400, "invalid_query", "delimiter must be one character (or tab)");
    return;
  }
  ctype = evhttp_find_header(evhttp_request_get_input_headers(ctx->req), "Content-Type");
  if (ctype && g_ascii_strncasecmp(ctype, "text/csv", 8) == 0)
    format = CODEC_FORMAT_CSV;
  if (!(data = api_body_bytes(ctx, &len)))
    return;
  if (len == 0) {
    api_reply_error(ctx, 400, "invalid_json", "the body must hold one JSON record per line");
    return;
  }
  imp = codec_import_new(ctx->st, ctx->enterprise_id, format, skip_invalid);
  codec_import_set_csv(imp, delimiter, strict_text && strcmp(strict_text, "true") == 0);
  if (codec_import_feed(imp, data, len, &error) < 0 || codec_import_finish(imp, &res, &error) < 0) {
    codec_import_free(imp);
    api_reply_gerror(ctx, error);
    return;
  }
  codec_import_free(imp);
  MaRecordChanges changes = {res.changed_emails, res.changed_domains, res.deleted_records};
  MaRematchStats stats = res.committed ? rematch(ctx, &changes) : (MaRematchStats) {0};
  gint64 held_archived = stats.released;
  json_t *warnings = json_array();
  g_autoptr(GPtrArray) warning_texts = codec_import_warnings(&res);
  for (guint i = 0; i < warning_texts->len; i++) json_array_append_new(warnings, json_string(warning_texts->pdata[i]));
  if (!res.committed)
    api_reply_json(ctx, 422, json_pack("{s:{s:s,s:s,s:I,s:o,s:o}}", "error", "code", "invalid", "message",
                                       "invalid lines; nothing was imported (?skip_invalid=true imports the rest)",
                                       "invalid", (json_int_t)res.invalid, "problems", problems_json(&res),
                                       "warnings", warnings));
  else
    api_reply_json(ctx, 200, json_pack("{s:I,s:I,s:I,s:I,s:I,s:o,s:o,s:I}", "created", (json_int_t)res.created, "updated",
                                       (json_int_t)res.updated, "deleted", (json_int_t)res.deleted, "not_found",
                                       (json_int_t)res.not_found, "invalid", (json_int_t)res.invalid, "problems",
                                       problems_json(&res), "warnings", warnings, "held_archived",
                                       (json_int_t)held_archived));
  codec_import_result_clear(&res);
}

const ApiRoute api_records_routes[] = {
  {EVHTTP_REQ_POST, "/v1/records:bulk", API_AUTH_ENTERPRISE, records_bulk},
  {EVHTTP_REQ_GET, "/v1/records/{type}", API_AUTH_ENTERPRISE, record_list},
  {EVHTTP_REQ_GET, "/v1/records/{type}/{id}", API_AUTH_ENTERPRISE, record_get},
  {EVHTTP_REQ_PUT, "/v1/records/{type}/{id}", API_AUTH_ENTERPRISE, record_put},
  {EVHTTP_REQ_DELETE, "/v1/records/{type}/{id}", API_AUTH_ENTERPRISE, record_delete},
  {0},
};
