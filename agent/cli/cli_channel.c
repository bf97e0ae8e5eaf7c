/* cli_channel.c - `mailagent channel show ENTERPRISE` and `mailagent channel system-account
 * set|clear ENTERPRISE CHANNEL [ADDRESS]`: the channels an enterprise's employees may use (the
 * setting employee_channels, changed with `mailagent settings`) and each channel's system account,
 * the address its workflow mail is sent from, checked against the channel before it is stored
 * (relay_channel_account_set; the API's PUT /v1/channels/{channel}/system-account does the same),
 * and `channel default-mailbox ENTERPRISE EMPLOYEE MAILBOX`, an employee's default sending mailbox.
 */
#include "cli.h"

#include "agent/relay/relay.h"

#include <stdio.h>
#include <string.h>

static int cmd_show(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autoptr(GOptionContext) ctx = cli_context("channel show", "ENTERPRISE",
    "Show the channels employees may use and each channel's system account.", &common, NULL);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc < 0) rc = cli_positional(argc, argv, 1, 1, "mailagent channel show ENTERPRISE [--json]");
  if (rc >= 0) return rc;
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *ent = NULL;
  if ((rc = cli_open_enterprise(&common, argv[1], &cfg, &st, &ent)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  json_t *doc = relay_channels_to_json(st, cfg, ent->id, &error);
  storage_close(&st);
  ma_enterprise_free(ent);
  if (!doc) return cli_fail("channel show", error);
  if (common.json) {
    cli_print_json(doc, FALSE);
    return 0;
  }
  json_t *kinds = json_object_get(doc, "employee_channels");
  printf("employees may use:");
  size_t i;
  json_t *v;
  json_array_foreach(kinds, i, v) printf(" %s", json_string_value(v));
  printf("%s\n", json_array_size(kinds) ? "" : " nothing");
  for (const char *const *c = relay_channels; *c; c++) {
    json_t *a = json_object_get(json_object_get(doc, "system_accounts"), *c);
    printf("system account %-17s %s\n", *c, json_is_object(a) ? json_string_value(json_object_get(a, "address")) : "(none)");
  }
  json_decref(doc);
  return 0;
}

static int cmd_account(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autoptr(GOptionContext) ctx = cli_context("channel system-account", "set|clear ENTERPRISE CHANNEL [ADDRESS]",
    "Set (checked against the channel) or clear the address a channel's workflow mail is sent from. CHANNEL is "
    "employee_mailbox, enterprise_relay or mailagent_relay.", &common, NULL);
  int rc = cli_parse(ctx, &argc, &argv);
  const char *usage = "mailagent channel system-account set ENTERPRISE CHANNEL ADDRESS | clear ENTERPRISE CHANNEL";
  if (rc < 0) rc = cli_positional(argc, argv, 3, 4, usage);
  if (rc >= 0) return rc;
  gboolean set = strcmp(argv[1], "set") == 0;
  if ((!set && strcmp(argv[1], "clear") != 0) || (set && argc != 5) || (!set && argc != 4)) return cli_usage_error("usage: %s", usage);
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *ent = NULL;
  if ((rc = cli_open_enterprise(&common, argv[2], &cfg, &st, &ent)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  rc = set ? relay_channel_account_set(st, ent->id, argv[3], argv[4], &error)
           : storage_channel_account_clear(st, ent->id, argv[3], &error);
  if (rc >= 0) cli_audit(st, ent->id, set ? "channel.system_account.set" : "channel.system_account.clear", argv[3],
                         set ? json_pack("{s:s}", "address", argv[4]) : NULL, NULL);
  storage_close(&st);
  ma_enterprise_free(ent);
  if (rc < 0) return cli_fail("channel system-account", error);
  printf(set ? "%s: system account %s\n" : "%s: system account cleared\n", argv[3], set ? argv[4] : "");
  return 0;
}

static int cmd_default_mailbox(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autoptr(GOptionContext) ctx = cli_context("channel default-mailbox", "ENTERPRISE EMPLOYEE [MAILBOX]",
    "Choose the employee's default sending mailbox among the mailboxes bound to them (default: the oldest active one); "
    "without MAILBOX, show it.",
    &common, NULL);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc < 0) rc = cli_positional(argc, argv, 2, 3, "mailagent channel default-mailbox ENTERPRISE EMPLOYEE [MAILBOX] [--json]");
  if (rc >= 0) return rc;
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *ent = NULL;
  if ((rc = cli_open_enterprise(&common, argv[1], &cfg, &st, &ent)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  if (argc == 3) {
    json_t *doc = relay_employee_mailbox_json(st, ent->id, argv[2], &error);
    storage_close(&st);
    ma_enterprise_free(ent);
    if (!doc) return cli_fail("channel default-mailbox", error);
    json_t *m = json_object_get(doc, "default_mailbox");
    if (common.json) cli_print_json(doc, FALSE);
    else {
      if (json_is_null(m)) printf("%s has no active mailbox to send from\n", json_string_value(json_object_get(doc, "employee")));
      else
        printf("%s sends from mailbox %s (%s)%s\n", json_string_value(json_object_get(doc, "employee")),
               json_string_value(json_object_get(m, "email")), json_string_value(json_object_get(m, "id")),
               json_is_true(json_object_get(doc, "chosen")) ? "" : " by default: the oldest active one");
      json_decref(doc);
    }
    return 0;
  }
  rc = relay_employee_mailbox_set(st, ent->id, argv[2], argv[3], &error);
  if (rc == 0) cli_audit(st, ent->id, "channel.default_mailbox", argv[2], json_pack("{s:s}", "mailbox", argv[3]), NULL);
  storage_close(&st);
  ma_enterprise_free(ent);
  if (rc < 0) return cli_fail("channel default-mailbox", error);
  printf("%s sends from mailbox %s by default\n", argv[2], argv[3]);
  return 0;
}

int cli_channel(int argc, char **argv)
{
  static const CliSub subs[] = {
    {"show", cmd_show, "the channels employees may use and each channel's system account"},
    {"system-account", cmd_account, "set or clear the address a channel's workflow mail is sent from"},
    {"default-mailbox", cmd_default_mailbox, "choose an employee's default sending mailbox"},
  };
  return cli_dispatch("channel", subs, G_N_ELEMENTS(subs), argc, argv);
}
