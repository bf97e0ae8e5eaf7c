/* collector_folders.c - folder choice and modified UTF-7 (see collector_folders.h). */
#include "collector_folders.h"

#include <string.h>

void collector_folder_free(CollectorFolder *f)
{
  if (!f) return;
  g_free(f->name);
  g_free(f);
}

static int b64_value(char c)
{
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == ',') return 63;
  return -1;
}

char *collector_mutf7_decode(const char *in, gsize len)
{
  if (len > COLLECTOR_FOLDER_NAME_MAX) return NULL;
  GString *out = g_string_sized_new(len + 8);
  gsize i = 0;
  while (i < len) {
    unsigned char c = (unsigned char)in[i];
    if (c < 0x20 || c > 0x7e) goto bad;
    if (c != '&') {
      g_string_append_c(out, (char)c);
      i++;
      continue;
    }
    i++;
    if (i < len && in[i] == '-') { /* "&-" is "&" */
      g_string_append_c(out, '&');
      i++;
      continue;
    }
    guint32 bits = 0;
    int nbits = 0;
    gunichar2 units[COLLECTOR_FOLDER_NAME_MAX];
    gsize nunits = 0;
    while (i < len && in[i] != '-') {
      int v = b64_value(in[i]);
      if (v < 0) goto bad;
      bits = (bits << 6) | (guint32)v;
      nbits += 6;
      if (nbits >= 16) {
        nbits -= 16;
        if (nunits >= G_N_ELEMENTS(units)) goto bad;
        units[nunits] = (gunichar2)((bits >> nbits) & 0xffff);
        if (units[nunits] < 0x80) goto bad; /* a shift encodes no ASCII (printable, control or NUL) */
        nunits++;
      }
      i++;
    }
    if (i >= len || nunits == 0) goto bad;          /* unterminated or empty shift */
    if (nbits >= 6 || (bits & ((1u << nbits) - 1))) goto bad; /* leftover non-zero bits */
    i++; /* '-' */
    glong written = 0;
    g_autofree char *utf8 = g_utf16_to_utf8(units, (glong)nunits, NULL, &written, NULL);
    if (!utf8) goto bad;
    g_string_append_len(out, utf8, written);
    if (out->len > COLLECTOR_FOLDER_NAME_MAX) goto bad;
  }
  return g_string_free(out, FALSE);
bad:
  g_string_free(out, TRUE);
  return NULL;
}

static const char *const sent_names[] = {
  "sent", "sent items", "sent messages", "sent mail", "[gmail]/sent mail", "已发送", "已发送邮件", "已傳送",
  "寄件備份", "送信済み", "送信済みアイテム", "gesendet", "gesendete elemente", "gesendete objekte",
  "éléments envoyés", "messages envoyés", "enviados", "elementos enviados", "posta inviata",
  "inviata", "verzonden items", "отправленные", NULL};

gboolean collector_folder_is_sent_name(const char *utf8_name)
{
  g_autofree char *lower = g_utf8_strdown(utf8_name, -1);
  const char *leaf = lower;
  /* a Sent folder under a parent ("INBOX.Sent", "INBOX/Sent Items") */
  if (g_str_has_prefix(lower, "inbox.") || g_str_has_prefix(lower, "inbox/")) leaf = lower + 6;
  for (int i = 0; sent_names[i]; i++)
    if (strcmp(leaf, sent_names[i]) == 0) return TRUE;
  return FALSE;
}

static gboolean is_inbox(const char *name)
{
  return g_ascii_strcasecmp(name, "INBOX") == 0;
}

guint collector_folders_choose(GPtrArray *listed, const char *chosen, GPtrArray *out, char **missing)
{
  *missing = NULL;
  guint before = out->len;
  if (!chosen) {
    const CollectorFolder *inbox = NULL, *sent_flag = NULL, *sent_name = NULL;
    for (guint i = 0; i < listed->len; i++) {
      const CollectorFolder *f = g_ptr_array_index(listed, i);
      if (f->noselect) continue;
      g_autofree char *utf8 = collector_mutf7_decode(f->name, strlen(f->name));
      if (!utf8) continue;
      if (!inbox && is_inbox(f->name)) inbox = f;
      else if (!sent_flag && f->sent) sent_flag = f;
      else if (!sent_name && collector_folder_is_sent_name(utf8)) sent_name = f;
    }
    if (inbox) g_ptr_array_add(out, g_strdup(inbox->name));
    const CollectorFolder *sent = sent_flag ? sent_flag : sent_name;
    if (sent) g_ptr_array_add(out, g_strdup(sent->name));
    return out->len - before;
  }
  g_auto(GStrv) names = g_strsplit(chosen, "\n", -1);
  GString *miss = NULL;
  for (char **n = names; *n; n++) {
    if (!**n) continue;
    gboolean found = FALSE;
    for (guint i = 0; i < listed->len && !found; i++) {
      const CollectorFolder *f = g_ptr_array_index(listed, i);
      if (f->noselect) continue;
      g_autofree char *utf8 = collector_mutf7_decode(f->name, strlen(f->name));
      if (!utf8) continue;
      if (g_strcmp0(utf8, *n) == 0 || (is_inbox(*n) && is_inbox(utf8))) {
        g_ptr_array_add(out, g_strdup(f->name));
        found = TRUE;
      }
    }
    if (!found) {
      if (!miss) miss = g_string_new(NULL);
      else g_string_append(miss, ", ");
      g_string_append(miss, *n);
    }
  }
  if (miss) *missing = g_string_free(miss, FALSE);
  return out->len - before;
}
