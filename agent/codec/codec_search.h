/* codec_search.h - what `mailagent search` and GET /v1/search share: the request's options as
 * words (order, record) and a hit as JSON. */
#ifndef MA_CODEC_SEARCH_H
#define MA_CODEC_SEARCH_H

#include "agent/codec/codec_writer.h"
#include "storage/storage_search.h"

#include <jansson.h>

/* Fills req (query left NULL) from the option texts: order "newest" (default, NULL) or
 * "relevance"; record "TYPE:ID" or NULL (req->record_id points into record: keep it alive).
 * 0, or -1 with MA_ERROR_INVALID naming the bad option ("order: ...", "record: ..."). */
int codec_search_request_parse(const char *order, const char *record, MaSearchRequest *req, GError **error);

/* The message without bodies (codec_message_to_json) plus "highlight": {"subject", "snippet"}:
 * HTML, matches in <mark>, the rest escaped. New reference. */
json_t *codec_search_hit_to_json(const MaSearchHit *h);
/* The same written as text (a page of hits is written without a jansson tree). */
void codec_write_search_hit(CodecWriter *w, const MaSearchHit *h);

/* The counts of a retention run or an erasure, as {"messages": n, "index_entries": n, ...}. */
json_t *codec_erase_counts_to_json(const MaEraseCounts *c);

#endif
