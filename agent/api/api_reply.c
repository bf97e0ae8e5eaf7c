/* api_reply.c - the one place that writes HTTP responses and reads request input for the API's
 * handlers: JSON bodies (compact, UTF-8), the error shape {"error":{"code","message"}}, the mapping
 * from MA_ERROR codes to HTTP statuses, and bounded, strict reading of bodies and query strings.
 *
 * Limits: a body longer than [api] max_body is refused before parsing (evhttp usually refuses it
 * first); JSON nesting is bounded by jansson's parser depth (2048); duplicate object keys are
 * refused. Error messages never echo request bodies or secrets, only names of fields/parameters.
 */
#include "api_internal.h"
#include "agent/lib/log.h"
#include "agent/tenant/audit.h"
#include "agent/codec/codec.h"
#include "agent/lib/log.h"

#include <event2/buffer.h>
#include <stdarg.h>
#include <string.h>

static void send_buffer(ApiCtx *ctx, int status, const char *content_type, struct evbuffer *buf)
{
  struct evkeyvalq *out = evhttp_request_get_output_headers(ctx->req);

  g_return_if_fail(ctx->status == 0);
  ctx->status = status;
  if (content_type)
    evhttp_add_header(out, "Content-Type", content_type);
  evhttp_add_header(out, "Cache-Control", "no-store");
  evhttp_add_header(out, "X-Content-Type-Options", "nosniff");
  evhttp_send_reply(ctx->req, status, NULL, buf);
}

void api_reply_bytes(ApiCtx *ctx, int status, const char *content_type, const void *data, gsize len)
{
  struct evbuffer *buf = evbuffer_new();

  evbuffer_add(buf, data, len);
  send_buffer(ctx, status, content_type, buf);
  evbuffer_free(buf);
}

static void unref_bytes(const void *data, size_t len, void *arg)
{
  g_bytes_unref(arg);
}

void api_reply_gbytes(ApiCtx *ctx, int status, const char *content_type, GBytes *body)
{
  struct evbuffer *buf = evbuffer_new();
  gsize len = 0;
  gconstpointer data = g_bytes_get_data(body, &len);

  evbuffer_add_reference(buf, data, len, unref_bytes, g_bytes_ref(body));
  send_buffer(ctx, status, content_type, buf);
  evbuffer_free(buf);
}

static void free_dump(const void *data, size_t len, void *arg)
{
  free((void *)data);
}

void api_reply_json(ApiCtx *ctx, int status, json_t *doc)
{
  struct evbuffer *buf;
  char *text = json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY);

  json_decref(doc);
  if (!text) {
    ma_error("api", "could not encode a JSON reply");
    api_reply_error(ctx, 500, "internal", "could not encode the reply");
    return;
  }
  /* One encoding pass into one string, handed to libevent without another copy. */
  buf = evbuffer_new();
  evbuffer_add_reference(buf, text, strlen(text), free_dump, NULL);
  evbuffer_add(buf, "\n", 1);
  send_buffer(ctx, status, "application/json", buf);
  evbuffer_free(buf);
}

static void reply_text(ApiCtx *ctx, GString *json, gboolean cache)
{
  GBytes *body;

  /* the cached copy includes the trailing newline, like every JSON answer */
  g_string_append_c(json, '\n');
  body = g_string_free_to_bytes(json);
  if (cache)
    api_cache_store(ctx, body);
  api_reply_gbytes(ctx, 200, "application/json", body);
  g_bytes_unref(body);
}

void api_reply_copy_cached(ApiCtx *ctx, const char *json, gsize len)
{
  char *copy = g_malloc(len + 1);

  memcpy(copy, json, len);
  copy[len] = '\n'; /* as reply_text: the cached copy includes the trailing newline */
  GBytes *body = g_bytes_new_take(copy, len + 1);
  api_cache_store(ctx, body);
  api_reply_gbytes(ctx, 200, "application/json", body);
  g_bytes_unref(body);
}

