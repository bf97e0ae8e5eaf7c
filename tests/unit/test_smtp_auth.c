/* test_smtp_auth.c - agent/smtp/smtp_auth: AUTH mechanism names, PLAIN and LOGIN responses
 * decoded, and every malformed form refused (bad base64, missing NULs, authzid differing from
 * authcid, NUL inside, over-long). */
#include "agent/smtp/smtp_auth.h"

#include <string.h>

static void test_mechanism(void)
{
  const char *init;
  g_assert_cmpint(smtp_auth_mechanism("PLAIN", &init), ==, SMTP_SASL_PLAIN);
  g_assert_cmpstr(init, ==, "");
  g_assert_cmpint(smtp_auth_mechanism("plain AGEAYg==", &init), ==, SMTP_SASL_PLAIN);
  g_assert_cmpstr(init, ==, "AGEAYg==");
  g_assert_cmpint(smtp_auth_mechanism("LOGIN", &init), ==, SMTP_SASL_LOGIN);
  g_assert_cmpint(smtp_auth_mechanism("CRAM-MD5", &init), ==, SMTP_SASL_UNKNOWN);
  g_assert_cmpint(smtp_auth_mechanism("PLAINX", &init), ==, SMTP_SASL_UNKNOWN);
}

static void test_plain(void)
{
  static const struct {
    const char *b64;
    int rc;
    const char *user, *password;
  } cases[] = {
    {"AGNybQBzM2NyZXQ=", 0, "crm", "s3cret"},          /* \0crm\0s3cret */
    {"Y3JtAGNybQBzM2NyZXQ=", 0, "crm", "s3cret"},      /* crm\0crm\0s3cret: authzid = authcid */
    {"YWRtaW4AY3JtAHMzY3JldA==", -1, NULL, NULL},      /* admin\0crm\0s3cret: acting as someone else */
    {"Y3JtczNjcmV0", -1, NULL, NULL},                  /* no NULs */
    {"AGNybQA=", 0, "crm", ""},                        /* empty password (the look-up refuses it) */
    {"AABzM2NyZXQ=", -1, NULL, NULL},                  /* empty user */
    {"AGNybQBzM2MAcmV0", -1, NULL, NULL},              /* NUL inside the password */
    {"AGNybQBzM2NyZXQ", -1, NULL, NULL},               /* length not a multiple of 4 */
    {"AGNy*QBzM2NyZXQ=", -1, NULL, NULL},              /* not base64 */
    {"AG=ybQBzM2NyZXQ=", -1, NULL, NULL},              /* padding inside */
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    char user[SMTP_AUTH_MAX + 1], pass[SMTP_AUTH_MAX + 1];
    const char *why = NULL;
    int rc = smtp_auth_decode_plain(cases[i].b64, user, pass, &why);
    if (rc != cases[i].rc) g_error("case %zu: rc %d", i, rc);
    if (rc == 0) {
      g_assert_cmpstr(user, ==, cases[i].user);
      g_assert_cmpstr(pass, ==, cases[i].password);
    } else {
      g_assert_true(g_str_has_prefix(why, "501 5.5.2"));
    }
  }
  /* over-long responses are refused, never truncated */
  GString *big = g_string_new("AG");
  for (int i = 0; i < 400; i++) g_string_append(big, "YWFh");
  g_string_append(big, "AA==");
  char user[SMTP_AUTH_MAX + 1], pass[SMTP_AUTH_MAX + 1];
  const char *why = NULL;
  g_assert_cmpint(smtp_auth_decode_plain(big->str, user, pass, &why), ==, -1);
  g_string_free(big, TRUE);
}

static void test_line(void)
{
  char out[SMTP_AUTH_MAX + 1];
  const char *why = NULL;
  g_assert_cmpint(smtp_auth_decode_line("Y3Jt", out, &why), ==, 0);
  g_assert_cmpstr(out, ==, "crm");
  g_assert_cmpint(smtp_auth_decode_line("=", out, &why), ==, 0);
  g_assert_cmpstr(out, ==, "");
  g_assert_cmpint(smtp_auth_decode_line("AA==", out, &why), ==, -1); /* a NUL */
  g_assert_cmpint(smtp_auth_decode_line("Y3J", out, &why), ==, -1);
}

