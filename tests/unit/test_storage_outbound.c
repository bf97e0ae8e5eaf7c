/* test_storage_outbound.c - the outbound queue through the storage interface: enqueue with and
 * without an Idempotency-Key (first answer kept, expiry after 24 h, per enterprise), claims as
 * leases (a dead attempt is due again after its lease, a live one is not), outcomes applied only
 * while sending, operators' hold/release/retry/delete, stats, tenant scoping, submission
 * credentials, and the bounce issue's part: bounces after sent, soft bounces that only annotate,
 * the suppression list and soft-bounce streaks, look-ups by row id and Message-ID. */
#include "storage/storage.h"

#include "testutil.h"
#include "testutil_storage.h"

#include <string.h>

typedef struct {
  char *dir;
  MaStorage *st;
} Fixture;

static void add_enterprise(MaStorage *st, const char *id)
{
  MaEnterprise e = {.id = (char *) id, .slug = (char *) id, .name = (char *) id, .inbound_local = (char *) id};
  e.domains = g_ptr_array_new();
  GError *error = NULL;
  g_assert_cmpint(storage_enterprise_create(st, &e, &error), ==, 0);
  g_assert_no_error(error);
  g_ptr_array_unref(e.domains);
}

static void fx_setup(Fixture *fx, gconstpointer data)
{
  fx->dir = testutil_tempdir("ma-outbound-XXXXXX");
  fx->st = testutil_storage_open(fx->dir, data);
  add_enterprise(fx->st, "e1");
  add_enterprise(fx->st, "e2");
}

static void fx_teardown(Fixture *fx, gconstpointer data)
{
  storage_close(&fx->st);
  testutil_rm_rf(fx->dir);
  g_free(fx->dir);
}

static MaOutbound *message(const char *ent, const char *id, gint64 now, const char *const *rcpts)
{
  MaOutbound *m = ma_outbound_new();
  m->id = g_strdup(id);
  m->enterprise_id = g_strdup(ent);
  m->mail_from = g_strdup("sender@acme.example");
  m->raw_sha256 = g_strdup("00");
  m->size = 10;
  m->created_at = now;
  for (; *rcpts; rcpts++) {
    MaOutboundRecipient *r = g_new0(MaOutboundRecipient, 1);
    r->address = g_strdup(*rcpts);
    r->state = MA_OUT_QUEUED;
    g_ptr_array_add(m->recipients, r);
  }
  return m;
}

static int enqueue(Fixture *fx, MaOutbound *m, const char *key, const char *hash, char **prior_hash,
                   char **prior_response)
{
  GError *error = NULL;
  int rc = storage_outbound_enqueue(fx->st, m, key, hash, key ? "{\"id\":\"first\"}" : NULL, m->created_at,
                                    prior_hash, prior_response, &error);
  g_assert_no_error(error);
  return rc;
}

