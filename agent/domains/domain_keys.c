/* domain_keys.c - the DKIM keys of a domain: creating one (generated or imported, sealed with the
 * master key before it is stored), the records to publish for it (direct TXT, or delegated: the
 * customer's CNAME to a name under mailagent's [relay] dkim_cname_domain), rotation, and signing
 * with the active keys (the entry point of the outbound path).
 *
 * Life of a key: "pending" when created; "active" once its record is seen in DNS (it signs from
 * then on); "retired" when a newer key of the same type became active (it signs no more; its record
 * may go DKIM_RETIRED_GRACE later). Until a new key verifies, the old one keeps signing.
 * Private keys are opened only to sign, wiped after use, never logged.
 */
#include "domains_private.h"

#include "agent/lib/clock.h"
#include "agent/lib/crypto.h"
#include "agent/lib/error.h"

#include <string.h>

const char *domains_key_family(const char *algorithm)
{
  return g_strcmp0(algorithm, "ed25519") == 0 ? "ed25519" : "rsa";
}

char *domains_key_name(const char *selector, const char *domain)
{
  return g_strdup_printf("%s._domainkey.%s", selector, domain);
}

char *domains_key_target(const char *selector, const char *domain, const char *cname_domain)
{
  return g_strdup_printf("%s._domainkey.%s.%s", selector, domain, cname_domain);
}

static char *aad_for(const char *key_id) { return g_strconcat("dkim:", key_id, NULL); }

/* The selectors of keys, for the generator's collision check. Caller unrefs. */
static GPtrArray *selectors_of(GPtrArray *keys)
{
  GPtrArray *out = g_ptr_array_new();
  for (guint i = 0; i < keys->len; i++) g_ptr_array_add(out, ((MaDomainKey *) keys->pdata[i])->selector);
  return out;
}

/* Delegated mode alternates two selectors, "ma1" and "ma2", whose CNAMEs the customer publishes
 * once: rotation then only changes records under mailagent's own domain. */
static const char *delegated_selector(GPtrArray *keys)
{
  for (guint i = keys->len; i-- > 0;) {
    MaDomainKey *k = keys->pdata[i];
    if (k->target && g_strcmp0(k->state, "retired") != 0) return strcmp(k->selector, "ma1") == 0 ? "ma2" : "ma1";
  }
  return "ma1";
}

int ma_domains_key_create(MaStorage *st, const guint8 master_key[32], const MaDomainKeyRequest *req,
                          MaDomainKey **key_r, GError **error)
{
  *key_r = NULL;
  g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func((GDestroyNotify) ma_domain_key_free);
  if (storage_domain_key_list(st, req->enterprise_id, req->domain, keys, error) < 0) return -1;
  if (req->delegated && (!req->cname_domain || !*req->cname_domain)) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID,
                "delegated mode needs [relay] dkim_cname_domain (the domain under which mailagent publishes keys)");
    return -1;
  }
  MaDkimKey *key = NULL;
  if (req->import_pem) key = ma_dkim_key_from_pem(req->import_pem, strlen(req->import_pem), error);
  else key = ma_dkim_key_generate(req->type, error);
  if (!key) return -1;
  const char *family = ma_dkim_key_type(key) == MA_DKIM_KEY_ED25519 ? "ed25519" : "rsa";

  /* One key of a type may wait for its record at a time: a second would leave the first orphaned. */
  for (guint i = 0; i < keys->len; i++) {
    MaDomainKey *k = keys->pdata[i];
    if (strcmp(k->state, "pending") == 0 && strcmp(domains_key_family(k->algorithm), family) == 0) {
      g_set_error(error, MA_ERROR, MA_ERROR_CONFLICT,
                  "the %s key %s of %s is still waiting for its DNS record; publish it (and run domain verify) "
                  "or remove it first", family, k->selector, req->domain);
      ma_dkim_key_free(key);
      return -1;
    }
  }
  g_autofree char *selector = NULL;
  if (req->selector) {
    if (!ma_dkim_selector_check(req->selector, error)) {
      ma_dkim_key_free(key);
      return -1;
    }
    selector = g_strdup(req->selector);
  } else if (req->delegated) {
    selector = g_strdup(delegated_selector(keys));
  } else {
    g_autoptr(GPtrArray) taken = selectors_of(keys);
    selector = ma_dkim_selector_generate(req->now, ma_dkim_key_type(key), taken);
  }

  MaDomainKey *row = g_new0(MaDomainKey, 1);
  row->id = ma_id_new();
  row->enterprise_id = g_strdup(req->enterprise_id);
  row->domain = g_strdup(req->domain);
  row->selector = g_strdup(selector);
  MaDkimKeyType type = ma_dkim_key_type(key);
  row->algorithm = g_strdup(ma_dkim_key_type_name(type));
  char *pem = ma_dkim_key_private_pem(key);
  g_autofree char *aad = aad_for(row->id);
  row->private_sealed = ma_secret_seal(master_key, aad, pem);
  ma_dkim_secret_free(pem);
  row->public_b64 = ma_dkim_key_public_b64(key);
  row->state = g_strdup("pending");
  row->target = req->delegated ? domains_key_target(selector, req->domain, req->cname_domain) : NULL;
  row->created_at = req->now;
  ma_dkim_key_free(key);
  if (storage_domain_key_add(st, row, error) < 0) {
    ma_domain_key_free(row);
    return -1;
  }
  *key_r = row;
  return 0;
}

