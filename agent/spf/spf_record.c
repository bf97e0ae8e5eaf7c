/* spf_record.c - parses SPF record text into terms by the ABNF of RFC 7208 (sections 4.6, 5, 6,
 * 7.1 and 12): the version, terms separated by spaces, mechanisms with their qualifier,
 * domain-spec and cidr lengths, the redirect and exp modifiers (each at most once), unknown
 * modifiers (kept, ignored by evaluation), and macro-strings checked without expansion. Bounded
 * by SPF_MAX_RECORD octets and SPF_MAX_TERMS terms; never reads past len. */
#include "spf_record.h"

#include <arpa/inet.h>
#include <string.h>

static gboolean is_alpha(char c) { return g_ascii_isalpha(c); }
static gboolean is_alnum(char c) { return g_ascii_isalnum(c); }

gboolean spf_record_is_spf(const char *text, size_t len)
{
  return len >= 6 && g_ascii_strncasecmp(text, "v=spf1", 6) == 0 && (len == 6 || text[6] == ' ');
}

gboolean spf_term_queries_dns(const SpfTerm *t)
{
  switch (t->kind) {
  case SPF_TERM_INCLUDE:
  case SPF_TERM_A:
  case SPF_TERM_MX:
  case SPF_TERM_PTR:
  case SPF_TERM_EXISTS:
  case SPF_TERM_REDIRECT: return TRUE;
  default: return FALSE;
  }
}

/* toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum ) */
static gboolean is_toplabel(const char *s, size_t n)
{
  if (n == 0) return FALSE;
  gboolean alpha = FALSE, hyphen = FALSE;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '-') hyphen = TRUE;
    else if (!is_alnum(s[i])) return FALSE;
    else if (is_alpha(s[i])) alpha = TRUE;
  }
  if (!hyphen) return alpha;
  return is_alnum(s[0]) && is_alnum(s[n - 1]);
}

gboolean spf_macro_string_is_valid(const char *s, gboolean in_exp, gboolean domain_spec, const char **error_r)
{
  size_t n = strlen(s);
  gboolean ends_in_macro = FALSE;
  for (size_t i = 0; i < n;) {
    unsigned char c = (unsigned char)s[i];
    if (c != '%') {
      if (c < 0x21 || c > 0x7E) {
        if (!(in_exp && c == ' ')) {
          *error_r = "a character outside visible ASCII";
          return FALSE;
        }
      }
      ends_in_macro = FALSE;
      i++;
      continue;
    }
    if (i + 1 >= n) {
      *error_r = "a '%' at the end (write %% for a percent sign)";
      return FALSE;
    }
    char k = s[i + 1];
    if (k == '%' || k == '_' || k == '-') {
      i += 2;
      ends_in_macro = TRUE;
      continue;
    }
    if (k != '{') {
      *error_r = "a '%' not followed by {, %, _ or -";
      return FALSE;
    }
    size_t j = i + 2;
    char letter = j < n ? g_ascii_tolower(s[j]) : '\0';
    if (!letter || !strchr(in_exp ? "slodiphcrtv" : "slodiphv", letter)) {
      *error_r = in_exp || !letter || !strchr("crt", letter) ? "an unknown macro letter"
                                                             : "the c, r and t macros are only allowed in exp text";
      return FALSE;
    }
    j++;
    size_t digits = 0;
    while (j < n && g_ascii_isdigit(s[j])) j++, digits++;
    if (digits > 3) {
      *error_r = "a macro with too many digits";
      return FALSE;
    }
    if (digits > 0 && s[j - digits] == '0' ) {
      /* "%{d0}" asks for zero labels (RFC 7208 7.3: at least one) */
      gboolean all_zero = TRUE;
      for (size_t d = j - digits; d < j; d++) all_zero &= s[d] == '0';
      if (all_zero) {
        *error_r = "a macro keeping zero labels";
        return FALSE;
      }
    }
    if (j < n && g_ascii_tolower(s[j]) == 'r') j++;
    while (j < n && strchr(".-+,/_=", s[j]) && s[j]) j++;
    if (j >= n || s[j] != '}') {
      *error_r = "a macro without its closing }";
      return FALSE;
    }
    i = j + 1;
    ends_in_macro = TRUE;
  }
  if (!domain_spec || ends_in_macro) return TRUE;
  /* domain-end = "." toplabel [ "." ] */
  if (n > 0 && s[n - 1] == '.') n--;
  size_t dot = n;
  while (dot > 0 && s[dot - 1] != '.') dot--;
  if (dot == 0 || !is_toplabel(s + dot, n - dot)) {
    *error_r = "a domain that does not end in a top-level label (like .com) or a macro";
    return FALSE;
  }
  return TRUE;
}

