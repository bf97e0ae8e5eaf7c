/* test_webhook.c - webhook delivery: the signature worked example of docs/webhooks.md, the
 * backoff schedule, and real delivery to tests/support/webhook_receiver.py on loopback that fails
 * (500), times out, then recovers: events arrive in order, once per idempotency key, signed;
 * delivery resumes after the sender restarts; an event is parked after max_attempts. */
#include "agent/webhook/webhook.h"
#include "agent/lib/config.h"
#include "testutil.h"

#include <glib/gstdio.h>
#include <jansson.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

static const char *doc_value(char **lines, const char *prefix)
{
  for (guint i = 0; lines[i]; i++)
    if (g_str_has_prefix(lines[i], prefix)) return lines[i] + strlen(prefix);
  g_error("docs/webhooks.md has no line starting with \"%s\"", prefix);
  return NULL;
}

static void test_doc_example(void)
{
  g_autofree char *path = g_build_filename(FIXTURES_DIR, "..", "..", "docs", "webhooks.md", NULL);
  g_autofree char *text = NULL;
  g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  const char *secret = doc_value(lines, "secret: ");
  gint64 t = g_ascii_strtoll(doc_value(lines, "t: "), NULL, 10);
  const char *body = doc_value(lines, "body: ");
  const char *header = doc_value(lines, "X-Mailagent-Signature: ");
  g_autofree char *sig = webhook_signature(secret, strlen(secret), t, body, strlen(body));
  g_assert_cmpstr(sig, ==, header);

  /* The documented body is exactly what the sender builds for that event. */
  json_t *doc = json_loads(body, 0, NULL);
  g_assert_nonnull(doc);
  char *payload = json_dumps(json_object_get(doc, "data"), JSON_COMPACT);
  MaOutboxEvent e = {.seq = 1,
                     .idempotency_key = (char *) json_string_value(json_object_get(doc, "id")),
                     .enterprise_id = (char *) json_string_value(json_object_get(doc, "enterprise_id")),
                     .event = (char *) json_string_value(json_object_get(doc, "event")),
                     .payload = payload};
  g_autofree char *built = webhook_body(&e);
  g_assert_cmpstr(built, ==, body);
  free(payload);
  json_decref(doc);

  /* A different body or time gives a different signature. */
  g_autofree char *other = webhook_signature(secret, strlen(secret), t + 1, body, strlen(body));
  g_assert_cmpstr(other, !=, header);
}

static void test_backoff(void)
{
  for (int round = 0; round < 50; round++) {
    g_assert_cmpint(webhook_backoff(1, 3600), ==, 1);
    gint64 d = webhook_backoff(5, 3600); /* 16 with jitter: 8..16 */
    g_assert_cmpint(d, >=, 8);
    g_assert_cmpint(d, <=, 16);
    d = webhook_backoff(30, 3600); /* capped */
    g_assert_cmpint(d, >=, 1800);
    g_assert_cmpint(d, <=, 3600);
    d = webhook_backoff(1000, 60);
    g_assert_cmpint(d, <=, 60);
  }
}

/* With the default settings (20 attempts, 3600 s cap) an event outlives a CRM outage of an hour
 * by a wide margin, whatever the jitter draws. */
static void test_schedule_covers_an_hour(void)
{
  g_autoptr(GError) error = NULL;
  MaConfig *cfg = ma_config_load(NULL, &error);
  g_assert_no_error(error);
  for (int round = 0; round < 100; round++) {
    gint64 total = 0;
    for (int attempts = 1; attempts < cfg->webhook_max_attempts; attempts++)
      total += webhook_backoff(attempts, cfg->webhook_max_backoff);
    g_assert_cmpint(total, >=, 3 * 3600);
  }
  ma_config_free(cfg);
}

/* ---- real delivery ------------------------------------------------------------------------- */

typedef struct {
  char *dir;
  char *secret_file;
  char *log;
  GPid receiver;
  int port;
  MaConfig *cfg;
  MaStorage *st;
} Env;

static void env_start_receiver(Env *env, const char *plan)
{
  g_autofree char *port_file = g_build_filename(env->dir, "port", NULL);
  g_unlink(port_file);
  g_autofree char *script = g_build_filename(FIXTURES_DIR, "..", "support", "webhook_receiver.py", NULL);
  g_autofree char *plan_arg = g_strdup_printf("--plan=%s", plan);
  char *argv[] = {"/usr/bin/python3", script, "--port-file", port_file, "--log", env->log, "--secret-file",
                  env->secret_file, plan_arg, "--stall", "4", NULL};
  g_autoptr(GError) error = NULL;
  g_assert_true(g_spawn_async(NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &env->receiver, &error));
  g_assert_no_error(error);
  for (int i = 0; i < 200 && !g_file_test(port_file, G_FILE_TEST_EXISTS); i++) g_usleep(25000);
  g_autofree char *port = NULL;
  g_assert_true(g_file_get_contents(port_file, &port, NULL, NULL));
  env->port = atoi(port);
  g_assert_cmpint(env->port, >, 0);
}

