/* webhook_sign.c - the pure parts of webhook delivery: the envelope body of an event, its
 * signature header, the retry schedule and reading the shared secret. No I/O except the secret
 * file; never logs the secret.
 */
#include "webhook.h"

#include "agent/lib/crypto.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define SECRET_MAX 4096

char *webhook_body(const MaOutboxEvent *e)
{
  json_t *data = e->payload ? json_loads(e->payload, JSON_DECODE_ANY, NULL) : NULL;
  if (!data) data = e->payload ? json_string(e->payload) : json_null();
  json_t *doc = json_object();
  json_object_set_new(doc, "id", json_string(e->idempotency_key ? e->idempotency_key : ""));
  json_object_set_new(doc, "event", json_string(e->event ? e->event : ""));
  json_object_set_new(doc, "enterprise_id", e->enterprise_id ? json_string(e->enterprise_id) : json_null());
  json_object_set_new(doc, "data", data ? data : json_null());
  char *text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(doc);
  char *out = g_strdup(text ? text : "{}");
  free(text);
  return out;
}

char *webhook_signature(const void *secret, gsize secret_len, gint64 t, const char *body, gsize body_len)
{
  GString *signed_text = g_string_sized_new(body_len + 24);
  g_string_append_printf(signed_text, "%" G_GINT64_FORMAT ".", t);
  g_string_append_len(signed_text, body, (gssize) body_len);
  char hex[MA_SHA256_HEX_LEN + 1];
  ma_hmac_sha256_hex(secret, secret_len, signed_text->str, signed_text->len, hex);
  g_string_free(signed_text, TRUE);
  return g_strdup_printf("t=%" G_GINT64_FORMAT ",v1=%s", t, hex);
}

gint64 webhook_backoff(int attempts, int max_backoff)
{
  if (attempts < 1) attempts = 1;
  if (max_backoff < 1) max_backoff = 1;
  gint64 delay = attempts > 31 ? max_backoff : MIN((gint64) 1 << (attempts - 1), (gint64) max_backoff);
  gint64 half = delay / 2;
  guint32 r;
  ma_random_bytes(&r, sizeof r);
  gint64 jittered = delay - half + (half > 0 ? (gint64) (r % (guint32) (half + 1)) : 0);
  return MAX(jittered, 1);
}

char *webhook_read_secret(const char *path, GError **error)
{
  if (!path) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "[webhook] secret_file is not set");
    return NULL;
  }
  char *data = NULL;
  gsize len = 0;
  if (!g_file_get_contents(path, &data, &len, error)) return NULL;
  if (len > SECRET_MAX) {
    g_free(data);
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "[webhook] secret_file is longer than %d bytes", SECRET_MAX);
    return NULL;
  }
  while (len > 0 && g_ascii_isspace(data[len - 1])) data[--len] = '\0';
  if (len == 0 || strlen(data) != len) {
    g_free(data);
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "[webhook] secret_file is empty or holds a NUL byte");
    return NULL;
  }
  return data;
}
