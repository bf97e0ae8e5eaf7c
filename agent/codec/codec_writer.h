/* codec_writer.h - a streaming JSON writer into a GString: the codec's one definition of each
 * shared type's JSON shape writes through it, so a page of a hundred messages is text at once,
 * without the tree of jansson values (and its allocations, loop checks and frees) that jansson's
 * encoder needs.
 *
 * Output is compact UTF-8 like json_dumps(JSON_COMPACT): strings are checked for UTF-8 and
 * repaired (U+FFFD) when they are not, '"', '\' and control characters are escaped. Commas are
 * placed by the writer. Nesting is bounded by CODEC_WRITER_MAX_DEPTH (the codec's shapes use four);
 * misuse (a value without a key inside an object, unbalanced ends) is a programming error caught
 * by assertions.
 */
#ifndef MA_CODEC_WRITER_H
#define MA_CODEC_WRITER_H

#include <glib.h>

#define CODEC_WRITER_MAX_DEPTH 16

typedef struct {
  GString *out;                               /* borrowed: the caller owns and frees it */
  guint depth;
  gboolean has_items[CODEC_WRITER_MAX_DEPTH]; /* per open container: something written already */
  gboolean after_key;                         /* the next value belongs to the key just written */
} CodecWriter;

/* Starts writing at the end of out. */
void codec_writer_init(CodecWriter *w, GString *out);

void codec_writer_object_begin(CodecWriter *w);
void codec_writer_object_end(CodecWriter *w);
void codec_writer_array_begin(CodecWriter *w);
void codec_writer_array_end(CodecWriter *w);
/* An object key; the next call writes its value. The key is a string literal of the code (the
 * macro refuses anything else at compile time): a plain ASCII name, written as it is, quoted and
 * preceded by its comma by the compiler (codec_writer_key_text drops the comma before an
 * object's first key). */
#define codec_writer_key(w, key) codec_writer_key_text((w), ",\"" key "\":", sizeof(",\"" key "\":") - 1)
void codec_writer_key_text(CodecWriter *w, const char *text, gsize len);

/* A string value, null for NULL. */
void codec_writer_string(CodecWriter *w, const char *s);
/* An RFC 3339 UTC time, null for 0 or less (unknown). */
void codec_writer_time(CodecWriter *w, gint64 unix_seconds);
void codec_writer_int(CodecWriter *w, gint64 v);
void codec_writer_bool(CodecWriter *w, gboolean v);
void codec_writer_null(CodecWriter *w);
/* A value already written as compact JSON (len bytes: one whole value that a CodecWriter wrote
 * before, e.g. an item kept by a cache), copied as it is with its comma. Never peer input: nothing
 * in it is checked. */
void codec_writer_raw(CodecWriter *w, const char *json, gsize len);

/* A key (a string literal, as codec_writer_key) and its value in one call. */
#define codec_writer_field_string(w, key, s) (codec_writer_key(w, key), codec_writer_string((w), (s)))
#define codec_writer_field_time(w, key, t) (codec_writer_key(w, key), codec_writer_time((w), (t)))
#define codec_writer_field_int(w, key, v) (codec_writer_key(w, key), codec_writer_int((w), (v)))
#define codec_writer_field_bool(w, key, v) (codec_writer_key(w, key), codec_writer_bool((w), (v)))

#endif
