/* test_codec.c - the record parser's acceptance and refusals (table driven), round trips, the
 * JSON builders' field names and conventions, and the streaming writer's output compared with
 * golden JSON files written by hand (tests/fixtures/codec). */
#include "agent/codec/codec.h"
#include "agent/lib/error.h"

#include <string.h>

typedef struct {
  const char *json;
  const char *error_contains; /* NULL: must parse */
} ParseCase;

static const ParseCase parse_cases[] = {
  /* accepted */
  {"{\"type\":\"contact\",\"id\":\"c1\",\"name\":\"Ann\",\"emails\":[\"Ann@Example.COM\"],\"account_id\":\"a1\"}", NULL},
  {"{\"type\":\"account\",\"id\":\"a1\",\"name\":\"Acme\",\"domains\":[\"acme.example\"],\"emails\":[\"info@acme.example\"]}", NULL},
  {"{\"type\":\"lead\",\"id\":\"l1\",\"emails\":[\"x@y.example\"],\"attributes\":{\"source\":\"web\",\"score\":5}}", NULL},
  {"{\"type\":\"opportunity\",\"id\":\"o1\",\"account_id\":\"a1\",\"contact_ids\":[\"c1\",\"c2\"],\"stage\":\"won\"}", NULL},
  {"{\"type\":\"opportunity\",\"id\":\"o2\"}", NULL},
  {"{\"type\":\"contact\",\"id\":\"c2\",\"name\":null,\"account_id\":null,\"stage\":null}", NULL},
  {"{\"type\":\"contact\",\"id\":\"c3\",\"deleted\":true}", NULL},
  {"{\"type\":\"account\",\"id\":\"a2\",\"domains\":[\"bücher.example\"]}", NULL},
  /* refused */
  {"[1,2]", "must be a JSON object"},
  {"{\"type\":\"contact\",\"id\":\"c1\",\"email\":[\"a@b.example\"]}", "unknown field \"email\""},
  {"{\"id\":\"c1\"}", "type: missing"},
  {"{\"type\":\"person\",\"id\":\"c1\"}", "\"person\" is not account"},
  {"{\"type\":\"contact\"}", "id: missing"},
  {"{\"type\":\"contact\",\"id\":\"\"}", "id: missing"},
  {"{\"type\":\"contact\",\"id\":7}", "id: must be a string"},
  {"{\"type\":\"contact\",\"id\":\"c1\",\"emails\":[\"not-an-address\"]}", "emails[0]: \"not-an-address\" is not an e-mail address"},
  {"{\"type\":\"contact\",\"id\":\"c1\",\"emails\":[\"a@b.example\",\"two words@x.example\"]}", "emails[1]"},
  {"{\"type\":\"contact\",\"id\":\"c1\",\"emails\":\"a@b.example\"}", "emails: must be an array"},
  {"{\"type\":\"contact\",\"id\":\"c1\",\"emails\":[\"a@-bad.example\"]}", "not an e-mail address"},
  {"{\"type\":\"contact\",\"id\":\"c1\",\"stage\":\"open\"}", "stage: only opportunities"},
  {"{\"type\":\"contact\",\"id\":\"c1\",\"domains\":[\"a.example\"]}", "domains: only accounts"},
  {"{\"type\":\"lead\",\"id\":\"l1\",\"account_id\":\"a1\"}", "account_id: only contacts and opportunities"},
  {"{\"type\":\"account\",\"id\":\"a1\",\"contact_ids\":[\"c\"]}", "contact_ids: only opportunities"},
  {"{\"type\":\"opportunity\",\"id\":\"o1\",\"emails\":[\"a@b.example\"]}", "emails: only accounts, contacts and leads"},
  {"{\"type\":\"opportunity\",\"id\":\"o1\",\"stage\":\"closed\"}", "stage: must be \"open\", \"won\" or \"lost\""},
  {"{\"type\":\"account\",\"id\":\"a1\",\"domains\":[\"not a domain\"]}", "is not a domain name"},
  {"{\"type\":\"account\",\"id\":\"a1\",\"attributes\":[1]}", "attributes: must be an object"},
  {"{\"type\":\"account\",\"id\":\"a1\",\"deleted\":\"yes\"}", "deleted: must be true or false"},
  {"{\"type\":\"account\",\"id\":\"a1\",\"name\":\"bad\\u0001\"}", "control character"},
  {"{\"type\":\"account\",\"id\":\"a1\",\"id\":\"a2\"}", "duplicate"},
  {"{\"type\":\"account\",", "bad JSON"},
};

