/* testutil.h - scaffolding shared by the unit tests: private temporary directories that are
 * removed afterwards, and an empty PostgreSQL schema for the storage tests that run against both
 * backends. Linked into every tests/unit/test_*.c program. */
#ifndef MA_TESTUTIL_H
#define MA_TESTUTIL_H

#include <glib.h>

/* Creates a fresh directory under $TMPDIR named after template (which must end in XXXXXX) and
 * returns its path (g_free). Aborts the test when it cannot. */
char *testutil_tempdir(const char *template_name);

/* Removes path and everything below it; symbolic links are removed, never followed. */
void testutil_rm_rf(const char *path);

/* Empties the PostgreSQL database named by conninfo (the schema and its migrations go; the next
 * open applies them again). Aborts the test when it cannot. */
void testutil_pg_reset(const char *conninfo);

#endif
