/* match_records.c - participants to CRM records: classification (inbound / internal / external),
 * direction, and the record look-ups of the matching rules in match.h. Reads storage only.
 * Cost per message: one look-up per external address, one per external domain that is not public,
 * and one or two per matched contact or account; nothing is loaded in bulk.
 */
#include "match.h"

#include "agent/lib/crypto.h"

#include <string.h>

/* ---- context -------------------------------------------------------------------------------- */

int match_context_load(MaStorage *st, const MaConfig *cfg, const char *enterprise_id, MaMatchContext **out,
                       GError **error)
{
  g_autoptr(GError) local = NULL;
  MaEnterprise *ent = NULL;
  int rc = storage_enterprise_get(st, enterprise_id, &ent, &local);
  if (rc < 0) {
    g_propagate_error(error, g_steal_pointer(&local));
    return -1;
  }
  if (rc == 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_NOT_FOUND, "no enterprise \"%s\"", enterprise_id);
    return -1;
  }
  MaMatchContext *ctx = g_new0(MaMatchContext, 1);
  ctx->enterprise_id = g_strdup(ent->id);
  ctx->inbound_domain = g_utf8_strdown(cfg && cfg->inbound_domain ? cfg->inbound_domain : "inbound.localhost", -1);
  ctx->domains = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  ctx->employees = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; ent->domains && i < ent->domains->len; i++) {
    const char *d = ent->domains->pdata[i];
    g_hash_table_add(ctx->domains, g_utf8_strdown(d, -1));
    /* Domains are stored as A-labels; participants' domains arrive decoded to Unicode. */
    g_hash_table_add(ctx->domains, ma_domain_to_unicode(d));
  }
  ma_enterprise_free(ent);

  g_autoptr(GPtrArray) employees = g_ptr_array_new_with_free_func((GDestroyNotify) ma_employee_free);
  if (storage_employee_list(st, ctx->enterprise_id, employees, error) < 0 ||
      settings_load(st, cfg, ctx->enterprise_id, &ctx->settings, error) < 0) {
    match_context_free(ctx);
    return -1;
  }
  for (guint i = 0; i < employees->len; i++) {
    const MaEmployee *e = employees->pdata[i];
    g_hash_table_add(ctx->employees, ma_address_key(e->email, ctx->settings->ignore_plus_tags));
  }
  *out = ctx;
  return 0;
}

void match_context_free(MaMatchContext *ctx)
{
  if (!ctx) return;
  g_free(ctx->enterprise_id);
  g_free(ctx->inbound_domain);
  g_hash_table_unref(ctx->domains);
  g_hash_table_unref(ctx->employees);
  ma_settings_free(ctx->settings);
  g_free(ctx);
}

/* TRUE when domain is one of set or a subdomain of one. */
static gboolean domain_in(GHashTable *set, const char *domain)
{
  for (const char *d = domain; d && *d;) {
    if (g_hash_table_contains(set, d)) return TRUE;
    d = strchr(d, '.');
    if (d) d++;
  }
  return FALSE;
}

/* match_is_internal for an address already folded by ma_address_key with the enterprise's
 * ignore_plus_tags. */
static gboolean key_is_internal(const MaMatchContext *ctx, const char *key)
{
  if (g_hash_table_contains(ctx->employees, key)) return TRUE;
  const char *domain = ma_address_domain(key);
  return domain && domain_in(ctx->domains, domain);
}

gboolean match_is_internal(const MaMatchContext *ctx, const char *address)
{
  g_autofree char *key = ma_address_key(address, ctx->settings->ignore_plus_tags);
  return key_is_internal(ctx, key);
}

gboolean match_is_inbound(const MaMatchContext *ctx, const char *address)
{
  const char *domain = ma_address_domain(address);
  return domain && g_ascii_strcasecmp(domain, ctx->inbound_domain) == 0;
}

/* ---- results -------------------------------------------------------------------------------- */

void match_free(MaMatch *m)
{
  if (!m) return;
  g_ptr_array_unref(m->participants);
  g_ptr_array_unref(m->external_keys);
  g_ptr_array_unref(m->links);
  if (m->excluded) g_ptr_array_unref(m->excluded);
  g_free(m->participants_key);
  g_free(m->subject_key);
  g_free(m);
}

