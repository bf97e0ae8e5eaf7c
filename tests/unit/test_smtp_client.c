/* test_smtp_client.c - agent/smtp_client/smtp_client as a pure state machine: scripted server
 * replies in, the exact commands and message octets out. Covers EHLO/HELO, pipelined and one-by-one
 * transactions with a reply per recipient (250/550/450), dot-stuffing and line-end normalisation,
 * the TLS modes' decisions (offered, not offered, refused, unverified), STARTTLS response
 * injection, AUTH never before TLS, SIZE/8BITMIME/SMTPUTF8/long-line refusals, connection reuse,
 * 421, a broken reply, and the same conversation fed a byte at a time. */
#include "agent/smtp_client/smtp_client.h"

#include <string.h>

typedef struct {
  SmtpClient *c;
  struct evbuffer *in, *out;
  SmtpRcptResult results[8];
  guint n_results;
  int jobs_done;
  int starttls_calls;
  gboolean byte_at_a_time;
  int token_calls;          /* need_token asked */
  gboolean token_forced;    /* ... the last time with force_refresh */
} T;

static void on_need_token(void *ctx, SmtpClient *c, gboolean force_refresh)
{
  T *t = ctx;
  t->token_calls++;
  t->token_forced = force_refresh;
}

static void on_starttls(void *ctx, SmtpClient *c)
{
  ((T *) ctx)->starttls_calls++;
}

static void on_job_done(void *ctx, SmtpClient *c, const SmtpRcptResult *results, guint n)
{
  T *t = ctx;
  g_assert_cmpuint(n, <=, G_N_ELEMENTS(t->results));
  memcpy(t->results, results, n * sizeof *results);
  t->n_results = n;
  t->jobs_done++;
}

static T *t_new(SmtpTlsMode mode, SmtpAuthMech auth)
{
  T *t = g_new0(T, 1);
  SmtpClientConfig cfg = {.helo_name = "me.example", .tls_mode = mode, .auth = auth, .auth_user = "u",
                          .auth_secret = "p"};
  SmtpClientHooks hooks = {.ctx = t, .starttls = on_starttls, .job_done = on_job_done};
  t->c = smtp_client_new(&cfg, &hooks);
  t->in = evbuffer_new();
  t->out = evbuffer_new();
  smtp_client_set_buffers(t->c, t->in, t->out);
  return t;
}

static void t_free(T *t)
{
  smtp_client_free(t->c);
  evbuffer_free(t->in);
  evbuffer_free(t->out);
  g_free(t);
}

/* The server says text; returns the state afterwards. */
static SmtpClientState server(T *t, const char *text)
{
  if (!t->byte_at_a_time) {
    evbuffer_add(t->in, text, strlen(text));
    return smtp_client_process(t->c);
  }
  for (const char *p = text; *p; p++) {
    evbuffer_add(t->in, p, 1);
    smtp_client_process(t->c);
  }
  return smtp_client_state(t->c);
}

/* What the client wrote since the last call. */
static char *client(T *t)
{
  gsize n = evbuffer_get_length(t->out);
  char *s = g_malloc(n + 1);
  evbuffer_remove(t->out, s, n);
  s[n] = '\0';
  return s;
}

static void expect_client(T *t, const char *want)
{
  g_autofree char *got = client(t);
  g_assert_cmpstr(got, ==, want);
}

static GBytes *body_of(const char *s)
{
  return g_bytes_new(s, strlen(s));
}

static const char *const three[] = {"a@x.example", "b@x.example", "c@x.example"};

