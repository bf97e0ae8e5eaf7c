/* forward_address.c - reads the address lists of a forward header block ("Name <a@b>; c@d",
 * "\"Smith, John\" <j@x>", QQ's "Name[a@b]", Outlook's "Name [mailto:a@b]", Apple's
 * "a@b <mailto:a@b>", "A <a@x> on behalf of B <b@y>") into MaParticipant with a lower-cased,
 * IDN-decoded domain. Limits: at most FORWARD_MAX_VALUE bytes of a list are read (whole elements);
 * duplicates within one list are dropped through a hash set, so a list is read in linear time.
 */
#include "agent/mime/forward.h"

#include "agent/lib/model.h"
#include "forward_private.h"

static gboolean domain_char_ok(guchar c)
{
  return g_ascii_isalnum(c) || c == '-' || c == '.' || c == '_' || c >= 0x80;
}

/* Validates and normalises "local@domain": trims quotes and "mailto:", lower-cases the domain and
 * decodes IDN labels. Returns a new string or NULL when it is not an address. */
static char *clean_address(const char *s, gsize len)
{
  char *a = g_strndup(s, len);
  fwd_trim_inplace(a);
  char *p = a;
  if (g_ascii_strncasecmp(p, "mailto:", 7) == 0) p += 7;
  gsize n = strlen(p);
  while (n > 0 && strchr("'\"`.,;:)]>", p[n - 1])) p[--n] = '\0';
  while (*p && strchr("'\"`(<[", *p)) p++;
  char *at = strrchr(p, '@');
  char *result = NULL;
  if (at && at != p && at[1]) {
    gboolean ok = TRUE;
    for (const char *q = p; q < at && ok; q++)
      if (fwd_is_ws(*q) || strchr("<>[](),;:\"", *q)) ok = FALSE;
    gboolean alnum = FALSE;
    for (const char *q = at + 1; *q && ok; q++) {
      if (!domain_char_ok((guchar)*q)) ok = FALSE;
      if (g_ascii_isalnum(*q) || (guchar)*q >= 0x80) alnum = TRUE;
    }
    if (ok && alnum && at[1] != '.' && !strstr(at + 1, "..") && g_utf8_validate(p, -1, NULL)) {
      char *dom = g_utf8_strdown(at + 1, -1);
      if (strstr(dom, "xn--")) {
        char *uni = ma_domain_to_unicode(dom);
        g_free(dom);
        dom = uni;
      }
      result = g_strdup_printf("%.*s@%s", (int)(at - p), p, dom);
      g_free(dom);
    }
  }
  g_free(a);
  return result;
}

/* Cleans a display name: quotes and stray separators removed, spaces collapsed. NULL when empty. */
static char *clean_name(const char *s, gsize len)
{
  char *t = fwd_normalise_copy(s, len, FORWARD_MAX_VALUE);
  static const char *const strip[] = { "\"", "'", "“", "”", "‘", "’", ";", ",", "；", "，", " " };
  /* strip from both ends by moving indices: linear however many quotes there are */
  gsize b = 0, e = strlen(t);
  gboolean changed = TRUE;
  while (changed && b < e) {
    changed = FALSE;
    for (gsize k = 0; k < G_N_ELEMENTS(strip); k++) {
      gsize sl = strlen(strip[k]);
      if (e - b >= sl && memcmp(t + b, strip[k], sl) == 0) {
        b += sl;
        changed = TRUE;
      }
      if (e - b >= sl && memcmp(t + e - sl, strip[k], sl) == 0) {
        e -= sl;
        changed = TRUE;
      }
    }
  }
  if (b >= e) {
    g_free(t);
    return NULL;
  }
  char *r = g_strndup(t + b, e - b);
  g_free(t);
  return r;
}

/* Finds the address in one list element: a_start, a_len give the address text; cut_start,
 * cut_len the span to remove to leave the display name. */
