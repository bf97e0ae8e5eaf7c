/* codec_json.c - JSON builders for enterprises, employees, API keys, messages, activities and
 * timeline items, with the field names of the HTTP API (DESIGN.md "User-visible contract"): ids
 * are strings, times RFC 3339 UTC (null when unknown), an address is {"name","address"}, record
 * references are {"type","id"}, timeline items carry "kind".
 *
 * Every builder returns a new reference the caller json_decref's; inputs are only read. Never puts
 * secrets in the output (API keys show their prefix only) and never the html body (the API adds
 * it after sanitising). Keys are this file's string literals, so they are set without jansson's
 * UTF-8 check (json_object_set_new_nocheck); values go through codec_string, which checks once.
 */
#include "codec.h"

#include "agent/lib/clock.h"

#include <string.h>

json_t *codec_string(const char *s)
{
  if (!s) return json_null();
  const char *end = NULL;
  /* Validated here once; jansson's own check would walk the string a second time. */
  if (g_utf8_validate(s, -1, &end)) return json_stringn_nocheck(s, (size_t)(end - s));
  char *valid = g_utf8_make_valid(s, -1);
  json_t *j = json_string(valid);
  g_free(valid);
  return j ? j : json_string("");
}

json_t *codec_time(gint64 unix_seconds)
{
  if (unix_seconds <= 0) return json_null();
  char buf[32];
  ma_time_format(unix_seconds, buf);
  return json_string(buf);
}

json_t *codec_string_array(const GPtrArray *a)
{
  json_t *arr = json_array();
  for (guint i = 0; a && i < a->len; i++) json_array_append_new(arr, codec_string(g_ptr_array_index(a, i)));
  return arr;
}

char *codec_inbound_address(const char *local, const char *inbound_domain)
{
  return g_strconcat(local, "@", inbound_domain ? inbound_domain : "inbound.localhost", NULL);
}

json_t *codec_page(json_t *items, const char *next_cursor)
{
  json_t *o = json_object();
  json_object_set_new_nocheck(o, "items", items ? items : json_array());
  json_object_set_new_nocheck(o, "next_cursor", codec_string(next_cursor));
  return o;
}

json_t *codec_address_to_json(const char *name, const char *address)
{
  json_t *o = json_object();
  json_object_set_new_nocheck(o, "name", codec_string(name && *name ? name : NULL));
  json_object_set_new_nocheck(o, "address", codec_string(address ? address : ""));
  return o;
}

json_t *codec_record_ref_to_json(const MaRecordRef *ref)
{
  json_t *o = json_object();
  json_object_set_new_nocheck(o, "type", json_string(ma_record_type_name(ref->type)));
  json_object_set_new_nocheck(o, "id", codec_string(ref->id));
  return o;
}

json_t *codec_enterprise_to_json(const MaEnterprise *e, const char *inbound_domain)
{
  json_t *o = json_object();
  json_object_set_new_nocheck(o, "id", codec_string(e->id));
  json_object_set_new_nocheck(o, "slug", codec_string(e->slug));
  json_object_set_new_nocheck(o, "name", codec_string(e->name));
  json_object_set_new_nocheck(o, "domains", codec_string_array(e->domains));
  if (e->inbound_local) {
    char *addr = codec_inbound_address(e->inbound_local, inbound_domain);
    json_object_set_new_nocheck(o, "inbound_address", codec_string(addr));
    g_free(addr);
  } else {
    json_object_set_new_nocheck(o, "inbound_address", json_null());
  }
  json_object_set_new_nocheck(o, "created_at", codec_time(e->created_at));
  return o;
}

json_t *codec_employee_to_json(const MaEmployee *e)
{
  json_t *o = json_object();
  json_object_set_new_nocheck(o, "id", codec_string(e->id));
  json_object_set_new_nocheck(o, "enterprise_id", codec_string(e->enterprise_id));
  json_object_set_new_nocheck(o, "email", codec_string(e->email));
  json_object_set_new_nocheck(o, "name", codec_string(e->name));
  json_object_set_new_nocheck(o, "created_at", codec_time(e->created_at));
  return o;
}

json_t *codec_api_key_to_json(const MaApiKey *k)
{
  json_t *o = json_object();
  json_object_set_new_nocheck(o, "id", codec_string(k->id));
  json_object_set_new_nocheck(o, "scope", json_string(k->enterprise_id ? "enterprise" : "admin"));
  json_object_set_new_nocheck(o, "enterprise_id", codec_string(k->enterprise_id));
  json_object_set_new_nocheck(o, "label", codec_string(k->label));
  json_object_set_new_nocheck(o, "prefix", codec_string(k->prefix));
  json_object_set_new_nocheck(o, "created_at", codec_time(k->created_at));
  json_object_set_new_nocheck(o, "revoked_at", codec_time(k->revoked_at));
  return o;
}

