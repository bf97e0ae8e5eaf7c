/* test_dkim.c - agent/dkim: the tag-list parser (table), canonicalisation against RFC 6376's
 * worked example, key records (ed25519 p= raw, split strings), sign-then-verify for every key
 * type, tampering detected per part, and the RFC 8463 example message dkimpy ships.
 */
#include "agent/dkim/dkim.h"
#include "agent/dkim/dkim_private.h"
#include "agent/lib/error.h"

#include <string.h>

/* ---- tag lists ------------------------------------------------------------------------------ */

static void test_tags_table(void)
{
  static const struct {
    const char *text;
    int rc;
    guint n;
    const char *name2, *value2; /* the second tag, when n >= 2 */
  } cases[] = {
    { "v=1; a=rsa-sha256", 0, 2, "a", "rsa-sha256" },
    { "v=1;a=rsa-sha256;", 0, 2, "a", "rsa-sha256" },
    { " v = 1 ;\r\n\ta =  x y  ", 0, 2, "a", "x y" },
    { "", 0, 0, NULL, NULL },
    { "v=", 0, 1, NULL, NULL },
    { "v=1; v=2", -1, 0, NULL, NULL },   /* duplicate */
    { "v", -1, 0, NULL, NULL },          /* no '=' */
    { "1v=1", -1, 0, NULL, NULL },       /* name starts with a digit */
    { "v=1; ;", -1, 0, NULL, NULL },     /* empty tag-spec */
    { "v=\x01", -1, 0, NULL, NULL },     /* control character */
    { "v=\xc3\xa9", -1, 0, NULL, NULL }, /* 8-bit */
  };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    DkimTags tags;
    const char *why = NULL;
    int rc = dkim_tags_parse(cases[i].text, strlen(cases[i].text), &tags, &why);
    g_assert_cmpint(rc, ==, cases[i].rc);
    if (rc < 0) {
      g_assert_nonnull(why);
      continue;
    }
    g_assert_cmpuint(tags.n, ==, cases[i].n);
    if (cases[i].name2) {
      g_autofree char *v = dkim_tag_dup(&tags, cases[i].name2, FALSE);
      g_assert_cmpstr(v, ==, cases[i].value2);
    }
  }
  /* A list longer than the limit is refused before any parsing. */
  g_autofree char *huge = g_strnfill(MA_DKIM_MAX_TAG_LIST + 1, 'a');
  huge[0] = 'v';
  huge[1] = '=';
  DkimTags tags;
  const char *why = NULL;
  g_assert_cmpint(dkim_tags_parse(huge, strlen(huge), &tags, &why), ==, -1);
  g_assert_cmpstr(why, ==, "tag list too long");
}

static void test_base64_with_folding(void)
{
  gsize n = 0;
  g_autofree guchar *a = dkim_base64_decode("aGVs\r\n\tbG8=", 11, &n);
  g_assert_nonnull(a);
  g_assert_cmpmem(a, n, "hello", 5);
  g_assert_null(dkim_base64_decode("aGVs*bG8=", 9, &n));
  g_assert_null(dkim_base64_decode("aGVsbG8", 7, &n));  /* length not a multiple of 4 */
  g_assert_null(dkim_base64_decode("aG=sbG8=", 8, &n)); /* data after padding */
}

/* ---- canonicalisation: RFC 6376 section 3.4.6 ----------------------------------------------- */

static const char rfc_example[] =
  "A: X\r\n"
  "B : Y\t\r\n"
  "\tZ  \r\n"
  "\r\n"
  " C \r\n"
  "D \t E\r\n"
  "\r\n"
  "\r\n";

static char *body_canon_text(const char *body, gboolean relaxed, guint64 *len)
{
  /* Hash the canonical body and compare with the digest of the expected text instead of
   * capturing it: the canonicaliser writes only to a digest. */
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  EVP_DigestInit_ex(md, EVP_sha256(), NULL);
  dkim_canon_body(body, strlen(body), relaxed, -1, md, len);
  guchar d[32];
  unsigned int n = 0;
  EVP_DigestFinal_ex(md, d, &n);
  EVP_MD_CTX_free(md);
  return g_base64_encode(d, n);
}

static char *sha256_b64(const char *text)
{
  guchar d[32];
  unsigned int n = 0;
  EVP_Digest(text, strlen(text), d, &n, EVP_sha256(), NULL);
  return g_base64_encode(d, n);
}

