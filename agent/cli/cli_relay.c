/* cli_relay.c - `mailagent relay add|list|show|update|enable|disable|delete|test|authorize|callback
 * ENTERPRISE ...`:
 * an enterprise's own SMTP relays (agent/relay). add and update turn their options into the same
 * JSON fields POST/PATCH /v1/relays take and leave every rule to relay_create/relay_modify, so the
 * CLI and the API cannot disagree. Passwords come from a file (or stdin with -), never from the
 * command line, and are never printed. `test` sends one message through the relay (relay_probe)
 * and prints each step with the server's replies; a pass marks the relay ok. A relay that signs in
 * with XOAUTH2 gets its grant as an OAuth2 mailbox does: `authorize` prints the provider's URL,
 * `callback` exchanges the code the provider sent back (relay_oauth2.c); the enterprise's client
 * for the provider is the one `mailbox oauth2-client` sets.
 */
#include "cli.h"

#include "agent/collector/collector.h"
#include "agent/lib/clock.h"
#include "agent/relay/relay.h"
#include "agent/tenant/settings.h"

#include <stdio.h>
#include <string.h>

#define PASSWORD_MAX 1024

typedef struct {
  char *name, *host, *security, *tls_mode, *auth, *mechanism, *username, *password_file, *provider, *types, *dkim,
    *return_path;
  int port;
  gint64 daily_limit;
  char **filters;
} RelayOpts;

static void opts_clear(RelayOpts *o)
{
  g_free(o->name);
  g_free(o->host);
  g_free(o->security);
  g_free(o->tls_mode);
  g_free(o->auth);
  g_free(o->mechanism);
  g_free(o->username);
  g_free(o->password_file);
  g_free(o->provider);
  g_free(o->types);
  g_free(o->dkim);
  g_free(o->return_path);
  g_strfreev(o->filters);
}

static char *read_password(const char *path, GError **error)
{
  char *text = NULL;
  if (strcmp(path, "-") == 0) {
    GString *s = g_string_new(NULL);
    int c;
    while ((c = getchar()) != EOF && s->len <= PASSWORD_MAX) g_string_append_c(s, (char) c);
    text = g_string_free(s, FALSE);
  } else if (!g_file_get_contents(path, &text, NULL, error)) {
    return NULL;
  }
  char *nl = strpbrk(text, "\r\n");
  if (nl) *nl = '\0';
  return text;
}

static int on_off(const char *v, const char *what, json_t **out)
{
  if (g_ascii_strcasecmp(v, "on") == 0 || g_ascii_strcasecmp(v, "yes") == 0 || strcmp(v, "true") == 0) *out = json_true();
  else if (g_ascii_strcasecmp(v, "off") == 0 || g_ascii_strcasecmp(v, "no") == 0 || strcmp(v, "false") == 0) *out = json_false();
  else return cli_usage_error("%s: on or off", what);
  return -1;
}

/* --filter PRIORITY:SENDER_DOMAIN[:PATTERN,PATTERN...] */
static int filter_json(const char *spec, json_t **out)
{
  g_auto(GStrv) parts = g_strsplit(spec, ":", 3);
  char *end = NULL;
  gint64 prio = parts[0] ? g_ascii_strtoll(parts[0], &end, 10) : 0;
  if (!parts[0] || !parts[1] || !*parts[1] || !end || *end || prio < 1)
    return cli_usage_error("--filter \"%s\": PRIORITY:SENDER_DOMAIN[:PATTERN,...] (e.g. 1:acme.example:*.client.example)", spec);
  *out = json_pack("{s:I,s:s,s:s?}", "priority", (json_int_t) prio, "sender_domain", parts[1], "recipient_patterns",
                   parts[2] && *parts[2] ? parts[2] : NULL);
  return -1;
}

