/* test_pipeline_workers.c - the worker pool against a real spool and database: what the spool holds
 * at start is archived; notify wakes the workers; unreadable mail is done with and an unknown
 * enterprise is parked as dead instead of looping; a replayed spool id adds nothing; stop drains
 * the spool; failed commits are deferred, counted and retried; temporary failures back off on the
 * test clock (one attempt per step, capped, no attempt limit) until the archive works again; a
 * worker whose spool read is older than another worker's finishing of an entry does not take that
 * entry a second time; while the SMTP listener keeps committing (a burst), the workers archive
 * nothing until the window's age or backlog bound is reached, the burst ends or serve stops, and
 * then archive every message once. */
#include "testutil.h"
#include "agent/lib/clock.h"
#include "agent/lib/log.h"
#include "agent/lib/metrics.h"
#include "agent/pipeline/pipeline.h"
#include "storage/spool.h"

#include <glib/gstdio.h>
#include <string.h>

typedef struct {
  char *dir;
  MaConfig *cfg;
  char *ent;
} Env;

static void env_open(Env *env)
{
  g_autoptr(GError) error = NULL;
  env->dir = g_dir_make_tmp("ma-workers-XXXXXX", &error);
  g_assert_no_error(error);
  env->cfg = ma_config_load(NULL, &error);
  g_assert_no_error(error);
  g_free(env->cfg->data_dir);
  env->cfg->data_dir = g_strdup(env->dir);
  MaStorage *st = NULL;
  g_assert_cmpint(storage_open(env->dir, TRUE, &st, &error), ==, 0);
  MaEnterprise e = {0};
  e.id = ma_id_new();
  e.slug = "acme";
  e.name = "Acme";
  e.inbound_local = "acme-x1";
  e.domains = g_ptr_array_new();
  g_ptr_array_add(e.domains, "acme.example");
  g_assert_cmpint(storage_enterprise_create(st, &e, &error), ==, 0);
  g_ptr_array_unref(e.domains);
  env->ent = e.id;
  MaRecord *r = ma_record_new(MA_RECORD_CONTACT, "con-1");
  r->name = g_strdup("Hank");
  g_ptr_array_add(r->emails, g_strdup("hank@globex.example"));
  g_assert_cmpint(storage_record_upsert(st, env->ent, r, &error), ==, 0);
  ma_record_free(r);
  storage_close(&st);
}

static void env_close(Env *env)
{
  testutil_rm_rf(env->dir);
  g_free(env->dir);
  g_free(env->ent);
  ma_config_free(env->cfg);
}

static MaSpoolEntry *entry(const char *ent, const char *id, const char *raw)
{
  MaSpoolEntry *e = ma_spool_entry_new();
  e->id = g_strdup(id);
  e->enterprise_id = g_strdup(ent);
  e->route = g_strdup("smtp");
  e->client = g_strdup("192.0.2.1");
  e->mail_from = g_strdup("hank@globex.example");
  if (!e->rcpts) e->rcpts = g_ptr_array_new_with_free_func(g_free);
  g_ptr_array_add(e->rcpts, g_strdup("acme-x1@inbound.localhost"));
  e->received_at = ma_now();
  e->data = g_bytes_new(raw, strlen(raw));
  return e;
}

static char *message(int i)
{
  return g_strdup_printf("From: Hank <hank@globex.example>\r\nTo: alice@acme.example\r\nSubject: Order %d\r\n"
                         "Date: Mon, 04 Mar 2024 10:%02d:00 +0000\r\nMessage-ID: <order-%d@globex.example>\r\n\r\n"
                         "Order number %d.\r\n",
                         i, i % 60, i, i);
}

static void put(Env *env, GPtrArray *entries)
{
  g_autoptr(GError) error = NULL;
  MaSpool *sp = NULL;
  g_assert_cmpint(spool_open(env->dir, &sp, &error), ==, 0);
  g_assert_cmpint(spool_put(sp, (MaSpoolEntry *const *) entries->pdata, entries->len, &error), ==, 0);
  spool_close(&sp);
}

static gint64 depth(Env *env)
{
  g_autoptr(GError) error = NULL;
  MaSpool *sp = NULL;
  gint64 n = -1;
  g_assert_cmpint(spool_open(env->dir, &sp, &error), ==, 0);
  g_assert_cmpint(spool_depth(sp, &n, &error), ==, 0);
  spool_close(&sp);
  return n;
}

