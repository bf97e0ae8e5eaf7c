/* api_outbound.c - the CRM's outgoing mail: POST /v1/messages:send (with an optional
 * Idempotency-Key), GET /v1/outbound (the queue, ?state=&limit=&cursor=), GET /v1/outbound/{id}
 * (route and every recipient's state), POST /v1/outbound/{id}:hold|:release|:retry and
 * DELETE /v1/outbound/{id}. The request's JSON is turned into an OutboundRequest here; everything
 * else (validation of the message, queueing, idempotency) is agent/outbound's.
 *
 * 202 means durably queued. A retried request with the same key and the same body gets the first
 * answer again (with Idempotent-Replayed: true); the same key with another body is 409. Every
 * look-up is scoped to the key's enterprise: another tenant's message is 404.
 */
#include "api_internal.h"

#include "agent/lib/clock.h"
#include "agent/lib/crypto.h"
#include "agent/outbound/outbound.h"

#include <string.h>

#define API_MAX_IDEMPOTENCY_KEY 255

/* A string or an array of strings into out (char*, borrowed from doc). FALSE after answering. */
static gboolean string_list(ApiCtx *ctx, const json_t *v, const char *field, GPtrArray **out)
{
  if (!v) return TRUE;
  *out = g_ptr_array_new();
  if (json_is_string(v)) {
    g_ptr_array_add(*out, (char *) json_string_value(v));
    return TRUE;
  }
  size_t i;
  json_t *item;
  if (json_is_array(v)) {
    json_array_foreach(v, i, item) {
      if (!json_is_string(item)) break;
      g_ptr_array_add(*out, (char *) json_string_value(item));
    }
    if (i == json_array_size(v)) return TRUE;
  }
  api_reply_error(ctx, 422, "invalid", "%s: a string or an array of strings is required", field);
  return FALSE;
}

static gboolean opt_string(ApiCtx *ctx, const json_t *doc, const char *field, const char **out)
{
  const json_t *v = json_object_get(doc, field);
  if (!v || json_is_null(v)) return TRUE;
  if (!json_is_string(v)) {
    api_reply_error(ctx, 422, "invalid", "%s: a string is required", field);
    return FALSE;
  }
  *out = json_string_value(v);
  return TRUE;
}

typedef struct {
  OutboundRequest req;
  GPtrArray *lists[4];     /* to, cc, bcc, envelope to: borrowed strings */
  GPtrArray *attachments;  /* OutboundAttachment* (data owned) */
  GPtrArray *header_names, *header_values;
  char *records_json;
  GBytes *mime_decoded;
} SendRequest;

static void attachment_free(OutboundAttachment *a)
{
  if (a->data) g_bytes_unref(a->data);
  g_free(a);
}

static void send_request_clear(SendRequest *s)
{
  for (int i = 0; i < 4; i++)
    if (s->lists[i]) g_ptr_array_unref(s->lists[i]);
  if (s->attachments) g_ptr_array_unref(s->attachments);
  if (s->header_names) g_ptr_array_unref(s->header_names);
  if (s->header_values) g_ptr_array_unref(s->header_values);
  g_free(s->records_json);
  if (s->mime_decoded) g_bytes_unref(s->mime_decoded);
}

static gboolean base64_field(ApiCtx *ctx, const char *text, const char *field, GBytes **out)
{
  for (const char *p = text; *p; p++)
    if (!g_ascii_isalnum(*p) && !strchr("+/=\r\n", *p)) {
      api_reply_error(ctx, 422, "invalid", "%s: not base64", field);
      return FALSE;
    }
  gsize len = 0;
  guchar *data = g_base64_decode(text, &len);
  *out = g_bytes_new_take(data, len);
  return TRUE;
}

