/* test_retention.c - agent/retention: retention_days per enterprise (0 keeps everything), the
 * boundary (archived exactly N days ago stays), counts across enterprises, and a run with
 * nothing to delete still succeeding (it compacts). */
#include "agent/retention/retention.h"
#include "agent/tenant/settings.h"

#include "testutil.h"

#include <string.h>

#define DAY 86400
#define NOW 1800000000

static void add_enterprise(MaStorage *st, const char *id)
{
  MaEnterprise e = {.id = (char *)id, .slug = (char *)id, .name = (char *)id, .created_at = 1};
  g_assert_cmpint(storage_enterprise_create(st, &e, NULL), ==, 0);
}

static void archive(MaStorage *st, const char *ent, const char *id, gint64 archived_at)
{
  GError *error = NULL;
  MaStoredMessage *m = ma_stored_message_new();
  m->id = g_strdup(id);
  m->enterprise_id = g_strdup(ent);
  m->dedup_key = g_strdup(id);
  m->subject = g_strdup("kept or not");
  m->text = g_strdup("retention words");
  m->date = archived_at;
  m->archived_at = archived_at;
  g_assert_cmpint(storage_message_insert(st, m, &error), ==, 0);
  g_assert_cmpint(storage_search_index(st, m, &error), ==, 0);
  ma_stored_message_free(m);
}

static gboolean exists(MaStorage *st, const char *ent, const char *id)
{
  MaStoredMessage *m = NULL;
  int rc = storage_message_get(st, ent, id, &m, NULL);
  ma_stored_message_free(m);
  g_assert_cmpint(rc, >=, 0);
  return rc == 1;
}

static void test_retention_days(void)
{
  g_autofree char *dir = testutil_tempdir("ma-retention-XXXXXX");
  MaStorage *st = NULL;
  GError *error = NULL;
  g_assert_cmpint(storage_open(dir, TRUE, &st, &error), ==, 0);
  add_enterprise(st, "short");
  add_enterprise(st, "keep");
  g_assert_cmpint(settings_set(st, "short", "retention_days", "30", &error), ==, 0);
  archive(st, "short", "old", NOW - 31 * DAY);
  archive(st, "short", "edge", NOW - 30 * DAY);
  archive(st, "short", "new", NOW - DAY);
  archive(st, "keep", "ancient", NOW - 3000 * DAY);

  MaEraseCounts c = {0};
  g_assert_cmpint(retention_run_all(st, NOW, &c, &error), ==, 0);
  g_assert_no_error(error);
  g_assert_cmpint(c.messages, ==, 1);
  g_assert_cmpint(c.index_entries, ==, 1);
  g_assert_false(exists(st, "short", "old"));
  g_assert_true(exists(st, "short", "edge")); /* exactly 30 days: not older than 30 */
  g_assert_true(exists(st, "short", "new"));
  g_assert_true(exists(st, "keep", "ancient")); /* retention_days 0 (the default) keeps */

  /* a day later the edge expires; a run with nothing left to delete still succeeds */
  MaEraseCounts c2 = {0};
  g_assert_cmpint(retention_expire(st, "short", NOW + DAY, &c2, &error), ==, 0);
  g_assert_cmpint(c2.messages, ==, 1);
  MaEraseCounts c3 = {0};
  g_assert_cmpint(retention_run_all(st, NOW + DAY, &c3, &error), ==, 0);
  g_assert_cmpint(c3.messages, ==, 0);

  /* refused values */
  g_assert_cmpint(settings_set(st, "short", "retention_days", "-1", &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_INVALID);
  g_clear_error(&error);
  g_assert_cmpint(settings_set(st, "short", "retention_days", "36501", &error), ==, -1);
  g_clear_error(&error);
  storage_close(&st);
  testutil_rm_rf(dir);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/retention/days", test_retention_days);
  return g_test_run();
}