/* The JSON fields the options give (only those given). -1 and *fields, or an exit status. */
static int opts_fields(const RelayOpts *o, json_t **fields)
{
  json_t *f = json_object();
  *fields = f;
  if (o->name) json_object_set_new(f, "name", json_string(o->name));
  if (o->host) json_object_set_new(f, "host", json_string(o->host));
  if (o->port) json_object_set_new(f, "port", json_integer(o->port));
  if (o->security) json_object_set_new(f, "security", json_string(o->security));
  if (o->tls_mode) json_object_set_new(f, "tls_mode", json_string(o->tls_mode));
  if (o->daily_limit >= 0) json_object_set_new(f, "daily_limit", json_integer(o->daily_limit));
  if (o->return_path) json_object_set_new(f, "return_path", *o->return_path ? json_string(o->return_path) : json_null());
  json_t *b = NULL;
  int rc;
  if (o->dkim) {
    if ((rc = on_off(o->dkim, "--dkim", &b)) >= 0) return rc;
    json_object_set_new(f, "dkim", b);
  }
  if (o->types) {
    json_t *arr = json_array();
    g_auto(GStrv) t = g_strsplit_set(o->types, ", ", -1);
    for (char **p = t; *p; p++)
      if (**p) json_array_append_new(arr, json_string(*p));
    json_object_set_new(f, "email_types", arr);
  }
  if (o->auth || o->mechanism || o->username || o->password_file || o->provider) {
    json_t *auth = json_object();
    if (o->auth) {
      if ((rc = on_off(o->auth, "--auth", &b)) >= 0) {
        json_decref(auth);
        return rc;
      }
      json_object_set_new(auth, "enabled", b);
    }
    if (o->mechanism) json_object_set_new(auth, "mechanism", json_string(o->mechanism));
    if (o->username) json_object_set_new(auth, "username", json_string(o->username));
    if (o->provider) json_object_set_new(auth, "provider", json_string(o->provider));
    if (o->password_file) {
      g_autoptr(GError) error = NULL;
      char *pw = read_password(o->password_file, &error);
      if (!pw) {
        json_decref(auth);
        return cli_fail("--password-file", error);
      }
      json_object_set_new(auth, "password", json_string(pw));
      memset(pw, 0, strlen(pw));
      g_free(pw);
    }
    json_object_set_new(f, "auth", auth);
  }
  if (o->filters) {
    json_t *arr = json_array();
    for (char **p = o->filters; *p; p++) {
      json_t *one = NULL;
      if ((rc = filter_json(*p, &one)) >= 0) {
        json_decref(arr);
        return rc;
      }
      json_array_append_new(arr, one);
    }
    json_object_set_new(f, "filters", arr);
  }
  return -1;
}

