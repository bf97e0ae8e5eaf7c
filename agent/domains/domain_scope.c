/* domain_scope.c - the domain scope of the outbound path: an enterprise may send from a domain
 * through mailagent's own delivery path only while it holds the domain verified and an active DKIM
 * key of it was found published at the last check (SPF, when the return path is on that domain,
 * is part of "verified"). Reads storage only; the verifier keeps the state current.
 */
#include "domains_private.h"

#include <string.h>

int ma_domains_may_send(MaStorage *st, const char *enterprise_id, const char *domain, char **reason_r,
                        GError **error)
{
  if (reason_r) *reason_r = NULL;
  GError *invalid = NULL;
  g_autofree char *name = ma_domain_normalize(domain, &invalid);
  if (!name) {
    if (reason_r) *reason_r = g_strdup(invalid->message);
    g_error_free(invalid);
    return 0;
  }
  MaDomain *d = NULL;
  int rc = storage_domain_get(st, enterprise_id, name, &d, error);
  if (rc < 0) return -1;
  if (rc == 0) {
    if (reason_r) *reason_r = g_strdup_printf("%s is not a domain of this enterprise", name);
    return 0;
  }
  if (strcmp(d->status, "verified") != 0) {
    if (reason_r)
      *reason_r = g_strdup_printf("%s is %s%s%s", name, d->status, d->reason ? ": " : "", d->reason ? d->reason : "");
    ma_domain_free(d);
    return 0;
  }
  ma_domain_free(d);
  g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func((GDestroyNotify) ma_domain_key_free);
  if (storage_domain_key_list(st, enterprise_id, name, keys, error) < 0) return -1;
  for (guint i = 0; i < keys->len; i++) {
    MaDomainKey *k = keys->pdata[i];
    if (strcmp(k->state, "active") == 0 && k->published) return 1;
  }
  if (reason_r) *reason_r = g_strdup_printf("%s has no active DKIM selector that verifies", name);
  return 0;
}
