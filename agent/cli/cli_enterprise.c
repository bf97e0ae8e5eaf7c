/* cli_enterprise.c - `mailagent enterprise add|list|show|domain|rotate-address`: the tenants.
 *
 * add creates the enterprise, its first virtual inbound address "<slug>-<8 random [a-z0-9]>@<[smtp]
 * inbound_domain>" and an enterprise API key (secret printed once), in one transaction.
 * rotate-address makes a new inbound address current and keeps the old one alive for a grace
 * period (default 7 days). Slugs are [a-z0-9-], derived from the name unless --slug is given.
 */
#include "cli.h"

#include "agent/codec/codec.h"
#include "agent/domains/domains.h"
#include "agent/tenant/apikey_store.h"
#include "agent/lib/clock.h"

#include <stdio.h>
#include <string.h>

#define SLUG_MAX 40   /* as POST /v1/enterprises */
#define NAME_MAX_LEN 200
#define DOMAINS_MAX 100
#define INBOUND_RANDOM_LEN 8

/* ---- helpers -------------------------------------------------------------------------------- */

static gboolean slug_valid(const char *s)
{
  gsize n = strlen(s);
  if (n == 0 || n > SLUG_MAX || !g_ascii_isalnum(s[0]) || s[n - 1] == '-') return FALSE;
  for (const char *p = s; *p; p++)
    if (!(g_ascii_islower(*p) || g_ascii_isdigit(*p) || *p == '-')) return FALSE;
  return TRUE;
}

/* "Acme Trading Ltd." -> "acme-trading-ltd"; "" when nothing usable is left. Caller frees. */
static char *slug_from_name(const char *name)
{
  GString *s = g_string_new(NULL);
  gboolean dash = FALSE;
  for (const char *p = name; *p && s->len < SLUG_MAX - 4; p++) {
    if (g_ascii_isalnum(*p)) {
      if (dash && s->len) g_string_append_c(s, '-');
      g_string_append_c(s, g_ascii_tolower(*p));
      dash = FALSE;
    } else {
      dash = TRUE;
    }
  }
  return g_string_free(s, FALSE);
}

/* 1 when id_or_slug names an enterprise already, 0 not, -1 error. */
static int taken(MaStorage *st, const char *id_or_slug, GError **error)
{
  MaEnterprise *e = NULL;
  int rc = storage_enterprise_get(st, id_or_slug, &e, error);
  ma_enterprise_free(e);
  return rc;
}

static char *new_inbound_local(const char *slug)
{
  g_autofree char *rnd = ma_random_alnum(INBOUND_RANDOM_LEN);
  return g_strconcat(slug, "-", rnd, NULL);
}

/* The domain in its stored form (lower-case A-label, agent/domains), caller frees; or NULL after
 * printing which rule it breaks. */
static char *domain_arg(const char *d)
{
  g_autoptr(GError) error = NULL;
  char *name = ma_domain_normalize(d, &error);
  if (!name) fprintf(stderr, "mailagent: \"%s\" is not a domain name: %s\n", d, error->message);
  return name;
}

static void print_enterprise(const MaEnterprise *e, const MaConfig *cfg)
{
  g_autofree char *addr = codec_inbound_address(e->inbound_local, cfg->inbound_domain);
  char created[32];
  ma_time_format(e->created_at, created);
  printf("id:              %s\n", e->id);
  printf("slug:            %s\n", e->slug);
  printf("name:            %s\n", e->name);
  printf("domains:         ");
  for (guint i = 0; i < e->domains->len; i++) printf("%s%s", i ? " " : "", (char *)g_ptr_array_index(e->domains, i));
  printf("\ninbound address: %s\n", addr);
  printf("created:         %s\n", created);
}

/* ---- add ------------------------------------------------------------------------------------ */