static gint64 dead(Env *env)
{
  g_autoptr(GError) error = NULL;
  MaSpool *sp = NULL;
  gint64 n = -1;
  g_assert_cmpint(spool_open(env->dir, &sp, &error), ==, 0);
  g_assert_cmpint(spool_counts(sp, NULL, &n, &error), ==, 0);
  spool_close(&sp);
  return n;
}

/* The spool's entries (without data), in spool order. */
static GPtrArray *entries_now(Env *env)
{
  g_autoptr(GError) error = NULL;
  MaSpool *sp = NULL;
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify) ma_spool_entry_free);
  g_autofree char *next = NULL;
  g_assert_cmpint(spool_open(env->dir, &sp, &error), ==, 0);
  g_assert_cmpint(spool_list(sp, MA_SPOOL_ANY, NULL, 1000, NULL, out, &next, &error), ==, 0);
  spool_close(&sp);
  return out;
}

static gint64 archived(Env *env)
{
  g_autoptr(GError) error = NULL;
  MaStorage *st = NULL;
  gint64 messages = 0, activities = 0, records = 0;
  g_assert_cmpint(storage_open(env->dir, FALSE, &st, &error), ==, 0);
  g_assert_cmpint(storage_counts(st, &messages, &activities, &records, &error), ==, 0);
  storage_close(&st);
  return messages;
}

static void wait_processed(guint64 want)
{
  gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
  while (pipeline_workers_processed() < want && g_get_monotonic_time() < deadline) g_usleep(10000);
  g_assert_cmpuint(pipeline_workers_processed(), >=, want);
}

static void test_spool_to_archive(void)
{
  Env env = {0};
  env_open(&env);
  g_autoptr(GError) error = NULL;
  const int n = 120;
  g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func((GDestroyNotify) ma_spool_entry_free);
  for (int i = 0; i < n; i++) {
    g_autofree char *raw = message(i);
    g_autofree char *id = g_strdup_printf("spool-%03d", i);
    g_ptr_array_add(entries, entry(env.ent, id, raw));
  }
  g_ptr_array_add(entries, entry(env.ent, "spool-unreadable", "\x01\x02 no header here at all\n"));
  g_ptr_array_add(entries, entry("no-such-enterprise", "spool-orphan", "From: a@b.example\r\n\r\nx\r\n"));
  put(&env, entries); /* before start: the workers must find it */

  g_assert_cmpint(pipeline_workers_start(env.cfg, 2, &error), ==, 0);
  wait_processed(n + 2);
  g_assert_cmpint(archived(&env), ==, n + 1); /* the unreadable one too: unparsed, raw kept */
  g_assert_cmpint(dead(&env), ==, 1); /* the orphan: kept, not dropped */

  /* a replay of an archived entry (same spool id) and a new copy by another route */
  g_ptr_array_set_size(entries, 0);
  g_autofree char *raw0 = message(0);
  g_ptr_array_add(entries, entry(env.ent, "spool-000", raw0));
  g_ptr_array_add(entries, entry(env.ent, "spool-copy", raw0));
  g_autofree char *fresh = message(n);
  g_ptr_array_add(entries, entry(env.ent, "spool-new", fresh));
  put(&env, entries);
  pipeline_workers_notify();
  wait_processed(n + 5);
  pipeline_workers_stop();
  g_assert_cmpint(archived(&env), ==, n + 2);
  g_assert_cmpint(depth(&env), ==, 0);
  g_assert_cmpint(dead(&env), ==, 1);

  MaStorage *st = NULL;
  g_assert_cmpint(storage_open(env.dir, FALSE, &st, &error), ==, 0);
  g_autofree char *id = NULL;
  char key[65] = "";
  g_assert_cmpint(storage_message_find_duplicate(st, env.ent, "order-0@globex.example", key, &id, &error), ==, 1);
  g_autoptr(GPtrArray) prov = g_ptr_array_new_with_free_func((GDestroyNotify) ma_provenance_free);
  g_assert_cmpint(storage_provenance_list(st, env.ent, id, prov, &error), ==, 0);
  g_assert_cmpuint(prov->len, ==, 2); /* spool-000 once (replay added nothing) + spool-copy */
  /* the unreadable entry is archived unparsed: parse_error says why, the raw octets are kept */
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);
  g_assert_cmpint(storage_message_ids_archived_since(st, env.ent, 0, NULL, 1000, ids, &error), ==, 0);
  int unparsed = 0;
  for (guint i = 0; i < ids->len; i++) {
    MaStoredMessage *m = NULL;
    g_assert_cmpint(storage_message_get(st, env.ent, ids->pdata[i], &m, &error), ==, 1);
    if (m->parse_error) {
      unparsed++;
      g_assert_cmpstr(m->parse_error, ==, "no message header found");
      g_assert_null(m->thread_id);
      GBytes *raw = NULL;
      g_assert_cmpint(storage_blob_get(st, m->raw_sha256, &raw, &error), ==, 1);
      g_assert_cmpuint(g_bytes_get_size(raw), ==, strlen("\x01\x02 no header here at all\n"));
      g_bytes_unref(raw);
    }
    ma_stored_message_free(m);
  }
  g_assert_cmpint(unparsed, ==, 1);
  storage_close(&st);
  env_close(&env);
}