void api_reply_page(ApiCtx *ctx, ApiWorkers *pool, GString *json)
{
  struct evbuffer *buf;

  if (ctx->cache_admit) { /* the page cache keeps this one: its own copy, the buffer back now */
    api_reply_copy_cached(ctx, json->str, json->len);
    api_workers_buffer_give(pool, json);
    return;
  }
  /* Not cached (most computed pages): the worker's buffer itself goes out, lent to libevent. */
  g_string_append_c(json, '\n');
  buf = evbuffer_new();
  api_workers_buffer_reply(pool, json, buf);
  send_buffer(ctx, 200, "application/json", buf);
  evbuffer_free(buf);
}

void api_reply_text_cached(ApiCtx *ctx, GString *json)
{
  reply_text(ctx, json, TRUE);
}

void api_reply_text(ApiCtx *ctx, GString *json)
{
  reply_text(ctx, json, FALSE);
}

void api_reply_error(ApiCtx *ctx, int status, const char *code, const char *fmt, ...)
{
  va_list ap;
  g_autofree char *message = NULL;

  va_start(ap, fmt);
  message = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  if (!g_utf8_validate(message, -1, NULL)) {
    g_free(message);
    message = g_strdup("(message not valid UTF-8)");
  }
  api_reply_json(ctx, status, json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message));
}

void api_reply_gerror(ApiCtx *ctx, const GError *error)
{
  int code = (error && error->domain == MA_ERROR) ? error->code : MA_ERROR_INTERNAL;
  const char *message = error ? error->message : "unknown error";

  switch (code) {
  case MA_ERROR_INVALID: api_reply_error(ctx, 422, "invalid", "%s", message); break;
  case MA_ERROR_NOT_FOUND: api_reply_error(ctx, 404, "not_found", "%s", message); break;
  case MA_ERROR_CONFLICT: api_reply_error(ctx, 409, "conflict", "%s", message); break;
  case MA_ERROR_LIMIT: api_reply_error(ctx, 409, "limit", "%s", message); break;
  case MA_ERROR_TEMPFAIL:
    ma_warn("api", "temporary failure: %s", message);
    evhttp_add_header(evhttp_request_get_output_headers(ctx->req), "Retry-After", "1");
    api_reply_error(ctx, 503, "tempfail", "temporary failure, try again");
    break;
  default:
    ma_error("api", "internal error on %s %s: %s", api_method_name(ctx->method), ctx->path, message);
    api_reply_error(ctx, 500, "internal", "internal error");
    break;
  }
}

void api_reply_no_content(ApiCtx *ctx)
{
  send_buffer(ctx, 204, NULL, NULL);
}

const char *api_body_bytes(ApiCtx *ctx, gsize *len)
{
  struct evbuffer *in = evhttp_request_get_input_buffer(ctx->req);
  gsize n = evbuffer_get_length(in);

  if ((gint64)n > ctx->cfg->api_max_body) {
    api_reply_error(ctx, 413, "too_large", "request body over %" G_GINT64_FORMAT " bytes", ctx->cfg->api_max_body);
    return NULL;
  }
  *len = n;
  if (n == 0)
    return "";
  return (const char *)evbuffer_pullup(in, -1);
}

json_t *api_body_json(ApiCtx *ctx, gboolean want_object)
{
  gsize len = 0;
  const char *data = api_body_bytes(ctx, &len);
  json_error_t jerr;
  json_t *doc;

  if (!data)
    return NULL;
  if (len == 0) {
    api_reply_error(ctx, 400, "invalid_json", "a JSON body is required");
    return NULL;
  }
  doc = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!doc) {
    api_reply_error(ctx, 400, "invalid_json", "invalid JSON at line %d column %d: %s", jerr.line, jerr.column,
                    jerr.text);
    return NULL;
  }
  if (want_object && !json_is_object(doc)) {
    json_decref(doc);
    api_reply_error(ctx, 400, "invalid_json", "the body must be a JSON object");
    return NULL;
  }
  return doc;
}

gboolean api_check_fields(ApiCtx *ctx, const json_t *obj, const char *const *allowed)
{
  const char *key;
  json_t *value;

  json_object_foreach((json_t *)obj, key, value) {
    gboolean ok = FALSE;
    for (const char *const *a = allowed; *a && !ok; a++)
      ok = strcmp(*a, key) == 0;
    if (!ok) {
      api_reply_error(ctx, 400, "unknown_field", "unknown field '%s'", key);
      return FALSE;
    }
  }
  return TRUE;
}

