/* test_pipeline_settings.c - the per-enterprise settings registry (agent/lib/settings.c, tested
 * here because it reads and writes through storage): validation and canonical forms table-driven,
 * unknown keys refused by name, defaults, public-domain list edits, CIDR lists and the forwarder
 * network check, the config-derived forwarder_policy default, and the snapshot. */
#include "testutil.h"
#include "agent/lib/clock.h"
#include "agent/tenant/settings.h"

#include <glib/gstdio.h>
#include <string.h>

static void test_normalise(void)
{
  static const struct {
    const char *key, *value, *want; /* want NULL: refused */
  } cases[] = {
    {"archiving", "on", "on"},
    {"archiving", "OFF", "off"},
    {"archiving", "true", "on"},
    {"archiving", "no", "off"},
    {"archiving", "1", "on"},
    {"archiving", " 0 ", "off"},
    {"archiving", "maybe", NULL},
    {"archiving", "", NULL},
    {"activities", "default", ""},
    {"archive_internal", "yes", "on"},
    {"archive_unmatched", "on", "on"},
    {"ignore_plus_tags", "false", "off"},
    {"forwarder_policy", "Domain", "domain"},
    {"forwarder_policy", "any", "any"},
    {"forwarder_policy", "everyone", NULL},
    {"capture_level", "metadata", "metadata"},
    {"capture_level", "no_attachments", "no_attachments"},
    {"capture_level", "bodies", NULL},
    {"public_domains", "Example.COM, mail.example.org example.com", "example.com mail.example.org"},
    {"public_domains", "not a domain!", NULL},
    {"public_domains", "+a.example bad", NULL},
    {"public_domains", "localhost", NULL},
    {"forwarder_networks", "192.0.2.0/24, 2001:db8::/32", "192.0.2.0/24 2001:db8::/32"},
    {"forwarder_networks", "198.51.100.7", "198.51.100.7"},
    {"forwarder_networks", "192.0.2.1/24", NULL},
    {"forwarder_networks", "10.0.0.0/33", NULL},
    {"forwarder_networks", "mail.example.com", NULL},
    {"forwarder_networks", "", ""},
    {"auto_replies", "Skip", "skip"},
    {"bulk_mail", "flag", "flag"},
    {"bulk_mail", "drop", NULL},
    {"never_log", "Bob@Example.com, example.org *.Example.net", "bob@example.com example.org *.example.net"},
    {"never_log", "*@example.com", NULL},
    {"never_log", "*.com", NULL},
    {"never_log", "a@b@example.com", NULL},
    {"never_log", "not an address", NULL},
    {"never_log", "", ""},
    {"pending_days", "0", "0"},
    {"pending_days", " 30 ", "30"},
    {"pending_days", "-1", NULL},
    {"pending_days", "1000001", NULL},
    {"relink_days", "0", "0"},
    {"relink_days", "90", "90"},
    {"relink_days", "-3", NULL},
    {"loop_limit", "5", "5"},
    {"loop_window_minutes", "1.5", NULL},
    {"pending_days", "two", NULL},
    {"no_such_setting", "on", NULL},
  };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(GError) error = NULL;
    g_autofree char *got = settings_normalise(cases[i].key, cases[i].value, NULL, &error);
    g_test_message("%s=%s", cases[i].key, cases[i].value);
    g_assert_cmpstr(got, ==, cases[i].want);
    if (!cases[i].want) {
      g_assert_error(error, MA_ERROR, MA_ERROR_INVALID);
      g_assert_nonnull(strstr(error->message, cases[i].key)); /* the message names the key */
    }
  }
}