static void test_stop_drains(void)
{
  Env env = {0};
  env_open(&env);
  g_autoptr(GError) error = NULL;
  g_assert_cmpint(pipeline_workers_start(env.cfg, 1, &error), ==, 0);
  g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func((GDestroyNotify) ma_spool_entry_free);
  for (int i = 0; i < 50; i++) {
    g_autofree char *raw = message(i);
    g_autofree char *sid = g_strdup_printf("drain-%02d", i);
    g_ptr_array_add(entries, entry(env.ent, sid, raw));
  }
  put(&env, entries); /* no notify: stop itself must finish them */
  pipeline_workers_stop();
  g_assert_cmpint(depth(&env), ==, 0);
  g_assert_cmpint(archived(&env), ==, 50);
  env_close(&env);
}

/* Large messages: a batch reads in a bounded amount (16 MB) and hands the rest back to the spool;
 * every message is still archived exactly once, by one worker, in several rounds. */
static void test_large_messages_in_rounds(void)
{
  Env env = {0};
  env_open(&env);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func((GDestroyNotify) ma_spool_entry_free);
  g_autofree char *line = g_strnfill(998, 'p');
  for (int i = 0; i < 8; i++) {
    g_autofree char *head = message(100 + i);
    GString *raw = g_string_new(head);
    for (int l = 0; l < 5000; l++) g_string_append_printf(raw, "%s\r\n", line); /* 5 MB */
    g_autofree char *sid = g_strdup_printf("large-%d", i);
    g_ptr_array_add(entries, entry(env.ent, sid, raw->str));
    g_string_free(raw, TRUE);
  }
  put(&env, entries);
  ma_log_set_level(MA_LOG_DEBUG); /* the rounds show in the output */
  g_assert_cmpint(pipeline_workers_start(env.cfg, 1, &error), ==, 0);
  pipeline_workers_stop(); /* drains: the entries handed back are claimed again */
  ma_log_set_level(MA_LOG_INFO);
  g_assert_cmpint(depth(&env), ==, 0);
  g_assert_cmpint(archived(&env), ==, 8);
  env_close(&env);
}

/* Failed commits (TEMPFAIL, as a failing fsync gives) never lose an entry: the batch is rolled
 * back and deferred as a whole (a temporary failure is the environment's, so it is not retried
 * one by one), counted once per entry in mailagent_messages_failed, and claimed again when the
 * backoff ends; with two failures injected the same ten entries fail twice, and only the third
 * commit archives them, each exactly once. The counts prove the failures happened and were
 * retried: without them the metric would not move. */
static void test_commit_failures_retry(void)
{
  Env env = {0};
  env_open(&env);
  g_autoptr(GError) error = NULL;
  g_assert_cmpint(pipeline_workers_start(env.cfg, 1, &error), ==, 0);
  guint64 before = pipeline_workers_processed();
  gint64 failed_before = ma_metrics_get(MA_METRIC_MESSAGES_FAILED);
  pipeline_workers_fault_inject_commit_failures(2);
  g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func((GDestroyNotify) ma_spool_entry_free);
  for (int i = 0; i < 10; i++) {
    g_autofree char *raw = message(i);
    g_autofree char *sid = g_strdup_printf("fail-%02d", i);
    g_ptr_array_add(entries, entry(env.ent, sid, raw));
  }
  put(&env, entries); /* one spool transaction: the worker claims all ten together */
  pipeline_workers_notify();
  wait_processed(before + 10); /* after the backoffs of 1 and 2 s */
  pipeline_workers_stop();
  g_assert_cmpint(ma_metrics_get(MA_METRIC_MESSAGES_FAILED) - failed_before, ==, 2 * 10);
  g_assert_cmpuint(pipeline_workers_processed() - before, ==, 10);
  g_assert_cmpint(archived(&env), ==, 10);
  g_assert_cmpint(depth(&env), ==, 0);
  env_close(&env);
}

