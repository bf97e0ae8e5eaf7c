/* codec_search.c - search requests and hits, erase counts (see codec_search.h). */
#include "codec_search.h"

#include "agent/search/search_snippet.h"
#include "codec.h"

#include <string.h>

int codec_search_request_parse(const char *order, const char *record, MaSearchRequest *req, GError **error)
{
  memset(req, 0, sizeof *req);
  if (!order || strcmp(order, "newest") == 0) {
    req->order = MA_SEARCH_NEWEST;
  } else if (strcmp(order, "relevance") == 0) {
    req->order = MA_SEARCH_RELEVANCE;
  } else {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "order: \"newest\" or \"relevance\"");
    return -1;
  }
  if (!record) return 0;
  const char *colon = strchr(record, ':');
  g_autofree char *type = colon ? g_strndup(record, (gsize)(colon - record)) : NULL;
  int t = type ? ma_record_type_parse(type) : -1;
  if (t < 0 || !colon[1] || strlen(colon + 1) > 512) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "record: TYPE:ID, TYPE one of account, contact, lead, opportunity");
    return -1;
  }
  req->in_record = TRUE;
  req->record_type = (MaRecordType)t;
  req->record_id = colon + 1;
  return 0;
}

void codec_write_search_hit(CodecWriter *w, const MaSearchHit *h)
{
  g_autofree char *subject = search_snippet_render(h->subject_marked, SEARCH_SNIPPET_HTML);
  g_autofree char *snippet = search_snippet_render(h->snippet_marked, SEARCH_SNIPPET_HTML);

  codec_writer_object_begin(w);
  codec_write_message_fields(w, h->message, FALSE);
  codec_writer_key(w, "highlight");
  codec_writer_object_begin(w);
  codec_writer_field_string(w, "subject", subject);
  codec_writer_field_string(w, "snippet", snippet);
  codec_writer_object_end(w);
  codec_writer_object_end(w);
}

json_t *codec_search_hit_to_json(const MaSearchHit *h)
{
  CodecWriter w;
  json_error_t jerr;

  codec_writer_init(&w, g_string_sized_new(1024));
  codec_write_search_hit(&w, h);
  json_t *doc = json_loadb(w.out->str, w.out->len, 0, &jerr);
  if (!doc) g_error("codec: the writer produced invalid JSON: %s", jerr.text); /* a bug, not input */
  g_string_free(w.out, TRUE);
  return doc;
}

json_t *codec_erase_counts_to_json(const MaEraseCounts *c)
{
  return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "messages", (json_int_t)c->messages, "index_entries",
                   (json_int_t)c->index_entries, "links", (json_int_t)c->links, "activities",
                   (json_int_t)c->activities, "blobs", (json_int_t)c->blobs, "events", (json_int_t)c->events, "held",
                   (json_int_t)c->held);
}