/* Reads the send body into s. FALSE after answering. */
static gboolean parse_send(ApiCtx *ctx, const json_t *doc, SendRequest *s)
{
  static const char *const allowed[] = {"type", "channel", "employee", "mime", "mime_base64", "envelope", "from",
                                        "to", "cc", "bcc", "subject", "text", "html", "attachments", "headers",
                                        "records", "list_unsubscribe", NULL};
  OutboundRequest *r = &s->req;
  if (!api_check_fields(ctx, doc, allowed)) return FALSE;
  if (!opt_string(ctx, doc, "type", &r->type) || !opt_string(ctx, doc, "channel", &r->channel) ||
      !opt_string(ctx, doc, "employee", &r->employee) || !opt_string(ctx, doc, "mime", &r->mime) ||
      !opt_string(ctx, doc, "from", &r->from) || !opt_string(ctx, doc, "subject", &r->subject) ||
      !opt_string(ctx, doc, "text", &r->text) || !opt_string(ctx, doc, "html", &r->html))
    return FALSE;
  const char *mime64 = NULL;
  if (!opt_string(ctx, doc, "mime_base64", &mime64)) return FALSE;
  if (mime64) {
    if (!base64_field(ctx, mime64, "mime_base64", &s->mime_decoded)) return FALSE;
    gsize n = 0;
    r->mime = g_bytes_get_data(s->mime_decoded, &n);
    r->mime_len = n;
    if (!r->mime) r->mime = "";
  } else if (r->mime) {
    r->mime_len = strlen(r->mime);
  }
  if (r->mime && (r->from || json_object_get(doc, "to") || r->subject || r->text || r->html ||
                  json_object_get(doc, "attachments") || json_object_get(doc, "headers"))) {
    api_reply_error(ctx, 422, "invalid", "give either mime (a complete message) or the structured fields, not both");
    return FALSE;
  }
  if (!string_list(ctx, json_object_get(doc, "to"), "to", &s->lists[0]) ||
      !string_list(ctx, json_object_get(doc, "cc"), "cc", &s->lists[1]) ||
      !string_list(ctx, json_object_get(doc, "bcc"), "bcc", &s->lists[2]))
    return FALSE;
  r->to = s->lists[0];
  r->cc = s->lists[1];
  r->bcc = s->lists[2];
  const json_t *env = json_object_get(doc, "envelope");
  if (env) {
    static const char *const env_fields[] = {"from", "to", NULL};
    if (!json_is_object(env) || !r->mime) {
      api_reply_error(ctx, 422, "invalid", "envelope: an object {from, to}, with mime only");
      return FALSE;
    }
    if (!api_check_fields(ctx, env, env_fields) || !opt_string(ctx, env, "from", &r->envelope_from) ||
        !string_list(ctx, json_object_get(env, "to"), "envelope.to", &s->lists[3]))
      return FALSE;
    r->envelope_to = s->lists[3];
  }
  const json_t *atts = json_object_get(doc, "attachments");
  if (atts) {
    size_t i;
    json_t *a;
    if (!json_is_array(atts)) {
      api_reply_error(ctx, 422, "invalid", "attachments: an array is required");
      return FALSE;
    }
    s->attachments = g_ptr_array_new_with_free_func((GDestroyNotify) attachment_free);
    json_array_foreach(atts, i, a) {
      const char *content = json_string_value(json_object_get(a, "content"));
      if (!json_is_object(a) || !content) {
        api_reply_error(ctx, 422, "invalid", "attachments[%zu]: {filename, content_type, content (base64)}", i);
        return FALSE;
      }
      OutboundAttachment *att = g_new0(OutboundAttachment, 1);
      g_ptr_array_add(s->attachments, att);
      att->filename = json_string_value(json_object_get(a, "filename"));
      att->content_type = json_string_value(json_object_get(a, "content_type"));
      if (!base64_field(ctx, content, "attachments[].content", &att->data)) return FALSE;
    }
    r->attachments = s->attachments;
  }
  const json_t *hdrs = json_object_get(doc, "headers");
  if (hdrs) {
    const char *k;
    json_t *v;
    if (!json_is_object(hdrs)) {
      api_reply_error(ctx, 422, "invalid", "headers: an object {name: value} is required");
      return FALSE;
    }
    s->header_names = g_ptr_array_new();
    s->header_values = g_ptr_array_new();
    json_object_foreach((json_t *) hdrs, k, v) {
      if (!json_is_string(v)) {
        api_reply_error(ctx, 422, "invalid", "headers.%s: a string is required", k);
        return FALSE;
      }
      g_ptr_array_add(s->header_names, (char *) k);
      g_ptr_array_add(s->header_values, (char *) json_string_value(v));
    }
    r->header_names = s->header_names;
    r->header_values = s->header_values;
  }
  const json_t *recs = json_object_get(doc, "records");
  if (recs) {
    size_t i;
    json_t *rec;
    if (!json_is_array(recs)) {
      api_reply_error(ctx, 422, "invalid", "records: an array of {type, id} is required");
      return FALSE;
    }
    json_array_foreach(recs, i, rec) {
      const char *type = json_string_value(json_object_get(rec, "type"));
      if (!type || ma_record_type_parse(type) < 0 || !json_is_string(json_object_get(rec, "id")) ||
          json_object_size(rec) != 2) {
        api_reply_error(ctx, 422, "invalid", "records[%zu]: {type: account|contact|lead|opportunity, id}", i);
        return FALSE;
      }
    }
    s->records_json = json_dumps(recs, JSON_COMPACT);
    r->records_json = s->records_json;
  }
  const json_t *unsub = json_object_get(doc, "list_unsubscribe");
  if (unsub && !json_is_null(unsub)) {
    if (!json_is_boolean(unsub)) {
      api_reply_error(ctx, 422, "invalid", "list_unsubscribe: true or false");
      return FALSE;
    }
    r->list_unsubscribe_set = TRUE;
    r->list_unsubscribe = json_is_true(unsub) ? 1 : 0;
  }
  return TRUE;
}

