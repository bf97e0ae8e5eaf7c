/* cli_domain.c - `mailagent domain add|list|show|remove|dkim|verify|spf`: an enterprise's domains.
 *
 * The list is the one behind `enterprise domain add|remove` (internal domains for matching, and
 * sending domains): names are stored as A-labels and shown with their Unicode form. `dkim` creates
 * a key (generated, or --import-key) and prints the record to publish as a DNS console wants it;
 * `verify` checks DNS now and applies the outcome as the scheduler in `serve` would (key
 * activation, rotation, status, webhook event); `spf` prints the SPF record to publish.
 * Exit status: 0; 1 when `verify` finds the domain not verified; 2 bad input; 75 try again.
 */
#include "cli.h"

#include "agent/domains/domains_private.h"
#include "agent/lib/clock.h"
#include "agent/lib/crypto.h"

#include <stdio.h>
#include <string.h>

/* The normalised domain argument (caller frees), or NULL after printing the broken rule. */
static char *domain_arg(const char *text)
{
  g_autoptr(GError) error = NULL;
  char *d = ma_domain_normalize(text, &error);
  if (!d) fprintf(stderr, "mailagent: %s\n", error->message);
  return d;
}

/* Opens config, storage and the enterprise, and normalises DOMAIN: 0 or the exit status. */
static int open_domain(const CliCommon *common, const char *ent_arg, const char *domain_text, MaConfig **cfg,
                       MaStorage **st, MaEnterprise **ent, char **domain)
{
  *domain = domain_arg(domain_text);
  if (!*domain) return 2;
  int rc = cli_open_enterprise(common, ent_arg, cfg, st, ent);
  if (rc != 0) g_clear_pointer(domain, g_free);
  return rc;
}

static int load_master_key(const MaConfig *cfg, guint8 key[32])
{
  g_autoptr(GError) error = NULL;
  if (ma_master_key_load(cfg->master_key_file, FALSE, key, &error) < 0) return cli_fail("master key", error);
  return 0;
}

static void print_domain(const MaDomain *d, GPtrArray *keys)
{
  g_autofree char *unicode = ma_domain_to_unicode(d->domain);
  char checked[32] = "never";
  if (d->checked_at) ma_time_format(d->checked_at, checked);
  printf("domain:      %s%s%s%s\n", d->domain, strcmp(unicode, d->domain) ? " (" : "",
         strcmp(unicode, d->domain) ? unicode : "", strcmp(unicode, d->domain) ? ")" : "");
  printf("status:      %s%s%s\n", d->status, d->reason ? " - " : "", d->reason ? d->reason : "");
  if (d->detail) printf("detail:      %s\n", d->detail);
  printf("checked:     %s\n", checked);
  printf("return path: %s\n", d->return_path);
  for (guint i = 0; keys && i < keys->len; i++) {
    const MaDomainKey *k = keys->pdata[i];
    g_autofree char *name = domains_key_name(k->selector, k->domain);
    printf("dkim:        %s %s %s%s\n", k->selector, k->algorithm, k->state, k->published ? " (published)" : "");
    if (k->target) printf("  CNAME %s -> %s\n", name, k->target);
    if (k->retired_at) {
      char when[32];
      ma_time_format(k->retired_at + DKIM_RETIRED_GRACE, when);
      printf("  its record may be removed after %s\n", when);
    }
  }
}

/* ---- add / remove / list / show -------------------------------------------------------------- */

