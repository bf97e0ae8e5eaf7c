/* test_storage_claims.c - the sending side's once-only semantics with two storage handles in two
 * threads, as two nodes have on one database: each outbound recipient and each Sent copy claimed by
 * exactly one of them (and claimed again once the lease of a claim that was never answered ends),
 * an Idempotency-Key queueing one message whichever handle gets it, and a mailbox's or a relay's
 * daily limit never passed when both reserve at once. Both backends (testutil_storage.h).
 */
#include "storage/storage.h"

#include "testutil.h"
#include "testutil_storage.h"

#include <string.h>

#define RECIPIENTS 120
#define COPIES 40
#define KEYS 30
#define DAILY_LIMIT 50

typedef struct {
  char *dir;
  MaStorage *st;
} Fixture;

static void fx_setup(Fixture *fx, gconstpointer data)
{
  fx->dir = testutil_tempdir("ma-claims-XXXXXX");
  fx->st = testutil_storage_open(fx->dir, data);
  MaEnterprise e = {.id = "e1", .slug = "e1", .name = "e1", .inbound_local = "e1"};
  e.domains = g_ptr_array_new();
  GError *error = NULL;
  g_assert_cmpint(storage_enterprise_create(fx->st, &e, &error), ==, 0);
  g_assert_no_error(error);
  g_ptr_array_unref(e.domains);
}

static void fx_teardown(Fixture *fx, gconstpointer data)
{
  storage_close(&fx->st);
  testutil_rm_rf(fx->dir);
  g_free(fx->dir);
}

static MaOutbound *message(const char *id, int recipients)
{
  MaOutbound *m = ma_outbound_new();
  m->id = g_strdup(id);
  m->enterprise_id = g_strdup("e1");
  m->mail_from = g_strdup("sender@acme.example");
  m->raw_sha256 = g_strdup("00");
  m->created_at = 1000;
  for (int i = 0; i < recipients; i++) {
    MaOutboundRecipient *r = g_new0(MaOutboundRecipient, 1);
    r->address = g_strdup_printf("r%03d@x.example", i);
    r->state = MA_OUT_QUEUED;
    g_ptr_array_add(m->recipients, r);
  }
  return m;
}

/* One node: its own handle (opened here, used only by its thread), what it took (row ids or
 * outbound ids), what it was granted. */
typedef struct {
  MaStorage *st;
  GPtrArray *taken; /* of char* (owned) */
  int granted;
  const char *name;
} Node;

static Node *node_new(Fixture *fx, gconstpointer backend, const char *name)
{
  Node *n = g_new0(Node, 1);
  n->name = name;
  n->st = testutil_storage_open_again(fx->dir, backend);
  n->taken = g_ptr_array_new_with_free_func(g_free);
  return n;
}

static void node_free(Node *n)
{
  storage_close(&n->st);
  g_ptr_array_unref(n->taken);
  g_free(n);
}

/* Claims recipients in small batches until none is due (as the delivery thread's scan does). */
static gpointer claim_recipients(gpointer data)
{
  Node *n = data;
  MaStorage *st = n->st;
  for (;;) {
    GError *error = NULL;
    g_autoptr(GPtrArray) got = g_ptr_array_new_with_free_func((GDestroyNotify)ma_outbound_recipient_free);
    g_assert_cmpint(storage_outbound_claim(st, 1000, 1600, 7, got, &error), ==, 0);
    g_assert_no_error(error);
    if (got->len == 0) break;
    for (guint i = 0; i < got->len; i++) {
      MaOutboundRecipient *r = g_ptr_array_index(got, i);
      g_assert_cmpint(r->state, ==, MA_OUT_SENDING);
      g_assert_cmpint(r->attempts, ==, 1);
      g_ptr_array_add(n->taken, g_strdup_printf("%" G_GINT64_FORMAT, r->id));
    }
  }
  return NULL;
}

static gpointer claim_copies(gpointer data)
{
  Node *n = data;
  MaStorage *st = n->st;
  for (;;) {
    GError *error = NULL;
    g_autoptr(GPtrArray) got = g_ptr_array_new_with_free_func((GDestroyNotify)ma_sent_copy_free);
    g_assert_cmpint(storage_sent_copy_claim(st, 1000, 1600, 3, got, &error), ==, 0);
    g_assert_no_error(error);
    if (got->len == 0) break;
    for (guint i = 0; i < got->len; i++)
      g_ptr_array_add(n->taken, g_strdup(((MaSentCopy *)g_ptr_array_index(got, i))->outbound_id));
  }
  return NULL;
}