static void send_h(ApiCtx *ctx)
{
  if (!api_check_query(ctx, NULL)) return;
  const char *key = evhttp_find_header(evhttp_request_get_input_headers(ctx->req), "Idempotency-Key");
  if (key) {
    gsize n = strlen(key);
    gboolean ok = n > 0 && n <= API_MAX_IDEMPOTENCY_KEY;
    for (gsize i = 0; ok && i < n; i++) ok = key[i] > 0x20 && key[i] < 0x7f;
    if (!ok) {
      api_reply_error(ctx, 400, "invalid_header", "Idempotency-Key: 1 to %d visible ASCII characters",
                      API_MAX_IDEMPOTENCY_KEY);
      return;
    }
  }
  gsize body_len = 0;
  const char *body = api_body_bytes(ctx, &body_len);
  if (!body) return;
  char hash[65];
  ma_sha256_hex(body, body_len, hash);
  json_t *doc = api_body_json(ctx, TRUE);
  if (!doc) return;
  SendRequest s = {0};
  if (parse_send(ctx, doc, &s)) {
    g_autoptr(GError) error = NULL;
    g_autofree char *response = NULL;
    int rc = outbound_submit(ctx->st, ctx->cfg, ctx->enterprise_id, &s.req, key, hash, &response, NULL, &error);
    if (rc < 0) {
      api_reply_gerror(ctx, error);
    } else {
      if (rc == 0) evhttp_add_header(evhttp_request_get_output_headers(ctx->req), "Idempotent-Replayed", "true");
      else outbound_delivery_notify();
      api_reply_bytes(ctx, 202, "application/json", response, strlen(response));
    }
  }
  send_request_clear(&s);
  json_decref(doc);
}