static void run_pipelined(gboolean byte_at_a_time)
{
  T *t = t_new(SMTP_TLS_OFF, SMTP_AUTH_NONE);
  t->byte_at_a_time = byte_at_a_time;
  g_autoptr(GBytes) body = body_of("Subject: hi\n\n.leading dot\r\nbare\rCR\nend");
  SmtpClientJob job = {.mail_from = "s@acme.example", .rcpts = three, .n_rcpts = 3, .body = body};
  smtp_client_start_job(t->c, &job);
  server(t, "220 mx.example ESMTP\r\n");
  expect_client(t, "EHLO me.example\r\n");
  server(t, "250-mx.example\r\n250-PIPELINING\r\n250 SIZE 100000\r\n");
  expect_client(t, "MAIL FROM:<s@acme.example> SIZE=38\r\nRCPT TO:<a@x.example>\r\nRCPT TO:<b@x.example>\r\n"
                   "RCPT TO:<c@x.example>\r\nDATA\r\n");
  server(t, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 <b@x.example>: unknown\r\n450 4.2.0 <c@x.example>: later\r\n"
            "354 go\r\n");
  g_assert_cmpint(smtp_client_state(t->c), ==, SC_DOT);
  expect_client(t, "Subject: hi\r\n\r\n..leading dot\r\nbare\r\nCR\r\nend\r\n.\r\n");
  g_assert_cmpint(t->jobs_done, ==, 0);
  g_assert_cmpint(server(t, "250 2.0.0 Ok: queued as X\r\n"), ==, SC_READY);
  g_assert_cmpint(t->jobs_done, ==, 1);
  g_assert_cmpint(t->results[0].outcome, ==, SMTP_OUTCOME_SENT);
  g_assert_cmpstr(t->results[0].reply, ==, "250 2.0.0 Ok: queued as X");
  g_assert_cmpint(t->results[1].outcome, ==, SMTP_OUTCOME_PERM);
  g_assert_cmpstr(t->results[1].reply, ==, "550 5.1.1 <b@x.example>: unknown");
  g_assert_false(t->results[1].host_level);
  g_assert_cmpint(t->results[2].outcome, ==, SMTP_OUTCOME_TEMP);
  g_assert_cmpstr(t->results[2].reply, ==, "450 4.2.0 <c@x.example>: later");

  /* connection reuse: a second message on the same session */
  g_autoptr(GBytes) body2 = body_of("x\r\n");
  SmtpClientJob job2 = {.mail_from = "", .rcpts = three, .n_rcpts = 1, .body = body2};
  smtp_client_start_job(t->c, &job2);
  expect_client(t, "MAIL FROM:<> SIZE=3\r\nRCPT TO:<a@x.example>\r\nDATA\r\n");
  server(t, "250 ok\r\n250 ok\r\n354 go\r\n");
  expect_client(t, "x\r\n.\r\n");
  server(t, "250 queued\r\n");
  g_assert_cmpint(t->jobs_done, ==, 2);
  smtp_client_quit(t->c);
  expect_client(t, "QUIT\r\n");
  g_assert_cmpint(server(t, "221 bye\r\n"), ==, SC_DONE);
  t_free(t);
}

static void test_pipelined(void)
{
  run_pipelined(FALSE);
}

static void test_pipelined_bytewise(void)
{
  run_pipelined(TRUE);
}

static void test_one_by_one_and_helo(void)
{
  T *t = t_new(SMTP_TLS_PREFERRED, SMTP_AUTH_NONE);
  g_autoptr(GBytes) body = body_of("hello\r\n");
  SmtpClientJob job = {.mail_from = "s@acme.example", .rcpts = three, .n_rcpts = 2, .body = body};
  smtp_client_start_job(t->c, &job);
  server(t, "220 old.example\r\n");
  expect_client(t, "EHLO me.example\r\n");
  server(t, "502 5.5.2 what?\r\n");
  expect_client(t, "HELO me.example\r\n");
  server(t, "250 old.example\r\n");
  /* no PIPELINING: one command per reply; preferred without STARTTLS offered goes on in plaintext */
  expect_client(t, "MAIL FROM:<s@acme.example>\r\n");
  server(t, "250 ok\r\n");
  expect_client(t, "RCPT TO:<a@x.example>\r\n");
  server(t, "550 5.1.1 no\r\n");
  expect_client(t, "RCPT TO:<b@x.example>\r\n");
  server(t, "550 5.1.1 no either\r\n");
  /* nobody accepted: no DATA, the transaction is reset */
  expect_client(t, "RSET\r\n");
  g_assert_cmpint(t->jobs_done, ==, 0);
  server(t, "250 reset\r\n");
  g_assert_cmpint(t->jobs_done, ==, 1);
  g_assert_cmpint(t->results[0].outcome, ==, SMTP_OUTCOME_PERM);
  g_assert_cmpstr(t->results[1].reply, ==, "550 5.1.1 no either");
  g_assert_false(smtp_client_is_tls(t->c));
  t_free(t);
}

