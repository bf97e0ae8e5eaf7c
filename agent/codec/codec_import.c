/* codec_import.c - the streaming record importer declared in codec_import.h.
 *
 * Bytes are cut into logical lines by one loop (codec_import_feed) that knows only newlines and,
 * for CSV, whether it is inside a quoted field; each complete line is turned into a record
 * (JSON text, or a CSV row mapped through the header to a JSON object) and validated by
 * codec_record_parse, then written. The line buffer never grows beyond CODEC_IMPORT_LINE_MAX: the
 * rest of an overlong line is dropped and the line reported. Never logs record contents.
 */
#include "codec_import.h"

#include "codec.h"

#include "agent/lib/error.h"

#include <string.h>

typedef enum {
  COL_TYPE,
  COL_ID,
  COL_NAME,
  COL_EMAILS,
  COL_DOMAINS,
  COL_ACCOUNT_ID,
  COL_CONTACT_IDS,
  COL_STAGE,
  COL_DELETED,
  COL_ATTRIBUTE,
} ColumnKind;

static const struct {
  const char *name;
  ColumnKind kind;
} known_columns[] = {
  {"type", COL_TYPE},         {"id", COL_ID},           {"name", COL_NAME},
  {"emails", COL_EMAILS},     {"domains", COL_DOMAINS}, {"account_id", COL_ACCOUNT_ID},
  {"contact_ids", COL_CONTACT_IDS}, {"stage", COL_STAGE}, {"deleted", COL_DELETED},
};

typedef struct {
  ColumnKind kind;
  char *name; /* field or attribute name */
} Column;

struct CodecImport {
  MaStorage *st;
  char *enterprise_id;
  CodecFormat format;
  gboolean skip_invalid;

  GString *line;         /* the logical line being assembled (<= CODEC_IMPORT_LINE_MAX) */
  gboolean overflow;     /* the current line passed the cap; its rest is being dropped */
  gboolean in_quotes;    /* CSV: inside a quoted field */
  gint64 line_no;        /* physical line number of the next byte (1-based) */
  gint64 start_line;     /* physical line on which the current logical line began */
  gint64 records_seen;   /* non-blank logical lines seen */

  GArray *columns;       /* Column, after the CSV header */
  gboolean header_done;
  gboolean header_bad;
  char delimiter;        /* CSV cell separator, ',' by default */
  gboolean strict;       /* CSV: refuse columns that are neither fields nor attr.NAME */

  gboolean began;        /* a transaction is open */
  GHashTable *changed_seen; /* "e:<email>" / "d:<domain>" already listed in res.changed_* */
  gboolean dead;         /* storage failed; nothing more is done */
  CodecImportResult res;
};

static void problem_free(gpointer p)
{
  CodecImportProblem *pr = p;
  g_free(pr->message);
  g_free(pr);
}

static void column_clear(gpointer p)
{
  Column *c = p;
  g_free(c->name);
}

static void result_init(CodecImportResult *r)
{
  r->problems = g_ptr_array_new_with_free_func(problem_free);
  r->implicit_attributes = g_ptr_array_new_with_free_func(g_free);
  r->changed_emails = g_ptr_array_new_with_free_func(g_free);
  r->changed_domains = g_ptr_array_new_with_free_func(g_free);
  r->deleted_records = g_ptr_array_new_with_free_func((GDestroyNotify) ma_record_ref_free);
}

CodecImport *codec_import_new(MaStorage *st, const char *enterprise_id, CodecFormat format, gboolean skip_invalid)
{
  CodecImport *imp = g_new0(CodecImport, 1);
  imp->st = st;
  imp->enterprise_id = g_strdup(enterprise_id);
  imp->format = format;
  imp->skip_invalid = skip_invalid;
  imp->line = g_string_sized_new(4096);
  imp->line_no = 1;
  imp->start_line = 1;
  imp->columns = g_array_new(FALSE, TRUE, sizeof(Column));
  g_array_set_clear_func(imp->columns, column_clear);
  imp->delimiter = ',';
  result_init(&imp->res);
  imp->changed_seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  return imp;
}

void codec_import_set_csv(CodecImport *imp, char delimiter, gboolean strict)
{
  imp->delimiter = delimiter ? delimiter : ',';
  imp->strict = strict;
}

