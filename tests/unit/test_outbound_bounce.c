/* test_outbound_bounce.c - returned mail applied to the queue (agent/outbound/outbound_bounce.c)
 * through real storage: a hard DSN by VERP row (bounced, one message.bounced with the
 * classification, suppressed; a replay changes nothing), soft DSNs found by Message-ID (state kept,
 * diagnostic recorded, message.deferred with the classification once per distinct report, suppressed at the fifth in a row within 7 days, and a streak outside the
 * window starts over), an ARF complaint, mail that is not ours (0: archive it) and mail to a
 * return path that is no report (1: dropped), and the cheap candidate check. */
#include "agent/lib/clock.h"
#include "agent/outbound/outbound.h"
#include "testutil.h"

#include <string.h>

#define T0 1800000000LL

typedef struct {
  char *dir;
  MaStorage *st;
  gint64 row_a, row_b;
} Fixture;

static char *report(const char *rcpt, const char *action, const char *status, const char *diag, const char *mid)
{
  return g_strdup_printf(
    "From: MAILER-DAEMON@mx.x.example\r\nTo: sales@acme.example\r\nSubject: Delivery Status Notification\r\n"
    "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n"
    "--B\r\nContent-Type: text/plain\r\n\r\nDelivery to %s did not succeed.\r\n"
    "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.x.example\r\n\r\n"
    "Final-Recipient: rfc822; %s\r\nAction: %s\r\nStatus: %s\r\nDiagnostic-Code: smtp; %s\r\n\r\n"
    "--B\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: sales@acme.example\r\nTo: %s\r\nSubject: Offer\r\n"
    "Message-ID: <%s>\r\n\r\n--B--\r\n",
    rcpt, rcpt, action, status, diag, rcpt, mid);
}

static void fx_setup(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  ma_clock_set_for_test(T0 * 1000);
  fx->dir = testutil_tempdir("ma-bounce-XXXXXX");
  g_assert_cmpint(storage_open(fx->dir, TRUE, &fx->st, &error), ==, 0);
  MaEnterprise e = {.id = "e1", .slug = "acme", .name = "Acme", .inbound_local = "acme"};
  e.domains = g_ptr_array_new();
  g_assert_cmpint(storage_enterprise_create(fx->st, &e, &error), ==, 0);
  g_ptr_array_unref(e.domains);
  MaOutbound *m = ma_outbound_new();
  m->id = g_strdup("out1");
  m->enterprise_id = g_strdup("e1");
  m->mail_from = g_strdup("sales@acme.example");
  m->message_id = g_strdup("m1@acme.example");
  m->raw_sha256 = g_strdup("00");
  m->return_path = g_strdup("bounce");
  m->created_at = T0;
  static const char *const rcpts[] = {"a@x.example", "b@x.example"};
  for (guint i = 0; i < 2; i++) {
    MaOutboundRecipient *r = g_new0(MaOutboundRecipient, 1);
    r->address = g_strdup(rcpts[i]);
    r->state = MA_OUT_QUEUED;
    g_ptr_array_add(m->recipients, r);
  }
  g_assert_cmpint(storage_outbound_enqueue(fx->st, m, NULL, NULL, NULL, T0, NULL, NULL, &error), ==, 1);
  ma_outbound_free(m);
  MaOutbound *got = NULL;
  g_assert_cmpint(storage_outbound_get(fx->st, "e1", "out1", &got, &error), ==, 1);
  fx->row_a = ((MaOutboundRecipient *) got->recipients->pdata[0])->id;
  fx->row_b = ((MaOutboundRecipient *) got->recipients->pdata[1])->id;
  ma_outbound_free(got);
  g_assert_no_error(error);
}

static void fx_teardown(Fixture *fx, gconstpointer data)
{
  storage_close(&fx->st);
  testutil_rm_rf(fx->dir);
  g_free(fx->dir);
  ma_clock_set_for_test(0);
}

static MaOutboundRecipient *row(Fixture *fx, gint64 id)
{
  MaOutboundRecipient *r = NULL;
  GError *error = NULL;
  g_assert_cmpint(storage_outbound_recipient_get(fx->st, "e1", id, &r, &error), ==, 1);
  return r;
}

static guint events(Fixture *fx, const char *name, char **last_payload)
{
  GError *error = NULL;
  g_autoptr(GPtrArray) due = g_ptr_array_new_with_free_func((GDestroyNotify) ma_outbox_event_free);
  g_assert_cmpint(storage_outbox_claim(fx->st, G_MAXINT64 / 2, 0, 1000, due, &error), ==, 0);
  guint n = 0;
  for (guint i = 0; i < due->len; i++) {
    MaOutboxEvent *e = due->pdata[i];
    if (strcmp(e->event, name) != 0) continue;
    n++;
    if (last_payload) {
      g_free(*last_payload);
      *last_payload = g_strdup(e->payload);
    }
  }
  return n;
}

