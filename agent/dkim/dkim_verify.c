/* dkim_verify.c - checks every DKIM-Signature of a message (RFC 6376 section 6, RFC 8463):
 * rsa-sha256 and ed25519-sha256, simple and relaxed canonicalisation, l= honoured, x= compared
 * with the caller's clock. Key records come through the caller's look-up, so this file knows no
 * DNS. Each signature gets its own result with a reason; nothing here logs.
 */
#include "dkim_private.h"

#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <string.h>

static const char *const result_names[] = { "pass", "fail", "neutral", "temperror", "permerror" };

const char *ma_dkim_result_name(MaDkimResultCode code) { return result_names[code]; }

void ma_dkim_result_free(MaDkimResult *r)
{
  if (!r) return;
  g_free(r->domain);
  g_free(r->selector);
  g_free(r->algorithm);
  g_free(r->reason);
  g_free(r);
}

static gboolean field_is(const DkimField *f, const char *name, gsize name_len)
{
  return f->name_len == name_len && g_ascii_strncasecmp(f->start, name, name_len) == 0;
}

static MaDkimResultCode set_result(MaDkimResult *r, MaDkimResultCode code, const char *reason)
{
  r->result = code;
  g_free(r->reason);
  r->reason = reason ? g_strdup(reason) : NULL;
  return code;
}

/* Parses a decimal tag value into *out; FALSE when absent (*out untouched) or malformed. */
static int tag_number(const DkimTags *tags, const char *name, gint64 *out)
{
  const DkimTag *t = dkim_tags_find(tags, name);
  if (!t) return 0;
  if (t->value_len == 0 || t->value_len > 15) return -1;
  gint64 v = 0;
  for (gsize i = 0; i < t->value_len; i++) {
    if (!g_ascii_isdigit(t->value[i])) return -1;
    v = v * 10 + (t->value[i] - '0');
  }
  *out = v;
  return 1;
}

/* TRUE when the colon-separated list value contains item (case-insensitive, white space ignored). */
static gboolean list_has(const char *list, const char *item, char sep)
{
  gchar **parts = g_strsplit(list, (char[]) { sep, 0 }, -1);
  gboolean found = FALSE;
  for (guint i = 0; parts[i] && !found; i++)
    found = g_ascii_strcasecmp(g_strstrip(parts[i]), item) == 0;
  g_strfreev(parts);
  return found;
}

/* The public key of a key record, checked against the signature's algorithm. */
static EVP_PKEY *record_key(const char *txt, gboolean ed, const char *identity_domain,
                            const char *d, MaDkimResult *r)
{
  DkimTags tags;
  const char *why = NULL;
  if (dkim_tags_parse(txt, strlen(txt), &tags, &why) < 0) {
    g_autofree char *reason = g_strdup_printf("key record syntax: %s", why);
    set_result(r, MA_DKIM_PERMERROR, reason);
    return NULL;
  }
  g_autofree char *v = dkim_tag_dup(&tags, "v", FALSE);
  g_autofree char *k = dkim_tag_dup(&tags, "k", FALSE);
  g_autofree char *p = dkim_tag_dup(&tags, "p", TRUE);
  g_autofree char *h = dkim_tag_dup(&tags, "h", TRUE);
  g_autofree char *s = dkim_tag_dup(&tags, "s", TRUE);
  g_autofree char *t = dkim_tag_dup(&tags, "t", TRUE);
  if (v && strcmp(v, "DKIM1") != 0) return set_result(r, MA_DKIM_PERMERROR, "key record v= is not DKIM1"), NULL;
  if (!p) return set_result(r, MA_DKIM_PERMERROR, "key record has no p="), NULL;
  if (!*p) return set_result(r, MA_DKIM_PERMERROR, "key revoked (empty p=)"), NULL;
  if (g_strcmp0(k ? k : "rsa", ed ? "ed25519" : "rsa") != 0)
    return set_result(r, MA_DKIM_PERMERROR, "key type k= does not match the signature algorithm"), NULL;
  if (h && !list_has(h, "sha256", ':'))
    return set_result(r, MA_DKIM_PERMERROR, "key record h= does not allow sha256"), NULL;
  if (s && !list_has(s, "*", ':') && !list_has(s, "email", ':'))
    return set_result(r, MA_DKIM_PERMERROR, "key record s= excludes email"), NULL;
  if (t && list_has(t, "s", ':') && identity_domain && g_ascii_strcasecmp(identity_domain, d) != 0)
    return set_result(r, MA_DKIM_PERMERROR, "key record t=s forbids a subdomain in i="), NULL;
  gsize der_len = 0;
  g_autofree guchar *der = dkim_base64_decode(p, strlen(p), &der_len);
  if (!der) return set_result(r, MA_DKIM_PERMERROR, "key record p= is not base64"), NULL;
  EVP_PKEY *pkey = NULL;
  if (ed) {
    if (der_len == 32) pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, der, der_len);
  } else {
    const unsigned char *q = der;
    pkey = d2i_PUBKEY(NULL, &q, (long) der_len);
    if (pkey && !EVP_PKEY_is_a(pkey, "RSA")) g_clear_pointer(&pkey, EVP_PKEY_free);
    if (pkey && EVP_PKEY_get_bits(pkey) < 1024) {
      EVP_PKEY_free(pkey);
      return set_result(r, MA_DKIM_PERMERROR, "RSA key shorter than 1024 bits"), NULL;
    }
  }
  if (!pkey) set_result(r, MA_DKIM_PERMERROR, "key record p= is not a valid public key");
  return pkey;
}