GPtrArray *codec_import_warnings(const CodecImportResult *r)
{
  GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
  for (guint i = 0; r->implicit_attributes && i < r->implicit_attributes->len; i++) {
    const char *name = r->implicit_attributes->pdata[i];
    g_ptr_array_add(out, g_strdup_printf("column \"%s\" is not a field: imported as the attribute %s (name it attr.%s "
                                         "to say so, or fix the header if it is a typo)", name, name, name));
  }
  return out;
}

char codec_import_delimiter_parse(const char *text)
{
  if (!text) return 0;
  if (g_ascii_strcasecmp(text, "tab") == 0 || strcmp(text, "\t") == 0) return '\t';
  if (strlen(text) != 1 || text[0] == '"' || text[0] == '\n' || text[0] == '\r' || !g_ascii_isprint(text[0])) return 0;
  return text[0];
}

gint64 codec_import_lines(const CodecImport *imp)
{
  /* the CSV header is a line, not a record */
  return imp->records_seen - (imp->header_done ? 1 : 0);
}

void codec_import_result_clear(CodecImportResult *r)
{
  if (!r) return;
  if (r->problems) g_ptr_array_unref(r->problems);
  if (r->implicit_attributes) g_ptr_array_unref(r->implicit_attributes);
  if (r->changed_emails) g_ptr_array_unref(r->changed_emails);
  if (r->changed_domains) g_ptr_array_unref(r->changed_domains);
  if (r->deleted_records) g_ptr_array_unref(r->deleted_records);
  memset(r, 0, sizeof *r);
}

void codec_import_free(CodecImport *imp)
{
  if (!imp) return;
  if (imp->began) storage_rollback(imp->st);
  g_free(imp->enterprise_id);
  g_string_free(imp->line, TRUE);
  g_array_unref(imp->columns);
  codec_import_result_clear(&imp->res);
  g_hash_table_unref(imp->changed_seen);
  g_free(imp);
}

static void problem(CodecImport *imp, gint64 line, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static void problem(CodecImport *imp, gint64 line, const char *fmt, ...)
{
  imp->res.invalid++;
  if (!fmt || imp->res.problems->len >= CODEC_IMPORT_PROBLEMS_MAX) return;
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *msg = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  CodecImportProblem *pr = g_new0(CodecImportProblem, 1);
  pr->line = line;
  pr->message = g_steal_pointer(&msg);
  g_ptr_array_add(imp->res.problems, pr);
}

/* ---- CSV ------------------------------------------------------------------------------------- */

char **codec_csv_split(const char *row, gsize len, char delimiter, GError **error)
{
  GPtrArray *fields = g_ptr_array_new();
  GString *cur = g_string_new(NULL);
  gsize i = 0;
  for (;;) {
    g_string_truncate(cur, 0);
    if (i < len && row[i] == '"') {
      i++;
      for (;;) {
        if (i >= len) {
          g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "unterminated quoted field %u", fields->len + 1);
          goto bad;
        }
        if (row[i] == '"') {
          if (i + 1 < len && row[i + 1] == '"') {
            g_string_append_c(cur, '"');
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (row[i] == '\0') goto nul;
        g_string_append_c(cur, row[i++]);
      }
      if (i < len && row[i] != delimiter) {
        g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "field %u: text after the closing quote", fields->len + 1);
        goto bad;
      }
    } else {
      for (; i < len && row[i] != delimiter; i++) {
        if (row[i] == '\0') goto nul;
        g_string_append_c(cur, row[i]);
      }
    }
    g_ptr_array_add(fields, g_strndup(cur->str, cur->len));
    if (i >= len) break;
    i++; /* the delimiter */
  }
  g_string_free(cur, TRUE);
  g_ptr_array_add(fields, NULL);
  return (char **)g_ptr_array_free(fields, FALSE);
nul:
  /* a NUL would cut the cell short (an id "c1\0-x" becoming "c1"): the row is refused */
  g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "field %u contains a NUL byte", fields->len + 1);
bad:
  g_string_free(cur, TRUE);
  g_ptr_array_set_free_func(fields, g_free);
  g_ptr_array_free(fields, TRUE);
  return NULL;
}