static int cmd_add(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autofree char *name = NULL, *slug_opt = NULL;
  g_auto(GStrv) domains = NULL;
  GOptionEntry entries[] = {
    {"name", 0, 0, G_OPTION_ARG_STRING, &name, "Display name (required)", "NAME"},
    {"domain", 0, 0, G_OPTION_ARG_STRING_ARRAY, &domains, "A mail domain of the enterprise (repeat for more; required)", "D"},
    {"slug", 0, 0, G_OPTION_ARG_STRING, &slug_opt, "Short name [a-z0-9-] (default: from the name)", "S"},
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr(GOptionContext) ctx = cli_context("enterprise add", "",
    "Create an enterprise; prints its id, slug, virtual inbound address and an API key (shown once).", &common, entries);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  const char *usage = "mailagent enterprise add --name NAME --domain D [--domain D2] [--slug S]";
  if ((rc = cli_positional(argc, argv, 0, 0, usage)) >= 0) return rc;
  if (!name || !*g_strstrip(name)) return cli_usage_error("--name is required\nusage: %s", usage);
  if (strlen(name) > NAME_MAX_LEN || !g_utf8_validate(name, -1, NULL))
    return cli_usage_error("--name: at most %d bytes of UTF-8", NAME_MAX_LEN);
  for (const char *p = name; *p; p++)
    if ((unsigned char)*p < 0x20) return cli_usage_error("--name contains a control character");
  if (!domains || !domains[0]) return cli_usage_error("at least one --domain is required\nusage: %s", usage);
  if (g_strv_length(domains) > DOMAINS_MAX) return cli_usage_error("at most %d domains", DOMAINS_MAX);
  if (slug_opt && !slug_valid(slug_opt))
    return cli_usage_error("--slug \"%s\": use 1 to %d characters of a-z, 0-9 and '-', starting with a letter or digit",
                           slug_opt, SLUG_MAX);

  g_autoptr(GPtrArray) doms = g_ptr_array_new_with_free_func(g_free);
  for (char **d = domains; *d; d++) {
    char *low = domain_arg(*d);
    if (!low) return 2;
    gboolean dup = FALSE;
    for (guint i = 0; i < doms->len; i++) dup |= !strcmp(g_ptr_array_index(doms, i), low);
    if (dup) g_free(low);
    else g_ptr_array_add(doms, low);
  }

  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  if ((rc = cli_open(&common, &cfg, &st)) != 0) return rc;
  g_autoptr(GError) error = NULL;

  /* The slug: given (must be free) or derived (made unique with -2, -3...). */
  g_autofree char *slug = NULL;
  if (slug_opt) {
    int t = taken(st, slug_opt, &error);
    if (t != 0) {
      storage_close(&st);
      if (t < 0) return cli_fail("enterprise add", error);
      return cli_usage_error("the slug \"%s\" is taken", slug_opt);
    }
    slug = g_strdup(slug_opt);
  } else {
    g_autofree char *base = slug_from_name(name);
    if (!*base || !g_ascii_isalnum(base[0])) {
      g_free(base);
      base = g_strdup("enterprise");
    }
    for (int n = 1; n < 1000 && !slug; n++) {
      g_autofree char *cand = n == 1 ? g_strdup(base) : g_strdup_printf("%s-%d", base, n);
      int t = taken(st, cand, &error);
      if (t < 0) {
        storage_close(&st);
        return cli_fail("enterprise add", error);
      }
      if (t == 0) slug = g_steal_pointer(&cand);
    }
    if (!slug) {
      storage_close(&st);
      return cli_usage_error("no free slug for \"%s\"; give one with --slug", name);
    }
  }

  MaEnterprise e = {0};
  e.id = ma_id_new();
  e.slug = slug;
  e.name = name;
  e.inbound_local = new_inbound_local(slug);
  e.domains = doms;
  e.created_at = ma_now();

  MaApiKey *key = NULL;
  g_autofree char *secret = NULL;
  if (storage_begin(st, &error) < 0 || storage_enterprise_create(st, &e, &error) < 0 ||
      apikey_create(st, e.id, "default", &key, &secret, &error) < 0 ||
      cli_audit(st, e.id, "enterprise.create", e.id, json_pack("{s:s, s:s}", "name", e.name, "slug", e.slug), &error) < 0 ||
      cli_audit(st, e.id, "apikey.create", key->id, json_pack("{s:s, s:s}", "scope", "enterprise", "label", "default"),
                &error) < 0 ||
      storage_commit(st, &error) < 0) {
    storage_rollback(st);
    storage_close(&st);
    g_free(e.id);
    g_free(e.inbound_local);
    return cli_fail("enterprise add", error);
  }
  storage_close(&st);

  if (common.json) {
    json_t *doc = codec_enterprise_to_json(&e, cfg->inbound_domain);
    json_t *jk = codec_api_key_to_json(key);
    json_object_set_new(jk, "secret", json_string(secret));
    json_object_set_new(doc, "api_key", jk);
    cli_print_json(doc, FALSE);
  } else {
    printf("enterprise created\n");
    print_enterprise(&e, cfg);
    printf("API key %s (shown once; store it now):\n  %s\n", key->id, secret);
  }
  memset(secret, 0, strlen(secret));
  ma_api_key_free(key);
  g_free(e.id);
  g_free(e.inbound_local);
  return 0;
}

/* ---- list ----------------------------------------------------------------------------------- */

static int cmd_list(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autoptr(GOptionContext) ctx = cli_context("enterprise list", "", "List every enterprise, oldest first.", &common, NULL);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 0, 0, "mailagent enterprise list [--json]")) >= 0) return rc;
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  if ((rc = cli_open(&common, &cfg, &st)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func((GDestroyNotify)ma_enterprise_free);
  rc = storage_enterprise_list(st, list, &error);
  storage_close(&st);
  if (rc < 0) return cli_fail("enterprise list", error);

  if (common.json) {
    json_t *items = json_array();
    for (guint i = 0; i < list->len; i++)
      json_array_append_new(items, codec_enterprise_to_json(g_ptr_array_index(list, i), cfg->inbound_domain));
    cli_print_json(codec_page(items, NULL), FALSE);
    return 0;
  }
  if (list->len == 0) {
    printf("no enterprises (add one with `mailagent enterprise add --name NAME --domain D`)\n");
    return 0;
  }
  printf("%-20s  %-20s  %-24s  %s\n", "ID", "SLUG", "NAME", "INBOUND ADDRESS");
  for (guint i = 0; i < list->len; i++) {
    const MaEnterprise *e = g_ptr_array_index(list, i);
    g_autofree char *addr = codec_inbound_address(e->inbound_local, cfg->inbound_domain);
    printf("%-20s  %-20s  %-24s  %s\n", e->id, e->slug, e->name, addr);
  }
  return 0;
}

/* ---- show ----------------------------------------------------------------------------------- */

static int cmd_show(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autoptr(GOptionContext) ctx = cli_context("enterprise show", "ENTERPRISE",
    "Show an enterprise (id or slug): domains, live inbound addresses, employees and API keys.", &common, NULL);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 1, 1, "mailagent enterprise show ENTERPRISE [--json]")) >= 0) return rc;
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *e = NULL;
  if ((rc = cli_open_enterprise(&common, argv[1], &cfg, &st, &e)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) inbound = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GPtrArray) employees = g_ptr_array_new_with_free_func((GDestroyNotify)ma_employee_free);
  g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func((GDestroyNotify)ma_api_key_free);
  if (storage_inbound_list(st, e->id, ma_now(), inbound, &error) < 0 ||
      storage_employee_list(st, e->id, employees, &error) < 0 || storage_apikey_list(st, e->id, keys, &error) < 0) {
    storage_close(&st);
    ma_enterprise_free(e);
    return cli_fail("enterprise show", error);
  }
  storage_close(&st);
  guint live_keys = 0;
  for (guint i = 0; i < keys->len; i++) live_keys += ((MaApiKey *)g_ptr_array_index(keys, i))->revoked_at == 0;

  if (common.json) {
    json_t *doc = codec_enterprise_to_json(e, cfg->inbound_domain);
    json_t *addrs = json_array();
    for (guint i = 0; i < inbound->len; i++) {
      g_autofree char *a = codec_inbound_address(g_ptr_array_index(inbound, i), cfg->inbound_domain);
      json_array_append_new(addrs, json_string(a));
    }
    json_object_set_new(doc, "inbound_addresses", addrs);
    json_object_set_new(doc, "employee_count", json_integer(employees->len));
    json_object_set_new(doc, "api_key_count", json_integer(live_keys));
    cli_print_json(doc, FALSE);
  } else {
    print_enterprise(e, cfg);
    printf("live inbound addresses:\n");
    for (guint i = 0; i < inbound->len; i++) {
      g_autofree char *a = codec_inbound_address(g_ptr_array_index(inbound, i), cfg->inbound_domain);
      printf("  %s%s\n", a, i == 0 ? " (current)" : " (old, in its grace period)");
    }
    printf("employees:       %u\n", employees->len);
    printf("API keys:        %u live\n", live_keys);
  }
  ma_enterprise_free(e);
  return 0;
}

