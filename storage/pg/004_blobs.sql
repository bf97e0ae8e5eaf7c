-- 004_blobs.sql - the content-addressed blob store (raw messages, attachments) as rows of chunks
-- of at most 1 MB, so no single value (and no single buffer on either side) holds a large
-- attachment whole. A blob's row is written last in its transaction: a blob row means every
-- chunk is there.
CREATE TABLE blobs(sha256 text PRIMARY KEY, size bigint NOT NULL, chunks integer NOT NULL);
CREATE TABLE blob_chunks(
  sha256 text NOT NULL, seq integer NOT NULL, data bytea NOT NULL,
  PRIMARY KEY(sha256, seq));
