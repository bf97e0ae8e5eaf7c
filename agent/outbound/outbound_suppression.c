/* outbound_suppression.c - the operator's side of the suppression list (`mailagent suppression`,
 * /v1/suppressions): address validation, adding one address, importing a list, and the JSON shape
 * both the CLI and the API print. Bounces, complaints and unsubscribes add to the same list
 * themselves (outbound_bounce.c, outbound_unsubscribe.c); submission consults it
 * (outbound_submit.c).
 */
#include "outbound.h"

#include "agent/lib/clock.h"

#include <string.h>

static const char *const reasons[] = {"manual", "hard_bounce", "complaint", "unsubscribe", "soft_bounces", NULL};

json_t *outbound_suppression_json(const MaSuppression *s)
{
  char created[32];
  ma_time_format(s->created_at, created);
  json_t *o = json_object();
  json_object_set_new(o, "address", json_string(s->address));
  json_object_set_new(o, "reason", json_string(s->reason));
  json_object_set_new(o, "detail", s->detail ? json_string(s->detail) : json_null());
  json_object_set_new(o, "source", s->source ? json_string(s->source) : json_null());
  json_object_set_new(o, "created_at", json_string(created));
  return o;
}

char *outbound_suppression_address(const char *text, GError **error)
{
  g_autofree char *a = g_ascii_strdown(text ? text : "", -1);
  g_strstrip(a);
  const char *at = strrchr(a, '@');
  gboolean ok = at && at > a && at[1] && (gsize) (at - a) <= 64 && strlen(a) <= 254 && g_utf8_validate(a, -1, NULL);
  for (const char *p = a; ok && *p; p++) ok = (unsigned char) *p > ' ' && !strchr("<>\"(),;[]\\", *p);
  if (!ok) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "\"%s\" is not an address local@domain", text ? text : "");
    return NULL;
  }
  return g_steal_pointer(&a);
}

int outbound_suppression_add(MaStorage *st, const char *enterprise_id, const char *address, const char *reason,
                             const char *detail, GError **error)
{
  if (!reason) reason = "manual";
  gboolean known = FALSE;
  for (guint i = 0; reasons[i]; i++) known |= strcmp(reasons[i], reason) == 0;
  if (!known) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID,
                "reason \"%s\" is not one of manual, hard_bounce, complaint, unsubscribe, soft_bounces", reason);
    return -1;
  }
  if (detail && (strlen(detail) > 1000 || !g_utf8_validate(detail, -1, NULL))) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "detail: at most 1000 bytes of UTF-8");
    return -1;
  }
  g_autofree char *canon = outbound_suppression_address(address, error);
  if (!canon) return -1;
  MaSuppression s = {.enterprise_id = (char *) enterprise_id, .address = canon, .reason = (char *) reason,
                     .detail = (char *) detail, .created_at = ma_now()};
  return storage_suppression_add(st, &s, error);
}

int outbound_suppression_import(MaStorage *st, const char *enterprise_id, const char *text, gsize len, guint *added,
                                guint *present, GError **error)
{
  *added = *present = 0;
  if (!g_utf8_validate(text, (gssize) len, NULL)) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "the list is not UTF-8 text");
    return -1;
  }
  g_autofree char *copy = g_strndup(text, len);
  g_auto(GStrv) lines = g_strsplit(copy, "\n", -1);
  g_autoptr(GPtrArray) addresses = g_ptr_array_new_with_free_func(g_free);
  for (guint i = 0; lines[i]; i++) {
    char *line = g_strstrip(lines[i]);
    char *comma = strchr(line, ',');
    if (comma) *comma = '\0'; /* a CSV export: the address is the first column */
    g_strstrip(line);
    if (!*line || *line == '#' || (i == 0 && g_ascii_strcasecmp(line, "address") == 0)) continue;
    g_autoptr(GError) bad = NULL;
    char *a = outbound_suppression_address(line, &bad);
    if (!a) {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "line %u: %s; nothing was imported", i + 1, bad->message);
      return -1;
    }
    g_ptr_array_add(addresses, a);
  }
  gint64 now = ma_now();
  if (storage_begin(st, error) < 0) return -1;
  for (guint i = 0; i < addresses->len; i++) {
    MaSuppression s = {.enterprise_id = (char *) enterprise_id, .address = addresses->pdata[i], .reason = "manual",
                       .detail = "imported", .created_at = now};
    int rc = storage_suppression_add(st, &s, error);
    if (rc < 0) {
      storage_rollback(st);
      *added = *present = 0;
      return -1;
    }
    if (rc) (*added)++;
    else (*present)++;
  }
  return storage_commit(st, error);
}