static gboolean find_address(const char *s, gsize len, gsize *a_start, gsize *a_len, gsize *cut_start,
                             gsize *cut_len)
{
  /* "<a@b>" (also "<mailto:a@b>"), then "[mailto:a@b]" / "[a@b]", then "(a@b)": last one wins
   * ("a@b <mailto:a@b>" names itself; the bracketed one is the address). */
  static const char open[] = "<[(";
  static const char close[] = ">])";
  for (int k = 0; k < 3; k++) {
    gssize best = -1;
    gsize best_end = 0;
    for (gsize i = 0; i < len; i++) {
      if (s[i] != open[k]) continue;
      gsize j = i + 1;
      while (j < len && s[j] != close[k] && s[j] != open[k]) j++;
      if (j >= len || s[j] != close[k]) continue;
      if (memchr(s + i + 1, '@', j - i - 1)) {
        best = (gssize)i;
        best_end = j;
      }
      i = j;
    }
    if (best >= 0) {
      *a_start = (gsize)best + 1;
      *a_len = best_end - (gsize)best - 1;
      *cut_start = (gsize)best;
      *cut_len = best_end - (gsize)best + 1;
      return TRUE;
    }
  }
  /* a bare token containing '@' */
  const char *at = memchr(s, '@', len);
  if (!at) return FALSE;
  gsize i = (gsize)(at - s), b = i, e = i;
  while (b > 0 && !fwd_is_ws(s[b - 1]) && !strchr("<>[]()\"", s[b - 1])) b--;
  while (e < len && !fwd_is_ws(s[e]) && !strchr("<>[]()\"", s[e])) e++;
  *a_start = b;
  *a_len = e - b;
  *cut_start = b;
  *cut_len = e - b;
  return TRUE;
}

/* Adds the participant of one list element unless its address is already in `seen` (lower-cased
 * addresses of this list, owned by the caller). Returns TRUE when one was added. */
static gboolean add_element(const char *s, gsize len, int role, GPtrArray *out, GHashTable *seen)
{
  /* "A <a@x> on behalf of B <b@y>", "A <a@x> 代表 B <b@y>": the author is B */
  static const char *const behalf[] = { " on behalf of ", "代表" };
  for (gsize k = 0; k < G_N_ELEMENTS(behalf); k++) {
    const char *m = g_strstr_len(s, (gssize)len, behalf[k]);
    if (m) {
      const char *after = m + strlen(behalf[k]);
      gsize rest = len - (gsize)(after - s);
      if (memchr(after, '@', rest)) {
        s = after;
        len = rest;
      }
    }
  }
  gsize as, al, cs, cl;
  if (!find_address(s, len, &as, &al, &cs, &cl)) return FALSE;
  char *addr = clean_address(s + as, al);
  if (!addr) return FALSE;
  char *key = g_ascii_strdown(addr, -1);
  if (g_hash_table_contains(seen, key)) {
    g_free(key);
    g_free(addr);
    return FALSE;
  }
  g_hash_table_add(seen, key);
  GString *name_src = g_string_new_len(s, (gssize)cs);
  g_string_append_c(name_src, ' ');
  g_string_append_len(name_src, s + cs + cl, (gssize)(len - cs - cl));
  char *name = clean_name(name_src->str, name_src->len);
  g_string_free(name_src, TRUE);
  if (name) {
    char *name_addr = clean_address(name, strlen(name));
    if (name_addr && g_ascii_strcasecmp(name_addr, addr) == 0) g_clear_pointer(&name, g_free);
    g_free(name_addr);
  }
  g_ptr_array_add(out, ma_participant_new((MaRole)role, name, addr));
  g_free(name);
  g_free(addr);
  return TRUE;
}

typedef struct {
  gsize start, len;
} Span;