static void test_enqueue_and_idempotency(Fixture *fx, gconstpointer data)
{
  static const char *const rcpts[] = {"a@x.example", "b@y.example", NULL};
  MaOutbound *m = message("e1", "m1", 1000, rcpts);
  g_assert_cmpint(enqueue(fx, m, "k1", "h1", NULL, NULL), ==, 1);
  ma_outbound_free(m);

  /* the same key: nothing queued, the first request's digest and answer come back */
  char *ph = NULL, *pr = NULL;
  m = message("e1", "m2", 1100, rcpts);
  g_assert_cmpint(enqueue(fx, m, "k1", "h2", &ph, &pr), ==, 0);
  g_assert_cmpstr(ph, ==, "h1");
  g_assert_cmpstr(pr, ==, "{\"id\":\"first\"}");
  g_clear_pointer(&ph, g_free);
  g_clear_pointer(&pr, g_free);
  ma_outbound_free(m);

  /* the key is per enterprise */
  m = message("e2", "m3", 1100, rcpts);
  g_assert_cmpint(enqueue(fx, m, "k1", "h1", NULL, NULL), ==, 1);
  ma_outbound_free(m);

  /* after 24 h the key is forgotten */
  m = message("e1", "m4", 1000 + 24 * 3600, rcpts);
  g_assert_cmpint(enqueue(fx, m, "k1", "h9", NULL, NULL), ==, 1);
  ma_outbound_free(m);

  GError *error = NULL;
  MaOutbound *got = NULL;
  g_assert_cmpint(storage_outbound_get(fx->st, "e1", "m1", &got, &error), ==, 1);
  g_assert_cmpuint(got->recipients->len, ==, 2);
  MaOutboundRecipient *r = g_ptr_array_index(got->recipients, 1);
  g_assert_cmpstr(r->address, ==, "b@y.example");
  g_assert_cmpint(r->state, ==, MA_OUT_QUEUED);
  g_assert_cmpint(r->next_attempt_at, ==, 1000);
  ma_outbound_free(got);
  /* another tenant does not see it; m2 was never queued */
  g_assert_cmpint(storage_outbound_get(fx->st, "e2", "m1", &got, &error), ==, 0);
  g_assert_cmpint(storage_outbound_get(fx->st, NULL, "m2", &got, &error), ==, 0);
  g_assert_cmpint(storage_outbound_get(fx->st, NULL, "m1", &got, &error), ==, 1);
  ma_outbound_free(got);

  /* an unknown enterprise */
  m = message("nope", "m5", 1000, rcpts);
  g_assert_cmpint(storage_outbound_enqueue(fx->st, m, NULL, NULL, NULL, 1000, NULL, NULL, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_NOT_FOUND);
  g_clear_error(&error);
  ma_outbound_free(m);
}

static GPtrArray *claim(Fixture *fx, gint64 now, gint64 lease)
{
  GError *error = NULL;
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify) ma_outbound_recipient_free);
  g_assert_cmpint(storage_outbound_claim(fx->st, now, now + lease, 100, out, &error), ==, 0);
  g_assert_no_error(error);
  return out;
}

static void test_claims_and_outcomes(Fixture *fx, gconstpointer data)
{
  static const char *const rcpts[] = {"a@x.example", "b@x.example", "c@x.example", NULL};
  MaOutbound *m = message("e1", "m1", 1000, rcpts);
  g_assert_cmpint(enqueue(fx, m, NULL, NULL, NULL, NULL), ==, 1);
  ma_outbound_free(m);

  g_autoptr(GPtrArray) none = claim(fx, 999, 60); /* not due yet */
  g_assert_cmpuint(none->len, ==, 0);
  g_autoptr(GPtrArray) first = claim(fx, 1000, 60);
  g_assert_cmpuint(first->len, ==, 3);
  MaOutboundRecipient *a = g_ptr_array_index(first, 0), *b = g_ptr_array_index(first, 1),
                      *c = g_ptr_array_index(first, 2);
  g_assert_cmpint(a->state, ==, MA_OUT_SENDING);
  g_assert_cmpint(a->attempts, ==, 1);
  /* while the lease runs nobody else takes them */
  g_autoptr(GPtrArray) again = claim(fx, 1030, 60);
  g_assert_cmpuint(again->len, ==, 0);

  GError *error = NULL;
  g_assert_cmpint(storage_outbound_result(fx->st, a->id, MA_OUT_SENT, "250 2.0.0 ok", 0, NULL, 1001, &error), ==, 1);
  g_assert_cmpint(storage_outbound_result(fx->st, b->id, MA_OUT_DEFERRED, "450 4.2.0 later", 1300, "450 4.2.0 later",
                                          1001, &error), ==, 1);
  /* an outcome for a recipient no longer sending is not applied */
  g_assert_cmpint(storage_outbound_result(fx->st, a->id, MA_OUT_BOUNCED, "550", 0, NULL, 1002, &error), ==, 0);
  g_assert_no_error(error);
  /* c's attempt died with the process: after its lease it is due again, one more attempt counted */
  g_autoptr(GPtrArray) after_crash = claim(fx, 1061, 60);
  g_assert_cmpuint(after_crash->len, ==, 1);
  MaOutboundRecipient *c2 = g_ptr_array_index(after_crash, 0);
  g_assert_cmpint(c2->id, ==, c->id);
  g_assert_cmpint(c2->attempts, ==, 2);
  g_assert_cmpint(storage_outbound_result(fx->st, c2->id, MA_OUT_BOUNCED, "550 5.1.1 no", 0, NULL, 1062, &error), ==, 1);
  /* b is due at 1300 */
  g_autoptr(GPtrArray) early = claim(fx, 1299, 60);
  g_assert_cmpuint(early->len, ==, 0);
  g_autoptr(GPtrArray) later = claim(fx, 1300, 60);
  g_assert_cmpuint(later->len, ==, 1);
  MaOutboundRecipient *b2 = g_ptr_array_index(later, 0);
  g_assert_cmpstr(b2->deferred_reason, ==, "450 4.2.0 later");
  g_assert_cmpint(b2->attempts, ==, 2);

  gint64 counts[MA_OUT__COUNT], oldest;
  g_assert_cmpint(storage_outbound_stats(fx->st, counts, &oldest, &error), ==, 0);
  g_assert_cmpint(counts[MA_OUT_SENT], ==, 1);
  g_assert_cmpint(counts[MA_OUT_BOUNCED], ==, 1);
  g_assert_cmpint(counts[MA_OUT_SENDING], ==, 1);
  g_assert_cmpint(oldest, ==, 1000);
  g_assert_cmpint(storage_outbound_result(fx->st, b2->id, MA_OUT_SENT, "250 ok", 0, NULL, 1301, &error), ==, 1);
  g_assert_cmpint(storage_outbound_stats(fx->st, counts, &oldest, &error), ==, 0);
  g_assert_cmpint(oldest, ==, 0);
  g_assert_cmpint(counts[MA_OUT_SENT], ==, 2);
}