/* Waits (real time, bounded) until every spool entry has `attempts` attempts recorded; returns the
 * first entry's next_attempt_at. */
static gint64 wait_attempts(Env *env, int attempts, guint n)
{
  gint64 deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
  for (;;) {
    g_autoptr(GPtrArray) all = entries_now(env);
    gboolean ok = all->len == n;
    for (guint i = 0; ok && i < all->len; i++) ok = ((MaSpoolEntry *) all->pdata[i])->attempts == attempts;
    if (ok) return ((MaSpoolEntry *) all->pdata[0])->next_attempt_at;
    g_assert_cmpint(g_get_monotonic_time(), <, deadline);
    g_usleep(5000);
  }
}

/* The archive fails temporarily 14 times in a row (more than the old cap of 10 attempts): the
 * batch is deferred as a whole, one attempt per backoff step on the test clock (1, 2, 4, 8 s,
 * then the 8 s cap set here), nothing is attempted while the clock stands still, and when the
 * archive works again every message is archived once and the spool is empty. */
static void test_temporary_failures_back_off(void)
{
  Env env = {0};
  env_open(&env);
  env.cfg->retry_max_backoff = 8;
  g_autoptr(GError) error = NULL;
  gint64 t = 1800000000000;
  ma_clock_set_for_test(t);
  g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func((GDestroyNotify) ma_spool_entry_free);
  for (int i = 0; i < 5; i++) {
    g_autofree char *raw = message(i);
    g_autofree char *sid = g_strdup_printf("temp-%02d", i);
    g_ptr_array_add(entries, entry(env.ent, sid, raw));
  }
  g_assert_cmpint(pipeline_workers_start(env.cfg, 1, &error), ==, 0);
  guint64 before = pipeline_workers_processed();
  pipeline_workers_fault_inject_commit_failures(14);
  put(&env, entries); /* after the injection: the first commit already fails */
  pipeline_workers_notify();
  const int failures = 14;
  for (int k = 1; k <= failures; k++) {
    gint64 next = wait_attempts(&env, k, 5);
    gint64 want = MIN((gint64) 1000 << (k - 1), 8000);
    g_assert_cmpint(next - t, ==, want);
    /* the clock stands still: a poll or a wake-up makes no new attempt */
    pipeline_workers_notify();
    g_usleep(20000);
    g_autoptr(GPtrArray) now = entries_now(&env);
    g_assert_cmpint(((MaSpoolEntry *) now->pdata[0])->attempts, ==, k);
    g_assert_cmpuint(pipeline_workers_processed(), ==, before);
    t = next;
    ma_clock_set_for_test(t);
    pipeline_workers_notify();
  }
  wait_processed(before + 5);
  pipeline_workers_stop();
  g_assert_cmpint(archived(&env), ==, 5);
  g_assert_cmpint(depth(&env), ==, 0);
  ma_clock_set_for_test(0);
  env_close(&env);
}

/* A dead entry (its enterprise is gone) is listed with why; retry offers it again (and it dies
 * again, attempts counted from 0); purge removes it for good. */