static void test_parse_table(void)
{
  for (gsize i = 0; i < G_N_ELEMENTS(parse_cases); i++) {
    const ParseCase *c = &parse_cases[i];
    MaRecord *r = NULL;
    gboolean deleted = FALSE;
    GError *error = NULL;
    int rc = codec_record_parse_text(c->json, strlen(c->json), &r, &deleted, &error);
    if (!c->error_contains) {
      if (rc != 0) g_error("case %zu (%s): unexpected error %s", i, c->json, error->message);
      g_assert_nonnull(r);
    } else {
      if (rc == 0) g_error("case %zu (%s): accepted, want error containing %s", i, c->json, c->error_contains);
      g_assert_null(r);
      g_assert_error(error, MA_ERROR, MA_ERROR_INVALID);
      if (!strstr(error->message, c->error_contains))
        g_error("case %zu: error \"%s\" lacks \"%s\"", i, error->message, c->error_contains);
    }
    g_clear_error(&error);
    ma_record_free(r);
  }
}

static void test_parse_values(void)
{
  const char *text = "{\"type\":\"contact\",\"id\":\"c1\",\"name\":\"Ann\",\"emails\":[\"Ann@Example.COM\","
                     "\"ann@example.com\",\"b@x.example\"],\"account_id\":\"a1\",\"attributes\":{\"z\":1,\"a\":\"x\"}}";
  MaRecord *r = NULL;
  gboolean deleted = TRUE;
  g_assert_cmpint(codec_record_parse_text(text, strlen(text), &r, &deleted, NULL), ==, 0);
  g_assert_false(deleted);
  g_assert_cmpint(r->type, ==, MA_RECORD_CONTACT);
  g_assert_cmpstr(r->id, ==, "c1");
  g_assert_cmpstr(r->name, ==, "Ann");
  g_assert_cmpuint(r->emails->len, ==, 2); /* lower-cased, duplicate dropped */
  g_assert_cmpstr(g_ptr_array_index(r->emails, 0), ==, "ann@example.com");
  g_assert_cmpstr(r->account_id, ==, "a1");
  g_assert_cmpstr(r->attributes_json, ==, "{\"a\":\"x\",\"z\":1}");
  g_assert_cmpint(r->stage, ==, MA_STAGE_NONE);
  ma_record_free(r);

  const char *opp = "{\"type\":\"opportunity\",\"id\":\"o1\"}";
  g_assert_cmpint(codec_record_parse_text(opp, strlen(opp), &r, NULL, NULL), ==, 0);
  g_assert_cmpint(r->stage, ==, MA_STAGE_OPEN);
  ma_record_free(r);

  const char *del = "{\"type\":\"lead\",\"id\":\"l9\",\"deleted\":true}";
  g_assert_cmpint(codec_record_parse_text(del, strlen(del), &r, &deleted, NULL), ==, 0);
  g_assert_true(deleted);
  ma_record_free(r);
  GError *error = NULL;
  g_assert_cmpint(codec_record_parse_text(del, strlen(del), &r, NULL, &error), ==, -1);
  g_assert_nonnull(strstr(error->message, "deleted"));
  g_clear_error(&error);
}

static void test_round_trip(void)
{
  const char *texts[] = {
    "{\"type\":\"account\",\"id\":\"a1\",\"name\":\"Acme\",\"emails\":[\"info@acme.example\"],\"domains\":[\"acme.example\"],\"attributes\":{\"tier\":\"gold\"}}",
    "{\"type\":\"contact\",\"id\":\"c1\",\"name\":null,\"emails\":[],\"account_id\":null,\"attributes\":{}}",
    "{\"type\":\"lead\",\"id\":\"l1\",\"name\":\"L\",\"emails\":[\"l@x.example\"],\"attributes\":{}}",
    "{\"type\":\"opportunity\",\"id\":\"o1\",\"name\":\"Deal\",\"account_id\":\"a1\",\"contact_ids\":[\"c1\"],\"stage\":\"lost\",\"attributes\":{\"amount\":1000}}",
  };
  for (gsize i = 0; i < G_N_ELEMENTS(texts); i++) {
    MaRecord *r = NULL;
    g_assert_cmpint(codec_record_parse_text(texts[i], strlen(texts[i]), &r, NULL, NULL), ==, 0);
    json_t *j = codec_record_to_json(r);
    json_t *want = json_loads(texts[i], 0, NULL);
    if (!json_equal(j, want)) {
      char *got = json_dumps(j, JSON_COMPACT);
      g_error("round trip %zu: got %s", i, got);
    }
    /* And what we print parses again to the same thing. */
    MaRecord *again = NULL;
    g_assert_cmpint(codec_record_parse(j, &again, NULL, NULL), ==, 0);
    g_assert_cmpstr(again->attributes_json, ==, r->attributes_json);
    ma_record_free(again);
    json_decref(j);
    json_decref(want);
    ma_record_free(r);
  }
}