static void test_mail_refused(void)
{
  T *t = t_new(SMTP_TLS_OFF, SMTP_AUTH_NONE);
  g_autoptr(GBytes) body = body_of("x\r\n");
  SmtpClientJob job = {.mail_from = "s@acme.example", .rcpts = three, .n_rcpts = 2, .body = body};
  smtp_client_start_job(t->c, &job);
  server(t, "220 x\r\n250-x\r\n250 PIPELINING\r\n");
  g_free(client(t));
  server(t, "451 4.3.0 try later\r\n503 5.5.1 no mail\r\n503 5.5.1 no mail\r\n554 5.5.1 no valid recipients\r\n");
  expect_client(t, "RSET\r\n");
  server(t, "250 ok\r\n");
  g_assert_cmpint(t->jobs_done, ==, 1);
  /* every recipient gets MAIL's reply, not the 503s that follow it */
  g_assert_cmpint(t->results[0].outcome, ==, SMTP_OUTCOME_TEMP);
  g_assert_cmpstr(t->results[1].reply, ==, "451 4.3.0 try later");
  t_free(t);
}

static void test_tls_decisions(void)
{
  static const struct {
    SmtpTlsMode mode;
    const char *ehlo;          /* after the greeting */
    const char *starttls_reply;/* NULL: STARTTLS must not be sent */
    gboolean handshake_ok, verified;
    gboolean delivers;         /* reaches MAIL */
    gboolean tls;              /* ... over TLS */
  } cases[] = {
    {SMTP_TLS_OFF, "250-x\r\n250 STARTTLS\r\n", NULL, FALSE, FALSE, TRUE, FALSE},
    {SMTP_TLS_PREFERRED, "250 x\r\n", NULL, FALSE, FALSE, TRUE, FALSE},
    {SMTP_TLS_PREFERRED, "250-x\r\n250 STARTTLS\r\n", "220 go\r\n", TRUE, FALSE, TRUE, TRUE},
    {SMTP_TLS_PREFERRED, "250-x\r\n250 STARTTLS\r\n", "454 4.7.0 no TLS today\r\n", FALSE, FALSE, TRUE, FALSE},
    {SMTP_TLS_REQUIRED, "250 x\r\n", NULL, FALSE, FALSE, FALSE, FALSE},
    {SMTP_TLS_REQUIRED, "250-x\r\n250 STARTTLS\r\n", "220 go\r\n", TRUE, FALSE, TRUE, TRUE},
    {SMTP_TLS_REQUIRED, "250-x\r\n250 STARTTLS\r\n", "454 4.7.0 no\r\n", FALSE, FALSE, FALSE, FALSE},
    {SMTP_TLS_PREFERRED_VERIFY, "250 x\r\n", NULL, FALSE, FALSE, TRUE, FALSE},
    {SMTP_TLS_PREFERRED_VERIFY, "250-x\r\n250 STARTTLS\r\n", "220 go\r\n", TRUE, FALSE, FALSE, TRUE},
    {SMTP_TLS_PREFERRED_VERIFY, "250-x\r\n250 STARTTLS\r\n", "220 go\r\n", TRUE, TRUE, TRUE, TRUE},
    {SMTP_TLS_REQUIRED_VERIFY, "250 x\r\n", NULL, FALSE, FALSE, FALSE, FALSE},
    {SMTP_TLS_REQUIRED_VERIFY, "250-x\r\n250 STARTTLS\r\n", "220 go\r\n", TRUE, FALSE, FALSE, TRUE},
    {SMTP_TLS_REQUIRED_VERIFY, "250-x\r\n250 STARTTLS\r\n", "220 go\r\n", TRUE, TRUE, TRUE, TRUE},
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    T *t = t_new(cases[i].mode, SMTP_AUTH_NONE);
    g_autoptr(GBytes) body = body_of("x\r\n");
    SmtpClientJob job = {.mail_from = "s@a.example", .rcpts = three, .n_rcpts = 1, .body = body};
    smtp_client_start_job(t->c, &job);
    server(t, "220 mx\r\n");
    g_free(client(t));
    server(t, cases[i].ehlo);
    g_autofree char *after_ehlo = client(t);
    if (!cases[i].starttls_reply) {
      g_assert_null(strstr(after_ehlo, "STARTTLS"));
    } else {
      g_assert_cmpstr(after_ehlo, ==, "STARTTLS\r\n");
      server(t, cases[i].starttls_reply);
      if (cases[i].handshake_ok) {
        g_assert_cmpint(t->starttls_calls, ==, 1);
        g_assert_cmpint(smtp_client_state(t->c), ==, SC_TLS);
        smtp_client_tls_done(t->c, TRUE, cases[i].verified, "self-signed certificate");
        g_autofree char *after_tls = client(t);
        if (g_str_has_prefix(after_tls, "EHLO")) {
          server(t, "250 x\r\n");
          g_free(client(t));
        }
      } else {
        g_assert_cmpint(t->starttls_calls, ==, 0);
      }
    }
    /* delivering means MAIL was reached: the job is not over yet */
    gboolean reached_mail = smtp_client_state(t->c) == SC_ENVELOPE;
    if (reached_mail != cases[i].delivers) g_error("case %zu: delivers=%d", i, reached_mail);
    if (!cases[i].delivers) {
      g_assert_cmpint(t->jobs_done, ==, 1);
      g_assert_cmpint(t->results[0].outcome, ==, SMTP_OUTCOME_TEMP);
      g_assert_true(t->results[0].host_level);
    }
    g_assert_cmpint(smtp_client_is_tls(t->c), ==, cases[i].tls);
    t_free(t);
  }
}