/* qnum "." qnum "." qnum "." qnum, no leading zeros */
static gboolean parse_ip4(const char *s, size_t n, guint8 out[4])
{
  size_t i = 0;
  for (int part = 0; part < 4; part++) {
    if (part > 0) {
      if (i >= n || s[i] != '.') return FALSE;
      i++;
    }
    size_t start = i;
    guint v = 0;
    while (i < n && g_ascii_isdigit(s[i]) && i - start < 3) v = v * 10 + (guint)(s[i++] - '0');
    if (i == start || v > 255 || (i - start > 1 && s[start] == '0')) return FALSE;
    out[part] = (guint8)v;
  }
  return i == n;
}

/* "/" ( "0" / %x31-39 0*N DIGIT ), value at most max */
static gboolean parse_cidr(const char *s, size_t n, int max, int *out)
{
  if (n < 2 || s[0] != '/' || n > 4) return FALSE;
  if (s[1] == '0' && n > 2) return FALSE;
  int v = 0;
  for (size_t i = 1; i < n; i++) {
    if (!g_ascii_isdigit(s[i])) return FALSE;
    v = v * 10 + (s[i] - '0');
  }
  if (v > max) return FALSE;
  *out = v;
  return TRUE;
}

/* Splits a trailing dual-cidr-length ("/24", "//64", "/24//64") off arg[0..*n); FALSE when what
 * looks like one is malformed. */
static gboolean split_dual_cidr(const char *arg, size_t *n, SpfTerm *t)
{
  const char *dd = g_strstr_len(arg, (gssize)*n, "//");
  /* the last "//" introduces the ip6 length; a domain-spec never contains "//" legitimately */
  if (dd) {
    if (!parse_cidr(dd + 1, (size_t)(arg + *n - dd - 1), 128, &t->cidr6)) return FALSE;
    *n = (size_t)(dd - arg);
  }
  /* a "/digits" at the end is the ip4 length */
  size_t i = *n;
  while (i > 0 && g_ascii_isdigit(arg[i - 1])) i--;
  if (i > 0 && arg[i - 1] == '/' && i < *n) {
    if (!parse_cidr(arg + i - 1, *n - i + 1, 32, &t->cidr4)) return FALSE;
    *n = i - 1;
  } else if (i > 0 && arg[i - 1] == '/' && i == *n) {
    return FALSE; /* a "/" with no length */
  }
  return TRUE;
}

static void term_free(gpointer p)
{
  SpfTerm *t = p;
  g_free(t->text);
  g_free(t->domain_spec);
  g_free(t);
}

void spf_record_free(SpfRecord *r)
{
  if (!r) return;
  g_ptr_array_unref(r->terms);
  g_free(r);
}

static const struct {
  const char *name;
  SpfTermKind kind;
} mechanisms[] = {
  {"all", SPF_TERM_ALL}, {"include", SPF_TERM_INCLUDE}, {"a", SPF_TERM_A}, {"mx", SPF_TERM_MX},
  {"ptr", SPF_TERM_PTR}, {"ip4", SPF_TERM_IP4}, {"ip6", SPF_TERM_IP6}, {"exists", SPF_TERM_EXISTS},
};

