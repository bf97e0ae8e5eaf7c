/* test_pipeline_budget.c - hostile rules cannot stall the archive (issue 9): an enterprise with 10
 * rules of `participants matches "(a+)+$"` and a message with 3,000 such addresses once held the
 * global write lock for 257 s while every other tenant's mail waited. Now the rules are evaluated
 * before the write transaction opens (evaluate, then write) under a budget per message:
 * - pipeline_prepare runs the hostile rules to the end of their budget while another connection
 *   holds the database's write lock (so it never needs it), then the message is archived with no
 *   activity and the result says the budget ran out;
 * - through the worker pool, the hostile message and another tenant's message spooled after it are
 *   both archived; the other tenant's rule creates its activity, the hostile one creates none, and
 *   mailagent_rules_budget_exhausted_total counts exactly one message.
 */
#include "testutil.h"
#include "agent/lib/clock.h"
#include "agent/lib/metrics.h"
#include "agent/pipeline/pipeline.h"
#include "rules/rules.h"
#include "storage/spool.h"

#include <string.h>

#define ADDRESSES 3000

typedef struct {
  char *dir;
  MaConfig *cfg;
  char *hostile;
  char *calm;
} Env;

static char *enterprise(MaStorage *st, const char *slug, const char *rules)
{
  g_autoptr(GError) error = NULL;
  MaEnterprise e = {0};
  e.id = ma_id_new();
  e.slug = (char *) slug;
  e.name = (char *) slug;
  e.inbound_local = g_strconcat(slug, "-x1", NULL);
  e.domains = g_ptr_array_new();
  g_ptr_array_add(e.domains, g_strconcat(slug, ".example", NULL));
  g_assert_cmpint(storage_enterprise_create(st, &e, &error), ==, 0);
  g_free(e.domains->pdata[0]);
  g_ptr_array_unref(e.domains);
  g_free(e.inbound_local);
  MaRecord *r = ma_record_new(MA_RECORD_CONTACT, "con-1");
  r->name = g_strdup("Hank");
  g_ptr_array_add(r->emails, g_strdup("hank@globex.example"));
  g_assert_cmpint(storage_record_upsert(st, e.id, r, &error), ==, 0);
  ma_record_free(r);
  g_assert_cmpint(storage_rules_put(st, e.id, rules, &error), ==, 0);
  g_assert_no_error(error);
  return e.id;
}

static char *hostile_rules(void)
{
  GString *json = g_string_new("[");
  for (int i = 0; i < 10; i++)
    g_string_append_printf(json,
                           "%s{\"id\":\"h%d\",\"name\":\"h%d\",\"enabled\":true,\"object_types\":[\"contact\"],"
                           "\"match\":\"all\",\"conditions\":[{\"field\":\"participants\",\"op\":\"matches\","
                           "\"value\":\"(a+)+$\",\"case_sensitive\":true}],"
                           "\"action\":{\"activity_type\":\"task\",\"title\":\"t\",\"content\":\"c\"}}",
                           i ? "," : "", i, i);
  g_string_append(json, "]");
  return g_string_free(json, FALSE);
}

static const char calm_rules[] =
  "[{\"id\":\"c1\",\"name\":\"orders\",\"enabled\":true,\"object_types\":[\"contact\"],\"match\":\"all\","
  "\"conditions\":[{\"field\":\"subject\",\"op\":\"contains\",\"value\":\"order\"}],"
  "\"action\":{\"activity_type\":\"task\",\"title\":\"{{subject}}\",\"content\":\"{{snippet}}\"}}]";

