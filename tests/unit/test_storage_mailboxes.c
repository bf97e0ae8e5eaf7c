/* test_storage_mailboxes.c - unit tests of the mailbox bindings and OAuth2 grants in storage
 * (migration 10): tenant scoping, the lease, checkpoints with their collected keys (a replay is a
 * no-op), failure counting for quarantine, token rotation by generation and single-use states.
 *
 * One parameter, the backend: the tests run against SQLite under /storage/mailboxes/... and, for
 * the functions the PostgreSQL backend fills, again under /storage/postgresql/mailboxes/... against
 * MAILAGENT_TEST_PG (integration/storage_pg), each from an empty schema.
 */
#include "storage/storage.h"

#include "testutil.h"
#include "testutil_storage.h"

#include <string.h>

typedef struct {
  char *dir;
  MaStorage *st;
} Fixture;

#define ON_PG TESTUTIL_ON_PG

static void add_enterprise(MaStorage *st, const char *id)
{
  MaEnterprise e = {0};
  e.id = (char *)id;
  e.slug = (char *)id;
  e.name = (char *)id;
  e.inbound_local = g_strconcat(id, "-in", NULL);
  e.domains = g_ptr_array_new();
  GError *error = NULL;
  g_assert_cmpint(storage_enterprise_create(st, &e, &error), ==, 0);
  g_assert_no_error(error);
  g_ptr_array_unref(e.domains);
  g_free(e.inbound_local);
}

static void fx_setup(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  fx->dir = testutil_tempdir("ma-mailboxes-XXXXXX");
  fx->st = testutil_storage_open(fx->dir, data);
  g_assert_no_error(error);
  add_enterprise(fx->st, "ent1");
  add_enterprise(fx->st, "ent2");
}

static void fx_teardown(Fixture *fx, gconstpointer data)
{
  storage_close(&fx->st);
  testutil_rm_rf(fx->dir);
  g_free(fx->dir);
}

static void add_mailbox(MaStorage *st, const char *ent, const char *id, const char *email)
{
  MaMailbox m = {0};
  m.id = (char *)id;
  m.enterprise_id = (char *)ent;
  m.email = (char *)email;
  m.username = (char *)email;
  m.protocol = "imap";
  m.host = "imap.example.test";
  m.port = 993;
  m.security = "tls";
  m.auth = "password";
  m.secret_sealed = "v1:opaque";
  m.archiving = TRUE;
  m.created_at = 100;
  GError *error = NULL;
  g_assert_cmpint(storage_mailbox_add(st, &m, &error), ==, 0);
  g_assert_no_error(error);
}

