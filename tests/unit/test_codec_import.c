/* test_codec_import.c - the streaming record importer against a real (temporary) database: the
 * same input fed whole and one byte at a time gives the same result; atomic refusal writes
 * nothing; skip-invalid writes the good lines; CSV splitting; line numbers; the line cap. */
#include "testutil.h"
#include "agent/codec/codec.h"
#include "agent/codec/codec_import.h"
#include "agent/lib/clock.h"
#include "agent/lib/error.h"

#include <glib/gstdio.h>
#include <string.h>

typedef struct {
  char *dir;
  MaStorage *st;
  char *ent;
} Fixture;

static void fixture_setup(Fixture *f, gconstpointer data)
{
  f->dir = g_dir_make_tmp("codec-import-XXXXXX", NULL);
  g_assert_nonnull(f->dir);
  GError *error = NULL;
  g_assert_cmpint(storage_open(f->dir, TRUE, &f->st, &error), ==, 0);
  g_assert_no_error(error);
  MaEnterprise e = {0};
  e.id = ma_id_new();
  e.slug = "acme";
  e.name = "Acme";
  e.inbound_local = "acme-12345678";
  e.domains = g_ptr_array_new();
  g_ptr_array_add(e.domains, "acme.example");
  e.created_at = ma_now();
  g_assert_cmpint(storage_enterprise_create(f->st, &e, &error), ==, 0);
  g_assert_no_error(error);
  g_ptr_array_unref(e.domains);
  f->ent = e.id;
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
  storage_close(&f->st);
  testutil_rm_rf(f->dir);
  g_free(f->dir);
  g_free(f->ent);
}

/* Runs an import of len bytes, feeding `step` bytes at a time (0: all at once). */
static void run_import_len(Fixture *f, const char *input, gsize len, CodecFormat fmt, gboolean skip, gsize step,
                           CodecImportResult *res)
{
  CodecImport *imp = codec_import_new(f->st, f->ent, fmt, skip);
  GError *error = NULL;
  if (step == 0) step = len ? len : 1;
  for (gsize off = 0; off < len; off += step)
    g_assert_cmpint(codec_import_feed(imp, input + off, MIN(step, len - off), &error), ==, 0);
  g_assert_cmpint(codec_import_finish(imp, res, &error), ==, 0);
  g_assert_no_error(error);
  codec_import_free(imp);
}

static void run_import(Fixture *f, const char *input, CodecFormat fmt, gboolean skip, gsize step, CodecImportResult *res)
{
  run_import_len(f, input, strlen(input), fmt, skip, step, res);
}

static gboolean exists(Fixture *f, MaRecordType type, const char *id)
{
  MaRecord *r = NULL;
  int rc = storage_record_get(f->st, f->ent, type, id, &r, NULL);
  g_assert_cmpint(rc, >=, 0);
  ma_record_free(r);
  return rc == 1;
}

static const char *problem_text(const CodecImportResult *res, guint i)
{
  static char buf[512];
  const CodecImportProblem *p = g_ptr_array_index(res->problems, i);
  g_snprintf(buf, sizeof buf, "%" G_GINT64_FORMAT ": %s", p->line, p->message);
  return buf;
}

static const char *jsonl_mixed =
  "{\"type\":\"account\",\"id\":\"A1\",\"domains\":[\"globex.example\"]}\r\n"
  "\n"
  "{\"type\":\"contact\",\"id\":\"C1\",\"emails\":[\"bad\"]}\n"
  "{\"type\":\"contact\",\"id\":\"C2\",\"emails\":[\"c2@globex.example\"],\"account_id\":\"A1\"}\n"
  "   \n"
  "{\"type\":\"opportunity\",\"id\":\"O1\",\"stage\":\"maybe\"}"; /* no final newline */