static void env_init(Env *env, const char *plan, int max_attempts)
{
  memset(env, 0, sizeof *env);
  env->dir = testutil_tempdir("test_webhook_XXXXXX");
  env->secret_file = g_build_filename(env->dir, "secret", NULL);
  env->log = g_build_filename(env->dir, "received.jsonl", NULL);
  g_assert_true(g_file_set_contents(env->secret_file, "s3cret-for-tests\n", -1, NULL));
  env_start_receiver(env, plan);
  g_autofree char *data = g_build_filename(env->dir, "data", NULL);
  g_mkdir(data, 0700);
  g_autofree char *conf = g_strdup_printf("[storage]\ndata_dir=%s\n[webhook]\nurl=http://127.0.0.1:%d/hook\n"
                                          "secret_file=%s\ntimeout=2\nmax_attempts=%d\nmax_backoff=2\n",
                                          data, env->port, env->secret_file, max_attempts);
  g_autofree char *conf_file = g_build_filename(env->dir, "mailagent.conf", NULL);
  g_assert_true(g_file_set_contents(conf_file, conf, -1, NULL));
  g_autoptr(GError) error = NULL;
  env->cfg = ma_config_load(conf_file, &error);
  g_assert_no_error(error);
  g_assert_cmpint(storage_open(data, TRUE, &env->st, &error), ==, 0);
  g_assert_no_error(error);
}

static void env_free(Env *env)
{
  webhook_stop();
  if (env->receiver) {
    kill(env->receiver, SIGTERM);
    waitpid(env->receiver, NULL, 0);
    g_spawn_close_pid(env->receiver);
  }
  storage_close(&env->st);
  ma_config_free(env->cfg);
  testutil_rm_rf(env->dir);
  g_free(env->dir);
  g_free(env->secret_file);
  g_free(env->log);
}

static void add_event(Env *env, const char *ent, const char *key, const char *event)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *payload = g_strdup_printf("{\"key\":\"%s\",\"text\":\"caf\\u00e9\"}", key);
  g_assert_cmpint(storage_outbox_add(env->st, ent, event, key, payload, g_get_real_time() / G_USEC_PER_SEC, &error),
                  ==, 1);
  g_assert_no_error(error);
}

static void wait_backlog_empty(Env *env, int seconds)
{
  for (int i = 0; i < seconds * 10; i++) {
    gint64 n = -1;
    g_autoptr(GError) error = NULL;
    g_assert_cmpint(storage_outbox_backlog(env->st, &n, &error), ==, 0);
    if (n == 0) return;
    g_usleep(100000);
  }
  g_error("outbox backlog not drained within %d s", seconds);
}

/* The receiver's log as an array of objects. */
static json_t *read_log(Env *env)
{
  json_t *arr = json_array();
  g_autofree char *text = NULL;
  if (!g_file_get_contents(env->log, &text, NULL, NULL)) return arr;
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  for (guint i = 0; lines[i]; i++) {
    if (!*lines[i]) continue;
    json_t *o = json_loads(lines[i], 0, NULL);
    g_assert_nonnull(o);
    json_array_append_new(arr, o);
  }
  return arr;
}

