/* cli_settings.c - `mailagent settings ENTERPRISE [key=value...]`: shows an enterprise's
 * settings, or changes some and then shows them. Meaning, defaults and validation come from the
 * registry in agent/tenant/settings.h (the same one behind GET/PUT /v1/settings); several changes are
 * applied in one transaction, so one bad value changes nothing. --json prints the API's shape:
 * {"settings": {key: value...}, "defaults": [keys not set]}.
 */
#include "cli.h"

#include "agent/tenant/settings.h"

#include <stdio.h>
#include <string.h>

static char *registry_description(void)
{
  GString *s = g_string_new("Settings (\"key=default\" restores a default):\n");
  guint n = 0;
  const MaSettingInfo *reg = settings_registry(&n);
  for (guint i = 0; i < n; i++) g_string_append_printf(s, "  %-20s %s\n", reg[i].key, reg[i].summary);
  return g_string_free(s, FALSE);
}

int cli_settings(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autoptr(GOptionContext) ctx = cli_context("settings", "ENTERPRISE [key=value...]",
    "Show an enterprise's settings, or change them (all changes or none).", &common, NULL);
  g_autofree char *desc = registry_description();
  g_option_context_set_description(ctx, desc);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 1, G_MAXINT, "mailagent settings ENTERPRISE [key=value...] [--json]")) >= 0)
    return rc;
  for (int i = 2; i < argc; i++) {
    const char *eq = strchr(argv[i], '=');
    if (!eq || eq == argv[i]) return cli_usage_error("\"%s\": write key=value", argv[i]);
    g_autofree char *key = g_strndup(argv[i], (gsize)(eq - argv[i]));
    if (!settings_lookup(key)) return cli_usage_error("unknown setting \"%s\" (see mailagent settings --help)", key);
  }

  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *ent = NULL;
  if ((rc = cli_open_enterprise(&common, argv[1], &cfg, &st, &ent)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func((GDestroyNotify)ma_setting_value_free);
  if (argc > 2) {
    if (storage_begin(st, &error) < 0) goto fail;
    for (int i = 2; i < argc; i++) {
      const char *eq = strchr(argv[i], '=');
      g_autofree char *key = g_strndup(argv[i], (gsize)(eq - argv[i]));
      if (settings_set(st, ent->id, key, eq + 1, &error) < 0 ||
          cli_audit(st, ent->id, "settings.update", key, json_pack("{s:s}", "value", eq + 1), &error) < 0) {
        storage_rollback(st);
        goto fail;
      }
    }
    if (storage_commit(st, &error) < 0) {
      storage_rollback(st);
      goto fail;
    }
  }
  if (settings_list(st, cfg, ent->id, list, &error) < 0) goto fail;
  storage_close(&st);

  if (common.json) {
    json_t *values = json_object(), *defaults = json_array();
    for (guint i = 0; i < list->len; i++) {
      const MaSettingValue *v = g_ptr_array_index(list, i);
      json_object_set_new(values, v->info->key, json_string(v->value));
      if (v->is_default) json_array_append_new(defaults, json_string(v->info->key));
    }
    json_t *doc = json_object();
    json_object_set_new(doc, "settings", values);
    json_object_set_new(doc, "defaults", defaults);
    cli_print_json(doc, FALSE);
  } else {
    if (argc > 2) printf("%d setting%s changed for %s\n", argc - 2, argc == 3 ? "" : "s", ent->slug);
    for (guint i = 0; i < list->len; i++) {
      const MaSettingValue *v = g_ptr_array_index(list, i);
      printf("%-20s %s%s\n", v->info->key, *v->value ? v->value : "(empty)", v->is_default ? "  (default)" : "");
    }
  }
  ma_enterprise_free(ent);
  return 0;

fail:
  storage_close(&st);
  ma_enterprise_free(ent);
  return cli_fail("settings", error);
}