static int csv_header(CodecImport *imp, char **cells, GError **error)
{
  gboolean have_type = FALSE, have_id = FALSE;
  g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  for (char **c = cells; *c; c++) {
    char *name = g_strstrip(g_ascii_strdown(*c, -1));
    if (!*name || g_hash_table_contains(seen, name)) {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "header: %s column \"%s\"", *name ? "duplicate" : "empty", name);
      g_free(name);
      return -1;
    }
    g_hash_table_add(seen, name);
    Column col = {COL_ATTRIBUTE, NULL};
    for (gsize k = 0; k < G_N_ELEMENTS(known_columns); k++)
      if (strcmp(name, known_columns[k].name) == 0) col.kind = known_columns[k].kind;
    if (col.kind == COL_ATTRIBUTE) {
      /* Attribute names keep their case; "attr." marks one explicitly. */
      g_autofree char *orig = g_strstrip(g_strdup(*c));
      gboolean marked = g_ascii_strncasecmp(orig, "attr.", 5) == 0;
      col.name = g_strdup(marked ? orig + 5 : orig);
      if (!*col.name) {
        g_free(col.name);
        g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "header: empty attribute name");
        return -1;
      }
      if (!marked && imp->strict) {
        g_set_error(error, MA_ERROR, MA_ERROR_INVALID,
                    "header: column \"%s\" is not a field (write attr.%s for an attribute)", col.name, col.name);
        g_free(col.name);
        return -1;
      }
      if (!marked) g_ptr_array_add(imp->res.implicit_attributes, g_strdup(col.name));
    } else {
      col.name = g_strdup(name);
    }
    have_type |= col.kind == COL_TYPE;
    have_id |= col.kind == COL_ID;
    g_array_append_val(imp->columns, col);
  }
  if (!have_type || !have_id) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "header: needs the columns type and id");
    return -1;
  }
  return 0;
}

static json_t *split_list(const char *cell)
{
  json_t *arr = json_array();
  g_auto(GStrv) parts = g_strsplit_set(cell, ";|", -1);
  for (char **p = parts; *p; p++) {
    g_strstrip(*p);
    if (**p) json_array_append_new(arr, json_string(*p));
  }
  return arr;
}

/* Builds the record object of one CSV row. NULL with *error naming the column. */
static json_t *csv_row_object(CodecImport *imp, char **cells, GError **error)
{
  guint n = g_strv_length(cells);
  if (n != imp->columns->len) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "%u fields, the header has %u", n, imp->columns->len);
    return NULL;
  }
  json_t *obj = json_object();
  json_t *attrs = NULL;
  for (guint i = 0; i < n; i++) {
    const Column *col = &g_array_index(imp->columns, Column, i);
    char *cell = g_strstrip(cells[i]);
    if (!*cell) continue;
    if (!g_utf8_validate(cell, -1, NULL)) {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "%s: not UTF-8", col->name);
      json_decref(obj);
      json_decref(attrs);
      return NULL;
    }
    switch (col->kind) {
    case COL_EMAILS:
    case COL_DOMAINS:
    case COL_CONTACT_IDS:
      json_object_set_new(obj, col->name, split_list(cell));
      break;
    case COL_DELETED: {
      g_autofree char *v = g_ascii_strdown(cell, -1);
      gboolean yes = !strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "1");
      gboolean no = !strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "0");
      if (!yes && !no) {
        g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "deleted: \"%.20s\" is not true or false", cell);
        json_decref(obj);
        json_decref(attrs);
        return NULL;
      }
      json_object_set_new(obj, "deleted", json_boolean(yes));
      break;
    }
    case COL_ATTRIBUTE:
      if (!attrs) attrs = json_object();
      json_object_set_new(attrs, col->name, json_string(cell));
      break;
    default:
      json_object_set_new(obj, col->name, json_string(cell));
      break;
    }
  }
  if (attrs) json_object_set_new(obj, "attributes", attrs);
  return obj;
}

/* ---- writing ---------------------------------------------------------------------------------- */

static gboolean storage_error_is_fatal(const GError *e)
{
  return !(e->domain == MA_ERROR &&
           (e->code == MA_ERROR_INVALID || e->code == MA_ERROR_CONFLICT || e->code == MA_ERROR_LIMIT));
}

/* ---- what changed, for late re-matching ------------------------------------------------------ */

static gboolean changes_full(CodecImport *imp)
{
  CodecImportResult *res = &imp->res;
  if (res->changed_emails->len + res->changed_domains->len + res->deleted_records->len < CODEC_IMPORT_CHANGES_MAX)
    return FALSE;
  res->changes_overflow = TRUE;
  return TRUE;
}

