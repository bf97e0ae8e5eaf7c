/* cli_employee.c - `mailagent employee add|list|remove`: the people whose mail an enterprise
 * archives. Their addresses are internal (never matched to CRM records) and identify who forwarded
 * a message. Any domain is accepted (people forward from private mailboxes too), with a warning
 * when the address is outside the enterprise's domains.
 */
#include "cli.h"

#include "agent/codec/codec.h"
#include "agent/lib/clock.h"

#include <stdio.h>
#include <string.h>

static gboolean has_control_chars(const char *s)
{
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if (*p < 0x20 || *p == 0x7f) return TRUE;
  return FALSE;
}

static gboolean in_domains(const MaEnterprise *e, const char *address)
{
  const char *d = ma_address_domain(address);
  for (guint i = 0; d && i < e->domains->len; i++)
    if (g_ascii_strcasecmp(g_ptr_array_index(e->domains, i), d) == 0) return TRUE;
  return FALSE;
}

static int cmd_add(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autofree char *name = NULL;
  GOptionEntry entries[] = {
    {"name", 0, 0, G_OPTION_ARG_STRING, &name, "Display name", "NAME"},
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr(GOptionContext) ctx = cli_context("employee add", "ENTERPRISE EMAIL",
    "Add an employee; mail they forward or that a bound mailbox of theirs holds is archived for the enterprise.",
    &common, entries);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 2, 2, "mailagent employee add ENTERPRISE EMAIL [--name NAME]")) >= 0) return rc;
  if (!codec_address_valid(argv[2])) return cli_usage_error("\"%s\" is not an e-mail address", argv[2]);
  if (name && has_control_chars(name)) return cli_usage_error("--name contains a control character");

  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *ent = NULL;
  if ((rc = cli_open_enterprise(&common, argv[1], &cfg, &st, &ent)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  MaEmployee emp = {0};
  emp.id = ma_id_new();
  emp.enterprise_id = ent->id;
  emp.email = g_utf8_strdown(argv[2], -1);
  emp.name = name && *name ? name : NULL;
  emp.created_at = ma_now();
  if (!in_domains(ent, emp.email))
    cli_warn("%s is not in a domain of %s; added anyway (mail from it counts as internal)", emp.email, ent->slug);
  rc = storage_employee_add(st, &emp, &error);
  if (rc == 0) cli_audit(st, ent->id, "employee.add", emp.id, json_pack("{s:s}", "email", emp.email), NULL);
  storage_close(&st);
  if (rc < 0) {
    if (error->domain == MA_ERROR && error->code == MA_ERROR_CONFLICT)
      fprintf(stderr, "mailagent: %s is already an employee of %s\n", emp.email, ent->slug);
    else cli_fail("employee add", error);
    rc = cli_exit_code(error);
  } else if (common.json) {
    cli_print_json(codec_employee_to_json(&emp), FALSE);
  } else {
    printf("employee %s added to %s (id %s)\n", emp.email, ent->slug, emp.id);
  }
  g_free(emp.id);
  g_free(emp.email);
  ma_enterprise_free(ent);
  return rc;
}

static int cmd_list(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autoptr(GOptionContext) ctx = cli_context("employee list", "ENTERPRISE", "List an enterprise's employees.", &common, NULL);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 1, 1, "mailagent employee list ENTERPRISE [--json]")) >= 0) return rc;
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *ent = NULL;
  if ((rc = cli_open_enterprise(&common, argv[1], &cfg, &st, &ent)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func((GDestroyNotify)ma_employee_free);
  rc = storage_employee_list(st, ent->id, list, &error);
  storage_close(&st);
  ma_enterprise_free(ent);
  if (rc < 0) return cli_fail("employee list", error);
  if (common.json) {
    json_t *items = json_array();
    for (guint i = 0; i < list->len; i++) json_array_append_new(items, codec_employee_to_json(g_ptr_array_index(list, i)));
    cli_print_json(codec_page(items, NULL), FALSE);
    return 0;
  }
  if (list->len == 0) {
    printf("no employees\n");
    return 0;
  }
  printf("%-20s  %-36s  %s\n", "ID", "EMAIL", "NAME");
  for (guint i = 0; i < list->len; i++) {
    const MaEmployee *e = g_ptr_array_index(list, i);
    printf("%-20s  %-36s  %s\n", e->id, e->email, e->name ? e->name : "");
  }
  return 0;
}

static int cmd_remove(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autoptr(GOptionContext) ctx = cli_context("employee remove", "ENTERPRISE EMAIL|ID",
    "Remove an employee (archived mail stays).", &common, NULL);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 2, 2, "mailagent employee remove ENTERPRISE EMAIL|ID")) >= 0) return rc;
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *ent = NULL;
  if ((rc = cli_open_enterprise(&common, argv[1], &cfg, &st, &ent)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  g_autofree char *key = strchr(argv[2], '@') ? g_utf8_strdown(argv[2], -1) : g_strdup(argv[2]);
  rc = storage_employee_remove(st, ent->id, key, &error);
  if (rc > 0) cli_audit(st, ent->id, "employee.remove", key, NULL, NULL);
  storage_close(&st);
  if (rc < 0) {
    ma_enterprise_free(ent);
    return cli_fail("employee remove", error);
  }
  if (rc == 0) {
    fprintf(stderr, "mailagent: %s is not an employee of %s\n", argv[2], ent->slug);
    ma_enterprise_free(ent);
    return 2;
  }
  printf("removed %s from %s\n", argv[2], ent->slug);
  ma_enterprise_free(ent);
  return 0;
}

int cli_employee(int argc, char **argv)
{
  static const CliSub subs[] = {
    {"add", cmd_add, "add an employee: add ENTERPRISE EMAIL [--name NAME]"},
    {"list", cmd_list, "list employees: list ENTERPRISE"},
    {"remove", cmd_remove, "remove an employee: remove ENTERPRISE EMAIL|ID"},
  };
  return cli_dispatch("employee", subs, G_N_ELEMENTS(subs), argc, argv);
}
