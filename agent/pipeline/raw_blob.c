/* raw_blob.c - a raw message into the blob store, whole from memory or streamed from its file
 * (raw_blob.h).
 */
#include "raw_blob.h"

int raw_blob_put(MaStorage *st, const MaRaw *raw, char sha256_out[65], GError **error)
{
  if (ma_raw_fd(raw) < 0) return storage_blob_put(st, ma_raw_data(raw), ma_raw_len(raw), sha256_out, error);
  ma_raw_sha256_hex(raw, sha256_out);
  MaRawCursor cursor = {.raw = raw};
  return storage_blob_put_stream(st, sha256_out, ma_raw_len(raw), ma_raw_cursor_read, &cursor, error);
}
