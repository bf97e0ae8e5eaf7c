/* cli_mailbox.c - `mailagent mailbox ...`: employees' own IMAP/POP3 mailboxes that the collector
 * pulls mail from. `bind` checks the settings against the real server and saves nothing when a
 * step fails; `sync` runs one sync now in this process and archives what it pulled; the rest
 * lists, shows status, pauses, resumes and unbinds; `limit` sets the daily limit of mail sent
 * through the mailbox (the employee-mailbox channel). OAuth2 bindings: `authorize` gives the
 * provider's URL, `callback` takes the code back. Passwords are read from a file (or stdin),
 * never from the command line, and never printed.
 */
#include "cli.h"

#include "agent/codec/codec.h"
#include "agent/collector/collector.h"
#include "agent/lib/clock.h"
#include "agent/outbound/outbound.h"
#include "agent/pipeline/pipeline.h"

#include <stdio.h>
#include <unistd.h>
#include <string.h>

/* Opens config, storage, the enterprise and the collector's environment. 0 or an exit status. */
static int open_all(const CliCommon *common, const char *enterprise, MaConfig **cfg, MaStorage **st, MaEnterprise **ent,
                    CollectorEnv *env)
{
  int rc = cli_open_enterprise(common, enterprise, cfg, st, ent);
  if (rc != 0) return rc;
  g_autoptr(GError) error = NULL;
  if (collector_env_init(env, *cfg, &error) < 0) {
    storage_close(st);
    ma_enterprise_free(*ent);
    *ent = NULL;
    return cli_fail("mailbox", error);
  }
  return 0;
}

static void close_all(MaStorage **st, MaEnterprise *ent, CollectorEnv *env)
{
  storage_close(st);
  ma_enterprise_free(ent);
  collector_env_clear(env);
}

static char *read_secret_file(const char *path, GError **error)
{
  char *text = NULL;
  gsize len = 0;
  if (g_strcmp0(path, "-") == 0) {
    GString *s = g_string_new(NULL);
    int c;
    while ((c = getchar()) != EOF && s->len < 8192) g_string_append_c(s, (char)c);
    text = g_string_free(s, FALSE);
  } else if (!g_file_get_contents(path, &text, &len, error)) {
    return NULL;
  }
  g_strchomp(text);
  return text;
}

static void print_mailbox(const MaMailbox *m, GPtrArray *quarantine)
{
  char t1[32] = "never", t2[32] = "", t3[32] = "";
  if (m->last_sync_at) ma_time_format(m->last_sync_at, t1);
  if (m->last_error) ma_time_format(m->last_error_at, t2);
  if (g_str_equal(m->state, "active")) ma_time_format(m->next_attempt_at ? m->next_attempt_at : ma_now(), t3);
  printf("mailbox %s (%s)\n", m->id, m->email);
  printf("  server:      %s %s:%d %s%s, login %s, auth %s%s%s\n", m->protocol, m->host, m->port, m->security,
         m->allow_untrusted ? " (UNTRUSTED certificate allowed)" : "", m->username, m->auth,
         m->preset ? ", preset " : "", m->preset ? m->preset : "");
  printf("  state:       %s%s\n", m->state, m->archiving ? "" : " (archiving off)");
  if (m->smtp_host)
    printf("  sending:     smtp %s:%d %s, Sent copy %s, daily limit %s%d\n", m->smtp_host, m->smtp_port, m->smtp_security,
           m->sent_copy ? "appended by mailagent" : "saved by the provider", m->daily_limit ? "" : "none ",
           m->daily_limit);
  else
    printf("  sending:     not used to send\n");
  printf("  last sync:   %s\n", t1);
  if (m->last_error) printf("  last error:  %s (%s)\n", m->last_error, t2);
  if (*t3) printf("  next sync:   %s\n", t3);
  printf("  counts:      fetched %" G_GINT64_FORMAT ", archived %" G_GINT64_FORMAT ", skipped %" G_GINT64_FORMAT
         ", quarantined %" G_GINT64_FORMAT "\n",
         m->fetched, m->archived, m->skipped, m->quarantined);
  for (guint i = 0; quarantine && i < quarantine->len; i++)
    printf("  quarantined: %s\n", (const char *)g_ptr_array_index(quarantine, i));
}