static void print_relay(const MaRelay *r, gint64 sent_today)
{
  json_t *doc = relay_to_json(r, sent_today);
  json_t *st = json_object_get(doc, "status");
  printf("relay %s (%s)\n", r->name, r->id);
  printf("  server:      %s:%d %s, TLS %s\n", r->host, r->port, r->security, r->tls_mode);
  printf("  auth:        %s%s%s%s", r->auth_enabled ? "on, " : "off", r->auth_enabled ? r->auth_mechanism : "",
         r->auth_enabled ? " as " : "", r->auth_enabled && r->username ? r->username : "");
  if (relay_uses_oauth2(r))
    printf(" at %s, %s", r->auth_provider ? r->auth_provider : "?",
           relay_needs_sign_in(r) ? "NOT signed in (relay authorize)" : "signed in");
  printf("\n");
  printf("  carries:     %s; DKIM %s; %s\n", r->email_types, r->dkim ? "on" : "off", r->enabled ? "enabled" : "DISABLED");
  if (r->daily_limit > 0)
    printf("  today:       %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT " recipients\n", sent_today, r->daily_limit);
  else
    printf("  today:       %" G_GINT64_FORMAT " recipients (no daily limit)\n", sent_today);
  const char *state = json_string_value(json_object_get(st, "state"));
  const char *reason = json_string_value(json_object_get(st, "reason"));
  const char *until = json_string_value(json_object_get(st, "until"));
  printf("  status:      %s", state);
  if (reason) printf(" (%s)", reason);
  if (until && strcmp(state, "suspended") == 0) printf(" until %s", until);
  printf("\n");
  for (guint i = 0; i < r->filters->len; i++) {
    const MaRelayFilter *f = g_ptr_array_index(r->filters, i);
    printf("  filter %-4d  from %s to %s\n", f->priority, f->sender_domain,
           f->recipient_patterns ? f->recipient_patterns : "any recipient");
  }
  printf("  return path: %s\n", !r->return_path || strcmp(r->return_path, "bounce") == 0 ? "bounce (VERP on [relay] bounce_domain)"
                                                                                      : r->return_path);
  json_decref(doc);
}

static void print_or_json(MaStorage *st, const MaConfig *cfg, const MaRelay *r, gboolean json)
{
  gint64 sent = 0;
  g_autoptr(GError) error = NULL;
  if (relay_today(st, cfg, r, &sent, &error) < 0) cli_warn("sent today unknown: %s", error->message);
  if (json) cli_print_json(relay_to_json(r, sent), FALSE);
  else print_relay(r, sent);
}

#define RELAY_OPTION_ENTRIES(o)                                                                                         \
  {"name", 0, 0, G_OPTION_ARG_STRING, &(o).name, "Name of the relay (letters, digits, . _ -)", "NAME"},                \
  {"host", 0, 0, G_OPTION_ARG_STRING, &(o).host, "Mail domain, host name or IP address", "HOST"},                     \
  {"port", 0, 0, G_OPTION_ARG_INT, &(o).port, "Port ([relay] allowed_ports; 465 = implicit TLS)", "PORT"},             \
  {"security", 0, 0, G_OPTION_ARG_STRING, &(o).security, "starttls or implicit (default by port)", "S"},               \
  {"tls-mode", 0, 0, G_OPTION_ARG_STRING, &(o).tls_mode, "off, preferred, required, preferred-verify, required-verify (default)", "M"}, \
  {"auth", 0, 0, G_OPTION_ARG_STRING, &(o).auth, "SMTP AUTH on or off (on forces required-verify)", "on|off"},        \
  {"mechanism", 0, 0, G_OPTION_ARG_STRING, &(o).mechanism, "PLAIN (default), LOGIN or XOAUTH2 (then relay authorize)", "MECH"}, \
  {"provider", 0, 0, G_OPTION_ARG_STRING, &(o).provider, "XOAUTH2: the OAuth2 provider preset (client: mailbox oauth2-client)", "P"}, \
  {"username", 0, 0, G_OPTION_ARG_STRING, &(o).username, "AUTH user name", "USER"},                                   \
  {"password-file", 0, 0, G_OPTION_ARG_FILENAME, &(o).password_file, "File whose first line is the password (- for stdin)", "FILE"}, \
  {"daily-limit", 0, 0, G_OPTION_ARG_INT64, &(o).daily_limit, "Recipients per day (enterprise's time zone; 0: none)", "N"}, \
  {"types", 0, 0, G_OPTION_ARG_STRING, &(o).types, "Email types it carries: workflow,mass,individual (default all)", "LIST"}, \
  {"dkim", 0, 0, G_OPTION_ARG_STRING, &(o).dkim, "DKIM-sign what it carries (default on)", "on|off"},                  \
  {"filter", 0, 0, G_OPTION_ARG_STRING_ARRAY, &(o).filters, "PRIORITY:SENDER_DOMAIN[:PATTERN,...] (repeat; replaces all)", "F"}, \
  {"return-path", 0, 0, G_OPTION_ARG_STRING, &(o).return_path, "Envelope sender through this relay: bounce (VERP, the default), from, or an address in one of the enterprise's domains", "RP"}

static int cmd_add(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  RelayOpts o = {.daily_limit = -1};
  GOptionEntry entries[] = {RELAY_OPTION_ENTRIES(o), G_OPTION_ENTRY_NULL};
  g_autoptr(GOptionContext) ctx = cli_context("relay add", "ENTERPRISE",
    "Add an enterprise relay. Needs --name, --host, --port and at least one --filter; it is untested until "
    "`mailagent relay test` passes.", &common, entries);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc < 0) rc = cli_positional(argc, argv, 1, 1, "mailagent relay add ENTERPRISE --name N --host H --port P --filter F...");
  json_t *fields = NULL;
  if (rc < 0) rc = opts_fields(&o, &fields);
  opts_clear(&o);
  if (rc >= 0) {
    json_decref(fields);
    return rc;
  }
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *ent = NULL;
  if ((rc = cli_open_enterprise(&common, argv[1], &cfg, &st, &ent)) != 0) {
    json_decref(fields);
    return rc;
  }
  g_autoptr(GError) error = NULL;
  MaRelay *r = NULL;
  rc = relay_create(st, cfg, ent->id, fields, &r, &error);
  json_decref(fields);
  if (rc == 0) {
    cli_audit(st, ent->id, "relay.add", r->name, NULL, NULL);
    print_or_json(st, cfg, r, common.json);
  }
  storage_close(&st);
  ma_enterprise_free(ent);
  ma_relay_free(r);
  return rc < 0 ? cli_fail("relay add", error) : 0;
}