static void test_canon_rfc_example(void)
{
  GArray *fields = g_array_new(FALSE, FALSE, sizeof(DkimField));
  gsize body_offset = 0;
  g_assert_cmpint(dkim_header_split(rfc_example, strlen(rfc_example), fields, &body_offset), ==, 0);
  g_assert_cmpuint(fields->len, ==, 2);
  GString *relaxed = g_string_new(NULL), *simple = g_string_new(NULL);
  for (guint i = 0; i < fields->len; i++) {
    dkim_canon_header_relaxed(&g_array_index(fields, DkimField, i), relaxed);
    dkim_canon_header_simple(&g_array_index(fields, DkimField, i), simple);
  }
  g_assert_cmpstr(relaxed->str, ==, "a:X\r\nb:Y Z\r\n");
  g_assert_cmpstr(simple->str, ==, "A: X\r\nB : Y\t\r\n\tZ  \r\n");
  g_string_free(relaxed, TRUE);
  g_string_free(simple, TRUE);

  const char *body = rfc_example + body_offset;
  guint64 len = 0;
  g_autofree char *r = body_canon_text(body, TRUE, &len);
  g_autofree char *r_expected = sha256_b64(" C\r\nD E\r\n");
  g_assert_cmpstr(r, ==, r_expected);
  g_assert_cmpuint(len, ==, 9);
  g_autofree char *s = body_canon_text(body, FALSE, &len);
  g_autofree char *s_expected = sha256_b64(" C \r\nD \t E\r\n");
  g_assert_cmpstr(s, ==, s_expected);
  /* Empty bodies: relaxed hashes nothing, simple one CRLF; LF line ends read as CRLF. */
  g_autofree char *e1 = body_canon_text("\r\n\r\n", TRUE, &len);
  g_autofree char *e1x = sha256_b64("");
  g_assert_cmpstr(e1, ==, e1x);
  g_autofree char *e2 = body_canon_text("", FALSE, &len);
  g_autofree char *e2x = sha256_b64("\r\n");
  g_assert_cmpstr(e2, ==, e2x);
  g_autofree char *lf = body_canon_text("a \nb", TRUE, &len);
  g_autofree char *lfx = sha256_b64("a\r\nb\r\n");
  g_assert_cmpstr(lf, ==, lfx);
  g_array_free(fields, TRUE);
}

static void test_header_split_rejects(void)
{
  GArray *fields = g_array_new(FALSE, FALSE, sizeof(DkimField));
  gsize off = 0;
  g_assert_cmpint(dkim_header_split(" cont\r\n\r\n", 9, fields, &off), ==, -1);
  g_assert_cmpint(dkim_header_split("no colon\r\n\r\n", 12, fields, &off), ==, -1);
  g_assert_cmpint(dkim_header_split("A: b", 4, fields, &off), ==, -1);
  g_array_set_size(fields, 0);
  g_assert_cmpint(dkim_header_split("A: b\n", 5, fields, &off), ==, 0);
  g_assert_cmpuint(off, ==, 5);
  g_array_free(fields, TRUE);
}

static void test_strip_b(void)
{
  GString *f = g_string_new("dkim-signature:v=1; bh=abc; b=XYZ; d=x\r\n");
  g_assert_true(dkim_strip_b_value(f));
  g_assert_cmpstr(f->str, ==, "dkim-signature:v=1; bh=abc; b=; d=x\r\n");
  g_string_assign(f, "dkim-signature:v=1; b=XY Z\r\n");
  g_assert_true(dkim_strip_b_value(f));
  g_assert_cmpstr(f->str, ==, "dkim-signature:v=1; b=\r\n");
  g_string_assign(f, "dkim-signature:v=1; bh=abc\r\n");
  g_assert_false(dkim_strip_b_value(f));
  g_string_free(f, TRUE);
}

/* ---- keys ----------------------------------------------------------------------------------- */