static int cmd_bind(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autofree char *preset = NULL, *host = NULL, *security = NULL, *protocol = NULL, *username = NULL;
  g_autofree char *password_file = NULL, *folders = NULL, *smtp = NULL;
  int port = 0, daily_limit = 0;
  gboolean oauth2 = FALSE, untrusted = FALSE, no_archiving = FALSE, no_send = FALSE, no_sent_copy = FALSE;
  GOptionEntry entries[] = {
    {"preset", 0, 0, G_OPTION_ARG_STRING, &preset, "Provider preset (share/presets.ini)", "NAME"},
    {"protocol", 0, 0, G_OPTION_ARG_STRING, &protocol, "imap (default) or pop3", "P"},
    {"host", 0, 0, G_OPTION_ARG_STRING, &host, "Server host (custom server)", "HOST"},
    {"imap-host", 0, 0, G_OPTION_ARG_STRING, &host, "Same as --host with --protocol imap", "HOST"},
    {"port", 0, 0, G_OPTION_ARG_INT, &port, "Server port", "N"},
    {"imap-port", 0, 0, G_OPTION_ARG_INT, &port, "Same as --port", "N"},
    {"security", 0, 0, G_OPTION_ARG_STRING, &security, "tls (implicit, default) or starttls", "S"},
    {"username", 0, 0, G_OPTION_ARG_STRING, &username, "Login name when it differs from the address", "U"},
    {"password-file", 0, 0, G_OPTION_ARG_FILENAME, &password_file, "File holding the password (- for stdin)", "F"},
    {"oauth2", 0, 0, G_OPTION_ARG_NONE, &oauth2, "Sign in with OAuth2 (then: mailbox authorize)", NULL},
    {"folders", 0, 0, G_OPTION_ARG_STRING, &folders, "Folders to collect, comma-separated (default INBOX and Sent)", "LIST"},
    {"allow-untrusted-certificate", 0, 0, G_OPTION_ARG_NONE, &untrusted, "Do not verify the server's certificate", NULL},
    {"no-archiving", 0, 0, G_OPTION_ARG_NONE, &no_archiving, "Bind but do not collect yet", NULL},
    {"smtp", 0, 0, G_OPTION_ARG_STRING, &smtp, "SMTP server for sending as the employee (default: the preset's, unless --host is given)", "HOST:PORT:tls|starttls"},
    {"no-send", 0, 0, G_OPTION_ARG_NONE, &no_send, "Never send through this mailbox (no SMTP login check)", NULL},
    {"no-sent-copy", 0, 0, G_OPTION_ARG_NONE, &no_sent_copy, "Do not append sent mail to the Sent folder (the server does)", NULL},
    {"daily-limit", 0, 0, G_OPTION_ARG_INT, &daily_limit, "Recipients per day sent through it (default 0: none)", "N"},
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr(GOptionContext) ctx = cli_context("mailbox bind", "ENTERPRISE EMAIL",
    "Bind an employee's mailbox. The settings are checked against the server (DNS, connection, TLS "
    "certificate, login, folders; and the SMTP login when the mailbox may send) and nothing is saved when a "
    "step fails.", &common, entries);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 2, 2,
                           "mailagent mailbox bind ENTERPRISE EMAIL [--preset P | --host H --port N --security S] "
                           "[--password-file F | --oauth2]")) >= 0)
    return rc;
  if (!oauth2 && !password_file) return cli_usage_error("give --password-file F or --oauth2");
  if (host && !port) return cli_usage_error("--host needs --port");
  g_autoptr(GError) error = NULL;
  g_autofree char *password = NULL;
  if (!oauth2 && !(password = read_secret_file(password_file, &error))) return cli_fail("mailbox bind", error);

  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *ent = NULL;
  CollectorEnv env;
  if ((rc = open_all(&common, argv[1], &cfg, &st, &ent, &env)) != 0) return rc;
  CollectorBindRequest req = {
    .email = argv[2], .username = username, .preset = preset, .protocol = protocol, .host = host, .port = port,
    .security = security, .auth = oauth2 ? "oauth2" : NULL, .folders = folders, .allow_untrusted = untrusted,
    .archiving_off = no_archiving, .smtp = smtp, .no_send = no_send, .no_sent_copy = no_sent_copy,
    .daily_limit = daily_limit,
  };
  if (!oauth2 && preset == NULL && host == NULL) req.auth = "password";
  else if (!oauth2) req.auth = "password";
  g_autoptr(GPtrArray) listed = g_ptr_array_new_with_free_func(g_free);
  MaMailbox *m = NULL;
  rc = collector_bind(&env, st, ent->id, &req, password, listed, &m, &error);
  if (password) memset(password, 0, strlen(password));
  if (rc >= 0 && m) cli_audit(st, ent->id, "mailbox.bind", m->id, json_pack("{s:s, s:s, s:s}", "email", m->email,
                                                                       "host", m->host, "protocol", m->protocol), NULL);
  if (rc < 0) {
    fprintf(stderr, "mailagent: mailbox bind: %s; nothing was saved\n", error->message);
    rc = cli_exit_code(error) == 1 ? 2 : cli_exit_code(error);
    close_all(&st, ent, &env);
    return rc;
  }
  if (common.json) {
    cli_print_json(codec_mailbox_to_json(m, NULL), FALSE);
  } else {
    printf("mailbox %s bound for %s (%s %s:%d, %s)\n", m->id, m->email, m->protocol, m->host, m->port, m->state);
    if (listed->len) {
      printf("folders:");
      for (guint i = 0; i < listed->len; i++) printf(" %s", (const char *)g_ptr_array_index(listed, i));
      printf("\n");
    }
    if (g_str_equal(m->state, "pending"))
      printf("next: mailagent mailbox authorize %s %s%s\n", ent->slug, m->id, cfg->api_public_url ? "" : " --redirect-uri URI");
    if (!m->employee_id) cli_warn("%s is not an employee of %s; its mail is archived without an owner", m->email, ent->slug);
  }
  ma_mailbox_free(m);
  close_all(&st, ent, &env);
  return 0;
}