/* update, enable and disable: fields applied to RELAY. */
static int modify(const CliCommon *common, const char *enterprise, const char *relay, json_t *fields, const char *action)
{
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *ent = NULL;
  int rc = cli_open_enterprise(common, enterprise, &cfg, &st, &ent);
  if (rc != 0) {
    json_decref(fields);
    return rc;
  }
  g_autoptr(GError) error = NULL;
  MaRelay *r = NULL;
  rc = relay_modify(st, cfg, ent->id, relay, fields, &r, &error);
  json_decref(fields);
  if (rc == 0) {
    g_autofree char *what = g_strdup_printf("relay.%s", action);
    cli_audit(st, ent->id, what, r->name, NULL, NULL);
    print_or_json(st, cfg, r, common->json);
  }
  storage_close(&st);
  ma_enterprise_free(ent);
  ma_relay_free(r);
  if (rc < 0) {
    g_autofree char *what = g_strdup_printf("relay %s", action);
    return cli_fail(what, error);
  }
  return 0;
}

static int cmd_update(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  RelayOpts o = {.daily_limit = -1};
  GOptionEntry entries[] = {RELAY_OPTION_ENTRIES(o), G_OPTION_ENTRY_NULL};
  g_autoptr(GOptionContext) ctx = cli_context("relay update", "ENTERPRISE RELAY",
    "Change a relay's settings (only those given). A change to how it is reached makes it untested.", &common, entries);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc < 0) rc = cli_positional(argc, argv, 2, 2, "mailagent relay update ENTERPRISE RELAY [options]");
  json_t *fields = NULL;
  if (rc < 0) rc = opts_fields(&o, &fields);
  opts_clear(&o);
  if (rc >= 0) {
    json_decref(fields);
    return rc;
  }
  return modify(&common, argv[1], argv[2], fields, "update");
}

static int toggle(int argc, char **argv, gboolean on)
{
  g_auto(CliCommon) common = {0};
  const char *name = on ? "enable" : "disable";
  g_autofree char *prg = g_strdup_printf("relay %s", name);
  g_autoptr(GOptionContext) ctx = cli_context(prg, "ENTERPRISE RELAY",
    on ? "Let the relay carry mail again." : "Stop routing mail through the relay (its settings stay).", &common, NULL);
  int rc = cli_parse(ctx, &argc, &argv);
  g_autofree char *usage = g_strdup_printf("mailagent relay %s ENTERPRISE RELAY", name);
  if (rc < 0) rc = cli_positional(argc, argv, 2, 2, usage);
  if (rc >= 0) return rc;
  return modify(&common, argv[1], argv[2], json_pack("{s:b}", "enabled", on), name);
}

