/* raw_blob.c - a raw message into the blob store, whole from memory or streamed from its file,
 * and the check that a text body is a slice of it (raw_blob.h).
 */
#include "raw_blob.h"

#include "agent/lib/model.h"

#include <string.h>

int raw_blob_put(MaStorage *st, const MaRaw *raw, char sha256_out[65], GError **error)
{
  if (ma_raw_fd(raw) < 0) return storage_blob_put(st, ma_raw_data(raw), ma_raw_len(raw), sha256_out, error);
  ma_raw_sha256_hex(raw, sha256_out);
  MaRawCursor cursor = {.raw = raw};
  return storage_blob_put_stream(st, sha256_out, ma_raw_len(raw), ma_raw_cursor_read, &cursor, error);
}

gsize raw_blob_text_slice(const MaRaw *raw, gsize at, gsize len, const char *text)
{
  gsize n = ma_raw_len(raw);
  if (!text || len == 0 || at > n || len > n - at) return 0;
  const char *s = ma_raw_data(raw) + at;
  while (len > 0 && g_ascii_isspace(s[len - 1])) len--;
  gsize text_len = strlen(text);
  if (len < text_len) return 0; /* line ends only ever shrink */
  g_autofree char *lf = g_malloc(len + 1);
  gsize m = ma_text_lf(s, len, lf);
  return m == text_len && memcmp(lf, text, m) == 0 ? len : 0;
}