static void test_dead_entry_retry(void)
{
  Env env = {0};
  env_open(&env);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func((GDestroyNotify) ma_spool_entry_free);
  g_ptr_array_add(entries, entry("gone-enterprise", "orphan", "From: a@b.example\r\n\r\nx\r\n"));
  put(&env, entries);
  guint64 before = pipeline_workers_processed(); /* before the start: the worker may be quicker */
  g_assert_cmpint(pipeline_workers_start(env.cfg, 1, &error), ==, 0);
  wait_processed(before + 1);
  g_autoptr(GPtrArray) all = entries_now(&env);
  g_assert_cmpuint(all->len, ==, 1);
  MaSpoolEntry *e = all->pdata[0];
  g_assert_cmpstr(ma_spool_entry_state(e), ==, "dead");
  g_assert_cmpint(e->attempts, ==, 1);
  g_assert_nonnull(strstr(e->last_error, "gone-enterprise"));

  MaSpool *sp = NULL;
  g_assert_cmpint(spool_open(env.dir, &sp, &error), ==, 0);
  g_assert_cmpint(spool_retry(sp, "orphan", &error), ==, 1);
  pipeline_workers_notify();
  wait_processed(before + 2);
  g_autoptr(GPtrArray) again = entries_now(&env);
  g_assert_cmpstr(ma_spool_entry_state(again->pdata[0]), ==, "dead");
  g_assert_cmpint(((MaSpoolEntry *) again->pdata[0])->attempts, ==, 1);
  g_assert_cmpint(spool_purge(sp, "orphan", &error), ==, 1);
  spool_close(&sp);
  pipeline_workers_stop();
  g_assert_cmpint(dead(&env), ==, 0);
  g_assert_cmpint(depth(&env), ==, 0);
  env_close(&env);
}

/* The read hook of test_stale_read: the first worker to read the one entry waits there until the
 * entry has been processed (by the other worker, when it can read meanwhile) or a bound passes. */
static gint stale_reader = -1;
static guint64 processed_base; /* pipeline_workers_processed() counts since the process started */
static void hold_first_reader(int worker, guint entries)
{
  if (entries == 0 || !g_atomic_int_compare_and_exchange(&stale_reader, -1, worker)) return;
  gint64 deadline = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;
  while (pipeline_workers_processed() < processed_base + 1 && g_get_monotonic_time() < deadline) g_usleep(10000);
}

/* Worker A has read the spool (one entry) and not yet claimed from its read; worker B takes the
 * entry, archives it and removes it from the spool. A must not then take it from its stale read: it
 * would find the spool file gone, park the entry as dead and count a failure (the cluster bench's
 * 10,043 messages processed of 10,000). Either B waits for A's claims, or A sees B's claim. */
static void test_stale_read(void)
{
  Env env = {0};
  env_open(&env);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func((GDestroyNotify) ma_spool_entry_free);
  g_autofree char *raw = message(1);
  g_ptr_array_add(entries, entry(env.ent, "spool-once", raw));
  put(&env, entries);
  gint64 failed_before = ma_metrics_get(MA_METRIC_MESSAGES_FAILED);
  processed_base = pipeline_workers_processed();
  pipeline_workers_set_read_hook(hold_first_reader);
  g_assert_cmpint(pipeline_workers_start(env.cfg, 2, &error), ==, 0);
  wait_processed(processed_base + 1);
  pipeline_workers_stop();
  pipeline_workers_set_read_hook(NULL);
  g_assert_cmpint(g_atomic_int_get(&stale_reader), !=, -1); /* a worker did read the entry and wait */
  g_assert_cmpuint(pipeline_workers_processed(), ==, processed_base + 1); /* taken once */
  g_assert_cmpint(ma_metrics_get(MA_METRIC_MESSAGES_FAILED) - failed_before, ==, 0);
  g_assert_cmpint(archived(&env), ==, 1);
  g_assert_cmpint(depth(&env), ==, 0);
  g_assert_cmpint(dead(&env), ==, 0);
  env_close(&env);
}

static void wait_deferrals(guint64 want)
{
  gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
  while (pipeline_workers_deferrals() < want && g_get_monotonic_time() < deadline) g_usleep(10000);
  g_assert_cmpuint(pipeline_workers_deferrals(), >=, want);
}

static void wait_window_closed(void)
{
  gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
  while (pipeline_workers_burst_open() && g_get_monotonic_time() < deadline) g_usleep(10000);
  g_assert_false(pipeline_workers_burst_open());
}

/* A burst: n entries land in the spool and the listener reports them (the window opens), one step
 * for the workers, held meanwhile: a worker reading between the two would archive the entries (no
 * window yet), or, reading before the put in the reverse order, find the spool drained and close the
 * window. Then both workers decide, and defer: nothing is archived. */
