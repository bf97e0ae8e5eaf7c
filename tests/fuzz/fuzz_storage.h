/* fuzz_storage.h - a scratch database for the harnesses that fuzz a parser behind storage (import,
 * cursor, search): fuzz_storage_open makes a temporary data directory, opens a fresh storage in it
 * and, at exit, closes it and removes the directory (files only: storage makes no subdirectories).
 * Header-only (one harness per program), so no target links anything more.
 */
#ifndef MA_FUZZ_STORAGE_H
#define MA_FUZZ_STORAGE_H

#include "storage/storage.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <stdlib.h>

static MaStorage *fuzz_storage;
static char *fuzz_storage_dir;

static void fuzz_storage_cleanup(void)
{
  storage_close(&fuzz_storage);
  GDir *d = g_dir_open(fuzz_storage_dir, 0, NULL);
  const char *name;
  while (d && (name = g_dir_read_name(d)) != NULL) {
    char *path = g_build_filename(fuzz_storage_dir, name, NULL);
    g_unlink(path);
    g_free(path);
  }
  if (d) g_dir_close(d);
  g_rmdir(fuzz_storage_dir);
}

/* The harness's storage (owned here; closed at exit). template: g_dir_make_tmp's, e.g.
 * "fuzz-search-XXXXXX". Aborts when the scratch database cannot be made. */
static MaStorage *fuzz_storage_open(const char *template)
{
  fuzz_storage_dir = g_dir_make_tmp(template, NULL);
  if (!fuzz_storage_dir || storage_open(fuzz_storage_dir, TRUE, &fuzz_storage, NULL) < 0) abort();
  atexit(fuzz_storage_cleanup);
  return fuzz_storage;
}

#endif
