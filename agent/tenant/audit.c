/* audit.c - writing audit entries (audit.h): the id and time come from clock.h, the details are
 * serialised compactly with sorted keys so equal changes read the same; storage numbers them. */
#include "audit.h"

#include "agent/lib/clock.h"

#include <pwd.h>
#include <unistd.h>

char *audit_actor_cli(void)
{
  struct passwd *pw = getpwuid(getuid());
  if (pw) return g_strdup_printf("cli:%s", pw->pw_name);
  return g_strdup_printf("cli:uid %u", (unsigned) getuid());
}

char *audit_actor_key(const MaApiKey *key)
{
  return g_strdup_printf("apikey:%s", key && key->id ? key->id : "?");
}

char *audit_key_enterprise(MaStorage *st, const char *key_id)
{
  MaApiKey *k = NULL;
  char *enterprise_id = NULL;
  if (storage_apikey_get(st, key_id, &k, NULL) > 0) enterprise_id = g_strdup(k->enterprise_id);
  ma_api_key_free(k);
  return enterprise_id;
}

int audit_log(MaStorage *st, const char *actor, const char *enterprise_id, const char *action, const char *target,
              json_t *details, GError **error)
{
  g_autofree char *text = details ? json_dumps(details, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  json_decref(details);
  MaAuditEntry e = {
    .enterprise_id = (char *) enterprise_id,
    .actor = (char *) actor,
    .action = (char *) action,
    .target = (char *) target,
    .details = text,
    .at = ma_now(),
  };
  return storage_audit_add(st, &e, error);
}