static gint64 archive_version(Fixture *fx, const char *ent)
{
  GError *error = NULL;
  gint64 v = -1;
  g_assert_cmpint(storage_archive_version(fx->st, ent, &v, &error), ==, 0);
  g_assert_no_error(error);
  return v;
}

/* The archived copy of a queued message (same Message-ID) as the pipeline stores it. */
static void archive_copy(Fixture *fx, const char *ent, const char *id, const char *msgid)
{
  MaStoredMessage *sm = ma_stored_message_new();
  sm->id = g_strdup(id);
  sm->enterprise_id = g_strdup(ent);
  sm->message_id = g_strdup(msgid);
  sm->dedup_key = g_strdup_printf("dk-%s", id);
  sm->subject = g_strdup("Quote");
  sm->direction = MA_DIRECTION_OUTBOUND;
  sm->date = sm->archived_at = 1000;
  g_ptr_array_add(sm->links, ma_record_ref_new(MA_RECORD_CONTACT, "c1"));
  GError *error = NULL;
  g_assert_cmpint(storage_message_insert(fx->st, sm, &error), ==, 0);
  g_assert_no_error(error);
  ma_stored_message_free(sm);
}

/* Issue 11: the timeline shows an archived outbound copy's delivery states, so every change of a
 * recipient's state or reply moves its enterprise's archive version (the API's page cache key), in
 * the same commit; another enterprise's version, and a message the archive did not keep, move
 * nothing. storage_outbound_delivery reads the states by Message-ID. */
