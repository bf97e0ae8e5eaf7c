/* raw_blob.h - a raw message into the blob store: from memory in one piece, from a mapped file
 * (raw.h) streamed in bounded pieces (hashed first, then pulled by storage_blob_put_stream), so a
 * 50 MB spool body is never held whole. Used by the archive (pipeline.c) and the pending store.
 * Also checks that a text body is a slice of the raw message, which storage may then refer to.
 */
#ifndef MA_RAW_BLOB_H
#define MA_RAW_BLOB_H

#include "agent/lib/raw.h"
#include "storage/storage.h"

/* Stores raw's octets unless stored already; writes the hex digest to sha256_out. In the caller's
 * transaction. 0, or -1 with *error (storage_blob_put's errors). */
int raw_blob_put(MaStorage *st, const MaRaw *raw, char sha256_out[65], GError **error);

/* Whether text is raw[at, at + len) with CRLF and lone CR made LF and its trailing white space
 * cut (the mime module's hint, MaMessage.text_raw_offset): the slice's length without that white
 * space, which storage may keep as a reference into the raw blob instead of the text; 0 when the
 * bytes differ or the slice lies outside raw. Reads the slice once, into one copy of its length
 * (ma_text_lf writes it: the one definition of the line-end rule), freed before it returns. */
gsize raw_blob_text_slice(const MaRaw *raw, gsize at, gsize len, const char *text);

#endif
