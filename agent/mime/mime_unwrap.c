/* mime_unwrap.c - hand forwards: replaces the forwarding message by the original it carries,
 * following the rules written in mime.h (an attached message/rfc822, or an inline header block
 * found by forward.c). The outer message's Message-ID/References never survive an unwrap; the
 * forward signals (Resent-From, X-Forwarded-*, Delivered-To), the machine-mail signals and the
 * warnings always do. Reports (multipart/report: DSNs, ARF, read receipts) are never unwrapped.
 * Reads GMime objects only; one level of unwrapping (a forward inside a forward stays wrapped).
 */
#include "mime_gmime.h"

#include <string.h>

#include "agent/mime/forward.h"

static guint count_nonempty_lines(const char *text, gsize len)
{
  guint n = 0;
  const char *p = text, *end = text + len;
  while (p < end) {
    const char *nl = memchr(p, '\n', (gsize)(end - p));
    const char *le = nl ? nl : end;
    for (const char *q = p; q < le; q++)
      if (!g_ascii_isspace(*q)) {
        n++;
        break;
      }
    p = nl ? nl + 1 : end;
  }
  return n;
}

static char *first_from(const MaMessage *m)
{
  for (guint i = 0; i < m->participants->len; i++) {
    const MaParticipant *p = g_ptr_array_index(m->participants, i);
    if (p->role == MA_ROLE_FROM) return g_strdup(p->address);
  }
  return NULL;
}

/* Moves what always belongs to the received message from outer to the new result. */
static void carry_over(MaMessage *outer, MaMessage *o, const char *kind)
{
  o->signals = outer->signals;
  memset(&outer->signals, 0, sizeof outer->signals);
  o->machine = outer->machine;
  memset(&outer->machine, 0, sizeof outer->machine);
  for (guint i = 0; i < outer->warnings->len; i++)
    mime_warn(o->warnings, g_ptr_array_index(outer->warnings, i));
  o->unwrapped = TRUE;
  o->forwarder_address = first_from(outer);
  o->forward_kind = g_strdup(kind);
}

static gboolean unwrap_rfc822(MimeSource *src, MaMessage **mp, MimeBody *b)
{
  GMimeMessage *inner = g_mime_message_part_get_message(b->rfc822);
  if (!inner) return FALSE;
  GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(inner));
  if (!hl || g_mime_header_list_get_count(hl) == 0) return FALSE;
  MaMessage *o = ma_message_new();
  mime_fill_headers(o, inner, src->options);
  MimeBody ib;
  mime_body_init(&ib);
  GMimeObject *root = g_mime_message_get_mime_part(inner);
  if (root) mime_body_walk(src, root, &ib);
  mime_fill_body(o, &ib);
  mime_body_clear(&ib);
  if (o->participants->len == 0) {
    ma_message_free(o);
    return FALSE;
  }
  carry_over(*mp, o, "rfc822");
  ma_message_free(*mp);
  *mp = o;
  return TRUE;
}

static void add_block_addresses(MaMessage *o, const char *list, MaRole role)
{
  if (!list) return;
  GPtrArray *tmp = g_ptr_array_new_with_free_func((GDestroyNotify)ma_participant_free);
  forward_parse_addresses(list, (int)role, tmp);
  for (guint i = 0; i < tmp->len; i++) {
    MaParticipant *p = g_ptr_array_index(tmp, i);
    char *addr = mime_address_normalise(p->address);
    if (addr) g_ptr_array_add(o->participants, ma_participant_new(role, p->name, addr));
    g_free(addr);
  }
  g_ptr_array_unref(tmp);
}

static gboolean unwrap_inline(MaMessage **mp, MimeBody *b, gboolean fwd_subject, const char *subject_rest)
{
  MaMessage *m = *mp;
  MaForwardBlock *blk = NULL;
  int found = 0;
  if (b->have_plain && m->text[0])
    found = forward_find_in_text(m->text, &blk);
  else if (m->html)
    found = forward_find_in_html(m->html, strlen(m->html), &blk);
  if (found != 1 || !blk) return FALSE;
  /* Outlook and QQ write the same header block above a quoted REPLY: without a forward prefix
   * in the subject, only a block whose separator says "forwarded" counts, and only below a
   * short note. */
  gboolean near = blk->note_lines <= MIME_UNWRAP_MAX_OWN_LINES;
  if (!fwd_subject && !(blk->marked && near)) {
    ma_forward_block_free(blk);
    return FALSE;
  }
  MaMessage *o = ma_message_new();
  add_block_addresses(o, blk->from, MA_ROLE_FROM);
  if (o->participants->len == 0) {
    ma_message_free(o);
    ma_forward_block_free(blk);
    return FALSE;
  }
  add_block_addresses(o, blk->to, MA_ROLE_TO);
  add_block_addresses(o, blk->cc, MA_ROLE_CC);
  g_free(o->subject);
  if (blk->subject && *blk->subject)
    o->subject = g_strstrip(g_strdup(blk->subject));
  else
    o->subject = g_strdup(subject_rest ? subject_rest : m->subject);
  o->date = blk->date ? forward_parse_date(blk->date) : 0;
  g_free(o->text);
  o->text = g_strdup(blk->body ? blk->body : "");
  for (guint i = 0; i < m->attachments->len; i++)
    g_ptr_array_add(o->attachments, g_steal_pointer(&g_ptr_array_index(m->attachments, i)));
  g_ptr_array_set_size(m->attachments, 0);
  carry_over(m, o, blk->kind ? blk->kind : "inline");
  ma_forward_block_free(blk);
  ma_message_free(m);
  *mp = o;
  return TRUE;
}

/* Without a forward prefix, an attached message is only a forward when the outer subject is
 * empty or the same as the attached one's (forward-as-attachment keeps it); "Re: ..." with an
 * old mail attached is a reply. */
static gboolean same_subject(const char *outer, GMimeMessage *inner)
{
  if (!*outer) return TRUE;
  const char *is = g_mime_message_get_subject(inner);
  if (!is) return FALSE;
  char *a = g_utf8_casefold(outer, -1), *v = g_utf8_make_valid(is, -1), *b = g_utf8_casefold(g_strstrip(v), -1);
  gboolean same = strcmp(a, b) == 0;
  g_free(a);
  g_free(b);
  g_free(v);
  return same;
}

void mime_unwrap(MimeSource *src, MaMessage **mp, GMimeMessage *msg, MimeBody *b)
{
  MaMessage *m = *mp;
  /* a delivery or feedback report quotes the mail it reports on: that mail's participants are not
   * this message's (agent/bounce reads reports) */
  if (b->report) return;
  const char *rest = NULL;
  gboolean fwd_subject = mime_subject_is_forward(m->subject, &rest);
  char *subject_rest = rest ? g_strdup(rest) : NULL;
  GMimeMessage *inner = b->rfc822 ? g_mime_message_part_get_message(b->rfc822) : NULL;
  if (b->rfc822_count == 1 && inner &&
      (fwd_subject || (count_nonempty_lines(m->text, strlen(m->text)) <= MIME_UNWRAP_MAX_OWN_LINES &&
                       same_subject(m->subject, inner)))) {
    if (unwrap_rfc822(src, mp, b)) {
      g_free(subject_rest);
      return;
    }
  }
  unwrap_inline(mp, b, fwd_subject, subject_rest);
  g_free(subject_rest);
}