static void test_starttls_injection(void)
{
  T *t = t_new(SMTP_TLS_REQUIRED, SMTP_AUTH_NONE);
  g_autoptr(GBytes) body = body_of("x\r\n");
  SmtpClientJob job = {.mail_from = "s@a.example", .rcpts = three, .n_rcpts = 1, .body = body};
  smtp_client_start_job(t->c, &job);
  server(t, "220 mx\r\n250-x\r\n250 STARTTLS\r\n");
  expect_client(t, "EHLO me.example\r\nSTARTTLS\r\n");
  /* the go-ahead and an injected reply in one packet */
  g_assert_cmpint(server(t, "220 go\r\n250 injected\r\n"), ==, SC_DONE);
  g_assert_cmpint(t->starttls_calls, ==, 0);
  g_assert_cmpint(t->jobs_done, ==, 1);
  g_assert_nonnull(strstr(t->results[0].reply, "response injection"));
  expect_client(t, ""); /* nothing more is sent on that connection */
  t_free(t);
}

static void test_auth_never_before_tls(void)
{
  /* preferred, no STARTTLS offered, AUTH offered: no AUTH in plaintext */
  T *t = t_new(SMTP_TLS_PREFERRED, SMTP_AUTH_PLAIN);
  g_autoptr(GBytes) body = body_of("x\r\n");
  SmtpClientJob job = {.mail_from = "s@a.example", .rcpts = three, .n_rcpts = 1, .body = body};
  smtp_client_start_job(t->c, &job);
  server(t, "220 mx\r\n250-x\r\n250 AUTH PLAIN LOGIN\r\n");
  g_autofree char *out = client(t);
  g_assert_null(strstr(out, "AUTH"));
  g_assert_cmpint(t->jobs_done, ==, 1);
  g_assert_nonnull(strstr(t->results[0].reply, "needs TLS"));
  t_free(t);

  /* after TLS: AUTH PLAIN with the initial response, then the transaction */
  t = t_new(SMTP_TLS_REQUIRED, SMTP_AUTH_PLAIN);
  smtp_client_start_job(t->c, &job);
  server(t, "220 mx\r\n250-x\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n");
  expect_client(t, "EHLO me.example\r\nSTARTTLS\r\n");
  server(t, "220 go\r\n");
  smtp_client_tls_done(t->c, TRUE, FALSE, NULL);
  expect_client(t, "EHLO me.example\r\n");
  server(t, "250-x\r\n250 AUTH PLAIN LOGIN\r\n");
  expect_client(t, "AUTH PLAIN AHUAcA==\r\n"); /* "\0u\0p" */
  server(t, "235 2.7.0 ok\r\n");
  expect_client(t, "MAIL FROM:<s@a.example>\r\n");
  t_free(t);

  /* mode off: AUTH LOGIN in plaintext is the operator's explicit choice */
  t = t_new(SMTP_TLS_OFF, SMTP_AUTH_LOGIN);
  smtp_client_start_job(t->c, &job);
  server(t, "220 mx\r\n250-x\r\n250 AUTH LOGIN\r\n");
  expect_client(t, "EHLO me.example\r\nAUTH LOGIN\r\n");
  server(t, "334 VXNlcm5hbWU6\r\n");
  expect_client(t, "dQ==\r\n");
  server(t, "334 UGFzc3dvcmQ6\r\n");
  expect_client(t, "cA==\r\n");
  server(t, "535 5.7.8 bad credentials\r\n");
  expect_client(t, "QUIT\r\n");
  g_assert_cmpint(t->jobs_done, ==, 1);
  g_assert_cmpstr(t->results[0].reply, ==, "authentication failed: 535 5.7.8 bad credentials");
  t_free(t);
}

