/* test_mime_downgrade.c - the 7-bit re-encoder (agent/mime/mime_downgrade): golden input/output
 * pairs written by hand (an 8-bit message without MIME, an 8bit part beside a 7bit one in a
 * multipart labelled 8bit, a long line, trailing blanks and '=', an embedded message/rfc822,
 * multipart/digest), what it refuses (a signed part that would change, depth, parts, header
 * size), what it leaves (base64, 8-bit header fields), and properties over generated messages:
 * every output line is 7-bit and short, an independent quoted-printable decoder gives the original
 * back. Every case is run whole and fed in pieces of 1, 2, 3, 7, 1023, 1024 and 1025 octets, which
 * must give the same octets.
 */
#include "agent/mime/mime_downgrade.h"

#include <string.h>

static const gsize chunks[] = {0, 1, 2, 3, 7, 1023, 1024, 1025};

/* Converts in with every chunk size (all must agree); returns mime_downgrade_bytes' rc and, when
 * 1, the output (the caller frees it). */
static int convert(const char *in, gsize len, char **out, gsize *out_len, MimeDowngradeSummary *sum, GError **error)
{
  int first_rc = -2;
  GByteArray *first = NULL;
  for (guint i = 0; i < G_N_ELEMENTS(chunks); i++) {
    GByteArray *o = NULL;
    GError *e = NULL;
    MimeDowngradeSummary s;
    int rc = mime_downgrade_bytes(in, len, chunks[i], &o, &s, &e);
    if (first_rc == -2) {
      first_rc = rc;
      first = o;
      if (sum) *sum = s;
      if (e) g_propagate_error(error, e);
      continue;
    }
    g_assert_cmpint(rc, ==, first_rc);
    if (rc == 1) {
      g_assert_cmpmem(o->data, o->len, first->data, first->len);
      g_byte_array_unref(o);
    }
    g_clear_error(&e);
  }
  if (first_rc == 1) {
    *out_len = first->len;
    *out = (char *) g_byte_array_free(first, FALSE);
  } else {
    *out = NULL;
    *out_len = 0;
  }
  return first_rc;
}

static void check_golden(const char *in, const char *want)
{
  char *got = NULL;
  gsize got_len = 0;
  GError *error = NULL;
  g_assert_cmpint(convert(in, strlen(in), &got, &got_len, NULL, &error), ==, 1);
  g_assert_no_error(error);
  g_assert_cmpmem(got, got_len, want, strlen(want));
  g_free(got);
}

static void test_plain_8bit(void)
{
  check_golden("From: a@example.test\r\nSubject: x\r\n\r\ncaf\xc3\xa9 = 100%\r\ntrailing \r\n",
               "From: a@example.test\r\nSubject: x\r\n"
               "Content-Type: text/plain; charset=utf-8\r\n"
               "MIME-Version: 1.0\r\n"
               "Content-Transfer-Encoding: quoted-printable\r\n"
               "\r\n"
               "caf=C3=A9 =3D 100%\r\ntrailing=20\r\n");
  /* not UTF-8: the charset says so */
  check_golden("Subject: x\r\n\r\nna\xefve\r\n",
               "Subject: x\r\nContent-Type: text/plain; charset=unknown-8bit\r\nMIME-Version: 1.0\r\n"
               "Content-Transfer-Encoding: quoted-printable\r\n\r\nna=EFve\r\n");
  /* a Content-Type of its own is kept as written, its label replaced; a tab at a line's end too */
  check_golden("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=\"iso-8859-1\"\r\n"
               "Content-Transfer-Encoding: 8bit\r\nX-After: 1\r\n\r\n\xe9t\xe9\t\r\nlast",
               "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=\"iso-8859-1\"\r\nX-After: 1\r\n"
               "Content-Transfer-Encoding: quoted-printable\r\n\r\n=E9t=E9=09\r\nlast");
}

static void test_multipart(void)
{
  const char *in =
    "From: a@example.test\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/alternative;\r\n boundary=\"b1\"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    "preamble\r\n"
    "--b1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nplain ascii = kept\r\n"
    "--b1\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n<p>\xc3\xbc</p>\r\n"
    "--b1--  \r\nepilogue\r\n";
  const char *want =
    "From: a@example.test\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/alternative;\r\n boundary=\"b1\"\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
    "preamble\r\n"
    "--b1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nplain ascii = kept\r\n"
    "--b1\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
    "<p>=C3=BC</p>\r\n"
    "--b1--  \r\nepilogue\r\n";
  check_golden(in, want);
  MimeDowngradeSummary s;
  char *out;
  gsize n;
  g_assert_cmpint(convert(in, strlen(in), &out, &n, &s, NULL), ==, 1);
  g_free(out);
  g_assert_cmpuint(s.entities, ==, 3);
  g_assert_cmpuint(s.to_encode, ==, 1);
  g_assert_cmpuint(s.relabelled, ==, 1);
  g_assert_false(s.left_8bit);
}

