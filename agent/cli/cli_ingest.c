/* cli_ingest.c - `mailagent ingest ENTERPRISE FILE.eml... | -`: runs exactly the pipeline that
 * received mail runs (pipeline_ingest, provenance route "ingest") and prints per message what
 * happened: archived (id, thread, linked records), duplicate (of which message), or skipped and
 * why; with --explain, why in words with the participants, never_log exclusions or machine-mail
 * signal behind it (pipeline_preview, read only, after the commit). A directory argument means
 * every *.eml file in it, in name order.
 *
 * --batch N commits N messages per transaction (one fsync per batch, for bulk loads and the
 * benchmark); results of a batch are printed after its commit, and a failed batch writes nothing.
 * --progress N prints throughput and memory to stderr every N messages (the benchmarks read it);
 * otherwise a progress line every few seconds on long runs. A summary line ends every run
 * ("ingest: 120 messages: 100 archived, 5 duplicate, 15 skipped (internal_only 12, ...)"), and
 * --quiet drops both.
 * Input files are taken up to [smtp] max_message_size (a file of 1 MB or more is mapped and parsed
 * through its descriptor, never read whole: raw.h; it must not change while ingest runs); a larger
 * one is never cut: it is reported as too large on stderr ("FILE: too large: ...") and not
 * ingested, the others still are.
 * Exit: 0 every message was processed (skips included), 1 a file could not be read, 2 bad usage,
 * unknown enterprise/employee, or a message over max_message_size, 75 storage temporarily failed.
 */
#include "cli.h"

#include "agent/codec/codec.h"
#include "agent/lib/clock.h"
#include "agent/pipeline/pipeline.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

typedef struct {
  char *label;   /* file name as given, "-" for stdin */
  MaRaw *raw;    /* a large file is mapped, not read (raw.h) */
  MaIngestResult *result;
  json_t *why;   /* --explain: why a skipped message was skipped (skip_explanation), else NULL */
} Item;

/* --explain: why a skipped message was not archived, in words and with the participants,
 * exclusions or machine signal behind it. A new object. */
static json_t *skip_explanation(const MaIngestResult *r, const MaPreview *pv)
{
  const char *reason = r->skip_reason ? r->skip_reason : "";
  const char *why = "the message was not archived";
  if (!strcmp(reason, "archiving_off")) why = "archiving is off for the enterprise (setting archiving)";
  else if (!strcmp(reason, "internal_only")) why = "every participant is internal (employees, the enterprise's domains); setting archive_internal";
  else if (!strcmp(reason, "no_matching_record")) why = "no CRM record matches an external participant by address, nor an account by domain; setting archive_unmatched";
  else if (!strcmp(reason, "never_log")) why = "every external participant is on the never_log list";
  else if (!strcmp(reason, "auto_reply")) why = "machine mail (an auto-reply or delivery report) and the auto_replies setting skips it";
  else if (!strcmp(reason, "bulk_mail")) why = "bulk or list mail and the bulk_mail setting skips it";
  else if (!strcmp(reason, "loop_throttled")) why = "its sender passed loop_limit messages to a linked record within loop_window_minutes";
  json_t *ext = json_array(), *exc = json_array();
  for (guint i = 0; pv->external && i < pv->external->len; i++) json_array_append_new(ext, json_string(pv->external->pdata[i]));
  for (guint i = 0; pv->excluded && i < pv->excluded->len; i++) json_array_append_new(exc, json_string(pv->excluded->pdata[i]));
  return json_pack("{s:s, s:o, s:o, s:s?, s:b}", "why", why, "external", ext, "excluded", exc, "machine_reason",
                   pv->view ? pv->view->machine_reason : NULL, "held", r->held);
}

static void item_free(Item *it)
{
  if (!it) return;
  if (it->why) json_decref(it->why);
  g_free(it->label);
  ma_raw_free(it->raw);
  ma_ingest_result_free(it->result);
  g_free(it);
}

/* hint: the expected size (a regular file's), so the buffer is allocated once at that size, not
 * grown by doubling (nor rounded up to a power of two, as a GByteArray is) past a large message. */
static GBytes *read_stream(FILE *f, gsize cap, gsize hint, GError **error)
{
  gsize size = hint > 0 ? MIN(hint, cap) + 1 : 65536, len = 0;
  guint8 *buf = g_malloc(size);
  size_t n;
  while ((n = fread(buf + len, 1, size - len, f)) > 0) {
    len += n;
    if (len > cap) break;
    if (len == size) buf = g_realloc(buf, size *= 2);
  }
  if (ferror(f)) {
    g_free(buf);
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "cannot read standard input");
    return NULL;
  }
  return g_bytes_new_take(buf, len);
}

