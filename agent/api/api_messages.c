/* api_messages.c - archived mail: GET /v1/messages/{id} (headers, participants, text, sanitized
 * HTML, attachments; an outbound copy sent through the queue also its recipients' delivery
 * states), GET /v1/messages/{id}/raw (the message as received, message/rfc822),
 * GET /v1/messages/{id}/explain (links with reasons, rules trace, activities: trace.h),
 * GET /v1/attachments/{sha256} and GET /v1/threads/{id}.
 *
 * Every look-up is scoped to the key's enterprise: another tenant's message, thread or attachment
 * is answered 404 exactly like one that does not exist. HTML is never served as received: it goes
 * through the MIME module's sanitizer (no scripts, no remote loads).
 * Blobs are served with nosniff and as attachments, so a browser never renders them inline.
 */
#include "api_internal.h"
#include "agent/codec/codec.h"

#include <string.h>

#include "agent/mime/mime.h"
#include "agent/pipeline/trace.h"

static MaStoredMessage *load_message(ApiCtx *ctx)
{
  g_autoptr(GError) error = NULL;
  MaStoredMessage *m = NULL;
  int rc = storage_message_get(ctx->st, ctx->enterprise_id, api_param(ctx, "id"), &m, &error);

  if (rc < 0)
    api_reply_gerror(ctx, error);
  else if (rc == 0)
    api_reply_error(ctx, 404, "not_found", "no message with this id");
  return rc > 0 ? m : NULL;
}

static void message_get(ApiCtx *ctx)
{
  MaStoredMessage *m;
  json_t *doc;
  char *html = NULL;

  if (!api_check_query(ctx, NULL) || !(m = load_message(ctx)))
    return;
  doc = codec_message_to_json(m, TRUE);
  if (m->direction == MA_DIRECTION_OUTBOUND && m->message_id) { /* sent through the queue: delivery states */
    g_autoptr(GError) error = NULL;
    GPtrArray *delivery = NULL;
    if (storage_outbound_delivery(ctx->st, ctx->enterprise_id, m->message_id, &delivery, &error) < 0) {
      json_decref(doc);
      ma_stored_message_free(m);
      api_reply_gerror(ctx, error);
      return;
    }
    if (delivery) {
      json_object_set_new(doc, "delivery", codec_delivery_to_json(delivery));
      g_ptr_array_unref(delivery);
    }
  }
  if (m->html)
    html = mime_html_sanitize(m->html, strlen(m->html));
  json_object_set_new(doc, "html", html ? json_string(html) : json_null());
  g_free(html);
  ma_stored_message_free(m);
  api_reply_json(ctx, 200, doc);
}

/* Content-Disposition for a download named filename (RFC 6266): an ASCII fallback for old clients
 * (anything outside printable ASCII, quotes, backslashes and path separators become '_') and the
 * real name as filename*=UTF-8''<percent-encoded> (RFC 8187), which every current browser and HTTP
 * library prefers. A name that is not valid UTF-8 (it came from mail) keeps only the fallback.
 * Caller frees. */
char *api_content_disposition(const char *filename)
{
  if (!filename || !*filename) filename = "attachment";
  GString *ascii = g_string_new(NULL);
  for (const unsigned char *p = (const unsigned char *) filename; *p; p++)
    g_string_append_c(ascii, (*p < 0x20 || *p >= 0x7f || *p == '"' || *p == '\\' || *p == '/') ? '_' : (char) *p);
  GString *out = g_string_new(NULL);
  g_string_append_printf(out, "attachment; filename=\"%s\"", ascii->str);
  if (g_utf8_validate(filename, -1, NULL)) {
    /* attr-char of RFC 8187: ALPHA DIGIT ! # $ & + - . ^ _ ` | ~ stay, everything else is %XX */
    g_string_append(out, "; filename*=UTF-8''");
    for (const unsigned char *p = (const unsigned char *) filename; *p; p++) {
      if (g_ascii_isalnum(*p) || strchr("!#$&+-.^_`|~", *p)) g_string_append_c(out, (char) *p);
      else g_string_append_printf(out, "%%%02X", *p);
    }
  }
  g_string_free(ascii, TRUE);
  return g_string_free(out, FALSE);
}