/* Loads one mailbox of the enterprise; prints why not. */
static int find_mailbox(MaStorage *st, const MaEnterprise *ent, const char *which, MaMailbox **m)
{
  g_autoptr(GError) error = NULL;
  int found = storage_mailbox_get(st, ent->id, which, m, &error);
  if (found < 0) return cli_fail("mailbox", error);
  if (found == 0) {
    fprintf(stderr, "mailagent: %s has no mailbox %s\n", ent->slug, which);
    return 2;
  }
  return 0;
}

static int cmd_list(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autoptr(GOptionContext) ctx = cli_context("mailbox list", "ENTERPRISE", "List the enterprise's bound mailboxes.", &common, NULL);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 1, 1, "mailagent mailbox list ENTERPRISE [--json]")) >= 0) return rc;
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *ent = NULL;
  if ((rc = cli_open_enterprise(&common, argv[1], &cfg, &st, &ent)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func((GDestroyNotify)ma_mailbox_free);
  rc = storage_mailbox_list(st, ent->id, list, &error);
  storage_close(&st);
  ma_enterprise_free(ent);
  if (rc < 0) return cli_fail("mailbox list", error);
  if (common.json) {
    json_t *items = json_array();
    for (guint i = 0; i < list->len; i++) json_array_append_new(items, codec_mailbox_to_json(g_ptr_array_index(list, i), NULL));
    cli_print_json(codec_page(items, NULL), FALSE);
    return 0;
  }
  if (list->len == 0) {
    printf("no mailboxes\n");
    return 0;
  }
  printf("%-20s  %-32s  %-5s  %-12s  %s\n", "ID", "EMAIL", "PROTO", "STATE", "FETCHED");
  for (guint i = 0; i < list->len; i++) {
    const MaMailbox *m = g_ptr_array_index(list, i);
    printf("%-20s  %-32s  %-5s  %-12s  %" G_GINT64_FORMAT "\n", m->id, m->email, m->protocol, m->state, m->fetched);
  }
  return 0;
}

static int cmd_show(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autoptr(GOptionContext) ctx = cli_context("mailbox show", "ENTERPRISE MAILBOX",
    "A mailbox's settings and status: state, last sync, last error, counts, quarantined messages.", &common, NULL);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 2, 2, "mailagent mailbox show ENTERPRISE MAILBOX|EMAIL [--json]")) >= 0) return rc;
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *ent = NULL;
  if ((rc = cli_open_enterprise(&common, argv[1], &cfg, &st, &ent)) != 0) return rc;
  MaMailbox *m = NULL;
  if ((rc = find_mailbox(st, ent, argv[2], &m)) != 0) {
    storage_close(&st);
    ma_enterprise_free(ent);
    return rc;
  }
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) q = g_ptr_array_new_with_free_func(g_free);
  rc = storage_mailbox_quarantine_list(st, m->id, MA_MAILBOX_QUARANTINE_AFTER, q, &error);
  storage_close(&st);
  ma_enterprise_free(ent);
  if (rc < 0) {
    ma_mailbox_free(m);
    return cli_fail("mailbox show", error);
  }
  if (common.json) cli_print_json(codec_mailbox_to_json(m, q), FALSE);
  else print_mailbox(m, q);
  ma_mailbox_free(m);
  return 0;
}

