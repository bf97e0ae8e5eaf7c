/* cli_doctor.c - `mailagent doctor ENTERPRISE [--domain D] [--json]`: per domain, every record
 * mailagent depends on (DKIM keys, ownership challenge, SPF, DMARC, MX) with what is published,
 * what should be, the status and the exact fix, and the addresses mailagent sends from. Reads DNS
 * now; changes nothing (`domain verify` applies a check). --json prints the API's shape
 * (GET /v1/domains/{d}/doctor, one per domain under "domains").
 * Exit: 0 when every domain is verified, 1 otherwise.
 */
#include "cli.h"

#include "agent/domains/domains_private.h"
#include "agent/lib/clock.h"

#include <stdio.h>
#include <string.h>

int cli_doctor(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autofree char *only = NULL;
  GOptionEntry entries[] = {
    {"domain", 0, 0, G_OPTION_ARG_STRING, &only, "Only this domain", "D"},
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr(GOptionContext) ctx = cli_context("doctor", "ENTERPRISE",
    "Check every DNS record of an enterprise's domains and say how to fix what is wrong.", &common, entries);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 1, 1, "mailagent doctor ENTERPRISE [--domain D] [--json]")) >= 0) return rc;
  g_autoptr(GError) error = NULL;
  g_autofree char *only_name = NULL;
  if (only && !(only_name = ma_domain_normalize(only, &error))) return cli_usage_error("%s", error->message);
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *e = NULL;
  if ((rc = cli_open_enterprise(&common, argv[1], &cfg, &st, &e)) != 0) return rc;
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func((GDestroyNotify) ma_domain_free);
  MaDnsOptions opts;
  ma_dns_options_from_config(&opts, cfg);
  MaDnsSync *dns = NULL;
  if (storage_domain_list(st, e->id, list, &error) < 0 || !(dns = ma_dns_sync_new(&opts, &error))) {
    storage_close(&st);
    ma_enterprise_free(e);
    return cli_fail("doctor", error);
  }
  MaDomainsResolver resolver = ma_domains_resolver_dns(dns);
  json_t *domains = json_array();
  gboolean all_verified = TRUE, any = FALSE;
  for (guint i = 0; i < list->len && rc == 0; i++) {
    MaDomain *d = list->pdata[i];
    if (only_name && strcmp(only_name, d->domain) != 0) continue;
    any = TRUE;
    MaDomainCheck *c = ma_domains_check(st, cfg, &resolver, e->id, d->domain, ma_now(), &error);
    if (!c) {
      rc = cli_fail("doctor", error);
      break;
    }
    if (strcmp(c->domain->status, "verified") != 0) all_verified = FALSE;
    if (common.json) {
      json_array_append_new(domains, ma_domains_doctor_json(c, cfg));
    } else {
      g_autofree char *text = ma_domains_doctor_text(c, cfg);
      printf("%s%s", i ? "\n" : "", text);
    }
    ma_domain_check_free(c);
  }
  ma_dns_sync_free(dns);
  storage_close(&st);
  if (rc == 0 && only_name && !any) {
    fprintf(stderr, "mailagent: %s is not a domain of %s\n", only_name, e->slug);
    rc = 2;
  }
  if (rc == 0) {
    json_t *addresses = json_array();
    if (cfg->relay_source_addresses) {
      gchar **parts = g_strsplit(cfg->relay_source_addresses, ",", -1);
      for (guint i = 0; parts[i]; i++)
        if (*g_strstrip(parts[i])) json_array_append_new(addresses, json_string(parts[i]));
      g_strfreev(parts);
    }
    if (common.json) {
      cli_print_json(json_pack("{s:s, s:o, s:o, s:s?}", "enterprise", e->slug, "domains", domains,
                               "sending_addresses", addresses, "spf_include", cfg->relay_spf_include),
                     FALSE);
      domains = NULL;
    } else {
      if (list->len == 0) printf("%s has no domains (mailagent domain add %s DOMAIN)\n", e->slug, e->slug);
      printf("\nmailagent sends from:");
      for (size_t i = 0; i < json_array_size(addresses); i++)
        printf("%s %s", i ? "," : "", json_string_value(json_array_get(addresses, i)));
      if (json_array_size(addresses) == 0) printf(" (no [relay] source_addresses configured)");
      printf("\n");
      if (cfg->relay_spf_include) printf("SPF include for customers: include:%s\n", cfg->relay_spf_include);
      json_decref(addresses);
    }
    if (!all_verified || list->len == 0) rc = 1;
  }
  if (domains) json_decref(domains);
  ma_enterprise_free(e);
  return rc;
}
