/* spf_macro.c - SPF macro expansion (RFC 7208 section 7): %{letter digits r delimiters}, %%, %_
 * and %-, upper-case letters URL-escaped, and the 253-octet cut of expanded domains. The only
 * DNS it does is for %{p} (the validated name of the client address, looked up once per check
 * and not counted against the limits, as the RFC allows; "unknown" when none validates). */
#include "spf_internal.h"

#include <arpa/inet.h>
#include <string.h>

#define MAX_DOMAIN 253

/* %{p}: the first PTR name of the client whose A/AAAA records include the client. */
static const char *validated_name(SpfMacroContext *ctx)
{
  if (ctx->validated) return ctx->validated;
  g_autofree char *rev = ma_dns_reverse_name(&ctx->ip);
  MaDnsResult *ptr = ctx->resolver->lookup(ctx->resolver->ctx, rev, MA_DNS_PTR);
  MaDnsType t = ctx->ip.family == AF_INET ? MA_DNS_A : MA_DNS_AAAA;
  for (guint i = 0; i < ptr->n && i < SPF_MAX_PTR_NAMES && !ctx->validated; i++) {
    MaDnsResult *a = ctx->resolver->lookup(ctx->resolver->ctx, ptr->ptr[i], t);
    for (guint j = 0; j < a->n && !ctx->validated; j++)
      if (memcmp(&a->addr[j].addr, &ctx->ip.addr, t == MA_DNS_A ? 4 : 16) == 0)
        ctx->validated = g_strdup(ptr->ptr[i]);
    ma_dns_result_free(a);
  }
  ma_dns_result_free(ptr);
  if (!ctx->validated) ctx->validated = g_strdup("unknown");
  return ctx->validated;
}

static char *letter_value(SpfMacroContext *ctx, char letter)
{
  char buf[INET6_ADDRSTRLEN];
  switch (letter) {
  case 's': return g_strdup(ctx->sender);
  case 'l': return g_strdup(ctx->local);
  case 'o': return g_strdup(ctx->sender_domain);
  case 'd': return g_strdup(ctx->domain);
  case 'h': return g_strdup(ctx->helo);
  case 'r': return g_strdup(ctx->receiver ? ctx->receiver : "unknown");
  case 't': return g_strdup_printf("%" G_GINT64_FORMAT, ctx->now);
  case 'v': return g_strdup(ctx->ip.family == AF_INET ? "in-addr" : "ip6");
  case 'p': return g_strdup(validated_name(ctx));
  case 'c':
    inet_ntop(ctx->ip.family, &ctx->ip.addr, buf, sizeof buf);
    return g_strdup(buf);
  case 'i':
    if (ctx->ip.family == AF_INET) {
      inet_ntop(AF_INET, &ctx->ip.addr.v4, buf, sizeof buf);
      return g_strdup(buf);
    } else {
      /* dot-separated nibbles, most significant first, upper-case as in RFC 7208 7.4 */
      GString *s = g_string_sized_new(64);
      for (int k = 0; k < 16; k++)
        g_string_append_printf(s, "%s%X.%X", k ? "." : "", ctx->ip.addr.v6.s6_addr[k] >> 4,
                               ctx->ip.addr.v6.s6_addr[k] & 0xF);
      return g_string_free(s, FALSE);
    }
  }
  return NULL;
}

static void append_escaped(GString *out, const char *s)
{
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (g_ascii_isalnum(c) || strchr("-._~", c)) g_string_append_c(out, (char)c);
    else g_string_append_printf(out, "%%%02X", c);
  }
}

/* Applies transformers and delimiters to value and appends it. */
static void append_transformed(GString *out, const char *value, guint keep, gboolean reverse,
                               const char *delims, gboolean escape)
{
  GPtrArray *parts = g_ptr_array_new_with_free_func(g_free);
  const char *start = value;
  for (const char *p = value;; p++) {
    if (*p == '\0' || strchr(delims, *p)) {
      g_ptr_array_add(parts, g_strndup(start, (gsize)(p - start)));
      if (*p == '\0') break;
      start = p + 1;
    }
  }
  guint n = parts->len;
  guint first = (keep > 0 && keep < n) ? n - keep : 0;
  GString *joined = g_string_new(NULL);
  for (guint k = 0; k < n; k++) {
    /* reversed order first, then keep the right-most `keep` parts */
    guint idx = reverse ? n - 1 - k : k;
    if (k < first) continue;
    if (joined->len || k > first) g_string_append_c(joined, '.');
    g_string_append(joined, g_ptr_array_index(parts, idx));
  }
  if (escape) append_escaped(out, joined->str);
  else g_string_append(out, joined->str);
  g_string_free(joined, TRUE);
  g_ptr_array_unref(parts);
}

char *spf_macro_expand(SpfMacroContext *ctx, const char *s, gboolean in_exp, gboolean for_domain)
{
  GString *out = g_string_new(NULL);
  size_t n = strlen(s);
  for (size_t i = 0; i < n;) {
    if (s[i] != '%') {
      g_string_append_c(out, s[i++]);
      continue;
    }
    if (i + 1 >= n) goto bad;
    char k = s[i + 1];
    if (k == '%' || k == '_' || k == '-') {
      g_string_append(out, k == '%' ? "%" : k == '_' ? " " : "%20");
      i += 2;
      continue;
    }
    if (k != '{' || i + 2 >= n) goto bad;
    size_t j = i + 2;
    char letter = s[j++];
    gboolean escape = g_ascii_isupper(letter);
    letter = g_ascii_tolower(letter);
    if (!strchr(in_exp ? "slodiphcrtv" : "slodiphv", letter)) goto bad;
    guint keep = 0;
    while (j < n && g_ascii_isdigit(s[j]) && keep < 1000) keep = keep * 10 + (guint)(s[j++] - '0');
    gboolean reverse = FALSE;
    if (j < n && g_ascii_tolower(s[j]) == 'r') reverse = TRUE, j++;
    char delims[8] = {0};
    size_t nd = 0;
    while (j < n && s[j] != '}' && strchr(".-+,/_=", s[j])) {
      if (nd < sizeof delims - 1 && !strchr(delims, s[j])) delims[nd++] = s[j];
      j++;
    }
    if (j >= n || s[j] != '}') goto bad;
    if (nd == 0) delims[0] = '.';
    g_autofree char *value = letter_value(ctx, letter);
    append_transformed(out, value ? value : "", keep, reverse, delims, escape);
    i = j + 1;
  }
  if (for_domain) {
    /* RFC 7208 7.3: drop whole labels from the left until it fits */
    const char *p = out->str;
    size_t len = out->len;
    if (len > 0 && p[len - 1] == '.') len--;
    while (len > MAX_DOMAIN) {
      const char *dot = memchr(p, '.', len);
      if (!dot) break;
      len -= (size_t)(dot + 1 - p);
      p = dot + 1;
    }
    char *cut = g_strndup(p, len);
    g_string_free(out, TRUE);
    return cut;
  }
  return g_string_free(out, FALSE);
bad:
  g_string_free(out, TRUE);
  return NULL;
}
