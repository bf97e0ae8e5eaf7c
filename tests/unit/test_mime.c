/* test_mime.c - the MIME normaliser against tests/fixtures/mime/NAME.eml + NAME.json (format in
 * tests/fixtures/mime/README.md), plus generated hostile input (1 MB header lines, 10,000 nested
 * or sibling parts, oversize messages) that must neither crash nor hang, plus a parse-time check.
 *
 * `test_mime --dump FILE.eml` prints what the parser makes of a file (for writing fixtures).
 */
#include <jansson.h>
#include <string.h>

#include "agent/lib/crypto.h"
#include "agent/lib/error.h"
#include "agent/mime/mime.h"
#include "agent/mime/mime_private.h"

static const char *fixtures_dir(void)
{
  const char *env = g_getenv("FIXTURES_DIR");
  return env ? env : FIXTURES_DIR;
}

static json_t *message_to_json(const MaMessage *m)
{
  json_t *o = json_object();
  json_object_set_new(o, "subject", json_string(m->subject));
  json_object_set_new(o, "message_id", m->message_id ? json_string(m->message_id) : json_null());
  json_object_set_new(o, "in_reply_to", m->in_reply_to ? json_string(m->in_reply_to) : json_null());
  json_t *refs = json_array();
  for (guint i = 0; i < m->references->len; i++)
    json_array_append_new(refs, json_string(g_ptr_array_index(m->references, i)));
  json_object_set_new(o, "references", refs);
  json_object_set_new(o, "date", json_integer(m->date));
  json_t *ps = json_array();
  for (guint i = 0; i < m->participants->len; i++) {
    const MaParticipant *p = g_ptr_array_index(m->participants, i);
    json_array_append_new(ps, json_pack("{s:s, s:s?, s:s}", "role", ma_role_name(p->role), "name",
                                        p->name, "address", p->address));
  }
  json_object_set_new(o, "participants", ps);
  json_object_set_new(o, "text", json_string(m->text));
  json_object_set_new(o, "html", m->html ? json_string(m->html) : json_null());
  json_t *as = json_array();
  for (guint i = 0; i < m->attachments->len; i++) {
    const MaAttachment *a = g_ptr_array_index(m->attachments, i);
    json_array_append_new(as, json_pack("{s:s?, s:s, s:s?, s:b, s:I, s:s}", "filename", a->filename,
                                        "content_type", a->content_type, "content_id", a->content_id,
                                        "inline", a->is_inline, "size", (json_int_t)a->size, "sha256",
                                        a->sha256));
  }
  json_object_set_new(o, "attachments", as);
  json_object_set_new(o, "signals",
                      json_pack("{s:s?, s:s?, s:s?, s:s?}", "resent_from", m->signals.resent_from,
                                "x_forwarded_for", m->signals.x_forwarded_for, "x_forwarded_to",
                                m->signals.x_forwarded_to, "delivered_to", m->signals.delivered_to));
  json_object_set_new(o, "unwrapped", json_boolean(m->unwrapped));
  json_object_set_new(o, "forwarder_address", m->forwarder_address ? json_string(m->forwarder_address) : json_null());
  json_object_set_new(o, "forward_kind", m->forward_kind ? json_string(m->forward_kind) : json_null());
  json_t *ws = json_array();
  for (guint i = 0; i < m->warnings->len; i++)
    json_array_append_new(ws, json_string(g_ptr_array_index(m->warnings, i)));
  json_object_set_new(o, "warnings", ws);
  return o;
}

static MaMessage *parse_file(const char *path, GError **error)
{
  gchar *raw = NULL;
  gsize len = 0;
  g_assert_true(g_file_get_contents(path, &raw, &len, NULL));
  MaMessage *m = NULL;
  int rc = mime_parse(raw, len, NULL, &m, error);
  g_free(raw);
  if (rc < 0) g_assert_null(m);
  return m;
}

/* ---- fixture comparison --------------------------------------------------------------------- */

static void expect_str(const char *fixture, const char *field, json_t *want, const char *got)
{
  if (!want) return;
  if (json_is_null(want)) {
    if (got) g_error("%s: %s: want null, got \"%s\"", fixture, field, got);
    return;
  }
  const char *w = json_string_value(want);
  g_assert_nonnull(w);
  if (!got || strcmp(w, got) != 0)
    g_error("%s: %s: want \"%s\", got \"%s\"", fixture, field, w, got ? got : "(null)");
}

static void expect_bool(const char *fixture, const char *field, json_t *want, gboolean got)
{
  if (!want) return;
  if (json_is_true(want) != !!got) g_error("%s: %s: want %d, got %d", fixture, field, json_is_true(want), got);
}

/* mapped: the fixture is parsed from its file, mapped (raw.h) and read by GMime through its
 * descriptor, as a large spool body is; it must give what the parse of the same octets in memory
 * gives, field for field (message_to_json), besides matching the expected JSON. */
