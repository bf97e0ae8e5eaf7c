/* cli_bounce.c - `mailagent bounce parse FILE...`: the bounce parser (agent/bounce) on its own, for
 * tests and for operators. Reads each file (bounded by BOUNCE_INPUT_MAX), prints one line per
 * recipient, or with --json one compact JSON object per recipient (file, recipient, action, status,
 * command (the SMTP command the server refused, or ""), diagnostic, hard, reason, kind, original_message_id). Touches no configuration or storage. A file
 * that is no bounce prints nothing; an unreadable or oversized file is reported and makes the exit
 * status 1 after the other files are done.
 */
#include "cli.h"

#include "agent/bounce/bounce.h"

#include <stdio.h>

static json_t *recipient_json(const char *file, const BounceReport *rep, const BounceRecipient *r)
{
  json_t *hard = r->hard == BOUNCE_NEITHER ? json_null() : json_boolean(r->hard == BOUNCE_HARD);
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:s?}", "file", file, "recipient", r->recipient,
                   "action", r->action, "status", r->status, "command", r->command, "diagnostic", r->diagnostic,
                   "hard", hard, "reason", r->reason, "kind", bounce_kind_name(rep->kind), "original_message_id",
                   rep->original_message_id);
}

static int bounce_parse_cmd(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  GOptionContext *ctx = cli_context("bounce parse", "FILE...",
                                    "Classify bounce messages: one line (or JSON object) per failed recipient.",
                                    &common, NULL);
  int rc = cli_parse(ctx, &argc, &argv);
  g_option_context_free(ctx);
  if (rc >= 0) return rc;
  rc = cli_positional(argc, argv, 1, G_MAXINT, "mailagent bounce parse FILE... [--json]");
  if (rc >= 0) return rc;
  int status = 0;
  for (int i = 1; i < argc; i++) {
    g_autofree char *data = NULL;
    gsize len = 0;
    g_autoptr(GError) error = NULL;
    g_autoptr(BounceReport) rep = NULL;
    if (!g_file_get_contents(argv[i], &data, &len, &error)) {
      fprintf(stderr, "mailagent: %s\n", error->message);
      status = 1;
      continue;
    }
    if (bounce_parse(data, len, &rep) != 0) {
      fprintf(stderr, "mailagent: %s: larger than %u bytes\n", argv[i], BOUNCE_INPUT_MAX);
      status = 1;
      continue;
    }
    for (guint j = 0; j < rep->recipients->len; j++) {
      const BounceRecipient *r = g_ptr_array_index(rep->recipients, j);
      if (common.json) {
        cli_print_json(recipient_json(argv[i], rep, r), TRUE);
      } else {
        printf("%s\t%s\t%s\t%s\t%s\t%s\t%s\n", argv[i], r->recipient, r->action, r->status[0] ? r->status : "-",
               r->hard == BOUNCE_HARD ? "hard" : r->hard == BOUNCE_SOFT ? "soft" : "-", r->reason, r->diagnostic);
      }
    }
  }
  return status;
}

int cli_bounce(int argc, char **argv)
{
  static const CliSub subs[] = {
    {"parse", bounce_parse_cmd, "classify bounce, complaint and auto-reply messages (no storage)"},
  };
  return cli_dispatch("bounce", subs, G_N_ELEMENTS(subs), argc, argv);
}