static void parse_query(ApiCtx *ctx)
{
  const struct evhttp_uri *uri;
  const char *q;

  if (ctx->query_state)
    return;
  ctx->query_state = 1;
  TAILQ_INIT(&ctx->query);
  uri = evhttp_request_get_evhttp_uri(ctx->req);
  q = uri ? evhttp_uri_get_query(uri) : NULL;
  if (q && *q && evhttp_parse_query_str(q, &ctx->query) != 0) {
    evhttp_clear_headers(&ctx->query);
    TAILQ_INIT(&ctx->query);
    ctx->query_state = 2;
  }
}

gboolean api_check_query(ApiCtx *ctx, const char *const *allowed)
{
  struct evkeyval *kv;

  parse_query(ctx);
  if (ctx->query_state == 2) {
    api_reply_error(ctx, 400, "invalid_query", "malformed query string");
    return FALSE;
  }
  TAILQ_FOREACH(kv, &ctx->query, next) {
    gboolean ok = FALSE;
    for (const char *const *a = allowed; a && *a && !ok; a++)
      ok = strcmp(*a, kv->key) == 0;
    if (!ok) {
      api_reply_error(ctx, 400, "unknown_parameter", "unknown query parameter '%s'", kv->key);
      return FALSE;
    }
    for (struct evkeyval *o = TAILQ_NEXT(kv, next); o; o = TAILQ_NEXT(o, next))
      if (strcmp(o->key, kv->key) == 0) {
        api_reply_error(ctx, 400, "invalid_query", "query parameter '%s' given twice", kv->key);
        return FALSE;
      }
    if (!g_utf8_validate(kv->value, -1, NULL)) {
      api_reply_error(ctx, 400, "invalid_query", "query parameter '%s' is not UTF-8", kv->key);
      return FALSE;
    }
  }
  return TRUE;
}

const char *api_query(ApiCtx *ctx, const char *name)
{
  parse_query(ctx);
  return evhttp_find_header(&ctx->query, name);
}

gboolean api_query_limit(ApiCtx *ctx, int *limit)
{
  const char *v = api_query(ctx, "limit");
  gint64 n;
  char *end = NULL;

  *limit = API_DEFAULT_PAGE;
  if (!v)
    return TRUE;
  n = g_ascii_strtoll(v, &end, 10);
  if (!*v || *end || n < 1 || n > API_MAX_PAGE) {
    api_reply_error(ctx, 400, "invalid_query", "limit must be an integer from 1 to %d", API_MAX_PAGE);
    return FALSE;
  }
  *limit = (int)n;
  return TRUE;
}

gboolean api_query_enterprise(ApiCtx *ctx, char **id)
{
  *id = NULL;
  const char *which = api_query(ctx, "enterprise");
  if (!which) return TRUE;
  g_autoptr(GError) error = NULL;
  MaEnterprise *e = NULL;
  int rc = storage_enterprise_get(ctx->st, which, &e, &error);
  if (rc < 0) api_reply_gerror(ctx, error);
  else if (rc == 0) api_reply_error(ctx, 404, "not_found", "no such enterprise");
  else *id = g_strdup(e->id);
  ma_enterprise_free(e);
  return rc > 0;
}

gboolean api_param_record_type(ApiCtx *ctx, MaRecordType *type)
{
  const char *name = api_param(ctx, "type");
  int t = name ? ma_record_type_parse(name) : -1;

  if (t < 0) {
    api_reply_error(ctx, 404, "not_found", "no record type '%s' (account, contact, lead, opportunity)",
                    name ? name : "");
    return FALSE;
  }
  *type = (MaRecordType)t;
  return TRUE;
}

json_t *api_page(json_t *items, const char *next_cursor)
{
  return codec_page(items, next_cursor); /* the CLI's --json page shape */
}

int api_audit(ApiCtx *ctx, const char *enterprise_id, const char *action, const char *target, json_t *details,
              GError **error)
{
  g_autoptr(GError) local = NULL;
  g_autofree char *actor = audit_actor_key(ctx->key);
  if (audit_log(ctx->st, actor, enterprise_id, action, target, details, error ? error : &local) < 0) {
    if (!error)
      ma_error("api", "%s %s was made but not recorded in the audit log: %s", action, target ? target : "",
               local->message);
    return -1;
  }
  return 0;
}
