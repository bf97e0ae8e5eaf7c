/* cli_search.c - `mailagent search ENTERPRISE QUERY...`: full-text search of an enterprise's
 * archive, and `mailagent erase ENTERPRISE --address A | --expired`: deleting mail without trace
 * (erasure by address for data-protection requests; retention run now). The same storage calls,
 * cursor and JSON as GET /v1/search and POST /v1/erasures.
 *
 * Prints headers, highlighted subject and excerpt, never full bodies. Erasure prints counts only:
 * the address is not echoed into logs or the audit trail (the audit entry keeps its SHA-256).
 */
#include "cli.h"

#include "agent/codec/codec.h"
#include "agent/codec/codec_search.h"
#include "agent/lib/clock.h"
#include "agent/lib/crypto.h"
#include "agent/retention/retention.h"
#include "agent/search/search_snippet.h"

#include <stdio.h>
#include <string.h>

#define SEARCH_LIMIT_MAX 200

static void print_hit(const MaSearchHit *h)
{
  const MaStoredMessage *m = h->message;
  char date[32];
  ma_time_format(m->date, date);
  g_autofree char *subject = search_snippet_render(h->subject_marked, SEARCH_SNIPPET_TEXT);
  g_autofree char *snippet = search_snippet_render(h->snippet_marked, SEARCH_SNIPPET_TEXT);
  printf("%s  %-8s  message %s\n", date, ma_direction_name(m->direction), m->id);
  for (guint i = 0; m->participants && i < m->participants->len; i++) {
    const MaParticipant *p = g_ptr_array_index(m->participants, i);
    if (p->role != MA_ROLE_FROM) continue;
    printf("  %-9s%s%s%s%s\n", "From:", p->name && *p->name ? p->name : "", p->name && *p->name ? " <" : "",
           p->address, p->name && *p->name ? ">" : "");
  }
  printf("  %-9s%s\n", "Subject:", *subject ? subject : "(no subject)");
  if (*snippet) printf("  | %s\n", snippet);
}