static void test_atomic_refuses(Fixture *f, gconstpointer data)
{
  gsize steps[] = {0, 1, 7};
  for (gsize s = 0; s < G_N_ELEMENTS(steps); s++) {
    CodecImportResult res;
    run_import(f, jsonl_mixed, CODEC_FORMAT_AUTO, FALSE, steps[s], &res);
    g_assert_false(res.committed);
    g_assert_cmpint(res.invalid, ==, 2);
    g_assert_cmpint(res.created, ==, 0);
    g_assert_cmpuint(res.problems->len, ==, 2);
    g_assert_true(g_str_has_prefix(problem_text(&res, 0), "3: emails[0]"));
    g_assert_true(g_str_has_prefix(problem_text(&res, 1), "6: stage"));
    codec_import_result_clear(&res);
    g_assert_false(exists(f, MA_RECORD_ACCOUNT, "A1"));
    g_assert_false(exists(f, MA_RECORD_CONTACT, "C2"));
  }
}

static void test_skip_invalid(Fixture *f, gconstpointer data)
{
  CodecImportResult res;
  run_import(f, jsonl_mixed, CODEC_FORMAT_AUTO, TRUE, 1, &res);
  g_assert_true(res.committed);
  g_assert_cmpint(res.created, ==, 2);
  g_assert_cmpint(res.invalid, ==, 2);
  codec_import_result_clear(&res);
  g_assert_true(exists(f, MA_RECORD_ACCOUNT, "A1"));
  g_assert_true(exists(f, MA_RECORD_CONTACT, "C2"));

  /* Again: updates; then delete one and one that is not there. */
  run_import(f, "{\"type\":\"account\",\"id\":\"A1\",\"name\":\"G\"}\n{\"type\":\"contact\",\"id\":\"C2\",\"deleted\":true}\n"
                "{\"type\":\"lead\",\"id\":\"zz\",\"deleted\":true}\n",
             CODEC_FORMAT_JSONL, FALSE, 0, &res);
  g_assert_true(res.committed);
  g_assert_cmpint(res.updated, ==, 1);
  g_assert_cmpint(res.deleted, ==, 1);
  g_assert_cmpint(res.not_found, ==, 1);
  codec_import_result_clear(&res);
  g_assert_false(exists(f, MA_RECORD_CONTACT, "C2"));
  MaRecord *r = NULL;
  g_assert_cmpint(storage_record_get(f->st, f->ent, MA_RECORD_ACCOUNT, "A1", &r, NULL), ==, 1);
  g_assert_cmpstr(r->name, ==, "G");
  g_assert_cmpuint(r->domains->len, ==, 0); /* an upsert replaces the whole record */
  ma_record_free(r);
}

static const char *csv_input =
  "\xEF\xBB\xBFType,ID,Name,Emails,account_id,stage,contact_ids,Region\r\n"
  "account,A9,\"Initech, Inc.\",,,,,EMEA\r\n"
  "contact,C9,\"Peter \"\"P\"\" Gibbons\",peter@initech.example|pg@initech.example,A9,,,\r\n"
  "opportunity,O9,\"TPS\nreports\",,A9,lost,C9;C8,\r\n"
  "contact,C10,,not-an-address,,,,\r\n"
  "lead,L9,Lead,lead@x.example,,,,\"unterminated\r\n";

static void test_csv(Fixture *f, gconstpointer data)
{
  gsize steps[] = {0, 1};
  for (gsize s = 0; s < G_N_ELEMENTS(steps); s++) {
    CodecImportResult res;
    run_import(f, csv_input, CODEC_FORMAT_AUTO, TRUE, steps[s], &res);
    g_assert_cmpint(res.created + res.updated, ==, 2);
    g_assert_cmpint(res.invalid, ==, 3);
    g_assert_true(g_str_has_prefix(problem_text(&res, 0), "4: name: contains a control character"));
    g_assert_true(g_str_has_prefix(problem_text(&res, 1), "6: emails[0]")); /* after a 2-line row */
    g_assert_true(g_str_has_prefix(problem_text(&res, 2), "7: unterminated quoted field"));
    codec_import_result_clear(&res);
  }
  MaRecord *r = NULL;
  g_assert_cmpint(storage_record_get(f->st, f->ent, MA_RECORD_CONTACT, "C9", &r, NULL), ==, 1);
  g_assert_cmpstr(r->name, ==, "Peter \"P\" Gibbons");
  g_assert_cmpuint(r->emails->len, ==, 2);
  g_assert_cmpstr(r->account_id, ==, "A9");
  ma_record_free(r);
  g_assert_cmpint(storage_record_get(f->st, f->ent, MA_RECORD_ACCOUNT, "A9", &r, NULL), ==, 1);
  g_assert_cmpstr(r->name, ==, "Initech, Inc.");
  g_assert_cmpstr(r->attributes_json, ==, "{\"Region\":\"EMEA\"}");
  ma_record_free(r);
  g_assert_cmpint(storage_record_get(f->st, f->ent, MA_RECORD_OPPORTUNITY, "O9", &r, NULL), ==, 0);
  ma_record_free(r);
}

