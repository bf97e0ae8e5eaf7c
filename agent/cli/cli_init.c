/* cli_init.c - `mailagent init`: makes a fresh installation usable. Creates the data directory
 * (0700), the database (migrations applied), the master key for secrets at rest (0600), a
 * self-signed TLS certificate for STARTTLS when none is configured on disk, and the first admin
 * API key, whose secret is printed once and only its hash stored.
 *
 * Idempotent: every step keeps what exists (a second run changes nothing, prints no new key and
 * says what exists), except modes: a data directory or a database or key file in it that is
 * readable by others is narrowed (0700 / 0600) and reported ("made_private"). Never prints the master key; the admin secret only at creation.
 *
 * Several nodes share one database (PostgreSQL) and so one installation: init on a node whose
 * database is initialised already joins it. The database keeps the master key's check value from
 * the first init; a joining node must bring the same key file (it mints no key of its own), is
 * refused before anything else is made when its key is another, and finds the admin key there
 * (so it prints none).
 */
#include "cli.h"

#include "agent/codec/codec.h"
#include "agent/tenant/apikey_store.h"
#include "agent/lib/crypto.h"
#include "agent/lib/private_files.h"
#include "agent/lib/tls_selfsigned.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#define INIT_CERT_DAYS 825

static void report(json_t *steps, gboolean json, const char *step, const char *path, const char *state)
{
  if (json) {
    json_t *o = json_object();
    json_object_set_new(o, "path", codec_string(path));
    json_object_set_new(o, "state", json_string(state));
    json_object_set_new(steps, step, o);
  } else {
    printf("%-16s %s (%s)\n", step, path ? path : "", state);
  }
}

/* TRUE when the database belongs to an installation already: the master key's check value is
 * recorded, or (a database from before the check existed) API keys are there. */
static int installation_exists(MaStorage *st, GError **error)
{
  g_autofree char *check = NULL;
  int rc = storage_installation_get(st, CLI_MASTER_KEY_CHECK, &check, error);
  if (rc != 0) return rc;
  g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func((GDestroyNotify)ma_api_key_free);
  if (storage_apikey_list(st, NULL, keys, error) < 0) return -1;
  return keys->len > 0 ? 1 : 0;
}

/* Loads this node's master key, making it only for a new installation, and records its check
 * value in the database or compares it with the one recorded. *state says where the key came from
 * ("created", "exists", "from environment"). A key file that is missing when the installation exists
 * is MA_ERROR_NOT_FOUND; another installation's key is MA_ERROR_CONFLICT (and a key file this run
 * made, having lost a race with another node's first init, is removed again). */
static int join_master_key(MaStorage *st, const char *path, const char **state, GError **error)
{
  gboolean from_env = g_getenv("MAILAGENT_MASTER_KEY") != NULL;
  gboolean existed = from_env || g_file_test(path, G_FILE_TEST_EXISTS);
  int installed = installation_exists(st, error);
  if (installed < 0) return -1;
  if (installed && !existed) {
    g_set_error(error, MA_ERROR, MA_ERROR_NOT_FOUND,
                "%s does not exist, and the database belongs to an initialised installation: copy the master key"
                " file of the installation's first node there (or set MAILAGENT_MASTER_KEY), then run init again",
                path);
    return -1;
  }
  guint8 key[32];
  if (ma_master_key_load(path, TRUE, key, error) < 0) return -1;
  char check[MA_MASTER_KEY_CHECK_LEN + 1];
  ma_master_key_check(key, check);
  g_autofree char *recorded = NULL;
  int rc = storage_installation_set_once(st, CLI_MASTER_KEY_CHECK, check, &recorded, error);
  gboolean ours = rc >= 0 && cli_master_key_is_installations(key, recorded, from_env ? "$MAILAGENT_MASTER_KEY" : path, error);
  memset(key, 0, sizeof key);
  if (rc < 0) return -1;
  if (!ours) {
    if (!existed) g_unlink(path); /* ours, made a moment ago: another node's first init won */
    return -1;
  }
  *state = from_env ? "from environment" : existed ? "exists" : "created";
  return 0;
}

