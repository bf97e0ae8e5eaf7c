/* main.c - dispatches `mailagent <subcommand>` to its handler in agent/cli/. Nothing else, except
 * the umask (077) set before any subcommand writes a file. */
#include "agent/cli/cli.h"
#include "agent/lib/private_files.h"

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
    if (strcmp(argv[1], subcommands[i].name) == 0) return subcommands[i].run(argc - 1, argv + 1);
  fprintf(stderr, "mailagent: unknown subcommand \"%s\"\n", argv[1]);
  usage(stderr);
  return 2;
}