static void env_open(Env *env)
{
  g_autoptr(GError) error = NULL;
  env->dir = g_dir_make_tmp("ma-budget-XXXXXX", &error);
  g_assert_no_error(error);
  env->cfg = ma_config_load(NULL, &error);
  g_assert_no_error(error);
  g_free(env->cfg->data_dir);
  env->cfg->data_dir = g_strdup(env->dir);
  MaStorage *st = NULL;
  g_assert_cmpint(storage_open(env->dir, TRUE, &st, &error), ==, 0);
  g_autofree char *hostile = hostile_rules();
  env->hostile = enterprise(st, "hostile", hostile);
  env->calm = enterprise(st, "calm", calm_rules);
  storage_close(&st);
}

static void env_close(Env *env)
{
  testutil_rm_rf(env->dir);
  g_free(env->dir);
  g_free(env->hostile);
  g_free(env->calm);
  ma_config_free(env->cfg);
}

/* From the contact to 3,000 addresses "aaaaaaaaaaaaaaaaaaaa<i>@x.ex" (half in To, half in Cc, so
 * each field stays under the 64 KB header field limit). */
static char *hostile_message(void)
{
  GString *m = g_string_new("From: Hank <hank@globex.example>\r\nSubject: crowd\r\n"
                            "Date: Mon, 04 Mar 2024 10:00:00 +0000\r\nMessage-ID: <crowd@globex.example>\r\n");
  for (int half = 0; half < 2; half++) {
    g_string_append(m, half ? "Cc: " : "To: ");
    for (int i = 0; i < ADDRESSES / 2; i++)
      g_string_append_printf(m, "%saaaaaaaaaaaaaaaaaaaa%d@x.ex", i ? ",\r\n " : "", half * ADDRESSES / 2 + i);
    g_string_append(m, "\r\n");
  }
  g_string_append(m, "\r\nHello.\r\n");
  return g_string_free(m, FALSE);
}

static const char calm_message[] = "From: Hank <hank@globex.example>\r\nTo: alice@calm.example\r\nSubject: Order 7\r\n"
                                   "Date: Mon, 04 Mar 2024 10:01:00 +0000\r\nMessage-ID: <order-7@globex.example>\r\n"
                                   "\r\nOrder number 7.\r\n";

static void test_rules_run_without_the_write_lock(void)
{
  Env env = {0};
  env_open(&env);
  g_autoptr(GError) error = NULL;
  MaStorage *st = NULL, *holder = NULL;
  g_assert_cmpint(storage_open(env.dir, FALSE, &st, &error), ==, 0);
  g_assert_cmpint(storage_open(env.dir, FALSE, &holder, &error), ==, 0);
  MaPipeline *p = pipeline_new(st, env.cfg);
  g_autofree char *raw = hostile_message();
  MaParsedMessage *pm = pipeline_parse(p, raw, strlen(raw));
  MaProvenance *prov = ma_provenance_new("smtp");

  /* another connection holds the write lock for the whole evaluation */
  g_assert_cmpint(storage_begin_batch(holder, &error), ==, 0);
  MaRecord *r = ma_record_new(MA_RECORD_CONTACT, "con-2");
  g_assert_cmpint(storage_record_upsert(holder, env.calm, r, &error), ==, 0);
  ma_record_free(r);
  g_assert_cmpint(pipeline_prepare(p, env.hostile, pm, prov, &error), ==, 0);
  g_assert_no_error(error);
  g_assert_cmpint(storage_commit(holder, &error), ==, 0);

  MaIngestResult *res = NULL;
  g_assert_cmpint(storage_begin_batch(st, &error), ==, 0);
  g_assert_cmpint(pipeline_ingest_parsed_in_tx(p, env.hostile, pm, prov, &res, &error), ==, 0);
  g_assert_cmpint(storage_commit(st, &error), ==, 0);
  g_assert_cmpint(res->outcome, ==, MA_INGEST_ARCHIVED); /* the archive commits anyway */
  g_assert_cmpuint(res->participants->len, ==, 2000); /* agent/mime keeps the first 2,000 participants */
  g_assert_true(res->rules_budget_exhausted);
  g_assert_cmpuint(res->rules_units, ==, RULES_MESSAGE_BUDGET);
  g_assert_cmpint(res->activities_created, ==, 0);
  ma_ingest_result_free(res);

  /* the other tenant, same pipeline: its rule still creates its activity */
  g_assert_cmpint(pipeline_ingest(p, env.calm, calm_message, strlen(calm_message), prov, &res, &error), ==, 0);
  g_assert_cmpint(res->outcome, ==, MA_INGEST_ARCHIVED);
  g_assert_false(res->rules_budget_exhausted);
  g_assert_cmpint(res->activities_created, ==, 1);
  ma_ingest_result_free(res);

  ma_provenance_free(prov);
  pipeline_parsed_free(pm);
  pipeline_free(p);
  storage_close(&holder);
  storage_close(&st);
  env_close(&env);
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
  g_ptr_array_add(e->rcpts, g_strdup("x@inbound.localhost"));
  e->received_at = ma_now();
  e->data = g_bytes_new(raw, strlen(raw));
  return e;
}

