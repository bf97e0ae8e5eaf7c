-- 033_search.sql - the archive's full-text index (storage_pg_search.c; SQLite migration 131 is
-- FTS5): one row per indexed message with the tokens of search_tokenize as a tsvector (subject A,
-- From/Sender B, To/Cc/Bcc C, body and file names D) under a GIN index, and the file names alone
-- for the file: field. doc orders newest first and is the page cursor: the date's seconds above
-- 20 bits of search_doc_seq, unique per enterprise without a lock between nodes. The entry goes
-- with its message (ON DELETE CASCADE), on every path that deletes one.
CREATE SEQUENCE IF NOT EXISTS search_doc_seq;
CREATE TABLE IF NOT EXISTS search_docs(
  message_id text PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
  enterprise_id text NOT NULL, doc bigint NOT NULL,
  words tsvector NOT NULL, files tsvector NOT NULL,
  UNIQUE(enterprise_id, doc));
CREATE INDEX IF NOT EXISTS search_docs_words ON search_docs USING gin(words);