static void test_address_shapes(void)
{
  g_assert_true(codec_address_valid("a@b.example"));
  g_assert_true(codec_address_valid("first.last+tag@sub.example.com"));
  g_assert_true(codec_address_valid("user@localhost"));
  g_assert_false(codec_address_valid("@b.example"));
  g_assert_false(codec_address_valid("a@"));
  g_assert_false(codec_address_valid("a@b..example"));
  g_assert_false(codec_address_valid("a..b@example.com"));
  g_assert_false(codec_address_valid("<a@b.example>"));
  g_assert_false(codec_address_valid("a b@c.example"));
  g_assert_true(codec_domain_valid("xn--bcher-kva.example"));
  g_assert_false(codec_domain_valid("-a.example"));
  g_assert_false(codec_domain_valid("a.example."));
  g_assert_false(codec_domain_valid("a_b.example"));
}

static void test_builders(void)
{
  json_t *a = codec_address_to_json(NULL, "x@y.example");
  g_assert_true(json_is_null(json_object_get(a, "name")));
  g_assert_cmpstr(json_string_value(json_object_get(a, "address")), ==, "x@y.example");
  json_decref(a);

  MaEnterprise e = {.id = "e1", .slug = "acme", .name = "Acme", .inbound_local = "acme-abcd1234",
                    .domains = g_ptr_array_new(), .created_at = 1700000000};
  g_ptr_array_add(e.domains, "acme.example");
  json_t *je = codec_enterprise_to_json(&e, "inbound.test");
  g_assert_cmpstr(json_string_value(json_object_get(je, "inbound_address")), ==, "acme-abcd1234@inbound.test");
  g_assert_cmpstr(json_string_value(json_object_get(je, "created_at")), ==, "2023-11-14T22:13:20Z");
  g_assert_cmpuint(json_array_size(json_object_get(je, "domains")), ==, 1);
  json_decref(je);
  g_ptr_array_unref(e.domains);

  MaApiKey k = {.id = "k1", .enterprise_id = NULL, .label = "admin", .prefix = "mak_1234", .created_at = 1};
  json_t *jk = codec_api_key_to_json(&k);
  g_assert_cmpstr(json_string_value(json_object_get(jk, "scope")), ==, "admin");
  g_assert_true(json_is_null(json_object_get(jk, "revoked_at")));
  json_decref(jk);

  MaStoredMessage m = {0};
  m.id = "m1";
  m.thread_id = "t1";
  m.subject = "Hello";
  m.snippet = "Hi there";
  m.date = 1700000000;
  m.direction = MA_DIRECTION_OUTBOUND;
  m.participants = g_ptr_array_new_with_free_func((GDestroyNotify)ma_participant_free);
  g_ptr_array_add(m.participants, ma_participant_new(MA_ROLE_FROM, "Me", "me@acme.example"));
  g_ptr_array_add(m.participants, ma_participant_new(MA_ROLE_TO, NULL, "you@cust.example"));
  g_ptr_array_add(m.participants, ma_participant_new(MA_ROLE_CC, "C", "c@cust.example"));
  m.attachments = g_ptr_array_new_with_free_func((GDestroyNotify)ma_attachment_free);
  MaAttachment *att = ma_attachment_new();
  att->filename = g_strdup("q.pdf");
  att->content_type = g_strdup("application/pdf");
  att->size = 42;
  g_strlcpy(att->sha256, "ab", sizeof att->sha256);
  g_ptr_array_add(m.attachments, att);
  m.links = g_ptr_array_new_with_free_func((GDestroyNotify)ma_record_ref_free);
  g_ptr_array_add(m.links, ma_record_ref_new(MA_RECORD_CONTACT, "c1"));

  MaTimelineItem item = {.is_activity = FALSE, .message = &m};
  json_t *ji = codec_timeline_item_to_json(&item);
  g_assert_cmpstr(json_string_value(json_object_get(ji, "kind")), ==, "message");
  g_assert_cmpstr(json_string_value(json_object_get(ji, "direction")), ==, "outbound");
  g_assert_cmpstr(json_string_value(json_object_get(json_object_get(ji, "from"), "address")), ==, "me@acme.example");
  g_assert_cmpuint(json_array_size(json_object_get(ji, "to")), ==, 1);
  g_assert_cmpuint(json_array_size(json_object_get(ji, "cc")), ==, 1);
  g_assert_cmpstr(json_string_value(json_object_get(json_array_get(json_object_get(ji, "attachments"), 0), "filename")), ==, "q.pdf");
  g_assert_cmpstr(json_string_value(json_object_get(json_array_get(json_object_get(ji, "records"), 0), "type")), ==, "contact");
  g_assert_null(json_object_get(ji, "text")); /* only with full */
  json_decref(ji);

  json_t *full = codec_message_to_json(&m, TRUE);
  g_assert_cmpuint(json_array_size(json_object_get(full, "participants")), ==, 3);
  g_assert_cmpstr(json_string_value(json_object_get(json_array_get(json_object_get(full, "participants"), 1), "role")), ==, "to");
  json_decref(full);
  g_ptr_array_unref(m.participants);
  g_ptr_array_unref(m.attachments);
  g_ptr_array_unref(m.links);

  MaActivity act = {.id = "a1", .message_id = "m1", .record = {MA_RECORD_OPPORTUNITY, "o1"}, .title = "Quote sent",
                    .message_date = 1700000000};
  MaTimelineItem aitem = {.is_activity = TRUE, .activity = &act};
  json_t *ja = codec_timeline_item_to_json(&aitem);
  g_assert_cmpstr(json_string_value(json_object_get(ja, "kind")), ==, "activity");
  g_assert_cmpstr(json_string_value(json_object_get(json_object_get(ja, "record"), "type")), ==, "opportunity");
  json_decref(ja);

  json_t *page = codec_page(json_array(), NULL);
  g_assert_true(json_is_null(json_object_get(page, "next_cursor")));
  json_decref(page);

  json_t *s = codec_string("bad \xff byte");
  g_assert_nonnull(s);
  g_assert_true(json_is_string(s));
  json_decref(s);
}


