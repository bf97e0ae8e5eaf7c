/* cli_serve.c - `mailagent serve`: the daemon. Loads the config, opens (migrating) the database init made,
 * starts the pipeline workers (which first finish whatever the spool holds), the webhook sender,
 * the collector's thread pool (bound mailboxes, off the loop: libetpan blocks), the domain
 * re-verification and retention threads (agent/retention: retention_days, index compaction after
 * API erasures), the outbound delivery thread, the SMTP and submission listeners on the main libevent loop and the HTTP API on
 * a thread and loop of its own (agent/api/api_thread.h: no request ever delays an SMTP reply), and
 * runs until SIGTERM or SIGINT.
 *
 * Signals (handled on the loop thread through evsignal, never in an async handler):
 *   SIGTERM/SIGINT  stop accepting (SMTP listener closed, API freed), let SMTP sessions finish up to
 *                   [smtp] grace_period, drain the spool writer, then drain the pipeline workers
 *                   and the webhook sender, checkpoint both databases (their write-ahead logs
 *                   emptied, so a nearly full disk still opens them), exit 0. A second SIGTERM/SIGINT while draining
 *                   shortens the SMTP grace to zero (the spool still holds everything acknowledged).
 *   SIGHUP          re-reads the config file and hands it to the SMTP server (certificates and
 *                   limits for new sessions), to the API thread (certificate, body limit; a TLS
 *                   failure there is logged by the API and keeps its certificate) and to the log
 *                   level; listen addresses and the data directory are not changed by a reload.
 *                   A bad file keeps the old config.
 *   SIGPIPE         ignored (peers that close early are errors on write, not a dead process).
 * Configs replaced by a reload are kept until exit: the API server and the workers hold pointers.
 * systemd (Type=notify, see service.h): READY=1 once everything listens, RELOADING=1 then READY=1
 * around a SIGHUP reload, STOPPING=1 when a stop signal arrives.
 * Start: with less than MA_DISK_START_MIN free under the data directory it refuses, naming the
 * space it needs, before it opens any database.
 * Exit (README's table): 0 after a clean drain; 2 for a bad config; 75 when a port is in use or
 * another temporary failure stops the start; 1 for the rest, including a data directory that
 * `mailagent init` never prepared (the reason is printed).
 */
#include "cli.h"

#include "agent/api/api_thread.h"
#include "agent/retention/retention.h"
#include "agent/lib/crypto.h"
#include "agent/lib/diskspace.h"
#include "agent/domains/domains_private.h"
#include "agent/collector/collector.h"
#include "agent/lib/log.h"
#include "agent/outbound/outbound.h"
#include "agent/outbound/outbound_submission.h"
#include "agent/lib/private_files.h"
#include "agent/lib/privilege.h"
#include "agent/lib/service.h"
#include "agent/pipeline/pipeline.h"
#include "agent/pipeline/pending.h"
#include "agent/smtp/smtp_server.h"
#include "agent/webhook/webhook.h"
#include "storage/spool.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct {
  struct event_base *base;
  const char *config_file;   /* NULL: defaults (and MAILAGENT_CONFIG) */
  MaConfig *cfg;             /* current */
  GPtrArray *old_cfgs;       /* MaConfig* replaced by reloads, freed at exit */
  SmtpServer *smtp;
  SmtpServer *submission;    /* [submission] listen */
  SmtpServer *submission_tls; /* [submission] tls_listen (implicit TLS), NULL when not configured */
  OutboundSubmission *submission_sink;
  ApiThread *api;
  OutboundBounceHook *bounces; /* returned mail, before the archive (pipeline workers) */
  int term_count;
} Serve;

static void on_smtp_spooled(void *arg, guint n)
{
  pipeline_workers_spooled(n); /* the listener is busy: the workers defer within their bounds */
}

static void on_smtp_down(void *arg)
{
  Serve *s = arg;
  ma_info("serve", "SMTP sessions finished; draining the pipeline");
  event_base_loopbreak(s->base);
}

static void on_term(evutil_socket_t sig, short what, void *arg)
{
  Serve *s = arg;
  if (s->term_count++ > 0) {
    ma_warn("serve", "second signal %d: closing SMTP sessions now", (int) sig);
    smtp_server_shutdown(s->smtp, 0, on_smtp_down, s);
    return;
  }
  ma_info("serve", "signal %d: stopping (grace %d s)", (int) sig, s->cfg->grace_period);
  ma_service_stopping();
  api_thread_stop(s->api);
  s->api = NULL;
  /* submission clients whose message was not answered yet retry; what reached the sink is queued */
  smtp_server_free(s->submission);
  s->submission = NULL;
  smtp_server_free(s->submission_tls);
  s->submission_tls = NULL;
  smtp_server_shutdown(s->smtp, s->cfg->grace_period, on_smtp_down, s);
}