/* forward_parse_addresses with a cap: stops after `max` participants were added. */
static void parse_addresses(const char *list, int role, GPtrArray *out, guint max)
{
  if (!list) return;
  gsize len = strlen(list);
  if (len > FORWARD_MAX_VALUE) {
    /* keep whole elements: cut after the last separator before the cap */
    len = fwd_utf8_clip(list, FORWARD_MAX_VALUE);
    gsize cut = len;
    while (cut > 0 && list[cut - 1] != ',' && list[cut - 1] != ';') cut--;
    if (cut > 0) len = cut;
  }
  guint added = 0;

  /* Pass 1: is ';' used as the separator at top level? Then ',' belongs to names ("Pan, Xinhui"). */
  gboolean semicolons = FALSE;
  {
    int angle = 0, square = 0, paren = 0;
    gboolean quote = FALSE;
    for (gsize i = 0; i < len; i++) {
      char c = list[i];
      if (c == '"') quote = !quote;
      else if (quote) continue;
      else if (c == '<') angle++;
      else if (c == '>' && angle > 0) angle--;
      else if (c == '[') square++;
      else if (c == ']' && square > 0) square--;
      else if (c == '(') paren++;
      else if (c == ')' && paren > 0) paren--;
      else if (!angle && !square && !paren &&
               (c == ';' || (i + 3 <= len && memcmp(list + i, "；", 3) == 0)))
        semicolons = TRUE;
    }
  }

  /* Pass 2: split at top-level separators. */
  GArray *spans = g_array_new(FALSE, FALSE, sizeof(Span));
  {
    int angle = 0, square = 0, paren = 0;
    gboolean quote = FALSE;
    gsize start = 0;
    for (gsize i = 0; i <= len; i++) {
      gsize sep = 0;
      if (i == len) {
        sep = 1;
      } else {
        char c = list[i];
        if (c == '"') quote = !quote;
        else if (quote) continue;
        else if (c == '<') angle++;
        else if (c == '>' && angle > 0) angle--;
        else if (c == '[') square++;
        else if (c == ']' && square > 0) square--;
        else if (c == '(') paren++;
        else if (c == ')' && paren > 0) paren--;
        else if (!angle && !square && !paren) {
          if (semicolons) {
            if (c == ';') sep = 1;
            else if (i + 3 <= len && memcmp(list + i, "；", 3) == 0) sep = 3;
          } else {
            if (c == ',') sep = 1;
            else if (i + 3 <= len && memcmp(list + i, "，", 3) == 0) sep = 3;
          }
        }
      }
      if (sep) {
        Span sp = { start, i - start };
        g_array_append_val(spans, sp);
        start = i + sep;
        i += sep - 1;
      }
    }
  }

  GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  /* Pass 3: in a ','-separated list an element without '@' is the start of the next one's name
   * ("Smith, John <j@x>"); in a ';'-separated list it is a name without an address, dropped. */
  gsize pending = G_MAXSIZE;
  for (guint k = 0; k < spans->len; k++) {
    Span sp = g_array_index(spans, Span, k);
    gsize start = pending != G_MAXSIZE ? pending : sp.start;
    gsize end = sp.start + sp.len;
    if (!memchr(list + sp.start, '@', sp.len)) {
      if (!semicolons && pending == G_MAXSIZE) pending = sp.start; /* ';' lists: a bare name */
      continue;
    }
    pending = G_MAXSIZE;
    if (add_element(list + start, end - start, role, out, seen) && ++added >= max) break;
  }
  g_array_free(spans, TRUE);
  g_hash_table_destroy(seen);
}

void forward_parse_addresses(const char *list, int role, GPtrArray *out)
{
  g_return_if_fail(out != NULL);
  /* names and addresses are cut out of list as they are: repair invalid UTF-8 first, so what
   * reaches storage is valid (the message text is valid already; other callers may not be) */
  if (list && !g_utf8_validate(list, -1, NULL)) {
    g_autofree char *valid = g_utf8_make_valid(list, -1);
    parse_addresses(valid, role, out, G_MAXUINT);
    return;
  }
  parse_addresses(list, role, out, G_MAXUINT);
}

gboolean fwd_has_address(const char *s)
{
  if (!s) return FALSE;
  GPtrArray *tmp = g_ptr_array_new_with_free_func((GDestroyNotify)ma_participant_free);
  parse_addresses(s, MA_ROLE_FROM, tmp, 1);
  gboolean ok = tmp->len > 0;
  g_ptr_array_free(tmp, TRUE);
  return ok;
}
