/* mime_signals.c - the forward signals of a message's header section (Resent-From, X-Forwarded-For,
 * X-Forwarded-To, Delivered-To) in one pass over its header block: the one reading of those fields
 * that the SMTP server's forwarder policy (at the end of DATA) and the parser (MaMessage.signals)
 * share, so they can never read them differently. Pure, no GMime; bounded: the pass stops at the
 * blank line or len, a field's value is read up to MIME_SIGNAL_FIELD_MAX octets, and each list
 * keeps at most MIME_SIGNAL_ADDRESSES_MAX addresses.
 */
#include "mime_private.h"

#include <string.h>

void mime_forward_signals_clear(MimeForwardFields *s)
{
  GPtrArray **lists[] = {&s->resent_from, &s->x_forwarded_for, &s->x_forwarded_to, &s->delivered_to};
  for (gsize i = 0; i < G_N_ELEMENTS(lists); i++) g_clear_pointer(lists[i], g_ptr_array_unref);
}

/* Appends the address-like tokens of an unfolded value (one '@', neither first nor last) to out. */
static void add_tokens(const char *value, GPtrArray *out)
{
  g_auto(GStrv) parts = g_strsplit_set(value, " \t,;<>\"()", -1);
  for (guint i = 0; parts[i] && out->len < MIME_SIGNAL_ADDRESSES_MAX; i++) {
    const char *at = strchr(parts[i], '@');
    if (!at || at == parts[i] || at[1] == '\0' || strchr(at + 1, '@')) continue;
    g_ptr_array_add(out, g_strdup(parts[i]));
  }
}

/* The list a field named [name, name + n) goes to, or NULL. A list filled by an earlier field
 * stays as it was unless every field of that name counts (X-Forwarded-For). */
static GPtrArray *list_for(MimeForwardFields *s, const char *name, gsize n)
{
  static const struct {
    const char *name;
    gsize offset;
    gboolean every;
  } fields[] = {
    {"resent-from", G_STRUCT_OFFSET(MimeForwardFields, resent_from), FALSE},
    {"x-forwarded-for", G_STRUCT_OFFSET(MimeForwardFields, x_forwarded_for), TRUE},
    {"x-forwarded-to", G_STRUCT_OFFSET(MimeForwardFields, x_forwarded_to), FALSE},
    {"delivered-to", G_STRUCT_OFFSET(MimeForwardFields, delivered_to), FALSE},
  };
  for (gsize i = 0; i < G_N_ELEMENTS(fields); i++) {
    if (strlen(fields[i].name) != n || g_ascii_strncasecmp(name, fields[i].name, n) != 0) continue;
    GPtrArray **list = &G_STRUCT_MEMBER(GPtrArray *, s, fields[i].offset);
    if (*list && !fields[i].every) return NULL;
    if (!*list) *list = g_ptr_array_new_with_free_func(g_free);
    return *list;
  }
  return NULL;
}

void mime_forward_signals_read(const void *head, gsize len, MimeForwardFields *out)
{
  memset(out, 0, sizeof *out);
  const char *msg = head;
  gsize i = 0;
  while (i < len) {
    gsize eol = i;
    while (eol < len && msg[eol] != '\n') eol++;
    if (eol == i || (eol == i + 1 && msg[i] == '\r')) return; /* the blank line: end of the header block */
    const char *colon = memchr(msg + i, ':', eol - i);
    GPtrArray *list = colon ? list_for(out, msg + i, (gsize) (colon - (msg + i))) : NULL;
    if (!list) {
      i = eol + 1;
      continue;
    }
    GString *v = g_string_new(NULL);
    gsize j = (gsize) (colon - msg) + 1;
    for (;;) { /* the value with its folded continuation lines, CRs dropped */
      for (gsize k = j; k < eol && v->len < MIME_SIGNAL_FIELD_MAX; k++)
        if (msg[k] != '\r') g_string_append_c(v, msg[k]);
      i = eol + 1;
      if (i >= len || (msg[i] != ' ' && msg[i] != '\t')) break;
      eol = i;
      while (eol < len && msg[eol] != '\n') eol++;
      j = i;
      g_string_append_c(v, ' ');
    }
    add_tokens(v->str, list);
    g_string_free(v, TRUE);
  }
}
