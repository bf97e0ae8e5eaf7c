/* retention.c - deleting mail past its enterprise's retention_days (see retention.h). Reads the
 * setting through agent/tenant, deletes through storage_expire_before; never logs content. */
#include "retention.h"

#include "agent/tenant/settings.h"

#define RETENTION_BATCH 200
#define SECONDS_PER_DAY 86400

int retention_expire(MaStorage *st, const char *enterprise_id, gint64 now, MaEraseCounts *counts, GError **error)
{
  g_autofree char *value = NULL;
  if (settings_get(st, NULL, enterprise_id, "retention_days", &value, error) < 0) return -1;
  guint64 days = 0;
  if (!g_ascii_string_to_unsigned(value, 10, 0, SETTINGS_DAYS_MAX, &days, NULL) || days == 0) return 0;
  gint64 before = now - (gint64)days * SECONDS_PER_DAY;
  int n;
  while ((n = storage_expire_before(st, enterprise_id, before, RETENTION_BATCH, counts, error)) > 0) {
  }
  return n < 0 ? -1 : 0;
}

int retention_run_all(MaStorage *st, gint64 now, MaEraseCounts *counts, GError **error)
{
  g_autoptr(GPtrArray) ents = g_ptr_array_new_with_free_func((GDestroyNotify)ma_enterprise_free);
  if (storage_enterprise_list(st, ents, error) < 0) return -1;
  for (guint i = 0; i < ents->len; i++) {
    const MaEnterprise *e = g_ptr_array_index(ents, i);
    if (retention_expire(st, e->id, now, counts, error) < 0) return -1;
  }
  /* always: it also finishes what an erasure elsewhere left uncompacted, and a merged index
   * answers searches about twice as fast; with nothing to merge it costs nothing */
  return storage_search_compact(st, error);
}
