/* raw_blob.c - a raw message into the blob store, whole from memory or streamed from its file,
 * and the check that a text body is a slice of it (raw_blob.h).
 */
#include "raw_blob.h"

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
  gsize t = 0;
  for (gsize i = 0; i < len; i++, t++) {
    char c = s[i];
    if (c == '\r') { /* CRLF and a lone CR are one LF */
      if (i + 1 < len && s[i + 1] == '\n') i++;
      c = '\n';
    }
    if (c == '\0' || text[t] != c) return 0; /* text's NUL: it ended first */
  }
  return text[t] == '\0' ? len : 0;
}