static int cmd_sync(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autoptr(GOptionContext) ctx = cli_context("mailbox sync", "ENTERPRISE MAILBOX",
    "Sync the mailbox now in this process (waits for another process's sync of it to end), then archive what "
    "was pulled.", &common, NULL);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 2, 2, "mailagent mailbox sync ENTERPRISE MAILBOX|EMAIL")) >= 0) return rc;
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *ent = NULL;
  CollectorEnv env;
  if ((rc = open_all(&common, argv[1], &cfg, &st, &ent, &env)) != 0) return rc;
  MaMailbox *m = NULL;
  if ((rc = find_mailbox(st, ent, argv[2], &m)) != 0) {
    close_all(&st, ent, &env);
    return rc;
  }
  g_autoptr(GError) error = NULL;
  MaSpool *sp = NULL;
  if (spool_open(cfg->data_dir, &sp, &error) < 0) {
    ma_mailbox_free(m);
    close_all(&st, ent, &env);
    return cli_fail("mailbox sync", error);
  }
  g_autofree char *owner = g_strdup_printf("cli-%d", (int)getpid());
  gboolean busy = FALSE;
  GError *sync_error = NULL;
  rc = collector_sync_mailbox(&env, st, sp, m->id, owner, &busy, &sync_error);
  spool_close(&sp);
  MaMailbox *after = NULL;
  if (rc == 0) storage_mailbox_get(st, ent->id, m->id, &after, NULL);
  if (rc < 0) {
    rc = cli_fail("mailbox sync", sync_error);
  } else if (busy) {
    fprintf(stderr, "mailagent: mailbox %s is being synced by another process; try again\n", m->id);
    rc = 75;
  } else {
    /* archive what is in the spool now (the pipeline is idempotent if `serve` does it too) */
    guint64 before = pipeline_workers_processed();
    /* returned mail about the enterprise's own outbound messages is applied, not archived, as in serve */
    OutboundBounceHook *bounces = outbound_bounce_hook_new(cfg, &error);
    if (bounces) pipeline_workers_set_bounce_hook(outbound_bounce_spooled, bounces);
    else cli_warn("mailbox sync: %s; what was pulled stays in the spool for serve", error->message);
    if (bounces && pipeline_workers_start(cfg, 1, &error) == 0) pipeline_workers_stop();
    pipeline_workers_set_bounce_hook(NULL, NULL);
    outbound_bounce_hook_free(bounces);
    guint64 processed = pipeline_workers_processed() - before;
    if (sync_error) {
      fprintf(stderr, "mailagent: mailbox sync: %s\n", sync_error->message);
      rc = cli_exit_code(sync_error) == 2 ? 2 : 1;
    }
    if (after && common.json) {
      json_t *doc = codec_mailbox_to_json(after, NULL);
      json_object_set_new(doc, "processed", json_integer((json_int_t)processed));
      cli_print_json(doc, FALSE);
    } else if (after && !sync_error) {
      printf("mailbox %s synced: %" G_GINT64_FORMAT " fetched in total, %" G_GUINT64_FORMAT " processed now\n",
             after->email, after->fetched, processed);
    }
  }
  g_clear_error(&sync_error);
  ma_mailbox_free(after);
  ma_mailbox_free(m);
  close_all(&st, ent, &env);
  return rc;
}

