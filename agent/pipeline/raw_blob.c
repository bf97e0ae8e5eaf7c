/* raw_blob.c - a raw message into the blob store, whole from memory or streamed from its file,
 * and the check that a text body is a slice of it (raw_blob.h).
 */
#include "raw_blob.h"

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
  const char *p = s, *end = s + len, *t = text, *text_end = text + strlen(text);
  while (p < end) { /* the run up to the next CR compared whole, then its line end: one LF in text */
    const char *cr = memchr(p, '\r', (gsize) (end - p));
    gsize run = (gsize) ((cr ? cr : end) - p);
    if ((gsize) (text_end - t) < run || memcmp(p, t, run) != 0) return 0;
    p += run;
    t += run;
    if (!cr) break;
    if (t == text_end || *t++ != '\n') return 0;
    p += p + 1 < end && p[1] == '\n' ? 2 : 1;
  }
  return t == text_end ? len : 0;
}