gboolean match_link_add_why(GPtrArray *links, MaRecordType type, const char *id, const char *reason)
{
  for (guint i = 0; i < links->len; i++) {
    const MaRecordRef *r = links->pdata[i];
    if (r->type == type && strcmp(r->id, id) == 0) return FALSE;
  }
  MaRecordRef *ref = ma_record_ref_new(type, id);
  ref->reason = g_strdup(reason);
  g_ptr_array_add(links, ref);
  return TRUE;
}

gboolean match_link_add(GPtrArray *links, MaRecordType type, const char *id)
{
  return match_link_add_why(links, type, id, NULL);
}

/* The role name of the first matchable participant with this address key ("from", "cc"...).
 * keys: the participants' address keys, parallel to m->participants (NULL for Reply-To). */
static const char *role_of(const MaMatch *m, GPtrArray *keys, const char *key)
{
  for (guint i = 0; i < m->participants->len; i++) {
    const char *k = keys->pdata[i];
    if (k && strcmp(k, key) == 0) return ma_role_name(((const MaParticipant *) m->participants->pdata[i])->role);
  }
  return "participant";
}

static gboolean has_link(GPtrArray *links, MaRecordType type, const char *id)
{
  for (guint i = 0; i < links->len; i++) {
    const MaRecordRef *r = links->pdata[i];
    if (r->type == type && strcmp(r->id, id) == 0) return TRUE;
  }
  return FALSE;
}

static void add_unique_str(GPtrArray *arr, const char *s)
{
  for (guint i = 0; i < arr->len; i++)
    if (strcmp(arr->pdata[i], s) == 0) return;
  g_ptr_array_add(arr, g_strdup(s));
}