static void note_key(CodecImport *imp, GPtrArray *list, char prefix, const char *value)
{
  if (changes_full(imp)) return;
  char *key = g_strdup_printf("%c:%s", prefix, value);
  if (g_hash_table_contains(imp->changed_seen, key)) {
    g_free(key);
    return;
  }
  g_hash_table_add(imp->changed_seen, key);
  g_ptr_array_add(list, g_utf8_strdown(value, -1));
}

static void note_changed(CodecImport *imp, const MaRecord *r)
{
  for (guint i = 0; r->emails && i < r->emails->len; i++) note_key(imp, imp->res.changed_emails, 'e', r->emails->pdata[i]);
  for (guint i = 0; r->type == MA_RECORD_ACCOUNT && r->domains && i < r->domains->len; i++)
    note_key(imp, imp->res.changed_domains, 'd', r->domains->pdata[i]);
}

static void note_deleted(CodecImport *imp, const MaRecord *r)
{
  if (!changes_full(imp)) g_ptr_array_add(imp->res.deleted_records, ma_record_ref_new(r->type, r->id));
}

/* Writes one valid record (unless an atomic import already failed). -1 only on a fatal error. */
static int apply(CodecImport *imp, gint64 line, MaRecord *r, gboolean deleted, GError **error)
{
  if (!imp->skip_invalid && imp->res.invalid > 0) return 0; /* validating only from here on */
  if (!imp->began) {
    if (storage_begin(imp->st, error) < 0) return -1;
    imp->began = TRUE;
  }
  GError *e = NULL;
  if (deleted) {
    int rc = storage_record_delete(imp->st, imp->enterprise_id, r->type, r->id, &e);
    if (rc == 1) imp->res.deleted++;
    else if (rc == 0) imp->res.not_found++;
    if (rc == 1) note_deleted(imp, r);
  } else {
    MaRecord *old = NULL;
    int rc = storage_record_get(imp->st, imp->enterprise_id, r->type, r->id, &old, &e);
    ma_record_free(old);
    if (rc >= 0 && storage_record_upsert(imp->st, imp->enterprise_id, r, &e) == 0) {
      if (rc == 1) imp->res.updated++;
      else imp->res.created++;
      note_changed(imp, r);
    }
  }
  if (!e) return 0;
  if (storage_error_is_fatal(e)) {
    g_propagate_error(error, e);
    return -1;
  }
  problem(imp, line, "%s", e->message);
  g_error_free(e);
  return 0;
}

static int process_line(CodecImport *imp, gint64 line, char *text, gsize len, GError **error)
{
  if (imp->records_seen == 0 && len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
    text += 3;
    len -= 3;
  }
  if (len > 0 && text[len - 1] == '\r') text[--len] = '\0';
  gsize k = 0;
  while (k < len && g_ascii_isspace(text[k])) k++;
  if (k == len) return 0; /* blank */
  imp->records_seen++;
  if (imp->format == CODEC_FORMAT_AUTO) imp->format = text[k] == '{' ? CODEC_FORMAT_JSONL : CODEC_FORMAT_CSV;

  GError *e = NULL;
  MaRecord *r = NULL;
  gboolean deleted = FALSE;
  if (imp->format == CODEC_FORMAT_JSONL) {
    if (codec_record_parse_text(text, len, &r, &deleted, &e) < 0) {
      problem(imp, line, "%s", e->message);
      g_error_free(e);
      return 0;
    }
  } else {
    if (imp->header_bad) {
      problem(imp, line, NULL);
      return 0;
    }
    g_auto(GStrv) cells = codec_csv_split(text, len, imp->delimiter, &e);
    if (!cells) {
      problem(imp, line, "%s", e->message);
      g_error_free(e);
      if (!imp->header_done) imp->header_bad = TRUE;
      return 0;
    }
    if (!imp->header_done) {
      imp->header_done = TRUE;
      if (csv_header(imp, cells, &e) < 0) {
        problem(imp, line, "%s (no row is read)", e->message);
        g_error_free(e);
        imp->header_bad = TRUE;
      }
      return 0;
    }
    json_t *obj = csv_row_object(imp, cells, &e);
    if (!obj || codec_record_parse(obj, &r, &deleted, &e) < 0) {
      problem(imp, line, "%s", e->message);
      g_error_free(e);
      json_decref(obj);
      return 0;
    }
    json_decref(obj);
  }
  int rc = apply(imp, line, r, deleted, error);
  ma_record_free(r);
  return rc;
}

