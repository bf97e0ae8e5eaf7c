/* rcpt_snapshot.c - the in-memory RCPT-time directory (see rcpt_snapshot.h).
 *
 * Loading reads every enterprise (with its domains), every live inbound address, and each
 * enterprise's employees and settings through storage.h; a load that fails part-way returns
 * nothing, so a snapshot is always whole. Look-ups are hash-table reads: no allocation but the
 * returned id, no locks (the snapshot never changes after loading).
 */
#include "rcpt_snapshot.h"

#include "agent/lib/clock.h"
#include "agent/tenant/settings.h"

#include <string.h>

typedef struct {
  char *enterprise_id;
  gint64 expires_at; /* 0: current address */
} RcptAddress;

typedef struct {
  GPtrArray *domains;      /* char*, NULL-terminated (for FwdInput.domains) */
  MaSettings *settings;
  GHashTable *employees;   /* lower-case e-mail -> employee id (both owned) */
} RcptEnterprise;

struct RcptSnapshot {
  gint refs;
  gint64 version;
  GHashTable *addresses;   /* lower-case local part -> RcptAddress* */
  GHashTable *enterprises; /* id -> RcptEnterprise* */
  RcptEnterprise *unknown; /* default settings, no domains, no employees */
};

static void address_free(gpointer p)
{
  RcptAddress *a = p;
  g_free(a->enterprise_id);
  g_free(a);
}

static void enterprise_free(gpointer p)
{
  RcptEnterprise *e = p;
  if (!e)
    return;
  g_ptr_array_unref(e->domains);
  ma_settings_free(e->settings);
  g_hash_table_unref(e->employees);
  g_free(e);
}

static RcptEnterprise *enterprise_new(MaSettings *settings)
{
  RcptEnterprise *e = g_new0(RcptEnterprise, 1);
  e->domains = g_ptr_array_new_with_free_func(g_free);
  e->settings = settings;
  e->employees = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  return e;
}

static RcptSnapshot *snapshot_new(const char *default_policy, gint64 version)
{
  RcptSnapshot *snap = g_new0(RcptSnapshot, 1);
  MaConfig defaults = {.forwarder_policy = (char *)default_policy};

  snap->refs = 1;
  snap->version = version;
  snap->addresses = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, address_free);
  snap->enterprises = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, enterprise_free);
  snap->unknown = enterprise_new(settings_defaults(&defaults));
  g_ptr_array_add(snap->unknown->domains, NULL);
  return snap;
}

RcptSnapshot *rcpt_snapshot_new_empty(const char *default_policy)
{
  return snapshot_new(default_policy, -1);
}

/* One enterprise's domains, employees and settings. */
static int load_enterprise(MaStorage *st, const MaConfig *defaults, MaEnterprise *ent, RcptEnterprise **out,
                           GError **error)
{
  MaSettings *settings = NULL;
  g_autoptr(GPtrArray) employees = g_ptr_array_new_with_free_func((GDestroyNotify)ma_employee_free);
  RcptEnterprise *e;

  if (settings_load(st, defaults, ent->id, &settings, error) < 0)
    return -1;
  e = enterprise_new(settings);
  if (storage_employee_list(st, ent->id, employees, error) < 0) {
    enterprise_free(e);
    return -1;
  }
  for (guint i = 0; i < employees->len; i++) {
    MaEmployee *emp = employees->pdata[i];
    g_hash_table_replace(e->employees, g_ascii_strdown(emp->email, -1), g_strdup(emp->id));
  }
  for (guint i = 0; ent->domains && i < ent->domains->len; i++)
    g_ptr_array_add(e->domains, g_ascii_strdown(ent->domains->pdata[i], -1));
  g_ptr_array_add(e->domains, NULL);
  *out = e;
  return 0;
}