/* The config was validated when loaded: [log] level and target are known names. */
static void apply_log_settings(const MaConfig *cfg)
{
  (void) ma_log_configure(cfg->log_level, cfg->log_target, NULL);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
  Serve *s = arg;
  g_autoptr(GError) error = NULL;
  ma_service_reloading();
  const char *file = s->config_file ? s->config_file : g_getenv("MAILAGENT_CONFIG");
  MaConfig *fresh = ma_config_load(file, &error);
  if (!fresh) {
    ma_error("serve", "reload: %s (keeping the running config)", error->message);
    ma_service_ready("running; the last reload failed, see the log");
    return;
  }
  if (smtp_server_reload(s->smtp, fresh, &error) < 0) {
    ma_error("serve", "reload: smtp: %s (keeping the running config)", error->message);
    ma_config_free(fresh);
    ma_service_ready("running; the last reload failed, see the log");
    return;
  }
  if (s->api) api_thread_reload(s->api, fresh);
  apply_log_settings(fresh);
  g_ptr_array_add(s->old_cfgs, s->cfg);
  s->cfg = fresh;
  ma_info("serve", "configuration reloaded");
  ma_service_ready("running; configuration reloaded");
}

/* A node of an installation (issue 18) seals and opens secrets with the master key the first init
 * recorded the check value of: another key would seal secrets no other node can open. A database
 * without a recorded check (from before it existed) is checked once init records it. */
static int check_master_key(const MaConfig *cfg, MaStorage *st, GError **error)
{
  g_autofree char *recorded = NULL;
  int rc = storage_installation_get(st, CLI_MASTER_KEY_CHECK, &recorded, error);
  if (rc <= 0) return rc;
  guint8 key[32];
  if (ma_master_key_load(cfg->master_key_file, FALSE, key, error) < 0) return -1;
  gboolean ours = cli_master_key_is_installations(
    key, recorded, g_getenv("MAILAGENT_MASTER_KEY") ? "$MAILAGENT_MASTER_KEY" : cfg->master_key_file, error);
  memset(key, 0, sizeof key);
  return ours ? 0 : -1;
}

/* Opens the database made by `mailagent init` (migrating an old one) and the spool, and makes them
 * private (data directory 0700, databases and key files 0600). An installation that was never
 * initialised is refused rather than created empty: serve would otherwise run without an admin key
 * or master key and look healthy while nobody can use it; so is a master key that is not the
 * installation's. */
static int prepare_storage(const MaConfig *cfg, GError **error)
{
  MaStorage *st = NULL;
  if (storage_open(cfg->data_dir, FALSE, &st, error) < 0) {
    if (g_error_matches(*error, MA_ERROR, MA_ERROR_NOT_FOUND)) {
      g_clear_error(error);
      g_set_error(error, MA_ERROR, MA_ERROR_INTERNAL,
                  "%s is not an initialised data directory: run `mailagent init` first (with the same -c FILE)",
                  cfg->data_dir);
    }
    return -1;
  }
  int rc = check_master_key(cfg, st, error);
  storage_close(&st);
  if (rc < 0) return -1;
  MaSpool *sp = NULL;
  if (spool_open(cfg->data_dir, &sp, error) < 0) return -1;
  spool_close(&sp);
  /* files left with wider modes by an older version or an operator's umask */
  g_autoptr(GPtrArray) changed = g_ptr_array_new_with_free_func(g_free);
  if (ma_private_data_dir(cfg, changed, error) < 0) return -1;
  for (guint i = 0; i < changed->len; i++)
    ma_warn("serve", "%s was readable by others; made private (0700 directory, 0600 file)",
            (const char *) changed->pdata[i]);
  return 0;
}

/* Below MA_DISK_START_MIN free, opening the databases could fail half way (a WAL index, a log
 * that cannot be replayed): refuse before touching them, saying how much space is needed. A data
 * directory that does not exist yet is created by prepare_storage. */
static int check_start_space(const MaConfig *cfg, GError **error)
{
  gint64 free_bytes = 0;
  if (ma_disk_free(cfg->data_dir, &free_bytes) < 0 || free_bytes >= MA_DISK_START_MIN) return 0;
  g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL,
              "only %" G_GINT64_FORMAT " bytes are free under %s; mailagent needs at least %" G_GINT64_FORMAT
              " bytes free to open its databases (and [smtp] disk_reserve = %" G_GINT64_FORMAT
              " to accept mail): free some space, then start it again",
              free_bytes, cfg->data_dir, MA_DISK_START_MIN, cfg->disk_reserve);
  return -1;
}

