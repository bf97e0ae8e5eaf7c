/* storage_search.c - storage_search.h's dispatch to the backend (storage_backend.h), its value
 * types, and the last step both backends share: a page of hits completed with their messages and
 * highlights (search_mark.h marks the query's tokens, so both backends mark alike). No SQL here. */
#include "storage_search.h"

#include "storage_backend.h"

#include "agent/search/search_mark.h"

#define SEARCH_SNIPPET_TOKENS 24 /* tokens of body text in a hit's excerpt */

void ma_search_hit_free(MaSearchHit *h)
{
  if (!h) return;
  ma_stored_message_free(h->message);
  g_free(h->subject_marked);
  g_free(h->snippet_marked);
  g_free(h);
}

gint64 ma_search_hit_seq(gconstpointer hit) { return ((const MaSearchHit *)hit)->seq; }

void storage_search_hits_finish(GPtrArray *hits, GHashTable *by_id, const MaSearchQuery *query, GPtrArray *out)
{
  g_autoptr(GHashTable) tokens = search_mark_tokens(query);
  for (guint i = 0; i < hits->len; i++) {
    MaSearchHit *h = g_ptr_array_index(hits, i);
    gpointer key = NULL, full = NULL;
    if (!g_hash_table_steal_extended(by_id, h->message->id, &key, &full)) continue; /* deleted meanwhile */
    ma_stored_message_free(h->message);
    h->message = full;
    h->subject_marked = search_mark(h->message->subject, tokens, 0);
    h->snippet_marked = search_mark(h->message->text, tokens, SEARCH_SNIPPET_TOKENS);
    g_clear_pointer(&h->message->text, g_free); /* hits carry no bodies */
    g_clear_pointer(&h->message->html, g_free);
    g_ptr_array_add(out, g_steal_pointer(&hits->pdata[i]));
  }
}

int storage_search_index(MaStorage *st, const MaStoredMessage *m, GError **error)
{
  g_assert(st != NULL && m != NULL && m->id && m->enterprise_id);
  return st->be->search_index(st->impl, m, error);
}

int storage_search(MaStorage *st, const char *enterprise_id, const MaSearchRequest *req, gint64 after, int limit,
                   GPtrArray *out, GError **error)
{
  g_assert(st != NULL && enterprise_id != NULL && req != NULL && req->query != NULL && limit > 0);
  return st->be->search(st->impl, enterprise_id, req, after, limit, out, error);
}

int storage_erase_address(MaStorage *st, const char *enterprise_id, const char *address, MaEraseCounts *counts,
                          GError **error)
{
  g_assert(st != NULL && enterprise_id != NULL && address != NULL && counts != NULL);
  return st->be->erase_address(st->impl, enterprise_id, address, counts, error);
}

int storage_expire_before(MaStorage *st, const char *enterprise_id, gint64 before, int limit, MaEraseCounts *counts,
                          GError **error)
{
  g_assert(st != NULL && enterprise_id != NULL && limit > 0 && counts != NULL);
  return st->be->expire_before(st->impl, enterprise_id, before, limit, counts, error);
}

int storage_search_compact(MaStorage *st, GError **error)
{
  g_assert(st != NULL);
  return st->be->search_compact(st->impl, error);
}

int storage_search_rebuild(MaStorage *st, GError **error)
{
  g_assert(st != NULL);
  return st->be->search_rebuild(st->impl, error);
}
