/* cli_apikey.c - `mailagent apikey create|list|revoke|rotate`: API keys for the HTTP API.
 *
 * Enterprise keys see one enterprise; admin keys manage enterprises and keys. Creation and
 * rotation go through agent/lib/apikey.h (the same code as POST /v1/apikeys): only the hash is
 * stored and the secret is printed once, here. Revocation is immediate.
 */
#include "cli.h"

#include "agent/codec/codec.h"
#include "agent/tenant/apikey_store.h"
#include "agent/tenant/audit.h"
#include "agent/lib/clock.h"

#include <stdio.h>
#include <string.h>

#define LABEL_MAX 200

static void print_new_key(const MaApiKey *k, const char *secret, const char *what, gboolean json)
{
  if (json) {
    json_t *doc = codec_api_key_to_json(k);
    json_object_set_new(doc, "secret", json_string(secret));
    cli_print_json(doc, FALSE);
    return;
  }
  printf("%s %s key %s (label %s). The secret is shown once; store it now:\n  %s\n", what,
         k->enterprise_id ? "enterprise" : "admin", k->id, k->label, secret);
}

static int cmd_create(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  gboolean admin = FALSE;
  g_autofree char *label = NULL;
  GOptionEntry entries[] = {
    {"admin", 0, 0, G_OPTION_ARG_NONE, &admin, "Create an admin key (manages enterprises and keys)", NULL},
    {"label", 0, 0, G_OPTION_ARG_STRING, &label, "What the key is for (shown in listings)", "L"},
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr(GOptionContext) ctx = cli_context("apikey create", "ENTERPRISE | --admin",
    "Create an API key; its secret is printed once.", &common, entries);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  const char *usage = "mailagent apikey create ENTERPRISE|--admin [--label L]";
  if ((rc = cli_positional(argc, argv, admin ? 0 : 1, admin ? 0 : 1, usage)) >= 0) return rc;
  if (label && (strlen(label) > LABEL_MAX || !g_utf8_validate(label, -1, NULL)))
    return cli_usage_error("--label: at most %d bytes of UTF-8", LABEL_MAX);
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  if ((rc = cli_open(&common, &cfg, &st)) != 0) return rc;
  MaEnterprise *ent = NULL;
  if (!admin && !(ent = cli_enterprise_resolve(st, argv[1]))) {
    storage_close(&st);
    return 2;
  }
  g_autoptr(GError) error = NULL;
  MaApiKey *k = NULL;
  g_autofree char *secret = NULL;
  rc = apikey_create(st, ent ? ent->id : NULL, label ? label : admin ? "admin" : "default", &k, &secret, &error);
  if (rc == 0)
    cli_audit(st, k->enterprise_id, "apikey.create", k->id,
              json_pack("{s:s, s:s?}", "scope", k->enterprise_id ? "enterprise" : "admin", "label", k->label), NULL);
  storage_close(&st);
  ma_enterprise_free(ent);
  if (rc < 0) return cli_fail("apikey create", error);
  print_new_key(k, secret, "created", common.json);
  memset(secret, 0, strlen(secret));
  ma_api_key_free(k);
  return 0;
}

static int list_into(MaStorage *st, const char *enterprise_id, GPtrArray *out, GError **error)
{
  return storage_apikey_list(st, enterprise_id, out, error);
}

static int cmd_list(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  gboolean admin = FALSE, all = FALSE;
  GOptionEntry entries[] = {
    {"admin", 0, 0, G_OPTION_ARG_NONE, &admin, "Only admin keys", NULL},
    {"all", 0, 0, G_OPTION_ARG_NONE, &all, "Include revoked keys", NULL},
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr(GOptionContext) ctx = cli_context("apikey list", "[ENTERPRISE | --admin]",
    "List API keys (never their secrets): one enterprise's, the admin keys, or all.", &common, entries);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 0, admin ? 0 : 1, "mailagent apikey list [ENTERPRISE|--admin] [--all]")) >= 0)
    return rc;
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  if ((rc = cli_open(&common, &cfg, &st)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func((GDestroyNotify)ma_api_key_free);
  g_autoptr(GPtrArray) ents = g_ptr_array_new_with_free_func((GDestroyNotify)ma_enterprise_free);
  if (argc == 2) {
    MaEnterprise *ent = cli_enterprise_resolve(st, argv[1]);
    if (!ent) {
      storage_close(&st);
      return 2;
    }
    g_ptr_array_add(ents, ent);
    rc = list_into(st, ent->id, keys, &error);
  } else {
    rc = list_into(st, NULL, keys, &error);
    if (rc >= 0 && !admin) rc = storage_enterprise_list(st, ents, &error);
    for (guint i = 0; rc >= 0 && !admin && i < ents->len; i++)
      rc = list_into(st, ((MaEnterprise *)g_ptr_array_index(ents, i))->id, keys, &error);
  }
  storage_close(&st);
  if (rc < 0) return cli_fail("apikey list", error);

  json_t *items = common.json ? json_array() : NULL;
  if (!common.json) printf("%-20s  %-10s  %-20s  %-14s  %-20s  %s\n", "ID", "SCOPE", "ENTERPRISE", "PREFIX", "CREATED", "LABEL");
  for (guint i = 0; i < keys->len; i++) {
    const MaApiKey *k = g_ptr_array_index(keys, i);
    if (k->revoked_at && !all) continue;
    if (items) {
      json_array_append_new(items, codec_api_key_to_json(k));
      continue;
    }
    const char *ent_name = "-";
    for (guint j = 0; k->enterprise_id && j < ents->len; j++) {
      const MaEnterprise *e = g_ptr_array_index(ents, j);
      if (!strcmp(e->id, k->enterprise_id)) ent_name = e->slug;
    }
    char created[32];
    ma_time_format(k->created_at, created);
    printf("%-20s  %-10s  %-20s  %-14s  %-20s  %s%s\n", k->id, k->enterprise_id ? "enterprise" : "admin", ent_name,
           k->prefix, created, k->label ? k->label : "", k->revoked_at ? "  (revoked)" : "");
  }
  if (items) cli_print_json(codec_page(items, NULL), FALSE);
  return 0;
}

static int cmd_revoke(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autoptr(GOptionContext) ctx = cli_context("apikey revoke", "KEY_ID", "Revoke an API key now.", &common, NULL);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 1, 1, "mailagent apikey revoke KEY_ID")) >= 0) return rc;
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  if ((rc = cli_open(&common, &cfg, &st)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  rc = storage_apikey_revoke(st, argv[1], ma_now(), &error);
  if (rc > 0) {
    g_autofree char *enterprise_id = audit_key_enterprise(st, argv[1]);
    cli_audit(st, enterprise_id, "apikey.revoke", argv[1], NULL, NULL);
  }
  storage_close(&st);
  if (rc < 0) return cli_fail("apikey revoke", error);
  if (rc == 0) {
    fprintf(stderr, "mailagent: no live API key \"%s\" (unknown, or revoked already)\n", argv[1]);
    return 2;
  }
  printf("revoked %s\n", argv[1]);
  return 0;
}

static int cmd_rotate(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autoptr(GOptionContext) ctx = cli_context("apikey rotate", "KEY_ID",
    "Replace an API key: a new key with the same scope and label; the old one is revoked at once.", &common, NULL);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 1, 1, "mailagent apikey rotate KEY_ID")) >= 0) return rc;
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  if ((rc = cli_open(&common, &cfg, &st)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  MaApiKey *k = NULL;
  g_autofree char *secret = NULL;
  rc = apikey_rotate(st, argv[1], &k, &secret, &error);
  if (rc == 0) cli_audit(st, k->enterprise_id, "apikey.rotate", argv[1], json_pack("{s:s}", "new_key_id", k->id), NULL);
  storage_close(&st);
  if (rc < 0) return cli_fail("apikey rotate", error);
  print_new_key(k, secret, "rotated: new", common.json);
  if (!common.json) printf("old key %s is revoked\n", argv[1]);
  memset(secret, 0, strlen(secret));
  ma_api_key_free(k);
  return 0;
}

int cli_apikey(int argc, char **argv)
{
  static const CliSub subs[] = {
    {"create", cmd_create, "create a key: create ENTERPRISE|--admin [--label L] (secret shown once)"},
    {"list", cmd_list, "list keys: list [ENTERPRISE|--admin] [--all]"},
    {"revoke", cmd_revoke, "revoke a key now: revoke KEY_ID"},
    {"rotate", cmd_rotate, "new key for the same scope, old one revoked: rotate KEY_ID"},
  };
  return cli_dispatch("apikey", subs, G_N_ELEMENTS(subs), argc, argv);
}