static void test_key_records(void)
{
  GError *error = NULL;
  MaDkimKey *ed = ma_dkim_key_generate(MA_DKIM_KEY_ED25519, &error);
  g_assert_no_error(error);
  g_autofree char *p = ma_dkim_key_public_b64(ed);
  gsize n = 0;
  g_autofree guchar *raw = g_base64_decode(p, &n);
  g_assert_cmpuint(n, ==, 32); /* RFC 8463: the raw key, not the 44-byte SPKI */
  g_autofree char *rec = ma_dkim_key_record(ed);
  g_assert_true(g_str_has_prefix(rec, "v=DKIM1; k=ed25519; p="));

  /* The private PEM reads back as the same key. */
  char *pem = ma_dkim_key_private_pem(ed);
  MaDkimKey *back = ma_dkim_key_from_pem(pem, strlen(pem), &error);
  g_assert_no_error(error);
  g_autofree char *p2 = ma_dkim_key_public_b64(back);
  g_assert_cmpstr(p, ==, p2);
  ma_dkim_secret_free(pem);
  ma_dkim_key_free(back);
  ma_dkim_key_free(ed);

  MaDkimKey *rsa = ma_dkim_key_generate(MA_DKIM_KEY_RSA_2048, &error);
  g_assert_no_error(error);
  g_autofree char *rrec = ma_dkim_key_record(rsa);
  g_assert_true(g_str_has_prefix(rrec, "v=DKIM1; k=rsa; p=MIIBIjAN"));
  g_autofree char *split = ma_dkim_record_split(rrec);
  /* 2048-bit: 410 octets of record, two strings of 255 and the rest. */
  gchar **parts = g_strsplit(split, "\" \"", -1);
  g_assert_cmpuint(g_strv_length(parts), ==, 2);
  g_assert_cmpuint(strlen(parts[0]), ==, 256); /* the opening quote plus 255 */
  g_autofree char *joined = g_strjoinv("", parts);
  g_strfreev(parts);
  g_assert_cmpuint(strlen(joined), ==, strlen(rrec) + 2);
  ma_dkim_key_free(rsa);

  g_assert_null(ma_dkim_key_from_pem("junk", 4, &error));
  g_assert_error(error, MA_ERROR, MA_ERROR_INVALID);
  g_clear_error(&error);
  MaDkimKeyType t;
  g_assert_cmpint(ma_dkim_key_type_parse("rsa-4096", &t, &error), ==, -1);
  g_assert_nonnull(strstr(error->message, "rsa-2048, rsa-1024 or ed25519"));
  g_clear_error(&error);
}

/* ---- sign and verify ------------------------------------------------------------------------ */

typedef struct {
  const char *name;
  const char *txt;
  int rc;
} FakeDns;

static int fake_lookup(const char *name, char **txt_r, void *user_data)
{
  for (FakeDns *d = user_data; d->name; d++)
    if (g_ascii_strcasecmp(d->name, name) == 0) {
      if (d->rc == 1) *txt_r = g_strdup(d->txt);
      return d->rc;
    }
  return 0;
}

static const char message[] =
  "From: Joe <joe@example.com>\r\n"
  "To: Suzie <suzie@example.net>\r\n"
  "Subject: Is  dinner\r\n ready?\r\n"
  "Date: Fri, 11 Jul 2003 21:00:37 -0700\r\n"
  "Message-ID: <1@example.com>\r\n"
  "\r\n"
  "Hi.\r\n\r\nWe lost the game.  Are you hungry yet?\r\n\r\nJoe.\r\n";

static GPtrArray *verify_text(const char *text, FakeDns *dns, gint64 now)
{
  GPtrArray *results = g_ptr_array_new_with_free_func((GDestroyNotify) ma_dkim_result_free);
  ma_dkim_verify(text, strlen(text), now, fake_lookup, dns, results);
  return results;
}

