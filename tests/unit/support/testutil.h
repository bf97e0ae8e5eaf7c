/* testutil.h - scaffolding shared by the unit tests: private temporary directories that are
 * removed afterwards, and two threads racing. Linked into every tests/unit/test_*.c program. */
#ifndef MA_TESTUTIL_H
#define MA_TESTUTIL_H

#include <glib.h>

/* Creates a fresh directory under $TMPDIR named after template (which must end in XXXXXX) and
 * returns its path (g_free). Aborts the test when it cannot. */
char *testutil_tempdir(const char *template_name);

/* Removes path and everything below it; symbolic links are removed, never followed. */
void testutil_rm_rf(const char *path);

/* Runs fn(a) and fn(b) in two threads released at the same moment (two nodes racing for one row),
 * and returns when both have finished. */
void testutil_run_together(GThreadFunc fn, gpointer a, gpointer b);


#endif