/* A clean stop empties both write-ahead logs into the database files, so what is left on a nearly
 * full disk opens again without replaying a log. Logged either way, with the free space. */
static void checkpoint_databases(const MaConfig *cfg)
{
  g_autoptr(GError) error = NULL;
  MaStorage *st = NULL;
  MaSpool *sp = NULL;
  int rc = storage_open(cfg->data_dir, FALSE, &st, &error);
  if (rc == 0) rc = storage_checkpoint(st, &error);
  storage_close(&st);
  if (rc == 0) rc = spool_open(cfg->data_dir, &sp, &error);
  if (rc == 0) rc = spool_checkpoint(sp, &error);
  spool_close(&sp);
  gint64 free_bytes = -1;
  ma_disk_free(cfg->data_dir, &free_bytes);
  if (rc == 0)
    ma_info("serve", "databases checkpointed (%" G_GINT64_FORMAT " bytes free under %s)", free_bytes, cfg->data_dir);
  else
    ma_warn("serve", "could not checkpoint the databases (%s; %" G_GINT64_FORMAT " bytes free under %s): "
            "the write-ahead logs are replayed at the next start",
            error->message, free_bytes, cfg->data_dir);
}

int cli_serve(int argc, char **argv)
{
  g_auto(CliCommon) common = {0}; /* s.config_file borrows common.config_file until the end */
  g_set_prgname("mailagent serve");
  g_autoptr(GOptionContext) ctx = g_option_context_new(NULL);
  g_option_context_set_summary(ctx, "Run the SMTP listener, the HTTP API, the pipeline workers and the webhook sender.");
  gboolean check_only = FALSE;
  GOptionEntry entries[] = {
    {"check-config", 't', 0, G_OPTION_ARG_NONE, &check_only,
     "Only check the configuration file (as nginx -t, sshd -t): exit 0 when it is valid, 2 naming the problem", NULL},
    G_OPTION_ENTRY_NULL,
  };
  g_option_context_add_main_entries(ctx, entries, NULL);
  cli_common_add_options(ctx, &common);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if (argc > 1) {
    fprintf(stderr, "usage: mailagent serve [-c FILE] [--check-config]\n");
    return 2;
  }
  if (check_only) {
    g_autoptr(GError) error = NULL;
    const char *file = common.config_file ? common.config_file : g_getenv("MAILAGENT_CONFIG");
    g_autoptr(MaConfig) checked = ma_config_load(file, &error);
    if (!checked) {
      fprintf(stderr, "mailagent: config: %s\n", error->message);
      return 2;
    }
    printf("%s: configuration ok\n", file ? file : "(no file: defaults)");
    return 0;
  }
  Serve s = {.config_file = common.config_file};
  cli_keep_bind_capability();
  s.cfg = cli_load_config(&common);
  if (!s.cfg) return 2;
  s.old_cfgs = g_ptr_array_new_with_free_func((GDestroyNotify) ma_config_free);
  apply_log_settings(s.cfg);
  signal(SIGPIPE, SIG_IGN);

  int status = 1;
  g_autoptr(GError) error = NULL;
  struct event *ev_term = NULL, *ev_int = NULL, *ev_hup = NULL;
  gboolean workers = FALSE, webhook = FALSE, domains = FALSE, collector = FALSE, outbound = FALSE, pending = FALSE;
  if (check_start_space(s.cfg, &error) < 0) {
    fprintf(stderr, "mailagent: serve: %s\n", error->message);
    goto out;
  }
  if (prepare_storage(s.cfg, &error) < 0) {
    status = cli_fail("storage", error);
    goto out;
  }
  s.base = event_base_new();
  if (!s.base) {
    fprintf(stderr, "mailagent: cannot create the event loop\n");
    goto out;
  }
  if (webhook_start(s.cfg, &error) < 0) {
    status = cli_fail("webhook", error);
    goto out;
  }
  webhook = TRUE;
  if (outbound_delivery_start(s.cfg, &error) < 0) {
    status = cli_fail("outbound", error);
    goto out;
  }
  outbound = TRUE;
  pipeline_workers_set_committed_hook(webhook_notify);
  if (!(s.bounces = outbound_bounce_hook_new(s.cfg, &error))) {
    status = cli_fail("bounce", error);
    goto out;
  }
  pipeline_workers_set_bounce_hook(outbound_bounce_spooled, s.bounces);
  if (pipeline_workers_start(s.cfg, s.cfg->workers, &error) < 0) {
    status = cli_fail("pipeline", error);
    goto out;
  }
  workers = TRUE;
  /* Re-verification keeps the first config: it reads only [dns] and [relay], which a reload of
   * listen addresses and certificates does not need to change. */
  if (ma_domains_scheduler_start(s.cfg, webhook_notify, &error) < 0) {
    status = cli_fail("domains", error);
    goto out;
  }
  domains = TRUE;
  if (pending_purge_start(s.cfg, &error) < 0) { /* held mail past pending_days goes (pending.h) */
    status = cli_fail("pending", error);
    goto out;
  }
  pending = TRUE;
  if (retention_scheduler_start(s.cfg, &error) < 0) {
    status = cli_fail("retention", error);
    goto out;
  }
  s.smtp = smtp_server_new(s.base, s.cfg, &error);
  if (!s.smtp) {
    status = cli_fail("smtp", error);
    goto out;
  }
  smtp_server_set_spooled_hook(s.smtp, on_smtp_spooled, &s);
  /* Only now: the SMTP server's spool writer has swept the body files no spool row names, which
   * would include those of a collector round written meanwhile, not yet committed (its entries
   * then parked without their octets, the mailbox's checkpoint past them). */
  collector_pool_set_spooled_hook(pipeline_workers_notify);
  if (collector_pool_start(s.cfg, &error) < 0) {
    status = cli_fail("collector", error);
    goto out;
  }
  collector = TRUE;
  if (smtp_server_start(s.smtp, &error) < 0) {
    status = cli_fail("smtp", error);
    goto out;
  }
  s.submission_sink = outbound_submission_new(s.base, s.cfg, &error);
  if (!s.submission_sink ||
      !(s.submission = smtp_server_new_submission(s.base, s.cfg, outbound_submission_ops(), s.submission_sink, &error)) ||
      smtp_server_start(s.submission, &error) < 0) {
    status = cli_fail("submission", error);
    goto out;
  }
  if (s.cfg->submission_tls_listen &&
      (!(s.submission_tls = smtp_server_new_submission_tls(s.base, s.cfg, outbound_submission_ops(), s.submission_sink,
                                                           &error)) ||
       smtp_server_start(s.submission_tls, &error) < 0)) {
    status = cli_fail("submission", error);
    goto out;
  }
  s.api = api_thread_start(s.cfg, &error);
  if (!s.api) {
    status = cli_fail("api", error);
    goto out;
  }
  ev_term = evsignal_new(s.base, SIGTERM, on_term, &s);
  ev_int = evsignal_new(s.base, SIGINT, on_term, &s);
  ev_hup = evsignal_new(s.base, SIGHUP, on_hup, &s);
  if (!ev_term || !ev_int || !ev_hup || evsignal_add(ev_term, NULL) < 0 || evsignal_add(ev_int, NULL) < 0 ||
      evsignal_add(ev_hup, NULL) < 0) {
    fprintf(stderr, "mailagent: cannot install signal handlers\n");
    goto out;
  }
  ma_info("serve", "listening: smtp %s, submission %s, api %s (port %d); data %s; %d pipeline worker(s)", s.cfg->smtp_listen, s.cfg->submission_listen,
          s.cfg->api_listen, api_thread_port(s.api), s.cfg->data_dir, s.cfg->workers);
  ma_privilege_drop_bind_cap(); /* every listener is bound */
  if (geteuid() == 0) ma_warn("serve", "running as root: set [process] user (see mailagent.conf(5))");
  ma_service_ready("running");
  event_base_dispatch(s.base);
  status = 0;

out:
  if (ev_term) event_free(ev_term);
  if (ev_int) event_free(ev_int);
  if (ev_hup) event_free(ev_hup);
  api_thread_stop(s.api);
  smtp_server_free(s.submission);
  smtp_server_free(s.submission_tls);
  outbound_submission_free(s.submission_sink);
  smtp_server_free(s.smtp); /* drains its spool writer: everything acknowledged is in the spool */
  if (collector) collector_pool_stop(); /* sessions end within their timeouts; what they spooled stays */
  if (domains) ma_domains_scheduler_stop();
  if (pending) pending_purge_stop();
  retention_scheduler_stop();
  if (workers) pipeline_workers_stop();
  if (outbound) outbound_delivery_stop();
  outbound_bounce_hook_free(s.bounces);
  if (webhook) webhook_stop();
  if (s.base) event_base_free(s.base);
  if (status == 0) checkpoint_databases(s.cfg);
  if (status == 0) ma_info("serve", "stopped");
  ma_config_free(s.cfg);
  g_ptr_array_unref(s.old_cfgs);
  return status;
}
