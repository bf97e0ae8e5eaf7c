/* dkim_sign.c - DKIM signatures (RFC 6376 section 5, RFC 8463): relaxed/relaxed, rsa-sha256 or
 * ed25519-sha256, t= and an optional x=, never l=. The signed header set is fixed; From is listed
 * once more than it occurs (oversigned) so a second From cannot be added without breaking the
 * signature. The signature field is folded before it is hashed, and the hash covers the folded
 * text canonicalised, so folding never changes what a verifier computes.
 */
#include "dkim_private.h"

#include "agent/lib/error.h"

#include <string.h>

/* Signed when present, in this order (RFC 6376 5.4.1's list of the fields that matter). */
static const char *const signed_fields[] = {
  "from", "sender", "reply-to", "subject", "date", "message-id", "to", "cc", "in-reply-to",
  "references", "mime-version", "content-type", "content-transfer-encoding", "content-disposition",
  "list-id", "list-unsubscribe", "list-unsubscribe-post",
};

static gboolean field_is(const DkimField *f, const char *name)
{
  return f->name_len == strlen(name) && g_ascii_strncasecmp(f->start, name, f->name_len) == 0;
}

/* Appends " " or "\r\n\t" and then text, keeping lines under 78 columns. */
static void fold_append(GString *out, gsize *column, const char *text)
{
  gsize n = strlen(text);
  if (*column + 1 + n > 76) {
    g_string_append(out, "\r\n\t");
    *column = 8;
  } else {
    g_string_append_c(out, ' ');
    (*column)++;
  }
  g_string_append(out, text);
  *column += n;
}

/* The signature over the hash of the canonical header data: RSA PKCS#1 v1.5 over SHA-256, or
 * Ed25519 over the SHA-256 digest (RFC 8463 section 3). Returns the base64, or NULL. */
static char *sign_data(const MaDkimKey *key, const GString *data)
{
  EVP_PKEY *pkey = dkim_key_pkey(key);
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  guchar *sig = NULL;
  size_t sig_len = 0;
  char *out = NULL;
  if (ma_dkim_key_type(key) == MA_DKIM_KEY_ED25519) {
    guchar digest[32];
    unsigned int digest_len = 0;
    if (EVP_Digest(data->str, data->len, digest, &digest_len, EVP_sha256(), NULL) &&
        EVP_DigestSignInit(ctx, NULL, NULL, NULL, pkey) &&
        EVP_DigestSign(ctx, NULL, &sig_len, digest, sizeof digest)) {
      sig = g_malloc(sig_len);
      if (!EVP_DigestSign(ctx, sig, &sig_len, digest, sizeof digest)) g_clear_pointer(&sig, g_free);
    }
  } else if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pkey) &&
             EVP_DigestSignUpdate(ctx, data->str, data->len) &&
             EVP_DigestSignFinal(ctx, NULL, &sig_len)) {
    sig = g_malloc(sig_len);
    if (!EVP_DigestSignFinal(ctx, sig, &sig_len)) g_clear_pointer(&sig, g_free);
  }
  EVP_MD_CTX_free(ctx);
  if (sig) out = g_base64_encode(sig, sig_len);
  g_free(sig);
  return out;
}

static char *body_hash(const char *body, gsize len)
{
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  guchar digest[32];
  unsigned int digest_len = 0;
  guint64 canon_len = 0;
  if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) g_error("EVP_DigestInit failed");
  dkim_canon_body(body, len, TRUE, -1, md, &canon_len);
  if (!EVP_DigestFinal_ex(md, digest, &digest_len)) g_error("EVP_DigestFinal failed");
  EVP_MD_CTX_free(md);
  return g_base64_encode(digest, digest_len);
}