/* The octets of path ("-": standard input). A regular file goes through ma_raw_open (a large one
 * is mapped, never read whole); a pipe or standard input is read into memory. NULL with *error:
 * MA_ERROR_LIMIT when it holds more than max octets. */
static MaRaw *read_input(const char *path, gsize max, GError **error)
{
  struct stat sb;
  if (strcmp(path, "-") != 0 && stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
    MaRaw *raw = NULL;
    return ma_raw_open(path, max, &raw, error) < 0 ? NULL : raw;
  }
  FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
  if (!f) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "%s: %s", path, g_strerror(errno));
    return NULL;
  }
  /* one byte over the limit is read, so input of exactly the limit passes and a larger one is
   * known to be too large without reading it all */
  g_autoptr(GBytes) b = read_stream(f, max + 1, 0, error);
  if (f != stdin) fclose(f);
  if (!b) return NULL;
  if (g_bytes_get_size(b) > max) {
    g_set_error(error, MA_ERROR, MA_ERROR_LIMIT, "%s: more than %" G_GSIZE_FORMAT " octets", path, max);
    return NULL;
  }
  return ma_raw_new_bytes(b);
}

static gint cmp_str(gconstpointer a, gconstpointer b)
{
  return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* Expands the arguments: directories become their *.eml files in name order. */
static int expand_inputs(char **args, int n, GPtrArray *out)
{
  for (int i = 0; i < n; i++) {
    if (strcmp(args[i], "-") != 0 && g_file_test(args[i], G_FILE_TEST_IS_DIR)) {
      g_autoptr(GError) error = NULL;
      GDir *dir = g_dir_open(args[i], 0, &error);
      if (!dir) {
        fprintf(stderr, "mailagent: %s\n", error->message);
        return -1;
      }
      g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
      const char *name;
      while ((name = g_dir_read_name(dir)))
        if (g_str_has_suffix(name, ".eml")) g_ptr_array_add(names, g_build_filename(args[i], name, NULL));
      g_dir_close(dir);
      g_ptr_array_sort(names, cmp_str);
      for (guint j = 0; j < names->len; j++) g_ptr_array_add(out, g_strdup(names->pdata[j]));
    } else {
      g_ptr_array_add(out, g_strdup(args[i]));
    }
  }
  return 0;
}

static json_t *result_json(const Item *it)
{
  const MaIngestResult *r = it->result;
  json_t *o = json_object();
  json_object_set_new(o, "file", json_string(it->label));
  json_object_set_new(o, "result", json_string(ma_ingest_outcome_name(r->outcome)));
  json_object_set_new(o, "reason", r->skip_reason ? json_string(r->skip_reason) : json_null());
  json_object_set_new(o, "held", json_boolean(r->held));
  if (it->why) json_object_set(o, "explain", it->why);
  json_object_set_new(o, "id", r->message_id ? json_string(r->message_id) : json_null());
  json_object_set_new(o, "thread_id", r->thread_id ? json_string(r->thread_id) : json_null());
  json_object_set_new(o, "thread_created", json_boolean(r->thread_created));
  json_object_set_new(o, "direction", json_string(ma_direction_name(r->direction)));
  json_object_set_new(o, "subject", json_string(r->subject ? r->subject : ""));
  json_t *parts = json_array();
  for (guint i = 0; r->participants && i < r->participants->len; i++) {
    const MaParticipant *p = r->participants->pdata[i];
    json_t *a = codec_address_to_json(p->name, p->address);
    json_object_set_new(a, "role", json_string(ma_role_name(p->role)));
    json_array_append_new(parts, a);
  }
  json_object_set_new(o, "participants", parts);
  json_t *records = json_array();
  for (guint i = 0; r->links && i < r->links->len; i++) json_array_append_new(records, codec_record_ref_to_json(r->links->pdata[i]));
  json_object_set_new(o, "records", records);
  json_object_set_new(o, "links_added", json_integer(r->links_added));
  json_object_set_new(o, "provenance_added", json_boolean(r->provenance_added));
  json_object_set_new(o, "activities_created", json_integer(r->activities_created));
  json_object_set_new(o, "rules_budget_exhausted", json_boolean(r->rules_budget_exhausted));
  json_object_set_new(o, "unwrapped", json_boolean(r->unwrapped));
  json_t *warnings = json_array();
  for (guint i = 0; r->warnings && i < r->warnings->len; i++) json_array_append_new(warnings, json_string(r->warnings->pdata[i]));
  json_object_set_new(o, "warnings", warnings);
  json_object_set_new(o, "parse_error", r->parse_error ? json_string(r->parse_error) : json_null());
  return o;
}

static void print_text(const Item *it)
{
  const MaIngestResult *r = it->result;
  GString *links = g_string_new(NULL);
  for (guint i = 0; r->links && i < r->links->len; i++) {
    const MaRecordRef *ref = r->links->pdata[i];
    g_string_append_printf(links, "%s%s:%s", i ? ", " : "", ma_record_type_name(ref->type), ref->id);
  }
  switch (r->outcome) {
  case MA_INGEST_ARCHIVED:
    if (r->parse_error) {
      printf("%s: archived %s unparsed (raw kept): %s\n", it->label, r->message_id, r->parse_error);
      break;
    }
    printf("%s: archived %s (thread %s, %s) records: %s\n", it->label, r->message_id, r->thread_id,
           ma_direction_name(r->direction), links->len ? links->str : "none");
    break;
  case MA_INGEST_DUPLICATE:
    printf("%s: duplicate of %s (%s) records: %s\n", it->label, r->message_id,
           r->provenance_added ? "provenance added" : "copy seen before", links->len ? links->str : "none");
    break;
  case MA_INGEST_SKIPPED:
    printf("%s: skipped (%s)%s\n", it->label, r->skip_reason, r->held ? ", held for late re-matching (pending_days)" : "");
    break;
  }
  if (it->why) {
    printf("  why: %s\n", json_string_value(json_object_get(it->why, "why")));
    size_t k;
    json_t *v;
    json_array_foreach(json_object_get(it->why, "external"), k, v) printf("  external participant: %s\n", json_string_value(v));
    json_array_foreach(json_object_get(it->why, "excluded"), k, v) printf("  excluded: %s\n", json_string_value(v));
    const char *machine = json_string_value(json_object_get(it->why, "machine_reason"));
    if (machine) printf("  machine mail: %s\n", machine);
  }
  if (r->rules_budget_exhausted)
    fprintf(stderr, "mailagent: %s: rules budget exhausted (%" G_GUINT64_FORMAT " units): no activity from the "
            "remaining rules\n", it->label, r->rules_units);
  g_string_free(links, TRUE);
}

/* Reads a "Name:   123 kB" line of /proc/self/status; 0 when absent. */
static long status_kb(const char *status, const char *name)
{
  const char *p = strstr(status, name);
  return p ? strtol(p + strlen(name), NULL, 10) : 0;
}

/* Throughput and memory: RssAnon is the heap (must stay flat), RssFile the database pages SQLite
 * maps (grows with the database, given back by the kernel under pressure). */
static void progress(guint done, gint64 started_us)
{
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  g_autofree char *status = NULL;
  if (!g_file_get_contents("/proc/self/status", &status, NULL, NULL)) status = g_strdup("");
  double secs = (double) (g_get_monotonic_time() - started_us) / G_USEC_PER_SEC;
  double cpu = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  fprintf(stderr,
          "progress: messages=%u seconds=%.2f rate=%.0f/s cpu_seconds=%.2f rss_anon_kb=%ld rss_file_kb=%ld "
          "peak_rss_kb=%ld\n",
          done, secs, secs > 0 ? done / secs : 0.0, cpu, status_kb(status, "RssAnon:"), status_kb(status, "RssFile:"),
          ru.ru_maxrss);
}

/* What a run did, for its summary line. */
typedef struct {
  gint64 archived, duplicate, skipped, unreadable, too_large;
  GHashTable *skip_reasons; /* reason (static string) -> count (GINT_TO_POINTER) */
} Tally;

static void tally_add(Tally *t, const MaIngestResult *r)
{
  if (r->outcome == MA_INGEST_ARCHIVED) t->archived++;
  else if (r->outcome == MA_INGEST_DUPLICATE) t->duplicate++;
  else {
    t->skipped++;
    const char *reason = r->skip_reason ? r->skip_reason : "other";
    g_hash_table_insert(t->skip_reasons, (gpointer) reason,
                        GINT_TO_POINTER(GPOINTER_TO_INT(g_hash_table_lookup(t->skip_reasons, reason)) + 1));
  }
}

/* "120 messages: 100 archived, 5 duplicate, 15 skipped (internal_only 12, no_matching_record 3)". */
static char *tally_summary(const Tally *t)
{
  GString *s = g_string_new(NULL);
  g_string_append_printf(s, "%" G_GINT64_FORMAT " messages: %" G_GINT64_FORMAT " archived, %" G_GINT64_FORMAT
                         " duplicate, %" G_GINT64_FORMAT " skipped", t->archived + t->duplicate + t->skipped,
                         t->archived, t->duplicate, t->skipped);
  if (t->skipped) {
    g_autoptr(GList) reasons = g_list_sort(g_hash_table_get_keys(t->skip_reasons), (GCompareFunc) strcmp);
    g_string_append(s, " (");
    for (GList *l = reasons; l; l = l->next)
      g_string_append_printf(s, "%s%s %d", l == reasons ? "" : ", ", (const char *) l->data,
                             GPOINTER_TO_INT(g_hash_table_lookup(t->skip_reasons, l->data)));
    g_string_append(s, ")");
  }
  if (t->unreadable) g_string_append_printf(s, "; %" G_GINT64_FORMAT " unreadable", t->unreadable);
  if (t->too_large) g_string_append_printf(s, "; %" G_GINT64_FORMAT " too large", t->too_large);
  return g_string_free(s, FALSE);
}

/* Runs one batch in a transaction; prints results after the commit. 0 or -1 (error printed). */
static int run_batch(MaPipeline *p, MaStorage *st, const char *ent, GPtrArray *items, const MaProvenance *prov,
                     gboolean json, gboolean explain, Tally *tally, GError **error)
{
  if (items->len == 0) return 0;
  /* parse and evaluate the rules first, with no transaction open (as the pipeline workers do) */
  g_autoptr(GPtrArray) parsed = g_ptr_array_new_with_free_func((GDestroyNotify) pipeline_parsed_free);
  for (guint i = 0; i < items->len; i++) {
    Item *it = items->pdata[i];
    MaParsedMessage *pm = pipeline_parse_raw(p, it->raw);
    g_ptr_array_add(parsed, pm);
    if (pipeline_prepare(p, ent, pm, prov, error) < 0) {
      g_prefix_error(error, "%s: ", it->label);
      pipeline_forget(p);
      return -1;
    }
  }
  if (storage_begin_batch(st, error) < 0) return -1;
  for (guint i = 0; i < items->len; i++) {
    Item *it = items->pdata[i];
    if (pipeline_ingest_parsed_in_tx(p, ent, parsed->pdata[i], prov, &it->result, error) < 0) {
      g_prefix_error(error, "%s: ", it->label);
      storage_rollback(st);
      pipeline_forget(p);
      return -1;
    }
  }
  if (storage_commit(st, error) < 0) {
    storage_rollback(st);
    pipeline_forget(p);
    return -1;
  }
  for (guint i = 0; explain && i < items->len; i++) { /* read only, after the commit */
    Item *it = items->pdata[i];
    if (it->result->outcome != MA_INGEST_SKIPPED) continue;
    MaPreview pv = {0};
    if (pipeline_preview(p, ent, parsed->pdata[i], &pv, error) < 0) {
      ma_preview_clear(&pv);
      return -1;
    }
    it->why = skip_explanation(it->result, &pv);
    ma_preview_clear(&pv);
  }
  for (guint i = 0; i < items->len; i++) {
    Item *it = items->pdata[i];
    tally_add(tally, it->result);
    if (json) cli_print_json(result_json(it), TRUE);
    else print_text(it);
  }
  fflush(stdout);
  g_ptr_array_set_size(items, 0);
  return 0;
}

int cli_ingest(int argc, char **argv)
{
  CliCommon common = {0};
  int batch = 1, every = 0;
  gboolean quiet = FALSE, explain = FALSE;
  char *employee = NULL;
  GOptionEntry extra[] = {
    {"batch", 0, 0, G_OPTION_ARG_INT, &batch, "Messages per transaction (default 1)", "N"},
    {"employee", 0, 0, G_OPTION_ARG_STRING, &employee, "Record this employee (id or address) as whose mail it was",
     "EMPLOYEE"},
    {"progress", 0, 0, G_OPTION_ARG_INT, &every, "Print rate and memory to stderr every N messages", "N"},
    {"quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "No progress lines or summary on stderr", NULL},
    {"explain", 0, 0, G_OPTION_ARG_NONE, &explain, "For skipped mail, say why (the participants, exclusions or machine "
     "signal behind it; --json: an \"explain\" object)", NULL},
    G_OPTION_ENTRY_NULL,
  };
  g_set_prgname("mailagent ingest");
  g_autoptr(GOptionContext) ctx = g_option_context_new("ENTERPRISE FILE.eml...|DIR|-");
  g_option_context_set_summary(ctx, "Run messages through the archive pipeline, as received mail is.");
  cli_common_add_options(ctx, &common);
  g_option_context_add_main_entries(ctx, extra, NULL);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if (argc < 3) {
    fprintf(stderr, "usage: mailagent ingest [-c FILE] [--json] ENTERPRISE FILE.eml...|DIR|-\n");
    return 2;
  }
  if (batch < 1 || batch > 10000) {
    fprintf(stderr, "mailagent: --batch must be 1 to 10000\n");
    return 2;
  }
  g_autoptr(MaConfig) cfg = cli_load_config(&common);
  if (!cfg) return 2;
  MaStorage *st = cli_open_storage(cfg);
  if (!st) return 1;
  int status = 0;
  g_autoptr(GError) error = NULL;
  MaEnterprise *ent = cli_enterprise_resolve(st, argv[1]);
  MaEmployee *emp = NULL;
  MaProvenance *prov = ma_provenance_new("ingest");
  MaPipeline *p = NULL;
  g_autoptr(GPtrArray) inputs = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func((GDestroyNotify) item_free);
  Tally tally = {.skip_reasons = g_hash_table_new(g_str_hash, g_str_equal)};
  if (!ent) {
    status = 2;
    goto out;
  }
  if (employee) {
    int found = storage_employee_find(st, ent->id, employee, &emp, &error);
    if (found <= 0) {
      if (found == 0) fprintf(stderr, "mailagent: no employee \"%s\"\n", employee);
      status = found < 0 ? cli_fail("employee", error) : 2;
      goto out;
    }
    prov->employee_id = g_strdup(emp->id);
    prov->signal = g_strdup("ingest");
  }
  if (expand_inputs(argv + 2, argc - 2, inputs) < 0) {
    status = 1;
    goto out;
  }
  p = pipeline_new(st, cfg);
  CliProgress lines;
  cli_progress_init(&lines, "ingest", "messages", 0, quiet || every > 0);
  gsize max_size = cfg->max_message_size > 0 ? (gsize) cfg->max_message_size : 52428800;
  gint64 started = g_get_monotonic_time();
  for (guint i = 0; i < inputs->len; i++) {
    g_autoptr(GError) read_error = NULL;
    MaRaw *raw = read_input(inputs->pdata[i], max_size, &read_error);
    if (!raw && !g_error_matches(read_error, MA_ERROR, MA_ERROR_LIMIT)) {
      fprintf(stderr, "mailagent: %s\n", read_error->message);
      tally.unreadable++;
      status = 1;
      continue;
    }
    if (!raw) {
      fprintf(stderr, "mailagent: %s: too large: more than %" G_GSIZE_FORMAT " bytes ([smtp] max_message_size)\n",
              (const char *) inputs->pdata[i], max_size);
      tally.too_large++;
      if (status == 0) status = 2;
      continue;
    }
    Item *it = g_new0(Item, 1);
    it->label = g_strdup(inputs->pdata[i]);
    it->raw = raw;
    g_ptr_array_add(items, it);
    prov->received_at = ma_now();
    if ((int) items->len >= batch || i + 1 == inputs->len) {
      if (run_batch(p, st, ent->id, items, prov, common.json, explain, &tally, &error) < 0) {
        status = cli_fail("ingest", error);
        goto out;
      }
    }
    if (every > 0 && (i + 1) % (guint) every == 0) progress(i + 1, started);
    cli_progress_add(&lines, 1);
  }
  if (items->len && run_batch(p, st, ent->id, items, prov, common.json, explain, &tally, &error) < 0) status = cli_fail("ingest", error);
  if (every > 0 && inputs->len % (guint) every != 0) progress(inputs->len, started);
  if (!quiet) {
    g_autofree char *summary = tally_summary(&tally);
    fprintf(stderr, "mailagent: ingest: %s\n", summary);
  }
out:
  g_hash_table_unref(tally.skip_reasons);
  pipeline_free(p);
  ma_provenance_free(prov);
  ma_employee_free(emp);
  ma_enterprise_free(ent);
  storage_close(&st);
  g_free(common.config_file);
  g_free(employee);
  return status;
}