char *ma_domains_key_record(const MaDomainKey *k)
{
  return g_strdup_printf("v=DKIM1; k=%s; p=%s", domains_key_family(k->algorithm), k->public_b64);
}

/* ---- signing -------------------------------------------------------------------------------- */

int ma_domains_dkim_sign(MaStorage *st, const guint8 master_key[32], const char *enterprise_id,
                         const char *domain, const char *message, gsize len,
                         const MaDkimSignOptions *options, char **headers_r, GError **error)
{
  *headers_r = NULL;
  g_autofree char *name = ma_domain_normalize(domain, error);
  if (!name) return -1;
  g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func((GDestroyNotify) ma_domain_key_free);
  if (storage_domain_key_list(st, enterprise_id, name, keys, error) < 0) return -1;
  GPtrArray *opened = g_ptr_array_new_with_free_func((GDestroyNotify) ma_dkim_key_free);
  GArray *signers = g_array_new(FALSE, FALSE, sizeof(MaDkimSigner));
  int rc = 0;
  /* RSA first, then Ed25519: verifiers that know only RSA find theirs first (RFC 8463 sec. 5). */
  for (int pass = 0; pass < 2 && rc == 0; pass++) {
    for (guint i = 0; i < keys->len && rc == 0; i++) {
      MaDomainKey *k = keys->pdata[i];
      gboolean ed = strcmp(domains_key_family(k->algorithm), "ed25519") == 0;
      if (strcmp(k->state, "active") != 0 || ed != (pass == 1)) continue;
      g_autofree char *aad = aad_for(k->id);
      char *pem = ma_secret_open(master_key, aad, k->private_sealed, error);
      if (!pem) {
        g_prefix_error(error, "DKIM key %s of %s: ", k->selector, name);
        rc = -1;
        break;
      }
      MaDkimKey *key = ma_dkim_key_from_pem(pem, strlen(pem), error);
      ma_dkim_secret_free(pem);
      if (!key) {
        rc = -1;
        break;
      }
      g_ptr_array_add(opened, key);
      MaDkimSigner signer = { name, k->selector, key };
      g_array_append_val(signers, signer);
    }
  }
  if (rc == 0 && signers->len > 0) {
    MaDkimSignOptions now_opts = { .timestamp = ma_now() };
    rc = ma_dkim_sign((MaDkimSigner *) (void *) signers->data, signers->len, message, len,
                      options ? options : &now_opts, headers_r, error);
    if (rc == 0) rc = 1;
  }
  g_array_free(signers, TRUE);
  g_ptr_array_unref(opened);
  return rc;
}
