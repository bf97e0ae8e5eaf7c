/* mime_header.c - normalises header values: Message-IDs, References lists, addresses (domain
 * lower-cased, IDN decoded to UTF-8 when that gives valid UTF-8, else kept as A-labels) and forward prefixes of subjects. Pure string functions over
 * values GMime has already unfolded and decoded; no GMime calls, so they are unit-testable and
 * safe on any input. Bounds: ids longer than MIME_MAX_MSGID are junk, reference lists keep
 * MIME_MAX_REFERENCES ids.
 */
#include "mime_private.h"

#include <string.h>

#define MIME_MAX_MSGID 500

void mime_warn(GPtrArray *warnings, const char *text)
{
  for (guint i = 0; i < warnings->len; i++)
    if (strcmp(g_ptr_array_index(warnings, i), text) == 0) return;
  g_ptr_array_add(warnings, g_strdup(text));
}

/* Validates and normalises one id (without <>): printable ASCII, no spaces, one '@' with a
 * non-empty local part and domain; the domain is lower-cased. */
static char *msgid_token(const char *s, gsize len)
{
  while (len > 0 && g_ascii_isspace(*s)) s++, len--;
  while (len > 0 && g_ascii_isspace(s[len - 1])) len--;
  if (len < 3 || len > MIME_MAX_MSGID) return NULL;
  gssize at = -1;
  for (gsize i = 0; i < len; i++) {
    guchar c = (guchar)s[i];
    if (c <= 0x20 || c >= 0x7f || c == '<' || c == '>' || c == '"' || c == ',') return NULL;
    if (c == '@') at = (gssize)i;
  }
  if (at <= 0 || (gsize)at + 1 >= len) return NULL;
  char *id = g_strndup(s, len);
  for (char *p = id + at + 1; *p; p++) *p = g_ascii_tolower(*p);
  return id;
}

char *mime_msgid_normalise(const char *value)
{
  if (!value) return NULL;
  const char *lt = strchr(value, '<');
  if (lt) {
    const char *gt = strchr(lt + 1, '>');
    if (!gt) return NULL;
    return msgid_token(lt + 1, (gsize)(gt - lt - 1));
  }
  return msgid_token(value, strlen(value));
}

void mime_msgid_list(const char *value, GPtrArray *out)
{
  if (!value) return;
  GPtrArray *all = g_ptr_array_new_with_free_func(g_free);
  const char *p = value;
  while ((p = strchr(p, '<')) != NULL) {
    const char *gt = strchr(p + 1, '>');
    if (!gt) break;
    char *id = msgid_token(p + 1, (gsize)(gt - p - 1));
    if (id) g_ptr_array_add(all, id);
    p = gt + 1;
  }
  /* Keep the root (first) and the most recent ones. */
  for (guint i = 0; i < all->len; i++) {
    if (all->len > MIME_MAX_REFERENCES && i >= 1 && i < all->len - (MIME_MAX_REFERENCES - 1)) continue;
    g_ptr_array_add(out, g_steal_pointer(&g_ptr_array_index(all, i)));
  }
  g_ptr_array_unref(all);
}

char *mime_address_normalise(const char *address)
{
  if (!address) return NULL;
  while (g_ascii_isspace(*address) || *address == '<') address++;
  gsize len = strlen(address);
  while (len > 0 && (g_ascii_isspace(address[len - 1]) || address[len - 1] == '>')) len--;
  const char *at = g_strrstr_len(address, (gssize)len, "@");
  if (!at || at == address || (gsize)(at - address) + 1 >= len) return NULL;
  gsize local_len = (gsize)(at - address);
  char *domain = g_strndup(at + 1, len - local_len - 1);
  gsize dlen = strlen(domain);
  while (dlen > 0 && domain[dlen - 1] == '.') domain[--dlen] = '\0';
  if (dlen == 0 || strchr(domain, ' ')) {
    g_free(domain);
    return NULL;
  }
  if (!g_utf8_validate(domain, -1, NULL)) {
    char *v = g_utf8_make_valid(domain, -1);
    g_free(domain);
    domain = v;
  }
  gboolean idn = !g_str_is_ascii(domain) || strstr(domain, "xn--") || strstr(domain, "XN--") ||
                 strstr(domain, "Xn--") || strstr(domain, "xN--");
  if (idn) {
    char *uni = ma_domain_to_unicode(domain);
    g_free(domain);
    domain = uni;
  }
  char *ldomain = ma_utf8_lower(domain);
  g_free(domain);
  char *local = g_strndup(address, local_len);
  if (!g_utf8_validate(local, -1, NULL)) {
    char *v = g_utf8_make_valid(local, -1);
    g_free(local);
    local = v;
  }
  char *res = g_strconcat(local, "@", ldomain, NULL);
  g_free(local);
  g_free(ldomain);
  return res;
}

/* RFC 2045 token characters: printable ASCII but SPACE and tspecials. */
static gboolean is_token_char(char c)
{
  return c > 0x20 && c < 0x7f && !strchr("()<>@,;:\\\"/[]?=", c);
}

gboolean mime_content_type_valid(const char *value)
{
  if (!value) return FALSE;
  const char *p = value;
  while (g_ascii_isspace(*p)) p++;
  const char *type = p;
  while (is_token_char(*p)) p++;
  if (p == type) return FALSE;
  while (g_ascii_isspace(*p)) p++;
  if (*p++ != '/') return FALSE;
  while (g_ascii_isspace(*p)) p++;
  const char *sub = p;
  while (is_token_char(*p)) p++;
  if (p == sub) return FALSE;
  while (g_ascii_isspace(*p)) p++;
  return *p == '\0' || *p == ';' || *p == '(';
}

static const char *const forward_prefixes[] = {
  "fwd", "fw", "转发", "轉發", "转寄", "轉寄", "wg", "tr", "rv", "enc", "doorst", "vs",
};

gboolean mime_subject_is_forward(const char *subject, const char **rest)
{
  if (!subject) return FALSE;
  const char *s = subject;
  while (g_ascii_isspace(*s)) s++;
  if (*s == '[') s++;
  for (gsize i = 0; i < G_N_ELEMENTS(forward_prefixes); i++) {
    gsize n = strlen(forward_prefixes[i]);
    if (g_ascii_strncasecmp(s, forward_prefixes[i], n) != 0) continue;
    const char *p = s + n;
    while (*p == ' ') p++;
    if (*p == ':')
      p++;
    else if (strncmp(p, "\xEF\xBC\x9A", 3) == 0) /* full-width colon */
      p += 3;
    else
      continue;
    while (g_ascii_isspace(*p)) p++;
    if (rest) *rest = p;
    return TRUE;
  }
  return FALSE;
}