/* Parses one term s[0..n) into t; NULL on success, else a static description of the problem. */
static const char *parse_term(const char *s, size_t n, SpfTerm *t)
{
  t->cidr4 = 32;
  t->cidr6 = 128;
  /* a modifier is name "=" ... where name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ) */
  size_t k = 0;
  if (n > 0 && is_alpha(s[0])) {
    k = 1;
    while (k < n && (is_alnum(s[k]) || s[k] == '-' || s[k] == '_' || s[k] == '.')) k++;
  }
  const char *error = NULL;
  if (k > 0 && k < n && s[k] == '=') {
    g_autofree char *value = g_strndup(s + k + 1, n - k - 1);
    if (k == 8 && g_ascii_strncasecmp(s, "redirect", 8) == 0) t->kind = SPF_TERM_REDIRECT;
    else if (k == 3 && g_ascii_strncasecmp(s, "exp", 3) == 0) t->kind = SPF_TERM_EXP;
    else t->kind = SPF_TERM_UNKNOWN_MODIFIER;
    gboolean domain = t->kind != SPF_TERM_UNKNOWN_MODIFIER;
    if (domain && !*value) return "a modifier without its domain";
    if (!spf_macro_string_is_valid(value, FALSE, domain, &error)) return error;
    if (domain) t->domain_spec = g_steal_pointer(&value);
    return NULL;
  }

  size_t i = 0;
  t->qualifier = '+';
  if (n > 0 && strchr("+-~?", s[0])) t->qualifier = s[i++];
  size_t name_start = i;
  while (i < n && is_alnum(s[i])) i++;
  size_t name_len = i - name_start;
  gboolean known = FALSE;
  for (size_t m = 0; m < G_N_ELEMENTS(mechanisms); m++)
    if (strlen(mechanisms[m].name) == name_len && g_ascii_strncasecmp(s + name_start, mechanisms[m].name, name_len) == 0) {
      t->kind = mechanisms[m].kind;
      known = TRUE;
    }
  if (!known) return "an unknown mechanism";
  const char *arg = s + i;
  size_t alen = n - i;
  gboolean has_domain = alen > 0 && arg[0] == ':';

  switch (t->kind) {
  case SPF_TERM_ALL:
    return alen == 0 ? NULL : "\"all\" takes no argument";
  case SPF_TERM_INCLUDE:
  case SPF_TERM_EXISTS:
    if (!has_domain || alen < 2) return "a mechanism that needs a domain (\":domain\")";
    break;
  case SPF_TERM_PTR:
    if (alen > 0 && !has_domain) return "\"ptr\" takes only \":domain\"";
    break;
  case SPF_TERM_A:
  case SPF_TERM_MX:
    if (!split_dual_cidr(arg, &alen, t)) return "a malformed CIDR length (ip4 /0-32, ip6 //0-128)";
    if (alen > 0 && !has_domain) return "a mechanism argument without ':'";
    if (has_domain && alen < 2) return "an empty domain after ':'";
    break;
  case SPF_TERM_IP4: {
    if (!has_domain) return "\"ip4\" without \":address\"";
    const char *slash = memchr(arg, '/', alen);
    size_t alen_ip = slash ? (size_t)(slash - arg) : alen;
    if (slash && !parse_cidr(slash, alen - alen_ip, 32, &t->cidr4)) return "a malformed ip4 CIDR length (/0-32)";
    if (!parse_ip4(arg + 1, alen_ip - 1, t->ip)) return "a malformed IPv4 address";
    return NULL;
  }
  case SPF_TERM_IP6: {
    if (!has_domain) return "\"ip6\" without \":address\"";
    const char *slash = memchr(arg, '/', alen);
    size_t alen_ip = slash ? (size_t)(slash - arg) : alen;
    if (slash && !parse_cidr(slash, alen - alen_ip, 128, &t->cidr6)) return "a malformed ip6 CIDR length (/0-128)";
    g_autofree char *addr = g_strndup(arg + 1, alen_ip - 1);
    if (!*addr || strspn(addr, "0123456789abcdefABCDEF:.") != strlen(addr) || inet_pton(AF_INET6, addr, t->ip) != 1)
      return "a malformed IPv6 address";
    return NULL;
  }
  default: g_assert_not_reached();
  }
  if (has_domain) {
    t->domain_spec = g_strndup(arg + 1, alen - 1);
    if (!spf_macro_string_is_valid(t->domain_spec, FALSE, TRUE, &error)) return error;
  }
  return NULL;
}

SpfRecord *spf_record_parse(const char *text, size_t len, char **error_r)
{
  if (len > SPF_MAX_RECORD) {
    *error_r = g_strdup_printf("the record is longer than %d octets", SPF_MAX_RECORD);
    return NULL;
  }
  if (!spf_record_is_spf(text, len)) {
    *error_r = g_strdup("the record does not start with \"v=spf1\"");
    return NULL;
  }
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)text[i] > 0x7E || ((unsigned char)text[i] < 0x21 && text[i] != ' ')) {
      *error_r = g_strdup("the record holds a character outside visible ASCII (a tab, a control or a "
                          "non-ASCII character): SPF records are 7-bit ASCII, terms separated by spaces");
      return NULL;
    }
  g_autoptr(SpfRecord) r = g_new0(SpfRecord, 1);
  r->terms = g_ptr_array_new_with_free_func(term_free);
  size_t i = 6;
  while (i < len) {
    while (i < len && text[i] == ' ') i++;
    if (i >= len) break;
    size_t start = i;
    while (i < len && text[i] != ' ') i++;
    if (r->terms->len >= SPF_MAX_TERMS) {
      *error_r = g_strdup_printf("the record has more than %d terms", SPF_MAX_TERMS);
      return NULL;
    }
    SpfTerm *t = g_new0(SpfTerm, 1);
    t->text = g_strndup(text + start, i - start);
    g_ptr_array_add(r->terms, t);
    const char *problem = parse_term(text + start, i - start, t);
    if (problem) {
      *error_r = g_strdup_printf("\"%s\": %s", t->text, problem);
      return NULL;
    }
    if (t->kind == SPF_TERM_REDIRECT || t->kind == SPF_TERM_EXP) {
      SpfTerm **slot = t->kind == SPF_TERM_REDIRECT ? &r->redirect : &r->exp;
      if (*slot) {
        *error_r = g_strdup_printf("\"%s\": the %s modifier may appear only once", t->text,
                                   t->kind == SPF_TERM_REDIRECT ? "redirect" : "exp");
        return NULL;
      }
      *slot = t;
    }
  }
  return g_steal_pointer(&r);
}