static gboolean signature_valid(EVP_PKEY *pkey, gboolean ed, const GString *data,
                                const guchar *sig, gsize sig_len)
{
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  gboolean ok = FALSE;
  if (ed) {
    guchar digest[32];
    unsigned int n = 0;
    ok = EVP_Digest(data->str, data->len, digest, &n, EVP_sha256(), NULL) &&
         EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pkey) &&
         EVP_DigestVerify(ctx, sig, sig_len, digest, sizeof digest) == 1;
  } else {
    ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pkey) &&
         EVP_DigestVerifyUpdate(ctx, data->str, data->len) &&
         EVP_DigestVerifyFinal(ctx, sig, sig_len) == 1;
  }
  EVP_MD_CTX_free(ctx);
  return ok;
}

/* Checks one signature field; fills r. */
static void verify_one(const char *message, gsize len, GArray *fields, guint sig_index,
                       gsize body_offset, gint64 now, MaDkimKeyLookup lookup, void *user_data,
                       MaDkimResult *r)
{
  const DkimField *sf = &g_array_index(fields, DkimField, sig_index);
  const char *value = (const char *) memchr(sf->start, ':', sf->len) + 1;
  gsize value_len = sf->len - (gsize) (value - sf->start);
  DkimTags tags;
  const char *why = NULL;
  if (dkim_tags_parse(value, value_len, &tags, &why) < 0) {
    g_autofree char *reason = g_strdup_printf("signature syntax: %s", why);
    set_result(r, MA_DKIM_NEUTRAL, reason);
    return;
  }
  r->domain = dkim_tag_dup(&tags, "d", TRUE);
  r->selector = dkim_tag_dup(&tags, "s", TRUE);
  r->algorithm = dkim_tag_dup(&tags, "a", TRUE);
  g_autofree char *v = dkim_tag_dup(&tags, "v", TRUE);
  g_autofree char *c = dkim_tag_dup(&tags, "c", TRUE);
  g_autofree char *h = dkim_tag_dup(&tags, "h", TRUE);
  g_autofree char *bh = dkim_tag_dup(&tags, "bh", TRUE);
  g_autofree char *b = dkim_tag_dup(&tags, "b", TRUE);
  g_autofree char *i = dkim_tag_dup(&tags, "i", TRUE);
  if (!v || !r->algorithm || !b || !bh || !r->domain || !h || !r->selector) {
    set_result(r, MA_DKIM_NEUTRAL, "signature lacks a required tag (v, a, b, bh, d, h, s)");
    return;
  }
  if (strcmp(v, "1") != 0) return (void) set_result(r, MA_DKIM_NEUTRAL, "signature v= is not 1");
  gboolean ed = strcmp(r->algorithm, "ed25519-sha256") == 0;
  if (!ed && strcmp(r->algorithm, "rsa-sha256") != 0)
    return (void) set_result(r, MA_DKIM_NEUTRAL, "unsupported algorithm (rsa-sha256 and ed25519-sha256 only)");
  gboolean header_relaxed = FALSE, body_relaxed = FALSE;
  if (c) {
    gchar **parts = g_strsplit(c, "/", 3);
    const char *header_mode = parts[0] ? parts[0] : "simple";
    const char *body_mode = parts[0] && parts[1] ? parts[1] : "simple";
    header_relaxed = g_ascii_strcasecmp(header_mode, "relaxed") == 0;
    body_relaxed = g_ascii_strcasecmp(body_mode, "relaxed") == 0;
    gboolean ok = (header_relaxed || g_ascii_strcasecmp(header_mode, "simple") == 0) &&
                  (body_relaxed || g_ascii_strcasecmp(body_mode, "simple") == 0) &&
                  !(parts[0] && parts[1] && parts[2]);
    g_strfreev(parts);
    if (!ok) return (void) set_result(r, MA_DKIM_NEUTRAL, "unknown canonicalisation in c=");
  }
  if (!dkim_name_valid(r->domain) || !dkim_name_valid(r->selector))
    return (void) set_result(r, MA_DKIM_NEUTRAL, "invalid d= or s=");
  if (!list_has(h, "from", ':')) return (void) set_result(r, MA_DKIM_NEUTRAL, "h= does not sign From");
  const char *identity_domain = NULL;
  if (i) {
    const char *at = strrchr(i, '@');
    if (!at) return (void) set_result(r, MA_DKIM_NEUTRAL, "i= has no '@'");
    identity_domain = at + 1;
    gsize idl = strlen(identity_domain), dl = strlen(r->domain);
    gboolean sub = idl == dl ? g_ascii_strcasecmp(identity_domain, r->domain) == 0
                             : idl > dl && identity_domain[idl - dl - 1] == '.' &&
                                 g_ascii_strcasecmp(identity_domain + idl - dl, r->domain) == 0;
    if (!sub) return (void) set_result(r, MA_DKIM_NEUTRAL, "i= is not within d=");
  }
  gint64 t = -1, x = -1, l = -1;
  if (tag_number(&tags, "t", &t) < 0 || tag_number(&tags, "x", &x) < 0 || tag_number(&tags, "l", &l) < 0)
    return (void) set_result(r, MA_DKIM_NEUTRAL, "t=, x= or l= is not a number");
  if (x >= 0 && t >= 0 && x < t) return (void) set_result(r, MA_DKIM_NEUTRAL, "x= is before t=");
  if (x >= 0 && now > x) return (void) set_result(r, MA_DKIM_FAIL, "signature expired (x=)");

  g_autofree char *name = g_strdup_printf("%s._domainkey.%s", r->selector, r->domain);
  char *txt = NULL;
  int found = lookup(name, &txt, user_data);
  if (found < 0) return (void) set_result(r, MA_DKIM_TEMPERROR, "key look-up failed for now");
  if (found == 0) {
    g_autofree char *reason = g_strdup_printf("no key record at %s", name);
    return (void) set_result(r, MA_DKIM_PERMERROR, reason);
  }
  EVP_PKEY *pkey = record_key(txt, ed, identity_domain, r->domain, r);
  g_free(txt);
  if (!pkey) return;

  /* Body hash. */
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  guchar digest[32];
  unsigned int digest_len = 0;
  guint64 canon_len = 0;
  EVP_DigestInit_ex(md, EVP_sha256(), NULL);
  dkim_canon_body(message + body_offset, len - body_offset, body_relaxed, l, md, &canon_len);
  EVP_DigestFinal_ex(md, digest, &digest_len);
  EVP_MD_CTX_free(md);
  gsize bh_len = 0;
  g_autofree guchar *bh_raw = dkim_base64_decode(bh, strlen(bh), &bh_len);
  if (l >= 0 && (guint64) l > canon_len) {
    EVP_PKEY_free(pkey);
    return (void) set_result(r, MA_DKIM_FAIL, "l= is longer than the body");
  }
  if (!bh_raw || bh_len != 32 || memcmp(bh_raw, digest, 32) != 0) {
    EVP_PKEY_free(pkey);
    return (void) set_result(r, MA_DKIM_FAIL, "body hash does not match (the body was changed)");
  }

  /* Header hash: each name of h= takes the lowest unused instance from the bottom. */
  GString *data = g_string_new(NULL);
  gboolean *used = g_new0(gboolean, fields->len);
  gchar **names = g_strsplit(h, ":", -1);
  for (guint n = 0; names[n]; n++) {
    gsize nl = strlen(names[n]);
    for (guint f = fields->len; f-- > 0;) {
      const DkimField *field = &g_array_index(fields, DkimField, f);
      if (used[f] || !field_is(field, names[n], nl)) continue;
      used[f] = TRUE;
      if (header_relaxed) dkim_canon_header_relaxed(field, data);
      else dkim_canon_header_simple(field, data);
      break;
    }
  }
  g_strfreev(names);
  g_free(used);
  GString *self = g_string_new(NULL);
  if (header_relaxed) dkim_canon_header_relaxed(sf, self);
  else dkim_canon_header_simple(sf, self);
  dkim_strip_b_value(self);
  g_string_truncate(self, self->len - 2); /* without its CRLF */
  g_string_append_len(data, self->str, (gssize) self->len);
  g_string_free(self, TRUE);

  gsize sig_len = 0;
  g_autofree guchar *sig = dkim_base64_decode(b, strlen(b), &sig_len);
  if (!sig) set_result(r, MA_DKIM_NEUTRAL, "b= is not base64");
  else if (signature_valid(pkey, ed, data, sig, sig_len)) set_result(r, MA_DKIM_PASS, NULL);
  else set_result(r, MA_DKIM_FAIL, "signature does not verify (a signed header field was changed, or another key)");
  g_string_free(data, TRUE);
  EVP_PKEY_free(pkey);
}

guint ma_dkim_verify(const char *message, gsize len, gint64 now, MaDkimKeyLookup lookup,
                     void *user_data, GPtrArray *results)
{
  GArray *fields = g_array_new(FALSE, FALSE, sizeof(DkimField));
  gsize body_offset = 0;
  guint count = 0;
  if (dkim_header_split(message, len, fields, &body_offset) < 0) {
    g_array_free(fields, TRUE);
    return 0;
  }
  for (guint f = 0; f < fields->len; f++) {
    if (!field_is(&g_array_index(fields, DkimField, f), "dkim-signature", 14)) continue;
    MaDkimResult *r = g_new0(MaDkimResult, 1);
    if (count >= MA_DKIM_MAX_SIGNATURES)
      set_result(r, MA_DKIM_NEUTRAL, "too many signatures; not checked");
    else
      verify_one(message, len, fields, f, body_offset, now, lookup, user_data, r);
    g_ptr_array_add(results, r);
    count++;
  }
  g_array_free(fields, TRUE);
  return count;
}