static void burst(Env *env, const char *prefix, int first, int n, guint64 processed_before)
{
  g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func((GDestroyNotify) ma_spool_entry_free);
  for (int i = first; i < first + n; i++) {
    g_autofree char *raw = message(i);
    g_autofree char *sid = g_strdup_printf("%s-%03d", prefix, i);
    g_ptr_array_add(entries, entry(env->ent, sid, raw));
  }
  g_assert_true(pipeline_workers_hold_for_test(TRUE));
  put(env, entries);
  pipeline_workers_spooled((guint) n);
  guint64 d = pipeline_workers_deferrals();
  g_assert_true(pipeline_workers_hold_for_test(FALSE));
  wait_deferrals(d + 2); /* each worker decided after the put, and waited */
  g_assert_cmpuint(pipeline_workers_processed(), ==, processed_before);
}

/* The listener stays busy (quiet interval of a minute) and the test clock stands still, so only
 * the bounds let the workers go: the window's age ([pipeline] defer_max on ma_now_ms()'s clock),
 * its backlog (defer_backlog), the end of the burst, and stop. Each time every spooled message is
 * archived once, and a drained spool closes the window so that the next burst is deferred again. */
static void test_burst_deferral(void)
{
  Env env = {0};
  env_open(&env);
  env.cfg->pipeline_defer_max = 5;
  env.cfg->pipeline_defer_backlog = 5;
  g_autoptr(GError) error = NULL;
  gint64 t = 1800000000000;
  ma_clock_set_for_test(t);
  pipeline_workers_set_quiet_for_test(60000);
  guint64 before = pipeline_workers_processed();
  g_assert_cmpint(pipeline_workers_start(env.cfg, 2, &error), ==, 0);

  /* the age bound: 4 messages (under the backlog bound) wait until the window is 5 s old */
  burst(&env, "age", 0, 4, before);
  ma_clock_set_for_test(t + 4999);
  guint64 d = pipeline_workers_deferrals();
  pipeline_workers_notify();
  wait_deferrals(d + 2);
  g_assert_cmpuint(pipeline_workers_processed(), ==, before);
  ma_clock_set_for_test(t + 5000);
  pipeline_workers_notify();
  wait_processed(before + 4);
  wait_window_closed();
  g_assert_cmpint(depth(&env), ==, 0);

  /* the backlog bound: 3 wait; 3 more make 6 >= 5 and all go, the clock still standing */
  burst(&env, "backlog", 10, 3, before + 4);
  g_autoptr(GPtrArray) more = g_ptr_array_new_with_free_func((GDestroyNotify) ma_spool_entry_free);
  for (int i = 13; i < 16; i++) {
    g_autofree char *raw = message(i);
    g_autofree char *sid = g_strdup_printf("backlog-%03d", i);
    g_ptr_array_add(more, entry(env.ent, sid, raw));
  }
  put(&env, more);
  pipeline_workers_spooled(3);
  wait_processed(before + 10);
  wait_window_closed();

  /* the end of the burst: the listener has been quiet for the (test's) interval */
  burst(&env, "quiet", 20, 2, before + 10);
  pipeline_workers_set_quiet_for_test(0);
  wait_processed(before + 12);
  wait_window_closed();

  /* stop during a burst drains what was acknowledged */
  pipeline_workers_set_quiet_for_test(60000);
  burst(&env, "stop", 30, 2, before + 12);
  pipeline_workers_stop();
  g_assert_cmpuint(pipeline_workers_processed(), ==, before + 14);
  g_assert_cmpint(archived(&env), ==, 14);
  g_assert_cmpint(depth(&env), ==, 0);
  g_assert_cmpint(dead(&env), ==, 0);
  pipeline_workers_set_quiet_for_test(-1);
  ma_clock_set_for_test(0);
  env_close(&env);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/workers/spool_to_archive", test_spool_to_archive);
  g_test_add_func("/workers/stop_drains", test_stop_drains);
  g_test_add_func("/workers/large_messages_in_rounds", test_large_messages_in_rounds);
  g_test_add_func("/workers/commit_failures_retry", test_commit_failures_retry);
  g_test_add_func("/workers/temporary_failures_back_off", test_temporary_failures_back_off);
  g_test_add_func("/workers/dead_entry_retry", test_dead_entry_retry);
  g_test_add_func("/workers/stale_read", test_stale_read);
  g_test_add_func("/workers/burst_deferral", test_burst_deferral);
  return g_test_run();
}