/* Runs fn on two nodes started together; returns everything both took, checking none twice. */
static GHashTable *race(Fixture *fx, gconstpointer backend, GThreadFunc fn, int *granted)
{
  Node *a = node_new(fx, backend, "a"), *b = node_new(fx, backend, "b");
  testutil_run_together(fn, a, b);
  GHashTable *all = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  for (Node **n = (Node *[]){a, b, NULL}; *n; n++)
    for (guint i = 0; i < (*n)->taken->len; i++)
      g_assert_true(g_hash_table_add(all, g_strdup(g_ptr_array_index((*n)->taken, i)))); /* taken once */
  if (granted) *granted = a->granted + b->granted;
  node_free(a);
  node_free(b);
  return all;
}

static void test_recipients_claimed_once(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  MaOutbound *m = message("m1", RECIPIENTS);
  g_assert_cmpint(storage_outbound_enqueue(fx->st, m, NULL, NULL, NULL, 1000, NULL, NULL, &error), ==, 1);
  ma_outbound_free(m);

  g_autoptr(GHashTable) all = race(fx, data, claim_recipients, NULL);
  g_assert_cmpuint(g_hash_table_size(all), ==, RECIPIENTS);

  /* nothing is due while the leases run; once they end (the nodes died) every one is due again */
  g_autoptr(GPtrArray) got = g_ptr_array_new_with_free_func((GDestroyNotify)ma_outbound_recipient_free);
  g_assert_cmpint(storage_outbound_claim(fx->st, 1599, 2200, 0, got, &error), ==, 0);
  g_assert_cmpuint(got->len, ==, 0);
  g_assert_cmpint(storage_outbound_claim(fx->st, 1600, 2200, RECIPIENTS + 10, got, &error), ==, 0);
  g_assert_cmpuint(got->len, ==, RECIPIENTS);
  g_assert_cmpint(((MaOutboundRecipient *)g_ptr_array_index(got, 0))->attempts, ==, 2);
  g_assert_no_error(error);
}

static void test_sent_copies_claimed_once(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  for (int i = 0; i < COPIES; i++) {
    g_autofree char *id = g_strdup_printf("o%02d", i);
    MaOutbound *m = message(id, 1);
    g_assert_cmpint(storage_outbound_enqueue(fx->st, m, NULL, NULL, NULL, 1000, NULL, NULL, &error), ==, 1);
    ma_outbound_free(m);
    g_assert_cmpint(storage_sent_copy_add(fx->st, id, "e1", "mb1", 1000, &error), ==, 0);
  }
  g_assert_no_error(error);
  g_autoptr(GHashTable) all = race(fx, data, claim_copies, NULL);
  g_assert_cmpuint(g_hash_table_size(all), ==, COPIES);
  g_autoptr(GPtrArray) got = g_ptr_array_new_with_free_func((GDestroyNotify)ma_sent_copy_free);
  g_assert_cmpint(storage_sent_copy_claim(fx->st, 1600, 2200, COPIES + 10, got, &error), ==, 0);
  g_assert_cmpuint(got->len, ==, COPIES); /* the leases ended: due again */
  g_assert_no_error(error);
}

/* Both nodes get each request with the same key at the same moment. */
static gpointer enqueue_keys(gpointer data)
{
  Node *n = data;
  MaStorage *st = n->st;
  for (int i = 0; i < KEYS; i++) {
    GError *error = NULL;
    g_autofree char *id = g_strdup_printf("%s-%d", n->name, i), *key = g_strdup_printf("key-%d", i);
    g_autofree char *answer = g_strdup_printf("{\"id\":\"%s\"}", id);
    g_autofree char *prior_hash = NULL, *prior_answer = NULL;
    MaOutbound *m = message(id, 2);
    int rc = storage_outbound_enqueue(st, m, key, "hash", answer, 1000, &prior_hash, &prior_answer, &error);
    g_assert_no_error(error);
    ma_outbound_free(m);
    g_assert_cmpint(rc, >=, 0);
    if (rc == 1) {
      g_ptr_array_add(n->taken, g_strdup(key));
    } else {
      g_assert_cmpstr(prior_hash, ==, "hash"); /* the other node's answer */
      g_assert_nonnull(prior_answer);
      g_assert_cmpstr(prior_answer, !=, answer);
    }
  }
  return NULL;
}

