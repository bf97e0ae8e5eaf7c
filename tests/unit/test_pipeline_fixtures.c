/* test_pipeline_fixtures.c - drives every tests/fixtures/archive/NAME.eml through pipeline_ingest
 * in name order, on a fresh data directory holding the enterprise of setup.json and the CRM
 * records of records.jsonl, and checks NAME.expect.json:
 *   result ("archived" | "duplicate" | "skipped"), reason, parse_error, direction, participants ("role:address",
 *   as a set, case-insensitive), records ("type:id", as a set), thread (a label: equal labels must
 *   share one thread id, different labels must not), duplicate_of (the fixture whose message this
 *   copy is), provenance_added, provenance_count, unwrapped, machine ("none", "auto", "bulk",
 *   "auto,bulk") and machine_reason of the stored message, reasons ({"type:id": reason} of its
 *   links, '*' a wildcard); "settings" are set for that message
 *   only; "provenance" gives route, employee (address), mailbox and spool_id of the copy.
 * Archived messages are read back from storage and compared again, so what was written is checked,
 * not only what the pipeline reported. All mismatches are collected and reported together.
 */
#include "testutil.h"
#include "agent/codec/codec.h"
#include "agent/lib/clock.h"
#include "agent/tenant/settings.h"
#include "agent/pipeline/pipeline.h"
#include "agent/mime/mime.h"

#include <glib/gstdio.h>
#include <jansson.h>
#include <string.h>

typedef struct {
  char *dir;
  MaConfig *cfg;
  MaStorage *st;
  char *ent;
  GHashTable *thread_of_label;  /* label -> thread id */
  GHashTable *label_of_thread;  /* thread id -> label */
  GHashTable *id_of_fixture;    /* fixture name -> message id */
  GString *failures;
  guint text_in_raw;            /* archived messages whose text is one verbatim part of the raw */
} Fx;

static const char *fixtures_dir(void)
{
  const char *env = g_getenv("FIXTURES_DIR");
  return env ? env : FIXTURES_DIR;
}