static void outbound_get_h(ApiCtx *ctx)
{
  if (!api_check_query(ctx, NULL)) return;
  g_autoptr(GError) error = NULL;
  MaOutbound *m = NULL;
  int rc = storage_outbound_get(ctx->st, ctx->enterprise_id, api_param(ctx, "id"), &m, &error);
  if (rc < 0) api_reply_gerror(ctx, error);
  else if (rc == 0) api_reply_error(ctx, 404, "not_found", "no outbound message with this id");
  else api_reply_json(ctx, 200, outbound_to_json(m));
  ma_outbound_free(m);
}

static void outbound_list_h(ApiCtx *ctx)
{
  static const char *const allowed[] = {"state", "limit", "cursor", NULL};
  int limit;
  if (!api_check_query(ctx, allowed) || !api_query_limit(ctx, &limit)) return;
  const char *state_name = api_query(ctx, "state");
  MaOutboundState state = MA_OUT_QUEUED;
  if (state_name && ma_outbound_state_parse(state_name, &state) < 0) {
    api_reply_error(ctx, 400, "invalid_query", "state: one of queued, sending, sent, deferred, bounced, expired, held, suppressed");
    return;
  }
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func((GDestroyNotify) ma_outbound_free);
  if (storage_outbound_list(ctx->st, ctx->enterprise_id, state_name ? (int) state : -1, api_query(ctx, "cursor"),
                            limit + 1, list, &error) < 0) {
    api_reply_gerror(ctx, error);
    return;
  }
  json_t *items = json_array();
  for (guint i = 0; i < list->len && i < (guint) limit; i++)
    json_array_append_new(items, outbound_to_json(g_ptr_array_index(list, i)));
  const char *next = list->len > (guint) limit ? ((MaOutbound *) g_ptr_array_index(list, limit - 1))->id : NULL;
  api_reply_json(ctx, 200, api_page(items, next));
}

static void operate(ApiCtx *ctx, MaOutboundOp op)
{
  if (!api_check_query(ctx, NULL)) return;
  g_autoptr(GError) error = NULL;
  int changed = 0;
  if (storage_outbound_operate(ctx->st, ctx->enterprise_id, api_param(ctx, "id"), op, ma_now(), &changed,
                               &error) < 0) {
    api_reply_gerror(ctx, error);
    return;
  }
  if (op == MA_OUT_OP_DELETE) {
    api_reply_no_content(ctx);
    return;
  }
  if (op != MA_OUT_OP_HOLD) outbound_delivery_notify();
  api_reply_json(ctx, 200, json_pack("{s:i}", "changed", changed));
}

static void hold_h(ApiCtx *ctx) { operate(ctx, MA_OUT_OP_HOLD); }
static void release_h(ApiCtx *ctx) { operate(ctx, MA_OUT_OP_RELEASE); }
static void retry_h(ApiCtx *ctx) { operate(ctx, MA_OUT_OP_RETRY); }
static void delete_h(ApiCtx *ctx) { operate(ctx, MA_OUT_OP_DELETE); }

const ApiRoute api_outbound_routes[] = {
  {EVHTTP_REQ_POST, "/v1/messages:send", API_AUTH_ENTERPRISE, send_h},
  {EVHTTP_REQ_GET, "/v1/outbound", API_AUTH_ENTERPRISE, outbound_list_h},
  {EVHTTP_REQ_GET, "/v1/outbound/{id}", API_AUTH_ENTERPRISE, outbound_get_h},
  {EVHTTP_REQ_DELETE, "/v1/outbound/{id}", API_AUTH_ENTERPRISE, delete_h},
  {EVHTTP_REQ_POST, "/v1/outbound/{id}:hold", API_AUTH_ENTERPRISE, hold_h},
  {EVHTTP_REQ_POST, "/v1/outbound/{id}:release", API_AUTH_ENTERPRISE, release_h},
  {EVHTTP_REQ_POST, "/v1/outbound/{id}:retry", API_AUTH_ENTERPRISE, retry_h},
  {0},
};