static void test_idempotency_key_once(Fixture *fx, gconstpointer data)
{
  g_autoptr(GHashTable) all = race(fx, data, enqueue_keys, NULL);
  g_assert_cmpuint(g_hash_table_size(all), ==, KEYS); /* each key queued by exactly one node */
  GError *error = NULL;
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func((GDestroyNotify)ma_outbound_free);
  g_assert_cmpint(storage_outbound_list(fx->st, "e1", -1, NULL, 0, list, &error), ==, 0);
  g_assert_cmpuint(list->len, ==, KEYS);
  g_assert_no_error(error);
}

/* Reserves 1 or 2 recipients at a time until the day is full. */
static gpointer reserve_day(gpointer data)
{
  Node *n = data;
  MaStorage *st = n->st;
  for (int i = 0; i < DAILY_LIMIT; i++) {
    GError *error = NULL;
    int granted = -1;
    gint64 count = -1;
    g_assert_cmpint(storage_mailbox_send_reserve(st, "mb1", "2026-12-02", DAILY_LIMIT, 1 + i % 2, &granted, &count, &error),
                    ==, 0);
    g_assert_no_error(error);
    g_assert_cmpint(count, <=, DAILY_LIMIT);
    n->granted += granted;
  }
  return NULL;
}

static void test_daily_limit_exact(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  /* the day's count belongs to a mailbox (a foreign key in SQLite; PostgreSQL's mailboxes table
   * comes with the mailboxes migration, and the count needs none until then) */
  if (data != TESTUTIL_ON_PG || ma_storage_pg_backend.mailbox_add) {
    MaMailbox mb = {.id = "mb1", .enterprise_id = "e1", .email = "a@acme.example", .username = "a@acme.example",
                    .protocol = "imap", .host = "imap.acme.example", .port = 993, .security = "tls",
                    .auth = "password", .archiving = TRUE, .created_at = 1};
    g_assert_cmpint(storage_mailbox_add(fx->st, &mb, &error), ==, 0);
  }
  int granted = 0;
  g_autoptr(GHashTable) all = race(fx, data, reserve_day, &granted);
  g_assert_cmpint(granted, ==, DAILY_LIMIT); /* both asked for 75 each: exactly the limit granted */
  gint64 sent = -1;
  g_assert_cmpint(storage_mailbox_sent_on(fx->st, "mb1", "2026-12-02", &sent, &error), ==, 0);
  g_assert_cmpint(sent, ==, DAILY_LIMIT);
  g_assert_no_error(error);
}

/* A relay connection reserves its recipients against the relay's daily limit the same way. */
static gpointer reserve_relay_day(gpointer data)
{
  Node *n = data;
  for (int i = 0; i < DAILY_LIMIT; i++) {
    GError *error = NULL;
    int granted = -1;
    g_assert_cmpint(storage_relay_reserve(n->st, "e1", "r1", "2026-12-02", DAILY_LIMIT, 1 + i % 2, &granted, &error), ==, 0);
    g_assert_no_error(error);
    n->granted += granted;
  }
  return NULL;
}

static void test_relay_limit_exact(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  MaRelay *r = ma_relay_new();
  r->id = g_strdup("r1");
  r->enterprise_id = g_strdup("e1");
  r->name = g_strdup("corp");
  r->host = g_strdup("smtp.acme.example");
  r->port = 587;
  r->security = g_strdup("starttls");
  r->tls_mode = g_strdup("required-verify");
  r->email_types = g_strdup("mass");
  r->daily_limit = DAILY_LIMIT;
  g_assert_cmpint(storage_relay_add(fx->st, r, &error), ==, 0);
  ma_relay_free(r);
  int granted = 0;
  g_autoptr(GHashTable) all = race(fx, data, reserve_relay_day, &granted);
  g_assert_cmpint(granted, ==, DAILY_LIMIT);
  gint64 sent = -1, last = -1;
  int failures = -1;
  g_assert_cmpint(storage_relay_usage(fx->st, "e1", "r1", "2026-12-02", &sent, &failures, &last, &error), ==, 0);
  g_assert_cmpint(sent, ==, DAILY_LIMIT);
  g_assert_no_error(error);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  /* one parameter, the backend: SQLite always, PostgreSQL when MAILAGENT_TEST_PG names one */
#define ADD(path, fn) testutil_storage_add("/storage_claims" path, "/storage_claims/postgresql" path, Fixture, fx_setup, fn, fx_teardown)
  ADD("/recipients", test_recipients_claimed_once);
  ADD("/sent-copies", test_sent_copies_claimed_once);
  ADD("/idempotency-key", test_idempotency_key_once);
  ADD("/daily-limit", test_daily_limit_exact);
  ADD("/relay-daily-limit", test_relay_limit_exact);
  return g_test_run();
}