/* A NUL byte in a CSV cell (id, name, address, header) or a JSON line is an error for that line,
 * never a truncation: "c1\0-new-record" once updated record c1 with the attacker's name. */
static void test_nul_bytes(Fixture *f, gconstpointer data)
{
  CodecImportResult res;
  run_import(f, "type,id,name,emails\ncontact,c1,Cora,cora@globex.example\n", CODEC_FORMAT_AUTO, FALSE, 0, &res);
  g_assert_cmpint(res.created, ==, 1);
  codec_import_result_clear(&res);

  static const char csv[] = "type,id,name,emails\n"
                            "contact,c1\0-new-record,Mallory,mallory@evil.example\n"
                            "contact,c1,\"Mal\0lory\",cora@globex.example\n"
                            "contact,c1,Cora,cora@globex.example\0mallory@evil.example\n"
                            "contact,c2,Ok,ok@globex.example\n";
  gsize steps[] = {0, 1};
  for (gsize i = 0; i < G_N_ELEMENTS(steps); i++) {
    run_import_len(f, csv, sizeof csv - 1, CODEC_FORMAT_AUTO, TRUE, steps[i], &res);
    g_assert_cmpint(res.invalid, ==, 3);
    g_assert_cmpint(res.created + res.updated, ==, 1);
    g_assert_cmpstr(problem_text(&res, 0), ==, "2: field 2 contains a NUL byte");
    g_assert_cmpstr(problem_text(&res, 1), ==, "3: field 3 contains a NUL byte");
    g_assert_cmpstr(problem_text(&res, 2), ==, "4: field 4 contains a NUL byte");
    codec_import_result_clear(&res);
  }
  MaRecord *r = NULL;
  g_assert_cmpint(storage_record_get(f->st, f->ent, MA_RECORD_CONTACT, "c1", &r, NULL), ==, 1);
  g_assert_cmpstr(r->name, ==, "Cora");
  g_assert_cmpuint(r->emails->len, ==, 1);
  g_assert_cmpstr(r->emails->pdata[0], ==, "cora@globex.example");
  ma_record_free(r);
  g_assert_true(exists(f, MA_RECORD_CONTACT, "c2"));

  /* in the header: no row is read */
  static const char header[] = "type,id,na\0me\ncontact,c3,X\n";
  run_import_len(f, header, sizeof header - 1, CODEC_FORMAT_CSV, TRUE, 0, &res);
  g_assert_cmpint(res.invalid, ==, 2);
  g_assert_cmpint(res.created, ==, 0);
  codec_import_result_clear(&res);
  g_assert_false(exists(f, MA_RECORD_CONTACT, "c3"));

  /* JSON Lines: a raw NUL or an escaped one */
  static const char jsonl[] = "{\"type\":\"contact\",\"id\":\"c1\0x\",\"name\":\"M\"}\n"
                              "{\"type\":\"contact\",\"id\":\"c1\\u0000x\",\"name\":\"M\"}\n"
                              "{\"type\":\"contact\",\"id\":\"c1\",\"name\":\"M\\u0000\"}\n";
  run_import_len(f, jsonl, sizeof jsonl - 1, CODEC_FORMAT_AUTO, TRUE, 0, &res);
  g_assert_cmpint(res.invalid, ==, 3);
  g_assert_cmpint(res.created + res.updated, ==, 0);
  codec_import_result_clear(&res);
  g_assert_cmpint(storage_record_get(f->st, f->ent, MA_RECORD_CONTACT, "c1", &r, NULL), ==, 1);
  g_assert_cmpstr(r->name, ==, "Cora");
  ma_record_free(r);
}