static int end_line(CodecImport *imp, GError **error)
{
  int rc = 0;
  if (imp->overflow) problem(imp, imp->start_line, "longer than %d bytes", CODEC_IMPORT_LINE_MAX);
  else rc = process_line(imp, imp->start_line, imp->line->str, imp->line->len, error);
  g_string_truncate(imp->line, 0);
  imp->overflow = FALSE;
  imp->in_quotes = FALSE;
  imp->start_line = imp->line_no;
  return rc;
}

static void append(CodecImport *imp, const char *p, gsize n)
{
  if (imp->overflow) return;
  if (imp->line->len + n > CODEC_IMPORT_LINE_MAX) {
    imp->overflow = TRUE;
    return;
  }
  g_string_append_len(imp->line, p, (gssize)n);
}

int codec_import_feed(CodecImport *imp, const char *data, gsize len, GError **error)
{
  if (imp->dead) {
    g_set_error(error, MA_ERROR, MA_ERROR_INTERNAL, "import already failed");
    return -1;
  }
  gsize i = 0;
  while (i < len) {
    /* CSV quote tracking needs the format; decide on the first non-blank, non-BOM byte. */
    if (imp->format == CODEC_FORMAT_AUTO) {
      unsigned char c = (unsigned char)data[i];
      if (!g_ascii_isspace(c) && c != 0xEF && c != 0xBB && c != 0xBF)
        imp->format = c == '{' ? CODEC_FORMAT_JSONL : CODEC_FORMAT_CSV;
    }
    if (imp->format != CODEC_FORMAT_CSV) {
      /* Fast path: copy up to the next newline. */
      const char *nl = memchr(data + i, '\n', len - i);
      gsize n = nl ? (gsize)(nl - (data + i)) : len - i;
      if (imp->format == CODEC_FORMAT_AUTO && n > 0) n = 1; /* still deciding: one byte at a time */
      append(imp, data + i, n);
      i += n;
      if (i < len && data[i] == '\n') {
        i++;
        imp->line_no++;
        if (end_line(imp, error) < 0) goto dead;
      }
      continue;
    }
    char c = data[i++];
    if (c == '\n') {
      imp->line_no++;
      if (!imp->in_quotes) {
        if (end_line(imp, error) < 0) goto dead;
        continue;
      }
    } else if (c == '"') {
      imp->in_quotes = !imp->in_quotes;
    }
    append(imp, &c, 1);
  }
  return 0;
dead:
  imp->dead = TRUE;
  if (imp->began) storage_rollback(imp->st);
  imp->began = FALSE;
  return -1;
}

int codec_import_finish(CodecImport *imp, CodecImportResult *out, GError **error)
{
  memset(out, 0, sizeof *out);
  if (imp->dead) {
    g_set_error(error, MA_ERROR, MA_ERROR_INTERNAL, "import already failed");
    return -1;
  }
  if (imp->line->len > 0 || imp->overflow) {
    if (imp->in_quotes) {
      problem(imp, imp->start_line, "unterminated quoted field");
      g_string_truncate(imp->line, 0);
      imp->overflow = FALSE;
    } else if (end_line(imp, error) < 0) {
      goto dead;
    }
  }
  imp->res.committed = TRUE;
  if (imp->began) {
    imp->began = FALSE;
    if (!imp->skip_invalid && imp->res.invalid > 0) {
      storage_rollback(imp->st);
    } else if (storage_commit(imp->st, error) < 0) {
      storage_rollback(imp->st);
      goto dead;
    }
  }
  if (!imp->skip_invalid && imp->res.invalid > 0) {
    imp->res.committed = FALSE;
    imp->res.created = imp->res.updated = imp->res.deleted = imp->res.not_found = 0;
  }
  imp->res.lines = codec_import_lines(imp);
  *out = imp->res;
  memset(&imp->res, 0, sizeof imp->res);
  result_init(&imp->res);
  g_hash_table_remove_all(imp->changed_seen);
  return 0;
dead:
  imp->dead = TRUE;
  return -1;
}