/* Greeting, EHLO offering STARTTLS, its go-ahead and a verified handshake; the client's lines are
 * dropped: the session then waits for the second EHLO's reply. */
static void through_starttls(T *t)
{
  server(t, "220 mx\r\n250-x\r\n250 STARTTLS\r\n");
  server(t, "220 go\r\n");
  smtp_client_tls_done(t->c, TRUE, TRUE, NULL);
  g_free(client(t));
}

static void test_xoauth2(void)
{
  T *t = t_new(SMTP_TLS_REQUIRED, SMTP_AUTH_XOAUTH2);
  g_autoptr(GBytes) body = body_of("x\r\n");
  SmtpClientJob job = {.mail_from = "s@a.example", .rcpts = three, .n_rcpts = 1, .body = body};
  smtp_client_start_job(t->c, &job);
  through_starttls(t);
  server(t, "250-x\r\n250 AUTH PLAIN XOAUTH2\r\n");
  /* base64 of "user=u\1auth=Bearer p\1\1" */
  expect_client(t, "AUTH XOAUTH2 dXNlcj11AWF1dGg9QmVhcmVyIHABAQ==\r\n");
  /* an expired token: the server's JSON challenge is answered with an empty line, then 535 */
  server(t, "334 eyJzdGF0dXMiOiI0MDEifQ==\r\n");
  expect_client(t, "\r\n");
  server(t, "535 5.7.8 token expired\r\n");
  g_assert_cmpint(t->jobs_done, ==, 1);
  g_assert_cmpstr(t->results[0].reply, ==, "authentication failed: 535 5.7.8 token expired");
  t_free(t);
}

/* A session for XOAUTH2 without a token: it asks on_need_token. */
static T *t_new_oauth2(void)
{
  T *t = g_new0(T, 1);
  SmtpClientConfig cfg = {.helo_name = "me.example", .tls_mode = SMTP_TLS_REQUIRED, .auth = SMTP_AUTH_XOAUTH2,
                          .auth_user = "u", .server_host = "smtp.example", .server_port = 587};
  SmtpClientHooks hooks = {.ctx = t, .starttls = on_starttls, .job_done = on_job_done, .need_token = on_need_token};
  t->c = smtp_client_new(&cfg, &hooks);
  t->in = evbuffer_new();
  t->out = evbuffer_new();
  smtp_client_set_buffers(t->c, t->in, t->out);
  return t;
}

/* OAuth2 through the token hook: no token configured, so the session asks for one; OAUTHBEARER
 * (RFC 7628) when offered; a refused token is answered with an empty line, refreshed once
 * (force_refresh) and tried again on the same connection; a second refusal fails the job. */
