/* test_smtp_session.c - the SMTP state machine driven through evbuffers with fake hooks: replies,
 * pipelining rules, STARTTLS injection, durable acknowledgement ordering, BDAT, limits, the error
 * budget, timeouts and the minimum data rate, bodies in memory or in files, and golden transcripts
 * from tests/fixtures/smtp. */
#include "agent/lib/clock.h"
#include "agent/smtp/smtp_session.h"
#include "testutil.h"

#include <dlfcn.h>
#include <errno.h>
#include <event2/buffer.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *spool_dir; /* data_dir of the fake body_new hook; bodies in spool_dir/spool */

/* A full disk on demand: while disk_full_writes is set, write(2) to a regular file fails with
 * ENOSPC (the executable's definition comes first, as in test_storage_spool.c). */
static gboolean disk_full_writes;

ssize_t write(int fd, const void *buf, size_t n)
{
  static ssize_t (*real)(int, const void *, size_t);
  struct stat st;
  if (!real) real = (ssize_t (*)(int, const void *, size_t)) dlsym(RTLD_NEXT, "write");
  if (disk_full_writes && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    errno = ENOSPC;
    return -1;
  }
  return real(fd, buf, n);
}

typedef struct {
  SmtpSession *s;
  struct evbuffer *in, *out;
  SmtpLimits lim;
  GPtrArray *submitted;   /* MaSpoolEntry* */
  int starttls_calls;
  gboolean disk_full;
  gboolean policy_fail;   /* policy never satisfied */
  gboolean lookup_error;
  gboolean body_error;    /* body_new fails */
  gboolean buffered;      /* body_new makes buffered bodies (the server's), else files at once */
  GString *policy_msg;    /* what the last end-of-message policy call was given */
  SmtpAction last;
} Fx;

static int fake_lookup(void *ctx, const char *local, char **ent, GError **error)
{
  Fx *fx = ctx;
  if (fx->lookup_error) {
    g_set_error(error, g_quark_from_static_string("test"), 1, "db busy");
    return -1;
  }
  if (g_str_has_prefix(local, "acme-")) {
    *ent = g_strdup("ent-acme");
    return 1;
  }
  if (strcmp(local, "other-zz") == 0) {
    *ent = g_strdup("ent-other");
    return 1;
  }
  return 0;
}

static int fake_policy(void *ctx, const char *ent, const char *client, const char *from, const guint8 *msg, gsize len,
                       FwdDecision *out, GError **error)
{
  Fx *fx = ctx;
  memset(out, 0, sizeof *out);
  if (msg) {
    if (!fx->policy_msg) fx->policy_msg = g_string_new(NULL);
    g_string_truncate(fx->policy_msg, 0);
    g_string_append_len(fx->policy_msg, (const char *) msg, (gssize) len);
  }
  if (g_str_has_prefix(from, "stranger@")) { /* a strict policy's envelope verdict */
    out->reason = g_strdup("the sender is not a known forwarder");
    out->final = msg == NULL;
    return 0;
  }
  if (fx->policy_fail || strcmp(from, "employee@acme.example") != 0) {
    out->reason = g_strdup("no trusted signal names a registered employee");
    return 0;
  }
  out->satisfied = TRUE;
  out->employee_id = g_strdup("emp-1");
  out->signal = "envelope_sender";
  return 0;
}

static gboolean fake_disk(void *ctx) { return !((Fx *) ctx)->disk_full; }

static void fake_submit(void *ctx, SmtpSession *s, MaSpoolEntry *e)
{
  g_ptr_array_add(((Fx *) ctx)->submitted, e);
}

static void fake_starttls(void *ctx, SmtpSession *s) { ((Fx *) ctx)->starttls_calls++; }

static int fake_body_new(void *ctx, MaSpoolBody **out, GError **error)
{
  g_autofree char *id = ma_id_new();
  if (((Fx *) ctx)->body_error) {
    g_set_error(error, g_quark_from_static_string("test"), 1, "disk gone");
    return -1;
  }
  if (((Fx *) ctx)->buffered) return spool_body_new_buffered(spool_dir, id, out, error);
  return spool_body_create(spool_dir, id, out, error);
}

/* Files in the fake spool directory. */
static guint spool_files(void)
{
  g_autofree char *dir = g_build_filename(spool_dir, SPOOL_BODY_DIR, NULL);
  GDir *d = g_dir_open(dir, 0, NULL);
  guint n = 0;
  while (d && g_dir_read_name(d)) n++;
  if (d) g_dir_close(d);
  return n;
}

/* The octets of a submitted message, read from its file (or its body's memory). */
static GBytes *entry_octets(const MaSpoolEntry *e)
{
  char *text = NULL;
  gsize len = 0;
  g_assert_nonnull(e->body);
  if (spool_body_in_memory(e->body)) {
    const guint8 *octets = spool_body_memory(e->body, &len);
    return g_bytes_new(octets, len);
  }
  g_assert_true(g_file_get_contents(spool_body_path(e->body), &text, &len, NULL));
  return g_bytes_new_take(text, len);
}

/* Submission credentials: user "crm" with password "s3cret" belongs to ent-acme. */
static int fake_auth(void *ctx, const char *user, const char *password, char **ent, GError **error)
{
  if (strcmp(user, "crm") != 0 || strcmp(password, "s3cret") != 0) return 0;
  *ent = g_strdup("ent-acme");
  return 1;
}

/* Bounce tokens of the fake: "b" followed by "good" are ours, anything else is forged. */
static int fake_bounce_lookup(void *ctx, const char *local)
{
  return g_str_has_prefix(local, "bgood") ? 1 : 0;
}

static guint fx_budget = 5;         /* error budget of the next fx_init */
static gboolean fx_submission;      /* the next fx_init makes a submission session */
static gboolean fx_buffered;        /* the next fx_init's bodies are buffered (as the server's) */
static gint64 fx_max_size = 4096;   /* max_message_size of the next fx_init */

static void fx_init(Fx *fx)
{
  SmtpSessionHooks hooks = {fx, fake_lookup, fake_policy, fake_disk, fake_submit, fake_starttls, fake_body_new, fake_auth, fake_bounce_lookup};
  memset(fx, 0, sizeof *fx);
  hooks.ctx = fx;
  smtp_limits_defaults(&fx->lim);
  fx->lim.hostname = "mx.inbound.test";
  fx->lim.inbound_domain = "inbound.test";
  fx->lim.bounce_domain = "bounces.test";
  fx->lim.tls_available = TRUE;
  fx->lim.max_message_size = fx_max_size;
  fx->lim.max_recipients = 3;
  fx->lim.error_budget = fx_budget;
  fx->lim.command_timeout_ms = 10000;
  fx->lim.data_timeout_ms = 20000;
  fx->lim.min_data_rate = 100;
  fx->lim.rate_grace_ms = 2000;
  fx->lim.submission = fx_submission;
  fx->buffered = fx_buffered;
  fx->in = evbuffer_new();
  fx->out = evbuffer_new();
  fx->submitted = g_ptr_array_new_with_free_func((GDestroyNotify) ma_spool_entry_free);
  fx->s = smtp_session_new(&fx->lim, &hooks, "192.0.2.7", 0);
  smtp_session_set_buffers(fx->s, fx->in, fx->out);
}

static void fx_clear(Fx *fx)
{
  smtp_session_free(fx->s);
  evbuffer_free(fx->in);
  evbuffer_free(fx->out);
  g_ptr_array_unref(fx->submitted);
  if (fx->policy_msg) g_string_free(fx->policy_msg, TRUE);
}

/* Takes everything written so far. */
static char *fx_output(Fx *fx)
{
  gsize n = evbuffer_get_length(fx->out);
  char *s = g_malloc(n + 1);
  evbuffer_remove(fx->out, s, n);
  s[n] = '\0';
  return s;
}

/* Feeds len octets (in one segment) and returns the replies. */
static char *fx_send_n(Fx *fx, const char *data, gsize len, gint64 now)
{
  evbuffer_add(fx->in, data, len);
  fx->last = smtp_session_process(fx->s, now);
  return fx_output(fx);
}

static char *fx_send(Fx *fx, const char *data) { return fx_send_n(fx, data, strlen(data), 1); }