static void test_line_cap(Fixture *f, gconstpointer data)
{
  GString *in = g_string_new("{\"type\":\"lead\",\"id\":\"big\",\"name\":\"");
  while (in->len < CODEC_IMPORT_LINE_MAX + 10) g_string_append(in, "xxxxxxxxxxxxxxxx");
  g_string_append(in, "\"}\n{\"type\":\"lead\",\"id\":\"small\"}\n");
  CodecImportResult res;
  run_import(f, in->str, CODEC_FORMAT_JSONL, TRUE, 65536, &res);
  g_assert_cmpint(res.invalid, ==, 1);
  g_assert_cmpint(res.created, ==, 1);
  g_assert_true(g_str_has_prefix(problem_text(&res, 0), "1: longer than"));
  codec_import_result_clear(&res);
  g_assert_true(exists(f, MA_RECORD_LEAD, "small"));
  g_string_free(in, TRUE);
}

static void test_empty_and_bad_header(Fixture *f, gconstpointer data)
{
  CodecImportResult res;
  run_import(f, "", CODEC_FORMAT_AUTO, FALSE, 0, &res);
  g_assert_true(res.committed);
  g_assert_cmpint(res.created + res.invalid, ==, 0);
  codec_import_result_clear(&res);

  run_import(f, "type,type\ncontact,C1\ncontact,C2\n", CODEC_FORMAT_CSV, TRUE, 0, &res);
  g_assert_cmpint(res.invalid, ==, 3); /* the header and the two rows it makes unreadable */
  g_assert_cmpuint(res.problems->len, ==, 1);
  g_assert_nonnull(strstr(problem_text(&res, 0), "duplicate column"));
  codec_import_result_clear(&res);
}

static void test_csv_split(void)
{
  struct {
    const char *row;
    const char *joined; /* fields joined with '|', NULL: error */
  } cases[] = {
    {"a,b,c", "a|b|c"},
    {"", ""},
    {",", "|"},
    {"\"a,b\",c", "a,b|c"},
    {"\"a\"\"b\"", "a\"b"},
    {"\"multi\nline\",x", "multi\nline|x"},
    {"a\"b,c", "a\"b|c"},
    {"\"open", NULL},
    {"\"a\"b", NULL},
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    GError *error = NULL;
    char **cells = codec_csv_split(cases[i].row, strlen(cases[i].row), ',', &error);
    if (!cases[i].joined) {
      g_assert_null(cells);
      g_assert_error(error, MA_ERROR, MA_ERROR_INVALID);
      g_clear_error(&error);
      continue;
    }
    g_assert_nonnull(cells);
    g_autofree char *joined = g_strjoinv("|", cells);
    g_assert_cmpstr(joined, ==, cases[i].joined);
    g_strfreev(cells);
  }
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/codec/import/csv_split", test_csv_split);
  g_test_add("/codec/import/atomic_refuses", Fixture, NULL, fixture_setup, test_atomic_refuses, fixture_teardown);
  g_test_add("/codec/import/skip_invalid", Fixture, NULL, fixture_setup, test_skip_invalid, fixture_teardown);
  g_test_add("/codec/import/csv", Fixture, NULL, fixture_setup, test_csv, fixture_teardown);
  g_test_add("/codec/import/nul_bytes", Fixture, NULL, fixture_setup, test_nul_bytes, fixture_teardown);
  g_test_add("/codec/import/line_cap", Fixture, NULL, fixture_setup, test_line_cap, fixture_teardown);
  g_test_add("/codec/import/empty_and_bad_header", Fixture, NULL, fixture_setup, test_empty_and_bad_header,
             fixture_teardown);
  return g_test_run();
}
