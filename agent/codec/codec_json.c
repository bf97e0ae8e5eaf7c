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
#include "codec_writer.h"

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

/* Parses what a writer function wrote: the json_t form of a shape defined once, in writer form. */
static json_t *parsed(GString *text)
{
  json_error_t jerr;
  json_t *doc = json_loadb(text->str, text->len, 0, &jerr);
  if (!doc) g_error("codec: the writer produced invalid JSON: %s", jerr.text); /* a bug, not input */
  g_string_free(text, TRUE);
  return doc;
}

static void address_fields(CodecWriter *w, const char *name, const char *address)
{
  codec_writer_field_string(w, "name", name && *name ? name : NULL);
  codec_writer_field_string(w, "address", address ? address : "");
}

void codec_write_address(CodecWriter *w, const char *name, const char *address)
{
  codec_writer_object_begin(w);
  address_fields(w, name, address);
  codec_writer_object_end(w);
}

void codec_write_page_begin(CodecWriter *w)
{
  codec_writer_object_begin(w);
  codec_writer_key(w, "items");
  codec_writer_array_begin(w);
}

void codec_write_page_end(CodecWriter *w, const char *next_cursor)
{
  codec_writer_array_end(w);
  codec_writer_field_string(w, "next_cursor", next_cursor);
  codec_writer_object_end(w);
}

json_t *codec_address_to_json(const char *name, const char *address)
{
  CodecWriter w;
  codec_writer_init(&w, g_string_new(NULL));
  codec_write_address(&w, name, address);
  return parsed(w.out);
}

void codec_write_record_ref(CodecWriter *w, const MaRecordRef *ref)
{
  codec_writer_object_begin(w);
  codec_writer_field_string(w, "type", ma_record_type_name(ref->type));
  codec_writer_field_string(w, "id", ref->id);
  codec_writer_object_end(w);
}