static const char *lstr(json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

/* Checks the accepted requests are exactly keys[] in order, once each, signed and well formed. */
static void check_accepted(json_t *log, const char *const *keys, guint n)
{
  guint seen = 0;
  size_t i;
  json_t *o;
  json_array_foreach(log, i, o) {
    const char *outcome = lstr(o, "outcome");
    g_assert_cmpstr(outcome, !=, "duplicate");
    g_assert_cmpstr(outcome, !=, "bad_signature");
    g_assert_cmpstr(outcome, !=, "stale");
    if (strcmp(outcome, "accepted") != 0) continue;
    g_assert_cmpuint(seen, <, n);
    g_assert_cmpstr(lstr(o, "key"), ==, keys[seen]);
    g_assert_cmpstr(lstr(o, "content_type"), ==, "application/json");
    /* Verify the signature here too, independently of the receiver. */
    const char *body = lstr(o, "body");
    gint64 t = json_integer_value(json_object_get(o, "t"));
    g_autofree char *sig = webhook_signature("s3cret-for-tests", 16, t, body, strlen(body));
    g_assert_cmpstr(lstr(o, "signature"), ==, sig);
    json_t *doc = json_loads(body, 0, NULL);
    g_assert_nonnull(doc);
    g_assert_cmpstr(lstr(doc, "id"), ==, keys[seen]);
    g_assert_cmpstr(lstr(doc, "event"), ==, lstr(o, "event"));
    g_assert_cmpstr(lstr(json_object_get(doc, "data"), "key"), ==, keys[seen]);
    g_assert_cmpstr(lstr(json_object_get(doc, "data"), "text"), ==, "café");
    json_decref(doc);
    seen++;
  }
  g_assert_cmpuint(seen, ==, n);
}

static void test_fail_timeout_recover_restart(void)
{
  Env env;
  env_init(&env, "500,stall", 10);
  add_event(&env, "ent-a", "k1", "message.archived");
  add_event(&env, "ent-a", "k2", "activity.created");
  add_event(&env, "ent-a", "k3", "message.archived");
  g_autoptr(GError) error = NULL;
  guint64 before = webhook_delivered_count();
  g_assert_cmpint(webhook_start(env.cfg, &error), ==, 0);
  g_assert_no_error(error);
  webhook_notify();
  wait_backlog_empty(&env, 30);
  g_assert_cmpuint(webhook_delivered_count() - before, ==, 3);

  json_t *log = read_log(&env);
  /* k1 failed with 500, then timed out, then went through; k2 and k3 waited behind it. */
  g_assert_cmpuint(json_array_size(log), ==, 5);
  g_assert_cmpstr(lstr(json_array_get(log, 0), "key"), ==, "k1");
  g_assert_cmpstr(lstr(json_array_get(log, 0), "outcome"), ==, "failed_500");
  g_assert_cmpstr(lstr(json_array_get(log, 1), "key"), ==, "k1");
  g_assert_cmpstr(lstr(json_array_get(log, 1), "outcome"), ==, "stalled");
  static const char *const keys1[] = {"k1", "k2", "k3"};
  check_accepted(log, keys1, 3);
  json_decref(log);

  /* Stop the sender, queue more (CRM side unchanged), restart: delivery resumes. */
  webhook_stop();
  add_event(&env, "ent-a", "k4", "activity.created");
  add_event(&env, "ent-b", "k5", "message.archived");
  g_assert_cmpint(webhook_start(env.cfg, &error), ==, 0);
  wait_backlog_empty(&env, 30);
  log = read_log(&env);
  static const char *const keys2[] = {"k1", "k2", "k3", "k4", "k5"};
  check_accepted(log, keys2, 5);
  json_decref(log);
  env_free(&env);
}

static void test_dead_after_max_attempts(void)
{
  Env env;
  env_init(&env, "500,500", 2);
  add_event(&env, "ent-a", "d1", "message.archived");
  add_event(&env, "ent-a", "d2", "message.archived");
  g_autoptr(GError) error = NULL;
  g_assert_cmpint(webhook_start(env.cfg, &error), ==, 0);
  wait_backlog_empty(&env, 30);
  json_t *log = read_log(&env);
  g_assert_cmpuint(json_array_size(log), ==, 3);
  static const char *const keys[] = {"d2"}; /* d1 parked after two failures */
  check_accepted(log, keys, 1);
  json_decref(log);
  env_free(&env);
}

/* A failing event holds back later events of its enterprise only. */
static void test_order_per_enterprise(void)
{
  Env env;
  env_init(&env, "500", 10);
  add_event(&env, "ent-a", "a1", "message.archived");
  add_event(&env, "ent-a", "a2", "message.archived");
  add_event(&env, "ent-b", "b1", "message.archived");
  g_autoptr(GError) error = NULL;
  g_assert_cmpint(webhook_start(env.cfg, &error), ==, 0);
  wait_backlog_empty(&env, 30);
  json_t *log = read_log(&env);
  g_assert_cmpuint(json_array_size(log), ==, 4);
  g_assert_cmpstr(lstr(json_array_get(log, 0), "key"), ==, "a1");
  g_assert_cmpstr(lstr(json_array_get(log, 0), "outcome"), ==, "failed_500");
  /* b1 went out while a1 waited for its retry; a2 waited behind a1. */
  static const char *const keys[] = {"b1", "a1", "a2"};
  check_accepted(log, keys, 3);
  json_decref(log);
  env_free(&env);
}

static void test_config_errors(void)
{
  g_autoptr(GError) error = NULL;
  MaConfig *cfg = ma_config_load(NULL, &error);
  g_assert_no_error(error);
  /* No url: nothing to do, not an error. */
  g_assert_cmpint(webhook_start(cfg, &error), ==, 0);
  webhook_stop();
  cfg->webhook_url = g_strdup("http://127.0.0.1:9/hook");
  g_assert_cmpint(webhook_start(cfg, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_INVALID);
  g_clear_error(&error);
  g_free(cfg->webhook_url);
  cfg->webhook_url = g_strdup("ftp://example/hook");
  cfg->webhook_secret_file = g_strdup("/nonexistent");
  g_assert_cmpint(webhook_start(cfg, &error), ==, -1);
  g_clear_error(&error);
  ma_config_free(cfg);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/webhook/doc_example", test_doc_example);
  g_test_add_func("/webhook/backoff", test_backoff);
  g_test_add_func("/webhook/schedule_covers_an_hour", test_schedule_covers_an_hour);
  g_test_add_func("/webhook/config_errors", test_config_errors);
  g_test_add_func("/webhook/fail_timeout_recover_restart", test_fail_timeout_recover_restart);
  g_test_add_func("/webhook/dead_after_max_attempts", test_dead_after_max_attempts);
  g_test_add_func("/webhook/order_per_enterprise", test_order_per_enterprise);
  return g_test_run();
}