static void test_delivery_moves_archive_version(Fixture *fx, gconstpointer data)
{
  static const char *const rcpts[] = {"a@x.example", "b@x.example", NULL};
  GError *error = NULL;
  MaOutbound *m = message("e1", "m1", 1000, rcpts);
  m->message_id = g_strdup("q17@acme.example");
  g_assert_cmpint(enqueue(fx, m, NULL, NULL, NULL, NULL), ==, 1);
  ma_outbound_free(m);
  MaOutbound *other = message("e2", "m2", 1000, rcpts);
  other->message_id = g_strdup("other@acme.example"); /* e2's, never archived */
  g_assert_cmpint(enqueue(fx, other, NULL, NULL, NULL, NULL), ==, 1);
  ma_outbound_free(other);
  archive_copy(fx, "e1", "am1", "q17@acme.example");

  gint64 v0 = archive_version(fx, "e1"), w0 = archive_version(fx, "e2");
  g_autoptr(GPtrArray) sending = claim(fx, 1000, 60);
  g_assert_cmpuint(sending->len, ==, 4);
  gint64 v1 = archive_version(fx, "e1");
  g_assert_cmpint(v1, !=, v0); /* queued -> sending shows */
  g_assert_cmpint(archive_version(fx, "e2"), ==, w0); /* e2's churn: its message is not archived */
  MaOutboundRecipient *a = NULL, *b = NULL;
  for (guint i = 0; i < sending->len; i++) {
    MaOutboundRecipient *r = sending->pdata[i];
    if (strcmp(r->enterprise_id, "e1") != 0) {
      g_assert_cmpint(storage_outbound_result(fx->st, r->id, MA_OUT_SENT, "250 ok", 0, NULL, 1001, &error), ==, 1);
      continue;
    }
    if (strcmp(r->address, "a@x.example") == 0) a = r;
    else b = r;
  }
  g_assert_cmpint(archive_version(fx, "e1"), ==, v1);
  g_assert_cmpint(archive_version(fx, "e2"), ==, w0);
  g_assert_nonnull(a);
  g_assert_nonnull(b);
  g_assert_cmpint(storage_outbound_result(fx->st, a->id, MA_OUT_SENT, "250 2.0.0 ok", 0, NULL, 1001, &error), ==, 1);
  gint64 v2 = archive_version(fx, "e1");
  g_assert_cmpint(v2, !=, v1);
  g_assert_cmpint(storage_outbound_result(fx->st, b->id, MA_OUT_DEFERRED, "450 4.2.0 later", 1300, "450 4.2.0 later",
                                          1001, &error), ==, 1);
  gint64 v3 = archive_version(fx, "e1");
  g_assert_cmpint(v3, !=, v2);
  /* a DSN after sent: bounced */
  g_assert_cmpint(storage_outbound_bounce(fx->st, a->id, MA_OUT_BOUNCED, "550 5.1.1 gone", 1002, &error), ==, 1);
  gint64 v4 = archive_version(fx, "e1");
  g_assert_cmpint(v4, !=, v3);
  /* an operator's hold and release */
  int changed = 0;
  g_assert_cmpint(storage_outbound_operate(fx->st, "e1", "m1", MA_OUT_OP_HOLD, 1003, &changed, &error), ==, 0);
  g_assert_cmpint(changed, ==, 1);
  gint64 v5 = archive_version(fx, "e1");
  g_assert_cmpint(v5, !=, v4);
  g_assert_cmpint(storage_outbound_operate(fx->st, "e1", "m1", MA_OUT_OP_RELEASE, 1004, &changed, &error), ==, 0);
  g_assert_cmpint(changed, ==, 1);
  gint64 v6 = archive_version(fx, "e1");
  g_assert_cmpint(v6, !=, v5);
  g_assert_no_error(error);
  g_assert_cmpint(archive_version(fx, "e2"), ==, w0);

  GPtrArray *delivery = NULL;
  g_assert_cmpint(storage_outbound_delivery(fx->st, "e1", "q17@acme.example", &delivery, &error), ==, 0);
  g_assert_nonnull(delivery);
  g_assert_cmpuint(delivery->len, ==, 2);
  const MaOutboundRecipient *da = delivery->pdata[0], *db = delivery->pdata[1];
  g_assert_cmpstr(da->address, ==, "a@x.example");
  g_assert_cmpstr(ma_outbound_state_name(da->state), ==, "bounced");
  g_assert_cmpstr(da->last_reply, ==, "550 5.1.1 gone");
  g_assert_cmpstr(db->address, ==, "b@x.example");
  g_assert_cmpstr(ma_outbound_state_name(db->state), ==, "deferred"); /* released: its state again, due now */
  g_ptr_array_unref(delivery);
  /* scoped: e2 does not see e1's message; an unknown Message-ID has no delivery */
  g_assert_cmpint(storage_outbound_delivery(fx->st, "e2", "q17@acme.example", &delivery, &error), ==, 0);
  g_assert_null(delivery);
  g_assert_cmpint(storage_outbound_delivery(fx->st, "e1", "nothing@acme.example", &delivery, &error), ==, 0);
  g_assert_null(delivery);

  /* deleting the queued message drops its delivery states: the version moves */
  g_assert_cmpint(storage_outbound_operate(fx->st, "e1", "m1", MA_OUT_OP_DELETE, 1005, &changed, &error), ==, 0);
  g_assert_cmpint(changed, ==, 1);
  g_assert_no_error(error);
  g_assert_cmpint(archive_version(fx, "e1"), !=, v6);
  g_assert_cmpint(archive_version(fx, "e2"), ==, w0);
}

