/* test_oauth2.c - unit tests of OAuth2's pure parts: token responses as the real providers send
 * them (Google without refresh_token, Microsoft rotating it, errors, hostile input), PKCE (RFC 7636
 * appendix B's example), and the SASL XOAUTH2 and OAUTHBEARER initial responses.
 */
#include "agent/oauth2/oauth2.h"

#include <string.h>

static void test_token_response(void)
{
  MaOAuth2TokenResponse r;
  GError *error = NULL;
  const char *google = "{\"access_token\":\"ya29.a0\",\"expires_in\":3599,\"scope\":\"https://mail.google.com/\",\"token_type\":\"Bearer\"}";
  g_assert_cmpint(oauth2_token_response_parse(google, strlen(google), &r, &error), ==, 0);
  g_assert_cmpstr(r.access_token, ==, "ya29.a0");
  g_assert_null(r.refresh_token);
  g_assert_cmpint(r.expires_in, ==, 3599);
  ma_oauth2_token_response_clear(&r);
  const char *ms = "{\"token_type\":\"Bearer\",\"expires_in\":\"4299\",\"access_token\":\"eyJ0\",\"refresh_token\":\"M.R3_BAY\"}";
  g_assert_cmpint(oauth2_token_response_parse(ms, strlen(ms), &r, &error), ==, 0);
  g_assert_cmpstr(r.refresh_token, ==, "M.R3_BAY");
  g_assert_cmpint(r.expires_in, ==, 4299);
  ma_oauth2_token_response_clear(&r);
  const char *err = "{\"error\":\"invalid_grant\",\"error_description\":\"Token has been expired or revoked.\"}";
  g_assert_cmpint(oauth2_token_response_parse(err, strlen(err), &r, &error), ==, 0);
  g_assert_cmpstr(r.error, ==, "invalid_grant");
  g_assert_null(r.access_token);
  ma_oauth2_token_response_clear(&r);
  const char *odd_err = "{\"error\":\"<script>\"}";
  g_assert_cmpint(oauth2_token_response_parse(odd_err, strlen(odd_err), &r, &error), ==, 0);
  g_assert_cmpstr(r.error, ==, "invalid_error_code");
  ma_oauth2_token_response_clear(&r);
  static const char *const bad[] = {"", "[]", "{}", "{\"access_token\":\"\"}", "{\"access_token\":\"a b\"}",
                                    "{\"access_token\":3}", "{\"access_token\":\"a\",\"access_token\":\"b\"}",
                                    "{\"access_token\":\"a\",\"refresh_token\":\"x\\ny\"}", "not json"};
  for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
    if (oauth2_token_response_parse(bad[i], strlen(bad[i]), &r, &error) == 0) g_error("accepted: %s", bad[i]);
    g_assert_error(error, MA_ERROR, MA_ERROR_INVALID);
    g_clear_error(&error);
  }
  g_autofree char *big = g_strnfill(OAUTH2_RESPONSE_MAX + 1, ' ');
  g_assert_cmpint(oauth2_token_response_parse(big, strlen(big), &r, &error), ==, -1);
  g_clear_error(&error);
}

static void test_pkce(void)
{
  /* RFC 7636 appendix B */
  g_autofree char *c = oauth2_pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
  g_assert_cmpstr(c, ==, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
  g_autofree char *v1 = oauth2_pkce_verifier();
  g_autofree char *v2 = oauth2_pkce_verifier();
  g_assert_cmpuint(strlen(v1), ==, 43);
  g_assert_cmpstr(v1, !=, v2);
  for (const char *p = v1; *p; p++) g_assert_true(g_ascii_isalnum(*p) || *p == '-' || *p == '_');
}

static char *decode(const char *b64)
{
  gsize n = 0;
  guchar *raw = g_base64_decode(b64, &n);
  char *s = g_strndup((const char *)raw, n);
  g_free(raw);
  return s;
}

static void test_sasl(void)
{
  g_autofree char *x = oauth2_sasl_xoauth2("someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg");
  /* Google's documented example */
  g_assert_cmpstr(x, ==, "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==");
  g_autofree char *o = oauth2_sasl_oauthbearer("user@example.com", "server.example.com", 143, "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==");
  g_autofree char *od = decode(o);
  /* RFC 7628 4.1 */
  g_assert_cmpstr(od, ==, "n,a=user@example.com,\001host=server.example.com\001port=143\001auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\001\001");
  g_autofree char *esc = oauth2_sasl_oauthbearer("a,b=c", "h", 1, "t");
  g_autofree char *escd = decode(esc);
  g_assert_true(g_str_has_prefix(escd, "n,a=a=2Cb=3Dc,"));
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/oauth2/token-response", test_token_response);
  g_test_add_func("/oauth2/pkce", test_pkce);
  g_test_add_func("/oauth2/sasl", test_sasl);
  return g_test_run();
}
