/* dns_result.c - MaDnsResult: building, copying and freeing look-up results, and the small pure
 * helpers of dns.h (status and type names, reverse names, name validity, options from config).
 * No I/O here; the answer parser and the SPF test suite's resolver build results with these. */
#include "dns.h"

#include <arpa/inet.h>
#include <string.h>

#define DNS_MAX_NAME 253
#define DNS_MAX_LABEL 63

static char *strip_dot(const char *name)
{
  size_t n = strlen(name);
  if (n > 0 && name[n - 1] == '.') n--;
  return g_strndup(name, n);
}

MaDnsResult *ma_dns_result_new(const char *name, MaDnsType type, MaDnsStatus status)
{
  MaDnsResult *r = g_new0(MaDnsResult, 1);
  r->status = status;
  r->type = type;
  r->name = strip_dot(name ? name : "");
  r->canonical = g_strdup(r->name);
  return r;
}

/* Grows one of the arrays by one zeroed entry; returns its index. */
#define APPEND(arr, n) ((arr) = g_renew(__typeof__(*(arr)), (arr), (n) + 1), \
                        memset(&(arr)[(n)], 0, sizeof *(arr)), (n)++)

gboolean ma_dns_result_add_txt(MaDnsResult *r, const char *data, size_t len)
{
  if (r->type != MA_DNS_TXT) return FALSE;
  guint i = APPEND(r->txt, r->n);
  r->txt[i].data = g_malloc(len + 1);
  if (len) memcpy(r->txt[i].data, data, len);
  r->txt[i].data[len] = '\0';
  r->txt[i].len = len;
  r->status = MA_DNS_OK;
  return TRUE;
}

gboolean ma_dns_result_add_mx(MaDnsResult *r, guint16 preference, const char *exchange)
{
  if (r->type != MA_DNS_MX || !exchange || !*exchange || strcmp(exchange, ".") == 0) return FALSE;
  /* insertion keeps the array sorted by preference, ties in arrival order */
  guint at = r->n;
  while (at > 0 && r->mx[at - 1].preference > preference) at--;
  APPEND(r->mx, r->n);
  memmove(&r->mx[at + 1], &r->mx[at], (r->n - 1 - at) * sizeof *r->mx);
  r->mx[at].preference = preference;
  r->mx[at].exchange = strip_dot(exchange);
  r->status = MA_DNS_OK;
  return TRUE;
}

gboolean ma_dns_result_add_addr(MaDnsResult *r, const MaDnsAddr *addr)
{
  if (!((r->type == MA_DNS_A && addr->family == AF_INET) ||
        (r->type == MA_DNS_AAAA && addr->family == AF_INET6)))
    return FALSE;
  guint i = APPEND(r->addr, r->n);
  r->addr[i] = *addr;
  r->status = MA_DNS_OK;
  return TRUE;
}

gboolean ma_dns_result_add_ptr(MaDnsResult *r, const char *host)
{
  if (r->type != MA_DNS_PTR || !host) return FALSE;
  guint i = APPEND(r->ptr, r->n);
  r->ptr[i] = strip_dot(host);
  r->status = MA_DNS_OK;
  return TRUE;
}

MaDnsResult *ma_dns_result_copy(const MaDnsResult *src)
{
  MaDnsResult *r = ma_dns_result_new(src->name, src->type, src->status);
  g_free(r->canonical);
  r->canonical = g_strdup(src->canonical);
  r->ttl = src->ttl;
  r->reason = src->reason;
  r->null_mx = src->null_mx;
  for (guint i = 0; i < src->n; i++) {
    switch (src->type) {
    case MA_DNS_TXT: ma_dns_result_add_txt(r, src->txt[i].data, src->txt[i].len); break;
    case MA_DNS_MX: ma_dns_result_add_mx(r, src->mx[i].preference, src->mx[i].exchange); break;
    case MA_DNS_A:
    case MA_DNS_AAAA: ma_dns_result_add_addr(r, &src->addr[i]); break;
    case MA_DNS_PTR: ma_dns_result_add_ptr(r, src->ptr[i]); break;
    case MA_DNS_CNAME: break;
    }
  }
  r->status = src->status; /* the adders set OK; keep what the source said */
  return r;
}

void ma_dns_result_free(MaDnsResult *r)
{
  if (!r) return;
  for (guint i = 0; i < r->n; i++) {
    if (r->txt) g_free(r->txt[i].data);
    if (r->mx) g_free(r->mx[i].exchange);
    if (r->ptr) g_free(r->ptr[i]);
  }
  g_free(r->txt);
  g_free(r->mx);
  g_free(r->addr);
  g_free(r->ptr);
  g_free(r->name);
  g_free(r->canonical);
  g_free(r);
}

const char *ma_dns_status_name(MaDnsStatus status)
{
  switch (status) {
  case MA_DNS_OK: return "ok";
  case MA_DNS_NXDOMAIN: return "nxdomain";
  case MA_DNS_NODATA: return "nodata";
  case MA_DNS_TIMEOUT: return "timeout";
  case MA_DNS_SERVFAIL: return "servfail";
  case MA_DNS_FAILED: return "failed";
  case MA_DNS_CANCELLED: return "cancelled";
  }
  g_assert_not_reached();
}

const char *ma_dns_type_name(MaDnsType type)
{
  switch (type) {
  case MA_DNS_A: return "A";
  case MA_DNS_AAAA: return "AAAA";
  case MA_DNS_MX: return "MX";
  case MA_DNS_TXT: return "TXT";
  case MA_DNS_PTR: return "PTR";
  case MA_DNS_CNAME: return "CNAME";
  }
  g_assert_not_reached();
}

gboolean ma_dns_status_is_temporary(MaDnsStatus status)
{
  return status != MA_DNS_OK && status != MA_DNS_NXDOMAIN && status != MA_DNS_NODATA;
}

char *ma_dns_reverse_name(const MaDnsAddr *addr)
{
  if (addr->family == AF_INET) {
    const guint8 *b = (const guint8 *)&addr->addr.v4;
    return g_strdup_printf("%u.%u.%u.%u.in-addr.arpa", b[3], b[2], b[1], b[0]);
  }
  GString *s = g_string_sized_new(73);
  const guint8 *b = addr->addr.v6.s6_addr;
  for (int i = 15; i >= 0; i--) g_string_append_printf(s, "%x.%x.", b[i] & 0xF, b[i] >> 4);
  g_string_append(s, "ip6.arpa");
  return g_string_free(s, FALSE);
}

gboolean ma_dns_name_is_valid(const char *name)
{
  if (!name) return FALSE;
  size_t n = strlen(name);
  if (n > 0 && name[n - 1] == '.') n--;
  if (n == 0 || n > DNS_MAX_NAME) return FALSE;
  size_t label = 0;
  for (size_t i = 0; i < n; i++) {
    if (name[i] == '.') {
      if (label == 0) return FALSE;
      label = 0;
    } else if (++label > DNS_MAX_LABEL) {
      return FALSE;
    }
  }
  return label > 0;
}

void ma_dns_options_from_config(MaDnsOptions *opts, const MaConfig *cfg)
{
  memset(opts, 0, sizeof *opts);
  opts->servers = cfg->dns_servers;
  opts->timeout_ms = cfg->dns_timeout_ms;
  opts->tries = cfg->dns_tries;
  opts->cache_entries = (guint)cfg->dns_cache_entries;
}