/* never_log entries: exact address (any case), exact domain, and *.domain for subdomains only. */
static void test_never_log_match(void)
{
  g_autoptr(MaSettings) s = settings_defaults(NULL);
  g_ptr_array_add(s->never_log, g_strdup("bob@example.com"));
  g_ptr_array_add(s->never_log, g_strdup("example.org"));
  g_ptr_array_add(s->never_log, g_strdup("*.example.net"));
  g_assert_cmpstr(settings_never_log_match(s, "bob@example.com"), ==, "bob@example.com");
  g_assert_null(settings_never_log_match(s, "bobby@example.com"));
  g_assert_cmpstr(settings_never_log_match(s, "x@example.org"), ==, "example.org");
  g_assert_null(settings_never_log_match(s, "x@sub.example.org"));
  g_assert_cmpstr(settings_never_log_match(s, "x@a.b.example.net"), ==, "*.example.net");
  g_assert_null(settings_never_log_match(s, "x@example.net"));
  g_assert_null(settings_never_log_match(s, "x@badexample.net"));
  g_autoptr(GError) error = NULL;
  g_autofree char *edited = settings_normalise("never_log", "+x.example -bob@example.com", "bob@example.com y.example", &error);
  g_assert_cmpstr(edited, ==, "y.example x.example");
}

static void test_public_domain_edits(void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *a = settings_normalise("public_domains", "+Corp-Mail.example -gmail.com -nothere.example", NULL, &error);
  g_assert_no_error(error);
  g_assert_null(strstr(a, "gmail.com"));
  g_assert_nonnull(strstr(a, "qq.com"));
  g_assert_true(g_str_has_suffix(a, " corp-mail.example"));
  /* edits apply to the current value when one is given */
  g_autofree char *b = settings_normalise("public_domains", "+b.example -a.example", "a.example c.example", &error);
  g_assert_cmpstr(b, ==, "c.example b.example");
}

typedef struct {
  char *dir;
  MaStorage *st;
  char *ent;
} Env;

static void env_open(Env *env)
{
  g_autoptr(GError) error = NULL;
  env->dir = g_dir_make_tmp("ma-settings-XXXXXX", &error);
  g_assert_no_error(error);
  g_assert_cmpint(storage_open(env->dir, TRUE, &env->st, &error), ==, 0);
  MaEnterprise e = {0};
  e.id = ma_id_new();
  e.slug = "acme";
  e.name = "Acme";
  e.inbound_local = "acme-x1";
  e.domains = g_ptr_array_new();
  g_ptr_array_add(e.domains, "acme.example");
  g_assert_cmpint(storage_enterprise_create(env->st, &e, &error), ==, 0);
  g_ptr_array_unref(e.domains);
  env->ent = e.id;
}

static void env_close(Env *env)
{
  storage_close(&env->st);
  testutil_rm_rf(env->dir);
  g_free(env->dir);
  g_free(env->ent);
}