static void test_operator_actions(Fixture *fx, gconstpointer data)
{
  static const char *const rcpts[] = {"a@x.example", "b@x.example", NULL};
  MaOutbound *m = message("e1", "m1", 1000, rcpts);
  g_assert_cmpint(enqueue(fx, m, NULL, NULL, NULL, NULL), ==, 1);
  ma_outbound_free(m);
  GError *error = NULL;
  int changed = -1;

  g_assert_cmpint(storage_outbound_operate(fx->st, "e2", "m1", MA_OUT_OP_HOLD, 1001, &changed, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_NOT_FOUND);
  g_clear_error(&error);
  g_assert_cmpint(storage_outbound_operate(fx->st, "e1", "m1", MA_OUT_OP_HOLD, 1001, &changed, &error), ==, 0);
  g_assert_cmpint(changed, ==, 2);
  g_autoptr(GPtrArray) held = claim(fx, 5000, 60);
  g_assert_cmpuint(held->len, ==, 0);

  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func((GDestroyNotify) ma_outbound_free);
  g_assert_cmpint(storage_outbound_list(fx->st, NULL, MA_OUT_HELD, NULL, 10, list, &error), ==, 0);
  g_assert_cmpuint(list->len, ==, 1);
  g_ptr_array_set_size(list, 0);
  g_assert_cmpint(storage_outbound_list(fx->st, "e2", -1, NULL, 10, list, &error), ==, 0);
  g_assert_cmpuint(list->len, ==, 0);

  g_assert_cmpint(storage_outbound_operate(fx->st, NULL, "m1", MA_OUT_OP_RELEASE, 2000, &changed, &error), ==, 0);
  g_assert_cmpint(changed, ==, 2);
  g_autoptr(GPtrArray) released = claim(fx, 2000, 60);
  g_assert_cmpuint(released->len, ==, 2);
  MaOutboundRecipient *a = g_ptr_array_index(released, 0);
  g_assert_cmpint(storage_outbound_result(fx->st, a->id, MA_OUT_DEFERRED, "421", 9000, "421", 2001, &error), ==, 1);
  g_assert_cmpint(storage_outbound_operate(fx->st, NULL, "m1", MA_OUT_OP_RETRY, 2002, &changed, &error), ==, 0);
  g_assert_cmpint(changed, ==, 1);
  g_autoptr(GPtrArray) retried = claim(fx, 2002, 60);
  g_assert_cmpuint(retried->len, ==, 1);

  g_assert_cmpint(storage_outbound_operate(fx->st, "e1", "m1", MA_OUT_OP_DELETE, 2003, &changed, &error), ==, 0);
  g_assert_cmpint(changed, ==, 1);
  MaOutbound *got = NULL;
  g_assert_cmpint(storage_outbound_get(fx->st, NULL, "m1", &got, &error), ==, 0);
  gint64 counts[MA_OUT__COUNT], oldest;
  g_assert_cmpint(storage_outbound_stats(fx->st, counts, &oldest, &error), ==, 0);
  for (int i = 0; i < MA_OUT__COUNT; i++) g_assert_cmpint(counts[i], ==, 0);
  g_assert_no_error(error);
}

static void test_submission_credentials(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  MaSubmissionCredential c = {.id = "s1", .enterprise_id = "e1", .username = "crm1", .label = "crm", .created_at = 5};
  g_assert_cmpint(storage_submission_add(fx->st, &c, "hash1", &error), ==, 0);
  c.id = "s2";
  c.enterprise_id = "e2";
  g_assert_cmpint(storage_submission_add(fx->st, &c, "hash2", &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_CONFLICT);
  g_clear_error(&error);
  MaSubmissionCredential *got = NULL;
  char *hash = NULL;
  g_assert_cmpint(storage_submission_find(fx->st, "crm1", &got, &hash, &error), ==, 1);
  g_assert_cmpstr(got->enterprise_id, ==, "e1");
  g_assert_cmpstr(hash, ==, "hash1");
  ma_submission_credential_free(got);
  g_free(hash);
  g_assert_cmpint(storage_submission_revoke(fx->st, "e2", "crm1", 9, &error), ==, 0);
  g_assert_cmpint(storage_submission_revoke(fx->st, "e1", "crm1", 9, &error), ==, 1);
  g_assert_cmpint(storage_submission_find(fx->st, "crm1", &got, NULL, &error), ==, 0);
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func((GDestroyNotify) ma_submission_credential_free);
  g_assert_cmpint(storage_submission_list(fx->st, "e1", list, &error), ==, 0);
  g_assert_cmpuint(list->len, ==, 1);
  g_assert_cmpint(((MaSubmissionCredential *) g_ptr_array_index(list, 0))->revoked_at, ==, 9);
  g_assert_no_error(error);
}

static void test_bounces_and_suppressions(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  static const char *const rcpts[] = {"a@x.example", "b@y.example", NULL};
  MaOutbound *m = message("e1", "m1", 1000, rcpts);
  m->message_id = g_strdup("abc@acme.example");
  m->return_path = g_strdup("bounce");
  g_assert_cmpint(enqueue(fx, m, NULL, NULL, NULL, NULL), ==, 1);
  ma_outbound_free(m);
  MaOutbound *got = NULL;
  g_assert_cmpint(storage_outbound_get(fx->st, "e1", "m1", &got, &error), ==, 1);
  g_assert_cmpstr(got->return_path, ==, "bounce");
  gint64 row_a = ((MaOutboundRecipient *) got->recipients->pdata[0])->id;
  gint64 row_b = ((MaOutboundRecipient *) got->recipients->pdata[1])->id;
  ma_outbound_free(got);

  /* by row id (scoped, or admin), by Message-ID (scoped) */
  MaOutboundRecipient *r = NULL;
  g_assert_cmpint(storage_outbound_recipient_get(fx->st, NULL, row_b, &r, &error), ==, 1);
  g_assert_cmpstr(r->address, ==, "b@y.example");
  g_assert_cmpstr(r->enterprise_id, ==, "e1");
  ma_outbound_recipient_free(r);
  g_assert_cmpint(storage_outbound_recipient_get(fx->st, "e2", row_b, &r, &error), ==, 0);
  g_assert_null(r);
  char *oid = NULL;
  g_assert_cmpint(storage_outbound_find_message(fx->st, "e1", "abc@acme.example", &oid, &error), ==, 1);
  g_assert_cmpstr(oid, ==, "m1");
  g_free(oid);
  g_assert_cmpint(storage_outbound_find_message(fx->st, "e2", "abc@acme.example", &oid, &error), ==, 0);

  /* a soft bounce annotates a queued recipient; a hard one after "sent" wins; a second is a no-op */
  g_assert_cmpint(storage_outbound_bounce(fx->st, row_a, MA_OUT_DEFERRED, "452 4.2.2 full", 1100, &error), ==, 1);
  GPtrArray *claimed = g_ptr_array_new_with_free_func((GDestroyNotify) ma_outbound_recipient_free);
  g_assert_cmpint(storage_outbound_claim(fx->st, 1200, 5000, 10, claimed, &error), ==, 0);
  g_assert_cmpuint(claimed->len, ==, 2);
  g_ptr_array_unref(claimed);
  g_assert_cmpint(storage_outbound_result(fx->st, row_a, MA_OUT_SENT, "250 ok", 0, NULL, 1300, &error), ==, 1);
  g_assert_cmpint(storage_outbound_bounce(fx->st, row_a, MA_OUT_DEFERRED, "452 later", 1400, &error), ==, 0);
  g_assert_cmpint(storage_outbound_bounce(fx->st, row_a, MA_OUT_BOUNCED, "550 5.1.1 unknown", 1400, &error), ==, 1);
  g_assert_cmpint(storage_outbound_bounce(fx->st, row_a, MA_OUT_BOUNCED, "550 again", 1500, &error), ==, 0);
  g_assert_cmpint(storage_outbound_recipient_get(fx->st, "e1", row_a, &r, &error), ==, 1);
  g_assert_cmpint(r->state, ==, MA_OUT_BOUNCED);
  g_assert_cmpstr(r->last_reply, ==, "550 5.1.1 unknown");
  ma_outbound_recipient_free(r);
  g_assert_no_error(error);

  /* suppressions: first entry kept, per enterprise, listed by address, removed */
  MaSuppression s1 = {.enterprise_id = "e1", .address = "b@y.example", .reason = "hard_bounce", .detail = "550",
                      .source = "m1", .created_at = 10};
  MaSuppression s2 = {.enterprise_id = "e1", .address = "b@y.example", .reason = "manual", .created_at = 11};
  MaSuppression s3 = {.enterprise_id = "e1", .address = "a@x.example", .reason = "unsubscribe", .created_at = 12};
  g_assert_cmpint(storage_suppression_add(fx->st, &s1, &error), ==, 1);
  g_assert_cmpint(storage_suppression_add(fx->st, &s2, &error), ==, 0);
  g_assert_cmpint(storage_suppression_add(fx->st, &s3, &error), ==, 1);
  MaSuppression *x = NULL;
  g_assert_cmpint(storage_suppression_get(fx->st, "e1", "b@y.example", &x, &error), ==, 1);
  g_assert_cmpstr(x->reason, ==, "hard_bounce");
  g_assert_cmpstr(x->source, ==, "m1");
  ma_suppression_free(x);
  g_assert_cmpint(storage_suppression_get(fx->st, "e2", "b@y.example", &x, &error), ==, 0);
  GPtrArray *list = g_ptr_array_new_with_free_func((GDestroyNotify) ma_suppression_free);
  g_assert_cmpint(storage_suppression_list(fx->st, "e1", NULL, 10, list, &error), ==, 0);
  g_assert_cmpuint(list->len, ==, 2);
  g_assert_cmpstr(((MaSuppression *) list->pdata[0])->address, ==, "a@x.example");
  g_ptr_array_set_size(list, 0);
  g_assert_cmpint(storage_suppression_list(fx->st, "e1", "a@x.example", 10, list, &error), ==, 0);
  g_assert_cmpuint(list->len, ==, 1);
  g_ptr_array_unref(list);
  g_assert_cmpint(storage_suppression_remove(fx->st, "e1", "b@y.example", &error), ==, 1);
  g_assert_cmpint(storage_suppression_remove(fx->st, "e1", "b@y.example", &error), ==, 0);
  MaSuppression bad = {.enterprise_id = "nope", .address = "a@x.example", .reason = "manual", .created_at = 1};
  g_assert_cmpint(storage_suppression_add(fx->st, &bad, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_NOT_FOUND);
  g_clear_error(&error);

  /* soft-bounce streaks: counted within the window, restarted outside it, ended by a reset */
  gint64 n = 0;
  for (int i = 1; i <= 3; i++) {
    g_assert_cmpint(storage_soft_bounce_add(fx->st, "e1", "c@z.example", 1000 + i, 100, &n, &error), ==, 0);
    g_assert_cmpint(n, ==, i);
  }
  g_assert_cmpint(storage_soft_bounce_add(fx->st, "e1", "c@z.example", 1200, 100, &n, &error), ==, 0);
  g_assert_cmpint(n, ==, 1);
  g_assert_cmpint(storage_soft_bounce_add(fx->st, "e2", "c@z.example", 1200, 100, &n, &error), ==, 0);
  g_assert_cmpint(n, ==, 1);
  g_assert_cmpint(storage_soft_bounce_reset(fx->st, "e1", "c@z.example", &error), ==, 0);
  g_assert_cmpint(storage_soft_bounce_add(fx->st, "e1", "c@z.example", 1201, 100, &n, &error), ==, 0);
  g_assert_cmpint(n, ==, 1);
  g_assert_no_error(error);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  /* one parameter, the backend: SQLite always, PostgreSQL when MAILAGENT_TEST_PG names one */
#define ADD(path, fn) testutil_storage_add("/storage_outbound" path, "/storage_outbound/postgresql" path, Fixture, fx_setup, fn, fx_teardown)
  ADD("/enqueue_idempotency", test_enqueue_and_idempotency);
  ADD("/claims_outcomes", test_claims_and_outcomes);
  /* SQLite only until the archive (messages, archive_versions) is on PostgreSQL */
  g_test_add("/storage_outbound/delivery_archive_version", Fixture, NULL, fx_setup, test_delivery_moves_archive_version,
             fx_teardown);
  ADD("/operator", test_operator_actions);
  ADD("/submission", test_submission_credentials);
  ADD("/bounces_suppressions", test_bounces_and_suppressions);
  return g_test_run();
}
