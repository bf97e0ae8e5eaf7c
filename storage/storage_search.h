/* storage_search.h - the archive's full-text index, and the deletions that must leave no trace of
 * a message behind (retention, erasure by address). Part of the storage interface (storage.h's
 * conventions hold: 0/-1 with GError, every call scoped by enterprise_id), kept in its own header
 * (its entries in storage_backend.h's table) so a PostgreSQL backend implements it with its own
 * full-text search.
 *
 * What is indexed is read back from what was stored (subject, body text, participants' names and
 * addresses, attachment file names), so the capture level governs the index too: a metadata-only
 * enterprise has no body text stored and none indexed.
 */
#ifndef MA_STORAGE_SEARCH_H
#define MA_STORAGE_SEARCH_H

#include "agent/search/search_query.h"
#include "storage.h"

typedef enum { MA_SEARCH_NEWEST, MA_SEARCH_RELEVANCE } MaSearchOrder;

/* By relevance, the backends rank this many newest matches (of the record's, within a record):
 * finding and ranking them is most of a relevance search's cost, in proportion (README.md's
 * search benchmark). Older matches are found newest first. */
#define MA_SEARCH_RELEVANCE_WINDOW 1000

typedef struct {
  const MaSearchQuery *query;   /* borrowed */
  MaSearchOrder order;
  gboolean in_record;           /* only messages linked to record_type:record_id */
  MaRecordType record_type;
  const char *record_id;
} MaSearchRequest;

typedef struct {
  gint64 seq;                   /* the page position: > 0, for codec_seq_page_trim */
  MaStoredMessage *message;     /* header fields, participants, attachments, links; no bodies */
  char *subject_marked;         /* the subject, matches between SEARCH_MARK_OPEN/CLOSE */
  char *snippet_marked;         /* an excerpt of the body text, marked the same way ("" if none) */
} MaSearchHit;

void ma_search_hit_free(MaSearchHit *h);
gint64 ma_search_hit_seq(gconstpointer hit);

/* Indexes an archived message (m as given to storage_message_insert, in the same transaction):
 * the index reads the stored row back, so it holds exactly what was stored. */
int storage_search_index(MaStorage *st, const MaStoredMessage *m, GError **error);

/* Up to limit hits (MaSearchHit*) appended to out: newest first (by message date) or by
 * relevance. after is 0 for the first page, else the seq of the last hit of the previous page. */
int storage_search(MaStorage *st, const char *enterprise_id, const MaSearchRequest *req, gint64 after, int limit,
                   GPtrArray *out, GError **error);

typedef struct {
  gint64 messages;              /* archived messages deleted */
  gint64 index_entries;         /* their full-text index entries */
  gint64 links;                 /* their record links (timeline rows included) */
  gint64 activities;            /* local copies of their activities (the CRM keeps its own) */
  gint64 blobs;                 /* raw copies and attachment contents no other message shares */
  gint64 events;                /* their webhook outbox events (delivered or not) */
  gint64 held;                  /* held mail (the pending store) deleted with its raw copy */
} MaEraseCounts;

/* Deletes every message of the enterprise in which address (case-insensitive) is a participant
 * (from, sender, to, cc, bcc, reply-to), with everything derived from it, and the held mail of the
 * pending store in which it is one, with its raw copy; adds to *counts. */
int storage_erase_address(MaStorage *st, const char *enterprise_id, const char *address, MaEraseCounts *counts,
                          GError **error);
/* Deletes up to limit messages of the enterprise archived before `before` (unix seconds), oldest
 * first, like storage_erase_address; adds to *counts. Returns the number deleted (0: none left). */
int storage_expire_before(MaStorage *st, const char *enterprise_id, gint64 before, int limit, MaEraseCounts *counts,
                          GError **error);
/* After deletions: rewrites the index without the deleted entries and moves the write-ahead log
 * into the database, so no copy of deleted content stays in any file. Outside a transaction.
 * Costs a rewrite of the index: call once after a run of deletions, not per message. */
int storage_search_compact(MaStorage *st, GError **error);
/* admin: rebuilds the whole index from the stored mail (after a tokenizer change; the ingest
 * benchmark times it as the indexing cost). One transaction; outside any other. */
int storage_search_rebuild(MaStorage *st, GError **error);

#endif
