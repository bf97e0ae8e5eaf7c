/* test_pipeline_workers.c - the worker pool against a real spool and database: what the spool holds
 * at start is archived; notify wakes the workers; unreadable mail and an unknown enterprise finish
 * their entries instead of looping; a replayed spool id adds nothing; stop drains the spool. */
#include "testutil.h"
#include "agent/lib/clock.h"
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
  g_assert_cmpint(archived(&env), ==, n);

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
  g_assert_cmpint(archived(&env), ==, n + 1);
  g_assert_cmpint(depth(&env), ==, 0);

  MaStorage *st = NULL;
  g_assert_cmpint(storage_open(env.dir, FALSE, &st, &error), ==, 0);
  g_autofree char *id = NULL;
  char key[65] = "";
  g_assert_cmpint(storage_message_find_duplicate(st, env.ent, "order-0@globex.example", key, &id, &error), ==, 1);
  g_autoptr(GPtrArray) prov = g_ptr_array_new_with_free_func((GDestroyNotify) ma_provenance_free);
  g_assert_cmpint(storage_provenance_list(st, env.ent, id, prov, &error), ==, 0);
  g_assert_cmpuint(prov->len, ==, 2); /* spool-000 once (replay added nothing) + spool-copy */
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

/* Failed commits (TEMPFAIL, as a failing fsync gives) never lose an entry: the batch is rolled
 * back, the entries are retried alone, the one whose commit failed is counted and retried after
 * its backoff, and in the end every message is archived exactly once. */
static void test_commit_failures_retry(void)
{
  Env env = {0};
  env_open(&env);
  g_autoptr(GError) error = NULL;
  g_assert_cmpint(pipeline_workers_start(env.cfg, 1, &error), ==, 0);
  guint64 before = pipeline_workers_processed();
  pipeline_workers_fault_inject_commit_failures(2); /* the batch commit and the first lone retry */
  g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func((GDestroyNotify) ma_spool_entry_free);
  for (int i = 0; i < 10; i++) {
    g_autofree char *raw = message(i);
    g_autofree char *sid = g_strdup_printf("fail-%02d", i);
    g_ptr_array_add(entries, entry(env.ent, sid, raw));
  }
  put(&env, entries);
  pipeline_workers_notify();
  wait_processed(before + 10); /* the failed one comes back after its 1 s backoff */
  pipeline_workers_stop();
  g_assert_cmpint(archived(&env), ==, 10);
  g_assert_cmpint(depth(&env), ==, 0);
  env_close(&env);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/workers/spool_to_archive", test_spool_to_archive);
  g_test_add_func("/workers/stop_drains", test_stop_drains);
  g_test_add_func("/workers/commit_failures_retry", test_commit_failures_retry);
  return g_test_run();
}