/* The streaming writer: every byte that needs escaping round-trips through a real JSON parser,
 * invalid UTF-8 is repaired, commas and nesting come out as jansson would write them. */
static void test_writer(void)
{
  GString *raw = g_string_new(NULL);
  for (int c = 1; c < 0x80; c++) g_string_append_c(raw, (char)c);
  g_string_append(raw, "\xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x93\xa7"); /* 中文 and an emoji */

  GString *out = g_string_new(NULL);
  CodecWriter w;
  codec_writer_init(&w, out);
  codec_writer_object_begin(&w);
  codec_writer_key(&w, "s");
  codec_writer_string(&w, raw->str);
  codec_writer_key(&w, "bad");
  codec_writer_string(&w, "a\xff\xfe" "b");
  codec_writer_key(&w, "list");
  codec_writer_array_begin(&w);
  codec_writer_int(&w, -42);
  codec_writer_bool(&w, TRUE);
  codec_writer_null(&w);
  codec_writer_time(&w, 0);
  codec_writer_time(&w, 1700000000);
  codec_writer_array_begin(&w);
  codec_writer_array_end(&w);
  codec_writer_object_begin(&w);
  codec_writer_object_end(&w);
  codec_writer_array_end(&w);
  codec_writer_key(&w, "n");
  codec_writer_string(&w, NULL);
  codec_writer_object_end(&w);

  json_error_t jerr;
  json_t *doc = json_loadb(out->str, out->len, JSON_REJECT_DUPLICATES, &jerr);
  g_assert_nonnull(doc);
  g_assert_cmpstr(json_string_value(json_object_get(doc, "s")), ==, raw->str);
  g_assert_cmpstr(json_string_value(json_object_get(doc, "bad")), ==, "a\xef\xbf\xbd\xef\xbf\xbd" "b");
  g_assert_true(json_is_null(json_object_get(doc, "n")));
  /* the rest byte for byte as jansson's compact encoder writes it */
  json_object_del(doc, "s");
  json_object_del(doc, "bad");
  char *again = json_dumps(json_object_get(doc, "list"), JSON_COMPACT);
  g_assert_cmpstr(again, ==, "[-42,true,null,null,\"2023-11-14T22:13:20Z\",[],{}]");
  g_assert_nonnull(strstr(out->str, "\"list\":[-42,true,null,null,\"2023-11-14T22:13:20Z\",[],{}],\"n\":null}"));
  free(again);
  json_decref(doc);
  g_string_free(out, TRUE);
  g_string_free(raw, TRUE);
}

