/* domain_name.c - domain names as people type them, turned into the one stored form (lower-case
 * A-labels through libidn2, UTS #46 non-transitional), and the DKIM selector rules. Each refusal
 * names the rule that was broken, so the message can go straight to the administrator.
 */
#include "domains.h"

#include "agent/lib/error.h"

#include <idn2.h>
#include <string.h>

static gboolean refuse(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static gboolean refuse(GError **error, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  char *msg = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  g_set_error_literal(error, MA_ERROR, MA_ERROR_INVALID, msg);
  g_free(msg);
  return FALSE;
}

/* Checks the A-label form: LDH labels of 1..63 octets, no hyphen at either end, two labels at
 * least, 253 octets at most. */
static gboolean alabels_valid(const char *shown, const char *a, GError **error)
{
  gsize len = strlen(a);
  if (len > MA_DOMAIN_MAX)
    return refuse(error, "\"%s\" is %zu octets long in DNS form; a domain has at most %d", shown, len, MA_DOMAIN_MAX);
  if (!strchr(a, '.')) return refuse(error, "\"%s\" is a single label; give the whole domain (e.g. example.com)", shown);
  gchar **labels = g_strsplit(a, ".", -1);
  gboolean ok = TRUE;
  for (guint i = 0; labels[i] && ok; i++) {
    const char *l = labels[i];
    gsize n = strlen(l);
    if (n == 0) ok = refuse(error, "\"%s\" has an empty label (two dots in a row, or a leading dot)", shown);
    else if (n > MA_DOMAIN_LABEL_MAX)
      ok = refuse(error, "\"%s\": the label \"%.20s...\" is %zu octets; a label has at most %d", shown, l, n,
                  MA_DOMAIN_LABEL_MAX);
    else if (l[0] == '-' || l[n - 1] == '-')
      ok = refuse(error, "\"%s\": the label \"%s\" starts or ends with a hyphen", shown, l);
    for (gsize j = 0; ok && j < n; j++)
      if (!(g_ascii_isalnum(l[j]) || l[j] == '-'))
        ok = refuse(error, "\"%s\": the character '%c' is not allowed in a domain (letters, digits, hyphens)", shown, l[j]);
  }
  g_strfreev(labels);
  return ok;
}

char *ma_domain_normalize(const char *input, GError **error)
{
  if (!input || !*input) return refuse(error, "the domain is empty"), NULL;
  if (!g_utf8_validate(input, -1, NULL)) return refuse(error, "the domain is not valid UTF-8"), NULL;
  if (strlen(input) > 1024) return refuse(error, "the domain is far too long"), NULL;
  for (const char *p = input; *p; p++) {
    unsigned char c = (unsigned char) *p;
    if (c <= 0x20 || c == 0x7f)
      return refuse(error, "\"%s\" contains a space or control character", input), NULL;
    if (c == '@') return refuse(error, "\"%s\" is an address; give only the part after '@'", input), NULL;
    if (c == '/' || c == ':')
      return refuse(error, "\"%s\" is not a bare domain (no scheme, port or path)", input), NULL;
  }
  g_autofree char *work = g_strdup(input);
  gsize len = strlen(work);
  if (len > 1 && work[len - 1] == '.') work[len - 1] = '\0'; /* one root dot is fine */
  gboolean is_ascii = TRUE;
  for (const char *p = work; *p; p++)
    if ((unsigned char) *p >= 0x80) is_ascii = FALSE;
  if (is_ascii) { /* the same rules, with our messages, before IDNA's */
    char *lower = g_ascii_strdown(work, -1);
    if (!alabels_valid(input, lower, error)) {
      g_free(lower);
      return NULL;
    }
    if (!g_str_has_prefix(lower, "xn--") && !strstr(lower, ".xn--")) return lower;
    g_free(lower); /* A-labels given: IDNA checks they decode */
  }
  char *ascii = NULL;
  int rc = idn2_to_ascii_8z(work, &ascii, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
  if (rc == IDN2_TOO_BIG_DOMAIN) {
    refuse(error, "\"%s\" is too long in DNS form; a domain has at most %d octets", input, MA_DOMAIN_MAX);
    return NULL;
  }
  if (rc == IDN2_TOO_BIG_LABEL) {
    refuse(error, "\"%s\" has a label longer than %d octets in DNS form (at most 63)", input, MA_DOMAIN_LABEL_MAX);
    return NULL;
  }
  if (rc != IDN2_OK) {
    /* Plain ASCII names with underscores or the like fail here too: say which rule IDNA gives. */
    refuse(error, "\"%s\" is not a valid domain name: %s", input, idn2_strerror(rc));
    return NULL;
  }
  char *lower = g_ascii_strdown(ascii, -1);
  idn2_free(ascii);
  if (!alabels_valid(input, lower, error)) {
    g_free(lower);
    return NULL;
  }
  return lower;
}

gboolean ma_dkim_selector_check(const char *selector, GError **error)
{
  gsize n = selector ? strlen(selector) : 0;
  if (n == 0) return refuse(error, "the selector is empty");
  if (n > MA_DKIM_SELECTOR_MAX)
    return refuse(error, "selector \"%s\" is %zu characters; at most %d", selector, n, MA_DKIM_SELECTOR_MAX);
  for (gsize i = 0; i < n; i++) {
    char c = selector[i];
    if (!(g_ascii_islower(c) || g_ascii_isdigit(c) || c == '-'))
      return refuse(error, "selector \"%s\": '%c' is not allowed (lowercase letters, digits and hyphens only)",
                    selector, c);
  }
  if (selector[0] == '-' || selector[n - 1] == '-')
    return refuse(error, "selector \"%s\" starts or ends with a hyphen", selector);
  return TRUE;
}

char *ma_dkim_selector_generate(gint64 now, MaDkimKeyType type, GPtrArray *taken)
{
  g_autoptr(GDateTime) t = g_date_time_new_from_unix_utc(now);
  g_autofree char *day = g_date_time_format(t, "%Y%m%d");
  const char *suffix = type == MA_DKIM_KEY_ED25519 ? "e" : "r";
  for (int n = 1;; n++) {
    char *s = n == 1 ? g_strdup_printf("ma%s%s", day, suffix) : g_strdup_printf("ma%s%s%d", day, suffix, n);
    gboolean used = FALSE;
    for (guint i = 0; taken && i < taken->len && !used; i++) used = g_strcmp0(taken->pdata[i], s) == 0;
    if (!used) return s;
    g_free(s);
  }
}