static void check_fixture(const char *name, const char *eml, const char *expected_json, gboolean mapped)
{
  json_error_t jerr;
  json_t *want = json_load_file(expected_json, 0, &jerr);
  if (!want) g_error("%s: bad JSON: %s line %d", expected_json, jerr.text, jerr.line);
  GError *error = NULL;
  g_autofree gchar *bytes = NULL;
  gsize raw_len = 0;
  g_assert_true(g_file_get_contents(eml, &bytes, &raw_len, NULL));
  g_autoptr(MaRaw) input = NULL;
  if (mapped) {
    g_assert_cmpint(ma_raw_open_mapped(eml, G_MAXSIZE, &input, NULL), ==, 0);
    g_assert_true(raw_len == 0 || ma_raw_fd(input) >= 0);
  } else {
    input = ma_raw_new_static(bytes, raw_len);
  }
  MaMessage *m = NULL;
  if (mime_parse_raw(input, NULL, &m, &error) < 0) g_assert_null(m);
  if (mapped && m) {
    MaMessage *in_memory = NULL;
    g_assert_cmpint(mime_parse(bytes, raw_len, NULL, &in_memory, NULL), ==, 0);
    json_t *a = message_to_json(in_memory), *b = message_to_json(m);
    if (!json_equal(a, b)) {
      g_autofree char *sa = json_dumps(a, JSON_INDENT(1)), *sb = json_dumps(b, JSON_INDENT(1));
      g_error("%s: the mapped file parses differently:\nin memory: %s\nmapped: %s", name, sa, sb);
    }
    for (guint i = 0; i < m->attachments->len; i++) {
      const MaAttachment *x = in_memory->attachments->pdata[i], *y = m->attachments->pdata[i];
      g_assert_true(x->in_raw == y->in_raw && x->raw_offset == y->raw_offset && x->raw_length == y->raw_length);
    }
    json_decref(a);
    json_decref(b);
    ma_message_free(in_memory);
  }
  json_t *err = json_object_get(want, "error");
  if (err) {
    g_assert_null(m);
    g_assert_nonnull(error);
    g_assert_cmpstr(ma_error_code_name(error->code), ==, json_string_value(err));
    g_error_free(error);
    json_decref(want);
    return;
  }
  if (!m) g_error("%s: parse failed: %s", name, error ? error->message : "?");

  expect_str(name, "subject", json_object_get(want, "subject"), m->subject);
  expect_str(name, "message_id", json_object_get(want, "message_id"), m->message_id);
  expect_str(name, "in_reply_to", json_object_get(want, "in_reply_to"), m->in_reply_to);
  json_t *refs = json_object_get(want, "references");
  if (refs) {
    if (json_array_size(refs) != m->references->len)
      g_error("%s: references: want %zu, got %u", name, json_array_size(refs), m->references->len);
    for (guint i = 0; i < m->references->len; i++)
      expect_str(name, "references[]", json_array_get(refs, i), g_ptr_array_index(m->references, i));
  }
  json_t *date = json_object_get(want, "date");
  if (date && json_integer_value(date) != m->date)
    g_error("%s: date: want %" JSON_INTEGER_FORMAT ", got %" G_GINT64_FORMAT, name, json_integer_value(date), m->date);

  json_t *ps = json_object_get(want, "participants");
  if (ps) {
    for (guint i = 0; i < MAX(json_array_size(ps), m->participants->len); i++) {
      json_t *wp = json_array_get(ps, i);
      MaParticipant *p = i < m->participants->len ? g_ptr_array_index(m->participants, i) : NULL;
      if (!wp || !p)
        g_error("%s: participant %u: want %s, got %s", name, i, wp ? json_string_value(json_object_get(wp, "address")) : "none",
                p ? p->address : "none");
      expect_str(name, "participant.role", json_object_get(wp, "role"), ma_role_name(p->role));
      expect_str(name, "participant.address", json_object_get(wp, "address"), p->address);
      expect_str(name, "participant.name", json_object_get(wp, "name"), p->name);
    }
  }

  size_t idx;
  json_t *v;
  json_array_foreach(json_object_get(want, "text_contains"), idx, v) {
    if (!strstr(m->text, json_string_value(v)))
      g_error("%s: text does not contain \"%s\":\n%s", name, json_string_value(v), m->text);
  }
  json_array_foreach(json_object_get(want, "text_not_contains"), idx, v) {
    if (strstr(m->text, json_string_value(v)))
      g_error("%s: text contains \"%s\":\n%s", name, json_string_value(v), m->text);
  }
  json_t *sw = json_object_get(want, "text_startswith");
  if (sw && !g_str_has_prefix(m->text, json_string_value(sw)))
    g_error("%s: text does not start with \"%s\":\n%s", name, json_string_value(sw), m->text);
  json_t *html = json_object_get(want, "html");
  if (html) expect_bool(name, "html present", html, m->html != NULL);
  json_array_foreach(json_object_get(want, "html_contains"), idx, v) {
    if (!m->html || !strstr(m->html, json_string_value(v)))
      g_error("%s: html does not contain \"%s\"", name, json_string_value(v));
  }

  json_t *as = json_object_get(want, "attachments");
  if (as) {
    if (json_array_size(as) != m->attachments->len)
      g_error("%s: attachments: want %zu, got %u", name, json_array_size(as), m->attachments->len);
    json_array_foreach(as, idx, v) {
      MaAttachment *a = g_ptr_array_index(m->attachments, idx);
      expect_str(name, "attachment.filename", json_object_get(v, "filename"), a->filename);
      expect_str(name, "attachment.content_type", json_object_get(v, "content_type"), a->content_type);
      expect_str(name, "attachment.content_id", json_object_get(v, "content_id"), a->content_id);
      expect_str(name, "attachment.sha256", json_object_get(v, "sha256"), a->sha256);
      expect_bool(name, "attachment.inline", json_object_get(v, "inline"), a->is_inline);
      json_t *size = json_object_get(v, "size");
      if (size && (gsize)json_integer_value(size) != a->size)
        g_error("%s: attachment %zu size: want %" JSON_INTEGER_FORMAT ", got %" G_GSIZE_FORMAT, name, idx,
                json_integer_value(size), a->size);
      g_assert_cmpuint(strlen(a->sha256), ==, 64);
      /* the content: decoded data, or decoded again from raw in pieces (in_raw) */
      g_assert_true((a->data != NULL) != a->in_raw);
      GString *content = g_string_new(NULL);
      if (a->data) {
        g_string_append_len(content, g_bytes_get_data(a->data, NULL), (gssize)g_bytes_get_size(a->data));
      } else {
        MimeContentReader *r = mime_content_reader_new(input, a);
        g_assert_nonnull(r);
        guint8 piece[7]; /* small pieces: the decoder's steps and flush, every boundary */
        gssize n;
        while ((n = mime_content_reader_read(r, piece, sizeof piece, NULL)) > 0) g_string_append_len(content, (char *)piece, n);
        mime_content_reader_free(r);
      }
      g_assert_cmpuint(content->len, ==, a->size);
      char digest[65];
      ma_sha256_hex(content->str, content->len, digest);
      g_assert_cmpstr(digest, ==, a->sha256);
      g_string_free(content, TRUE);
    }
  }

  json_t *signals = json_object_get(want, "signals");
  if (signals) {
    expect_str(name, "resent_from", json_object_get(signals, "resent_from"), m->signals.resent_from);
    expect_str(name, "x_forwarded_for", json_object_get(signals, "x_forwarded_for"), m->signals.x_forwarded_for);
    expect_str(name, "x_forwarded_to", json_object_get(signals, "x_forwarded_to"), m->signals.x_forwarded_to);
    expect_str(name, "delivered_to", json_object_get(signals, "delivered_to"), m->signals.delivered_to);
  }
  expect_bool(name, "unwrapped", json_object_get(want, "unwrapped"), m->unwrapped);
  expect_str(name, "forward_kind", json_object_get(want, "forward_kind"), m->forward_kind);
  expect_str(name, "forwarder_address", json_object_get(want, "forwarder_address"), m->forwarder_address);

  /* Warnings: "none" (default) forbids them; "some" requires at least one; "any" allows. */
  json_t *wv = json_object_get(want, "warnings");
  const char *wmode = wv ? json_string_value(wv) : "none";
  if (g_strcmp0(wmode, "none") == 0 && m->warnings->len > 0)
    g_error("%s: unexpected warning \"%s\"", name, (char *)g_ptr_array_index(m->warnings, 0));
  if (g_strcmp0(wmode, "some") == 0 && m->warnings->len == 0) g_error("%s: expected a warning", name);
  json_array_foreach(json_object_get(want, "warnings_contain"), idx, v) {
    gboolean found = FALSE;
    for (guint i = 0; i < m->warnings->len; i++)
      if (strstr(g_ptr_array_index(m->warnings, i), json_string_value(v))) found = TRUE;
    if (!found) g_error("%s: no warning containing \"%s\"", name, json_string_value(v));
  }
  /* Every string the parser hands out is valid UTF-8. */
  g_assert_true(g_utf8_validate(m->subject, -1, NULL));
  g_assert_true(g_utf8_validate(m->text, -1, NULL));
  for (guint i = 0; i < m->participants->len; i++) {
    MaParticipant *p = g_ptr_array_index(m->participants, i);
    g_assert_true(g_utf8_validate(p->address, -1, NULL));
    if (p->name) g_assert_true(g_utf8_validate(p->name, -1, NULL));
  }
  ma_message_free(m);
  json_decref(want);
}