static void test_long_line(void)
{
  /* 998 octets is allowed as is; 999 is re-encoded with soft line breaks of 76 */
  GString *ok = g_string_new("Subject: x\r\n\r\n");
  for (int i = 0; i < 998; i++) g_string_append_c(ok, 'a');
  g_string_append(ok, "\r\n");
  GByteArray *o = NULL;
  GError *error = NULL;
  g_assert_cmpint(mime_downgrade_bytes(ok->str, ok->len, 0, &o, NULL, &error), ==, 0);
  g_assert_null(o);
  g_string_insert_c(ok, 20, 'b');
  char *out;
  gsize n;
  g_assert_cmpint(convert(ok->str, ok->len, &out, &n, NULL, &error), ==, 1);
  GString *want = g_string_new("Subject: x\r\nContent-Type: text/plain; charset=utf-8\r\nMIME-Version: 1.0\r\n"
                               "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
  const char *body = ok->str + strlen("Subject: x\r\n\r\n");
  for (gsize i = 0; i < 999; i += 75) {
    g_string_append_len(want, body + i, MIN(75, 999 - i));
    g_string_append(want, i + 75 < 999 ? "=\r\n" : "\r\n");
  }
  g_assert_cmpmem(out, n, want->str, want->len);
  g_free(out);
  g_string_free(want, TRUE);
  g_string_free(ok, TRUE);
}

static void test_message_rfc822_and_digest(void)
{
  check_golden("Content-Type: multipart/mixed; boundary=o\r\n\r\n"
               "--o\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
               "Subject: inner\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\xe2\x82\xac 5\r\n"
               "--o--\r\n",
               "Content-Type: multipart/mixed; boundary=o\r\n\r\n"
               "--o\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
               "Subject: inner\r\nContent-Type: text/plain; charset=utf-8\r\n"
               "Content-Transfer-Encoding: quoted-printable\r\n\r\n=E2=82=AC 5\r\n"
               "--o--\r\n");
  /* a digest's part without Content-Type is a message: its own header is the message's */
  check_golden("Content-Type: multipart/digest; boundary=d\r\n\r\n"
               "--d\r\n\r\nSubject: m1\r\n\r\n\xc3\xa9\r\n--d--\r\n",
               "Content-Type: multipart/digest; boundary=d\r\n\r\n"
               "--d\r\n\r\nSubject: m1\r\nContent-Type: text/plain; charset=utf-8\r\n"
               "Content-Transfer-Encoding: quoted-printable\r\n\r\n=C3=A9\r\n--d--\r\n");
}

static void test_refused_and_left(void)
{
  GError *error = NULL;
  GByteArray *o = NULL;
  /* a signed part that would change */
  const char *signed_msg = "Content-Type: multipart/signed; boundary=s; protocol=\"application/pgp-signature\"\r\n\r\n"
                           "--s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\xc3\xa9\r\n"
                           "--s\r\nContent-Type: application/pgp-signature\r\n\r\nsig\r\n--s--\r\n";
  g_assert_cmpint(mime_downgrade_bytes(signed_msg, strlen(signed_msg), 5, &o, NULL, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_INVALID);
  g_assert_nonnull(strstr(error->message, "multipart/signed"));
  g_clear_error(&error);
  /* a signed 7-bit message is left alone */
  const char *signed_ok = "Content-Type: multipart/signed; boundary=s\r\n\r\n--s\r\n\r\nok\r\n--s--\r\n";
  g_assert_cmpint(mime_downgrade_bytes(signed_ok, strlen(signed_ok), 0, &o, NULL, &error), ==, 0);
  /* base64 with junk and an 8-bit header: nothing to re-encode, both reported */
  const char *left = "Subject: caf\xc3\xa9\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n"
                     "--x\r\nContent-Transfer-Encoding: base64\r\n\r\nQUJD\xff\r\n--x--\r\n";
  MimeDowngradeSummary s;
  g_assert_cmpint(mime_downgrade_bytes(left, strlen(left), 0, &o, &s, &error), ==, 0);
  g_assert_null(o);
  g_assert_true(s.left_8bit);
  g_assert_false(s.left_long_line);
  /* nesting past the limit */
  GString *deep = g_string_new(NULL);
  for (int i = 0; i < MIME_DOWNGRADE_MAX_DEPTH + 1; i++)
    g_string_append_printf(deep, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i);
  g_string_append(deep, "\r\nx\r\n");
  g_assert_cmpint(mime_downgrade_bytes(deep->str, deep->len, 0, &o, NULL, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_INVALID);
  g_clear_error(&error);
  g_string_free(deep, TRUE);
  /* too many parts */
  GString *many = g_string_new("Content-Type: multipart/mixed; boundary=m\r\n\r\n");
  for (int i = 0; i < MIME_DOWNGRADE_MAX_ENTITIES; i++) g_string_append(many, "--m\r\n\r\nx\r\n");
  g_assert_cmpint(mime_downgrade_bytes(many->str, many->len, 0, &o, NULL, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_INVALID);
  g_clear_error(&error);
  g_string_free(many, TRUE);
  /* a header block over the limit */
  GString *big = g_string_new(NULL);
  while (big->len <= MIME_DOWNGRADE_MAX_HEADER) g_string_append(big, "X-Filler: 0123456789012345678901234567890123456789\r\n");
  g_string_append(big, "\r\nbody\r\n");
  g_assert_cmpint(mime_downgrade_bytes(big->str, big->len, 0, &o, NULL, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_INVALID);
  g_clear_error(&error);
  g_string_free(big, TRUE);
}

/* An independent quoted-printable decoder (RFC 2045 6.7): soft breaks removed, =XX decoded. */
static GString *qp_decode(const char *s, gsize len)
{
  GString *o = g_string_new(NULL);
  for (gsize i = 0; i < len; i++) {
    if (s[i] != '=') {
      g_string_append_c(o, s[i]);
    } else if (i + 2 < len && s[i + 1] == '\r' && s[i + 2] == '\n') {
      i += 2;
    } else {
      g_assert_true(i + 2 < len && g_ascii_isxdigit(s[i + 1]) && g_ascii_isxdigit(s[i + 2]));
      g_string_append_c(o, (char) (g_ascii_xdigit_value(s[i + 1]) * 16 + g_ascii_xdigit_value(s[i + 2])));
      i += 2;
    }
  }
  return o;
}

/* Generated bodies (8-bit octets, blanks, '=', long lines, CR in the middle of lines) in a
 * multipart: the output is 7-bit with lines of at most 76 octets in the re-encoded part, and
 * decodes to the input body. */
static void test_generated_roundtrip(void)
{
  GRand *rand = g_rand_new_with_seed(11);
  for (int round = 0; round < 40; round++) {
    GString *body = g_string_new(NULL);
    int lines = g_rand_int_range(rand, 1, 30);
    for (int l = 0; l < lines; l++) {
      int n = g_rand_int_range(rand, 0, round % 5 == 0 ? 3000 : 120);
      for (int k = 0; k < n; k++) {
        static const char alphabet[] = "ab =\t.\r\xc3\xa9\xff\x01-";
        char c = alphabet[g_rand_int_range(rand, 0, sizeof alphabet - 1)];
        g_string_append_c(body, c);
      }
      g_string_append(body, "\r\n");
    }
    g_string_append(body, "\xc3\xa9"); /* at least one 8-bit octet */
    GString *msg = g_string_new("Content-Type: multipart/mixed; boundary=\"=_q\"\r\n\r\n--=_q\r\n"
                                "Content-Type: text/plain; charset=utf-8\r\n\r\n");
    g_string_append_len(msg, body->str, body->len);
    g_string_append(msg, "\r\n--=_q--\r\n");
    char *out;
    gsize n;
    GError *error = NULL;
    g_assert_cmpint(convert(msg->str, msg->len, &out, &n, NULL, &error), ==, 1);
    g_assert_no_error(error);
    const char *start = strstr(out, "quoted-printable\r\n\r\n");
    g_assert_nonnull(start);
    start += strlen("quoted-printable\r\n\r\n");
    const char *end = strstr(start, "\r\n--=_q--\r\n");
    g_assert_nonnull(end);
    gsize run = 0;
    for (const char *p = start; p < end; p++) {
      g_assert_cmpint((guchar) *p, <, 0x80);
      run = *p == '\n' ? 0 : run + 1;
      g_assert_cmpuint(run, <=, 77); /* 76 and the CR */
    }
    GString *decoded = qp_decode(start, (gsize) (end - start));
    /* bare CRs in the body are =0D, so the decoded text equals the body octet for octet */
    g_assert_cmpmem(decoded->str, decoded->len, body->str, body->len);
    g_string_free(decoded, TRUE);
    g_free(out);
    g_string_free(msg, TRUE);
    g_string_free(body, TRUE);
  }
  g_rand_free(rand);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/mime_downgrade/plain_8bit", test_plain_8bit);
  g_test_add_func("/mime_downgrade/multipart", test_multipart);
  g_test_add_func("/mime_downgrade/long_line", test_long_line);
  g_test_add_func("/mime_downgrade/message_rfc822_digest", test_message_rfc822_and_digest);
  g_test_add_func("/mime_downgrade/refused_and_left", test_refused_and_left);
  g_test_add_func("/mime_downgrade/generated_roundtrip", test_generated_roundtrip);
  return g_test_run();
}
