/* main.c - dispatches `mailagent <subcommand>` to its handler in agent/cli/. Nothing else, except
 * the umask (077) set before any subcommand writes a file, and, in AddressSanitizer builds, GLib's
 * idle pool threads ended (bounded wait) after it returns. */
#include "agent/cli/cli.h"
#include "agent/lib/private_files.h"

#include <glib.h>
#include <stdio.h>
#include <string.h>

typedef struct {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
} Subcommand;

static const Subcommand subcommands[] = {
  {"init", cli_init, "create the data directory, database, TLS pair and admin API key"},
  {"serve", cli_serve, "run the SMTP listener, HTTP API and pipeline workers"},
  {"enterprise", cli_enterprise, "add, list and show enterprises (tenants)"},
  {"employee", cli_employee, "add, list and remove an enterprise's employees"},
  {"records", cli_records, "import CRM records (JSON Lines or CSV)"},
  {"ingest", cli_ingest, "run .eml files through the archive pipeline"},
  {"timeline", cli_timeline, "print a record's e-mail timeline"},
  {"search", cli_search, "search an enterprise's archived mail"},
  {"erase", cli_erase, "delete mail without trace: by address, or past retention"},
  {"settings", cli_settings, "show or change an enterprise's settings"},
  {"apikey", cli_apikey, "create, list, revoke and rotate API keys"},
  {"rules", cli_rules, "manage auto-create activity rules"},
  {"audit", cli_audit_log, "show the audit log of administrative changes"},
  {"webhook", cli_webhook, "list, show, requeue and purge dead webhook events"},
  {"domain", cli_domain, "an enterprise's domains: add, DKIM keys, verification, SPF"},
  {"dkim", cli_dkim, "sign a message as mailagent does, or verify its DKIM signatures"},
  {"doctor", cli_doctor, "check every DNS record of an enterprise's domains and say how to fix it"},
  {"bounce", cli_bounce, "classify bounce messages (parse FILE...; no storage)"},
  {"pending", cli_pending, "list or purge the mail held for late re-matching (pending_days)"},
  {"explain", cli_explain, "why an archived message is linked where it is: reasons, rules, activities"},
  {"version", cli_version, "print the version and the versions of the libraries in use"},
  {"spool", cli_spool, "list, show, retry and purge spooled mail (dead entries)"},
  {"mailbox", cli_mailbox, "bind employees' IMAP/POP3 mailboxes and follow their collection"},
  {"send", cli_send, "queue an outgoing message"},
  {"submission", cli_submission, "credentials for the SMTP submission listener: add, list, revoke"},
  {"queue", cli_queue, "list, show, retry, hold, release or delete queued outgoing mail"},
  {"relay", cli_relay, "an enterprise's own SMTP relays: add, list, show, update, enable, disable, delete"},
  {"channel", cli_channel, "channels employees may use and each channel's system account"},
  {"route", cli_route, "explain the channel a message would take; the shared relay's status and resume"},
  {"suppression", cli_suppression, "addresses not sent to again: list, add, remove, import"},
};

static void usage(FILE *out)
{
  fprintf(out, "usage: mailagent <subcommand> [options]\n\nsubcommands:\n");
  for (size_t i = 0; i < G_N_ELEMENTS(subcommands); i++)
    fprintf(out, "  %-11s %s\n", subcommands[i].name, subcommands[i].summary);
  fprintf(out, "\nRun `mailagent <subcommand> --help` for its options.\n");
}

/* TRUE while a thread of GLib's shared pools ("pool-<prgname>", not the spawner) is in
 * /proc/self/task; FALSE when none is, or when /proc cannot tell. */
static gboolean pool_thread_alive(void)
{
  GDir *dir = g_dir_open("/proc/self/task", 0, NULL);
  if (!dir) return FALSE;
  gboolean alive = FALSE;
  const char *tid;
  while (!alive && (tid = g_dir_read_name(dir))) {
    g_autofree char *path = g_build_filename("/proc/self/task", tid, "comm", NULL);
    g_autofree char *comm = NULL;
    if (g_file_get_contents(path, &comm, NULL, NULL))
      alive = g_str_has_prefix(comm, "pool") && !g_str_has_prefix(comm, "pool-spawner");
  }
  g_dir_close(dir);
  return alive;
}

/* GLib's shared pool threads (the spool's early syncs) outlive their pools, idle for up to 15 s.
 * LeakSanitizer does not suspend them at exit ('Running thread N was not suspended') and reports
 * their slice magazines as leaks (collector_oauth2 under -DSANITIZE=ON, every run on loaded
 * cores). So the idle ones are told to end, and their end is waited for, at most a second. Only in
 * a build with AddressSanitizer (gcc defines __SANITIZE_ADDRESS__): a production exit neither
 * waits nor reads /proc for threads the kernel ends with the process anyway. */
static void pool_threads_end(void)
{
#ifndef __SANITIZE_ADDRESS__
  return;
#endif
  g_thread_pool_set_max_unused_threads(0);
  for (int i = 0; i < 200 && (g_thread_pool_get_num_unused_threads() > 0 || pool_thread_alive()); i++)
    g_usleep(5000);
}

int main(int argc, char **argv)
{
  ma_private_umask(); /* every database, key, spool and log file written later is 0600 */
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
    usage(stdout);
    return 0;
  }
  if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
    char *version_argv[] = {"version", NULL};
    return cli_version(1, version_argv);
  }
  for (size_t i = 0; i < G_N_ELEMENTS(subcommands); i++)
    if (strcmp(argv[1], subcommands[i].name) == 0) {
      int rc = subcommands[i].run(argc - 1, argv + 1);
      pool_threads_end();
      return rc;
    }
  fprintf(stderr, "mailagent: unknown subcommand \"%s\"\n", argv[1]);
  usage(stderr);
  return 2;
}