static void test_oauth2_token_provider(void)
{
  T *t = t_new_oauth2();
  g_autoptr(GBytes) body = body_of("x\r\n");
  SmtpClientJob job = {.mail_from = "u@a.example", .rcpts = three, .n_rcpts = 1, .body = body};
  smtp_client_start_job(t->c, &job);
  through_starttls(t);
  g_assert_cmpint(server(t, "250-x\r\n250 AUTH PLAIN XOAUTH2 OAUTHBEARER\r\n"), ==, SC_TOKEN);
  g_assert_cmpint(t->token_calls, ==, 1);
  g_assert_false(t->token_forced);
  expect_client(t, "");
  smtp_client_token(t->c, "tok1", NULL);
  /* base64 of "n,a=u,\1host=smtp.example\1port=587\1auth=Bearer tok1\1\1" */
  g_autofree char *ir1 = g_base64_encode((const guchar *) "n,a=u,\001host=smtp.example\001port=587\001auth=Bearer tok1\001\001", 52);
  g_autofree char *want1 = g_strdup_printf("AUTH OAUTHBEARER %s\r\n", ir1);
  expect_client(t, want1);
  server(t, "334 eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=\r\n");
  expect_client(t, "\r\n");
  g_assert_cmpint(server(t, "535 5.7.8 token expired\r\n"), ==, SC_TOKEN);
  g_assert_cmpint(t->token_calls, ==, 2);
  g_assert_true(t->token_forced);
  g_assert_cmpint(t->jobs_done, ==, 0);
  smtp_client_token(t->c, "tok2", NULL);
  g_autofree char *ir2 = g_base64_encode((const guchar *) "n,a=u,\001host=smtp.example\001port=587\001auth=Bearer tok2\001\001", 52);
  g_autofree char *want2 = g_strdup_printf("AUTH OAUTHBEARER %s\r\n", ir2);
  expect_client(t, want2);
  g_assert_cmpint(server(t, "235 2.7.0 ok\r\n"), ==, SC_ENVELOPE);
  g_assert_null(smtp_client_failure(t->c, NULL));
  t_free(t);

  /* XOAUTH2 only; the refreshed token is refused too: the job fails, no third request */
  t = t_new_oauth2();
  smtp_client_start_job(t->c, &job);
  through_starttls(t);
  g_free(client(t));
  server(t, "250-x\r\n250 AUTH XOAUTH2\r\n");
  smtp_client_token(t->c, "p", NULL);
  expect_client(t, "AUTH XOAUTH2 dXNlcj11AWF1dGg9QmVhcmVyIHABAQ==\r\n");
  server(t, "535 5.7.8 no\r\n");
  g_assert_cmpint(t->token_calls, ==, 2);
  smtp_client_token(t->c, "p", NULL);
  g_free(client(t));
  server(t, "535 5.7.8 still no\r\n");
  g_assert_cmpint(t->token_calls, ==, 2);
  g_assert_cmpint(t->jobs_done, ==, 1);
  g_assert_cmpstr(t->results[0].reply, ==, "authentication failed: 535 5.7.8 still no");
  expect_client(t, "QUIT\r\n");
  t_free(t);

  /* no token to be had: the reason ends the job */
  t = t_new_oauth2();
  smtp_client_start_job(t->c, &job);
  through_starttls(t);
  server(t, "250-x\r\n250 AUTH XOAUTH2\r\n");
  smtp_client_token(t->c, NULL, "needs reauthorization");
  g_assert_cmpint(t->jobs_done, ==, 1);
  g_assert_cmpstr(t->results[0].reply, ==, "authentication failed: no OAuth2 access token: needs reauthorization");
  t_free(t);
}

