/* cli_submission.c - `mailagent submission add|list|revoke ENTERPRISE`: the credentials a CRM uses
 * to authenticate on the SMTP submission listener ([submission] listen). A credential is a
 * generated user name and a random 32-byte secret printed once; only the secret's SHA-256 is
 * stored (the secret is random and long, so a plain digest is enough, as for API keys).
 */
#include "cli.h"

#include "agent/lib/clock.h"
#include "agent/lib/crypto.h"

#include <stdio.h>
#include <string.h>

#define LABEL_MAX 200

static json_t *credential_json(const MaSubmissionCredential *c)
{
  char created[32], revoked[32];
  ma_time_format(c->created_at, created);
  if (c->revoked_at) ma_time_format(c->revoked_at, revoked);
  return json_pack("{s:s,s:s,s:s,s:s?,s:s,s:s?}", "id", c->id, "enterprise_id", c->enterprise_id, "username",
                   c->username, "label", c->label, "created_at", created, "revoked_at",
                   c->revoked_at ? revoked : NULL);
}

static int cmd_add(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autofree char *label = NULL;
  GOptionEntry entries[] = {
    {"label", 0, 0, G_OPTION_ARG_STRING, &label, "What the credential is for (shown in listings)", "L"},
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr(GOptionContext) ctx = cli_context("submission add", "ENTERPRISE",
    "Create a submission credential (user name and secret, the secret printed once).", &common, entries);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 1, 1, "mailagent submission add ENTERPRISE [--label L]")) >= 0) return rc;
  if (label && (strlen(label) > LABEL_MAX || !g_utf8_validate(label, -1, NULL)))
    return cli_usage_error("--label: at most %d bytes of UTF-8", LABEL_MAX);
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *ent = NULL;
  if ((rc = cli_open_enterprise(&common, argv[1], &cfg, &st, &ent)) != 0) return rc;
  g_autofree char *suffix = ma_random_hex(4);
  g_autofree char *secret = ma_random_hex(32);
  char hash[65];
  ma_sha256_hex(secret, strlen(secret), hash);
  MaSubmissionCredential c = {.id = ma_id_new(), .enterprise_id = ent->id, .label = label,
                              .username = g_strdup_printf("%s-%s", ent->slug, suffix), .created_at = ma_now()};
  g_autoptr(GError) error = NULL;
  rc = storage_submission_add(st, &c, hash, &error);
  if (rc >= 0) cli_audit(st, ent->id, "submission.add", c.username, NULL, NULL);
  storage_close(&st);
  if (rc < 0) {
    rc = cli_fail("submission add", error);
  } else if (common.json) {
    json_t *doc = credential_json(&c);
    json_object_set_new(doc, "secret", json_string(secret));
    cli_print_json(doc, FALSE);
  } else {
    printf("submission credential %s for %s. The secret is shown once; store it now:\n  username: %s\n  password: %s\n",
           c.id, ent->slug, c.username, secret);
  }
  memset(secret, 0, strlen(secret));
  g_free(c.id);
  g_free(c.username);
  ma_enterprise_free(ent);
  return rc;
}

static int cmd_list(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autoptr(GOptionContext) ctx = cli_context("submission list", "ENTERPRISE",
    "List an enterprise's submission credentials (revoked ones included).", &common, NULL);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 1, 1, "mailagent submission list ENTERPRISE [--json]")) >= 0) return rc;
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *ent = NULL;
  if ((rc = cli_open_enterprise(&common, argv[1], &cfg, &st, &ent)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func((GDestroyNotify) ma_submission_credential_free);
  rc = storage_submission_list(st, ent->id, list, &error);
  storage_close(&st);
  ma_enterprise_free(ent);
  if (rc < 0) return cli_fail("submission list", error);
  if (common.json) {
    json_t *items = json_array();
    for (guint i = 0; i < list->len; i++) json_array_append_new(items, credential_json(g_ptr_array_index(list, i)));
    cli_print_json(json_pack("{s:o,s:n}", "items", items, "next_cursor"), FALSE);
    return 0;
  }
  if (list->len == 0) printf("no submission credentials\n");
  for (guint i = 0; i < list->len; i++) {
    const MaSubmissionCredential *c = g_ptr_array_index(list, i);
    char created[32];
    ma_time_format(c->created_at, created);
    printf("%-20s  %-28s  %s  %s%s\n", c->id, c->username, created, c->revoked_at ? "revoked " : "",
           c->label ? c->label : "");
  }
  return 0;
}

static int cmd_revoke(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autoptr(GOptionContext) ctx = cli_context("submission revoke", "ENTERPRISE ID|USERNAME",
    "Revoke a submission credential at once.", &common, NULL);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 2, 2, "mailagent submission revoke ENTERPRISE ID|USERNAME")) >= 0) return rc;
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *ent = NULL;
  if ((rc = cli_open_enterprise(&common, argv[1], &cfg, &st, &ent)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  rc = storage_submission_revoke(st, ent->id, argv[2], ma_now(), &error);
  if (rc > 0) cli_audit(st, ent->id, "submission.revoke", argv[2], NULL, NULL);
  storage_close(&st);
  ma_enterprise_free(ent);
  if (rc < 0) return cli_fail("submission revoke", error);
  if (rc == 0) return cli_usage_error("no live submission credential %s", argv[2]);
  printf("revoked %s\n", argv[2]);
  return 0;
}

int cli_submission(int argc, char **argv)
{
  static const CliSub subs[] = {
    {"add", cmd_add, "create a credential (secret printed once)"},
    {"list", cmd_list, "list credentials"},
    {"revoke", cmd_revoke, "revoke a credential"},
  };
  return cli_dispatch("submission", subs, G_N_ELEMENTS(subs), argc, argv);
}
