/* model.c - constructors, destructors and name tables for the shared data types in model.h. */
#include "model.h"

#include <string.h>

static const char *const role_names[] = {"from", "sender", "to", "cc", "bcc", "reply_to"};
static const char *const record_type_names[] = {"account", "contact", "lead", "opportunity"};
static const char *const stage_names[] = {NULL, "open", "won", "lost"};

static int name_lookup(const char *const *names, int count, const char *name)
{
  if (!name) return -1;
  for (int i = 0; i < count; i++)
    if (names[i] && strcmp(names[i], name) == 0) return i;
  return -1;
}

const char *ma_role_name(MaRole role) { return role_names[role]; }
int ma_role_parse(const char *name) { return name_lookup(role_names, G_N_ELEMENTS(role_names), name); }
const char *ma_record_type_name(MaRecordType t) { return record_type_names[t]; }
int ma_record_type_parse(const char *name)
{
  return name_lookup(record_type_names, G_N_ELEMENTS(record_type_names), name);
}
const char *ma_stage_name(MaStage s) { return stage_names[s]; }
int ma_stage_parse(const char *name) { return name_lookup(stage_names, G_N_ELEMENTS(stage_names), name); }
const char *ma_direction_name(MaDirection d) { return d == MA_DIRECTION_OUTBOUND ? "outbound" : "inbound"; }

MaParticipant *ma_participant_new(MaRole role, const char *name, const char *address)
{
  MaParticipant *p = g_new0(MaParticipant, 1);
  p->role = role;
  p->name = (name && *name) ? g_strdup(name) : NULL;
  p->address = g_strdup(address ? address : "");
  return p;
}

void ma_participant_free(MaParticipant *p)
{
  if (!p) return;
  g_free(p->name);
  g_free(p->address);
  g_free(p);
}

const char *ma_address_domain(const char *address)
{
  const char *at = address ? strrchr(address, '@') : NULL;
  return at ? at + 1 : NULL;
}

char *ma_utf8_lower(const char *s)
{
  return g_str_is_ascii(s) ? g_ascii_strdown(s, -1) : g_utf8_strdown(s, -1);
}

char *ma_domain_to_unicode(const char *domain)
{
  char *lower = ma_utf8_lower(domain);
  char *uni = g_hostname_to_unicode(lower);
  if (!uni || !g_utf8_validate(uni, -1, NULL)) {
    g_free(uni);
    return lower;
  }
  g_free(lower);
  return uni;
}

gboolean ma_address_key_is_folded(const char *address, gboolean strip_plus)
{
  for (const unsigned char *c = (const unsigned char *) address; *c; c++)
    if (*c >= 0x80 || (*c >= 'A' && *c <= 'Z') || (strip_plus && *c == '+')) return FALSE;
  return TRUE;
}

char *ma_address_key(const char *address, gboolean strip_plus)
{
  char *key = ma_utf8_lower(address);
  if (strip_plus) {
    char *at = strrchr(key, '@');
    char *plus = strchr(key, '+');
    if (at && plus && plus < at && plus > key) memmove(plus, at, strlen(at) + 1);
  }
  return key;
}

MaAttachment *ma_attachment_new(void) { return g_new0(MaAttachment, 1); }

void ma_attachment_free(MaAttachment *a)
{
  if (!a) return;
  g_free(a->filename);
  g_free(a->content_type);
  g_free(a->content_id);
  if (a->data) g_bytes_unref(a->data);
  g_free(a);
}

gsize ma_text_lf(const char *src, gsize len, char *dst)
{
  const char *p = src, *end = src + len;
  char *o = dst;
  while (p < end) { /* the run up to the next CR, then one LF for a CRLF or a lone CR */
    const char *cr = memchr(p, '\r', (gsize) (end - p));
    gsize run = (gsize) ((cr ? cr : end) - p);
    if (o != p) memmove(o, p, run);
    o += run;
    p += run;
    if (!cr) break;
    *o++ = '\n';
    p += p + 1 < end && p[1] == '\n' ? 2 : 1;
  }
  return (gsize) (o - dst);
}

MaMessage *ma_message_new(void)
{
  MaMessage *m = g_new0(MaMessage, 1);
  m->references = g_ptr_array_new_with_free_func(g_free);
  m->participants = g_ptr_array_new_with_free_func((GDestroyNotify)ma_participant_free);
  m->attachments = g_ptr_array_new_with_free_func((GDestroyNotify)ma_attachment_free);
  m->warnings = g_ptr_array_new_with_free_func(g_free);
  m->subject = g_strdup("");
  m->text = g_strdup("");
  return m;
}

void ma_message_free(MaMessage *m)
{
  if (!m) return;
  g_free(m->message_id);
  g_free(m->in_reply_to);
  g_ptr_array_unref(m->references);
  g_free(m->subject);
  g_ptr_array_unref(m->participants);
  g_free(m->text);
  g_free(m->html);
  g_ptr_array_unref(m->attachments);
  g_free(m->signals.resent_from);
  g_free(m->signals.x_forwarded_for);
  g_free(m->signals.x_forwarded_to);
  g_free(m->signals.delivered_to);
  g_free(m->machine.auto_submitted);
  g_free(m->machine.x_autoreply);
  g_free(m->machine.x_autorespond);
  g_free(m->machine.precedence);
  g_free(m->machine.list_id);
  g_free(m->machine.list_unsubscribe);
  g_free(m->forwarder_address);
  g_free(m->forward_kind);
  g_ptr_array_unref(m->warnings);
  g_free(m);
}

MaRecord *ma_record_new(MaRecordType type, const char *id)
{
  MaRecord *r = g_new0(MaRecord, 1);
  r->type = type;
  r->id = g_strdup(id);
  r->emails = g_ptr_array_new_with_free_func(g_free);
  r->domains = g_ptr_array_new_with_free_func(g_free);
  r->contact_ids = g_ptr_array_new_with_free_func(g_free);
  r->attributes_json = g_strdup("{}");
  return r;
}

void ma_record_free(MaRecord *r)
{
  if (!r) return;
  g_free(r->id);
  g_free(r->name);
  g_ptr_array_unref(r->emails);
  g_ptr_array_unref(r->domains);
  g_free(r->account_id);
  g_ptr_array_unref(r->contact_ids);
  g_free(r->attributes_json);
  g_free(r);
}

MaRecordRef *ma_record_ref_new(MaRecordType type, const char *id)
{
  MaRecordRef *r = g_new0(MaRecordRef, 1);
  r->type = type;
  r->id = g_strdup(id);
  return r;
}

void ma_record_ref_free(MaRecordRef *r)
{
  if (!r) return;
  g_free(r->id);
  g_free(r->reason);
  g_free(r);
}

MaProvenance *ma_provenance_new(const char *route)
{
  MaProvenance *p = g_new0(MaProvenance, 1);
  p->route = g_strdup(route);
  return p;
}

void ma_provenance_free(MaProvenance *p)
{
  if (!p) return;
  g_free(p->route);
  g_free(p->employee_id);
  g_free(p->signal);
  g_free(p->mailbox);
  g_free(p->client);
  g_free(p->envelope_from);
  g_free(p->spool_id);
  g_free(p);
}