/* The writer's eight-bytes-at-a-time scan for plain ASCII: every byte that needs a look ('"', '\',
 * a control, a non-ASCII byte), at every position of a 23-byte string (both 8-byte words, the
 * tail), is still escaped or checked, compared with the expected text written out here. */
static void test_writer_positions(void)
{
  static const struct {
    char byte;
    const char *escaped;
  } cases[] = {{'"', "\\\""}, {'\\', "\\\\"}, {'\n', "\\n"}, {'\x01', "\\u0001"}, {'\x1f', "\\u001f"},
               {'\xff', "\xef\xbf\xbd"}};
  for (guint c = 0; c < G_N_ELEMENTS(cases); c++) {
    for (int at = 0; at < 23; at++) {
      char in[24];
      memset(in, 'a', 23);
      in[23] = '\0';
      in[at] = cases[c].byte;
      GString *out = g_string_new(NULL);
      CodecWriter w;
      codec_writer_init(&w, out);
      codec_writer_string(&w, in);
      g_autofree char *expected = g_strdup_printf("\"%.*s%s%s\"", at, in, cases[c].escaped, in + at + 1);
      g_assert_cmpstr(out->str, ==, expected);
      g_string_free(out, TRUE);
    }
  }
  /* plain ASCII of every length up to two words, and the bytes either side of the escaped ones */
  for (int len = 0; len <= 17; len++) {
    char in[18];
    for (int i = 0; i < len; i++) in[i] = (char)("!#[]~ 0A"[i % 8]);
    in[len] = '\0';
    GString *out = g_string_new(NULL);
    CodecWriter w;
    codec_writer_init(&w, out);
    codec_writer_string(&w, in);
    g_autofree char *expected = g_strdup_printf("\"%s\"", in);
    g_assert_cmpstr(out->str, ==, expected);
    g_string_free(out, TRUE);
  }
}

/* The message of the golden files in tests/fixtures/codec/ (their values are written there by
 * hand from docs/api.md and docs/webhooks.md, not produced by the writer). */
static MaStoredMessage *golden_message(void)
{
  MaStoredMessage *m = ma_stored_message_new();
  m->id = g_strdup("m1");
  m->thread_id = g_strdup("t1");
  m->message_id = g_strdup("q4@globex.example");
  m->subject = g_strdup("Quote \"Q4\"\tnew\nline \xe6\x8a\xa5\xe4\xbb\xb7");
  m->snippet = g_strdup("back\\slash");
  m->text = g_strdup("Hello Homer,\nthe quote.");
  m->date = 1700000000;
  m->archived_at = 1700000005;
  m->size = 1234;
  m->direction = MA_DIRECTION_INBOUND;
  g_ptr_array_add(m->participants, ma_participant_new(MA_ROLE_FROM, "Hank", "hank@globex.example"));
  g_ptr_array_add(m->participants, ma_participant_new(MA_ROLE_TO, NULL, "homer@acme.example"));
  g_ptr_array_add(m->participants, ma_participant_new(MA_ROLE_CC, "Mindy", "mindy@globex.example"));
  MaAttachment *a = ma_attachment_new();
  a->filename = g_strdup("q.pdf");
  a->content_type = g_strdup("application/pdf");
  a->size = 10;
  g_strlcpy(a->sha256, "c34e6f2d0e0b5f1d8f0d8c1f2b8e7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f", sizeof a->sha256);
  g_ptr_array_add(m->attachments, a);
  g_ptr_array_add(m->links, ma_record_ref_new(MA_RECORD_CONTACT, "CON-1"));
  g_ptr_array_add(m->links, ma_record_ref_new(MA_RECORD_OPPORTUNITY, "OPP-1"));
  return m;
}

/* Parses text (the writer's output, which must be valid compact JSON) and the golden file name,
 * and compares them as JSON values (key order aside). */
