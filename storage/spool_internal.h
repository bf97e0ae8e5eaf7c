/* spool_internal.h - shared by the spool's two files (spool.c: the hot path of put, pending, done
 * and retry state; spool_admin.c: the operator's list, show, retry and purge). Nothing outside
 * storage/ includes this.
 */
#ifndef MA_SPOOL_INTERNAL_H
#define MA_SPOOL_INTERNAL_H

#include "spool.h"

#include <sqlite3.h>

#define SPOOL_RCPT_SEP "\n"
/* The columns spool_entry_read expects, in its order; a query may add columns after them. */
#define SPOOL_ENTRY_COLUMNS                                                                                  \
  "id, enterprise_id, route, client, helo, mail_from, rcpts, employee_id, signal, mailbox, received_at,"     \
  " attempts, seq, length(data), next_attempt_at, last_error, dead_at, body_file"
#define SPOOL_ENTRY_NCOLUMNS 18

/* The handle's connection and data directory (borrowed). */
sqlite3 *spool_sqlite(MaSpool *sp);
const char *spool_data_dir(MaSpool *sp);
/* Sets *error from an SQLite result code (busy, full, I/O: TEMPFAIL). Returns -1. */
int spool_fail(MaSpool *sp, int rc, GError **error, const char *what);
/* A new entry from the current row of a statement selecting SPOOL_ENTRY_COLUMNS first, without
 * its data; *seq is the row's insertion order. Caller frees. */
MaSpoolEntry *spool_entry_read(sqlite3_stmt *s, sqlite3_int64 *seq);

#endif
