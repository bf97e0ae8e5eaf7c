/* cli_timeline.c - `mailagent timeline ENTERPRISE TYPE ID`: a record's archived mail and
 * activities, newest first, one page at a time (the same storage_timeline call and cursor as
 * GET /v1/records/{type}/{id}/timeline; --json prints that endpoint's page shape).
 *
 * Shows headers, a snippet, attachment names and linked records, and for mail sent through the
 * queue each recipient's delivery state and last reply; never full bodies.
 */
#include "cli.h"

#include "agent/codec/codec.h"
#include "agent/lib/clock.h"

#include <stdio.h>
#include <string.h>

#define TIMELINE_LIMIT_MAX 200

static void print_address(const char *name, const char *address)
{
  if (name && *name) printf("%s <%s>", name, address);
  else printf("%s", address);
}

static void print_role(const char *label, const GPtrArray *parts, MaRole role)
{
  gboolean first = TRUE;
  for (guint i = 0; parts && i < parts->len; i++) {
    const MaParticipant *p = g_ptr_array_index(parts, i);
    if (p->role != role) continue;
    if (first) printf("  %-9s", label);
    else printf(", ");
    print_address(p->name, p->address);
    first = FALSE;
  }
  if (!first) printf("\n");
}

/* An outbound message's recipients: "address state (reply)", one a line. */
static void print_delivery(const GPtrArray *delivery)
{
  for (guint i = 0; delivery && i < delivery->len; i++) {
    const MaOutboundRecipient *r = g_ptr_array_index(delivery, i);
    printf("  %-9s%s %s%s%s%s\n", i ? "" : "Status:", r->address, ma_outbound_state_name(r->state),
           r->last_reply ? " (" : "", r->last_reply ? r->last_reply : "", r->last_reply ? ")" : "");
  }
}

static void print_message(const MaStoredMessage *m)
{
  char date[32];
  ma_time_format(m->date, date);
  printf("%s  %-8s  message %s  thread %s\n", date, ma_direction_name(m->direction), m->id,
         m->thread_id ? m->thread_id : "-");
  print_role("From:", m->participants, MA_ROLE_FROM);
  print_role("To:", m->participants, MA_ROLE_TO);
  print_role("Cc:", m->participants, MA_ROLE_CC);
  printf("  %-9s%s\n", "Subject:", m->subject && *m->subject ? m->subject : "(no subject)");
  if (m->attachments && m->attachments->len) {
    printf("  %-9s", "Files:");
    for (guint i = 0; i < m->attachments->len; i++) {
      const MaAttachment *a = g_ptr_array_index(m->attachments, i);
      printf("%s%s (%" G_GSIZE_FORMAT " bytes)", i ? ", " : "", a->filename ? a->filename : "(unnamed)", a->size);
    }
    printf("\n");
  }
  if (m->links && m->links->len) {
    printf("  %-9s", "Records:");
    for (guint i = 0; i < m->links->len; i++) {
      const MaRecordRef *r = g_ptr_array_index(m->links, i);
      printf("%s%s %s", i ? ", " : "", ma_record_type_name(r->type), r->id);
    }
    printf("\n");
  }
  if (m->snippet && *m->snippet) printf("  | %s\n", m->snippet);
}

static void print_activity(const MaActivity *a)
{
  char date[32];
  ma_time_format(a->message_date ? a->message_date : a->created_at, date);
  printf("%s  activity  %s  %s \"%s\" on %s %s (rule %s, message %s)\n", date, a->id,
         a->activity_type ? a->activity_type : "activity", a->title ? a->title : "", ma_record_type_name(a->record.type),
         a->record.id, a->rule_name ? a->rule_name : a->rule_id ? a->rule_id : "-", a->message_id ? a->message_id : "-");
}

