/* raw_blob.h - a raw message into the blob store: from memory in one piece, from a mapped file
 * (raw.h) streamed in bounded pieces (hashed first, then pulled by storage_blob_put_stream), so a
 * 50 MB spool body is never held whole. Used by the archive (pipeline.c) and the pending store.
 */
#ifndef MA_RAW_BLOB_H
#define MA_RAW_BLOB_H

#include "agent/lib/raw.h"
#include "storage/storage.h"

/* Stores raw's octets unless stored already; writes the hex digest to sha256_out. In the caller's
 * transaction. 0, or -1 with *error (storage_blob_put's errors). */
int raw_blob_put(MaStorage *st, const MaRaw *raw, char sha256_out[65], GError **error);

#endif