json_t *codec_attachment_to_json(const MaAttachment *a)
{
  json_t *o = json_object();
  json_object_set_new_nocheck(o, "filename", codec_string(a->filename));
  json_object_set_new_nocheck(o, "content_type", codec_string(a->content_type));
  json_object_set_new_nocheck(o, "content_id", codec_string(a->content_id));
  json_object_set_new_nocheck(o, "inline", json_boolean(a->is_inline));
  json_object_set_new_nocheck(o, "size", json_integer((json_int_t)a->size));
  json_object_set_new_nocheck(o, "sha256", json_string(a->sha256));
  return o;
}

/* The participants of one role as an array of addresses. */
static json_t *role_array(const GPtrArray *parts, MaRole role)
{
  json_t *arr = json_array();
  for (guint i = 0; parts && i < parts->len; i++) {
    const MaParticipant *p = g_ptr_array_index(parts, i);
    if (p->role == role) json_array_append_new(arr, codec_address_to_json(p->name, p->address));
  }
  return arr;
}

static json_t *first_of_role(const GPtrArray *parts, MaRole role)
{
  for (guint i = 0; parts && i < parts->len; i++) {
    const MaParticipant *p = g_ptr_array_index(parts, i);
    if (p->role == role) return codec_address_to_json(p->name, p->address);
  }
  return json_null();
}

/* Adds the fields of m to o (a timeline item adds them after its "kind"). */
static void message_fields(json_t *o, const MaStoredMessage *m, gboolean full)
{
  json_object_set_new_nocheck(o, "id", codec_string(m->id));
  json_object_set_new_nocheck(o, "thread_id", codec_string(m->thread_id));
  json_object_set_new_nocheck(o, "date", codec_time(m->date));
  json_object_set_new_nocheck(o, "direction", json_string(ma_direction_name(m->direction)));
  json_object_set_new_nocheck(o, "from", first_of_role(m->participants, MA_ROLE_FROM));
  json_object_set_new_nocheck(o, "to", role_array(m->participants, MA_ROLE_TO));
  json_object_set_new_nocheck(o, "cc", role_array(m->participants, MA_ROLE_CC));
  json_object_set_new_nocheck(o, "subject", codec_string(m->subject ? m->subject : ""));
  json_object_set_new_nocheck(o, "snippet", codec_string(m->snippet ? m->snippet : ""));
  json_t *atts = json_array();
  for (guint i = 0; m->attachments && i < m->attachments->len; i++)
    json_array_append_new(atts, codec_attachment_to_json(g_ptr_array_index(m->attachments, i)));
  json_object_set_new_nocheck(o, "attachments", atts);
  json_t *recs = json_array();
  for (guint i = 0; m->links && i < m->links->len; i++)
    json_array_append_new(recs, codec_record_ref_to_json(g_ptr_array_index(m->links, i)));
  json_object_set_new_nocheck(o, "records", recs);
  if (full) {
    json_object_set_new_nocheck(o, "message_id", codec_string(m->message_id));
    json_object_set_new_nocheck(o, "text", codec_string(m->text ? m->text : ""));
    json_t *parts = json_array();
    for (guint i = 0; m->participants && i < m->participants->len; i++) {
      const MaParticipant *p = g_ptr_array_index(m->participants, i);
      json_t *a = codec_address_to_json(p->name, p->address);
      json_object_set_new_nocheck(a, "role", json_string(ma_role_name(p->role)));
      json_array_append_new(parts, a);
    }
    json_object_set_new_nocheck(o, "participants", parts);
    json_object_set_new_nocheck(o, "size", json_integer((json_int_t)m->size));
    json_object_set_new_nocheck(o, "archived_at", codec_time(m->archived_at));
  }
}

json_t *codec_message_to_json(const MaStoredMessage *m, gboolean full)
{
  json_t *o = json_object();
  message_fields(o, m, full);
  return o;
}

static void activity_fields(json_t *o, const MaActivity *a)
{
  json_object_set_new_nocheck(o, "id", codec_string(a->id));
  json_object_set_new_nocheck(o, "message_id", codec_string(a->message_id));
  json_object_set_new_nocheck(o, "record", codec_record_ref_to_json(&a->record));
  json_object_set_new_nocheck(o, "rule_id", codec_string(a->rule_id));
  json_object_set_new_nocheck(o, "rule_name", codec_string(a->rule_name));
  json_object_set_new_nocheck(o, "activity_type", codec_string(a->activity_type));
  json_object_set_new_nocheck(o, "title", codec_string(a->title));
  json_object_set_new_nocheck(o, "content", codec_string(a->content));
  json_object_set_new_nocheck(o, "owner", codec_string(a->owner));
  json_object_set_new_nocheck(o, "date", codec_time(a->message_date));
  json_object_set_new_nocheck(o, "created_at", codec_time(a->created_at));
}

json_t *codec_activity_to_json(const MaActivity *a)
{
  json_t *o = json_object();
  activity_fields(o, a);
  return o;
}

json_t *codec_timeline_item_to_json(const MaTimelineItem *item)
{
  json_t *o = json_object();
  json_object_set_new_nocheck(o, "kind", json_string(item->is_activity ? "activity" : "message"));
  if (item->is_activity)
    activity_fields(o, item->activity);
  else
    message_fields(o, item->message, FALSE);
  return o;
}