static gint cmp_str(gconstpointer a, gconstpointer b)
{
  return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* ---- matching ------------------------------------------------------------------------------- */
/* Reasons are written with g_strconcat, not g_strdup_printf: the same text for a quarter of the
 * instructions (a message gets two or three). */

/* Links contacts/leads/accounts having one of the external addresses; collects matched contacts'
 * ids and their accounts' ids. */
static int match_addresses(MaStorage *st, const MaMatchContext *ctx, MaMatch *m, GPtrArray *keys,
                           GPtrArray *contact_ids, GPtrArray *account_ids, GHashTable *contact_of_account,
                           GError **error)
{
  g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func((GDestroyNotify) ma_record_free);
  for (guint i = 0; i < m->external_keys->len; i++) {
    g_ptr_array_set_size(found, 0);
    if (storage_records_by_email(st, ctx->enterprise_id, m->external_keys->pdata[i],
                                 ctx->settings->ignore_plus_tags, found, error) < 0)
      return -1;
    for (guint j = 0; j < found->len; j++) {
      const MaRecord *r = found->pdata[j];
      if (r->type == MA_RECORD_OPPORTUNITY) continue;
      const char *key = m->external_keys->pdata[i];
      g_autofree char *why = g_strconcat(role_of(m, keys, key), " ", key, " = ", ma_record_type_name(r->type), " ", r->id, NULL);
      match_link_add_why(m->links, r->type, r->id, why);
      if (r->type == MA_RECORD_ACCOUNT) add_unique_str(account_ids, r->id);
      if (r->type == MA_RECORD_CONTACT) {
        add_unique_str(contact_ids, r->id);
        if (r->account_id && *r->account_id) {
          add_unique_str(account_ids, r->account_id);
          if (!g_hash_table_contains(contact_of_account, r->account_id))
            g_hash_table_insert(contact_of_account, g_strdup(r->account_id), g_strdup(r->id));
        }
      }
    }
  }
  return 0;
}

/* Accounts by the external participants' domains, public providers excepted (linked at once:
 * they come from storage, so they exist). */
static int match_domains(MaStorage *st, const MaMatchContext *ctx, MaMatch *m, GError **error)
{
  g_autoptr(GPtrArray) seen = g_ptr_array_new(); /* borrowed from m->external_keys */
  g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func((GDestroyNotify) ma_record_free);
  for (guint i = 0; i < m->external_keys->len; i++) {
    const char *domain = ma_address_domain(m->external_keys->pdata[i]);
    if (!domain || !*domain || settings_is_public_domain(ctx->settings, domain)) continue;
    gboolean dup = FALSE;
    for (guint j = 0; j < seen->len && !dup; j++) dup = strcmp(seen->pdata[j], domain) == 0;
    if (dup) continue;
    g_ptr_array_add(seen, (gpointer) domain);
    g_ptr_array_set_size(found, 0);
    if (storage_accounts_by_domain(st, ctx->enterprise_id, domain, found, error) < 0) return -1;
    for (guint j = 0; j < found->len; j++) {
      const char *id = ((MaRecord *) found->pdata[j])->id;
      g_autofree char *why = g_strconcat("domain ", domain, " = account ", id, NULL);
      match_link_add_why(m->links, MA_RECORD_ACCOUNT, id, why);
    }
  }
  return 0;
}

/* Links the accounts named by matched contacts that exist (a contact may name an account that was
 * never imported); accounts linked already need no look-up. */
static int link_accounts(MaStorage *st, const MaMatchContext *ctx, MaMatch *m, GPtrArray *account_ids,
                         GHashTable *contact_of_account, GError **error)
{
  for (guint i = 0; i < account_ids->len; i++) {
    const char *id = account_ids->pdata[i];
    if (has_link(m->links, MA_RECORD_ACCOUNT, id)) continue;
    MaRecord *r = NULL;
    int rc = storage_record_get(st, ctx->enterprise_id, MA_RECORD_ACCOUNT, id, &r, error);
    if (rc < 0) return -1;
    const char *contact = g_hash_table_lookup(contact_of_account, id);
    g_autofree char *why = contact ? g_strconcat("contact ", contact, "'s account = account ", id, NULL) : NULL;
    if (rc == 1) match_link_add_why(m->links, MA_RECORD_ACCOUNT, id, why);
    ma_record_free(r);
  }
  return 0;
}

static int match_opportunities(MaStorage *st, const MaMatchContext *ctx, MaMatch *m, GPtrArray *contact_ids,
                               GError **error)
{
  g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func((GDestroyNotify) ma_record_free);
  g_autoptr(GPtrArray) covered = g_ptr_array_new_with_free_func(g_free); /* accounts with a linked opp */
  for (guint i = 0; i < contact_ids->len; i++) {
    g_ptr_array_set_size(found, 0);
    if (storage_opportunities_open_for_contact(st, ctx->enterprise_id, contact_ids->pdata[i], found, error) < 0)
      return -1;
    for (guint j = 0; j < found->len; j++) {
      const MaRecord *o = found->pdata[j];
      if (o->stage != MA_STAGE_OPEN) continue;
      g_autofree char *why = g_strconcat("contact ", (const char *) contact_ids->pdata[i], " in open opportunity ", o->id, NULL);
      match_link_add_why(m->links, MA_RECORD_OPPORTUNITY, o->id, why);
      if (o->account_id) add_unique_str(covered, o->account_id);
    }
  }
  guint n = m->links->len;
  for (guint i = 0; i < n; i++) {
    const MaRecordRef *r = m->links->pdata[i];
    if (r->type != MA_RECORD_ACCOUNT) continue;
    gboolean skip = FALSE;
    for (guint j = 0; j < covered->len && !skip; j++) skip = strcmp(covered->pdata[j], r->id) == 0;
    if (skip) continue;
    g_ptr_array_set_size(found, 0);
    if (storage_opportunities_open_for_account(st, ctx->enterprise_id, r->id, found, error) < 0) return -1;
    guint open = 0;
    const MaRecord *only = NULL;
    for (guint j = 0; j < found->len; j++)
      if (((MaRecord *) found->pdata[j])->stage == MA_STAGE_OPEN) {
        open++;
        only = found->pdata[j];
      }
    if (open == 1) {
      g_autofree char *why = g_strconcat("only open opportunity of account ", r->id, " = opportunity ", only->id, NULL);
      match_link_add_why(m->links, MA_RECORD_OPPORTUNITY, only->id, why);
    }
  }
  return 0;
}

static char *participants_key(GPtrArray *keys)
{
  MaSha256 *h = ma_sha256_new();
  for (guint i = 0; i < keys->len; i++) {
    ma_sha256_update(h, keys->pdata[i], strlen(keys->pdata[i]));
    ma_sha256_update(h, "\n", 1);
  }
  char hex[65];
  ma_sha256_finish(h, hex);
  return g_strdup(hex);
}

/* Orders links: contacts and leads, then accounts, then opportunities (stable). */
static gint link_rank(const MaRecordRef *r)
{
  switch (r->type) {
  case MA_RECORD_CONTACT:
  case MA_RECORD_LEAD: return 0;
  case MA_RECORD_ACCOUNT: return 1;
  default: return 2;
  }
}

static gint cmp_link(gconstpointer a, gconstpointer b)
{
  const MaRecordRef *x = *(const MaRecordRef *const *) a, *y = *(const MaRecordRef *const *) b;
  return link_rank(x) - link_rank(y);
}

void match_reasons_note_forward(GPtrArray *links, const char *forwarder)
{
  for (guint i = 0; i < links->len; i++) {
    MaRecordRef *r = links->pdata[i];
    if (r->reason && strstr(r->reason, "(hand-forward by ")) continue;
    char *why = g_strdup_printf("%s (hand-forward by %s unwrapped)", r->reason ? r->reason : "matched",
                                forwarder ? forwarder : "an employee");
    g_free(r->reason);
    r->reason = why;
  }
}

const char *match_skip_reason(const MaMatchContext *ctx, const MaMatch *match)
{
  if (match->external_keys->len == 0 && match->excluded->len > 0) return "never_log";
  return match_machine_skip_reason(ctx->settings, match->machine);
}

int match_message(MaStorage *st, const MaMatchContext *ctx, const MaMessage *msg, MaMatch **out, GError **error)
{
  g_autoptr(MaMatch) m = g_new0(MaMatch, 1);
  m->participants = g_ptr_array_new_with_free_func((GDestroyNotify) ma_participant_free);
  m->external_keys = g_ptr_array_new_with_free_func(g_free);
  m->links = g_ptr_array_new_with_free_func((GDestroyNotify) ma_record_ref_free);
  m->excluded = g_ptr_array_new_with_free_func(g_free);
  m->direction = MA_DIRECTION_INBOUND;
  m->machine = match_machine_classify(msg, &m->machine_reason);

  /* each participant's address key, folded once here for every use below (NULL: Reply-To) */
  gboolean ignore_plus = ctx->settings->ignore_plus_tags;
  g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func(g_free);
  const char *from = NULL, *sender = NULL;
  gboolean from_internal = FALSE, sender_internal = FALSE;
  for (guint i = 0; msg->participants && i < msg->participants->len; i++) {
    const MaParticipant *p = msg->participants->pdata[i];
    if (!p->address || !*p->address || match_is_inbound(ctx, p->address)) continue;
    g_ptr_array_add(m->participants, ma_participant_new(p->role, p->name, p->address));
    char *key = p->role == MA_ROLE_REPLY_TO ? NULL : ma_address_key(p->address, ignore_plus);
    g_ptr_array_add(keys, key);
    gboolean internal = key && key_is_internal(ctx, key);
    if (p->role == MA_ROLE_FROM && !from) {
      from = p->address;
      from_internal = internal;
    }
    if (p->role == MA_ROLE_SENDER && !sender) {
      sender = p->address;
      sender_internal = internal;
    }
    if (!key) continue;
    if (internal) {
      m->n_internal++;
      continue;
    }
    /* without ignore_plus_tags the key is the exact form already */
    g_autofree char *exact = ignore_plus ? ma_address_key(p->address, FALSE) : NULL;
    const char *never = settings_never_log_match(ctx->settings, exact ? exact : key);
    if (!never && exact) never = settings_never_log_match(ctx->settings, key);
    if (never) {
      g_autofree char *why = g_strdup_printf("%s (never_log %s)", exact ? exact : key, never);
      add_unique_str(m->excluded, why);
      continue;
    }
    if (ma_address_domain(key)) add_unique_str(m->external_keys, key);
  }
  if (from ? from_internal : sender && sender_internal) m->direction = MA_DIRECTION_OUTBOUND;
  g_ptr_array_sort(m->external_keys, cmp_str);
  m->participants_key = participants_key(m->external_keys);

  g_autoptr(GPtrArray) contact_ids = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GPtrArray) account_ids = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GHashTable) contact_of_account = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  if (match_addresses(st, ctx, m, keys, contact_ids, account_ids, contact_of_account, error) < 0 ||
      match_domains(st, ctx, m, error) < 0 || link_accounts(st, ctx, m, account_ids, contact_of_account, error) < 0 ||
      match_opportunities(st, ctx, m, contact_ids, error) < 0)
    return -1;
  if (msg->unwrapped) match_reasons_note_forward(m->links, msg->forwarder_address);
  g_ptr_array_sort(m->links, cmp_link); /* glib's sort is stable (merge sort) */
  *out = g_steal_pointer(&m);
  return 0;
}