/* One signature field for signer over the split message. Returns the folded field, or NULL. */
static char *sign_one(const MaDkimSigner *signer, GArray *fields, const char *bh,
                      const MaDkimSignOptions *options, GError **error)
{
  gboolean ed = ma_dkim_key_type(signer->key) == MA_DKIM_KEY_ED25519;
  /* h=: every listed field present, as often as it occurs, plus one more From. */
  GString *h = g_string_new(NULL);
  GString *hashed = g_string_new(NULL);
  for (guint n = 0; n < G_N_ELEMENTS(signed_fields); n++) {
    const char *name = signed_fields[n];
    /* Instances are taken from the bottom up (RFC 6376 5.4.2), so list them in that order. */
    for (guint i = fields->len; i-- > 0;) {
      DkimField *f = &g_array_index(fields, DkimField, i);
      if (!field_is(f, name)) continue;
      g_string_append_printf(h, "%s%s", h->len ? ":" : "", name);
      dkim_canon_header_relaxed(f, hashed);
    }
  }
  g_string_append(h, ":from"); /* oversigned: an added From finds no unsigned slot */

  GString *field = g_string_new("DKIM-Signature:");
  gsize column = field->len;
  char tmp[128];
  fold_append(field, &column, "v=1;");
  g_snprintf(tmp, sizeof tmp, "a=%s;", ed ? "ed25519-sha256" : "rsa-sha256");
  fold_append(field, &column, tmp);
  fold_append(field, &column, "c=relaxed/relaxed;");
  g_autofree char *d = g_strdup_printf("d=%s;", signer->domain);
  fold_append(field, &column, d);
  g_autofree char *s = g_strdup_printf("s=%s;", signer->selector);
  fold_append(field, &column, s);
  g_snprintf(tmp, sizeof tmp, "t=%" G_GINT64_FORMAT ";", options->timestamp);
  fold_append(field, &column, tmp);
  if (options->expire_after > 0) {
    g_snprintf(tmp, sizeof tmp, "x=%" G_GINT64_FORMAT ";", options->timestamp + options->expire_after);
    fold_append(field, &column, tmp);
  }
  /* h= folds at its colons. */
  gchar **names = g_strsplit(h->str, ":", -1);
  for (guint i = 0; names[i]; i++) {
    g_autofree char *piece = g_strdup_printf("%s%s%s", i ? "" : "h=", names[i], names[i + 1] ? ":" : ";");
    if (i == 0) {
      fold_append(field, &column, piece);
    } else if (column + strlen(piece) > 76) {
      g_string_append(field, "\r\n\t");
      column = 8;
      g_string_append(field, piece);
      column += strlen(piece);
    } else {
      g_string_append(field, piece);
      column += strlen(piece);
    }
  }
  g_strfreev(names);
  g_autofree char *bh_tag = g_strdup_printf("bh=%s;", bh);
  fold_append(field, &column, bh_tag);
  fold_append(field, &column, "b=");

  /* Hash the signature field as it stands (b= empty), canonicalised, without its CRLF. */
  g_string_append(field, "\r\n");
  DkimField self = { field->str, field->len, strlen("DKIM-Signature") };
  dkim_canon_header_relaxed(&self, hashed);
  g_string_truncate(hashed, hashed->len - 2);
  g_string_truncate(field, field->len - 2);

  char *b = sign_data(signer->key, hashed);
  g_string_free(hashed, TRUE);
  g_string_free(h, TRUE);
  if (!b) {
    g_set_error(error, MA_ERROR, MA_ERROR_INTERNAL, "OpenSSL could not sign for %s", signer->domain);
    g_string_free(field, TRUE);
    return NULL;
  }
  /* b= folds at column 76; white space inside b= is ignored by verifiers. */
  for (const char *c = b; *c; c++) {
    if (column >= 76) {
      g_string_append(field, "\r\n\t");
      column = 8;
    }
    g_string_append_c(field, *c);
    column++;
  }
  g_free(b);
  g_string_append(field, "\r\n");
  return g_string_free(field, FALSE);
}

int ma_dkim_sign(const MaDkimSigner *signers, guint n_signers, const char *message, gsize len,
                 const MaDkimSignOptions *options, char **headers_r, GError **error)
{
  *headers_r = NULL;
  GArray *fields = g_array_new(FALSE, FALSE, sizeof(DkimField));
  gsize body_offset = 0;
  if (dkim_header_split(message, len, fields, &body_offset) < 0) {
    g_array_free(fields, TRUE);
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "the message has no valid header (a line that is not a field, or no empty line before the body)");
    return -1;
  }
  gboolean has_from = FALSE;
  for (guint i = 0; i < fields->len; i++)
    if (field_is(&g_array_index(fields, DkimField, i), "from")) has_from = TRUE;
  if (!has_from) {
    g_array_free(fields, TRUE);
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "the message has no From field to sign");
    return -1;
  }
  for (guint i = 0; i < n_signers; i++)
    if (!dkim_name_valid(signers[i].domain) || !dkim_name_valid(signers[i].selector)) {
      g_array_free(fields, TRUE);
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "invalid signing domain or selector '%s._domainkey.%s'",
                  signers[i].selector, signers[i].domain);
      return -1;
    }
  char *bh = body_hash(message + body_offset, len - body_offset);
  GString *out = g_string_new(NULL);
  int rc = 0;
  for (guint i = 0; i < n_signers && rc == 0; i++) {
    char *one = sign_one(&signers[i], fields, bh, options, error);
    if (!one) rc = -1;
    else g_string_append(out, one);
    g_free(one);
  }
  g_free(bh);
  g_array_free(fields, TRUE);
  if (rc < 0) {
    g_string_free(out, TRUE);
    return -1;
  }
  *headers_r = g_string_free(out, FALSE);
  return 0;
}

char *ma_dkim_from_domain(const char *message, gsize len)
{
  GArray *fields = g_array_new(FALSE, FALSE, sizeof(DkimField));
  gsize body_offset = 0;
  char *out = NULL;
  if (dkim_header_split(message, len, fields, &body_offset) == 0) {
    for (guint i = 0; i < fields->len && !out; i++) {
      DkimField *f = &g_array_index(fields, DkimField, i);
      if (!field_is(f, "from")) continue;
      GString *canon = g_string_new(NULL);
      dkim_canon_header_relaxed(f, canon);
      /* The address is inside <> when there is a display name; else the whole value. */
      const char *open = strrchr(canon->str, '<');
      const char *start = open ? open + 1 : canon->str + 5;
      const char *at = NULL;
      for (const char *p = start; *p && *p != '>' && *p != '\r'; p++)
        if (*p == '@') at = p;
      if (at) {
        const char *end = at + 1;
        while (*end && *end != '>' && *end != ' ' && *end != ',' && *end != ';' && *end != '\r' && *end != ')') end++;
        if (end > at + 1) out = g_ascii_strdown(at + 1, end - at - 1);
      }
      g_string_free(canon, TRUE);
      break;
    }
  }
  g_array_free(fields, TRUE);
  return out;
}