static void test_crud_and_scope(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  add_mailbox(fx->st, "ent1", "mb1", "Homer@Acme.test");
  MaMailbox dup = {.id = "mb2", .enterprise_id = "ent1", .email = "homer@acme.test", .username = "x",
                   .protocol = "imap", .host = "imap.example.test", .port = 993, .security = "tls",
                   .auth = "password"};
  g_assert_cmpint(storage_mailbox_add(fx->st, &dup, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_CONFLICT);
  g_clear_error(&error);
  dup.protocol = "pop3"; /* the same address over POP3 is another binding */
  g_assert_cmpint(storage_mailbox_add(fx->st, &dup, &error), ==, 0);

  g_autoptr(MaMailbox) m = NULL;
  g_assert_cmpint(storage_mailbox_get(fx->st, "ent1", "homer@acme.test", &m, &error), ==, 1);
  g_assert_cmpstr(m->id, ==, "mb1"); /* the oldest binding of the address */
  g_assert_cmpstr(m->email, ==, "homer@acme.test");
  g_assert_cmpstr(m->state, ==, "active");
  g_assert_cmpstr(m->secret_sealed, ==, "v1:opaque");
  g_autoptr(MaMailbox) other = NULL;
  g_assert_cmpint(storage_mailbox_get(fx->st, "ent2", "mb1", &other, &error), ==, 0);
  g_assert_null(other);
  g_assert_cmpint(storage_mailbox_get(fx->st, NULL, "mb2", &other, &error), ==, 1);

  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func((GDestroyNotify)ma_mailbox_free);
  g_assert_cmpint(storage_mailbox_list(fx->st, "ent2", list, &error), ==, 0);
  g_assert_cmpuint(list->len, ==, 0);
  g_assert_cmpint(storage_mailbox_list(fx->st, NULL, list, &error), ==, 0);
  g_assert_cmpuint(list->len, ==, 2);

  g_assert_cmpint(storage_mailbox_set_state(fx->st, "ent2", "mb1", "paused", 0, &error), ==, 0);
  g_assert_cmpint(storage_mailbox_set_state(fx->st, "ent1", "mb1", "paused", 0, &error), ==, 1);
  MaMailboxSyncReport r = {.ok = FALSE, .error_text = "connect: refused", .now = 500, .next_attempt_at = 560,
                           .fetched = 3, .archived = 2, .skipped = 1};
  g_assert_cmpint(storage_mailbox_report(fx->st, "mb1", &r, &error), ==, 0);
  g_clear_pointer(&m, ma_mailbox_free);
  g_assert_cmpint(storage_mailbox_get(fx->st, "ent1", "mb1", &m, &error), ==, 1);
  g_assert_cmpstr(m->state, ==, "paused");
  g_assert_cmpstr(m->last_error, ==, "connect: refused");
  g_assert_cmpint(m->failures, ==, 1);
  g_assert_cmpint(m->fetched, ==, 3);
  g_assert_cmpint(m->next_attempt_at, ==, 560);
  r = (MaMailboxSyncReport){.ok = TRUE, .now = 600, .next_attempt_at = 660, .new_state = "active"};
  g_assert_cmpint(storage_mailbox_report(fx->st, "mb1", &r, &error), ==, 0);
  g_clear_pointer(&m, ma_mailbox_free);
  g_assert_cmpint(storage_mailbox_get(fx->st, "ent1", "mb1", &m, &error), ==, 1);
  g_assert_null(m->last_error);
  g_assert_cmpint(m->failures, ==, 0);
  g_assert_cmpint(m->last_sync_at, ==, 600);
  g_assert_cmpint(m->last_error_at, ==, 500);

  g_assert_cmpint(storage_mailbox_remove(fx->st, "ent2", "mb1", &error), ==, 0);
  g_assert_cmpint(storage_mailbox_remove(fx->st, "ent1", "mb1", &error), ==, 1);
  g_assert_no_error(error);
}

static void test_lease(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  add_mailbox(fx->st, "ent1", "mb1", "a@acme.test");
  g_assert_cmpint(storage_mailbox_lease(fx->st, "mb1", "node-a", 100, 400, &error), ==, 1);
  g_assert_cmpint(storage_mailbox_lease(fx->st, "mb1", "node-b", 200, 500, &error), ==, 0);
  g_assert_cmpint(storage_mailbox_lease(fx->st, "mb1", "node-b", 400, 700, &error), ==, 1); /* expired */
  g_assert_cmpint(storage_mailbox_release(fx->st, "mb1", "node-a", &error), ==, 0);       /* not its own */
  g_assert_cmpint(storage_mailbox_lease(fx->st, "mb1", "node-a", 450, 800, &error), ==, 0);
  g_assert_cmpint(storage_mailbox_release(fx->st, "mb1", "node-b", &error), ==, 0);
  g_assert_cmpint(storage_mailbox_lease(fx->st, "mb1", "node-a", 450, 800, &error), ==, 1);
  g_assert_no_error(error);
}

static void test_checkpoint(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  add_mailbox(fx->st, "ent1", "mb1", "a@acme.test");
  MaFolderCheckpoint cp;
  g_assert_cmpint(storage_mailbox_checkpoint_get(fx->st, "mb1", "INBOX", &cp, &error), ==, 0);
  g_assert_cmpuint(cp.uidvalidity, ==, 0);
  const char *keys[] = {"1", "2", "3"};
  MaFolderCheckpoint next = {.uidvalidity = 77, .last_uid = 3, .highest_modseq = 9};
  g_assert_cmpint(storage_mailbox_checkpoint_advance(fx->st, "mb1", "INBOX", &next, 77, keys, 3, &error), ==, 0);
  /* a replay of the same keys after a crash is a no-op, not a conflict */
  g_assert_cmpint(storage_mailbox_checkpoint_advance(fx->st, "mb1", "INBOX", &next, 77, keys, 3, &error), ==, 0);
  g_assert_no_error(error);
  g_assert_cmpint(storage_mailbox_checkpoint_get(fx->st, "mb1", "INBOX", &cp, &error), ==, 1);
  g_assert_cmpuint(cp.uidvalidity, ==, 77);
  g_assert_cmpuint(cp.last_uid, ==, 3);
  g_assert_cmpuint(cp.highest_modseq, ==, 9);
  g_assert_cmpint(storage_mailbox_key_seen(fx->st, "mb1", "INBOX", 77, "2", &error), ==, 1);
  g_assert_cmpint(storage_mailbox_key_seen(fx->st, "mb1", "INBOX", 78, "2", &error), ==, 0);
  g_assert_cmpint(storage_mailbox_key_seen(fx->st, "mb1", "Sent", 77, "2", &error), ==, 0);
  /* POP3: keys only, no checkpoint */
  const char *uidl[] = {"000001abc"};
  g_assert_cmpint(storage_mailbox_checkpoint_advance(fx->st, "mb1", "", NULL, 0, uidl, 1, &error), ==, 0);
  g_assert_cmpint(storage_mailbox_key_seen(fx->st, "mb1", "", 0, "000001abc", &error), ==, 1);
  /* an unknown mailbox cannot get a checkpoint */
  g_assert_cmpint(storage_mailbox_checkpoint_advance(fx->st, "nope", "INBOX", &next, 77, NULL, 0, &error), ==, -1);
  g_assert_nonnull(error);
  g_clear_error(&error);

  int count = 0;
  for (int i = 1; i <= 3; i++) {
    g_assert_cmpint(storage_mailbox_failure_count(fx->st, "mb1", "INBOX", "4", "parse", 10 + i, &count, &error), ==, 0);
    g_assert_cmpint(count, ==, i);
  }
  g_autoptr(GPtrArray) q = g_ptr_array_new_with_free_func(g_free);
  g_assert_cmpint(storage_mailbox_quarantine_list(fx->st, "mb1", 3, q, &error), ==, 0);
  g_assert_cmpuint(q->len, ==, 1);
  g_assert_cmpstr(g_ptr_array_index(q, 0), ==, "INBOX 4: parse");
  /* removing the mailbox removes its checkpoints and keys */
  g_assert_cmpint(storage_mailbox_remove(fx->st, "ent1", "mb1", &error), ==, 1);
  g_assert_cmpint(storage_mailbox_key_seen(fx->st, "mb1", "INBOX", 77, "2", &error), ==, 0);
}

/* Migrations 115/116: the daily count reserves within the limit and gives back; a limit of 0 is
 * none; the Sent copy step is recorded once, claimed with a lease, and its outcome applies only
 * while it is appending. */
static void test_sending(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  add_mailbox(fx->st, "ent1", "m1", "a@example.test");
  g_assert_cmpint(storage_mailbox_set_daily_limit(fx->st, "ent2", "m1", 5, &error), ==, 0); /* other tenant */
  g_assert_cmpint(storage_mailbox_set_daily_limit(fx->st, "ent1", "m1", 5, &error), ==, 1);
  MaMailbox *m = NULL;
  g_assert_cmpint(storage_mailbox_get(fx->st, "ent1", "m1", &m, &error), ==, 1);
  g_assert_cmpint(m->daily_limit, ==, 5);
  g_assert_null(m->smtp_host);
  ma_mailbox_free(m);

  int granted = -1;
  gint64 count = -1;
  g_assert_cmpint(storage_mailbox_send_reserve(fx->st, "m1", "2026-12-02", 5, 3, &granted, &count, &error), ==, 0);
  g_assert_cmpint(granted, ==, 3);
  g_assert_cmpint(count, ==, 3);
  g_assert_cmpint(storage_mailbox_send_reserve(fx->st, "m1", "2026-12-02", 5, 4, &granted, &count, &error), ==, 0);
  g_assert_cmpint(granted, ==, 2); /* only what is left of the day */
  g_assert_cmpint(count, ==, 5);
  g_assert_cmpint(storage_mailbox_send_reserve(fx->st, "m1", "2026-12-02", 5, 1, &granted, NULL, &error), ==, 0);
  g_assert_cmpint(granted, ==, 0);
  g_assert_cmpint(storage_mailbox_send_release(fx->st, "m1", "2026-12-02", 2, &error), ==, 0);
  g_assert_cmpint(storage_mailbox_sent_on(fx->st, "m1", "2026-12-02", &count, &error), ==, 0);
  g_assert_cmpint(count, ==, 3);
  g_assert_cmpint(storage_mailbox_send_release(fx->st, "m1", "2026-12-02", 9, &error), ==, 0);
  g_assert_cmpint(storage_mailbox_sent_on(fx->st, "m1", "2026-12-02", &count, &error), ==, 0);
  g_assert_cmpint(count, ==, 0); /* never below zero */
  g_assert_cmpint(storage_mailbox_send_reserve(fx->st, "m1", "2026-12-03", 0, 40, &granted, &count, &error), ==, 0);
  g_assert_cmpint(granted, ==, 40); /* 0: no limit */
  g_assert_cmpint(storage_mailbox_sent_on(fx->st, "m1", "2026-12-02", &count, &error), ==, 0);
  g_assert_cmpint(count, ==, 0); /* days apart */

  /* a queued message to hang the Sent copy on */
  MaOutbound *o = ma_outbound_new();
  o->id = g_strdup("o1");
  o->enterprise_id = g_strdup("ent1");
  o->mail_from = g_strdup("a@example.test");
  o->raw_sha256 = g_strdup("00");
  o->created_at = 100;
  MaOutboundRecipient *r = g_new0(MaOutboundRecipient, 1);
  r->address = g_strdup("x@client.example");
  g_ptr_array_add(o->recipients, r);
  g_assert_cmpint(storage_outbound_enqueue(fx->st, o, NULL, NULL, NULL, 100, NULL, NULL, &error), ==, 1);
  ma_outbound_free(o);
  g_assert_cmpint(storage_sent_copy_add(fx->st, "o1", "ent1", "m1", 100, &error), ==, 0);
  g_assert_cmpint(storage_sent_copy_add(fx->st, "o1", "ent1", "m1", 200, &error), ==, 0); /* once */
  g_autoptr(GPtrArray) due = g_ptr_array_new_with_free_func((GDestroyNotify) ma_sent_copy_free);
  g_assert_cmpint(storage_sent_copy_claim(fx->st, 99, 700, 10, due, &error), ==, 0);
  g_assert_cmpuint(due->len, ==, 0); /* not due yet */
  g_assert_cmpint(storage_sent_copy_claim(fx->st, 100, 700, 10, due, &error), ==, 0);
  g_assert_cmpuint(due->len, ==, 1);
  MaSentCopy *c = g_ptr_array_index(due, 0);
  g_assert_cmpstr(c->state, ==, "appending");
  g_assert_cmpint(c->attempts, ==, 1);
  g_ptr_array_set_size(due, 0);
  g_assert_cmpint(storage_sent_copy_claim(fx->st, 600, 1200, 10, due, &error), ==, 0);
  g_assert_cmpuint(due->len, ==, 0); /* leased */
  g_assert_cmpint(storage_sent_copy_claim(fx->st, 700, 1300, 10, due, &error), ==, 0);
  g_assert_cmpuint(due->len, ==, 1); /* the lease ran out: a crashed attempt is retried */
  g_assert_cmpint(storage_sent_copy_result(fx->st, "o1", "done", "Sent", NULL, 0, 710, &error), ==, 1);
  g_assert_cmpint(storage_sent_copy_result(fx->st, "o1", "pending", NULL, "late", 0, 720, &error), ==, 0);
  MaSentCopy *got = NULL;
  g_assert_cmpint(storage_sent_copy_get(fx->st, "ent2", "o1", &got, &error), ==, 0); /* other tenant */
  g_assert_cmpint(storage_sent_copy_get(fx->st, "ent1", "o1", &got, &error), ==, 1);
  g_assert_cmpstr(got->state, ==, "done");
  g_assert_cmpstr(got->folder, ==, "Sent");
  g_assert_cmpint(got->attempts, ==, 2);
  ma_sent_copy_free(got);
  MaOutbound *back = NULL;
  g_assert_cmpint(storage_outbound_get(fx->st, "ent1", "o1", &back, &error), ==, 1);
  g_assert_cmpstr(back->sent_copy_state, ==, "done");
  g_assert_cmpstr(back->sent_copy_detail, ==, "Sent");

  /* a recipient's own route: only while it is sending; the claim's attempt is given back */
  MaOutboundRecipient *rr = g_ptr_array_index(back->recipients, 0);
  gint64 rid = rr->id;
  ma_outbound_free(back);
  g_assert_cmpint(storage_outbound_recipient_reroute(fx->st, rid, "{\"channel\":\"mailagent_relay\"}", 150, 120, &error), ==, 0);
  g_autoptr(GPtrArray) claimed = g_ptr_array_new_with_free_func((GDestroyNotify) ma_outbound_recipient_free);
  g_assert_cmpint(storage_outbound_claim(fx->st, 130, 3600, 10, claimed, &error), ==, 0);
  g_assert_cmpuint(claimed->len, ==, 1);
  g_assert_cmpint(storage_outbound_recipient_reroute(fx->st, rid, "{\"channel\":\"mailagent_relay\"}", 150, 140, &error), ==, 1);
  g_assert_cmpint(storage_outbound_get(fx->st, "ent1", "o1", &back, &error), ==, 1);
  rr = g_ptr_array_index(back->recipients, 0);
  g_assert_cmpint(rr->state, ==, MA_OUT_QUEUED);
  g_assert_cmpint(rr->attempts, ==, 0);
  g_assert_cmpint(rr->next_attempt_at, ==, 150);
  g_assert_cmpstr(rr->route_json, ==, "{\"channel\":\"mailagent_relay\"}");
  ma_outbound_free(back);
  g_assert_no_error(error);
}

static void test_oauth2(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  MaOAuth2Grant g = {.owner = "mailbox:mb1", .enterprise_id = "ent1", .provider = "fake",
                     .access_sealed = "A1", .access_expires_at = 1000, .refresh_sealed = "R1", .updated_at = 10};
  g_assert_cmpint(storage_oauth2_grant_put(fx->st, &g, &error), ==, 0);
  g_autoptr(MaOAuth2Grant) got = NULL;
  g_assert_cmpint(storage_oauth2_grant_get(fx->st, "mailbox:mb1", &got, &error), ==, 1);
  g_assert_cmpint(got->generation, ==, 1);
  /* Google: no new refresh token, the old one stays */
  g_assert_cmpint(storage_oauth2_grant_rotate(fx->st, "mailbox:mb1", 1, "A2", 2000, NULL, 20, &error), ==, 1);
  /* a second refresher that read generation 1 loses */
  g_assert_cmpint(storage_oauth2_grant_rotate(fx->st, "mailbox:mb1", 1, "A3", 3000, "R3", 21, &error), ==, 0);
  g_clear_pointer(&got, ma_oauth2_grant_free);
  g_assert_cmpint(storage_oauth2_grant_get(fx->st, "mailbox:mb1", &got, &error), ==, 1);
  g_assert_cmpstr(got->access_sealed, ==, "A2");
  g_assert_cmpstr(got->refresh_sealed, ==, "R1");
  g_assert_cmpint(got->generation, ==, 2);
  /* Microsoft: rotated */
  g_assert_cmpint(storage_oauth2_grant_rotate(fx->st, "mailbox:mb1", 2, "A4", 4000, "R4", 22, &error), ==, 1);
  g_clear_pointer(&got, ma_oauth2_grant_free);
  g_assert_cmpint(storage_oauth2_grant_get(fx->st, "mailbox:mb1", &got, &error), ==, 1);
  g_assert_cmpstr(got->refresh_sealed, ==, "R4");
  g_assert_cmpint(storage_oauth2_grant_revoke(fx->st, "mailbox:mb1", 30, &error), ==, 0);
  g_clear_pointer(&got, ma_oauth2_grant_free);
  g_assert_cmpint(storage_oauth2_grant_get(fx->st, "mailbox:mb1", &got, &error), ==, 1);
  g_assert_cmpstr(got->state, ==, "revoked");
  g_assert_null(got->access_sealed);

  g_assert_cmpint(storage_oauth2_state_add(fx->st, "st1", "mailbox:mb1", "ent1", "V", 100, &error), ==, 0);
  char *owner = NULL, *verifier = NULL;
  g_assert_cmpint(storage_oauth2_state_take(fx->st, "st1", 100, &owner, &verifier, &error), ==, 0); /* expired */
  g_assert_cmpint(storage_oauth2_state_take(fx->st, "st1", 99, &owner, &verifier, &error), ==, 1);
  g_assert_cmpstr(owner, ==, "mailbox:mb1");
  g_assert_cmpstr(verifier, ==, "V");
  g_free(owner);
  g_free(verifier);
  g_assert_cmpint(storage_oauth2_state_take(fx->st, "st1", 99, &owner, &verifier, &error), ==, 0); /* single use */
  g_assert_null(owner);
  g_assert_cmpint(storage_oauth2_state_add(fx->st, "st2", "x", "no-such", "V", 100, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_NOT_FOUND);
  g_clear_error(&error);
}

/* A message parked dead is quarantined at once and counted in its binding once, also when it is
 * parked again; set_secret and the per-state counts of /metrics. */
static void test_quarantine(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  add_mailbox(fx->st, "ent1", "mb1", "a@acme.test");
  add_mailbox(fx->st, "ent2", "mb2", "b@acme.test");
  int count = 0;
  g_assert_cmpint(storage_mailbox_failure_count(fx->st, "mb1", "INBOX", "7", "parse", 10, &count, &error), ==, 0);
  g_assert_cmpint(count, ==, 1);
  g_assert_cmpint(storage_mailbox_quarantine(fx->st, "mb1", "INBOX", "7", "spool dead/1", 20, &error), ==, 0);
  g_assert_cmpint(storage_mailbox_quarantine(fx->st, "mb1", "INBOX", "7", "spool dead/2", 30, &error), ==, 0);
  g_assert_cmpint(storage_mailbox_quarantine(fx->st, "mb1", "INBOX", "8", "spool dead/3", 40, &error), ==, 0);
  g_assert_no_error(error);
  g_autoptr(GPtrArray) q = g_ptr_array_new_with_free_func(g_free);
  g_assert_cmpint(storage_mailbox_quarantine_list(fx->st, "mb1", MA_MAILBOX_QUARANTINE_AFTER, q, &error), ==, 0);
  g_assert_cmpuint(q->len, ==, 2);
  g_assert_cmpstr(g_ptr_array_index(q, 0), ==, "INBOX 7: spool dead/2"); /* the latest error, oldest first */
  g_assert_cmpstr(g_ptr_array_index(q, 1), ==, "INBOX 8: spool dead/3");
  g_autoptr(MaMailbox) m = NULL;
  g_assert_cmpint(storage_mailbox_get(fx->st, "ent1", "mb1", &m, &error), ==, 1);
  g_assert_cmpint(m->quarantined, ==, 2); /* key 7 counted once */

  g_assert_cmpint(storage_mailbox_set_secret(fx->st, "mb1", NULL, &error), ==, 0);
  g_assert_cmpint(storage_mailbox_set_state(fx->st, "ent2", "mb2", "needs_reauth", 0, &error), ==, 1);
  g_clear_pointer(&m, ma_mailbox_free);
  g_assert_cmpint(storage_mailbox_get(fx->st, NULL, "mb1", &m, &error), ==, 1);
  g_assert_null(m->secret_sealed);
  g_autoptr(GHashTable) states = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  gint64 quarantined = -1;
  g_assert_cmpint(storage_mailbox_states(fx->st, states, &quarantined, &error), ==, 0);
  g_assert_cmpuint(g_hash_table_size(states), ==, 2);
  g_assert_cmpint(GPOINTER_TO_INT(g_hash_table_lookup(states, "active")), ==, 1);
  g_assert_cmpint(GPOINTER_TO_INT(g_hash_table_lookup(states, "needs_reauth")), ==, 1);
  g_assert_cmpint(quarantined, ==, 2);
  g_assert_no_error(error);
}

/* Two nodes (two handles, two threads) ask for the same leases at the same moment: each mailbox's
 * lease goes to exactly one; when the holder dies (never releases), the other takes it over once
 * the lease has expired, and not before. */
#define RACE_MAILBOXES 40
typedef struct {
  MaStorage *st;
  const char *owner;
  int won;
} LeaseRacer;

static gpointer lease_racer(gpointer p)
{
  LeaseRacer *r = p;
  for (int i = 0; i < RACE_MAILBOXES; i++) {
    g_autofree char *id = g_strdup_printf("mb%02d", i);
    GError *error = NULL;
    int rc = storage_mailbox_lease(r->st, id, r->owner, 1000, 1300, &error);
    g_assert_no_error(error);
    g_assert_cmpint(rc, >=, 0);
    r->won += rc;
  }
  return NULL;
}

static void test_lease_race(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  for (int i = 0; i < RACE_MAILBOXES; i++) {
    g_autofree char *id = g_strdup_printf("mb%02d", i);
    g_autofree char *email = g_strdup_printf("u%02d@acme.test", i);
    add_mailbox(fx->st, "ent1", id, email);
  }
  MaStorage *second = testutil_storage_open_again(fx->dir, data);
  LeaseRacer a = {.st = fx->st, .owner = "node-a"};
  LeaseRacer b = {.st = second, .owner = "node-b"};
  testutil_run_together(lease_racer, &a, &b);
  g_assert_cmpint(a.won + b.won, ==, RACE_MAILBOXES); /* each lease to exactly one node */

  /* mb00's holder dies without releasing it: the other node takes the lease over once it has
   * expired, not before (a holder may renew its own lease, which tells who holds it) */
  gboolean a_holds = storage_mailbox_lease(fx->st, "mb00", "node-a", 1000, 1300, &error) == 1;
  MaStorage *survivor = a_holds ? second : fx->st;
  const char *survivor_name = a_holds ? "node-b" : "node-a";
  g_assert_cmpint(storage_mailbox_lease(survivor, "mb00", survivor_name, 1299, 1600, &error), ==, 0);
  g_assert_cmpint(storage_mailbox_lease(survivor, "mb00", survivor_name, 1300, 1600, &error), ==, 1);
  g_assert_no_error(error);
  storage_close(&second);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, fx_setup, fn, fx_teardown)
  ADD("/storage/mailboxes/sending", test_sending);
  ADD("/storage/mailboxes/crud-and-scope", test_crud_and_scope);
  ADD("/storage/mailboxes/lease", test_lease);
  ADD("/storage/mailboxes/checkpoint", test_checkpoint);
  ADD("/storage/mailboxes/oauth2", test_oauth2);
  ADD("/storage/mailboxes/quarantine", test_quarantine);
  ADD("/storage/mailboxes/lease-race", test_lease_race);
  /* PostgreSQL: the same tests, for the functions its backend fills (storage_pg_backend.c) */
#define ADD_PG(path, fn) g_test_add("/storage/postgresql/mailboxes" path, Fixture, ON_PG, fx_setup, fn, fx_teardown)
  if (g_getenv("MAILAGENT_TEST_PG")) {
    ADD_PG("/sending", test_sending);
    ADD_PG("/crud-and-scope", test_crud_and_scope);
    ADD_PG("/lease", test_lease);
    ADD_PG("/checkpoint", test_checkpoint);
    ADD_PG("/oauth2", test_oauth2);
    ADD_PG("/quarantine", test_quarantine);
    ADD_PG("/lease-race", test_lease_race);
  }
  return g_test_run();
}