static void test_storage_round_trip(void)
{
  Env env = {0};
  env_open(&env);
  g_autoptr(GError) error = NULL;
  gboolean b = FALSE;

  /* defaults */
  g_assert_cmpint(settings_get_bool(env.st, env.ent, "archiving", &b, &error), ==, 0);
  g_assert_true(b);
  g_assert_cmpint(settings_get_bool(env.st, env.ent, "archive_internal", &b, &error), ==, 0);
  g_assert_false(b);
  g_autofree char *policy = NULL;
  g_autoptr(MaConfig) cfg = ma_config_load(NULL, &error);
  g_free(cfg->forwarder_policy);
  cfg->forwarder_policy = g_strdup("domain");
  g_assert_cmpint(settings_get(env.st, cfg, env.ent, "forwarder_policy", &policy, &error), ==, 0);
  g_assert_cmpstr(policy, ==, "domain"); /* from the config */

  /* set, read back, list */
  g_assert_cmpint(settings_set(env.st, env.ent, "archive_internal", "yes", &error), ==, 0);
  g_assert_cmpint(settings_set(env.st, env.ent, "forwarder_policy", "any", &error), ==, 0);
  g_assert_cmpint(settings_set(env.st, env.ent, "forwarder_networks", "192.0.2.0/24 2001:db8::/32", &error), ==, 0);
  g_assert_cmpint(settings_set(env.st, env.ent, "public_domains", "-gmail.com +corp.example", &error), ==, 0);
  g_assert_cmpint(settings_set(env.st, env.ent, "public_domains", "-qq.com", &error), ==, 0); /* edits accumulate */
  g_assert_cmpint(settings_get_bool(env.st, env.ent, "archive_internal", &b, &error), ==, 0);
  g_assert_true(b);

  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func((GDestroyNotify) ma_setting_value_free);
  g_assert_cmpint(settings_list(env.st, cfg, env.ent, list, &error), ==, 0);
  guint n = 0;
  settings_registry(&n);
  g_assert_cmpuint(list->len, ==, n);
  for (guint i = 0; i < list->len; i++) {
    const MaSettingValue *v = list->pdata[i];
    gboolean changed = !strcmp(v->info->key, "archive_internal") || !strcmp(v->info->key, "forwarder_policy") ||
                       !strcmp(v->info->key, "forwarder_networks") || !strcmp(v->info->key, "public_domains");
    g_assert_cmpint(v->is_default, ==, !changed);
  }

  /* refused: unknown key, bad value; nothing is written */
  g_assert_cmpint(settings_set(env.st, env.ent, "archive_everything", "on", &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_INVALID);
  g_assert_nonnull(strstr(error->message, "archive_everything"));
  g_clear_error(&error);
  g_assert_cmpint(settings_set(env.st, env.ent, "archive_internal", "perhaps", &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_INVALID);
  g_clear_error(&error);
  g_assert_cmpint(settings_get_bool(env.st, env.ent, "archive_internal", &b, &error), ==, 0);
  g_assert_true(b);
  g_assert_cmpint(settings_get_bool(env.st, env.ent, "public_domains", &b, &error), ==, -1);
  g_clear_error(&error);

  /* the snapshot */
  g_autoptr(MaSettings) s = NULL;
  g_assert_cmpint(settings_load(env.st, cfg, env.ent, &s, &error), ==, 0);
  g_assert_true(s->archiving);
  g_assert_true(s->archive_internal);
  g_assert_false(s->archive_unmatched);
  g_assert_cmpstr(s->forwarder_policy, ==, "any");
  g_assert_false(settings_is_public_domain(s, "gmail.com"));
  g_assert_false(settings_is_public_domain(s, "qq.com"));
  g_assert_true(settings_is_public_domain(s, "Corp.Example"));
  g_assert_true(settings_is_public_domain(s, "outlook.com"));
  g_assert_true(settings_in_forwarder_networks(s, "192.0.2.77"));
  g_assert_true(settings_in_forwarder_networks(s, "::ffff:192.0.2.8"));
  g_assert_true(settings_in_forwarder_networks(s, "2001:db8:1::25"));
  g_assert_false(settings_in_forwarder_networks(s, "192.0.3.1"));
  g_assert_false(settings_in_forwarder_networks(s, "2001:db9::1"));
  g_assert_false(settings_in_forwarder_networks(s, "not an address"));

  /* back to the default */
  g_assert_cmpint(settings_set(env.st, env.ent, "public_domains", "default", &error), ==, 0);
  g_clear_pointer(&s, ma_settings_free);
  g_assert_cmpint(settings_load(env.st, cfg, env.ent, &s, &error), ==, 0);
  g_assert_true(settings_is_public_domain(s, "gmail.com"));
  g_assert_false(settings_is_public_domain(s, "corp.example"));
  env_close(&env);
}

static void test_defaults_snapshot(void)
{
  g_autoptr(MaSettings) s = settings_defaults(NULL);
  g_assert_true(s->archiving);
  g_assert_true(s->activities);
  g_assert_false(s->archive_internal);
  g_assert_false(s->ignore_plus_tags);
  g_assert_cmpstr(s->forwarder_policy, ==, "employee");
  g_assert_cmpint(s->capture_level, ==, MA_CAPTURE_FULL);
  const char *shipped[] = {"gmail.com", "outlook.com", "hotmail.com", "yahoo.com", "qq.com", "163.com",
                           "126.com", "sina.com", "icloud.com", "139.com", "proton.me"};
  for (guint i = 0; i < G_N_ELEMENTS(shipped); i++) g_assert_true(settings_is_public_domain(s, shipped[i]));
  g_assert_false(settings_is_public_domain(s, "acme.example"));
  g_assert_false(settings_in_forwarder_networks(s, "127.0.0.1"));
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/settings/normalise", test_normalise);
  g_test_add_func("/settings/public_domain_edits", test_public_domain_edits);
  g_test_add_func("/settings/never_log_match", test_never_log_match);
  g_test_add_func("/settings/storage_round_trip", test_storage_round_trip);
  g_test_add_func("/settings/defaults_snapshot", test_defaults_snapshot);
  return g_test_run();
}