static char *suppression_reason(Fixture *fx, const char *address)
{
  MaSuppression *s = NULL;
  GError *error = NULL;
  int rc = storage_suppression_get(fx->st, "e1", address, &s, &error);
  g_assert_cmpint(rc, >=, 0);
  char *reason = s ? g_strdup(s->reason) : NULL;
  ma_suppression_free(s);
  return reason;
}

static void test_hard_by_verp(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  g_autofree char *dsn = report("b@x.example", "failed", "5.1.1", "550 5.1.1 <b@x.example>: user unknown", "m1@acme.example");
  OutboundBounceOutcome out;
  for (int pass = 0; pass < 2; pass++) { /* the second is a replay: nothing changes */
    g_assert_cmpint(outbound_bounce_apply(fx->st, NULL, fx->row_b, dsn, strlen(dsn), &out, &error), ==, 1);
    g_assert_no_error(error);
    g_assert_cmpstr(out.enterprise_id, ==, "e1");
    g_assert_cmpstr(out.outbound_id, ==, "out1");
    g_assert_cmpuint(out.hard, ==, 1);
    outbound_bounce_outcome_clear(&out);
  }
  MaOutboundRecipient *b = row(fx, fx->row_b), *a = row(fx, fx->row_a);
  g_assert_cmpint(b->state, ==, MA_OUT_BOUNCED);
  g_assert_true(g_str_has_prefix(b->last_reply, "hard bounce 5.1.1 (userunknown): "));
  g_assert_cmpint(a->state, ==, MA_OUT_QUEUED); /* exactly that recipient */
  ma_outbound_recipient_free(a);
  ma_outbound_recipient_free(b);
  g_autofree char *payload = NULL;
  g_assert_cmpuint(events(fx, "message.bounced", &payload), ==, 1);
  g_assert_nonnull(strstr(payload, "\"bounce\":{\"kind\":\"dsn\""));
  g_assert_nonnull(strstr(payload, "\"reason\":\"userunknown\""));
  g_autofree char *reason = suppression_reason(fx, "b@x.example");
  g_assert_cmpstr(reason, ==, "hard_bounce");
  g_autofree char *none = suppression_reason(fx, "a@x.example");
  g_assert_null(none);
}

static void test_soft_by_message_id(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  g_autofree char *dsn = report("a@x.example", "delayed", "4.2.2", "452 4.2.2 mailbox full", "m1@acme.example");
  OutboundBounceOutcome out;
  /* four soft bounces, then a gap of 8 days: the streak starts over */
  for (int i = 0; i < 4; i++) {
    ma_clock_set_for_test((T0 + i * 3600) * 1000);
    g_assert_cmpint(outbound_bounce_apply(fx->st, "e1", 0, dsn, strlen(dsn), &out, &error), ==, 1);
    g_assert_cmpuint(out.soft, ==, 1);
    outbound_bounce_outcome_clear(&out);
  }
  g_autofree char *early = suppression_reason(fx, "a@x.example");
  g_assert_null(early);
  gint64 later = T0 + 8 * 86400;
  for (int i = 0; i < 5; i++) {
    ma_clock_set_for_test((later + i * 3600) * 1000);
    g_assert_cmpint(outbound_bounce_apply(fx->st, "e1", 0, dsn, strlen(dsn), &out, &error), ==, 1);
    outbound_bounce_outcome_clear(&out);
    g_autofree char *reason = suppression_reason(fx, "a@x.example");
    if (i < 4) g_assert_null(reason);
    else g_assert_cmpstr(reason, ==, "soft_bounces");
  }
  MaOutboundRecipient *a = row(fx, fx->row_a);
  g_assert_cmpint(a->state, ==, MA_OUT_QUEUED); /* soft: the state stays, the diagnostic is kept */
  g_assert_true(g_str_has_prefix(a->last_reply, "soft bounce 4.2.2 (mailboxfull): "));
  ma_outbound_recipient_free(a);
  g_assert_cmpuint(events(fx, "message.bounced", NULL), ==, 0);
  /* message.deferred with the classification, keyed by the report: the same bytes nine times are
   * one event, another DSN about the same attempt is a second one */
  g_autofree char *deferred = NULL;
  g_assert_cmpuint(events(fx, "message.deferred", &deferred), ==, 1);
  g_assert_nonnull(strstr(deferred, "\"recipient\":\"a@x.example\""));
  g_assert_nonnull(strstr(deferred, "\"bounce\":{\"kind\":\"dsn\""));
  g_assert_nonnull(strstr(deferred, "\"reason\":\"mailboxfull\""));
  g_assert_nonnull(strstr(deferred, "\"hard\":false"));
  g_autofree char *dsn2 = report("a@x.example", "delayed", "4.4.1", "421 4.4.1 connection timed out", "m1@acme.example");
  g_assert_cmpint(outbound_bounce_apply(fx->st, "e1", 0, dsn2, strlen(dsn2), &out, &error), ==, 1);
  outbound_bounce_outcome_clear(&out);
  g_clear_pointer(&deferred, g_free);
  g_assert_cmpuint(events(fx, "message.deferred", &deferred), ==, 2);
  g_assert_nonnull(strstr(deferred, "\"status\":\"4.4.1\""));

  /* not ours: another Message-ID, another enterprise, or no report at all */
  g_autofree char *other = report("a@x.example", "failed", "5.1.1", "550 unknown", "elsewhere@x.example");
  g_assert_cmpint(outbound_bounce_apply(fx->st, "e1", 0, other, strlen(other), &out, &error), ==, 0);
  g_assert_cmpint(outbound_bounce_apply(fx->st, "e2", 0, dsn, strlen(dsn), &out, &error), ==, 0);
  const char *plain = "From: bob@x.example\r\nTo: sales@acme.example\r\nSubject: hi\r\n\r\nHello\r\n";
  g_assert_cmpint(outbound_bounce_apply(fx->st, "e1", 0, plain, strlen(plain), &out, &error), ==, 0);
  /* ... but mail to a return path is consumed even when it is no report */
  g_assert_cmpint(outbound_bounce_apply(fx->st, NULL, fx->row_b, plain, strlen(plain), &out, &error), ==, 1);
  outbound_bounce_outcome_clear(&out);
  MaOutboundRecipient *b = row(fx, fx->row_b);
  g_assert_cmpint(b->state, ==, MA_OUT_QUEUED);
  ma_outbound_recipient_free(b);
  g_assert_no_error(error);
}