static int cmd_add(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autofree char *return_path = NULL;
  GOptionEntry entries[] = {
    {"return-path", 0, 0, G_OPTION_ARG_STRING, &return_path,
     "bounce (mailagent's bounce domain, default) or from (this domain: its SPF must pass)", "bounce|from"},
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr(GOptionContext) ctx = cli_context("domain add", "ENTERPRISE DOMAIN",
    "Claim a domain for an enterprise (also its internal domain for matching).", &common, entries);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 2, 2, "mailagent domain add ENTERPRISE DOMAIN [--return-path bounce|from]")) >= 0)
    return rc;
  if (return_path && strcmp(return_path, "bounce") != 0 && strcmp(return_path, "from") != 0)
    return cli_usage_error("--return-path: say bounce or from");
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *e = NULL;
  g_autofree char *domain = NULL;
  if ((rc = open_domain(&common, argv[1], argv[2], &cfg, &st, &e, &domain)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  MaDomain *d = NULL;
  rc = storage_enterprise_domain_add(st, e->id, domain, &error);
  if (rc == 0 && storage_domain_get(st, e->id, domain, &d, &error) < 1) rc = -1;
  if (rc == 0 && return_path && strcmp(return_path, d->return_path) != 0) {
    g_free(d->return_path);
    d->return_path = g_strdup(return_path);
    rc = storage_domain_update(st, d, &error);
  }
  if (rc == 0) cli_audit(st, e->id, "domain.add", domain, return_path ? json_pack("{s:s}", "return_path", return_path) : NULL, NULL);
  storage_close(&st);
  ma_enterprise_free(e);
  if (rc < 0) {
    ma_domain_free(d);
    return cli_fail("domain add", error);
  }
  if (common.json) {
    cli_print_json(ma_domains_domain_json(d, NULL), FALSE);
  } else {
    print_domain(d, NULL);
    printf("next: mailagent domain dkim ENTERPRISE %s, publish the record it prints, then mailagent domain verify\n",
           domain);
  }
  ma_domain_free(d);
  return 0;
}

static int cmd_remove(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autoptr(GOptionContext) ctx = cli_context("domain remove", "ENTERPRISE DOMAIN",
    "Drop an enterprise's claim on a domain, with its DKIM keys.", &common, NULL);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 2, 2, "mailagent domain remove ENTERPRISE DOMAIN")) >= 0) return rc;
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *e = NULL;
  g_autofree char *domain = NULL;
  if ((rc = open_domain(&common, argv[1], argv[2], &cfg, &st, &e, &domain)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  rc = storage_enterprise_domain_remove(st, e->id, domain, &error);
  if (rc > 0) cli_audit(st, e->id, "domain.remove", domain, NULL, NULL);
  storage_close(&st);
  g_autofree char *slug = g_strdup(e->slug);
  ma_enterprise_free(e);
  if (rc < 0) return cli_fail("domain remove", error);
  if (rc == 0) {
    fprintf(stderr, "mailagent: %s is not a domain of %s\n", domain, slug);
    return 2;
  }
  if (common.json) cli_print_json(json_pack("{s:s, s:b}", "domain", domain, "removed", 1), FALSE);
  else printf("removed %s from %s\n", domain, slug);
  return 0;
}

static int cmd_list(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autoptr(GOptionContext) ctx = cli_context("domain list", "ENTERPRISE", "List an enterprise's domains.", &common, NULL);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 1, 1, "mailagent domain list ENTERPRISE")) >= 0) return rc;
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *e = NULL;
  if ((rc = cli_open_enterprise(&common, argv[1], &cfg, &st, &e)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func((GDestroyNotify) ma_domain_free);
  rc = storage_domain_list(st, e->id, list, &error);
  json_t *items = json_array();
  for (guint i = 0; rc == 0 && i < list->len; i++) {
    MaDomain *d = list->pdata[i];
    g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func((GDestroyNotify) ma_domain_key_free);
    if ((rc = storage_domain_key_list(st, e->id, d->domain, keys, &error)) < 0) break;
    json_array_append_new(items, ma_domains_domain_json(d, keys));
  }
  storage_close(&st);
  ma_enterprise_free(e);
  if (rc < 0) {
    json_decref(items);
    return cli_fail("domain list", error);
  }
  if (common.json) {
    cli_print_json(json_pack("{s:o, s:n}", "items", items, "next_cursor"), FALSE);
    return 0;
  }
  for (guint i = 0; i < list->len; i++) {
    MaDomain *d = list->pdata[i];
    g_autofree char *unicode = ma_domain_to_unicode(d->domain);
    glong width = g_utf8_strlen(unicode, -1); /* pad by characters, not bytes */
    printf("%s%*s %-9s %s\n", unicode, (int) (width < 30 ? 30 - width : 0), "", d->status, d->reason ? d->reason : "");
  }
  json_decref(items);
  return 0;
}

static int cmd_show(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autoptr(GOptionContext) ctx = cli_context("domain show", "ENTERPRISE DOMAIN",
    "Show a domain: status, last check, DKIM keys and the records to publish.", &common, NULL);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 2, 2, "mailagent domain show ENTERPRISE DOMAIN")) >= 0) return rc;
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *e = NULL;
  g_autofree char *domain = NULL;
  if ((rc = open_domain(&common, argv[1], argv[2], &cfg, &st, &e, &domain)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  MaDomain *d = NULL;
  g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func((GDestroyNotify) ma_domain_key_free);
  rc = storage_domain_get(st, e->id, domain, &d, &error);
  if (rc == 1 && storage_domain_key_list(st, e->id, domain, keys, &error) < 0) rc = -1;
  storage_close(&st);
  g_autofree char *slug = g_strdup(e->slug);
  ma_enterprise_free(e);
  if (rc < 0) return cli_fail("domain show", error);
  if (rc == 0) {
    fprintf(stderr, "mailagent: %s is not a domain of %s\n", domain, slug);
    return 2;
  }
  if (common.json) cli_print_json(ma_domains_domain_json(d, keys), FALSE);
  else print_domain(d, keys);
  ma_domain_free(d);
  return 0;
}

/* ---- dkim ----------------------------------------------------------------------------------- */

static void print_key_records(const MaDomainKey *k, const char *cname_domain)
{
  g_autofree char *name = domains_key_name(k->selector, k->domain);
  g_autofree char *record = ma_domains_key_record(k);
  g_autofree char *split = ma_dkim_record_split(record);
  if (k->target) {
    printf("Publish at the customer's DNS provider (once; rotation needs no further change):\n");
    printf("  type:  CNAME\n  name:  %s\n  value: %s\n", name, k->target);
    g_autofree char *other = g_strdup(strcmp(k->selector, "ma1") == 0 ? "ma2" : "ma1");
    g_autofree char *other_name = domains_key_name(other, k->domain);
    g_autofree char *other_target = domains_key_target(other, k->domain, cname_domain);
    printf("  type:  CNAME\n  name:  %s\n  value: %s\n", other_name, other_target);
    printf("Publish in mailagent's zone (the operator):\n");
    printf("  type:  TXT\n  name:  %s\n  value: %s\n  split: %s\n", k->target, record, split);
  } else {
    printf("Publish at the DNS provider:\n");
    printf("  type:  TXT\n  name:  %s\n  value: %s\n", name, record);
    printf("  split into 255-octet strings (for consoles and zone files that need it):\n  %s\n", split);
  }
  printf("Then run: mailagent domain verify ENTERPRISE %s\n", k->domain);
}

static int cmd_dkim(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autofree char *selector = NULL, *algorithm = NULL, *import = NULL, *remove = NULL;
  gboolean delegated = FALSE;
  GOptionEntry entries[] = {
    {"selector", 0, 0, G_OPTION_ARG_STRING, &selector, "Selector (default: generated from the date)", "S"},
    {"algorithm", 0, 0, G_OPTION_ARG_STRING, &algorithm, "rsa-2048 (default), rsa-1024 or ed25519", "A"},
    {"import-key", 0, 0, G_OPTION_ARG_FILENAME, &import, "Import this PEM private key instead of generating one", "FILE"},
    {"delegated", 0, 0, G_OPTION_ARG_NONE, &delegated,
     "Delegated mode: the customer CNAMEs the selector to [relay] dkim_cname_domain", NULL},
    {"remove", 0, 0, G_OPTION_ARG_STRING, &remove, "Remove the pending or retired key with this selector", "S"},
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr(GOptionContext) ctx = cli_context("domain dkim", "ENTERPRISE DOMAIN",
    "Create a DKIM key for a domain and print the DNS record to publish. With an active key already, "
    "this is a rotation: the old key signs until the new one verifies.", &common, entries);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  const char *usage = "mailagent domain dkim ENTERPRISE DOMAIN [--selector S] [--algorithm rsa-2048|rsa-1024|ed25519] "
                      "[--import-key FILE] [--delegated] | --remove S";
  if ((rc = cli_positional(argc, argv, 2, 2, usage)) >= 0) return rc;
  g_autoptr(GError) error = NULL;
  if (remove) {
    if (selector || algorithm || import || delegated) return cli_usage_error("--remove takes no other option");
    g_autoptr(MaConfig) rcfg = NULL;
    MaStorage *rst = NULL;
    MaEnterprise *re = NULL;
    g_autofree char *rdomain = NULL;
    if ((rc = open_domain(&common, argv[1], argv[2], &rcfg, &rst, &re, &rdomain)) != 0) return rc;
    rc = ma_domains_key_remove(rst, re->id, rdomain, remove, &error);
    storage_close(&rst);
    ma_enterprise_free(re);
    if (rc < 0) return cli_fail("domain dkim --remove", error);
    if (common.json) cli_print_json(json_pack("{s:s, s:s, s:b}", "domain", rdomain, "selector", remove, "removed", 1), FALSE);
    else printf("removed DKIM key %s of %s\n", remove, rdomain);
    return 0;
  }
  MaDkimKeyType type = MA_DKIM_KEY_RSA_2048;
  if (algorithm && ma_dkim_key_type_parse(algorithm, &type, &error) < 0) return cli_usage_error("%s", error->message);
  if (selector && !ma_dkim_selector_check(selector, &error)) return cli_usage_error("%s", error->message);
  if (import && algorithm) return cli_usage_error("--algorithm and --import-key exclude each other (the key says its type)");
  char *pem = NULL;
  gsize pem_len = 0;
  if (import) {
    if (!g_file_get_contents(import, &pem, &pem_len, &error)) return cli_usage_error("--import-key: %s", error->message);
    if (pem_len > 64 * 1024 || strlen(pem) != pem_len) {
      ma_dkim_secret_free(pem);
      return cli_usage_error("--import-key: %s is not a PEM key file", import);
    }
  }
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *e = NULL;
  g_autofree char *domain = NULL;
  if ((rc = open_domain(&common, argv[1], argv[2], &cfg, &st, &e, &domain)) != 0) {
    ma_dkim_secret_free(pem);
    return rc;
  }
  guint8 master[32];
  MaDomainKey *k = NULL;
  if ((rc = load_master_key(cfg, master)) == 0) {
    MaDomainKeyRequest req = { .enterprise_id = e->id, .domain = domain, .selector = selector, .type = type,
                               .import_pem = pem, .delegated = delegated,
                               .cname_domain = cfg->relay_dkim_cname_domain, .now = ma_now() };
    if (ma_domains_key_create(st, master, &req, &k, &error) < 0) rc = cli_fail("domain dkim", error);
    else cli_audit(st, e->id, "domain.dkim_key", domain,
                   json_pack("{s:s?, s:b, s:b}", "selector", selector, "imported", pem != NULL, "delegated", delegated), NULL);
    memset(master, 0, sizeof master);
  }
  ma_dkim_secret_free(pem);
  storage_close(&st);
  ma_enterprise_free(e);
  if (rc != 0) return rc;
  if (common.json) {
    cli_print_json(ma_domains_key_json(k), FALSE);
  } else {
    printf("DKIM key %s (%s) created for %s; it signs once its record is verified.\n", k->selector, k->algorithm,
           k->domain);
    print_key_records(k, cfg->relay_dkim_cname_domain);
  }
  ma_domain_key_free(k);
  return 0;
}

/* ---- verify / spf --------------------------------------------------------------------------- */

static MaDnsSync *open_resolver(const MaConfig *cfg)
{
  MaDnsOptions opts;
  ma_dns_options_from_config(&opts, cfg);
  g_autoptr(GError) error = NULL;
  MaDnsSync *dns = ma_dns_sync_new(&opts, &error);
  if (!dns) cli_fail("dns", error);
  return dns;
}

static int cmd_verify(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autoptr(GOptionContext) ctx = cli_context("domain verify", "ENTERPRISE DOMAIN",
    "Check a domain's records now and update its status (as the scheduler of serve does). "
    "Exit 0 when verified, 1 when not.", &common, NULL);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 2, 2, "mailagent domain verify ENTERPRISE DOMAIN")) >= 0) return rc;
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *e = NULL;
  g_autofree char *domain = NULL;
  if ((rc = open_domain(&common, argv[1], argv[2], &cfg, &st, &e, &domain)) != 0) return rc;
  MaDnsSync *dns = open_resolver(cfg);
  if (!dns) {
    storage_close(&st);
    ma_enterprise_free(e);
    return 1;
  }
  g_autoptr(GError) error = NULL;
  MaDomainsResolver resolver = ma_domains_resolver_dns(dns);
  gint64 now = ma_now();
  g_autoptr(GPtrArray) notes = g_ptr_array_new_with_free_func(g_free);
  MaDomainCheck *c = ma_domains_check(st, cfg, &resolver, e->id, domain, now, &error);
  gboolean changed = FALSE;
  if (c && ma_domains_apply(st, c, now, notes, &changed, &error) < 0) g_clear_pointer(&c, ma_domain_check_free);
  storage_close(&st);
  ma_dns_sync_free(dns);
  ma_enterprise_free(e);
  if (!c) return cli_fail("domain verify", error);
  if (common.json) {
    json_t *doc = ma_domains_doctor_json(c, cfg);
    json_object_set_new(doc, "notes", json_array());
    for (guint i = 0; i < notes->len; i++)
      json_array_append_new(json_object_get(doc, "notes"), json_string(notes->pdata[i]));
    cli_print_json(doc, FALSE);
  } else {
    g_autofree char *text = ma_domains_doctor_text(c, cfg);
    fputs(text, stdout);
    for (guint i = 0; i < notes->len; i++) printf("note: %s\n", (char *) notes->pdata[i]);
  }
  rc = strcmp(c->domain->status, "verified") == 0 ? 0 : 1;
  ma_domain_check_free(c);
  return rc;
}

