/* storage_blob_pull.c - the pull of a streamed blob (storage_blob_put_stream) that both backends
 * share (storage_backend.h): pieces read from the caller's reader, hashed on the way, and refused
 * when they are not the digest and size the caller promised.
 */
#include "storage_backend.h"

#include "agent/lib/error.h"

#include <string.h>

void storage_blob_pull_init(MaBlobPull *p, MaBlobReader read, void *ctx, gsize size)
{
  p->read = read;
  p->ctx = ctx;
  p->left = size;
  p->hash = ma_sha256_new();
}

gssize storage_blob_pull_next(MaBlobPull *p, guint8 *buf, gsize cap, GError **error)
{
  gsize want = MIN(cap, p->left), got = 0;
  while (got < want) {
    gssize n = p->read(p->ctx, buf + got, want - got, error);
    if (n < 0) return -1;
    if (n == 0) {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "storage: a streamed blob ended %" G_GSIZE_FORMAT
                  " bytes before the size it was put with", p->left - got);
      return -1;
    }
    got += (gsize)n;
  }
  ma_sha256_update(p->hash, buf, got);
  p->left -= got;
  return (gssize)got;
}

int storage_blob_pull_finish(MaBlobPull *p, const char *sha256, GError **error)
{
  guint8 extra;
  gssize n = p->read(p->ctx, &extra, 1, error);
  char digest[MA_SHA256_HEX_LEN + 1];
  ma_sha256_finish(p->hash, digest);
  p->hash = NULL;
  if (n < 0) return -1;
  if (n > 0 || strcmp(digest, sha256) != 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "storage: a streamed blob is not the %s it was put as (%s)",
                sha256, n > 0 ? "longer than its size" : "other digest");
    return -1;
  }
  return 0;
}

void storage_blob_pull_clear(MaBlobPull *p)
{
  if (!p->hash) return;
  char digest[MA_SHA256_HEX_LEN + 1];
  ma_sha256_finish(p->hash, digest);
  p->hash = NULL;
}