/* Opens config, storage and the enterprise, and loads one of its mailboxes (no collector
 * environment: for changes that need no secret). 0 or an exit status (then nothing stays open). */
static int open_mailbox(const CliCommon *common, const char *enterprise, const char *which, MaConfig **cfg,
                        MaStorage **st, MaEnterprise **ent, MaMailbox **m)
{
  int rc = cli_open_enterprise(common, enterprise, cfg, st, ent);
  if (rc != 0) return rc;
  if ((rc = find_mailbox(*st, *ent, which, m)) != 0) {
    storage_close(st);
    ma_enterprise_free(*ent);
    *ent = NULL;
  }
  return rc;
}

/* pause / resume / unbind share their shape. */
static int change_state(int argc, char **argv, const char *name, const char *summary)
{
  g_auto(CliCommon) common = {0};
  g_autofree char *prg = g_strdup_printf("mailbox %s", name);
  g_autoptr(GOptionContext) ctx = cli_context(prg, "ENTERPRISE MAILBOX", summary, &common, NULL);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  g_autofree char *usage = g_strdup_printf("mailagent mailbox %s ENTERPRISE MAILBOX|EMAIL", name);
  if ((rc = cli_positional(argc, argv, 2, 2, usage)) >= 0) return rc;
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *ent = NULL;
  MaMailbox *m = NULL;
  if ((rc = open_mailbox(&common, argv[1], argv[2], &cfg, &st, &ent, &m)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  if (g_str_equal(name, "unbind")) rc = storage_mailbox_remove(st, ent->id, m->id, &error);
  else if (g_str_equal(name, "pause")) rc = storage_mailbox_set_state(st, ent->id, m->id, "paused", 0, &error);
  else if (g_str_equal(m->state, "pending")) {
    fprintf(stderr, "mailagent: mailbox %s waits for its OAuth2 authorization (mailbox authorize)\n", m->id);
    rc = -2;
  } else rc = storage_mailbox_set_state(st, ent->id, m->id, "active", ma_now(), &error);
  if (rc >= 0) cli_audit(st, ent->id, g_str_equal(name, "unbind") ? "mailbox.unbind" : g_str_equal(name, "pause") ? "mailbox.pause" : "mailbox.resume",
                         m->id, json_pack("{s:s}", "email", m->email), NULL);
  storage_close(&st);
  ma_enterprise_free(ent);
  if (rc == -2) rc = 2;
  else if (rc < 0) rc = cli_fail(prg, error);
  else {
    printf("mailbox %s (%s) %s\n", m->id, m->email,
           g_str_equal(name, "unbind") ? "unbound (archived mail stays)" : g_str_equal(name, "pause") ? "paused" : "resumed");
    rc = 0;
  }
  ma_mailbox_free(m);
  return rc;
}

static int cmd_pause(int argc, char **argv)
{
  return change_state(argc, argv, "pause", "Stop polling the mailbox (its checkpoints stay).");
}

static int cmd_resume(int argc, char **argv)
{
  return change_state(argc, argv, "resume", "Poll the mailbox again (also after needs_reauth was fixed), now.");
}

static int cmd_unbind(int argc, char **argv)
{
  return change_state(argc, argv, "unbind", "Forget the binding, its secret, tokens and checkpoints; archived mail stays.");
}

static int cmd_authorize(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autofree char *redirect = NULL;
  GOptionEntry entries[] = {CLI_OAUTH2_REDIRECT_ENTRY(redirect), G_OPTION_ENTRY_NULL};
  g_autoptr(GOptionContext) ctx = cli_context("mailbox authorize", "ENTERPRISE MAILBOX",
    "Print the provider's authorization URL for an OAuth2 binding (state single-use, 10 minutes).", &common, entries);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 2, 2, "mailagent mailbox authorize ENTERPRISE MAILBOX [--redirect-uri URI]")) >= 0)
    return rc;
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *ent = NULL;
  CollectorEnv env;
  if ((rc = open_all(&common, argv[1], &cfg, &st, &ent, &env)) != 0) return rc;
  if (!redirect) redirect = collector_oauth2_own_redirect(cfg);
  if (!redirect) {
    close_all(&st, ent, &env);
    return cli_usage_error("--redirect-uri is required when [api] public_url is not set");
  }
  MaMailbox *m = NULL;
  if ((rc = find_mailbox(st, ent, argv[2], &m)) != 0) {
    close_all(&st, ent, &env);
    return rc;
  }
  g_autoptr(GError) error = NULL;
  g_autofree char *owner = collector_secret_aad(m->id);
  g_autofree char *url = NULL;
  if (!g_str_equal(m->auth, "oauth2") || !m->preset) {
    fprintf(stderr, "mailagent: mailbox %s does not use OAuth2 with a preset\n", m->id);
    rc = 2;
  } else if (oauth2_authorize_begin(&env.oauth2, st, ent->id, owner, m->preset, redirect, m->email, &url, &error) < 0) {
    rc = cli_fail("mailbox authorize", error);
  } else if (common.json) {
    cli_print_json(json_pack("{s:s}", "authorization_url", url), FALSE);
  } else {
    printf("%s\n", url);
  }
  ma_mailbox_free(m);
  close_all(&st, ent, &env);
  return rc;
}