/* Parses a --since/--until value: RFC 3339, or a date (until: the whole day counts). */
int cli_timeline(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  int limit = 20;
  g_autofree char *cursor = NULL, *direction = NULL, *since = NULL, *until = NULL, *thread = NULL, *attach = NULL;
  g_autofree char *has_attachment = NULL;
  GOptionEntry entries[] = {
    {"limit", 0, 0, G_OPTION_ARG_INT, &limit, "Items per page (1-200, default 20)", "N"},
    {"cursor", 0, 0, G_OPTION_ARG_STRING, &cursor, "Next page: the cursor printed at the end of the previous one", "C"},
    {"direction", 0, 0, G_OPTION_ARG_STRING, &direction, "inbound or outbound (in, out)", "inbound|outbound"},
    {"since", 0, 0, G_OPTION_ARG_STRING, &since, "Messages dated at or after D", "D"},
    {"until", 0, 0, G_OPTION_ARG_STRING, &until, "Messages dated before D (a bare date includes that day)", "D"},
    {"thread", 0, 0, G_OPTION_ARG_STRING, &thread, "Only this thread", "T"},
    {"has-attachment", 0, 0, G_OPTION_ARG_STRING, &has_attachment, "true: only with attachments; false: only without "
     "(as the API's has_attachment)", "true|false"},
    {"attachments", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &attach, "Older name of --has-attachment", "yes|no"},
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr(GOptionContext) ctx = cli_context("timeline", "ENTERPRISE TYPE ID",
    "Print a CRM record's e-mail timeline, newest first: date, direction, from, to/cc, subject,\n"
    "snippet, attachment names, linked records and thread id; activities interleaved.", &common, entries);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  const char *usage = "mailagent timeline ENTERPRISE TYPE ID [--limit N] [--cursor C] [--direction in|out] "
                      "[--since D] [--until D] [--thread T] [--has-attachment true|false] [--json]";
  if ((rc = cli_positional(argc, argv, 3, 3, usage)) >= 0) return rc;
  int type = ma_record_type_parse(argv[2]);
  if (type < 0) return cli_usage_error("\"%s\" is not a record type (account, contact, lead, opportunity)", argv[2]);
  if (limit < 1 || limit > TIMELINE_LIMIT_MAX) return cli_usage_error("--limit must be 1 to %d", TIMELINE_LIMIT_MAX);

  MaTimelineFilter filter;
  g_autoptr(GError) filter_error = NULL;
  if (codec_timeline_filter_parse(direction, since, until, has_attachment ? has_attachment : attach, thread, &filter,
                                  &filter_error) < 0)
    return cli_usage_error("--%s", filter_error->message);

  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *ent = NULL;
  if ((rc = cli_open_enterprise(&common, argv[1], &cfg, &st, &ent)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func((GDestroyNotify)ma_timeline_item_free);
  g_autofree char *next = NULL;
  rc = storage_timeline(st, ent->id, (MaRecordType)type, argv[3], &filter, cursor, limit, items, &next, &error);
  int found = 1;
  if (rc == 0 && items->len == 0 && !cursor) {
    MaRecord *r = NULL;
    found = storage_record_get(st, ent->id, (MaRecordType)type, argv[3], &r, &error);
    ma_record_free(r);
  }
  storage_close(&st);
  ma_enterprise_free(ent);
  if (rc < 0 || found < 0) {
    if (cursor && error->domain == MA_ERROR && error->code == MA_ERROR_INVALID)
      return cli_usage_error("--cursor: not a cursor this command printed");
    return cli_fail("timeline", error);
  }
  if (found == 0) {
    fprintf(stderr, "mailagent: no %s \"%s\"\n", argv[2], argv[3]);
    return 2;
  }

  if (common.json) {
    json_t *arr = json_array();
    for (guint i = 0; i < items->len; i++) json_array_append_new(arr, codec_timeline_item_to_json(g_ptr_array_index(items, i)));
    cli_print_json(codec_page(arr, next), FALSE);
    return 0;
  }
  if (items->len == 0) printf("no messages\n");
  for (guint i = 0; i < items->len; i++) {
    const MaTimelineItem *it = g_ptr_array_index(items, i);
    if (i) printf("\n");
    if (it->is_activity) print_activity(it->activity);
    else {
      print_message(it->message);
      print_delivery(it->delivery);
    }
  }
  if (next) printf("\nmore: --cursor %s\n", next);
  return 0;
}
