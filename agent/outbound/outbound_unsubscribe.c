/* outbound_unsubscribe.c - a recipient of mass mail unsubscribes, by the one-click POST of RFC 8058
 * to the List-Unsubscribe URL or by mail to the List-Unsubscribe mailto address; both carry the
 * unsubscribe token of its recipient row (agent/bounce/bounce_verp.h), verified by the caller.
 * The address goes on the enterprise's suppression list and recipient.unsubscribed is emitted in
 * the same transaction, once per recipient row however often the link is followed.
 *
 * The fields themselves are per recipient, so they are added at delivery to that recipient's copy
 * (outbound_list_unsubscribe_copy), with a DKIM signature of the enterprise's active keys over them:
 * the submission-time signature does not cover fields that were not there.
 */
#include "outbound.h"

#include "agent/bounce/bounce_verp.h"
#include "agent/dkim/dkim.h"
#include "agent/domains/domains.h"
#include "agent/lib/clock.h"
#include "agent/lib/log.h"

#include <jansson.h>
#include <string.h>

int outbound_unsubscribe(MaStorage *st, gint64 row_id, const char *via, GError **error)
{
  MaOutboundRecipient *r = NULL;
  int rc = storage_outbound_recipient_get(st, NULL, row_id, &r, error);
  if (rc <= 0) return rc;
  gint64 now = ma_now();
  g_autofree char *address = g_ascii_strdown(r->address, -1);
  g_autofree char *key = g_strdup_printf("recipient.unsubscribed:%s:%" G_GINT64_FORMAT, r->outbound_id, r->id);
  char at[32];
  ma_time_format(now, at);
  json_t *doc = json_object();
  json_object_set_new(doc, "address", json_string(address));
  json_object_set_new(doc, "outbound_id", json_string(r->outbound_id));
  json_object_set_new(doc, "via", json_string(via));
  json_object_set_new(doc, "time", json_string(at));
  json_object_set_new(doc, "idempotency_key", json_string(key));
  g_autofree char *payload = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  MaSuppression s = {.enterprise_id = r->enterprise_id, .address = address, .reason = "unsubscribe",
                     .detail = (char *) via, .source = r->outbound_id, .created_at = now};
  rc = storage_begin(st, error);
  int added = 0;
  if (rc == 0 && (added = storage_suppression_add(st, &s, error)) < 0) rc = -1;
  if (rc == 0 && storage_outbox_add(st, r->enterprise_id, "recipient.unsubscribed", key, payload, now, error) < 0) rc = -1;
  if (rc == 0) rc = storage_commit(st, error);
  else storage_rollback(st);
  if (rc == 0)
    ma_info("bounce", "enterprise=%s address=<%s> unsubscribed via=%s outbound=%s%s", r->enterprise_id, address, via,
            r->outbound_id, added ? "" : " (already suppressed)");
  ma_outbound_recipient_free(r);
  return rc < 0 ? -1 : 1;
}

/* Whether the header section of raw already has a List-Unsubscribe field (the CRM wrote its own). */
static gboolean has_list_unsubscribe(const char *raw, gsize len)
{
  const char *end = g_strstr_len(raw, (gssize) len, "\r\n\r\n");
  gsize head = end ? (gsize) (end - raw) + 2 : len;
  for (gsize i = 0; i < head;) {
    if (head - i > 17 && g_ascii_strncasecmp(raw + i, "List-Unsubscribe:", 17) == 0) return TRUE;
    const char *nl = memchr(raw + i, '\n', head - i);
    if (!nl) break;
    i = (gsize) (nl - raw) + 1;
  }
  return FALSE;
}

GBytes *outbound_list_unsubscribe_copy(MaStorage *st, const guint8 master_key[32], const guint8 token_key[32],
                                       const char *bounce_domain, const char *public_url, const char *enterprise_id,
                                       GBytes *raw, gint64 row_id, GError **error)
{
  gsize len = 0;
  const char *data = g_bytes_get_data(raw, &len);
  if (has_list_unsubscribe(data, len)) return g_bytes_ref(raw);
  char token[BOUNCE_TOKEN_LEN + 1];
  bounce_token_encode(token_key, BOUNCE_TOKEN_UNSUBSCRIBE, row_id, token);
  GString *g = g_string_new("List-Unsubscribe: ");
  if (public_url && *public_url) {
    gsize n = strlen(public_url);
    while (n > 0 && public_url[n - 1] == '/') n--;
    g_string_append_printf(g, "<%.*s/v1/unsubscribe/%s>,\r\n ", (int) n, public_url, token);
  }
  g_string_append_printf(g, "<mailto:%s@%s?subject=unsubscribe>\r\n", token, bounce_domain);
  if (public_url && *public_url) g_string_append(g, "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n");
  g_string_append_len(g, data, (gssize) len);
  /* a signature of our own over the new fields (and the rest): RFC 8058 section 4 */
  g_autofree char *domain = ma_dkim_from_domain(g->str, g->len);
  char *signature = NULL;
  if (domain && ma_domains_dkim_sign(st, master_key, enterprise_id, domain, g->str, g->len, NULL, &signature, error) < 0) {
    g_string_free(g, TRUE);
    return NULL;
  }
  if (signature) {
    g_string_prepend(g, signature);
    g_free(signature);
  }
  gsize out_len = g->len;
  return g_bytes_new_take(g_string_free(g, FALSE), out_len);
}