static void run_fixtures(gboolean mapped)
{
  char *dir = g_build_filename(fixtures_dir(), "mime", NULL);
  GDir *d = g_dir_open(dir, 0, NULL);
  g_assert_nonnull(d);
  GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
  const char *entry;
  while ((entry = g_dir_read_name(d)))
    if (g_str_has_suffix(entry, ".eml")) g_ptr_array_add(names, g_strndup(entry, strlen(entry) - 4));
  g_dir_close(d);
  g_ptr_array_sort(names, (GCompareFunc)g_strcmp0);
  g_assert_cmpuint(names->len, >=, 20);
  for (guint i = 0; i < names->len; i++) {
    const char *name = g_ptr_array_index(names, i);
    char *eml = g_strdup_printf("%s/%s.eml", dir, name);
    char *js = g_strdup_printf("%s/%s.json", dir, name);
    if (!g_file_test(js, G_FILE_TEST_EXISTS)) g_error("%s has no expected .json", eml);
    if (g_test_verbose()) g_printerr("fixture %s\n", name);
    check_fixture(name, eml, js, mapped);
    g_free(eml);
    g_free(js);
  }
  g_ptr_array_unref(names);
  g_free(dir);
}

static void test_fixtures(void) { run_fixtures(FALSE); }
static void test_fixtures_mapped(void) { run_fixtures(TRUE); }

/* ---- generated hostile input ------------------------------------------------------------------ */

static MaMessage *parse_ok(const GString *raw)
{
  GError *error = NULL;
  MaMessage *m = NULL;
  gint64 t0 = g_get_monotonic_time();
  int rc = mime_parse(raw->str, raw->len, NULL, &m, &error);
  gint64 dt = g_get_monotonic_time() - t0;
  if (rc < 0) g_error("parse failed: %s", error->message);
  /* "never hangs": generous bound that still catches quadratic behaviour on these sizes */
  g_assert_cmpint(dt, <, 5 * G_USEC_PER_SEC);
  return m;
}

