/* relay_filter.c - the recipient patterns of a relay's domain filters: parsing an administrator's
 * list into canonical text, and matching a recipient domain against it. Pure: no storage, no I/O.
 *
 * A pattern is a domain name (matches itself only) or "*." and a domain name (matches every
 * subdomain, never the bare domain: "*.example.com" takes a.example.com and b.a.example.com, not
 * example.com). Names go through agent/domains' normaliser, so an internationalised name matches
 * its A-label. At most RELAY_MAX_PATTERNS patterns per filter.
 */
#include "relay.h"

#include "agent/domains/domains.h"
#include "agent/lib/error.h"

#include <string.h>

char *relay_patterns_normalise(const char *text, GError **error)
{
  if (!text) return NULL;
  g_auto(GStrv) items = g_strsplit_set(text, " ,\t", -1);
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func(g_free);
  for (char **it = items; *it; it++) {
    if (!**it) continue;
    if (out->len >= RELAY_MAX_PATTERNS) {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "recipient patterns: at most %d per filter", RELAY_MAX_PATTERNS);
      return NULL;
    }
    const char *name = *it;
    gboolean wildcard = g_str_has_prefix(name, "*.");
    if (wildcard) name += 2;
    if (strlen(name) > RELAY_MAX_PATTERN_LEN || strchr(name, '*')) {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID,
                  "recipient pattern \"%.64s\": a domain, or *. and a domain (\"*.example.com\")", *it);
      return NULL;
    }
    GError *bad = NULL;
    g_autofree char *norm = ma_domain_normalize(name, &bad);
    if (!norm) {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "recipient pattern \"%.64s\": %s", *it, bad->message);
      g_error_free(bad);
      return NULL;
    }
    char *canon = g_strconcat(wildcard ? "*." : "", norm, NULL);
    gboolean dup = FALSE;
    for (guint i = 0; i < out->len && !dup; i++) dup = strcmp(g_ptr_array_index(out, i), canon) == 0;
    if (dup) g_free(canon);
    else g_ptr_array_add(out, canon);
  }
  if (out->len == 0) return NULL;
  g_ptr_array_add(out, NULL);
  return g_strjoinv(" ", (char **) out->pdata);
}

gboolean relay_pattern_match(const char *pattern, const char *domain)
{
  if (!pattern || !domain || !*domain) return FALSE;
  if (!g_str_has_prefix(pattern, "*.")) return g_ascii_strcasecmp(pattern, domain) == 0;
  const char *base = pattern + 2;
  size_t bl = strlen(base), dl = strlen(domain);
  /* a subdomain: at least one label, a dot, then base */
  return dl > bl + 1 && domain[dl - bl - 1] == '.' && g_ascii_strcasecmp(domain + dl - bl, base) == 0;
}

gboolean relay_filter_match(const MaRelayFilter *f, const char *from_domain, const char *rcpt_domain)
{
  if (!f->sender_domain || g_ascii_strcasecmp(f->sender_domain, from_domain) != 0) return FALSE;
  if (!f->recipient_patterns || !*f->recipient_patterns) return TRUE;
  g_auto(GStrv) pats = g_strsplit(f->recipient_patterns, " ", -1);
  for (char **p = pats; *p; p++)
    if (relay_pattern_match(*p, rcpt_domain)) return TRUE;
  return FALSE;
}