static int cmd_enable(int argc, char **argv) { return toggle(argc, argv, TRUE); }
static int cmd_disable(int argc, char **argv) { return toggle(argc, argv, FALSE); }

static int cmd_list(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autoptr(GOptionContext) ctx = cli_context("relay list", "ENTERPRISE", "List an enterprise's relays.", &common, NULL);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc < 0) rc = cli_positional(argc, argv, 1, 1, "mailagent relay list ENTERPRISE [--json]");
  if (rc >= 0) return rc;
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *ent = NULL;
  if ((rc = cli_open_enterprise(&common, argv[1], &cfg, &st, &ent)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func((GDestroyNotify) ma_relay_free);
  rc = storage_relay_list(st, ent->id, list, &error);
  json_t *items = json_array();
  for (guint i = 0; rc == 0 && i < list->len; i++) {
    const MaRelay *r = g_ptr_array_index(list, i);
    gint64 sent = 0;
    if (relay_today(st, cfg, r, &sent, &error) < 0) rc = -1;
    json_t *doc = relay_to_json(r, sent);
    if (!common.json)
      printf("%-20s %-28s %s:%d  %-9s %s  filters %u  today %" G_GINT64_FORMAT "\n", r->id, r->name, r->host, r->port,
             json_string_value(json_object_get(json_object_get(doc, "status"), "state")), r->enabled ? "enabled " : "disabled",
             r->filters->len, sent);
    json_array_append_new(items, doc);
  }
  storage_close(&st);
  ma_enterprise_free(ent);
  if (rc < 0) {
    json_decref(items);
    return cli_fail("relay list", error);
  }
  if (common.json) cli_print_json(json_pack("{s:o,s:n}", "items", items, "next_cursor"), FALSE);
  else json_decref(items);
  if (!common.json && list->len == 0) printf("no relays\n");
  return 0;
}

/* The configuration, storage and relay RELAY (id or name) of ENTERPRISE for command what. 0, or an
 * exit status (printed; nothing left open). The caller closes *st and frees *r. */
static int open_relay(const CliCommon *common, const char *enterprise, const char *relay, const char *what,
                      MaConfig **cfg, MaStorage **st, MaRelay **r)
{
  MaEnterprise *ent = NULL;
  int rc = cli_open_enterprise(common, enterprise, cfg, st, &ent);
  if (rc != 0) return rc;
  g_autoptr(GError) error = NULL;
  rc = storage_relay_get(*st, ent->id, relay, r, &error);
  ma_enterprise_free(ent);
  if (rc > 0) return 0;
  storage_close(st);
  return rc == 0 ? cli_usage_error("no relay %s", relay) : cli_fail(what, error);
}

static int cmd_show(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autoptr(GOptionContext) ctx = cli_context("relay show", "ENTERPRISE RELAY", "Show one relay.", &common, NULL);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc < 0) rc = cli_positional(argc, argv, 2, 2, "mailagent relay show ENTERPRISE RELAY [--json]");
  if (rc >= 0) return rc;
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaRelay *r = NULL;
  if ((rc = open_relay(&common, argv[1], argv[2], "relay show", &cfg, &st, &r)) != 0) return rc;
  print_or_json(st, cfg, r, common.json);
  storage_close(&st);
  ma_relay_free(r);
  return 0;
}