/* (messages, activities) on the contact's timeline in enterprise ent. */
static void timeline_counts(MaStorage *st, const char *ent, int *messages, int *activities)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func((GDestroyNotify) ma_timeline_item_free);
  MaTimelineFilter filter = {.has_attachment = -1};
  g_autofree char *next = NULL;
  g_assert_cmpint(storage_timeline(st, ent, MA_RECORD_CONTACT, "con-1", &filter, NULL, 50, items, &next, &error), ==, 0);
  *messages = *activities = 0;
  for (guint i = 0; i < items->len; i++) {
    const MaTimelineItem *it = items->pdata[i];
    if (it->is_activity) (*activities)++;
    else (*messages)++;
  }
}

static void test_workers_archive_every_tenant(void)
{
  Env env = {0};
  env_open(&env);
  g_autoptr(GError) error = NULL;
  g_autofree char *raw = hostile_message();
  g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func((GDestroyNotify) ma_spool_entry_free);
  g_ptr_array_add(entries, entry(env.hostile, "spool-hostile", raw));
  g_ptr_array_add(entries, entry(env.calm, "spool-calm", calm_message));
  MaSpool *sp = NULL;
  g_assert_cmpint(spool_open(env.dir, &sp, &error), ==, 0);
  g_assert_cmpint(spool_put(sp, (MaSpoolEntry *const *) entries->pdata, entries->len, &error), ==, 0);
  spool_close(&sp);

  ma_metrics_reset();
  g_assert_cmpint(pipeline_workers_start(env.cfg, 1, &error), ==, 0);
  gint64 deadline = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;
  while (pipeline_workers_processed() < 2 && g_get_monotonic_time() < deadline) g_usleep(10000);
  pipeline_workers_stop();
  g_assert_cmpuint(pipeline_workers_processed(), ==, 2);
  g_assert_cmpint(ma_metrics_get(MA_METRIC_MESSAGES_ARCHIVED), ==, 2);
  g_assert_cmpint(ma_metrics_get(MA_METRIC_RULES_BUDGET_EXHAUSTED), ==, 1);
  g_assert_cmpint(ma_metrics_get(MA_METRIC_ACTIVITIES_CREATED), ==, 1);

  MaStorage *st = NULL;
  g_assert_cmpint(storage_open(env.dir, FALSE, &st, &error), ==, 0);
  int messages, activities;
  timeline_counts(st, env.calm, &messages, &activities);
  g_assert_cmpint(messages, ==, 1);
  g_assert_cmpint(activities, ==, 1);
  timeline_counts(st, env.hostile, &messages, &activities);
  g_assert_cmpint(messages, ==, 1);
  g_assert_cmpint(activities, ==, 0);
  storage_close(&st);
  env_close(&env);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/pipeline/budget/rules_run_without_the_write_lock", test_rules_run_without_the_write_lock);
  g_test_add_func("/pipeline/budget/workers_archive_every_tenant", test_workers_archive_every_tenant);
  return g_test_run();
}
