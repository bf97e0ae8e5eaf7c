/* codec_import.h - streaming import of CRM records (JSON Lines or CSV) into one enterprise: the
 * single implementation behind `mailagent records import` and POST /v1/records:bulk.
 *
 * Input is pushed in chunks of any size (codec_import_feed) so files of any size stream through a
 * bounded buffer: one line (one CSV row, which may span lines inside quotes) is at most
 * CODEC_IMPORT_LINE_MAX bytes; a longer one is reported invalid and skipped. Every line goes
 * through codec_record_parse, so the CLI and the API accept exactly the same records.
 *
 * JSON Lines: one record object per line; blank lines are ignored.
 * CSV (RFC 4180 quoting, comma separated unless codec_import_set_csv says otherwise, e.g. Excel's
 * ';'; first row is the header, names case-insensitive):
 *   type,id,name,emails,domains,account_id,contact_ids,stage,deleted   the record's fields;
 *   emails, domains and contact_ids hold several values separated by ';' or '|';
 *   deleted is true/false/yes/no/1/0; an empty cell is an absent field;
 *   "attr.<name>" or any other column  -> attributes.<name> (text; empty cells are left out).
 *   A column that is neither a field nor marked "attr." is reported in implicit_attributes (a typo
 *   such as "nmae" must be visible); with strict, such a header is refused.
 * A UTF-8 byte order mark at the start is skipped. A NUL byte anywhere in a line makes that line
 * invalid (never a shorter id, name or address). Upsert by (type, id); "deleted": true removes.
 *
 * Atomic (default): everything in one transaction; any bad line means nothing is written (every
 * bad line is still reported). skip_invalid: the good lines are written, bad ones reported.
 * A storage failure aborts the whole import (rolled back) whatever the mode.
 */
#ifndef MA_CODEC_IMPORT_H
#define MA_CODEC_IMPORT_H

#include "storage/storage.h"

#include <glib.h>

#define CODEC_IMPORT_LINE_MAX (1024 * 1024)
#define CODEC_IMPORT_PROBLEMS_MAX 1000 /* problem messages kept; all are counted */

typedef enum { CODEC_FORMAT_AUTO, CODEC_FORMAT_JSONL, CODEC_FORMAT_CSV } CodecFormat;

typedef struct {
  gint64 line;       /* physical line on which the bad record began (1-based) */
  char *message;     /* the reason, without the line number */
} CodecImportProblem;

typedef struct {
  gint64 created;
  gint64 updated;
  gint64 deleted;
  gint64 not_found;  /* "deleted": true for a record that was not there */
  gint64 invalid;
  gboolean committed;/* FALSE when an atomic import was refused (invalid > 0) */
  GPtrArray *problems;/* CodecImportProblem*, the first CODEC_IMPORT_PROBLEMS_MAX */
  GPtrArray *implicit_attributes; /* char*: CSV columns taken as attributes without "attr." */
  gint64 lines;      /* records seen (non-blank logical lines, the CSV header excluded) */
  /* What late re-matching (agent/pipeline/pending.h) looks for: the lower-case emails of the
   * records created or updated and the domains of such accounts, once each, and the records
   * deleted (MaRecordRef*); at most CODEC_IMPORT_CHANGES_MAX entries in all, then changes_overflow. */
  GPtrArray *changed_emails;
  GPtrArray *changed_domains;
  GPtrArray *deleted_records;
  gboolean changes_overflow;
} CodecImportResult;
#define CODEC_IMPORT_CHANGES_MAX 100000

typedef struct CodecImport CodecImport;

/* format AUTO decides on the first non-blank byte: '{' is JSON Lines, anything else CSV. st must
 * not be inside a transaction; the import opens its own. The caller keeps st and enterprise_id
 * alive until codec_import_free. */
CodecImport *codec_import_new(MaStorage *st, const char *enterprise_id, CodecFormat format, gboolean skip_invalid);
/* CSV options, before the first feed: the cell delimiter (',' by default; ';' or '\t' for
 * spreadsheets' exports) and strict (a header column that is neither a field nor "attr.NAME" is an
 * error for the whole file instead of becoming an attribute). */
void codec_import_set_csv(CodecImport *imp, char delimiter, gboolean strict);
/* The warnings an import's result carries, as sentences (the CLI prints them, the API returns
 * them): one per implicit attribute column. Caller frees (g_ptr_array_unref). */
GPtrArray *codec_import_warnings(const CodecImportResult *r);
/* Parses a --delimiter / ?delimiter= value: one character, or "tab". 0 for anything else. */
char codec_import_delimiter_parse(const char *text);
/* Records seen so far (for progress reports). */
gint64 codec_import_lines(const CodecImport *imp);
/* Pushes bytes. 0, or -1 with *error when storage failed (the import is then dead: free it). */
int codec_import_feed(CodecImport *imp, const char *data, gsize len, GError **error);
/* Ends the input, commits (or rolls back an atomic import with bad lines) and fills *out (the
 * caller clears it with codec_import_result_clear). 0, or -1 with *error on a storage failure. */
int codec_import_finish(CodecImport *imp, CodecImportResult *out, GError **error);
/* Rolls back anything unfinished. Accepts NULL. */
void codec_import_free(CodecImport *imp);
void codec_import_result_clear(CodecImportResult *r);

/* Splits one CSV row (no trailing newline) into fields. NULL with *error on bad quoting or a NUL
 * byte in any field (which would otherwise cut the field short). Exposed for tests. Returns a NULL-terminated vector (g_strfreev). */
char **codec_csv_split(const char *row, gsize len, char delimiter, GError **error);

#endif