static int cmd_spf(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autoptr(GOptionContext) ctx = cli_context("domain spf", "ENTERPRISE DOMAIN",
    "Read the domain's SPF record, print the record to publish with mailagent's mechanism added once, "
    "the lint, and whether it authorises mailagent's sending addresses.", &common, NULL);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 2, 2, "mailagent domain spf ENTERPRISE DOMAIN")) >= 0) return rc;
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *e = NULL;
  g_autofree char *domain = NULL;
  if ((rc = open_domain(&common, argv[1], argv[2], &cfg, &st, &e, &domain)) != 0) return rc;
  MaDnsSync *dns = open_resolver(cfg);
  g_autoptr(GError) error = NULL;
  MaDomainCheck *c = NULL;
  if (dns) {
    MaDomainsResolver resolver = ma_domains_resolver_dns(dns);
    c = ma_domains_check(st, cfg, &resolver, e->id, domain, ma_now(), &error);
  }
  storage_close(&st);
  ma_dns_sync_free(dns);
  ma_enterprise_free(e);
  if (!dns) return 1;
  if (!c) return cli_fail("domain spf", error);
  json_t *doc = ma_domains_doctor_json(c, cfg);
  json_t *records = json_object_get(doc, "records");
  json_t *spf = NULL;
  for (size_t i = 0; i < json_array_size(records); i++)
    if (g_strcmp0(json_string_value(json_object_get(json_array_get(records, i), "kind")), "spf") == 0)
      spf = json_array_get(records, i);
  if (common.json) {
    cli_print_json(json_incref(spf), FALSE);
  } else {
    printf("SPF of %s (%s)\n", domain, c->spf_required ? "required: the return path is on this domain"
                                                        : "advisory: the return path is mailagent's");
    printf("  published: %s\n", c->spf_record ? c->spf_record : "(none)");
    printf("  publish:   %s\n", c->spf_proposed ? c->spf_proposed : "(no change needed)");
    printf("  mailagent's addresses: %s\n", c->spf_result);
    for (guint i = 0; i < c->spf_lint->len; i++) printf("  lint: %s\n", (char *) c->spf_lint->pdata[i]);
  }
  json_decref(doc);
  ma_domain_check_free(c);
  return 0;
}

int cli_domain(int argc, char **argv)
{
  static const CliSub subs[] = {
    {"add", cmd_add, "claim a domain for an enterprise"},
    {"list", cmd_list, "list an enterprise's domains with their status"},
    {"show", cmd_show, "show a domain, its keys and the records to publish"},
    {"remove", cmd_remove, "drop a domain (and its DKIM keys)"},
    {"dkim", cmd_dkim, "create (or rotate) a DKIM key and print its DNS record"},
    {"verify", cmd_verify, "check DNS now and update the domain's status"},
    {"spf", cmd_spf, "read the SPF record and check mailagent's addresses against it"},
  };
  return cli_dispatch("domain", subs, G_N_ELEMENTS(subs), argc, argv);
}