/* A login check (no job): the session quits once ready, or names the step that failed. */
static void test_login_check_steps(void)
{
  static const struct {
    SmtpTlsMode mode;
    const char *script;     /* the server's side, up to the failure */
    gboolean handshake;     /* the check reaches the TLS handshake (which succeeds, unverified) */
    const char *step;       /* NULL: success */
    const char *reason;
  } cases[] = {
    {SMTP_TLS_REQUIRED, "554 go away\r\n", FALSE, "greeting", "host refused to talk: 554 go away"},
    {SMTP_TLS_REQUIRED, "220 mx\r\n421 4.3.2 busy\r\n", FALSE, "ehlo", "server closing: 421 4.3.2 busy"},
    {SMTP_TLS_REQUIRED, "220 mx\r\n250 x\r\n", FALSE, "starttls", "TLS required but the server does not offer STARTTLS"},
    {SMTP_TLS_REQUIRED_VERIFY, "220 mx\r\n250-x\r\n250 STARTTLS\r\n220 go\r\n", TRUE, "tls",
     "TLS certificate not verified (mode required-verify): self-signed"},
    {SMTP_TLS_REQUIRED, "220 mx\r\n250-x\r\n250 STARTTLS\r\n220 go\r\n", TRUE, "auth",
     "authentication failed: 535 5.7.8 bad credentials"},
    {SMTP_TLS_REQUIRED, "220 mx\r\n250-x\r\n250 STARTTLS\r\n220 go\r\n", TRUE, NULL, NULL},
  };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    T *t = t_new(cases[i].mode, SMTP_AUTH_PLAIN);
    smtp_client_quit(t->c);
    server(t, cases[i].script);
    if (cases[i].handshake) {
      g_assert_cmpint(smtp_client_state(t->c), ==, SC_TLS);
      smtp_client_tls_done(t->c, TRUE, FALSE, "self-signed");
      if (smtp_client_state(t->c) == SC_EHLO) {
        server(t, "250-x\r\n250 AUTH PLAIN\r\n");
        server(t, cases[i].step ? "535 5.7.8 bad credentials\r\n" : "235 2.7.0 ok\r\n");
      }
    }
    const char *step = NULL;
    const char *why = smtp_client_failure(t->c, &step);
    g_assert_cmpstr(step, ==, cases[i].step);
    g_assert_cmpstr(why, ==, cases[i].reason);
    g_autofree char *out = client(t);
    g_assert_true(g_str_has_suffix(out, "QUIT\r\n") || smtp_client_state(t->c) == SC_DONE);
    g_assert_cmpint(t->jobs_done, ==, 0);
    t_free(t);
  }
  /* a lost connection before the greeting is the connect step */
  T *t = t_new(SMTP_TLS_REQUIRED, SMTP_AUTH_PLAIN);
  smtp_client_quit(t->c);
  smtp_client_abort(t->c, "connect to mx[127.0.0.1]:1 failed: Connection refused");
  const char *step = NULL;
  g_assert_cmpstr(smtp_client_failure(t->c, &step), ==, "connect to mx[127.0.0.1]:1 failed: Connection refused");
  g_assert_cmpstr(step, ==, "connect");
  t_free(t);
}

static void test_extension_refusals(void)
{
  static const struct {
    const char *ehlo;
    const char *body;
    gboolean eight_bit, smtputf8;
    const char *reason;
  } cases[] = {
    {"250-x\r\n250 SIZE 10\r\n", "0123456789ABC\r\n", FALSE, FALSE, "552 5.3.4"},
    {"250 x\r\n", "caf\xc3\xa9\r\n", TRUE, FALSE, "554 5.6.3"},
    {"250-x\r\n250 8BITMIME\r\n", "x\r\n", FALSE, TRUE, "553 5.6.7"},
    /* a UTF-8 address makes the header 8-bit too: the reason given is the address's */
    {"250 x\r\n", "To: jos\xc3\xa9@x.example\r\n\r\nx\r\n", TRUE, TRUE, "553 5.6.7"},
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    T *t = t_new(SMTP_TLS_OFF, SMTP_AUTH_NONE);
    g_autoptr(GBytes) body = body_of(cases[i].body);
    SmtpClientJob job = {.mail_from = "s@a.example", .rcpts = three, .n_rcpts = 1, .body = body,
                         .eight_bit = cases[i].eight_bit, .smtputf8 = cases[i].smtputf8};
    smtp_client_start_job(t->c, &job);
    server(t, "220 mx\r\n");
    server(t, cases[i].ehlo);
    g_autofree char *out = client(t);
    g_assert_null(strstr(out, "MAIL"));
    g_assert_cmpint(t->results[0].outcome, ==, SMTP_OUTCOME_PERM);
    g_assert_true(g_str_has_prefix(t->results[0].reply, cases[i].reason));
    g_assert_cmpint(smtp_client_state(t->c), ==, SC_READY);
    t_free(t);
  }
  /* a line over 998 octets is never sent */
  T *t = t_new(SMTP_TLS_OFF, SMTP_AUTH_NONE);
  GString *s = g_string_new("Subject: x\r\n\r\n");
  for (int i = 0; i < 999; i++) g_string_append_c(s, 'a');
  g_autoptr(GBytes) body = g_bytes_new(s->str, s->len);
  g_string_free(s, TRUE);
  SmtpClientJob job = {.mail_from = "s@a.example", .rcpts = three, .n_rcpts = 1, .body = body};
  smtp_client_start_job(t->c, &job);
  server(t, "220 mx\r\n250 x\r\n");
  g_assert_true(g_str_has_prefix(t->results[0].reply, "554 5.6.0"));
  t_free(t);
}