json_t *codec_record_ref_to_json(const MaRecordRef *ref)
{
  CodecWriter w;
  codec_writer_init(&w, g_string_new(NULL));
  codec_write_record_ref(&w, ref);
  return parsed(w.out);
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

json_t *codec_outbox_event_to_json(const MaOutboxEvent *e, gboolean with_payload)
{
  json_t *o = json_object();
  json_object_set_new_nocheck(o, "id", json_sprintf("%" G_GINT64_FORMAT, e->seq));
  json_object_set_new_nocheck(o, "event", codec_string(e->event));
  json_object_set_new_nocheck(o, "enterprise_id", codec_string(e->enterprise_id));
  json_object_set_new_nocheck(o, "state", json_string(ma_outbox_state_name(e->state)));
  json_object_set_new_nocheck(o, "attempts", json_integer(e->attempts));
  json_object_set_new_nocheck(o, "created_at", codec_time(e->created_at));
  json_object_set_new_nocheck(o, "next_attempt_at",
                              e->state == MA_OUTBOX_PENDING ? codec_time(e->next_attempt_at) : json_null());
  json_object_set_new_nocheck(o, "last_error", codec_string(e->last_error));
  if (with_payload) {
    json_t *payload = e->payload ? json_loads(e->payload, 0, NULL) : NULL;
    json_object_set_new_nocheck(o, "payload", payload ? payload : json_null());
  }
  return o;
}

json_t *codec_audit_entry_to_json(const MaAuditEntry *e)
{
  json_t *o = json_object();
  json_object_set_new_nocheck(o, "id", json_sprintf("%" G_GINT64_FORMAT, e->seq));
  json_object_set_new_nocheck(o, "enterprise_id", codec_string(e->enterprise_id));
  json_object_set_new_nocheck(o, "actor", codec_string(e->actor));
  json_object_set_new_nocheck(o, "action", codec_string(e->action));
  json_object_set_new_nocheck(o, "target", codec_string(e->target));
  json_t *details = e->details ? json_loads(e->details, 0, NULL) : NULL;
  json_object_set_new_nocheck(o, "details", details ? details : json_null());
  json_object_set_new_nocheck(o, "at", codec_time(e->at));
  return o;
}

static void write_attachment(CodecWriter *w, const MaAttachment *a)
{
  codec_writer_object_begin(w);
  codec_writer_field_string(w, "filename", a->filename);
  codec_writer_field_string(w, "content_type", a->content_type);
  codec_writer_field_string(w, "content_id", a->content_id);
  codec_writer_field_bool(w, "inline", a->is_inline);
  codec_writer_field_int(w, "size", (gint64)a->size);
  codec_writer_field_string(w, "sha256", a->sha256);
  codec_writer_object_end(w);
}

json_t *codec_attachment_to_json(const MaAttachment *a)
{
  CodecWriter w;
  codec_writer_init(&w, g_string_new(NULL));
  write_attachment(&w, a);
  return parsed(w.out);
}

/* The participants of one role as an array of addresses. */
static void write_role_array(CodecWriter *w, const GPtrArray *parts, MaRole role)
{
  codec_writer_array_begin(w);
  for (guint i = 0; parts && i < parts->len; i++) {
    const MaParticipant *p = g_ptr_array_index(parts, i);
    if (p->role == role) codec_write_address(w, p->name, p->address);
  }
  codec_writer_array_end(w);
}

static void write_first_of_role(CodecWriter *w, const GPtrArray *parts, MaRole role)
{
  for (guint i = 0; parts && i < parts->len; i++) {
    const MaParticipant *p = g_ptr_array_index(parts, i);
    if (p->role == role) {
      codec_write_address(w, p->name, p->address);
      return;
    }
  }
  codec_writer_null(w);
}

/* The fields of m, into the object being written (a timeline item writes its "kind" first). */
static void message_fields(CodecWriter *w, const MaStoredMessage *m, gboolean full)
{
  codec_writer_field_string(w, "id", m->id);
  codec_writer_field_string(w, "thread_id", m->thread_id);
  codec_writer_field_time(w, "date", m->date);
  codec_writer_field_string(w, "direction", ma_direction_name(m->direction));
  codec_writer_key(w, "from");
  write_first_of_role(w, m->participants, MA_ROLE_FROM);
  codec_writer_key(w, "to");
  write_role_array(w, m->participants, MA_ROLE_TO);
  codec_writer_key(w, "cc");
  write_role_array(w, m->participants, MA_ROLE_CC);
  codec_writer_field_string(w, "subject", m->subject ? m->subject : "");
  codec_writer_field_string(w, "snippet", m->snippet ? m->snippet : "");
  codec_writer_key(w, "attachments");
  codec_writer_array_begin(w);
  for (guint i = 0; m->attachments && i < m->attachments->len; i++)
    write_attachment(w, g_ptr_array_index(m->attachments, i));
  codec_writer_array_end(w);
  codec_writer_key(w, "records");
  codec_writer_array_begin(w);
  for (guint i = 0; m->links && i < m->links->len; i++)
    codec_write_record_ref(w, g_ptr_array_index(m->links, i));
  codec_writer_array_end(w);
  codec_writer_field_string(w, "parse_error", m->parse_error);
  codec_writer_field_bool(w, "is_auto", (m->machine & MA_MACHINE_AUTO) != 0);
  codec_writer_field_bool(w, "is_bulk", (m->machine & MA_MACHINE_BULK) != 0);
  if (!full) return;
  codec_writer_field_string(w, "message_id", m->message_id);
  codec_writer_field_string(w, "text", m->text ? m->text : "");
  codec_writer_key(w, "participants");
  codec_writer_array_begin(w);
  for (guint i = 0; m->participants && i < m->participants->len; i++) {
    const MaParticipant *p = g_ptr_array_index(m->participants, i);
    codec_writer_object_begin(w);
    address_fields(w, p->name, p->address);
    codec_writer_field_string(w, "role", ma_role_name(p->role));
    codec_writer_object_end(w);
  }
  codec_writer_array_end(w);
  codec_writer_field_int(w, "size", (gint64)m->size);
  codec_writer_field_time(w, "archived_at", m->archived_at);
}

static GString *message_text(const MaStoredMessage *m, gboolean full)
{
  CodecWriter w;
  codec_writer_init(&w, g_string_sized_new(512));
  codec_writer_object_begin(&w);
  message_fields(&w, m, full);
  codec_writer_object_end(&w);
  return w.out;
}

char *codec_message_json_text(const MaStoredMessage *m, gboolean full)
{
  return g_string_free(message_text(m, full), FALSE);
}

json_t *codec_message_to_json(const MaStoredMessage *m, gboolean full)
{
  return parsed(message_text(m, full));
}

static void activity_fields(CodecWriter *w, const MaActivity *a)
{
  codec_writer_field_string(w, "id", a->id);
  codec_writer_field_string(w, "message_id", a->message_id);
  codec_writer_key(w, "record");
  codec_write_record_ref(w, &a->record);
  codec_writer_field_string(w, "rule_id", a->rule_id);
  codec_writer_field_string(w, "rule_name", a->rule_name);
  codec_writer_field_string(w, "activity_type", a->activity_type);
  codec_writer_field_string(w, "title", a->title);
  codec_writer_field_string(w, "content", a->content);
  codec_writer_field_string(w, "owner", a->owner);
  codec_writer_field_time(w, "date", a->message_date);
  codec_writer_field_time(w, "created_at", a->created_at);
}

static GString *activity_text(const MaActivity *a)
{
  CodecWriter w;
  codec_writer_init(&w, g_string_sized_new(512));
  codec_writer_object_begin(&w);
  activity_fields(&w, a);
  codec_writer_object_end(&w);
  return w.out;
}

char *codec_activity_json_text(const MaActivity *a)
{
  return g_string_free(activity_text(a), FALSE);
}

json_t *codec_activity_to_json(const MaActivity *a)
{
  return parsed(activity_text(a));
}

json_t *codec_delivery_to_json(const GPtrArray *recipients)
{
  CodecWriter w;
  codec_writer_init(&w, g_string_new(NULL));
  codec_writer_object_begin(&w);
  codec_write_delivery(&w, recipients);
  codec_writer_object_end(&w);
  GString *text = w.out;
  json_t *doc = json_loadb(text->str, text->len, 0, NULL);
  g_string_free(text, TRUE);
  json_t *delivery = json_incref(json_object_get(doc, "delivery"));
  json_decref(doc);
  return delivery;
}

void codec_write_delivery(CodecWriter *w, const GPtrArray *recipients)
{
  codec_writer_key(w, "delivery");
  codec_writer_array_begin(w);
  for (guint i = 0; i < recipients->len; i++) {
    const MaOutboundRecipient *r = recipients->pdata[i];
    codec_writer_object_begin(w);
    codec_writer_field_string(w, "address", r->address);
    codec_writer_field_string(w, "state", ma_outbound_state_name(r->state));
    codec_writer_field_string(w, "reply", r->last_reply);
    codec_writer_field_int(w, "attempts", r->attempts);
    codec_writer_field_time(w, "last_attempt_at", r->last_attempt_at);
    codec_writer_field_time(w, "updated_at", r->updated_at);
    codec_writer_object_end(w);
  }
  codec_writer_array_end(w);
}

void codec_write_timeline_item(CodecWriter *w, const MaTimelineItem *item)
{
  codec_writer_object_begin(w);
  codec_writer_field_string(w, "kind", item->is_activity ? "activity" : "message");
  if (item->is_activity)
    activity_fields(w, item->activity);
  else
    message_fields(w, item->message, FALSE);
  if (item->delivery) codec_write_delivery(w, item->delivery);
  codec_writer_object_end(w);
}

json_t *codec_timeline_item_to_json(const MaTimelineItem *item)
{
  CodecWriter w;
  codec_writer_init(&w, g_string_new(NULL));
  codec_write_timeline_item(&w, item);
  return parsed(w.out);
}

int codec_timeline_filter_parse(const char *direction, const char *since, const char *until, const char *has_attachment,
                                const char *thread, MaTimelineFilter *f, GError **error)
{
  memset(f, 0, sizeof *f);
  f->has_attachment = -1;
  if (direction) {
    if (!strcmp(direction, "in") || !strcmp(direction, "inbound")) f->direction = "inbound";
    else if (!strcmp(direction, "out") || !strcmp(direction, "outbound")) f->direction = "outbound";
    else {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "direction \"%s\": use inbound or outbound (in, out)", direction);
      return -1;
    }
  }
  if (since && ma_time_parse(since, &f->since) < 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "since \"%s\": use a date (2024-01-31) or an RFC 3339 time", since);
    return -1;
  }
  if (until) {
    if (ma_time_parse(until, &f->until) < 0) {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "until \"%s\": use a date (2024-01-31) or an RFC 3339 time", until);
      return -1;
    }
    if (strlen(until) == 10) f->until += 86400; /* a bare date includes that day */
  }
  if (f->since && f->until && f->until <= f->since) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "until must be after since");
    return -1;
  }
  if (has_attachment) {
    if (!strcmp(has_attachment, "true") || !strcmp(has_attachment, "yes")) f->has_attachment = 1;
    else if (!strcmp(has_attachment, "false") || !strcmp(has_attachment, "no")) f->has_attachment = 0;
    else {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "has_attachment \"%s\": use true or false", has_attachment);
      return -1;
    }
  }
  if (thread && !*thread) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "thread: a thread id");
    return -1;
  }
  f->thread_id = thread;
  return 0;
}

gint64 codec_seq_parse(const char *text)
{
  char *end = NULL;
  gint64 v = text && *text ? g_ascii_strtoll(text, &end, 10) : 0;
  return end && *end == '\0' && v > 0 ? v : 0;
}

char *codec_seq_page_trim(GPtrArray *items, guint limit, gint64 (*seq_of)(gconstpointer item))
{
  if (limit == 0 || items->len <= limit) return NULL;
  g_ptr_array_set_size(items, limit);
  return g_strdup_printf("%" G_GINT64_FORMAT, seq_of(items->pdata[limit - 1]));
}