int cli_init(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  gboolean no_admin_key = FALSE;
  GOptionEntry entries[] = {
    {"no-admin-key", 0, 0, G_OPTION_ARG_NONE, &no_admin_key,
     "Create no admin key (a package's install script: the administrator makes one later with "
     "`mailagent apikey create --admin`)", NULL},
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr(GOptionContext) ctx =
    cli_context("init", "", "Create the data directory, database, master key, TLS pair and admin API key.\n"
                            "Safe to run again: existing pieces are kept and no new admin key is printed.\n"
                            "On a further node sharing the database: joins the installation, with a copy of\n"
                            "the first node's master key file (refused, exit 2, when it is missing or another).",
                &common, entries);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 0, 0, "mailagent init [-c FILE] [--json] [--no-admin-key]")) >= 0) return rc;

  g_autoptr(MaConfig) cfg = cli_load_config(&common);
  if (!cfg) return 2;
  g_autoptr(GError) error = NULL;
  json_t *steps = json_object();
  json_t *doc = json_object();
  json_object_set_new(doc, "steps", steps);

  /* 1. data directory */
  gboolean existed = g_file_test(cfg->data_dir, G_FILE_TEST_IS_DIR);
  if (!existed && g_mkdir_with_parents(cfg->data_dir, 0700) < 0) {
    fprintf(stderr, "mailagent: %s: %s\n", cfg->data_dir, g_strerror(errno));
    json_decref(doc);
    return 1;
  }
  report(steps, common.json, "data_dir", cfg->data_dir, existed ? "exists" : "created");

  /* 2. database */
  MaStorage *st = NULL;
  if (storage_open(cfg->data_dir, TRUE, &st, &error) < 0) {
    json_decref(doc);
    return cli_fail("database", error);
  }
  g_autofree char *version = g_strdup_printf("schema version %d", storage_schema_version(st));
  report(steps, common.json, "database", cfg->data_dir, version);

  /* 3. master key: the installation's (see the top of the file) */
  gboolean from_env = g_getenv("MAILAGENT_MASTER_KEY") != NULL;
  existed = g_file_test(cfg->master_key_file, G_FILE_TEST_EXISTS);
  const char *state = NULL;
  if (join_master_key(st, cfg->master_key_file, &state, &error) < 0) {
    storage_close(&st);
    json_decref(doc);
    return cli_fail("master key", error);
  }
  report(steps, common.json, "master_key", from_env ? "$MAILAGENT_MASTER_KEY" : cfg->master_key_file, state);

  /* 4. TLS pair */
  gboolean have_cert = g_file_test(cfg->tls_cert_file, G_FILE_TEST_EXISTS);
  gboolean have_key = g_file_test(cfg->tls_key_file, G_FILE_TEST_EXISTS);
  if (have_cert && have_key) {
    report(steps, common.json, "tls_certificate", cfg->tls_cert_file, "exists");
  } else if (have_cert || have_key) {
    cli_warn("only one of %s and %s exists; leaving both alone", cfg->tls_cert_file, cfg->tls_key_file);
    report(steps, common.json, "tls_certificate", cfg->tls_cert_file, "incomplete");
  } else if (tls_selfsigned_create(cfg->tls_cert_file, cfg->tls_key_file, cfg->hostname, INIT_CERT_DAYS, &error) < 0) {
    storage_close(&st);
    json_decref(doc);
    return cli_fail("TLS certificate", error);
  } else {
    g_autofree char *what = g_strdup_printf("created, self-signed for %s", cfg->hostname);
    report(steps, common.json, "tls_certificate", cfg->tls_cert_file, what);
  }

  /* the data directory and everything secret in it are private, also when they existed before
   * with wider modes (an older version, `mkdir -m 755`, an operator's umask) */
  g_autoptr(GPtrArray) changed = g_ptr_array_new_with_free_func(g_free);
  if (ma_private_data_dir(cfg, changed, &error) < 0) {
    storage_close(&st);
    json_decref(doc);
    return cli_fail("file modes", error);
  }
  if (common.json && changed->len) {
    json_t *paths = json_array();
    for (guint i = 0; i < changed->len; i++) json_array_append_new(paths, json_string(changed->pdata[i]));
    json_object_set_new(steps, "made_private", paths);
  }
  for (guint i = 0; !common.json && i < changed->len; i++)
    printf("%-16s %s (was readable by others)\n", "made_private", (const char *) changed->pdata[i]);

  /* 5. admin API key */
  g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func((GDestroyNotify)ma_api_key_free);
  if (storage_apikey_list(st, NULL, keys, &error) < 0) {
    storage_close(&st);
    json_decref(doc);
    return cli_fail("API keys", error);
  }
  const MaApiKey *live = NULL;
  for (guint i = 0; i < keys->len && !live; i++) {
    const MaApiKey *k = g_ptr_array_index(keys, i);
    if (!k->revoked_at) live = k;
  }
  if (no_admin_key) {
    if (!common.json) printf("%-16s %s\n", "admin_api_key", live ? "exists" : "none (--no-admin-key)");
  } else if (live) {
    if (common.json) {
      json_object_set_new(doc, "admin_key", codec_api_key_to_json(live));
    } else {
      printf("%-16s %s... (exists, id %s; not shown again - `mailagent apikey create --admin` makes another)\n",
             "admin_api_key", live->prefix, live->id);
    }
  } else {
    MaApiKey *k = NULL;
    g_autofree char *secret = NULL;
    if (apikey_create(st, NULL, "admin", &k, &secret, &error) < 0) {
      storage_close(&st);
      json_decref(doc);
      return cli_fail("admin API key", error);
    }
    if (common.json) {
      json_t *jk = codec_api_key_to_json(k);
      json_object_set_new(jk, "secret", json_string(secret));
      json_object_set_new(doc, "admin_key", jk);
    } else {
      printf("%-16s created, id %s. The secret is shown once; store it now:\n  %s\n", "admin_api_key", k->id, secret);
    }
    ma_api_key_free(k);
    memset(secret, 0, strlen(secret));
  }
  storage_close(&st);
  if (common.json) cli_print_json(doc, FALSE);
  else json_decref(doc);
  return 0;
}