static void test_complaint(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  gchar *arf = NULL;
  gsize len = 0;
  g_autofree char *path = g_build_filename(FIXTURES_DIR, "bounce", "arf_complaint.eml", NULL);
  g_assert_true(g_file_get_contents(path, &arf, &len, NULL));
  OutboundBounceOutcome out;
  /* the fixture reports ok@client.example; by VERP row the row decides whom it is about */
  g_assert_cmpint(outbound_bounce_apply(fx->st, NULL, fx->row_a, arf, len, &out, &error), ==, 1);
  g_assert_cmpuint(out.complaints, ==, 1);
  outbound_bounce_outcome_clear(&out);
  g_free(arf);
  g_autofree char *payload = NULL;
  g_assert_cmpuint(events(fx, "message.complained", &payload), ==, 1);
  g_assert_nonnull(strstr(payload, "\"feedback\":{\"kind\":\"feedback\""));
  g_autofree char *reason = suppression_reason(fx, "a@x.example");
  g_assert_cmpstr(reason, ==, "complaint");
  MaOutboundRecipient *a = row(fx, fx->row_a);
  g_assert_cmpint(a->state, ==, MA_OUT_QUEUED); /* a complaint is no delivery failure */
  ma_outbound_recipient_free(a);
}

static void test_candidate(void)
{
  const char *plain = "From: bob@x.example\r\nSubject: Quote\r\n\r\nThe word undelivered in the body.\r\n";
  g_assert_false(outbound_bounce_candidate("bob@x.example", plain, strlen(plain)));
  g_assert_true(outbound_bounce_candidate("", plain, strlen(plain)));
  const char *fwd = "From: bob@acme.example\r\nSubject: Fwd: Undelivered Mail Returned to Sender\r\n\r\nx\r\n";
  g_assert_true(outbound_bounce_candidate("bob@acme.example", fwd, strlen(fwd)));
  const char *report_ct = "From: x@y\nContent-Type: multipart/report; report-type=delivery-status\n\n";
  g_assert_true(outbound_bounce_candidate("x@y", report_ct, strlen(report_ct)));
  g_assert_false(outbound_bounce_candidate("x@y", "", 0));
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add("/outbound_bounce/hard_by_verp", Fixture, NULL, fx_setup, test_hard_by_verp, fx_teardown);
  g_test_add("/outbound_bounce/soft_by_message_id", Fixture, NULL, fx_setup, test_soft_by_message_id, fx_teardown);
  g_test_add("/outbound_bounce/complaint", Fixture, NULL, fx_setup, test_complaint, fx_teardown);
  g_test_add_func("/outbound_bounce/candidate", test_candidate);
  return g_test_run();
}