/* The exchange: which challenge comes next and when the credentials are complete, for PLAIN and
 * LOGIN with and without an initial response, cancelled, and malformed. */
static void test_exchange(void)
{
  SmtpAuthExchange x;
  const char *text = NULL;
  /* PLAIN with its initial response: the credentials at once */
  g_assert_cmpint(smtp_auth_start(&x, "PLAIN AGNybQBzM2NyZXQ=", &text), ==, SMTP_AUTH_CREDENTIALS);
  g_assert_cmpstr(x.user, ==, "crm");
  g_assert_cmpstr(x.password, ==, "s3cret");
  /* PLAIN without: an empty challenge, then the response */
  g_assert_cmpint(smtp_auth_start(&x, "PLAIN", &text), ==, SMTP_AUTH_CONTINUE);
  g_assert_cmpstr(text, ==, "334 ");
  g_assert_cmpint(smtp_auth_next(&x, "AGNybQBzM2NyZXQ=", &text), ==, SMTP_AUTH_CREDENTIALS);
  g_assert_cmpstr(x.password, ==, "s3cret");
  /* LOGIN: Username:, Password:, then the credentials */
  g_assert_cmpint(smtp_auth_start(&x, "LOGIN", &text), ==, SMTP_AUTH_CONTINUE);
  g_assert_cmpstr(text, ==, "334 VXNlcm5hbWU6");
  g_assert_cmpint(smtp_auth_next(&x, "Y3Jt", &text), ==, SMTP_AUTH_CONTINUE);
  g_assert_cmpstr(text, ==, "334 UGFzc3dvcmQ6");
  g_assert_cmpint(smtp_auth_next(&x, "czNjcmV0", &text), ==, SMTP_AUTH_CREDENTIALS);
  g_assert_cmpstr(x.user, ==, "crm");
  g_assert_cmpstr(x.password, ==, "s3cret");
  /* LOGIN with the user name as initial response: straight to Password: */
  g_assert_cmpint(smtp_auth_start(&x, "LOGIN Y3Jt", &text), ==, SMTP_AUTH_CONTINUE);
  g_assert_cmpstr(text, ==, "334 UGFzc3dvcmQ6");
  g_assert_cmpint(smtp_auth_next(&x, "czNjcmV0", &text), ==, SMTP_AUTH_CREDENTIALS);
  /* an empty user name is no user name; "*" cancels; bad base64 is refused */
  g_assert_cmpint(smtp_auth_start(&x, "LOGIN", &text), ==, SMTP_AUTH_CONTINUE);
  g_assert_cmpint(smtp_auth_next(&x, "=", &text), ==, SMTP_AUTH_FAILED);
  g_assert_true(g_str_has_prefix(text, "501 "));
  g_assert_cmpint(smtp_auth_start(&x, "LOGIN", &text), ==, SMTP_AUTH_CONTINUE);
  g_assert_cmpint(smtp_auth_next(&x, "*", &text), ==, SMTP_AUTH_FAILED);
  g_assert_cmpstr(text, ==, "501 5.0.0 Authentication cancelled");
  g_assert_cmpint(smtp_auth_start(&x, "PLAIN", &text), ==, SMTP_AUTH_CONTINUE);
  g_assert_cmpint(smtp_auth_next(&x, "not*base64", &text), ==, SMTP_AUTH_FAILED);
  g_assert_true(g_str_has_prefix(text, "501 "));
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/smtp_auth/mechanism", test_mechanism);
  g_test_add_func("/smtp_auth/plain", test_plain);
  g_test_add_func("/smtp_auth/line", test_line);
  g_test_add_func("/smtp_auth/exchange", test_exchange);
  return g_test_run();
}