RcptSnapshot *rcpt_snapshot_load(MaStorage *st, const char *default_policy, gint64 version, GError **error)
{
  g_autoptr(GPtrArray) ents = g_ptr_array_new_with_free_func((GDestroyNotify)ma_enterprise_free);
  g_autoptr(GPtrArray) addrs = g_ptr_array_new_with_free_func((GDestroyNotify)ma_inbound_address_free);
  MaConfig defaults = {.forwarder_policy = (char *)default_policy};
  RcptSnapshot *snap;

  /* addresses live now; one whose grace ends later is checked against the clock at look-up */
  if (storage_enterprise_list(st, ents, error) < 0 || storage_inbound_all(st, ma_now(), addrs, error) < 0)
    return NULL;
  snap = snapshot_new(default_policy, version);
  for (guint i = 0; i < ents->len; i++) {
    MaEnterprise *ent = ents->pdata[i];
    RcptEnterprise *e = NULL;
    if (load_enterprise(st, &defaults, ent, &e, error) < 0) {
      rcpt_snapshot_unref(snap);
      return NULL;
    }
    g_hash_table_replace(snap->enterprises, g_strdup(ent->id), e);
  }
  for (guint i = 0; i < addrs->len; i++) {
    MaInboundAddress *a = addrs->pdata[i];
    RcptAddress *ra = g_new0(RcptAddress, 1);
    ra->enterprise_id = g_strdup(a->enterprise_id);
    ra->expires_at = a->expires_at;
    g_hash_table_replace(snap->addresses, g_ascii_strdown(a->local, -1), ra);
  }
  return snap;
}

RcptSnapshot *rcpt_snapshot_ref(RcptSnapshot *snap)
{
  g_return_val_if_fail(snap != NULL, NULL);
  g_atomic_int_inc(&snap->refs);
  return snap;
}

void rcpt_snapshot_unref(RcptSnapshot *snap)
{
  if (!snap || !g_atomic_int_dec_and_test(&snap->refs))
    return;
  g_hash_table_unref(snap->addresses);
  g_hash_table_unref(snap->enterprises);
  enterprise_free(snap->unknown);
  g_free(snap);
}

gint64 rcpt_snapshot_version(const RcptSnapshot *snap)
{
  return snap->version;
}

guint rcpt_snapshot_address_count(const RcptSnapshot *snap)
{
  return g_hash_table_size(snap->addresses);
}

int rcpt_snapshot_inbound(const RcptSnapshot *snap, const char *local_part, gint64 now, char **enterprise_id_r)
{
  g_autofree char *lower = g_ascii_strdown(local_part, -1);
  const RcptAddress *a = g_hash_table_lookup(snap->addresses, lower);

  *enterprise_id_r = NULL;
  if (!a || (a->expires_at != 0 && a->expires_at <= now))
    return 0;
  *enterprise_id_r = g_strdup(a->enterprise_id);
  return 1;
}

static int employee_lookup(void *ctx, const char *address, char **employee_id_r, GError **error)
{
  const RcptEnterprise *e = ctx;
  const char *id = g_hash_table_lookup(e->employees, address);

  if (!id)
    return 0;
  *employee_id_r = g_strdup(id);
  return 1;
}

int rcpt_snapshot_policy(const RcptSnapshot *snap, const char *enterprise_id, const char *client_ip,
                         const char *mail_from, const guint8 *msg, gsize len, FwdDecision *out, GError **error)
{
  const RcptEnterprise *e = enterprise_id ? g_hash_table_lookup(snap->enterprises, enterprise_id) : NULL;
  FwdInput in = {0};

  if (!e)
    e = snap->unknown;
  if (forwarder_policy_parse(e->settings->forwarder_policy, &in.policy) < 0)
    in.policy = FWD_POLICY_EMPLOYEE;
  in.client_in_networks = settings_in_forwarder_networks(e->settings, client_ip);
  in.domains = (const char *const *)e->domains->pdata;
  in.lookup = employee_lookup;
  in.lookup_ctx = (void *)e;
  return forwarder_policy_decide(&in, mail_from, msg, len, out, error);
}