static int cmd_delete(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autoptr(GOptionContext) ctx = cli_context("relay delete", "ENTERPRISE RELAY",
    "Delete a relay (mail already routed through it falls back when it is next attempted).", &common, NULL);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc < 0) rc = cli_positional(argc, argv, 2, 2, "mailagent relay delete ENTERPRISE RELAY");
  if (rc >= 0) return rc;
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaRelay *r = NULL;
  if ((rc = open_relay(&common, argv[1], argv[2], "relay delete", &cfg, &st, &r)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  rc = storage_relay_delete(st, r->enterprise_id, r->id, &error);
  if (rc > 0) cli_audit(st, r->enterprise_id, "relay.delete", r->name, NULL, NULL);
  storage_close(&st);
  ma_relay_free(r);
  if (rc < 0) return cli_fail("relay delete", error);
  if (rc == 0) return cli_usage_error("no relay %s", argv[2]);
  printf("deleted relay %s\n", argv[2]);
  return 0;
}

static void print_step(void *arg, const char *step, const char *text)
{
  printf("%-4s %s\n", step, text);
  fflush(stdout);
}

static int cmd_test(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autofree char *to = NULL, *from = NULL;
  GOptionEntry entries[] = {
    {"to", 0, 0, G_OPTION_ARG_STRING, &to, "Recipient of the test message (default: the admin_email setting)", "ADDR"},
    {"from", 0, 0, G_OPTION_ARG_STRING, &from, "Envelope and header sender (default: the relay's return path when it is an address, else postmaster@ the first filter's domain)", "ADDR"},
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr(GOptionContext) ctx = cli_context("relay test", "ENTERPRISE RELAY",
    "Send a test message through the relay: DNS, connect, TLS and certificate, AUTH, MAIL, RCPT, DATA, printing "
    "every server reply. A pass marks the relay ok; exit 1 when a step fails.", &common, entries);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc < 0) rc = cli_positional(argc, argv, 2, 2, "mailagent relay test ENTERPRISE RELAY [--to ADDR] [--from ADDR]");
  if (rc >= 0) return rc;
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaRelay *r = NULL;
  if ((rc = open_relay(&common, argv[1], argv[2], "relay test", &cfg, &st, &r)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  g_autofree char *failure = NULL;
  CollectorEnv coll = {0};
  gboolean coll_ok = FALSE;
  rc = 1;
  if (relay_uses_oauth2(r)) {
    /* its token comes from the grant: the OAuth2 environment of the mailboxes (master key, presets) */
    if (collector_env_init(&coll, cfg, &error) < 0) rc = -1;
    else coll_ok = TRUE;
  }
  RelayProbeEnv env = {.cfg = cfg, .oauth2 = coll_ok ? &coll.oauth2 : NULL, .st = st};
  if (rc > 0) rc = relay_test(&env, r, to, from, print_step, NULL, &failure, &error) == 0 ? 1 : -1;
  if (coll_ok) collector_env_clear(&coll);
  if (rc > 0) cli_audit(st, r->enterprise_id, "relay.test", r->name, json_pack("{s:b}", "passed", failure == NULL), NULL);
  storage_close(&st);
  ma_relay_free(r);
  if (rc < 0) return cli_fail("relay test", error);
  if (failure) {
    printf("FAILED: %s\n", failure);
    return 1;
  }
  printf("PASSED: the relay accepted the test message; status ok\n");
  return 0;
}

/* authorize and callback: the relay (open_relay) and the OAuth2 environment. 0, or an exit status
 * (printed; nothing left open). */
static int open_oauth2(const CliCommon *common, const char *enterprise, const char *relay, const char *what,
                       MaConfig **cfg, MaStorage **st, MaRelay **r, CollectorEnv *env)
{
  int rc = open_relay(common, enterprise, relay, what, cfg, st, r);
  if (rc != 0) return rc;
  g_autoptr(GError) error = NULL;
  if (collector_env_init(env, *cfg, &error) == 0) return 0;
  storage_close(st);
  g_clear_pointer(r, ma_relay_free);
  return cli_fail(what, error);
}

static int cmd_authorize(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autofree char *redirect = NULL;
  GOptionEntry entries[] = {CLI_OAUTH2_REDIRECT_ENTRY(redirect), G_OPTION_ENTRY_NULL};
  g_autoptr(GOptionContext) ctx = cli_context("relay authorize", "ENTERPRISE RELAY",
    "Print the provider's authorization URL for a relay that signs in with XOAUTH2 (state single-use, 10 minutes); "
    "then `relay callback` with the code.", &common, entries);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc < 0) rc = cli_positional(argc, argv, 2, 2, "mailagent relay authorize ENTERPRISE RELAY [--redirect-uri URI]");
  if (rc >= 0) return rc;
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaRelay *r = NULL;
  CollectorEnv env;
  if ((rc = open_oauth2(&common, argv[1], argv[2], "relay authorize", &cfg, &st, &r, &env)) != 0) return rc;
  if (!redirect) redirect = collector_oauth2_own_redirect(cfg);
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;
  if (!redirect) rc = cli_usage_error("--redirect-uri is required when [api] public_url is not set");
  else if (relay_oauth2_begin(&env.oauth2, st, r, redirect, &url, &error) < 0) rc = cli_fail("relay authorize", error);
  else if (common.json) cli_print_json(json_pack("{s:s}", "authorization_url", url), FALSE);
  else printf("%s\n", url);
  storage_close(&st);
  collector_env_clear(&env);
  ma_relay_free(r);
  return rc;
}

static int cmd_callback(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autofree char *redirect = NULL, *state = NULL, *code = NULL;
  GOptionEntry entries[] = {CLI_OAUTH2_CALLBACK_ENTRIES(state, code, redirect), G_OPTION_ENTRY_NULL};
  g_autoptr(GOptionContext) ctx = cli_context("relay callback", "ENTERPRISE RELAY",
    "Finish a relay's XOAUTH2 sign-in: exchange the code for its grant (stored encrypted). The relay stays "
    "untested until `relay test` passes.", &common, entries);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc < 0)
    rc = cli_positional(argc, argv, 2, 2, "mailagent relay callback ENTERPRISE RELAY --state S --code C --redirect-uri URI");
  if (rc >= 0) return rc;
  if (!state || !code || !redirect) return cli_usage_error("--state, --code and --redirect-uri are required");
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaRelay *r = NULL;
  CollectorEnv env;
  if ((rc = open_oauth2(&common, argv[1], argv[2], "relay callback", &cfg, &st, &r, &env)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  if (relay_oauth2_finish(&env.oauth2, st, r, state, code, redirect, &error) < 0) {
    rc = cli_fail("relay callback", error);
  } else {
    cli_audit(st, r->enterprise_id, "relay.authorize", r->name, json_pack("{s:s}", "provider", r->auth_provider), NULL);
    printf("relay %s signed in at %s as %s; next: mailagent relay test %s %s\n", r->name, r->auth_provider, r->username,
           argv[1], r->name);
    rc = 0;
  }
  memset(code, 0, strlen(code));
  storage_close(&st);
  collector_env_clear(&env);
  ma_relay_free(r);
  return rc;
}

int cli_relay(int argc, char **argv)
{
  static const CliSub subs[] = {
    {"add", cmd_add, "add an enterprise relay with its domain filters"},
    {"list", cmd_list, "list an enterprise's relays"},
    {"show", cmd_show, "show one relay, its filters, status and today's count"},
    {"update", cmd_update, "change a relay's settings"},
    {"enable", cmd_enable, "let a relay carry mail"},
    {"disable", cmd_disable, "stop routing mail through a relay"},
    {"delete", cmd_delete, "delete a relay"},
    {"test", cmd_test, "send a test message, printing every step and server reply"},
    {"authorize", cmd_authorize, "XOAUTH2: the provider's sign-in URL for a relay"},
    {"callback", cmd_callback, "XOAUTH2: exchange the provider's code for the relay's grant"},
  };
  return cli_dispatch("relay", subs, G_N_ELEMENTS(subs), argc, argv);
}