static int cmd_callback(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autofree char *redirect = NULL, *state = NULL, *code = NULL;
  GOptionEntry entries[] = {CLI_OAUTH2_CALLBACK_ENTRIES(state, code, redirect), G_OPTION_ENTRY_NULL};
  g_autoptr(GOptionContext) ctx = cli_context("mailbox callback", "ENTERPRISE MAILBOX",
    "Finish an OAuth2 binding: exchange the code, check the mailbox with the token, activate it.", &common, entries);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 2, 2, "mailagent mailbox callback ENTERPRISE MAILBOX --state S --code C --redirect-uri URI")) >= 0)
    return rc;
  if (!state || !code || !redirect) return cli_usage_error("--state, --code and --redirect-uri are required");
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *ent = NULL;
  CollectorEnv env;
  if ((rc = open_all(&common, argv[1], &cfg, &st, &ent, &env)) != 0) return rc;
  MaMailbox *m = NULL;
  if ((rc = find_mailbox(st, ent, argv[2], &m)) != 0) {
    close_all(&st, ent, &env);
    return rc;
  }
  g_autoptr(GError) error = NULL;
  if (collector_authorize_finish(&env, st, ent->id, m->id, state, code, redirect, NULL, &error) < 0) {
    fprintf(stderr, "mailagent: mailbox callback: %s\n", error->message);
    rc = cli_exit_code(error) == 1 ? 2 : cli_exit_code(error);
  } else {
    printf("mailbox %s (%s) authorized and active\n", m->id, m->email);
  }
  ma_mailbox_free(m);
  close_all(&st, ent, &env);
  return rc;
}

static int cmd_limit(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  GOptionEntry entries[] = {G_OPTION_ENTRY_NULL};
  g_autoptr(GOptionContext) ctx = cli_context("mailbox limit", "ENTERPRISE MAILBOX N",
    "Set how many recipients a day mail sent through the mailbox may reach (0: no limit). Counted per "
    "calendar day in the enterprise's time zone (setting timezone, else UTC); past it, the day's mail "
    "takes the default path.", &common, entries);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 3, 3, "mailagent mailbox limit ENTERPRISE MAILBOX N")) >= 0) return rc;
  char *end = NULL;
  long limit = strtol(argv[3], &end, 10);
  if (!*argv[3] || *end || limit < 0 || limit > G_MAXINT) return cli_usage_error("N must be 0 or a positive number");
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *ent = NULL;
  MaMailbox *m = NULL;
  if ((rc = open_mailbox(&common, argv[1], argv[2], &cfg, &st, &ent, &m)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  if (storage_mailbox_set_daily_limit(st, ent->id, m->id, (int) limit, &error) < 0) {
    rc = cli_fail("mailbox limit", error);
  } else {
    cli_audit(st, ent->id, "mailbox.limit", m->id, json_pack("{s:I}", "daily_limit", (json_int_t) limit), NULL);
    printf("mailbox %s (%s): daily limit %s%ld\n", m->id, m->email, limit ? "" : "none ", limit);
  }
  ma_mailbox_free(m);
  storage_close(&st);
  ma_enterprise_free(ent);
  return rc;
}

static int cmd_oauth2_client(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autofree char *client_id = NULL, *secret_file = NULL;
  GOptionEntry entries[] = {
    {"client-id", 0, 0, G_OPTION_ARG_STRING, &client_id, "The enterprise's OAuth2 client id at the provider", "ID"},
    {"client-secret-file", 0, 0, G_OPTION_ARG_FILENAME, &secret_file, "File holding the client secret", "F"},
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr(GOptionContext) ctx = cli_context("mailbox oauth2-client", "ENTERPRISE PRESET",
    "Set the enterprise's OAuth2 client for a provider preset (the secret is stored encrypted).", &common, entries);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 2, 2, "mailagent mailbox oauth2-client ENTERPRISE PRESET --client-id ID [--client-secret-file F]")) >= 0)
    return rc;
  if (!client_id) return cli_usage_error("--client-id is required");
  g_autoptr(GError) error = NULL;
  g_autofree char *secret = NULL;
  if (secret_file && !(secret = read_secret_file(secret_file, &error))) return cli_fail("mailbox oauth2-client", error);
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *ent = NULL;
  CollectorEnv env;
  if ((rc = open_all(&common, argv[1], &cfg, &st, &ent, &env)) != 0) return rc;
  if (collector_oauth2_client_set(&env, st, ent->id, argv[2], client_id, secret, &error) < 0) rc = cli_fail("mailbox oauth2-client", error);
  else printf("OAuth2 client for %s set for %s\n", argv[2], ent->slug);
  close_all(&st, ent, &env);
  return rc;
}

