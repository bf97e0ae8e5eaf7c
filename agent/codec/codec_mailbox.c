/* codec_mailbox.c - the JSON of a mailbox binding and its status, shared by `mailbox --json` and
 * /v1/mailboxes. The sealed secret is never written; times are RFC 3339 or null.
 */
#include "codec.h"

#include "agent/lib/clock.h"

static json_t *time_or_null(gint64 t)
{
  if (t <= 0) return json_null();
  char buf[32];
  ma_time_format(t, buf);
  return json_string(buf);
}

static json_t *str_or_null(const char *s)
{
  return s ? json_string(s) : json_null();
}

json_t *codec_mailbox_to_json(const MaMailbox *m, GPtrArray *quarantine)
{
  json_t *o = json_object();
  json_object_set_new(o, "id", json_string(m->id));
  json_object_set_new(o, "enterprise_id", json_string(m->enterprise_id));
  json_object_set_new(o, "employee_id", str_or_null(m->employee_id));
  json_object_set_new(o, "email", json_string(m->email));
  json_object_set_new(o, "username", json_string(m->username));
  json_object_set_new(o, "protocol", json_string(m->protocol));
  json_object_set_new(o, "host", json_string(m->host));
  json_object_set_new(o, "port", json_integer(m->port));
  json_object_set_new(o, "security", json_string(m->security));
  json_object_set_new(o, "auth", json_string(m->auth));
  json_object_set_new(o, "preset", str_or_null(m->preset));
  json_object_set_new(o, "untrusted_certificate_allowed", json_boolean(m->allow_untrusted));
  json_t *folders = json_array();
  if (m->folders) {
    g_auto(GStrv) names = g_strsplit(m->folders, "\n", -1);
    for (char **n = names; *n; n++) json_array_append_new(folders, json_string(*n));
  }
  json_object_set_new(o, "folders", folders);
  json_object_set_new(o, "archiving", json_boolean(m->archiving));
  json_object_set_new(o, "state", json_string(m->state));
  json_object_set_new(o, "created_at", time_or_null(m->created_at));
  json_object_set_new(o, "last_sync_at", time_or_null(m->last_sync_at));
  json_object_set_new(o, "last_error", str_or_null(m->last_error));
  json_object_set_new(o, "last_error_at", time_or_null(m->last_error ? m->last_error_at : 0));
  json_object_set_new(o, "next_attempt_at", time_or_null(g_strcmp0(m->state, "active") == 0 ? m->next_attempt_at : 0));
  json_object_set_new(o, "smtp", m->smtp_host ? json_pack("{s:s, s:i, s:s}", "host", m->smtp_host, "port", m->smtp_port,
                                                          "security", m->smtp_security ? m->smtp_security : "tls")
                                             : json_null());
  json_object_set_new(o, "sent_copy", json_boolean(m->smtp_host && m->sent_copy));
  json_object_set_new(o, "daily_limit", json_integer(m->daily_limit));
  json_object_set_new(o, "counts", json_pack("{s:I, s:I, s:I, s:I}", "fetched", (json_int_t)m->fetched, "archived",
                                             (json_int_t)m->archived, "skipped", (json_int_t)m->skipped, "quarantined",
                                             (json_int_t)m->quarantined));
  if (quarantine) {
    json_t *q = json_array();
    for (guint i = 0; i < quarantine->len; i++) json_array_append_new(q, json_string(g_ptr_array_index(quarantine, i)));
    json_object_set_new(o, "quarantine", q);
  }
  return o;
}