/* ---- domain add|remove ---------------------------------------------------------------------- */

static int cmd_domain(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autoptr(GOptionContext) ctx = cli_context("enterprise domain", "add|remove ENTERPRISE DOMAIN",
    "Add or remove one of an enterprise's mail domains (its internal addresses).", &common, NULL);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  const char *usage = "mailagent enterprise domain add|remove ENTERPRISE DOMAIN";
  if ((rc = cli_positional(argc, argv, 3, 3, usage)) >= 0) return rc;
  gboolean add = strcmp(argv[1], "add") == 0;
  if (!add && strcmp(argv[1], "remove") != 0) return cli_usage_error("\"%s\": say add or remove\nusage: %s", argv[1], usage);
  g_autofree char *domain = domain_arg(argv[3]);
  if (!domain) return 2;
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *e = NULL;
  if ((rc = cli_open_enterprise(&common, argv[2], &cfg, &st, &e)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  if (add) rc = storage_enterprise_domain_add(st, e->id, domain, &error);
  else rc = storage_enterprise_domain_remove(st, e->id, domain, &error);
  if (rc >= 0) cli_audit(st, e->id, add ? "enterprise.domain_add" : "enterprise.domain_remove", domain, NULL, NULL);
  MaEnterprise *after = NULL;
  if (rc >= 0 && common.json && storage_enterprise_get(st, e->id, &after, &error) < 0) rc = -1;
  storage_close(&st);
  if (rc < 0) {
    ma_enterprise_free(after);
    ma_enterprise_free(e);
    return cli_fail(add ? "domain add" : "domain remove", error);
  }
  if (!add && rc == 0) {
    fprintf(stderr, "mailagent: %s is not a domain of %s\n", domain, e->slug);
    ma_enterprise_free(after);
    ma_enterprise_free(e);
    return 2;
  }
  if (common.json && after) cli_print_json(codec_enterprise_to_json(after, cfg->inbound_domain), FALSE);
  else printf("%s %s %s\n", add ? "added" : "removed", domain, e->slug);
  ma_enterprise_free(after);
  ma_enterprise_free(e);
  return 0;
}

/* ---- rotate-address ------------------------------------------------------------------------- */

static int cmd_rotate(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  int grace_days = 7;
  GOptionEntry entries[] = {
    {"grace-days", 0, 0, G_OPTION_ARG_INT, &grace_days, "Days the old address keeps working (default 7)", "N"},
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr(GOptionContext) ctx = cli_context("enterprise rotate-address", "ENTERPRISE",
    "Give the enterprise a new virtual inbound address; the old one works for the grace period.", &common, entries);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 1, 1, "mailagent enterprise rotate-address ENTERPRISE [--grace-days N]")) >= 0)
    return rc;
  if (grace_days < 0 || grace_days > 365) return cli_usage_error("--grace-days must be 0 to 365");
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *e = NULL;
  if ((rc = cli_open_enterprise(&common, argv[1], &cfg, &st, &e)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  g_autofree char *local = new_inbound_local(e->slug);
  gint64 expires = ma_now() + (gint64)grace_days * 86400;
  g_autoptr(GPtrArray) live = g_ptr_array_new_with_free_func(g_free);
  rc = storage_inbound_rotate(st, e->id, local, expires, &error);
  if (rc == 0) cli_audit(st, e->id, "inbound.rotate", NULL, json_pack("{s:i}", "grace_days", grace_days), NULL);
  if (rc == 0) rc = storage_inbound_list(st, e->id, ma_now(), live, &error);
  storage_close(&st);
  if (rc < 0) {
    ma_enterprise_free(e);
    return cli_fail("rotate-address", error);
  }
  g_autofree char *old_addr = codec_inbound_address(e->inbound_local, cfg->inbound_domain);
  g_autofree char *new_addr = codec_inbound_address(local, cfg->inbound_domain);
  char when[32];
  ma_time_format(expires, when);
  if (common.json) {
    /* The shape of POST /v1/inbound-address:rotate: {"address", "live", "previous_expires_at"}. */
    json_t *doc = json_object();
    json_object_set_new(doc, "address", json_string(new_addr));
    json_t *all = json_array();
    for (guint i = 0; i < live->len; i++) {
      g_autofree char *a = codec_inbound_address(g_ptr_array_index(live, i), cfg->inbound_domain);
      json_array_append_new(all, json_string(a));
    }
    json_object_set_new(doc, "live", all);
    json_object_set_new(doc, "previous_address", json_string(old_addr));
    json_object_set_new(doc, "previous_expires_at", json_string(when));
    cli_print_json(doc, FALSE);
  } else {
    printf("inbound address: %s\nprevious address %s works until %s\n", new_addr, old_addr, when);
  }
  ma_enterprise_free(e);
  return 0;
}

/* Deletes an enterprise and all its data; --confirm must repeat its slug, as a typed confirmation
 * (there is no undo: restore from a backup of the data directory). */
static int cmd_delete(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autofree char *confirm = NULL;
  GOptionEntry entries[] = {
    {"confirm", 0, 0, G_OPTION_ARG_STRING, &confirm, "The enterprise's slug, typed again to confirm", "SLUG"},
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr(GOptionContext) ctx = cli_context("enterprise delete", "ENTERPRISE --confirm SLUG",
    "Delete an enterprise with its records, archived mail, activities, keys, rules, settings and webhook events, "
    "and every stored blob no other enterprise uses. There is no undo.", &common, entries);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 1, 1, "mailagent enterprise delete ENTERPRISE --confirm SLUG")) >= 0) return rc;
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *e = NULL;
  if ((rc = cli_open_enterprise(&common, argv[1], &cfg, &st, &e)) != 0) return rc;
  if (!confirm || strcmp(confirm, e->slug) != 0) {
    fprintf(stderr, "mailagent: enterprise delete: repeat the slug to confirm: --confirm %s\n", e->slug);
    storage_close(&st);
    ma_enterprise_free(e);
    return 2;
  }
  g_autoptr(GError) error = NULL;
  /* the entry outlives the enterprise: enterprise_id NULL, the id as its target */
  if (storage_begin(st, &error) < 0 || (rc = storage_enterprise_delete(st, e->id, &error)) < 0 ||
      cli_audit(st, NULL, "enterprise.delete", e->id, json_pack("{s:s}", "slug", e->slug), &error) < 0 ||
      storage_commit(st, &error) < 0) {
    storage_rollback(st);
    storage_close(&st);
    ma_enterprise_free(e);
    return cli_fail("enterprise delete", error);
  }
  storage_close(&st);
  if (common.json) cli_print_json(json_pack("{s:s, s:s, s:b}", "id", e->id, "slug", e->slug, "deleted", TRUE), FALSE);
  else printf("enterprise %s (%s) deleted with all its data\n", e->slug, e->id);
  ma_enterprise_free(e);
  return 0;
}

int cli_enterprise(int argc, char **argv)
{
  static const CliSub subs[] = {
    {"add", cmd_add, "create an enterprise (prints its inbound address and an API key)"},
    {"delete", cmd_delete, "delete an enterprise and everything it owns: delete ENTERPRISE --confirm SLUG"},
    {"list", cmd_list, "list enterprises"},
    {"show", cmd_show, "show an enterprise with its domains and live inbound addresses"},
    {"domain", cmd_domain, "add or remove a mail domain: domain add|remove ENTERPRISE D"},
    {"rotate-address", cmd_rotate, "new virtual inbound address; the old one lives on for a grace period"},
  };
  return cli_dispatch("enterprise", subs, G_N_ELEMENTS(subs), argc, argv);
}