static void failf(Fx *fx, const char *name, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static void failf(Fx *fx, const char *name, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *msg = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  g_string_append_printf(fx->failures, "%s: %s\n", name, msg);
}

static json_t *load_json(const char *path)
{
  json_error_t jerr;
  json_t *doc = json_load_file(path, 0, &jerr);
  if (!doc) g_error("%s:%d: %s", path, jerr.line, jerr.text);
  return doc;
}

static void setup(Fx *fx)
{
  g_autoptr(GError) error = NULL;
  fx->dir = g_dir_make_tmp("ma-pipeline-XXXXXX", &error);
  g_assert_no_error(error);
  fx->cfg = ma_config_load(NULL, &error);
  g_assert_no_error(error);
  g_free(fx->cfg->data_dir);
  fx->cfg->data_dir = g_strdup(fx->dir);
  g_assert_cmpint(storage_open(fx->dir, TRUE, &fx->st, &error), ==, 0);

  g_autofree char *setup_path = g_build_filename(fixtures_dir(), "archive", "setup.json", NULL);
  json_t *setup = load_json(setup_path);
  g_free(fx->cfg->inbound_domain);
  fx->cfg->inbound_domain = g_strdup(json_string_value(json_object_get(setup, "inbound_domain")));
  json_t *je = json_object_get(setup, "enterprise");
  MaEnterprise e = {0};
  e.id = ma_id_new();
  e.slug = (char *) json_string_value(json_object_get(je, "slug"));
  e.name = (char *) json_string_value(json_object_get(je, "name"));
  e.inbound_local = (char *) json_string_value(json_object_get(je, "inbound_local"));
  e.domains = g_ptr_array_new();
  size_t i;
  json_t *v;
  json_array_foreach(json_object_get(je, "domains"), i, v) g_ptr_array_add(e.domains, (char *) json_string_value(v));
  e.created_at = ma_now();
  g_assert_cmpint(storage_enterprise_create(fx->st, &e, &error), ==, 0);
  fx->ent = e.id;
  g_ptr_array_unref(e.domains);
  json_array_foreach(json_object_get(setup, "employees"), i, v) {
    MaEmployee emp = {.id = ma_id_new(), .enterprise_id = fx->ent, .email = (char *) json_string_value(v),
                      .created_at = ma_now()};
    g_assert_cmpint(storage_employee_add(fx->st, &emp, &error), ==, 0);
    g_free(emp.id);
  }
  json_decref(setup);

  g_autofree char *records_path = g_build_filename(fixtures_dir(), "archive", "records.jsonl", NULL);
  g_autofree char *text = NULL;
  g_assert_true(g_file_get_contents(records_path, &text, NULL, &error));
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  for (guint n = 0; lines[n]; n++) {
    if (!*g_strstrip(lines[n])) continue;
    MaRecord *r = NULL;
    gboolean deleted = FALSE;
    g_assert_cmpint(codec_record_parse_text(lines[n], strlen(lines[n]), &r, &deleted, &error), ==, 0);
    g_assert_cmpint(storage_record_upsert(fx->st, fx->ent, r, &error), ==, 0);
    ma_record_free(r);
  }
  fx->thread_of_label = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  fx->label_of_thread = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  fx->id_of_fixture = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  fx->failures = g_string_new(NULL);
}

static void teardown(Fx *fx)
{
  storage_close(&fx->st);
  testutil_rm_rf(fx->dir);
  g_free(fx->dir);
  ma_config_free(fx->cfg);
  g_free(fx->ent);
  g_hash_table_unref(fx->thread_of_label);
  g_hash_table_unref(fx->label_of_thread);
  g_hash_table_unref(fx->id_of_fixture);
  g_string_free(fx->failures, TRUE);
}

static gint cmp_strp(gconstpointer a, gconstpointer b)
{
  return strcmp(*(const char *const *) a, *(const char *const *) b);
}

static char *join_sorted(GPtrArray *items)
{
  g_ptr_array_sort(items, cmp_strp);
  g_ptr_array_add(items, NULL);
  char *s = g_strjoinv("|", (char **) items->pdata);
  g_ptr_array_remove_index(items, items->len - 1);
  return s;
}

/* Sorted, lower-cased "a|b|c" of a JSON string array. */
static char *json_set(json_t *arr)
{
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func(g_free);
  size_t i;
  json_t *v;
  json_array_foreach(arr, i, v) g_ptr_array_add(items, g_utf8_strdown(json_string_value(v), -1));
  return join_sorted(items);
}

static char *links_set(GPtrArray *links)
{
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func(g_free);
  for (guint i = 0; links && i < links->len; i++) {
    const MaRecordRef *r = links->pdata[i];
    g_ptr_array_add(items, g_strdup_printf("%s:%s", ma_record_type_name(r->type), r->id));
  }
  return join_sorted(items);
}

static char *participants_set(GPtrArray *parts)
{
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func(g_free);
  for (guint i = 0; parts && i < parts->len; i++) {
    const MaParticipant *p = parts->pdata[i];
    g_autofree char *s = g_strdup_printf("%s:%s", ma_role_name(p->role), p->address);
    g_ptr_array_add(items, g_utf8_strdown(s, -1));
  }
  return join_sorted(items);
}

static const char *jstr(json_t *o, const char *key)
{
  return json_string_value(json_object_get(o, key));
}

static void apply_settings(Fx *fx, json_t *settings, gboolean reset)
{
  const char *key;
  json_t *v;
  json_object_foreach(settings, key, v) {
    g_autoptr(GError) error = NULL;
    if (settings_set(fx->st, fx->ent, key, reset ? "default" : json_string_value(v), &error) < 0)
      g_error("setting %s: %s", key, error->message);
  }
}

static MaProvenance *provenance_of(Fx *fx, json_t *jp)
{
  MaProvenance *p = ma_provenance_new(jp && jstr(jp, "route") ? jstr(jp, "route") : "ingest");
  p->received_at = ma_now();
  if (!jp) return p;
  p->spool_id = g_strdup(jstr(jp, "spool_id"));
  p->mailbox = g_strdup(jstr(jp, "mailbox"));
  if (jstr(jp, "employee")) {
    MaEmployee *e = NULL;
    g_autoptr(GError) error = NULL;
    g_assert_cmpint(storage_employee_find(fx->st, fx->ent, jstr(jp, "employee"), &e, &error), ==, 1);
    p->employee_id = g_strdup(e->id);
    p->signal = g_strdup("envelope_sender");
    ma_employee_free(e);
  }
  return p;
}

static void check_thread(Fx *fx, const char *name, const char *label, const char *thread_id)
{
  if (!thread_id) {
    failf(fx, name, "no thread id, want thread %s", label);
    return;
  }
  const char *known = g_hash_table_lookup(fx->thread_of_label, label);
  const char *other = g_hash_table_lookup(fx->label_of_thread, thread_id);
  if (known && strcmp(known, thread_id) != 0) failf(fx, name, "thread %s: got a different thread than before", label);
  if (other && strcmp(other, label) != 0) failf(fx, name, "thread %s: got the thread of %s", label, other);
  if (!known) g_hash_table_insert(fx->thread_of_label, g_strdup(label), g_strdup(thread_id));
  if (!other) g_hash_table_insert(fx->label_of_thread, g_strdup(thread_id), g_strdup(label));
}

/* The text read back is the text the mime module makes of the raw message, whether storage kept it
 * or a reference into the raw blob (counted in fx->text_in_raw: mime's hint, which the pipeline
 * checks before storage uses it). */
static void check_stored_text(Fx *fx, const char *name, const MaStoredMessage *m, const char *raw, gsize len)
{
  MaMessage *parsed = NULL;
  if (mime_parse(raw, len, NULL, &parsed, NULL) < 0) return; /* archived unparsed: no text to compare */
  if (!parsed->unwrapped && g_strcmp0(m->text, parsed->text))
    failf(fx, name, "stored text (%zu bytes) differs from the parsed text (%zu bytes)", strlen(m->text ? m->text : ""),
          strlen(parsed->text));
  if (!parsed->unwrapped && parsed->text_raw_length > 0) fx->text_in_raw++;
  ma_message_free(parsed);
}

static void check_stored(Fx *fx, const char *name, json_t *want, const MaIngestResult *r, const char *raw, gsize len)
{
  g_autoptr(GError) error = NULL;
  MaStoredMessage *m = NULL;
  if (storage_message_get(fx->st, fx->ent, r->message_id, &m, &error) != 1) {
    failf(fx, name, "stored message not found: %s", error ? error->message : "absent");
    return;
  }
  if (!json_object_get(want, "settings")) check_stored_text(fx, name, m, raw, len);
  g_autofree char *want_records = json_set(json_object_get(want, "records"));
  g_autofree char *got_records = links_set(m->links);
  if (strcmp(want_records, got_records)) failf(fx, name, "stored records [%s], want [%s]", got_records, want_records);
  if (json_object_get(want, "participants")) {
    g_autofree char *w = json_set(json_object_get(want, "participants"));
    g_autofree char *g = participants_set(m->participants);
    if (strcmp(w, g)) failf(fx, name, "stored participants [%s], want [%s]", g, w);
  }
  if (jstr(want, "direction") && strcmp(ma_direction_name(m->direction), jstr(want, "direction")))
    failf(fx, name, "stored direction %s, want %s", ma_direction_name(m->direction), jstr(want, "direction"));
  if (g_strcmp0(m->thread_id, r->thread_id)) failf(fx, name, "stored thread differs from the reported one");
  /* reasons: {"type:id": "reason"} of the stored links ('*' matches any run, e.g. a message id) */
  json_t *want_reasons = json_object_get(want, "reasons");
  if (want_reasons) {
    g_autoptr(GPtrArray) links = g_ptr_array_new_with_free_func((GDestroyNotify) ma_record_ref_free);
    if (storage_message_links(fx->st, fx->ent, m->id, links, &error) < 0) failf(fx, name, "links: %s", error->message);
    const char *key;
    json_t *v;
    json_object_foreach(want_reasons, key, v) {
      const char *got = NULL;
      for (guint i = 0; i < links->len; i++) {
        const MaRecordRef *ref = links->pdata[i];
        g_autofree char *k = g_strdup_printf("%s:%s", ma_record_type_name(ref->type), ref->id);
        if (!strcmp(k, key)) got = ref->reason ? ref->reason : "(none)";
      }
      if (!got || !g_pattern_match_simple(json_string_value(v), got))
        failf(fx, name, "reason of %s: \"%s\", want \"%s\"", key, got ? got : "(no link)", json_string_value(v));
    }
  }
  /* machine: "none" | "auto" | "bulk" | "auto,bulk" (absent: "none") */
  const char *want_machine = jstr(want, "machine") ? jstr(want, "machine") : "none";
  g_autofree char *got_machine = g_strdup_printf("%s%s%s", m->machine & MA_MACHINE_AUTO ? "auto" : "",
                                                 (m->machine & MA_MACHINE_AUTO) && (m->machine & MA_MACHINE_BULK) ? "," : "",
                                                 m->machine & MA_MACHINE_BULK ? "bulk" : "");
  if (strcmp(want_machine, *got_machine ? got_machine : "none"))
    failf(fx, name, "stored machine %s, want %s", *got_machine ? got_machine : "none", want_machine);
  if (jstr(want, "machine_reason") && g_strcmp0(m->machine_reason, jstr(want, "machine_reason")))
    failf(fx, name, "stored machine_reason %s, want %s", m->machine_reason ? m->machine_reason : "none",
          jstr(want, "machine_reason"));
  if (g_strcmp0(m->parse_error, jstr(want, "parse_error")))
    failf(fx, name, "stored parse_error %s, want %s", m->parse_error ? m->parse_error : "none",
          jstr(want, "parse_error") ? jstr(want, "parse_error") : "none");
  ma_stored_message_free(m);
}

static void run_fixture(Fx *fx, MaPipeline *p, const char *name)
{
  g_autofree char *base = g_build_filename(fixtures_dir(), "archive", name, NULL);
  g_autofree char *eml_path = g_strconcat(base, ".eml", NULL);
  g_autofree char *expect_path = g_strconcat(base, ".expect.json", NULL);
  json_t *want = load_json(expect_path);
  g_autofree char *raw = NULL;
  gsize len = 0;
  g_autoptr(GError) error = NULL;
  g_assert_true(g_file_get_contents(eml_path, &raw, &len, &error));

  json_t *settings = json_object_get(want, "settings");
  if (settings) apply_settings(fx, settings, FALSE);
  pipeline_forget(p);
  MaProvenance *prov = provenance_of(fx, json_object_get(want, "provenance"));
  MaIngestResult *r = NULL;
  int rc = pipeline_ingest(p, fx->ent, raw, len, prov, &r, &error);
  ma_provenance_free(prov);
  if (settings) apply_settings(fx, settings, TRUE);
  if (rc < 0) {
    failf(fx, name, "pipeline_ingest failed: %s", error->message);
    json_decref(want);
    return;
  }

  const char *outcome = ma_ingest_outcome_name(r->outcome);
  if (strcmp(outcome, jstr(want, "result"))) failf(fx, name, "result %s (%s), want %s", outcome,
                                                   r->skip_reason ? r->skip_reason : "-", jstr(want, "result"));
  if (g_strcmp0(r->skip_reason, jstr(want, "reason")))
    failf(fx, name, "reason %s, want %s", r->skip_reason ? r->skip_reason : "none", jstr(want, "reason") ? jstr(want, "reason") : "none");
  if (jstr(want, "direction") && strcmp(ma_direction_name(r->direction), jstr(want, "direction")))
    failf(fx, name, "direction %s, want %s", ma_direction_name(r->direction), jstr(want, "direction"));
  if (g_strcmp0(r->parse_error, jstr(want, "parse_error")))
    failf(fx, name, "parse_error %s, want %s", r->parse_error ? r->parse_error : "none",
          jstr(want, "parse_error") ? jstr(want, "parse_error") : "none");
  if (json_object_get(want, "participants")) {
    g_autofree char *w = json_set(json_object_get(want, "participants"));
    g_autofree char *g = participants_set(r->participants);
    if (strcmp(w, g)) failf(fx, name, "participants [%s], want [%s]", g, w);
  }
  g_autofree char *want_records = json_set(json_object_get(want, "records"));
  g_autofree char *got_records = links_set(r->links);
  if (strcmp(want_records, got_records)) failf(fx, name, "records [%s], want [%s]", got_records, want_records);
  if (json_object_get(want, "unwrapped") && json_is_true(json_object_get(want, "unwrapped")) != r->unwrapped)
    failf(fx, name, "unwrapped %d, want %d", r->unwrapped, json_is_true(json_object_get(want, "unwrapped")));
  if (jstr(want, "thread") && r->outcome == MA_INGEST_ARCHIVED) check_thread(fx, name, jstr(want, "thread"), r->thread_id);
  if (jstr(want, "duplicate_of")) {
    const char *orig = g_hash_table_lookup(fx->id_of_fixture, jstr(want, "duplicate_of"));
    if (!orig || g_strcmp0(orig, r->message_id)) failf(fx, name, "not a duplicate of %s", jstr(want, "duplicate_of"));
  }
  if (json_object_get(want, "provenance_added") &&
      json_is_true(json_object_get(want, "provenance_added")) != r->provenance_added)
    failf(fx, name, "provenance_added %d", r->provenance_added);
  if (json_object_get(want, "provenance_count") && r->message_id) {
    g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func((GDestroyNotify) ma_provenance_free);
    g_assert_cmpint(storage_provenance_list(fx->st, fx->ent, r->message_id, rows, &error), ==, 0);
    if ((json_int_t) rows->len != json_integer_value(json_object_get(want, "provenance_count")))
      failf(fx, name, "%u provenance rows, want %" JSON_INTEGER_FORMAT, rows->len,
            json_integer_value(json_object_get(want, "provenance_count")));
  }
  if (r->outcome == MA_INGEST_ARCHIVED) {
    g_hash_table_insert(fx->id_of_fixture, g_strdup(name), g_strdup(r->message_id));
    check_stored(fx, name, want, r, raw, len);
  }
  if (r->outcome == MA_INGEST_SKIPPED && r->message_id) failf(fx, name, "skipped but has a message id");
  ma_ingest_result_free(r);
  json_decref(want);
}

static GPtrArray *fixture_names(void)
{
  g_autofree char *dir_path = g_build_filename(fixtures_dir(), "archive", NULL);
  GDir *dir = g_dir_open(dir_path, 0, NULL);
  g_assert_nonnull(dir);
  GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
  const char *n;
  while ((n = g_dir_read_name(dir)))
    if (g_str_has_suffix(n, ".eml")) g_ptr_array_add(names, g_strndup(n, strlen(n) - 4));
  g_dir_close(dir);
  g_ptr_array_sort(names, cmp_strp);
  return names;
}

static void test_fixtures(void)
{
  Fx fx = {0};
  setup(&fx);
  g_autoptr(GPtrArray) names = fixture_names();
  g_assert_cmpuint(names->len, >=, 40);
  MaPipeline *p = pipeline_new(fx.st, fx.cfg);
  for (guint i = 0; i < names->len; i++) run_fixture(&fx, p, names->pdata[i]);
  pipeline_free(p);
  if (fx.failures->len) g_printerr("%s", fx.failures->str);
  g_assert_cmpstr(fx.failures->str, ==, "");
  g_assert_cmpuint(fx.text_in_raw, >=, 10); /* the reference path was taken, and read back */
  teardown(&fx);
}

/* Ingesting the whole set a second time (same provenance) archives nothing new: every message is
 * a duplicate or the same skip, and no provenance, link, thread or outbox row is added. */
static void test_replay_adds_nothing(void)
{
  Fx fx = {0};
  setup(&fx);
  g_autoptr(GPtrArray) names = fixture_names();
  MaPipeline *p = pipeline_new(fx.st, fx.cfg);
  g_autoptr(GError) error = NULL;
  gint64 first_messages = 0, first_activities = 0, first_backlog = 0;
  for (int round = 0; round < 2; round++) {
    for (guint i = 0; i < names->len; i++) {
      g_autofree char *path = g_strconcat(fixtures_dir(), "/archive/", names->pdata[i], ".eml", NULL);
      g_autofree char *raw = NULL;
      gsize len = 0;
      g_assert_true(g_file_get_contents(path, &raw, &len, NULL));
      MaProvenance *prov = ma_provenance_new("smtp");
      prov->spool_id = g_strdup(names->pdata[i]);
      MaIngestResult *r = NULL;
      g_assert_cmpint(pipeline_ingest(p, fx.ent, raw, len, prov, &r, &error), ==, 0);
      if (round == 1) {
        g_assert_cmpint(r->outcome, !=, MA_INGEST_ARCHIVED);
        g_assert_false(r->provenance_added);
        g_assert_cmpuint(r->links_added, ==, 0);
      }
      ma_provenance_free(prov);
      ma_ingest_result_free(r);
    }
    gint64 messages = 0, activities = 0, records = 0, backlog = 0;
    g_assert_cmpint(storage_counts(fx.st, &messages, &activities, &records, &error), ==, 0);
    g_assert_cmpint(storage_outbox_backlog(fx.st, &backlog, &error), ==, 0);
    g_assert_cmpint(messages, >, 0);
    g_assert_cmpint(backlog, >=, messages);
    if (round == 0) {
      first_messages = messages;
      first_activities = activities;
      first_backlog = backlog;
    } else {
      g_assert_cmpint(messages, ==, first_messages);
      g_assert_cmpint(activities, ==, first_activities);
      g_assert_cmpint(backlog, ==, first_backlog);
    }
  }
  pipeline_free(p);
  teardown(&fx);
}

/* capture_level: "full" keeps the raw message and attachment contents, "no_attachments" only the
 * raw message, "metadata" neither (nor the body text), while rows and links are the same. */
static void test_capture_levels(void)
{
  Fx fx = {0};
  setup(&fx);
  MaPipeline *p = pipeline_new(fx.st, fx.cfg);
  g_autoptr(GError) error = NULL;
  static const char *levels[] = {"full", "no_attachments", "metadata"};
  for (guint i = 0; i < G_N_ELEMENTS(levels); i++) {
    g_autofree char *raw = g_strdup_printf(
        "From: Hank Hill <hank@globex.example>\r\nTo: alice@acme.example\r\nSubject: Drawing %u\r\n"
        "Date: Mon, 04 Mar 2024 10:00:00 +0000\r\nMessage-ID: <capture-%u@globex.example>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n"
        "See the drawing %u.\r\n--b\r\nContent-Type: application/octet-stream\r\n"
        "Content-Disposition: attachment; filename=drawing-%u.bin\r\n\r\nbinary-%u-content\r\n--b--\r\n",
        i, i, i, i, i);
    g_assert_cmpint(settings_set(fx.st, fx.ent, "capture_level", levels[i], &error), ==, 0);
    pipeline_forget(p);
    MaProvenance *prov = ma_provenance_new("ingest");
    MaIngestResult *r = NULL;
    g_assert_cmpint(pipeline_ingest(p, fx.ent, raw, strlen(raw), prov, &r, &error), ==, 0);
    ma_provenance_free(prov);
    g_assert_cmpint(r->outcome, ==, MA_INGEST_ARCHIVED);
    g_assert_cmpuint(r->links->len, >=, 1);
    MaStoredMessage *m = NULL;
    g_assert_cmpint(storage_message_get(fx.st, fx.ent, r->message_id, &m, &error), ==, 1);
    g_assert_cmpuint(m->attachments->len, ==, 1);
    g_assert_cmpuint(m->links->len, ==, r->links->len);
    const MaAttachment *a = m->attachments->pdata[0];
    GBytes *blob = NULL;
    int raw_found = storage_blob_get(fx.st, m->raw_sha256, &blob, &error);
    if (blob) g_bytes_unref(blob);
    blob = NULL;
    int att_found = storage_blob_get(fx.st, a->sha256, &blob, &error);
    if (blob) g_bytes_unref(blob);
    g_assert_cmpint(raw_found, ==, i < 2 ? 1 : 0);
    g_assert_cmpint(att_found, ==, i == 0 ? 1 : 0);
    if (i < 2) g_assert_nonnull(strstr(m->text, "See the drawing"));
    else g_assert_cmpstr(m->text, ==, "");
    ma_stored_message_free(m);
    ma_ingest_result_free(r);
  }
  pipeline_free(p);
  teardown(&fx);
}

/* With a rule, archiving creates activities inside the same transaction; the outbox holds
 * "message.archived" before the "activity.created" events of that message; the activities
 * setting off creates none; a duplicate copy creates none twice. */
static void test_activities_and_outbox_order(void)
{
  Fx fx = {0};
  setup(&fx);
  g_autoptr(GError) error = NULL;
  const char *rules = "[{\"id\":\"r1\",\"name\":\"all mail\",\"enabled\":true,\"object_types\":[\"contact\"],"
                      "\"match\":\"all\",\"conditions\":[],\"action\":{\"activity_type\":\"email\","
                      "\"title\":\"{{subject}}\",\"content\":\"{{snippet}}\"}}]";
  g_assert_cmpint(storage_rules_put(fx.st, fx.ent, rules, &error), ==, 0);
  MaPipeline *p = pipeline_new(fx.st, fx.cfg);
  g_autofree char *path = g_build_filename(fixtures_dir(), "archive", "01_contact_by_address.eml", NULL);
  g_autofree char *raw = NULL;
  gsize len = 0;
  g_assert_true(g_file_get_contents(path, &raw, &len, NULL));
  MaProvenance *prov = ma_provenance_new("smtp");
  prov->spool_id = g_strdup("act-1");
  MaIngestResult *r = NULL;
  g_assert_cmpint(pipeline_ingest(p, fx.ent, raw, len, prov, &r, &error), ==, 0);
  g_assert_cmpint(r->outcome, ==, MA_INGEST_ARCHIVED);
  g_assert_cmpint(r->activities_created, ==, 1); /* the contact link; the rule is for contacts only */
  ma_ingest_result_free(r);

  g_autoptr(GPtrArray) due = g_ptr_array_new_with_free_func((GDestroyNotify) ma_outbox_event_free);
  g_assert_cmpint(storage_outbox_claim(fx.st, G_MAXINT64 / 2, 0, 100, due, &error), ==, 0);
  g_assert_cmpuint(due->len, ==, 2);
  g_assert_cmpstr(((MaOutboxEvent *) due->pdata[0])->event, ==, "message.archived");
  g_assert_cmpstr(((MaOutboxEvent *) due->pdata[1])->event, ==, "activity.created");

  /* another copy: provenance added, no second activity */
  g_free(prov->spool_id);
  prov->spool_id = g_strdup("act-2");
  g_assert_cmpint(pipeline_ingest(p, fx.ent, raw, len, prov, &r, &error), ==, 0);
  g_assert_cmpint(r->outcome, ==, MA_INGEST_DUPLICATE);
  g_assert_cmpint(r->activities_created, ==, 0);
  ma_ingest_result_free(r);

  /* activities off: archived, no activity */
  g_assert_cmpint(settings_set(fx.st, fx.ent, "activities", "off", &error), ==, 0);
  pipeline_forget(p);
  g_autofree char *other = g_strconcat(raw, "", NULL);
  char *mid = strstr(other, "q3-quote-1@");
  g_assert_nonnull(mid);
  mid[0] = 'Q'; /* another Message-ID */
  g_assert_cmpint(pipeline_ingest(p, fx.ent, other, len, prov, &r, &error), ==, 0);
  g_assert_cmpint(r->outcome, ==, MA_INGEST_ARCHIVED);
  g_assert_cmpint(r->activities_created, ==, 0);
  ma_ingest_result_free(r);
  gint64 messages = 0, activities = 0, records = 0;
  g_assert_cmpint(storage_counts(fx.st, &messages, &activities, &records, &error), ==, 0);
  g_assert_cmpint(activities, ==, 1);
  ma_provenance_free(prov);
  pipeline_free(p);
  teardown(&fx);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/pipeline/fixtures", test_fixtures);
  g_test_add_func("/pipeline/replay_adds_nothing", test_replay_adds_nothing);
  g_test_add_func("/pipeline/capture_levels", test_capture_levels);
  g_test_add_func("/pipeline/activities_and_outbox_order", test_activities_and_outbox_order);
  return g_test_run();
}
