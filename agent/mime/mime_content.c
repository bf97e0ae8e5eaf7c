/* mime_content.c - the content of an attachment decoded in pieces from the raw message it lies
 * in (mime.h, mime_content_reader_*): the parser hashes and measures attachments with it instead of
 * decoding them into memory, and the pipeline streams them into the blob store with it. Decoding is
 * GMime's own encoding state machine (g_mime_encoding_step/flush, what GMimeFilterBasic runs), so
 * the octets are the ones g_mime_data_wrapper_write_to_stream would give. Pure; no allocation sized
 * by the input beyond one fixed output buffer; the pages of a mapped message are given back behind
 * the reader (raw.h), so decoding a 50 MB attachment leaves none of it resident.
 */
#include "mime_gmime.h"

#include <string.h>

#define CONTENT_IN_CHUNK (48 * 1024) /* encoded octets decoded per step */

struct MimeContentReader {
  const MaRaw *raw;     /* borrowed: the message the content lies in */
  const guint8 *in;     /* the encoded octets not decoded yet (in raw) */
  gsize in_left;
  gboolean identity;
  GMimeEncoding state;
  gboolean flushed;
  guint8 *out;          /* decoded octets not handed out yet */
  gsize out_cap, out_len, out_pos;
};

MimeContentReader *mime_content_reader_new(const MaRaw *raw, const MaAttachment *a)
{
  gsize len = raw ? ma_raw_len(raw) : 0;
  if (!raw || !a || !a->in_raw || a->raw_offset > len || a->raw_length > len - a->raw_offset) return NULL;
  MimeContentReader *r = g_new0(MimeContentReader, 1);
  r->raw = raw;
  r->in = (const guint8 *) ma_raw_data(raw) + a->raw_offset;
  r->in_left = a->raw_length;
  GMimeContentEncoding enc = (GMimeContentEncoding) a->raw_encoding;
  r->identity = enc != GMIME_CONTENT_ENCODING_BASE64 && enc != GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE;
  if (!r->identity) {
    g_mime_encoding_init_decode(&r->state, enc);
    r->out_cap = g_mime_encoding_outlen(&r->state, CONTENT_IN_CHUNK) + 16;
    r->out = g_malloc(r->out_cap);
  }
  return r;
}

/* n more encoded octets are read: a mapped message gives their pages back (raw.h) */
static void consumed(MimeContentReader *r, gsize n)
{
  ma_raw_release(r->raw, (gsize)(r->in - (const guint8 *) ma_raw_data(r->raw)), n);
  r->in += n;
  r->in_left -= n;
}

gssize mime_content_reader_read(void *reader, guint8 *buf, gsize cap, GError **error)
{
  (void) error;
  MimeContentReader *r = reader;
  if (r->identity) {
    gsize n = MIN(cap, r->in_left);
    memcpy(buf, r->in, n);
    consumed(r, n);
    return (gssize) n;
  }
  while (r->out_pos == r->out_len) {
    r->out_pos = r->out_len = 0;
    if (r->in_left > 0) {
      gsize n = MIN((gsize) CONTENT_IN_CHUNK, r->in_left);
      r->out_len = g_mime_encoding_step(&r->state, (const char *) r->in, n, (char *) r->out);
      consumed(r, n);
    } else if (!r->flushed) {
      r->out_len = g_mime_encoding_flush(&r->state, NULL, 0, (char *) r->out);
      r->flushed = TRUE;
    } else {
      return 0;
    }
  }
  gsize n = MIN(cap, r->out_len - r->out_pos);
  memcpy(buf, r->out + r->out_pos, n);
  r->out_pos += n;
  return (gssize) n;
}

void mime_content_reader_free(MimeContentReader *r)
{
  if (!r) return;
  g_free(r->out);
  g_free(r);
}
