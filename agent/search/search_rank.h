/* search_rank.h - the arithmetic of relevance (BM25, as SQLite FTS5's bm25() computes it), apart
 * from any index, so each backend feeds it what its index can tell cheaply and the figures are
 * unit-tested alone. Pure: no storage, no allocation.
 *
 * BM25 scores a document by each query term's frequency in it (weighted by the column it is in),
 * saturated (k1 1.2) and normalised by the document's length against the average (b 0.75), times
 * the term's inverse document frequency: the rarer the term among the documents, the more it
 * counts.
 */
#ifndef MA_SEARCH_RANK_H
#define MA_SEARCH_RANK_H

#include <glib.h>

/* BM25's inverse document frequency of a term found in `with` of `total` documents, at least
 * 1e-6 (as bm25(): a term in more than half the documents still counts a little). */
double search_rank_idf(double total, double with);

/* One term's part of a document's score: idf times its weighted frequency in the document,
 * saturated and normalised by the document's length (in tokens) against the average length. */
double search_rank_term(double idf, double frequency, double length, double average_length);

/* How many documents of an enterprise a term is in, estimated from its newest: sampled is how many
 * of its documents were read, newest first, stopping at sample_max; oldest the number (date
 * order) of the last one read; the enterprise's documents are numbered first..last. Exact when
 * the term has fewer than sample_max documents (all were read), else the density of those read
 * carried over the enterprise's whole span. The same with the enterprise's every document gives
 * their total. */
double search_rank_count(gint64 sampled, gint64 sample_max, gint64 oldest, gint64 first, gint64 last);

#endif