static void test_sign_verify_each_type(void)
{
  for (int type = MA_DKIM_KEY_RSA_2048; type <= MA_DKIM_KEY_ED25519; type++) {
    GError *error = NULL;
    MaDkimKey *key = ma_dkim_key_generate((MaDkimKeyType) type, &error);
    g_assert_no_error(error);
    g_autofree char *record = ma_dkim_key_record(key);
    FakeDns dns[] = { { "s1._domainkey.example.com", record, 1 }, { NULL, NULL, 0 } };
    MaDkimSigner signer = { "example.com", "s1", key };
    MaDkimSignOptions opt = { .timestamp = 1700000000, .expire_after = 86400 };
    char *headers = NULL;
    g_assert_cmpint(ma_dkim_sign(&signer, 1, message, strlen(message), &opt, &headers, &error), ==, 0);
    g_assert_no_error(error);
    g_assert_true(g_str_has_prefix(headers, "DKIM-Signature: v=1;"));
    g_assert_nonnull(strstr(headers, "c=relaxed/relaxed;"));
    g_assert_nonnull(strstr(headers, "t=1700000000;"));
    g_assert_nonnull(strstr(headers, "x=1700086400;"));
    g_assert_null(strstr(headers, "l="));
    gchar **folds = g_strsplit(headers, "\r\n\t", -1);
    g_autofree char *unfolded = g_strjoinv("", folds);
    g_strfreev(folds);
    g_assert_nonnull(strstr(unfolded, "h=from:subject:date:message-id:to:from;"));
    /* Lines stay under 78 columns. */
    gchar **lines = g_strsplit(headers, "\r\n", -1);
    for (guint i = 0; lines[i]; i++) g_assert_cmpuint(strlen(lines[i]), <=, 78);
    g_strfreev(lines);

    g_autofree char *signed_text = g_strconcat(headers, message, NULL);
    GPtrArray *r = verify_text(signed_text, dns, 1700000100);
    g_assert_cmpuint(r->len, ==, 1);
    MaDkimResult *res = r->pdata[0];
    g_assert_cmpstr(ma_dkim_result_name(res->result), ==, "pass");
    g_assert_cmpstr(res->domain, ==, "example.com");
    g_assert_cmpstr(res->algorithm, ==, type == MA_DKIM_KEY_ED25519 ? "ed25519-sha256" : "rsa-sha256");
    g_ptr_array_unref(r);

    /* Relaxed: refolding a header and re-spacing body lines keeps it valid. */
    g_autofree char *respaced = g_strdup(signed_text);
    char *sub = strstr(respaced, "Is  dinner\r\n ready?");
    memcpy(sub, "Is dinner \r\n  ready?", 20);
    r = verify_text(respaced, dns, 1700000100);
    g_assert_cmpint(((MaDkimResult *) r->pdata[0])->result, ==, MA_DKIM_PASS);
    g_ptr_array_unref(r);

    /* One body byte changed: fail on the body hash. */
    g_autofree char *body_changed = g_strdup(signed_text);
    strstr(body_changed, "hungry")[0] = 'H';
    r = verify_text(body_changed, dns, 1700000100);
    res = r->pdata[0];
    g_assert_cmpint(res->result, ==, MA_DKIM_FAIL);
    g_assert_nonnull(strstr(res->reason, "body hash"));
    g_ptr_array_unref(r);

    /* A signed header changed: fail on the signature. */
    g_autofree char *header_changed = g_strdup(signed_text);
    strstr(header_changed, "Suzie")[0] = 'X';
    r = verify_text(header_changed, dns, 1700000100);
    res = r->pdata[0];
    g_assert_cmpint(res->result, ==, MA_DKIM_FAIL);
    g_assert_nonnull(strstr(res->reason, "signature does not verify"));
    g_ptr_array_unref(r);

    /* A second From added on top: the oversigned From breaks it. */
    g_autofree char *second_from = g_strconcat("From: evil@example.org\r\n", signed_text, NULL);
    r = verify_text(second_from, dns, 1700000100);
    g_assert_cmpint(((MaDkimResult *) r->pdata[0])->result, ==, MA_DKIM_FAIL);
    g_ptr_array_unref(r);

    /* Expired, key missing, look-up failing, key revoked. */
    r = verify_text(signed_text, dns, 1700086401);
    g_assert_cmpint(((MaDkimResult *) r->pdata[0])->result, ==, MA_DKIM_FAIL);
    g_ptr_array_unref(r);
    FakeDns none[] = { { NULL, NULL, 0 } };
    r = verify_text(signed_text, none, 1700000100);
    g_assert_cmpint(((MaDkimResult *) r->pdata[0])->result, ==, MA_DKIM_PERMERROR);
    g_ptr_array_unref(r);
    FakeDns tempfail[] = { { "s1._domainkey.example.com", NULL, -1 }, { NULL, NULL, 0 } };
    r = verify_text(signed_text, tempfail, 1700000100);
    g_assert_cmpint(((MaDkimResult *) r->pdata[0])->result, ==, MA_DKIM_TEMPERROR);
    g_ptr_array_unref(r);
    FakeDns revoked[] = { { "s1._domainkey.example.com", "v=DKIM1; p=", 1 }, { NULL, NULL, 0 } };
    r = verify_text(signed_text, revoked, 1700000100);
    res = r->pdata[0];
    g_assert_cmpint(res->result, ==, MA_DKIM_PERMERROR);
    g_assert_nonnull(strstr(res->reason, "revoked"));
    g_ptr_array_unref(r);

    g_free(headers);
    ma_dkim_key_free(key);
  }
}