static int cmd_default(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autofree char *preset = NULL, *server = NULL, *auth = NULL;
  GOptionEntry entries[] = {
    {"preset", 0, 0, G_OPTION_ARG_STRING, &preset, "A provider preset", "NAME"},
    {"server", 0, 0, G_OPTION_ARG_STRING, &server, "A custom server: imap|pop3:HOST:PORT:tls|starttls", "S"},
    {"auth", 0, 0, G_OPTION_ARG_STRING, &auth, "password or oauth2", "A"},
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr(GOptionContext) ctx = cli_context("mailbox default", "ENTERPRISE",
    "Set the organisation's mail server so employees bind with only their address and secret (no option: clear).",
    &common, entries);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 1, 1, "mailagent mailbox default ENTERPRISE [--preset P | --server S] [--auth A]")) >= 0) return rc;
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *ent = NULL;
  CollectorEnv env;
  if ((rc = open_all(&common, argv[1], &cfg, &st, &ent, &env)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  if (collector_set_default(st, &env, ent->id, preset, server, auth, &error) < 0) rc = cli_fail("mailbox default", error);
  else printf("default mail server of %s: %s\n", ent->slug, server ? server : preset ? preset : "(none)");
  close_all(&st, ent, &env);
  return rc;
}

int cli_mailbox(int argc, char **argv)
{
  static const CliSub subs[] = {
    {"bind", cmd_bind, "bind an employee's mailbox (checked first): bind ENTERPRISE EMAIL ..."},
    {"list", cmd_list, "list bound mailboxes: list ENTERPRISE"},
    {"show", cmd_show, "settings and status of one: show ENTERPRISE MAILBOX"},
    {"status", cmd_show, "same as show"},
    {"sync", cmd_sync, "sync one now: sync ENTERPRISE MAILBOX"},
    {"pause", cmd_pause, "stop polling: pause ENTERPRISE MAILBOX"},
    {"resume", cmd_resume, "poll again: resume ENTERPRISE MAILBOX"},
    {"unbind", cmd_unbind, "forget a binding: unbind ENTERPRISE MAILBOX"},
    {"limit", cmd_limit, "daily limit of mail sent through it: limit ENTERPRISE MAILBOX N"},
    {"authorize", cmd_authorize, "OAuth2: the provider's URL: authorize ENTERPRISE MAILBOX --redirect-uri URI"},
    {"callback", cmd_callback, "OAuth2: the code back: callback ENTERPRISE MAILBOX --state S --code C --redirect-uri URI"},
    {"oauth2-client", cmd_oauth2_client, "the enterprise's OAuth2 client: oauth2-client ENTERPRISE PRESET --client-id ID"},
    {"default", cmd_default, "the organisation's server: default ENTERPRISE [--preset P | --server S]"},
  };
  return cli_dispatch("mailbox", subs, G_N_ELEMENTS(subs), argc, argv);
}