static void test_connection_failures(void)
{
  /* 421 in the middle of the envelope */
  T *t = t_new(SMTP_TLS_OFF, SMTP_AUTH_NONE);
  g_autoptr(GBytes) body = body_of("x\r\n");
  SmtpClientJob job = {.mail_from = "s@a.example", .rcpts = three, .n_rcpts = 2, .body = body};
  smtp_client_start_job(t->c, &job);
  server(t, "220 mx\r\n250 x\r\n250 ok\r\n550 5.1.1 no\r\n");
  g_assert_cmpint(server(t, "421 4.3.2 shutting down\r\n"), ==, SC_DONE);
  g_assert_cmpint(t->results[0].outcome, ==, SMTP_OUTCOME_PERM); /* its own reply stands */
  g_assert_cmpint(t->results[1].outcome, ==, SMTP_OUTCOME_TEMP);
  g_assert_nonnull(strstr(t->results[1].reply, "421 4.3.2"));
  t_free(t);

  /* the connection drops after the message, before the final reply */
  t = t_new(SMTP_TLS_OFF, SMTP_AUTH_NONE);
  smtp_client_start_job(t->c, &job);
  server(t, "220 mx\r\n250-x\r\n250 PIPELINING\r\n");
  server(t, "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n");
  g_assert_cmpint(smtp_client_state(t->c), ==, SC_DOT);
  smtp_client_abort(t->c, "lost connection after the message");
  g_assert_cmpint(t->results[0].outcome, ==, SMTP_OUTCOME_TEMP);
  g_assert_cmpint(t->results[1].outcome, ==, SMTP_OUTCOME_TEMP);
  t_free(t);

  /* garbage instead of a reply */
  t = t_new(SMTP_TLS_OFF, SMTP_AUTH_NONE);
  smtp_client_start_job(t->c, &job);
  g_assert_cmpint(server(t, "HTTP/1.1 400 Bad Request\r\n"), ==, SC_DONE);
  g_assert_nonnull(strstr(t->results[0].reply, "protocol error"));
  t_free(t);

  /* a greeting refusal */
  t = t_new(SMTP_TLS_OFF, SMTP_AUTH_NONE);
  smtp_client_start_job(t->c, &job);
  server(t, "554 5.7.1 go away\r\n");
  expect_client(t, "QUIT\r\n");
  g_assert_cmpstr(t->results[0].reply, ==, "host refused to talk: 554 5.7.1 go away");
  t_free(t);
}

static void test_names(void)
{
  SmtpTlsMode m;
  g_assert_cmpint(smtp_tls_mode_parse("preferred-verify", &m), ==, 0);
  g_assert_cmpint(m, ==, SMTP_TLS_PREFERRED_VERIFY);
  g_assert_cmpstr(smtp_tls_mode_name(SMTP_TLS_REQUIRED_VERIFY), ==, "required-verify");
  g_assert_cmpint(smtp_tls_mode_parse("may", &m), ==, -1);
  SmtpAuthMech a;
  g_assert_cmpint(smtp_auth_mech_parse("login", &a), ==, 0);
  g_assert_cmpint(a, ==, SMTP_AUTH_LOGIN);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/smtp_client/pipelined", test_pipelined);
  g_test_add_func("/smtp_client/pipelined_bytewise", test_pipelined_bytewise);
  g_test_add_func("/smtp_client/one_by_one_helo", test_one_by_one_and_helo);
  g_test_add_func("/smtp_client/mail_refused", test_mail_refused);
  g_test_add_func("/smtp_client/tls_decisions", test_tls_decisions);
  g_test_add_func("/smtp_client/starttls_injection", test_starttls_injection);
  g_test_add_func("/smtp_client/auth_never_before_tls", test_auth_never_before_tls);
  g_test_add_func("/smtp_client/xoauth2", test_xoauth2);
  g_test_add_func("/smtp_client/oauth2_token_provider", test_oauth2_token_provider);
  g_test_add_func("/smtp_client/login_check_steps", test_login_check_steps);
  g_test_add_func("/smtp_client/extension_refusals", test_extension_refusals);
  g_test_add_func("/smtp_client/connection_failures", test_connection_failures);
  g_test_add_func("/smtp_client/names", test_names);
  return g_test_run();
}