static void fx_greet_ehlo(Fx *fx)
{
  g_autofree char *g = NULL, *e = NULL;
  g_assert_cmpint(smtp_session_greet(fx->s, FALSE, 0), ==, SMTP_CONTINUE);
  g = fx_output(fx);
  g_assert_cmpstr(g, ==, "220 mx.inbound.test ESMTP mailagent\r\n");
  e = fx_send(fx, "EHLO client.example\r\n");
  g_assert_true(g_str_has_prefix(e, "250-mx.inbound.test\r\n"));
  g_assert_nonnull(strstr(e, "250-PIPELINING\r\n"));
  {
    g_autofree char *size = g_strdup_printf("250-SIZE %" G_GINT64_FORMAT "\r\n", fx->lim.max_message_size);
    g_assert_nonnull(strstr(e, size));
  }
  g_assert_nonnull(strstr(e, "250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250-SMTPUTF8\r\n250-STARTTLS\r\n250 CHUNKING\r\n"));
}

static void test_plain_delivery_waits_for_spool(void)
{
  Fx fx;
  g_autofree char *r1 = NULL, *r2 = NULL, *r3 = NULL, *r4 = NULL;
  MaSpoolEntry *e;

  fx_init(&fx);
  fx_greet_ehlo(&fx);
  /* Postfix-style pipelined envelope */
  r1 = fx_send(&fx, "MAIL FROM:<employee@acme.example> SIZE=100\r\nRCPT TO:<acme-k3x9@inbound.test>\r\n"
                    "RCPT TO:<ACME-OLD@Inbound.Test>\r\nDATA\r\n");
  g_assert_cmpstr(r1, ==, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n");
  /* the final dot and a pipelined QUIT: nothing may be answered before the spool says durable */
  r2 = fx_send(&fx, "Subject: hello\r\n\r\n..body\r\n.\r\nQUIT\r\n");
  g_assert_cmpstr(r2, ==, "");
  g_assert_cmpint(smtp_session_state(fx.s), ==, SMTP_STATE_SPOOLING);
  g_assert_cmpuint(fx.submitted->len, ==, 1);
  e = g_ptr_array_index(fx.submitted, 0);
  g_assert_cmpstr(e->enterprise_id, ==, "ent-acme");
  g_assert_cmpstr(e->mail_from, ==, "employee@acme.example");
  g_assert_cmpstr(e->route, ==, "smtp");
  g_assert_cmpstr(e->client, ==, "192.0.2.7");
  g_assert_cmpstr(e->helo, ==, "client.example");
  g_assert_cmpstr(e->employee_id, ==, "emp-1");
  g_assert_cmpstr(e->signal, ==, "envelope_sender");
  g_assert_cmpuint(e->rcpts->len, ==, 2);
  g_assert_cmpstr(g_ptr_array_index(e->rcpts, 1), ==, "acme-old@inbound.test");
  {
    g_autoptr(GBytes) got = entry_octets(e);
    g_assert_cmpmem(g_bytes_get_data(got, NULL), g_bytes_get_size(got), "Subject: hello\r\n\r\n.body\r\n", 25);
  }
  smtp_session_spooled(fx.s, SMTP_SPOOL_STORED, e->id, 5);
  fx.last = smtp_session_process(fx.s, 5);
  r3 = fx_output(&fx);
  r4 = g_strdup_printf("250 2.0.0 Ok: queued as %s\r\n221 2.0.0 Bye\r\n", e->id);
  g_assert_cmpstr(r3, ==, r4);
  g_assert_cmpint(fx.last, ==, SMTP_CLOSE);
  fx_clear(&fx);
}

/* The server's bodies: a message within 64 KiB is handed over in memory (no file was ever made);
 * a larger one was streamed to its file; a refused one leaves no file either way. */
static void test_buffered_bodies(void)
{
  Fx fx;
  fx_buffered = TRUE;
  fx_max_size = 200000;
  fx_init(&fx);
  fx_buffered = FALSE;
  fx_max_size = 4096;
  fx_greet_ehlo(&fx);
  GString *big = g_string_new("Subject: big\r\n\r\n");
  for (int i = 0; i < 700; i++) g_string_append(big, "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789\r\n");
  g_string_append(big, ".\r\n");
  const char *messages[] = {"Subject: small\r\n\r\nbody\r\n.\r\n", big->str};
  for (int m = 0; m < 2; m++) {
    g_autofree char *r1 = fx_send(&fx, "MAIL FROM:<employee@acme.example>\r\nRCPT TO:<acme-k3x9@inbound.test>\r\nDATA\r\n");
    g_assert_true(g_str_has_suffix(r1, "354 End data with <CR><LF>.<CR><LF>\r\n"));
    g_autofree char *r2 = fx_send(&fx, messages[m]);
    g_assert_cmpstr(r2, ==, "");
    g_assert_cmpuint(fx.submitted->len, ==, (guint) m + 1);
    MaSpoolEntry *e = g_ptr_array_index(fx.submitted, m);
    g_autoptr(GBytes) got = entry_octets(e);
    gsize want = strlen(messages[m]) - 3; /* the final ".\r\n" is not content */
    g_assert_cmpmem(g_bytes_get_data(got, NULL), g_bytes_get_size(got), messages[m], want);
    g_assert_cmpint(spool_body_in_memory(e->body), ==, m == 0);
    g_assert_cmpuint(spool_files(), ==, (guint) m); /* only the large one has a file */
    smtp_session_spooled(fx.s, SMTP_SPOOL_STORED, e->id, 5);
    g_autofree char *r3 = fx_output(&fx);
    g_assert_true(g_str_has_prefix(r3, "250 2.0.0 Ok: queued as "));
  }
  g_ptr_array_set_size(fx.submitted, 0); /* never committed: freeing unlinks the large one's file */
  g_assert_cmpuint(spool_files(), ==, 0);
  g_string_free(big, TRUE);
  fx_clear(&fx);
}

static void test_spool_failure_is_451(void)
{
  Fx fx;
  g_autofree char *r = NULL, *r2 = NULL;
  fx_init(&fx);
  fx_greet_ehlo(&fx);
  r = fx_send(&fx, "MAIL FROM:<employee@acme.example>\r\nRCPT TO:<acme-k3x9@inbound.test>\r\nDATA\r\n");
  g_free(r);
  r = fx_send(&fx, "Subject: x\r\n\r\nx\r\n.\r\n");
  g_assert_cmpstr(r, ==, "");
  smtp_session_spooled(fx.s, SMTP_SPOOL_FAILED, "x", 2);
  r2 = fx_output(&fx);
  g_assert_cmpstr(r2, ==, "451 4.3.0 Temporary failure storing the message, try again later\r\n");
  g_assert_cmpint(smtp_session_state(fx.s), ==, SMTP_STATE_IDLE);
  /* the spool commit failed because the disk filled after MAIL's reserve check: 452 4.3.1 */
  g_free(r);
  r = fx_send(&fx, "MAIL FROM:<employee@acme.example>\r\nRCPT TO:<acme-k3x9@inbound.test>\r\nDATA\r\n");
  g_free(r);
  r = fx_send(&fx, "Subject: y\r\n\r\ny\r\n.\r\n");
  g_assert_cmpstr(r, ==, "");
  smtp_session_spooled(fx.s, SMTP_SPOOL_NO_SPACE, "y", 3);
  g_free(r2);
  r2 = fx_output(&fx);
  g_assert_cmpstr(r2, ==, "452 4.3.1 Insufficient system storage, try again later\r\n");
  fx_clear(&fx);
}

static void test_pipelining_rules(void)
{
  Fx fx;
  g_autofree char *r = NULL;

  /* after HELO: no pipelining */
  fx_init(&fx);
  g_assert_cmpint(smtp_session_greet(fx.s, FALSE, 0), ==, SMTP_CONTINUE);
  g_free(fx_output(&fx));
  r = fx_send(&fx, "HELO client.example\r\n");
  g_assert_cmpstr(r, ==, "250 mx.inbound.test\r\n");
  g_free(r);
  r = fx_send(&fx, "MAIL FROM:<a@b.example>\r\nRCPT TO:<acme-k3x9@inbound.test>\r\n");
  g_assert_cmpstr(r, ==, "554 5.5.0 Error: protocol synchronization\r\n");
  g_assert_cmpint(fx.last, ==, SMTP_CLOSE);
  fx_clear(&fx);
  g_clear_pointer(&r, g_free);

  /* HELO with a command behind it */
  fx_init(&fx);
  smtp_session_greet(fx.s, FALSE, 0);
  g_free(fx_output(&fx));
  r = fx_send(&fx, "HELO x\r\nMAIL FROM:<a@b.example>\r\n");
  g_assert_cmpstr(r, ==, "554 5.5.0 Error: protocol synchronization\r\n");
  fx_clear(&fx);
  g_clear_pointer(&r, g_free);

  /* EHLO with a command behind it (EHLO must end a group) */
  fx_init(&fx);
  smtp_session_greet(fx.s, FALSE, 0);
  g_free(fx_output(&fx));
  r = fx_send(&fx, "EHLO x\r\nMAIL FROM:<a@b.example>\r\n");
  g_assert_true(g_str_has_suffix(r, "554 5.5.0 Error: protocol synchronization\r\n"));
  g_assert_null(strstr(r, "250 2.1.0"));
  fx_clear(&fx);
  g_clear_pointer(&r, g_free);

  /* before the greeting */
  fx_init(&fx);
  evbuffer_add(fx.in, "EHLO x\r\n", 8);
  g_assert_cmpint(smtp_session_greet(fx.s, FALSE, 0), ==, SMTP_CLOSE);
  r = fx_output(&fx);
  g_assert_cmpstr(r, ==, "554 5.5.0 Error: protocol synchronization (client spoke before the greeting)\r\n");
  fx_clear(&fx);
}

static void test_starttls_injection(void)
{
  Fx fx;
  g_autofree char *r = NULL, *r2 = NULL, *r3 = NULL;
  fx_init(&fx);
  fx_greet_ehlo(&fx);
  r = fx_send(&fx, "STARTTLS\r\nRSET\r\nMAIL FROM:<evil@x.example>\r\n");
  g_assert_cmpstr(r, ==, "220 2.0.0 Ready to start TLS\r\n");
  g_assert_cmpint(fx.starttls_calls, ==, 1);
  g_assert_cmpuint(evbuffer_get_length(fx.in), ==, 0);
  g_assert_cmpint(smtp_session_state(fx.s), ==, SMTP_STATE_TLS);
  smtp_session_tls_done(fx.s, TRUE, 3);
  g_assert_true(smtp_session_is_tls(fx.s));
  /* nothing was replied for the injected commands; the session starts over: EHLO first */
  fx.last = smtp_session_process(fx.s, 3);
  r2 = fx_output(&fx);
  g_assert_cmpstr(r2, ==, "");
  r3 = fx_send(&fx, "MAIL FROM:<a@b.example>\r\n");
  g_assert_cmpstr(r3, ==, "503 5.5.1 Error: send HELO/EHLO first\r\n");
  g_free(r3);
  r3 = fx_send(&fx, "EHLO again\r\n");
  g_assert_null(strstr(r3, "STARTTLS")); /* not offered twice */
  g_assert_nonnull(strstr(r3, "250 CHUNKING"));
  fx_clear(&fx);
}

static void test_smuggling_single_reply(void)
{
  Fx fx;
  g_autofree char *r = NULL;
  static const char msg[] = "Subject: a\r\n\r\nbody\n.\nMAIL FROM:<employee@acme.example>\r\nRCPT TO:<acme-k3x9@inbound.test>\r\n"
                            "DATA\r\nSubject: smuggled\r\n\r\nevil\r\n.\r\n";
  fx_init(&fx);
  fx_greet_ehlo(&fx);
  g_free(fx_send(&fx, "MAIL FROM:<employee@acme.example>\r\nRCPT TO:<acme-k3x9@inbound.test>\r\nDATA\r\n"));
  r = fx_send(&fx, msg);
  g_assert_cmpstr(r, ==, "550 5.5.2 Message refused: bare CR or LF in message content (only CRLF line endings are accepted)\r\n");
  g_assert_cmpuint(fx.submitted->len, ==, 0);
  g_assert_cmpint(smtp_session_state(fx.s), ==, SMTP_STATE_IDLE);
  fx_clear(&fx);
}

static void test_recipients(void)
{
  Fx fx;
  g_autofree char *r = NULL;
  fx_budget = 50;
  fx_init(&fx);
  fx_budget = 5;
  fx_greet_ehlo(&fx);
  r = fx_send(&fx, "RCPT TO:<acme-k3x9@inbound.test>\r\n");
  g_assert_cmpstr(r, ==, "503 5.5.1 Error: need MAIL command\r\n");
  g_free(r);
  r = fx_send(&fx, "MAIL FROM:<x@y.example>\r\nRCPT TO:<nobody@inbound.test>\r\nRCPT TO:<user%evil.example@inbound.test>\r\n"
                   "RCPT TO:<other-zz@inbound.test>\r\nRCPT TO:<acme-k3x9@inbound.test>\r\nRCPT TO:<other-zz@inbound.test>\r\n");
  g_assert_cmpstr(r, ==, "250 2.1.0 Ok\r\n"
                         "550 5.1.1 Recipient address rejected: no such virtual address here\r\n"
                         "550 5.7.1 Relay access denied\r\n"
                         "250 2.1.5 Ok\r\n"
                         "452 4.5.3 One enterprise per transaction; send the other recipients separately\r\n"
                         "250 2.1.5 Ok\r\n");
  g_free(r);
  /* max_recipients (3): the fourth distinct recipient is deferred, the message still goes */
  r = fx_send(&fx, "RSET\r\nMAIL FROM:<x@y.example>\r\nRCPT TO:<acme-k3x9@inbound.test>\r\nRCPT TO:<acme-a@inbound.test>\r\n"
                   "RCPT TO:<acme-b@inbound.test>\r\nRCPT TO:<acme-c@inbound.test>\r\n");
  g_assert_cmpstr(r, ==, "250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"
                         "452 4.5.3 Error: too many recipients\r\n");
  g_free(r);
  fx.lookup_error = TRUE;
  r = fx_send(&fx, "RSET\r\nMAIL FROM:<x@y.example>\r\nRCPT TO:<acme-k3x9@inbound.test>\r\n");
  g_assert_cmpstr(r, ==, "250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n451 4.3.0 Temporary lookup failure, try again later\r\n");
  fx_clear(&fx);
}

/* A repeated address is delivered once but counts against max_recipients (3): the fourth RCPT is
 * deferred even though only two distinct addresses were accepted. */
static void test_duplicate_recipients(void)
{
  Fx fx;
  g_autofree char *r = NULL;
  MaSpoolEntry *e;
  fx_init(&fx);
  fx_greet_ehlo(&fx);
  r = fx_send(&fx, "MAIL FROM:<employee@acme.example>\r\nRCPT TO:<acme-k3x9@inbound.test>\r\n"
                   "RCPT TO:<ACME-K3X9@inbound.test>\r\nRCPT TO:<acme-b@inbound.test>\r\nRCPT TO:<acme-c@inbound.test>\r\n");
  g_assert_cmpstr(r, ==, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"
                         "452 4.5.3 Error: too many recipients\r\n");
  g_free(g_steal_pointer(&r));
  g_free(fx_send(&fx, "DATA\r\n"));
  r = fx_send(&fx, "Subject: dup\r\n\r\nhi\r\n.\r\n");
  g_assert_cmpstr(r, ==, "");
  g_assert_cmpuint(fx.submitted->len, ==, 1);
  e = g_ptr_array_index(fx.submitted, 0);
  g_assert_cmpuint(e->rcpts->len, ==, 2);
  g_assert_cmpstr(g_ptr_array_index(e->rcpts, 0), ==, "acme-k3x9@inbound.test");
  g_assert_cmpstr(g_ptr_array_index(e->rcpts, 1), ==, "acme-b@inbound.test");
  fx_clear(&fx);
}

/* junk_command_limit NOOP/VRFY/RSET/HELP are answered; the next gets 421 and closes; an accepted
 * message starts the count again. Junk commands do not touch the error budget. */
static void test_junk_commands(void)
{
  const char *junk[] = {"NOOP\r\n", "VRFY someone\r\n", "RSET\r\n", "HELP\r\n", "ETRN example.com\r\n"};
  const char first[] = {'2', '2', '2', '2', '4'};
  Fx fx;
  g_autofree char *r = NULL;
  MaSpoolEntry *e;
  fx_init(&fx);
  smtp_session_free(fx.s);
  fx.lim.junk_command_limit = 8;
  {
    SmtpSessionHooks hooks = {&fx, fake_lookup, fake_policy, fake_disk, fake_submit, fake_starttls, fake_body_new, fake_auth, fake_bounce_lookup};
    fx.s = smtp_session_new(&fx.lim, &hooks, "192.0.2.7", 0);
    smtp_session_set_buffers(fx.s, fx.in, fx.out);
  }
  fx_greet_ehlo(&fx);
  for (int i = 0; i < 6; i++) {
    r = fx_send(&fx, junk[i % 5]);
    g_assert_cmpint(r[0], ==, first[i % 5]);
    g_assert_cmpint(fx.last, ==, SMTP_CONTINUE);
    g_clear_pointer(&r, g_free);
  }
  /* progress: a message accepted resets the count */
  g_free(fx_send(&fx, "MAIL FROM:<employee@acme.example>\r\nRCPT TO:<acme-k3x9@inbound.test>\r\nDATA\r\n"));
  g_free(fx_send(&fx, "Subject: x\r\n\r\nx\r\n.\r\n"));
  g_assert_cmpuint(fx.submitted->len, ==, 1);
  e = g_ptr_array_index(fx.submitted, 0);
  smtp_session_spooled(fx.s, SMTP_SPOOL_STORED, e->id, 2);
  g_free(fx_output(&fx));
  for (int i = 0; i < 8; i++) {
    r = fx_send(&fx, junk[i % 5]);
    g_assert_cmpint(r[0], ==, first[i % 5]);
    g_clear_pointer(&r, g_free);
  }
  r = fx_send(&fx, "NOOP\r\n");
  g_assert_cmpstr(r, ==, "421 4.7.0 Too many commands without progress, closing connection\r\n");
  g_assert_cmpint(fx.last, ==, SMTP_CLOSE);
  g_assert_cmpint(smtp_session_state(fx.s), ==, SMTP_STATE_CLOSING);
  fx_clear(&fx);
}

static void test_policy_refusal(void)
{
  Fx fx;
  g_autofree char *r = NULL;
  fx_init(&fx);
  fx_greet_ehlo(&fx);
  g_free(fx_send(&fx, "MAIL FROM:<outsider@evil.example>\r\nRCPT TO:<acme-k3x9@inbound.test>\r\nDATA\r\n"));
  r = fx_send(&fx, "From: outsider@evil.example\r\nTo: employee@acme.example\r\n\r\nhi\r\n.\r\n");
  g_assert_true(g_str_has_prefix(r, "550 5.7.1 Message refused by the forwarder policy: no trusted signal"));
  g_assert_cmpuint(fx.submitted->len, ==, 0);
  fx_clear(&fx);
}

/* Mail the parser could never read is refused before the 250 with 554 5.6.0 and why (DATA and
 * BDAT alike); the session goes on, and a good message after it is accepted. */
static void test_unparseable_refused(void)
{
  static const struct {
    const char *data;
    const char *reason;
  } cases[] = {
    {".\r\n", "the message is empty"},
    {"\r\nSubject: x\r\n\r\nhi\r\n.\r\n", "starts with a blank line"},
    {"hello there\r\nSubject: x\r\n\r\nhi\r\n.\r\n", "is not a header field"},
    {" Subject: x\r\n\r\nhi\r\n.\r\n", "starts with white space"},
  };
  Fx fx;
  fx_budget = 10; /* each refusal counts against the session's error budget */
  fx_init(&fx);
  fx_budget = 5;
  fx_greet_ehlo(&fx);
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_free(fx_send(&fx, "MAIL FROM:<employee@acme.example>\r\nRCPT TO:<acme-k3x9@inbound.test>\r\nDATA\r\n"));
    g_autofree char *r = fx_send(&fx, cases[i].data);
    g_assert_true(g_str_has_prefix(r, "554 5.6.0 Message refused: "));
    g_assert_nonnull(strstr(r, cases[i].reason));
    g_assert_cmpuint(fx.submitted->len, ==, 0);
  }
  g_autofree char *b = fx_send(&fx, "MAIL FROM:<employee@acme.example>\r\nRCPT TO:<acme-k3x9@inbound.test>\r\n"
                                    "BDAT 0 LAST\r\n");
  g_assert_cmpstr(b, ==, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n554 5.6.0 Message refused: the message is empty\r\n");
  g_autofree char *ok = fx_send(&fx, "MAIL FROM:<employee@acme.example>\r\nRCPT TO:<acme-k3x9@inbound.test>\r\nDATA\r\n");
  g_free(fx_send(&fx, "Subject : fine\r\n\r\nhi\r\n.\r\n"));
  g_assert_cmpuint(fx.submitted->len, ==, 1);
  fx_clear(&fx);
}

/* A final envelope verdict refuses the recipient before DATA, costs one error, and leaves the
 * transaction open for a recipient the next MAIL may bring. */
static void test_policy_refusal_at_rcpt(void)
{
  Fx fx;
  g_autofree char *r = NULL;
  fx_init(&fx);
  fx_greet_ehlo(&fx);
  r = fx_send(&fx, "MAIL FROM:<stranger@evil.example>\r\nRCPT TO:<acme-k3x9@inbound.test>\r\nDATA\r\n");
  g_assert_cmpstr(r, ==, "250 2.1.0 Ok\r\n"
                         "550 5.7.1 Recipient refused by the forwarder policy: the sender is not a known forwarder\r\n"
                         "554 5.5.1 Error: no valid recipients\r\n");
  g_assert_cmpuint(fx.submitted->len, ==, 0);
  g_free(g_steal_pointer(&r));
  r = fx_send(&fx, "RSET\r\nMAIL FROM:<employee@acme.example>\r\nRCPT TO:<acme-k3x9@inbound.test>\r\n");
  g_assert_cmpstr(r, ==, "250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n");
  fx_clear(&fx);
}

static void test_sizes_and_lines(void)
{
  Fx fx;
  g_autofree char *r = NULL;
  GString *big = g_string_new(NULL);
  fx_budget = 50;
  fx_init(&fx);
  fx_budget = 5;
  fx_greet_ehlo(&fx);
  r = fx_send(&fx, "MAIL FROM:<employee@acme.example> SIZE=4097\r\n");
  g_assert_cmpstr(r, ==, "552 5.3.4 Message size exceeds fixed maximum message size\r\n");
  g_free(r);
  r = fx_send(&fx, "MAIL FROM:<employee@acme.example> BODY=BINARYMIME\r\n");
  g_assert_cmpstr(r, ==, "555 5.5.4 BODY=BINARYMIME is not supported\r\n");
  g_free(r);
  /* actual size over the cap: read to the end, refused once */
  g_free(fx_send(&fx, "MAIL FROM:<employee@acme.example>\r\nRCPT TO:<acme-k3x9@inbound.test>\r\nDATA\r\n"));
  g_string_append(big, "Subject: big\r\n\r\n");
  for (int i = 0; i < 100; i++) g_string_append(big, "0123456789012345678901234567890123456789012345678\r\n");
  g_string_append(big, ".\r\n");
  r = fx_send(&fx, big->str);
  g_assert_cmpstr(r, ==, "552 5.3.4 Message size exceeds fixed limit\r\n");
  g_free(r);
  /* command line over 1000 octets without LF, then its end */
  g_string_truncate(big, 0);
  for (int i = 0; i < 3000; i++) g_string_append_c(big, 'A');
  r = fx_send(&fx, big->str);
  g_assert_cmpstr(r, ==, "");
  g_free(r);
  r = fx_send(&fx, "AAAA\r\nNOOP\r\n");
  g_assert_cmpstr(r, ==, "500 5.5.2 Error: line too long\r\n250 2.0.0 Ok\r\n");
  g_free(r);
  /* the same, with the end of the line and the next command in one segment */
  g_string_truncate(big, 0);
  for (int i = 0; i < 1500; i++) g_string_append_c(big, 'A');
  g_string_append(big, "\r\nNOOP\r\n");
  r = fx_send(&fx, big->str);
  g_assert_cmpstr(r, ==, "500 5.5.2 Error: line too long\r\n250 2.0.0 Ok\r\n");
  g_free(r);
  /* 600-octet command: over the 512 command bound */
  g_string_truncate(big, 0);
  g_string_append(big, "NOOP ");
  for (int i = 0; i < 600; i++) g_string_append_c(big, 'B');
  g_string_append(big, "\r\n");
  r = fx_send(&fx, big->str);
  g_assert_cmpstr(r, ==, "500 5.5.2 Error: command line too long\r\n");
  g_free(r);
  /* disk below the reserve */
  fx.disk_full = TRUE;
  r = fx_send(&fx, "MAIL FROM:<employee@acme.example>\r\n");
  g_assert_cmpstr(r, ==, "452 4.3.1 Insufficient system storage, try again later\r\n");
  g_string_free(big, TRUE);
  fx_clear(&fx);
}

static void test_error_budget(void)
{
  Fx fx;
  g_autofree char *r = NULL;
  fx_init(&fx);
  fx_greet_ehlo(&fx);
  for (int i = 0; i < 4; i++) {
    r = fx_send(&fx, "BOGUS\r\n");
    g_assert_cmpstr(r, ==, "500 5.5.2 Error: command not recognized\r\n");
    g_clear_pointer(&r, g_free);
  }
  r = fx_send(&fx, "BOGUS\r\n");
  g_assert_cmpstr(r, ==, "500 5.5.2 Error: command not recognized\r\n421 4.7.0 Too many errors, closing connection\r\n");
  g_assert_cmpint(fx.last, ==, SMTP_CLOSE);
  fx_clear(&fx);
}

static void test_bdat(void)
{
  Fx fx;
  g_autofree char *r = NULL;
  MaSpoolEntry *e;
  fx_init(&fx);
  fx_greet_ehlo(&fx);
  /* a chunk before MAIL is read and dropped: its octets are never commands */
  r = fx_send(&fx, "BDAT 6\r\nQUIT\r\nNOOP\r\n");
  g_assert_cmpstr(r, ==, "503 5.5.1 Error: need MAIL command\r\n250 2.0.0 Ok\r\n");
  g_free(r);
  r = fx_send(&fx, "MAIL FROM:<employee@acme.example>\r\nRCPT TO:<acme-k3x9@inbound.test>\r\nBDAT 14\r\nSubject: x\r\n\r\n"
                   "BDAT 9 LAST\r\n.\r\nbody\r\n");
  g_assert_cmpstr(r, ==, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 14 octets received\r\n");
  g_assert_cmpuint(fx.submitted->len, ==, 1);
  e = g_ptr_array_index(fx.submitted, 0);
  {
    g_autoptr(GBytes) got = entry_octets(e);
    g_assert_cmpmem(g_bytes_get_data(got, NULL), g_bytes_get_size(got), "Subject: x\r\n\r\n.\r\nbody\r\n", 23);
  }
  smtp_session_spooled(fx.s, SMTP_SPOOL_STORED, "id1", 2);
  g_free(r);
  r = fx_output(&fx);
  g_assert_cmpstr(r, ==, "250 2.0.0 Ok: queued as id1\r\n");
  g_free(r);
  /* BDAT carries the same newline checks */
  r = fx_send(&fx, "MAIL FROM:<employee@acme.example>\r\nRCPT TO:<acme-k3x9@inbound.test>\r\nBDAT 10 LAST\r\na\nb\r\n.\nc\r\n");
  g_assert_cmpstr(r, ==, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
                         "550 5.5.2 Message refused: bare CR or LF in message content (only CRLF line endings are accepted)\r\n");
  g_free(r);
  r = fx_send(&fx, "BDAT x\r\n");
  g_assert_true(g_str_has_prefix(r, "501 5.5.4"));
  g_assert_cmpint(fx.last, ==, SMTP_CLOSE);
  fx_clear(&fx);
}

/* Between chunks the session waits in SMTP_STATE_BDAT_WAIT: only BDAT, RSET, NOOP, EHLO/HELO and
 * QUIT are taken; a refused chunk is read in SMTP_STATE_BDAT_SKIP and the session goes back to
 * where it was. */
static void test_bdat_states(void)
{
  Fx fx;
  g_autofree char *r = NULL;
  fx_init(&fx);
  fx_greet_ehlo(&fx);
  r = fx_send(&fx, "MAIL FROM:<employee@acme.example>\r\nRCPT TO:<acme-k3x9@inbound.test>\r\nBDAT 3\r\nSub");
  g_assert_cmpstr(r, ==, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 3 octets received\r\n");
  g_assert_cmpint(smtp_session_state(fx.s), ==, SMTP_STATE_BDAT_WAIT);
  g_clear_pointer(&r, g_free);
  r = fx_send(&fx, "RCPT TO:<acme-k3x9@inbound.test>\r\n");
  g_assert_cmpstr(r, ==, "503 5.5.1 Error: only BDAT may follow BDAT\r\n");
  g_clear_pointer(&r, g_free);
  r = fx_send(&fx, "DATA\r\n");
  g_assert_cmpstr(r, ==, "503 5.5.1 Error: only BDAT may follow BDAT\r\n");
  g_clear_pointer(&r, g_free);
  r = fx_send(&fx, "NOOP\r\n");
  g_assert_cmpstr(r, ==, "250 2.0.0 Ok\r\n");
  g_assert_cmpint(smtp_session_state(fx.s), ==, SMTP_STATE_BDAT_WAIT);
  g_clear_pointer(&r, g_free);
  r = fx_send(&fx, "BDAT 11 LAST\r\nject: x\r\n\r\n");
  g_assert_cmpuint(fx.submitted->len, ==, 1);
  g_assert_cmpint(smtp_session_state(fx.s), ==, SMTP_STATE_SPOOLING);
  smtp_session_spooled(fx.s, SMTP_SPOOL_STORED, "id1", 2);
  g_clear_pointer(&r, g_free);
  r = fx_output(&fx);
  g_assert_cmpstr(r, ==, "250 2.0.0 Ok: queued as id1\r\n");
  g_assert_cmpint(smtp_session_state(fx.s), ==, SMTP_STATE_IDLE);
  g_clear_pointer(&r, g_free);
  /* a chunk refused for its sequence is read, not taken for commands, then answered */
  r = fx_send(&fx, "MAIL FROM:<employee@acme.example>\r\nBDAT 6\r\nQUIT\r\n");
  g_assert_cmpstr(r, ==, "250 2.1.0 Ok\r\n554 5.5.1 Error: no valid recipients\r\n");
  g_assert_cmpint(smtp_session_state(fx.s), ==, SMTP_STATE_MAIL);
  g_clear_pointer(&r, g_free);
  r = fx_send(&fx, "BDAT 4\r\nQU");
  g_assert_cmpstr(r, ==, "");
  g_assert_cmpint(smtp_session_state(fx.s), ==, SMTP_STATE_BDAT_SKIP);
  g_clear_pointer(&r, g_free);
  r = fx_send(&fx, "IT");
  g_assert_cmpstr(r, ==, "554 5.5.1 Error: no valid recipients\r\n");
  g_assert_cmpint(smtp_session_state(fx.s), ==, SMTP_STATE_MAIL);
  fx_clear(&fx);
}

static void test_timeouts(void)
{
  Fx fx;
  g_autofree char *r = NULL;
  fx_init(&fx);
  fx_greet_ehlo(&fx);
  g_assert_cmpint(smtp_session_timer(fx.s, 9000), ==, SMTP_CONTINUE);
  g_assert_cmpint(smtp_session_timer(fx.s, 10002), ==, SMTP_CLOSE);
  r = fx_output(&fx);
  g_assert_cmpstr(r, ==, "421 4.4.2 Timeout exceeded, closing connection\r\n");
  fx_clear(&fx);
  g_clear_pointer(&r, g_free);

  /* 1 octet per second during DATA falls under 100 octets/s after the 2 s grace */
  fx_init(&fx);
  fx_greet_ehlo(&fx);
  g_free(fx_send(&fx, "MAIL FROM:<employee@acme.example>\r\nRCPT TO:<acme-k3x9@inbound.test>\r\nDATA\r\n"));
  {
    gint64 t0 = 1, t;
    for (t = t0; t < t0 + 10000; t += 1000) {
      evbuffer_add(fx.in, "x", 1);
      smtp_session_process(fx.s, t);
      if (smtp_session_timer(fx.s, t) == SMTP_CLOSE) break;
    }
    g_assert_cmpint(t, <, t0 + 5000);
  }
  r = fx_output(&fx);
  g_assert_cmpstr(r, ==, "421 4.4.2 Data rate too low, closing connection\r\n");
  fx_clear(&fx);
}

/* A message far larger than every buffer of the session is in its file before its end arrives,
 * and the file holds exactly the unstuffed octets. */
static void test_body_streamed_to_file(void)
{
  Fx fx;
  g_autofree char *r = NULL;
  GString *want = g_string_new("Subject: big\r\n\r\n");
  gint64 max_before = fx_max_size;
  fx_max_size = 8 * 1024 * 1024;
  fx_init(&fx);
  fx_max_size = max_before;
  fx_greet_ehlo(&fx);
  g_free(fx_send(&fx, "MAIL FROM:<employee@acme.example>\r\nRCPT TO:<acme-k3x9@inbound.test>\r\nDATA\r\n"));
  g_free(fx_send(&fx, want->str));
  for (int i = 0; i < 40000; i++) { /* 40,000 lines of 100 octets; every 7th starts with a dot */
    char line[128];
    int n = g_snprintf(line, sizeof line, "%s%08d %s\r\n", i % 7 == 0 ? "." : "x", i,
                       "012345678901234567890123456789012345678901234567890123456789012345678901234567890123456");
    g_string_append_len(want, line, n);
    if (i % 7 == 0) evbuffer_add(fx.in, ".", 1); /* stuffed on the wire */
    evbuffer_add(fx.in, line, (gsize) n);
    if (i % 500 == 0) g_free(fx_send_n(&fx, "", 0, 2));
  }
  g_free(fx_send_n(&fx, "", 0, 2));
  g_assert_cmpuint(spool_files(), ==, 1);
  {
    /* before the final dot, all but the last buffer's worth is on disk already */
    g_autofree char *dir = g_build_filename(spool_dir, SPOOL_BODY_DIR, NULL);
    GDir *d = g_dir_open(dir, 0, NULL);
    g_autofree char *path = g_build_filename(dir, g_dir_read_name(d), NULL);
    GStatBuf st;
    g_dir_close(d);
    g_assert_cmpint(g_stat(path, &st), ==, 0);
    g_assert_cmpint(st.st_size, >, (gint64) want->len - 128 * 1024);
  }
  r = fx_send(&fx, ".\r\n");
  g_assert_cmpstr(r, ==, "");
  g_assert_cmpuint(fx.submitted->len, ==, 1);
  {
    MaSpoolEntry *e = g_ptr_array_index(fx.submitted, 0);
    g_autoptr(GBytes) got = entry_octets(e);
    g_autofree char *name = g_strconcat(e->id, ".eml", NULL);
    g_assert_cmpstr(spool_body_name(e->body), ==, name);
    g_assert_cmpint(spool_body_size(e->body), ==, (gint64) want->len);
    g_assert_cmpmem(g_bytes_get_data(got, NULL), g_bytes_get_size(got), want->str, want->len);
  }
  g_string_free(want, TRUE);
  fx_clear(&fx); /* the entry was never committed: freeing it unlinks the file */
  g_assert_cmpuint(spool_files(), ==, 0);
}

/* Oversize, bad line ends, a policy refusal, RSET, and a session freed mid-DATA: no file stays. */
static void test_refused_body_leaves_no_file(void)
{
  Fx fx;
  g_autofree char *r = NULL, *big = g_malloc(6000);
  fx_init(&fx);
  fx_greet_ehlo(&fx);
  memset(big, 'a', 6000);
  for (int i = 98; i < 6000; i += 100) big[i] = '\r', big[i + 1] = '\n';
  g_free(fx_send(&fx, "MAIL FROM:<employee@acme.example>\r\nRCPT TO:<acme-k3x9@inbound.test>\r\nDATA\r\n"));
  g_free(fx_send_n(&fx, big, 6000, 2));
  g_assert_cmpuint(spool_files(), ==, 1);
  r = fx_send(&fx, "\r\n.\r\n");
  g_assert_cmpstr(r, ==, "552 5.3.4 Message size exceeds fixed limit\r\n");
  g_assert_cmpuint(spool_files(), ==, 0);
  g_assert_cmpuint(fx.submitted->len, ==, 0);
  g_clear_pointer(&r, g_free);
  fx.policy_fail = TRUE;
  g_free(fx_send(&fx, "MAIL FROM:<employee@acme.example>\r\nRCPT TO:<acme-k3x9@inbound.test>\r\nDATA\r\n"));
  r = fx_send(&fx, "Resent-From: a@acme.example\r\nSubject: x\r\n\r\nbody\r\n..\r\n.\r\n");
  g_assert_true(g_str_has_prefix(r, "550 5.7.1"));
  /* the policy judged the header section read back from the file, and nothing more */
  g_assert_nonnull(fx.policy_msg);
  g_assert_cmpstr(fx.policy_msg->str, ==, "Resent-From: a@acme.example\r\nSubject: x\r\n\r\n");
  g_assert_cmpuint(spool_files(), ==, 0);
  fx.policy_fail = FALSE;
  g_clear_pointer(&r, g_free);
  r = fx_send(&fx, "MAIL FROM:<employee@acme.example>\r\nRCPT TO:<acme-k3x9@inbound.test>\r\nBDAT 5\r\nabcde");
  g_assert_cmpuint(spool_files(), ==, 1);
  g_clear_pointer(&r, g_free);
  r = fx_send(&fx, "RSET\r\n");
  g_assert_cmpstr(r, ==, "250 2.0.0 Ok\r\n");
  g_assert_cmpuint(spool_files(), ==, 0);
  g_free(fx_send(&fx, "MAIL FROM:<employee@acme.example>\r\nRCPT TO:<acme-k3x9@inbound.test>\r\nDATA\r\n"));
  g_free(fx_send(&fx, "Subject: cut\r\n\r\nhalf a mess"));
  g_assert_cmpuint(spool_files(), ==, 1);
  fx_clear(&fx); /* the client went away mid-DATA */
  g_assert_cmpuint(spool_files(), ==, 0);
}

static void test_body_file_failure_451(void)
{
  Fx fx;
  g_autofree char *r = NULL;
  fx_init(&fx);
  fx_greet_ehlo(&fx);
  fx.body_error = TRUE;
  r = fx_send(&fx, "MAIL FROM:<employee@acme.example>\r\nRCPT TO:<acme-k3x9@inbound.test>\r\nDATA\r\n");
  g_assert_cmpstr(r, ==, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n451 4.3.0 Temporary failure storing the message, try again later\r\n");
  g_clear_pointer(&r, g_free);
  /* BDAT: the chunk is read (never taken for commands), then refused */
  r = fx_send(&fx, "BDAT 6 LAST\r\nQUIT\r\n");
  g_assert_cmpstr(r, ==, "451 4.3.0 Temporary failure storing the message, try again later\r\n");
  g_clear_pointer(&r, g_free);
  fx.body_error = FALSE;
  r = fx_send(&fx, "DATA\r\n");
  g_assert_cmpstr(r, ==, "354 End data with <CR><LF>.<CR><LF>\r\n");
  g_clear_pointer(&r, g_free);
  r = fx_send(&fx, "Subject: x\r\n\r\nbody\r\n.\r\n");
  g_assert_cmpuint(fx.submitted->len, ==, 1);
  fx_clear(&fx);
}

/* A full disk while the message streams in: answered once at its end with 452 4.3.1, the partial
 * file unlinked, and the next message (space back) accepted. */
static void test_disk_full_452(void)
{
  Fx fx;
  g_autofree char *r = NULL;
  fx_init(&fx);
  fx_greet_ehlo(&fx);
  r = fx_send(&fx, "MAIL FROM:<employee@acme.example>\r\nRCPT TO:<acme-k3x9@inbound.test>\r\nDATA\r\n");
  g_assert_true(g_str_has_suffix(r, "354 End data with <CR><LF>.<CR><LF>\r\n"));
  g_clear_pointer(&r, g_free);
  g_assert_cmpuint(spool_files(), ==, 1);
  disk_full_writes = TRUE;
  r = fx_send(&fx, "Subject: full\r\n\r\nbody\r\n");
  g_assert_cmpstr(r, ==, "");
  g_clear_pointer(&r, g_free);
  r = fx_send(&fx, ".\r\n");
  disk_full_writes = FALSE;
  g_assert_cmpstr(r, ==, "452 4.3.1 Insufficient system storage, try again later\r\n");
  g_assert_cmpuint(fx.submitted->len, ==, 0);
  g_assert_cmpuint(spool_files(), ==, 0);
  g_clear_pointer(&r, g_free);
  g_free(fx_send(&fx, "MAIL FROM:<employee@acme.example>\r\nRCPT TO:<acme-k3x9@inbound.test>\r\nDATA\r\n"));
  g_free(fx_send(&fx, "Subject: again\r\n\r\nbody\r\n.\r\n"));
  g_assert_cmpuint(fx.submitted->len, ==, 1);
  fx_clear(&fx);
}

/* The rate is judged over the last rate_window_ms, not since DATA began: a client that sent
 * 1 MB at once and then drips one octet a second is cut once the window holds only the drip
 * (averaged from the start, 1 MB would have bought it over two hours at 100 octets/s). */
static void test_rate_sliding_window(void)
{
  Fx fx;
  g_autofree char *r = NULL, *chunk = g_malloc(1000);
  gint64 max_before = fx_max_size, t;
  int drips = 0;
  fx_max_size = 4 * 1024 * 1024;
  fx_init(&fx);
  fx_max_size = max_before;
  g_assert_cmpuint(fx.lim.rate_window_ms, ==, 10000); /* the default */
  fx_greet_ehlo(&fx);
  g_free(fx_send(&fx, "MAIL FROM:<employee@acme.example>\r\nRCPT TO:<acme-k3x9@inbound.test>\r\nDATA\r\n"));
  memset(chunk, 'x', 998);
  chunk[998] = '\r', chunk[999] = '\n';
  for (int i = 0; i < 1000; i++) evbuffer_add(fx.in, chunk, 1000);
  g_free(fx_send_n(&fx, "", 0, 1));
  for (t = 1001; t < 600000; t += 1000) {
    evbuffer_add(fx.in, "y", 1);
    drips++;
    smtp_session_process(fx.s, t);
    if (smtp_session_timer(fx.s, t) == SMTP_CLOSE) break;
  }
  r = fx_output(&fx);
  g_assert_cmpstr(r, ==, "421 4.4.2 Data rate too low, closing connection\r\n");
  /* cut once the window (10 s) no longer holds the fast start: after 10 or 11 drips */
  g_assert_cmpint(drips, >=, 10);
  g_assert_cmpint(drips, <=, 11);
  fx_clear(&fx);
}

/* data_timeout: octets trickling in under SMTP_DATA_PROGRESS do not extend the deadline. */
static void test_data_timeout_not_reset_by_one_octet(void)
{
  Fx fx;
  g_autofree char *r = NULL;
  gint64 t;
  int drips = 0;
  fx_init(&fx);
  fx.lim.min_data_rate = 0; /* the rate check off: only the timeout judges */
  smtp_session_free(fx.s);
  {
    SmtpSessionHooks hooks = {&fx, fake_lookup, fake_policy, fake_disk, fake_submit, fake_starttls, fake_body_new, fake_auth, fake_bounce_lookup};
    fx.s = smtp_session_new(&fx.lim, &hooks, "192.0.2.7", 0);
    smtp_session_set_buffers(fx.s, fx.in, fx.out);
  }
  fx_greet_ehlo(&fx);
  g_free(fx_send(&fx, "MAIL FROM:<employee@acme.example>\r\nRCPT TO:<acme-k3x9@inbound.test>\r\nDATA\r\n"));
  for (t = 1000; t < 600000; t += 1000) { /* one octet a second: 20 s data_timeout */
    evbuffer_add(fx.in, "z", 1);
    drips++;
    smtp_session_process(fx.s, t);
    if (smtp_session_timer(fx.s, t) == SMTP_CLOSE) break;
  }
  r = fx_output(&fx);
  g_assert_cmpstr(r, ==, "421 4.4.2 Timeout exceeded, closing connection\r\n");
  g_assert_cmpint(drips, ==, 21); /* DATA at t=1: the deadline t=20001 passes at the 21st drip */
  fx_clear(&fx);
  g_assert_cmpuint(spool_files(), ==, 0);
}

/* Golden transcripts: tests/fixtures/smtp/<name>.txt; "C: " lines are sent (\r\n added, \\n and \\r
 * escapes), "S: " lines are the exact replies expected since the previous "C:" group, "--" marks a
 * group boundary (send everything so far in one segment). */
static void run_transcript(gconstpointer data)
{
  const char *path = data;
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  GString *send = g_string_new(NULL), *want = g_string_new(NULL);
  Fx fx;

  g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
  lines = g_strsplit(text, "\n", -1);
  fx_budget = 10; /* the default of [smtp] error_budget */
  fx_init(&fx);
  fx_budget = 5;
  smtp_session_greet(fx.s, FALSE, 0);
  for (guint i = 0; lines[i]; i++) {
    const char *l = lines[i];
    gboolean boundary = g_str_has_prefix(l, "--") || lines[i + 1] == NULL;
    if (g_str_has_prefix(l, "C: ")) {
      g_autofree char *c = g_strcompress(l + 3);
      g_string_append(send, c);
      g_string_append(send, "\r\n");
    } else if (g_str_has_prefix(l, "S: ")) {
      g_string_append(want, l + 3);
      g_string_append(want, "\r\n");
    }
    if (boundary) {
      g_autofree char *got = NULL;
      if (send->len) {
        evbuffer_add(fx.in, send->str, send->len);
        fx.last = smtp_session_process(fx.s, 1);
      }
      for (guint k = 0; k < fx.submitted->len; k++) smtp_session_spooled(fx.s, SMTP_SPOOL_STORED, "SPOOLID", 1);
      g_ptr_array_set_size(fx.submitted, 0);
      smtp_session_process(fx.s, 1);
      got = fx_output(&fx);
      if (strcmp(got, want->str) != 0) g_error("%s line %u:\nwant:\n%s\ngot:\n%s", path, i + 1, want->str, got);
      g_string_truncate(send, 0);
      g_string_truncate(want, 0);
    }
  }
  fx_clear(&fx);
  g_string_free(send, TRUE);
  g_string_free(want, TRUE);
}


/* The submission listener's sessions: AUTH only after STARTTLS, PLAIN (initial response and
 * continuation) and LOGIN, MAIL refused before AUTH, any recipient once authenticated, the
 * message handed over with the enterprise of the credentials, the verdict as given. */
static void test_submission(void)
{
  Fx fx;
  fx_submission = TRUE;
  fx_init(&fx);
  fx_submission = FALSE;
  g_free(fx_output(&fx));
  g_assert_cmpint(smtp_session_greet(fx.s, FALSE, 0), ==, SMTP_CONTINUE);
  g_free(fx_output(&fx));
  g_autofree char *e1 = fx_send(&fx, "EHLO crm.example\r\n");
  g_assert_null(strstr(e1, "AUTH")); /* not offered before TLS */
  g_autofree char *r1 = fx_send(&fx, "AUTH PLAIN AGNybQBzM2NyZXQ=\r\n");
  g_assert_cmpstr(r1, ==, "538 5.7.11 Encryption required for requested authentication mechanism\r\n");
  g_autofree char *r2 = fx_send(&fx, "MAIL FROM:<sales@acme.example>\r\n");
  g_assert_cmpstr(r2, ==, "530 5.7.0 Authentication required\r\n");
  g_autofree char *r3 = fx_send(&fx, "STARTTLS\r\n");
  g_assert_cmpstr(r3, ==, "220 2.0.0 Ready to start TLS\r\n");
  smtp_session_tls_done(fx.s, TRUE, 2);
  g_autofree char *e2 = fx_send(&fx, "EHLO crm.example\r\n");
  g_assert_nonnull(strstr(e2, "250-AUTH PLAIN LOGIN\r\n"));
  /* wrong password, then PLAIN with a continuation, then a second AUTH is refused */
  g_autofree char *r4 = fx_send(&fx, "AUTH PLAIN AGNybQB3cm9uZw==\r\n");
  g_assert_cmpstr(r4, ==, "535 5.7.8 Authentication credentials invalid\r\n");
  g_autofree char *r5 = fx_send(&fx, "AUTH PLAIN\r\n");
  g_assert_cmpstr(r5, ==, "334 \r\n");
  g_autofree char *r6 = fx_send(&fx, "AGNybQBzM2NyZXQ=\r\n");
  g_assert_cmpstr(r6, ==, "235 2.7.0 Authentication successful\r\n");
  g_autofree char *r7 = fx_send(&fx, "AUTH LOGIN\r\n");
  g_assert_cmpstr(r7, ==, "503 5.5.1 Error: already authenticated\r\n");
  /* any recipient; the message goes to the sink with the credentials' enterprise */
  g_autofree char *r8 = fx_send(&fx, "MAIL FROM:<sales@acme.example>\r\nRCPT TO:<hank@globex.example>\r\n"
                                     "RCPT TO:<bcc@other.example>\r\nDATA\r\n");
  g_assert_cmpstr(r8, ==, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n");
  g_autofree char *r9 = fx_send(&fx, "From: sales@acme.example\r\nSubject: hi\r\n\r\nhello\r\n.\r\n");
  g_assert_cmpstr(r9, ==, ""); /* nothing before the verdict */
  g_assert_cmpuint(fx.submitted->len, ==, 1);
  MaSpoolEntry *e = g_ptr_array_index(fx.submitted, 0);
  g_assert_cmpstr(e->enterprise_id, ==, "ent-acme");
  g_assert_cmpstr(e->route, ==, "submission");
  g_assert_cmpuint(e->rcpts->len, ==, 2);
  g_assert_cmpstr(g_ptr_array_index(e->rcpts, 1), ==, "bcc@other.example");
  smtp_session_finished(fx.s, "550 5.7.1 from: not yours", 3);
  g_autofree char *r10 = fx_output(&fx);
  g_assert_cmpstr(r10, ==, "550 5.7.1 from: not yours\r\n");
  fx_clear(&fx);

  /* LOGIN, with loopback plaintext allowed by configuration */
  fx_submission = TRUE;
  fx_init(&fx);
  fx_submission = FALSE;
  smtp_session_free(fx.s);
  fx.lim.auth_plaintext = TRUE;
  SmtpSessionHooks hooks = {&fx, fake_lookup, fake_policy, fake_disk, fake_submit, fake_starttls, fake_body_new, fake_auth, fake_bounce_lookup};
  fx.s = smtp_session_new(&fx.lim, &hooks, "127.0.0.1", 0);
  smtp_session_set_buffers(fx.s, fx.in, fx.out);
  smtp_session_greet(fx.s, FALSE, 0);
  g_free(fx_output(&fx));
  g_autofree char *e3 = fx_send(&fx, "EHLO crm.example\r\n");
  g_assert_nonnull(strstr(e3, "250-AUTH PLAIN LOGIN\r\n"));
  g_autofree char *l1 = fx_send(&fx, "AUTH LOGIN\r\n");
  g_assert_cmpstr(l1, ==, "334 VXNlcm5hbWU6\r\n");
  g_autofree char *l2 = fx_send(&fx, "Y3Jt\r\n");
  g_assert_cmpstr(l2, ==, "334 UGFzc3dvcmQ6\r\n");
  g_autofree char *l3 = fx_send(&fx, "czNjcmV0\r\n");
  g_assert_cmpstr(l3, ==, "235 2.7.0 Authentication successful\r\n");
  fx_clear(&fx);

  /* implicit TLS ([submission] tls_listen): TLS from the start, so AUTH at once and no STARTTLS */
  fx_submission = TRUE;
  fx_init(&fx);
  fx_submission = FALSE;
  smtp_session_free(fx.s);
  fx.lim.implicit_tls = TRUE;
  fx.s = smtp_session_new(&fx.lim, &hooks, "192.0.2.7", 0);
  smtp_session_set_buffers(fx.s, fx.in, fx.out);
  g_assert_true(smtp_session_is_tls(fx.s));
  smtp_session_greet(fx.s, FALSE, 0);
  g_free(fx_output(&fx));
  g_autofree char *e4 = fx_send(&fx, "EHLO crm.example\r\n");
  g_assert_nonnull(strstr(e4, "250-AUTH PLAIN LOGIN\r\n"));
  g_assert_null(strstr(e4, "STARTTLS"));
  g_autofree char *t1 = fx_send(&fx, "STARTTLS\r\n");
  g_assert_true(g_str_has_prefix(t1, "5")); /* refused inside TLS */
  g_autofree char *t2 = fx_send(&fx, "AUTH PLAIN AGNybQBzM2NyZXQ=\r\n");
  g_assert_cmpstr(t2, ==, "235 2.7.0 Authentication successful\r\n");
  fx_clear(&fx);
}

/* RCPT on the bounce domain: our tokens accepted (any case of the domain), forged ones refused with
 * 550 5.1.1, never mixed with virtual addresses in one transaction; the message skips the forwarder
 * policy (any MTA may return mail) and is spooled with route "bounce" and no enterprise. */
static void test_bounce_addresses(void)
{
  Fx fx;
  fx_init(&fx);
  fx_greet_ehlo(&fx);
  g_autofree char *r1 = fx_send(&fx, "MAIL FROM:<>\r\n");
  g_assert_cmpstr(r1, ==, "250 2.1.0 Ok\r\n");
  g_autofree char *r2 = fx_send(&fx, "RCPT TO:<bforged0000@bounces.test>\r\n");
  g_assert_cmpstr(r2, ==, "550 5.1.1 Recipient address rejected: no such bounce address here\r\n");
  g_autofree char *r3 = fx_send(&fx, "RCPT TO:<bgood1@BOUNCES.test>\r\n");
  g_assert_cmpstr(r3, ==, "250 2.1.5 Ok\r\n");
  g_autofree char *r4 = fx_send(&fx, "RCPT TO:<acme-x7@inbound.test>\r\n");
  g_assert_cmpstr(r4, ==, "452 4.5.3 Bounce addresses and other recipients go in separate transactions\r\n");
  g_autofree char *r5 = fx_send(&fx, "DATA\r\n");
  g_assert_cmpstr(r5, ==, "354 End data with <CR><LF>.<CR><LF>\r\n");
  g_autofree char *r6 = fx_send(&fx, "From: MAILER-DAEMON@remote.example\r\nSubject: failure\r\n\r\nbody\r\n.\r\n");
  g_assert_cmpstr(r6, ==, "");
  g_assert_cmpuint(fx.submitted->len, ==, 1);
  MaSpoolEntry *e = fx.submitted->pdata[0];
  g_assert_cmpstr(e->route, ==, "bounce");
  g_assert_null(e->enterprise_id);
  g_assert_cmpstr(e->mail_from, ==, "");
  g_assert_cmpuint(e->rcpts->len, ==, 1);
  g_assert_cmpstr(e->rcpts->pdata[0], ==, "bgood1@bounces.test");
  g_assert_null(fx.policy_msg); /* the policy never saw it */
  smtp_session_spooled(fx.s, SMTP_SPOOL_STORED, "sp1", 2);
  g_autofree char *r7 = fx_output(&fx);
  g_assert_cmpstr(r7, ==, "250 2.0.0 Ok: queued as sp1\r\n");
  /* the other order: a virtual address first, then a bounce address */
  g_autofree char *r8 = fx_send(&fx, "MAIL FROM:<employee@acme.example>\r\nRCPT TO:<acme-x7@inbound.test>\r\n"
                                     "RCPT TO:<bgood2@bounces.test>\r\nRSET\r\n");
  g_assert_cmpstr(r8, ==, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
                          "452 4.5.3 Bounce addresses and other recipients go in separate transactions\r\n"
                          "250 2.0.0 Ok\r\n");
  fx_clear(&fx);
}

int main(int argc, char **argv)
{
  const char *fixtures = g_getenv("FIXTURES_DIR");
  g_test_init(&argc, &argv, NULL);
  spool_dir = testutil_tempdir("smtp-session-XXXXXX");
  {
    g_autofree char *bodies = g_build_filename(spool_dir, SPOOL_BODY_DIR, NULL);
    g_assert_cmpint(g_mkdir(bodies, 0700), ==, 0);
  }
  g_test_add_func("/smtp/session/plain_delivery_waits_for_spool", test_plain_delivery_waits_for_spool);
  g_test_add_func("/smtp/session/bounce_addresses", test_bounce_addresses);
  g_test_add_func("/smtp/session/buffered_bodies", test_buffered_bodies);
  g_test_add_func("/smtp/session/spool_failure_451", test_spool_failure_is_451);
  g_test_add_func("/smtp/session/pipelining_rules", test_pipelining_rules);
  g_test_add_func("/smtp/session/starttls_injection", test_starttls_injection);
  g_test_add_func("/smtp/session/smuggling_single_reply", test_smuggling_single_reply);
  g_test_add_func("/smtp/session/recipients", test_recipients);
  g_test_add_func("/smtp/session/duplicate_recipients", test_duplicate_recipients);
  g_test_add_func("/smtp/session/junk_commands", test_junk_commands);
  g_test_add_func("/smtp/session/policy_refusal", test_policy_refusal);
  g_test_add_func("/smtp/session/unparseable_refused", test_unparseable_refused);
  g_test_add_func("/smtp/session/policy_refusal_at_rcpt", test_policy_refusal_at_rcpt);
  g_test_add_func("/smtp/session/sizes_and_lines", test_sizes_and_lines);
  g_test_add_func("/smtp/session/error_budget", test_error_budget);
  g_test_add_func("/smtp/session/bdat", test_bdat);
  g_test_add_func("/smtp/session/bdat_states", test_bdat_states);
  g_test_add_func("/smtp/session/timeouts", test_timeouts);
  g_test_add_func("/smtp/session/body_streamed_to_file", test_body_streamed_to_file);
  g_test_add_func("/smtp/session/refused_body_leaves_no_file", test_refused_body_leaves_no_file);
  g_test_add_func("/smtp/session/body_file_failure_451", test_body_file_failure_451);
  g_test_add_func("/smtp/session/disk_full_452", test_disk_full_452);
  g_test_add_func("/smtp/session/rate_sliding_window", test_rate_sliding_window);
  g_test_add_func("/smtp/session/data_timeout_not_reset_by_one_octet", test_data_timeout_not_reset_by_one_octet);
  g_test_add_func("/smtp/session/submission", test_submission);
#ifdef FIXTURES_DIR
  if (!fixtures) fixtures = FIXTURES_DIR;
#endif
  if (fixtures) {
    g_autofree char *dir = g_build_filename(fixtures, "smtp", NULL);
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d))) {
      if (!g_str_has_suffix(name, ".txt")) continue;
      char *test = g_strdup_printf("/smtp/transcript/%s", name);
      g_test_add_data_func_full(test, g_build_filename(dir, name, NULL), run_transcript, g_free);
      g_free(test);
    }
    if (d) g_dir_close(d);
  }
  int rc = g_test_run();
  testutil_rm_rf(spool_dir);
  g_free(spool_dir);
  return rc;
}