static void reply_blob(ApiCtx *ctx, const char *sha256, const char *content_type, const char *filename)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) data = NULL;
  g_autofree char *disposition = NULL;
  gsize len = 0;
  gconstpointer p;
  int rc = storage_blob_get(ctx->st, sha256, &data, &error);

  if (rc < 0) {
    api_reply_gerror(ctx, error);
    return;
  }
  if (rc == 0) {
    api_reply_error(ctx, 404, "not_found", "the content is not stored");
    return;
  }
  disposition = api_content_disposition(filename);
  evhttp_add_header(evhttp_request_get_output_headers(ctx->req), "Content-Disposition", disposition);
  /* the type comes from the mail: never let a browser guess a more dangerous one */
  evhttp_add_header(evhttp_request_get_output_headers(ctx->req), "X-Content-Type-Options", "nosniff");
  p = g_bytes_get_data(data, &len);
  api_reply_bytes(ctx, 200, content_type, p, len);
}

static gboolean is_hex_id(const char *s)
{
  for (const char *p = s; *p; p++)
    if (!g_ascii_isalnum(*p))
      return FALSE;
  return TRUE;
}

static void message_raw(ApiCtx *ctx)
{
  MaStoredMessage *m;
  g_autofree char *filename = NULL;

  if (!api_check_query(ctx, NULL) || !(m = load_message(ctx)))
    return;
  if (!m->raw_sha256) {
    api_reply_error(ctx, 404, "not_found", "no raw copy is kept for this message (capture_level)");
  } else {
    filename = g_strdup_printf("%s.eml", is_hex_id(m->id) ? m->id : "message");
    reply_blob(ctx, m->raw_sha256, "message/rfc822", filename);
  }
  ma_stored_message_free(m);
}

static void attachment_get(ApiCtx *ctx)
{
  const char *sha = api_param(ctx, "sha256");
  g_autoptr(GError) error = NULL;
  int rc;

  if (!api_check_query(ctx, NULL))
    return;
  if (strlen(sha) != 64 || strspn(sha, "0123456789abcdef") != 64) {
    api_reply_error(ctx, 404, "not_found", "no attachment with this digest");
    return;
  }
  g_autofree char *filename = NULL;
  g_autofree char *content_type = NULL;
  rc = storage_attachment_visible(ctx->st, ctx->enterprise_id, sha, &filename, &content_type, &error);
  if (rc < 0)
    api_reply_gerror(ctx, error);
  else if (rc == 0)
    api_reply_error(ctx, 404, "not_found", "no attachment with this digest");
  else
    reply_blob(ctx, sha, "application/octet-stream", filename ? filename : sha);
}

static void thread_get(ApiCtx *ctx)
{
  const char *id = api_param(ctx, "id");
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func((GDestroyNotify)ma_stored_message_free);
  g_autoptr(GError) error = NULL;
  json_t *messages;

  if (!api_check_query(ctx, NULL))
    return;
  if (storage_thread_messages(ctx->st, ctx->enterprise_id, id, out, &error) < 0) {
    api_reply_gerror(ctx, error);
    return;
  }
  if (out->len == 0) {
    api_reply_error(ctx, 404, "not_found", "no thread with this id");
    return;
  }
  messages = json_array();
  for (guint i = 0; i < out->len; i++)
    json_array_append_new(messages, codec_message_to_json(g_ptr_array_index(out, i), FALSE));
  api_reply_json(ctx, 200, json_pack("{s:s,s:o}", "id", id, "messages", messages));
}

/* GET /v1/messages/{id}/explain: explain_message (trace.h), the document `mailagent explain --json`
 * prints. */
static void message_explain(ApiCtx *ctx)
{
  if (!api_check_query(ctx, NULL)) return;
  g_autoptr(GError) error = NULL;
  json_t *doc = NULL;
  int rc = explain_message(ctx->st, ctx->cfg, ctx->enterprise_id, api_param(ctx, "id"), &doc, &error);
  if (rc < 0)
    api_reply_gerror(ctx, error);
  else if (rc == 0)
    api_reply_error(ctx, 404, "not_found", "no message with this id");
  else
    api_reply_json(ctx, 200, doc);
}

const ApiRoute api_messages_routes[] = {
  {EVHTTP_REQ_GET, "/v1/messages/{id}", API_AUTH_ENTERPRISE, message_get},
  {EVHTTP_REQ_GET, "/v1/messages/{id}/explain", API_AUTH_ENTERPRISE, message_explain},
  {EVHTTP_REQ_GET, "/v1/messages/{id}/raw", API_AUTH_ENTERPRISE, message_raw},
  {EVHTTP_REQ_GET, "/v1/attachments/{sha256}", API_AUTH_ENTERPRISE, attachment_get},
  {EVHTTP_REQ_GET, "/v1/threads/{id}", API_AUTH_ENTERPRISE, thread_get},
  {0},
};