static void assert_matches_golden(const char *text, const char *name)
{
  json_error_t jerr;
  g_autofree char *path = g_build_filename(FIXTURES_DIR, "codec", name, NULL);
  json_t *want = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
  if (!want) g_error("%s: %s (line %d)", path, jerr.text, jerr.line);
  json_t *got = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
  if (!got) g_error("the writer wrote invalid JSON: %s: %s", jerr.text, text);
  g_assert_null(strstr(text, "\n")); /* compact: one line */
  if (!json_equal(got, want)) {
    char *a = json_dumps(got, JSON_SORT_KEYS | JSON_INDENT(1)), *b = json_dumps(want, JSON_SORT_KEYS | JSON_INDENT(1));
    g_error("%s differs from the writer's output:\nwriter: %s\ngolden: %s", name, a, b);
  }
  json_decref(want);
  json_decref(got);
}

/* A timeline page (an activity, then its message) and a full message as the writer puts them
 * out, compared with independent golden JSON files. */
static void test_writer_golden(void)
{
  MaStoredMessage *m = golden_message();
  MaActivity act = {.id = "a1", .message_id = "m1", .record = {MA_RECORD_OPPORTUNITY, "OPP-1"}, .rule_id = "r1",
                    .rule_name = "Quotes", .activity_type = "email", .title = "Quote sent",
                    .content = "Hello, the quote.", .owner = "homer@acme.example", .created_at = 1700000001,
                    .message_date = 1700000000};
  MaTimelineItem aitem = {.is_activity = TRUE, .activity = &act};
  MaTimelineItem mitem = {.message = m};
  GString *text = g_string_new(NULL);
  CodecWriter w;
  codec_writer_init(&w, text);
  codec_write_page_begin(&w);
  codec_write_timeline_item(&w, &aitem);
  codec_write_timeline_item(&w, &mitem);
  codec_write_page_end(&w, "CUR");
  assert_matches_golden(text->str, "timeline_page.json");
  g_string_free(text, TRUE);
  g_autofree char *full = codec_message_json_text(m, TRUE);
  assert_matches_golden(full, "message_full.json");
  ma_stored_message_free(m);
}

/* The CLI and the API read timeline filters with one parser: the same words, the same errors. */
static void test_timeline_filter(void)
{
  MaTimelineFilter f;
  GError *error = NULL;
  g_assert_cmpint(codec_timeline_filter_parse("in", "2024-01-31", "2024-01-31", "yes", "t1", &f, &error), ==, 0);
  g_assert_cmpstr(f.direction, ==, "inbound");
  g_assert_cmpint(f.until - f.since, ==, 86400); /* a bare until date includes that day */
  g_assert_cmpint(f.has_attachment, ==, 1);
  g_assert_cmpstr(f.thread_id, ==, "t1");
  g_assert_cmpint(codec_timeline_filter_parse("outbound", NULL, "2024-01-31T10:00:00Z", "false", NULL, &f, &error), ==, 0);
  g_assert_cmpstr(f.direction, ==, "outbound");
  g_assert_cmpint(f.has_attachment, ==, 0);
  g_assert_cmpint(f.until % 86400, ==, 36000);
  g_assert_cmpint(codec_timeline_filter_parse(NULL, NULL, NULL, NULL, NULL, &f, &error), ==, 0);
  g_assert_cmpint(f.has_attachment, ==, -1);
  static const char *const bad[][4] = {
    {"sideways", NULL, NULL, NULL}, {NULL, "yesterday", NULL, NULL}, {NULL, NULL, "soon", NULL},
    {NULL, NULL, NULL, "maybe"},    {NULL, "2024-02-01", "2024-01-01", NULL},
  };
  for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_assert_cmpint(codec_timeline_filter_parse(bad[i][0], bad[i][1], bad[i][2], bad[i][3], NULL, &f, &error), ==, -1);
    g_assert_error(error, MA_ERROR, MA_ERROR_INVALID);
    g_clear_error(&error);
  }
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/codec/record/parse_table", test_parse_table);
  g_test_add_func("/codec/timeline-filter", test_timeline_filter);
  g_test_add_func("/codec/record/parse_values", test_parse_values);
  g_test_add_func("/codec/record/round_trip", test_round_trip);
  g_test_add_func("/codec/address_shapes", test_address_shapes);
  g_test_add_func("/codec/builders", test_builders);
  g_test_add_func("/codec/writer", test_writer);
  g_test_add_func("/codec/writer/golden", test_writer_golden);
  g_test_add_func("/codec/writer/positions", test_writer_positions);
  return g_test_run();
}