static void test_sign_both_keys_lf_input(void)
{
  GError *error = NULL;
  MaDkimKey *rsa = ma_dkim_key_generate(MA_DKIM_KEY_RSA_1024, &error);
  MaDkimKey *ed = ma_dkim_key_generate(MA_DKIM_KEY_ED25519, &error);
  g_autofree char *rrec = ma_dkim_key_record(rsa);
  g_autofree char *erec = ma_dkim_key_record(ed);
  FakeDns dns[] = { { "r._domainkey.example.com", rrec, 1 }, { "e._domainkey.example.com", erec, 1 },
                    { NULL, NULL, 0 } };
  MaDkimSigner signers[] = { { "example.com", "r", rsa }, { "example.com", "e", ed } };
  MaDkimSignOptions opt = { .timestamp = 1700000000 };
  const char *lf = "From: a@example.com\nSubject: x\n\nbody\n";
  char *headers = NULL;
  g_assert_cmpint(ma_dkim_sign(signers, 2, lf, strlen(lf), &opt, &headers, &error), ==, 0);
  g_assert_null(strstr(headers, "x="));
  g_autofree char *signed_text = g_strconcat(headers, lf, NULL);
  GPtrArray *r = verify_text(signed_text, dns, 1700000000);
  g_assert_cmpuint(r->len, ==, 2);
  g_assert_cmpint(((MaDkimResult *) r->pdata[0])->result, ==, MA_DKIM_PASS);
  g_assert_cmpint(((MaDkimResult *) r->pdata[1])->result, ==, MA_DKIM_PASS);
  g_assert_cmpstr(((MaDkimResult *) r->pdata[1])->algorithm, ==, "ed25519-sha256");
  g_ptr_array_unref(r);
  g_free(headers);

  /* No From: refused; an invalid selector: refused. */
  const char *nofrom = "Subject: x\r\n\r\nbody\r\n";
  g_assert_cmpint(ma_dkim_sign(signers, 1, nofrom, strlen(nofrom), &opt, &headers, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_INVALID);
  g_clear_error(&error);
  MaDkimSigner bad = { "example.com", "bad selector", rsa };
  g_assert_cmpint(ma_dkim_sign(&bad, 1, lf, strlen(lf), &opt, &headers, &error), ==, -1);
  g_clear_error(&error);
  ma_dkim_key_free(rsa);
  ma_dkim_key_free(ed);
}

/* RFC 8463 appendix A: the example message signed with both algorithms, as dkimpy ships it. */
static void test_rfc8463_example(void)
{
  const char *path = "/usr/lib/python3/dist-packages/dkim/tests/data/rfc6376.signed.msg";
  g_autofree char *text = NULL;
  gsize len = 0;
  if (!g_file_get_contents(path, &text, &len, NULL)) {
    g_test_skip("python3-dkim's test data is not installed");
    return;
  }
  FakeDns dns[] = {
    { "brisbane._domainkey.football.example.com",
      "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", 1 },
    { NULL, NULL, 0 } };
  GPtrArray *r = g_ptr_array_new_with_free_func((GDestroyNotify) ma_dkim_result_free);
  g_assert_cmpuint(ma_dkim_verify(text, len, 1518460054, fake_lookup, dns, r), ==, 2);
  MaDkimResult *ed = r->pdata[0];
  g_assert_cmpstr(ed->algorithm, ==, "ed25519-sha256");
  g_assert_cmpstr(ma_dkim_result_name(ed->result), ==, "pass");
  g_ptr_array_set_size(r, 0);
  strstr(text, "hungry")[0] = 'H';
  ma_dkim_verify(text, len, 1518460054, fake_lookup, dns, r);
  g_assert_cmpstr(ma_dkim_result_name(((MaDkimResult *) r->pdata[0])->result), ==, "fail");
  g_ptr_array_unref(r);
}

static void test_from_domain(void)
{
  static const struct {
    const char *msg, *want;
  } cases[] = {
    { "From: Joe <Joe@Example.COM>\r\n\r\n", "example.com" },
    { "From: joe@example.com\r\n\r\n", "example.com" },
    { "To: x@y.z\r\nFrom: \"a@b\" <joe@ex.org>\r\n\r\n", "ex.org" },
    { "From: Joe\r\n <joe@folded.example>\r\n\r\n", "folded.example" },
    { "From: nobody\r\n\r\n", NULL },
    { "Subject: x\r\n\r\n", NULL },
  };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *d = ma_dkim_from_domain(cases[i].msg, strlen(cases[i].msg));
    g_assert_cmpstr(d, ==, cases[i].want);
  }
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/dkim/tags/table", test_tags_table);
  g_test_add_func("/dkim/tags/base64", test_base64_with_folding);
  g_test_add_func("/dkim/canon/rfc6376-example", test_canon_rfc_example);
  g_test_add_func("/dkim/canon/header-split", test_header_split_rejects);
  g_test_add_func("/dkim/canon/strip-b", test_strip_b);
  g_test_add_func("/dkim/keys/records", test_key_records);
  g_test_add_func("/dkim/sign/each-type", test_sign_verify_each_type);
  g_test_add_func("/dkim/sign/both-keys-lf", test_sign_both_keys_lf_input);
  g_test_add_func("/dkim/verify/rfc8463-example", test_rfc8463_example);
  g_test_add_func("/dkim/from-domain", test_from_domain);
  return g_test_run();
}