static void test_huge_header_line(void)
{
  GString *raw = g_string_new("From: Alice <alice@example.com>\r\nTo: bob@example.org\r\nX-Junk: ");
  for (int i = 0; i < 1024 * 1024 / 16; i++) g_string_append(raw, "0123456789abcdef");
  g_string_append(raw, "\r\nSubject: still here\r\nContent-Type: text/plain\r\n\r\nBody survives.\r\n");
  MaMessage *m = parse_ok(raw);
  g_assert_cmpstr(m->subject, ==, "still here");
  g_assert_cmpuint(m->participants->len, ==, 2);
  g_assert_nonnull(strstr(m->text, "Body survives."));
  g_assert_cmpuint(m->warnings->len, >=, 1);
  ma_message_free(m);

  /* A 1 MB Subject is dropped too, and a 1 MB line in a part's header does no harm. */
  g_string_assign(raw, "From: a@example.com\r\nSubject: ");
  for (int i = 0; i < 1024 * 1024 / 16; i++) g_string_append(raw, "0123456789abcdef");
  g_string_append(raw, "\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nX-Long: ");
  for (int i = 0; i < 1024 * 1024 / 16; i++) g_string_append(raw, "0123456789abcdef");
  g_string_append(raw, "\r\nContent-Type: text/plain\r\n\r\npart text\r\n--b--\r\n");
  m = parse_ok(raw);
  g_assert_cmpstr(m->subject, ==, "");
  g_assert_nonnull(strstr(m->text, "part text"));
  ma_message_free(m);

  /* A header block of 2 MB made of many small fields: the ones we read survive. */
  g_string_assign(raw, "");
  for (int i = 0; i < 40000; i++) g_string_append_printf(raw, "X-Filler-%d: abcdefghijklmnopqrstuvwxyz0123456789\r\n", i);
  g_string_append(raw, "From: late@example.com\r\nSubject: late\r\n\r\nbody\r\n");
  m = parse_ok(raw);
  g_assert_cmpstr(m->subject, ==, "late");
  g_assert_cmpuint(m->participants->len, ==, 1);
  g_assert_cmpuint(m->warnings->len, >=, 1);
  ma_message_free(m);
  g_string_free(raw, TRUE);
}

static void test_deep_nesting(void)
{
  GString *raw = g_string_new("From: a@example.com\r\nSubject: deep\r\n");
  const int depth = 10000;
  for (int i = 0; i < depth; i++)
    g_string_append_printf(raw, "Content-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n--b%d\r\n", i, i);
  g_string_append(raw, "Content-Type: text/plain\r\n\r\ninnermost\r\n");
  for (int i = depth - 1; i >= 0; i--) g_string_append_printf(raw, "--b%d--\r\n", i);
  MaMessage *m = parse_ok(raw);
  g_assert_cmpstr(m->subject, ==, "deep");
  g_assert_cmpuint(m->warnings->len, >=, 1);
  gboolean nesting = FALSE;
  for (guint i = 0; i < m->warnings->len; i++)
    if (strstr(g_ptr_array_index(m->warnings, i), "nesting")) nesting = TRUE;
  g_assert_true(nesting);
  ma_message_free(m);

  /* message/rfc822 inside message/rfc822, 10,000 times */
  g_string_assign(raw, "");
  for (int i = 0; i < depth; i++)
    g_string_append_printf(raw, "From: n%d@example.com\r\nSubject: level %d\r\nContent-Type: message/rfc822\r\n\r\n", i, i);
  g_string_append(raw, "From: z@example.com\r\n\r\nend\r\n");
  m = parse_ok(raw);
  g_assert_false(m->unwrapped); /* subjects differ and carry no forward prefix */
  g_assert_cmpstr(m->subject, ==, "level 0");
  g_assert_cmpuint(m->attachments->len, ==, 1);
  g_assert_cmpuint(m->warnings->len, >=, 1);
  ma_message_free(m);
  g_string_free(raw, TRUE);
}

static void test_many_parts(void)
{
  GString *raw = g_string_new("From: a@example.com\r\nSubject: many\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n");
  g_string_append(raw, "--XX\r\nContent-Type: text/plain\r\n\r\nfirst part\r\n");
  for (int i = 0; i < 10000; i++)
    g_string_append_printf(raw, "--XX\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=f%d.bin\r\n\r\nx\r\n", i);
  g_string_append(raw, "--XX--\r\n");
  MaMessage *m = parse_ok(raw);
  g_assert_nonnull(strstr(m->text, "first part"));
  MaMimeLimits lim = mime_limits_default();
  /* the first max_parts entities are read: the message, the multipart... */
  g_assert_cmpuint(m->attachments->len, >, 900);
  g_assert_cmpuint(m->attachments->len, <, lim.max_parts);
  g_assert_cmpuint(m->warnings->len, >=, 1);
  ma_message_free(m);
  g_string_free(raw, TRUE);
}

/* max_text: the text body (parts together) and the HTML body are cut at the cap, on a character
 * boundary, with a warning; under the cap nothing changes. */