/* --rebuild-index or --compact-index: the whole database's index, every enterprise. */
static int index_maintenance(const CliCommon *common, gboolean rebuild, int argc, char **argv, const char *usage)
{
  int rc = cli_positional(argc, argv, 0, 0, usage);
  if (rc >= 0) return rc;
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  if ((rc = cli_open(common, &cfg, &st)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  gint64 t0 = g_get_monotonic_time();
  rc = rebuild ? storage_search_rebuild(st, &error) : storage_search_compact(st, &error);
  gint64 messages = 0, activities = 0, records = 0;
  if (rc == 0) rc = storage_counts(st, &messages, &activities, &records, &error);
  storage_close(&st);
  if (rc < 0) return cli_fail(rebuild ? "search --rebuild-index" : "search --compact-index", error);
  printf("index %s: %" G_GINT64_FORMAT " messages in %.3f s\n", rebuild ? "rebuilt" : "compacted", messages,
         (double)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC);
  return 0;
}

int cli_search(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  int limit = 20;
  g_autofree char *cursor = NULL, *order = NULL, *record = NULL;
  gboolean rebuild = FALSE, compact = FALSE;
  GOptionEntry entries[] = {
    {"rebuild-index", 0, 0, G_OPTION_ARG_NONE, &rebuild, "Rebuild the whole index from the stored mail (no query)", NULL},
    {"compact-index", 0, 0, G_OPTION_ARG_NONE, &compact, "Merge the index and truncate the write-ahead log now, as "
     "serve does hourly (no query)", NULL},
    {"record", 0, 0, G_OPTION_ARG_STRING, &record, "Only mail in this record's timeline", "TYPE:ID"},
    {"order", 0, 0, G_OPTION_ARG_STRING, &order, "newest (default) or relevance", "newest|relevance"},
    {"limit", 0, 0, G_OPTION_ARG_INT, &limit, "Hits per page (1-200, default 20)", "N"},
    {"cursor", 0, 0, G_OPTION_ARG_STRING, &cursor, "Next page: the cursor printed after the previous one", "C"},
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr(GOptionContext) ctx = cli_context("search", "ENTERPRISE QUERY...",
    "Search an enterprise's archived mail: subject, body text, participants and attachment names.\n"
    "QUERY: words (all must match, whole words, any case), \"a phrase\", from:X, to:X, subject:X,\n"
    "file:X. Chinese and Japanese match any 2+ characters in a row. Matches print in [brackets].",
    &common, entries);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  const char *usage = "mailagent search ENTERPRISE QUERY... [--record TYPE:ID] [--order newest|relevance] "
                      "[--limit N] [--cursor C] [--json] | mailagent search --rebuild-index|--compact-index";
  if (rebuild && compact) return cli_usage_error("--rebuild-index or --compact-index, not both");
  if (rebuild || compact) return index_maintenance(&common, rebuild, argc, argv, usage);
  if ((rc = cli_positional(argc, argv, 2, G_MAXINT, usage)) >= 0) return rc;
  if (limit < 1 || limit > SEARCH_LIMIT_MAX) return cli_usage_error("--limit must be 1 to %d", SEARCH_LIMIT_MAX);
  gint64 after = 0;
  if (cursor && !(after = codec_seq_parse(cursor))) return cli_usage_error("--cursor: not a cursor this command printed");

  g_autoptr(GError) error = NULL;
  MaSearchRequest req;
  if (codec_search_request_parse(order, record, &req, &error) < 0) return cli_usage_error("--%s", error->message);
  g_autoptr(GString) words = g_string_new(NULL);
  for (int i = 2; i < argc; i++) g_string_append_printf(words, "%s%s", i > 2 ? " " : "", argv[i]);
  const char *text = words->str;
  g_autoptr(MaSearchQuery) query = search_query_parse(text, &error);
  if (!query) return cli_usage_error("QUERY: %s", error->message);
  req.query = query;

  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *ent = NULL;
  if ((rc = cli_open_enterprise(&common, argv[1], &cfg, &st, &ent)) != 0) return rc;
  g_autoptr(GPtrArray) hits = g_ptr_array_new_with_free_func((GDestroyNotify)ma_search_hit_free);
  rc = storage_search(st, ent->id, &req, after, limit + 1, hits, &error);
  storage_close(&st);
  ma_enterprise_free(ent);
  if (rc < 0) return cli_fail("search", error);
  g_autofree char *next = codec_seq_page_trim(hits, (guint)limit, ma_search_hit_seq);

  if (common.json) {
    json_t *items = json_array();
    for (guint i = 0; i < hits->len; i++) json_array_append_new(items, codec_search_hit_to_json(hits->pdata[i]));
    cli_print_json(codec_page(items, next), FALSE);
    return 0;
  }
  if (hits->len == 0) printf("no messages\n");
  for (guint i = 0; i < hits->len; i++) {
    if (i) printf("\n");
    print_hit(hits->pdata[i]);
  }
  if (next) printf("\nmore: --cursor %s\n", next);
  return 0;
}

static void print_counts(const char *what, const MaEraseCounts *c)
{
  printf("%s: %" G_GINT64_FORMAT " messages deleted (%" G_GINT64_FORMAT " index entries, %" G_GINT64_FORMAT
         " record links, %" G_GINT64_FORMAT " local activity copies, %" G_GINT64_FORMAT " blobs, %" G_GINT64_FORMAT
         " webhook events)\n",
         what, c->messages, c->index_entries, c->links, c->activities, c->blobs, c->events);
}

int cli_erase(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autofree char *address = NULL;
  gboolean expired = FALSE;
  GOptionEntry entries[] = {
    {"address", 0, 0, G_OPTION_ARG_STRING, &address, "Delete every message in which A is a participant", "A"},
    {"expired", 0, 0, G_OPTION_ARG_NONE, &expired, "Apply the enterprise's retention_days now", NULL},
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr(GOptionContext) ctx = cli_context("erase", "ENTERPRISE (--address A | --expired)",
    "Delete archived mail without trace: the messages, their index entries, raw copies and attachment\n"
    "contents no other message shares, record links and local activity copies (activities already\n"
    "sent to the CRM stay there), webhook events about them; then the index and the write-ahead log\n"
    "are compacted so no file keeps a copy. --address: every message where A is from, sender, to,\n"
    "cc, bcc or reply-to (a data-protection request). --expired: what retention_days would delete.\n"
    "Prints the counts.", &common, entries);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  const char *usage = "mailagent erase ENTERPRISE (--address A | --expired) [--json]";
  if ((rc = cli_positional(argc, argv, 1, 1, usage)) >= 0) return rc;
  if (!address == !expired) return cli_usage_error("give exactly one of --address A and --expired");
  g_autofree char *addr = address ? g_strstrip(g_ascii_strdown(address, -1)) : NULL;
  if (addr && (!*addr || strlen(addr) > 320 || !strchr(addr, '@')))
    return cli_usage_error("--address: \"%s\" is not an e-mail address", address);

  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *ent = NULL;
  if ((rc = cli_open_enterprise(&common, argv[1], &cfg, &st, &ent)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  MaEraseCounts c = {0};
  rc = addr ? storage_erase_address(st, ent->id, addr, &c, &error) : retention_expire(st, ent->id, ma_now(), &c, &error);
  if (c.messages > 0) {
    char digest[65];
    if (addr) ma_sha256_hex(addr, strlen(addr), digest);
    cli_audit(st, ent->id, addr ? "erase.address" : "erase.expired", addr ? digest : NULL,
              codec_erase_counts_to_json(&c), NULL);
  }
  g_autoptr(GError) compact_error = NULL;
  int compacted = rc == 0 && c.messages > 0 ? storage_search_compact(st, &compact_error) : 0;
  storage_close(&st);
  ma_enterprise_free(ent);
  if (rc < 0) {
    if (c.messages > 0) print_counts("erased before the failure", &c);
    return cli_fail("erase", error);
  }
  if (common.json) cli_print_json(codec_erase_counts_to_json(&c), FALSE);
  else print_counts(addr ? "erase" : "retention", &c);
  if (compacted < 0) {
    /* the rows are gone; copies may remain in old index segments and the log until compacted */
    fprintf(stderr, "mailagent: erase: the index and the write-ahead log are not compacted yet (%s); `serve` "
            "compacts them within the hour\n", compact_error->message);
    return 1;
  }
  return 0;
}