static void test_text_cap(void)
{
  GString *raw = g_string_new("From: a@example.com\r\nSubject: cap\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n");
  g_string_append(raw, "--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n");
  for (int i = 0; i < 20; i++) g_string_append(raw, "caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 line\r\n");
  g_string_append(raw, "--XX\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                       "c2Vjb25kIHBhcnQgb2YgdGhlIHRleHQ=\r\n--XX--\r\n");
  MaMessage *whole = NULL, *cut = NULL;
  GError *error = NULL;
  g_assert_cmpint(mime_parse(raw->str, raw->len, NULL, &whole, &error), ==, 0);
  g_assert_nonnull(strstr(whole->text, "second part of the text"));
  g_assert_cmpuint(whole->warnings->len, ==, 0);
  gsize full = strlen(whole->text);
  for (gsize cap = 1; cap < full + 5; cap += 7) {
    MaMimeLimits lim = mime_limits_default();
    lim.max_text = cap;
    g_assert_cmpint(mime_parse(raw->str, raw->len, &lim, &cut, &error), ==, 0);
    gsize n = strlen(cut->text);
    g_assert_cmpuint(n, <=, cap);
    g_assert_true(g_utf8_validate(cut->text, -1, NULL));
    g_assert_true(strncmp(whole->text, cut->text, n) == 0); /* a prefix of the whole text */
    gboolean warned = FALSE;
    for (guint i = 0; i < cut->warnings->len; i++)
      warned |= strstr(cut->warnings->pdata[i], "over the size limit") != NULL;
    g_assert_true(warned == (cap < full + 1)); /* the trailing line end is not text */
    if (cap > full + 1) g_assert_cmpstr(cut->text, ==, whole->text);
    ma_message_free(cut);
  }
  ma_message_free(whole);
  g_string_free(raw, TRUE);

  /* a charset that grows in UTF-8: the converted part is cut, and the next part is not read */
  const char *latin = "From: a@example.com\r\nSubject: latin\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n"
                      "--XX\r\nContent-Type: text/plain; charset=windows-1252\r\n\r\n\xe9\xe9\xe9\xe9\xe9\xe9\xe9\xe9\xe9\xe9\r\n"
                      "--XX\r\nContent-Type: text/plain\r\n\r\nsecond\r\n--XX--\r\n";
  MaMimeLimits small = mime_limits_default();
  small.max_text = 15;
  g_assert_cmpint(mime_parse(latin, strlen(latin), &small, &cut, &error), ==, 0);
  g_assert_cmpstr(cut->text, ==, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9");
  g_assert_cmpuint(cut->warnings->len, ==, 1);
  ma_message_free(cut);

  const char *html = "From: a@example.com\r\nSubject: html\r\nContent-Type: text/html\r\n\r\n"
                     "<p>\xc3\xa9\xc3\xa9\xc3\xa9 0123456789 0123456789</p>\r\n";
  MaMimeLimits lim = mime_limits_default();
  lim.max_text = 8;
  g_assert_cmpint(mime_parse(html, strlen(html), &lim, &cut, &error), ==, 0);
  g_assert_cmpstr(cut->html, ==, "<p>\xc3\xa9\xc3\xa9");
  g_assert_cmpstr(cut->text, ==, "\xc3\xa9\xc3\xa9");
  ma_message_free(cut);
}

/* The text's place in the raw message (MaMessage.text_raw_offset/length): set when the text is
 * one text part's bytes as they came (only line ends and trailing white space differ), so storage
 * may keep a reference to it; not when the part was decoded, converted from another charset,
 * unflowed, cut at the cap, or joined with another part. */
static void test_text_raw_slice(void)
{
  static const struct {
    const char *raw;
    const char *slice; /* the part's content, found in raw; NULL: no slice */
  } cases[] = {
    {"From: a@x.example\r\nSubject: s\r\n\r\nHello\r\nworld\r\n", "Hello\r\nworld\r\n"},
    {"From: a@x.example\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
     "caf\xc3\xa9\r\n", "caf\xc3\xa9\r\n"},
    {"From: a@x.example\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
     "Content-Type: text/plain\r\n\r\nthe text\r\n--b\r\nContent-Type: application/pdf\r\n"
     "Content-Disposition: attachment; filename=a.pdf\r\n\r\npdf\r\n--b--\r\n", "the text"},
    {"From: a@x.example\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9\r\n", NULL},
    {"From: a@x.example\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\ncaf\xe9\r\n", NULL},
    {"From: a@x.example\r\nContent-Type: text/plain; format=flowed\r\n\r\none \r\ntwo\r\n", NULL},
    {"From: a@x.example\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
     "Content-Type: text/plain\r\n\r\none\r\n--b\r\nContent-Type: text/plain\r\n\r\ntwo\r\n--b--\r\n", NULL},
  };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    MaMessage *m = NULL;
    GError *error = NULL;
    g_assert_cmpint(mime_parse(cases[i].raw, strlen(cases[i].raw), NULL, &m, &error), ==, 0);
    if (!cases[i].slice) {
      g_assert_cmpuint(m->text_raw_length, ==, 0);
    } else {
      const char *at = strstr(cases[i].raw, cases[i].slice);
      g_assert_nonnull(at);
      g_assert_cmpuint(m->text_raw_offset, ==, (gsize)(at - cases[i].raw));
      g_assert_cmpuint(m->text_raw_length, >=, strlen(cases[i].slice));
    }
    ma_message_free(m);
  }
  /* cut at the cap: the text is no longer the whole part */
  MaMimeLimits lim = mime_limits_default();
  lim.max_text = 4;
  MaMessage *cut = NULL;
  const char *raw = "From: a@x.example\r\n\r\nHello world\r\n";
  g_assert_cmpint(mime_parse(raw, strlen(raw), &lim, &cut, NULL), ==, 0);
  g_assert_cmpstr(cut->text, ==, "Hell");
  g_assert_cmpuint(cut->text_raw_length, ==, 0);
  ma_message_free(cut);
}

static void test_limits(void)
{
  MaMimeLimits lim = mime_limits_default();
  g_assert_cmpuint(lim.max_message_size, ==, 50u * 1024 * 1024);
  g_assert_cmpuint(lim.max_parts, ==, 1000);
  g_assert_cmpuint(lim.max_depth, ==, 20);
  g_assert_cmpuint(lim.max_header_block, ==, 1024 * 1024);
  g_assert_cmpuint(lim.max_header_field, ==, 64 * 1024);
  g_assert_cmpuint(lim.max_text, ==, 4 * 1024 * 1024);
  lim.max_message_size = 100;
  const char *raw = "From: a@example.com\r\nSubject: x\r\n\r\nThis body makes the message longer than one hundred bytes in total, surely.\r\n";
  MaMessage *m = NULL;
  GError *error = NULL;
  g_assert_cmpint(mime_parse(raw, strlen(raw), &lim, &m, &error), ==, -1);
  g_assert_null(m);
  g_assert_error(error, MA_ERROR, MA_ERROR_LIMIT);
  g_clear_error(&error);
  /* no header at all */
  g_assert_cmpint(mime_parse("", 0, NULL, &m, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_INVALID);
  g_clear_error(&error);
}

static void test_garbage(void)
{
  /* Random bytes and truncated prefixes of a multipart message never crash. */
  GRand *r = g_rand_new_with_seed(42);
  for (int round = 0; round < 200; round++) {
    gsize len = (gsize)g_rand_int_range(r, 1, 4000);
    char *buf = g_malloc(len);
    for (gsize i = 0; i < len; i++) buf[i] = (char)g_rand_int_range(r, 0, 256);
    if (round % 2 == 0) memcpy(buf, "From: a@b.c\nContent-Type: multipart/mixed; boundary=q\n\n--q\n", MIN(len, 58));
    MaMessage *m = NULL;
    GError *error = NULL;
    if (mime_parse(buf, len, NULL, &m, &error) == 0) {
      g_assert_true(g_utf8_validate(m->text, -1, NULL));
      g_assert_true(g_utf8_validate(m->subject, -1, NULL));
      ma_message_free(m);
    } else {
      g_clear_error(&error);
    }
    g_free(buf);
  }
  g_rand_free(r);
}

static void test_speed(void)
{
  /* ~4 KB message: multipart/alternative with a quoted-printable text and an HTML part. */
  GString *raw = g_string_new(
    "Return-Path: <alice@example.com>\r\nReceived: from mx.example.com (mx.example.com [192.0.2.1])\r\n"
    "\tby mail.example.org with ESMTPS id 4AbCdE; Mon, 8 Jan 2024 10:12:00 +0000\r\n"
    "From: =?UTF-8?B?5byg5LiJ?= <alice@example.com>\r\nTo: Bob <bob@example.org>, carol@example.net\r\n"
    "Cc: Dave <dave@example.org>\r\nSubject: =?UTF-8?Q?Quarterly_review_=E2=80=93_draft?=\r\n"
    "Date: Mon, 8 Jan 2024 10:12:00 +0000\r\nMessage-ID: <20240108101200.1234@example.com>\r\n"
    "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n"
    "--alt\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n");
  for (int i = 0; i < 20; i++)
    g_string_append(raw, "Hello Bob, here is the quarterly review draft =E2=80=93 please comment.\r\n");
  g_string_append(raw, "--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body>");
  for (int i = 0; i < 20; i++) g_string_append(raw, "<p>Hello Bob, here is the quarterly review draft.</p>\r\n");
  g_string_append(raw, "</body></html>\r\n--alt--\r\n");
  const int n = 2000;
  MaMessage *warm = parse_ok(raw);
  ma_message_free(warm);
  gint64 t0 = g_get_monotonic_time();
  for (int i = 0; i < n; i++) {
    MaMessage *m = NULL;
    g_assert_cmpint(mime_parse(raw->str, raw->len, NULL, &m, NULL), ==, 0);
    ma_message_free(m);
  }
  double per = (double)(g_get_monotonic_time() - t0) / n;
  g_test_message("%zu-byte message: %.1f us per parse", raw->len, per);
  if (g_test_verbose()) g_printerr("%zu-byte message: %.1f us per parse\n", raw->len, per);
  /* Debug/sanitizer builds are slower; the bound only catches gross regressions. */
  g_assert_cmpfloat(per, <, 2000.0);
  g_string_free(raw, TRUE);
}

/* Every prefix of a few structured fixtures (a message cut anywhere: inside a header, a
 * boundary line, base64, an attached message) parses without error and yields valid UTF-8. */
static void test_prefixes(void)
{
  static const char *const names[] = {"multipart_related", "nested_rfc822_forward", "charset_iso2022jp",
                                      "inline_forward_outlook_html_zh", "rfc2231_filename"};
  for (gsize k = 0; k < G_N_ELEMENTS(names); k++) {
    char *path = g_strdup_printf("%s/mime/%s.eml", fixtures_dir(), names[k]);
    gchar *raw;
    gsize len;
    g_assert_true(g_file_get_contents(path, &raw, &len, NULL));
    gsize step = len > 3000 ? 3 : 1;
    for (gsize cut = 1; cut <= len; cut += step) {
      MaMessage *m = NULL;
      GError *error = NULL;
      /* a copy of exactly `cut` bytes, so ASan sees any read past the end */
      char *prefix = g_memdup2(raw, cut);
      if (mime_parse(prefix, cut, NULL, &m, &error) == 0) {
        g_assert_true(g_utf8_validate(m->subject, -1, NULL));
        g_assert_true(g_utf8_validate(m->text, -1, NULL));
        if (m->html) g_assert_true(g_utf8_validate(m->html, -1, NULL));
        ma_message_free(m);
      } else {
        g_assert_error(error, MA_ERROR, MA_ERROR_INVALID);
        g_clear_error(&error);
      }
      g_free(prefix);
    }
    g_free(raw);
    g_free(path);
  }
}

/* Several threads parse the same fixtures at once and get what one thread gets. */
typedef struct {
  GPtrArray *raws;     /* GBytes* */
  GPtrArray *subjects; /* char*, from the single-threaded pass */
  gint failures;
} ThreadJob;

static gpointer parse_worker(gpointer data)
{
  ThreadJob *job = data;
  for (int round = 0; round < 10; round++) {
    for (guint i = 0; i < job->raws->len; i++) {
      gsize len;
      const char *raw = g_bytes_get_data(g_ptr_array_index(job->raws, i), &len);
      MaMessage *m = NULL;
      if (mime_parse(raw, len, NULL, &m, NULL) < 0 || strcmp(m->subject, g_ptr_array_index(job->subjects, i)) != 0)
        g_atomic_int_inc(&job->failures);
      ma_message_free(m);
    }
  }
  return NULL;
}

static void test_threads(void)
{
  char *dir = g_build_filename(fixtures_dir(), "mime", NULL);
  GDir *d = g_dir_open(dir, 0, NULL);
  g_assert_nonnull(d);
  ThreadJob job = {g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref), g_ptr_array_new_with_free_func(g_free), 0};
  const char *entry;
  while ((entry = g_dir_read_name(d))) {
    if (!g_str_has_suffix(entry, ".eml")) continue;
    char *path = g_build_filename(dir, entry, NULL);
    gchar *raw;
    gsize len;
    g_assert_true(g_file_get_contents(path, &raw, &len, NULL));
    MaMessage *m = NULL;
    g_assert_cmpint(mime_parse(raw, len, NULL, &m, NULL), ==, 0);
    g_ptr_array_add(job.subjects, g_strdup(m->subject));
    ma_message_free(m);
    g_ptr_array_add(job.raws, g_bytes_new_take(raw, len));
    g_free(path);
  }
  g_dir_close(d);
  GThread *threads[4];
  for (int i = 0; i < 4; i++) threads[i] = g_thread_new("parse", parse_worker, &job);
  for (int i = 0; i < 4; i++) g_thread_join(threads[i]);
  g_assert_cmpint(job.failures, ==, 0);
  g_ptr_array_unref(job.raws);
  g_ptr_array_unref(job.subjects);
  g_free(dir);
}

/* mime_rfc2047_decode, table driven: each expectation written by hand. */
static void test_rfc2047(void)
{
  static const struct {
    const char *in, *want;
  } cases[] = {
    {"plain text", "plain text"},
    {"=?UTF-8?B?5L2g5aW9?=", "你好"},
    /* 你 + first byte of 好 | the rest of 好: joined before conversion */
    {"=?UTF-8?B?5L2g5Q==?= =?UTF-8?B?pb0=?=", "你好"},
    {"=?utf-8?b?5L2g5Q==?=\t =?UTF-8?B?pb0=?= x", "你好 x"},
    /* GBK 你好 split after three bytes, Q encoded */
    {"=?GBK?Q?=C4=E3=BA?= =?gbk?Q?=C3?=", "你好"},
    /* '=' between whole quanta, and chunks padded one by one */
    {"=?UTF-8?B?5L2g=5aW9?=", "你好"},
    {"=?UTF-8?B?5oql5A===u7fljZU=?=", "报价单"},
    /* white space between words goes, around text stays */
    {"a =?UTF-8?Q?b?= =?UTF-8?Q?c?= d", "a bc d"},
    {"=?UTF-8?Q?a?=  =?ISO-8859-1?Q?=E9?=", "aé"},
    /* glued to text, RFC 2231 language, Q underscore and a stray '=' */
    {"Re:=?UTF-8*en?Q?caf=C3=A9_au_lait=?=", "Re:café au lait="},
    /* malformed words stay literal */
    {"=?UTF-8?X?abc?=", "=?UTF-8?X?abc?="},
    {"=?UTF-8?B?no end", "=?UTF-8?B?no end"},
    {"=??B?abc?=", "=??B?abc?="},
    {"=?UTF-8?Q?has space?=", "=?UTF-8?Q?has space?="},
    {"", ""},
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    char *got = mime_rfc2047_decode(cases[i].in);
    if (strcmp(got, cases[i].want) != 0) g_error("rfc2047 case %zu: want \"%s\", got \"%s\"", i, cases[i].want, got);
    g_free(got);
  }
}

/* The forward signals' one reading of the header block (mime_signals.c), shared by the forwarder
 * policy and the parser: which fields count (the first Resent-From, X-Forwarded-To, Delivered-To;
 * every X-Forwarded-For), folding, CRLF, the end at the blank line, the bounds; then every prefix
 * of the block (byte by byte, as a cut header section arrives): each list is a prefix of the
 * whole one, its last address possibly cut. */
static const char signals_block[] =
  "Received: from x by y\r\n"
  "RESENT-FROM: \"Emp, Loyee\" <Employee@Corp.example>, other@corp.example\r\n"
  "Resent-From: second@corp.example\r\n"
  "X-Forwarded-For: employee@corp.example crm@inbound.example\r\n"
  "Subject: resent-from: nobody@x.example\r\n"
  "X-Forwarded-To: crm-acme@inbound.example\r\n"
  "X-Forwarded-For: hop@two.example\r\n"
  "Delivered-To:\r\n"
  " (folded) first@deliver.example;\r\n"
  "\tsecond@deliver.example\r\n"
  "Delivered-To: later@deliver.example\r\n"
  "\r\n"
  "Resent-From: body@not.header\r\n";

static void assert_list(const GPtrArray *got, const char *const *want)
{
  g_assert_nonnull(got);
  guint n = 0;
  while (want[n]) n++;
  g_assert_cmpuint(got->len, ==, n);
  for (guint i = 0; i < n; i++) g_assert_cmpstr(got->pdata[i], ==, want[i]);
}

static void assert_prefix_list(const GPtrArray *part, const GPtrArray *whole)
{
  if (!part) return;
  g_assert_nonnull(whole);
  g_assert_cmpuint(part->len, <=, whole->len);
  for (guint i = 0; i < part->len; i++) g_assert_true(g_str_has_prefix(whole->pdata[i], part->pdata[i]));
}

static void test_forward_signals(void)
{
  MimeForwardFields f;
  gsize len = strlen(signals_block);
  mime_forward_signals_read(signals_block, len, &f);
  assert_list(f.resent_from, (const char *const[]){"Employee@Corp.example", "other@corp.example", NULL});
  assert_list(f.x_forwarded_for,
              (const char *const[]){"employee@corp.example", "crm@inbound.example", "hop@two.example", NULL});
  assert_list(f.x_forwarded_to, (const char *const[]){"crm-acme@inbound.example", NULL});
  assert_list(f.delivered_to, (const char *const[]){"first@deliver.example", "second@deliver.example", NULL});
  for (gsize cut = 0; cut < len; cut++) {
    MimeForwardFields p;
    mime_forward_signals_read(signals_block, cut, &p);
    assert_prefix_list(p.resent_from, f.resent_from);
    assert_prefix_list(p.x_forwarded_for, f.x_forwarded_for);
    assert_prefix_list(p.x_forwarded_to, f.x_forwarded_to);
    assert_prefix_list(p.delivered_to, f.delivered_to);
    mime_forward_signals_clear(&p);
  }
  mime_forward_signals_clear(&f);
  /* the bounds: a field's value is read up to MIME_SIGNAL_FIELD_MAX octets, a list keeps at most
   * MIME_SIGNAL_ADDRESSES_MAX addresses */
  GString *big = g_string_new("X-Forwarded-For:");
  for (int i = 0; i < 300; i++) g_string_append_printf(big, " a%d@x.example", i);
  g_string_append(big, "\r\nResent-From: ");
  for (gsize i = 0; i < MIME_SIGNAL_FIELD_MAX; i++) g_string_append_c(big, 'y');
  g_string_append(big, " late@x.example\r\n\r\n");
  mime_forward_signals_read(big->str, big->len, &f);
  g_assert_cmpuint(f.x_forwarded_for->len, ==, MIME_SIGNAL_ADDRESSES_MAX);
  g_assert_cmpuint(f.resent_from->len, ==, 0); /* the address lies past the field's bound */
  mime_forward_signals_clear(&f);
  g_string_free(big, TRUE);
}

static void test_content_type_valid(void)
{
  static const char *const valid[] = {"text/plain", " Text/Plain ; charset=utf-8", "application/x-foo", "a/b(comment)"};
  static const char *const invalid[] = {"text", "text/", "/plain", "", "this is not a type", "text;charset=utf-8",
                                        "text plain", "text/plain junk"};
  for (gsize i = 0; i < G_N_ELEMENTS(valid); i++) g_assert_true(mime_content_type_valid(valid[i]));
  for (gsize i = 0; i < G_N_ELEMENTS(invalid); i++)
    if (mime_content_type_valid(invalid[i])) g_error("\"%s\" taken as a valid Content-Type", invalid[i]);
}

int main(int argc, char **argv)
{
  if (argc == 3 && strcmp(argv[1], "--dump") == 0) {
    GError *error = NULL;
    MaMessage *m = parse_file(argv[2], &error);
    if (!m) {
      g_printerr("error: %s (%s)\n", error->message, ma_error_code_name(error->code));
      return 1;
    }
    json_t *j = message_to_json(m);
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_ENSURE_ASCII * 0);
    puts(s);
    free(s);
    json_decref(j);
    ma_message_free(m);
    return 0;
  }
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/mime/fixtures", test_fixtures);
  g_test_add_func("/mime/text_raw_slice", test_text_raw_slice);
  g_test_add_func("/mime/fixtures-mapped", test_fixtures_mapped);
  g_test_add_func("/mime/rfc2047", test_rfc2047);
  g_test_add_func("/mime/content_type_valid", test_content_type_valid);
  g_test_add_func("/mime/forward-signals", test_forward_signals);
  g_test_add_func("/mime/limits", test_limits);
  g_test_add_func("/mime/text-cap", test_text_cap);
  g_test_add_func("/mime/huge_header_line", test_huge_header_line);
  g_test_add_func("/mime/deep_nesting", test_deep_nesting);
  g_test_add_func("/mime/many_parts", test_many_parts);
  g_test_add_func("/mime/garbage", test_garbage);
  g_test_add_func("/mime/prefixes", test_prefixes);
  g_test_add_func("/mime/threads", test_threads);
  g_test_add_func("/mime/speed", test_speed);
  return g_test_run();
}
