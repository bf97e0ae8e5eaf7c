/* storage_timeline.c - the timeline as callers see it, the same over every backend: the backend
 * visits a page's items as views of its rows (MaStorageBackend.timeline_each) once
 * storage_timeline_each has checked the page size and the direction; it adds each outbound message's
 * recipients' delivery states to what it visits, and storage_timeline copies the visited items for
 * callers that keep them. storage_timeline_each_known lets a caller that keeps what it made of a
 * row (the API's item cache) answer a row before it is decoded; it must refuse a row whose item
 * names a delivery key (MaTimelineKnown), so delivery states are always read fresh.
 */
#include "storage.h"
#include "storage_archive.h"
#include "storage_backend.h"

#include <string.h>

/* storage_timeline's visitor: an owned copy of each item (whose strings are borrowed views). */
static MaStoredMessage *message_copy(const MaStoredMessage *v)
{
  MaStoredMessage *m = ma_stored_message_new();
  m->id = g_strdup(v->id);
  m->enterprise_id = g_strdup(v->enterprise_id);
  m->thread_id = g_strdup(v->thread_id);
  m->message_id = g_strdup(v->message_id);
  m->dedup_key = g_strdup(v->dedup_key);
  m->subject = g_strdup(v->subject);
  m->direction = v->direction;
  m->date = v->date;
  m->archived_at = v->archived_at;
  m->size = v->size;
  m->raw_sha256 = g_strdup(v->raw_sha256);
  m->text = g_strdup(v->text);
  m->html = g_strdup(v->html);
  m->snippet = g_strdup(v->snippet);
  m->parse_error = g_strdup(v->parse_error);
  m->machine = v->machine;
  m->machine_reason = g_strdup(v->machine_reason);
  for (guint i = 0; v->participants && i < v->participants->len; i++) {
    const MaParticipant *p = g_ptr_array_index(v->participants, i);
    g_ptr_array_add(m->participants, ma_participant_new(p->role, p->name, p->address));
  }
  for (guint i = 0; v->attachments && i < v->attachments->len; i++) {
    const MaAttachment *x = g_ptr_array_index(v->attachments, i);
    MaAttachment *a = ma_attachment_new();
    a->filename = g_strdup(x->filename);
    a->content_type = g_strdup(x->content_type);
    a->content_id = g_strdup(x->content_id);
    a->is_inline = x->is_inline;
    a->size = x->size;
    memcpy(a->sha256, x->sha256, sizeof a->sha256);
    g_ptr_array_add(m->attachments, a);
  }
  for (guint i = 0; v->links && i < v->links->len; i++) {
    const MaRecordRef *r = g_ptr_array_index(v->links, i);
    MaRecordRef *c = ma_record_ref_new(r->type, r->id);
    c->reason = g_strdup(r->reason);
    g_ptr_array_add(m->links, c);
  }
  return m;
}

static MaActivity *activity_copy(const MaActivity *v)
{
  MaActivity *a = g_new0(MaActivity, 1);
  a->id = g_strdup(v->id);
  a->enterprise_id = g_strdup(v->enterprise_id);
  a->message_id = g_strdup(v->message_id);
  a->record.type = v->record.type;
  a->record.id = g_strdup(v->record.id);
  a->rule_id = g_strdup(v->rule_id);
  a->rule_name = g_strdup(v->rule_name);
  a->activity_type = g_strdup(v->activity_type);
  a->title = g_strdup(v->title);
  a->content = g_strdup(v->content);
  a->owner = g_strdup(v->owner);
  a->created_at = v->created_at;
  a->message_date = v->message_date;
  return a;
}

static void timeline_collect(const MaTimelineItem *item, void *user_data)
{
  MaTimelineItem *copy = g_new0(MaTimelineItem, 1);
  copy->is_activity = item->is_activity;
  if (item->is_activity)
    copy->activity = activity_copy(item->activity);
  else
    copy->message = message_copy(item->message);
  copy->delivery = item->delivery ? g_ptr_array_ref(item->delivery) : NULL; /* the look-up's own array */
  g_ptr_array_add(user_data, copy);
}

int storage_timeline(MaStorage *st, const char *enterprise_id, MaRecordType type, const char *record_id,
                     const MaTimelineFilter *filter, const char *cursor, int limit, GPtrArray *out,
                     char **next_cursor, GError **error)
{
  guint had = out->len;
  int rc = storage_timeline_each(st, enterprise_id, type, record_id, filter, cursor, limit, timeline_collect, out,
                                 next_cursor, error);
  if (rc < 0) g_ptr_array_remove_range(out, had, out->len - had);
  return rc;
}

/* storage_timeline_each's wrapper of the caller's visitor: an outbound message sent through the
 * queue is visited with its recipients' delivery states (the queue moves the enterprise's archive
 * version when they change, so cached pages follow them). The look-up runs on the same handle,
 * inside the page's read transaction; after a failed one the rest of the page is not visited. */
typedef struct {
  MaStorage *st;
  const char *enterprise_id;
  MaTimelineKnown known;
  MaTimelineVisit visit;
  void *user_data;
  GError *error;
} DeliveryVisit;

/* The caller's known with its own user_data (the backend is handed this wrapper's). */
static gboolean known_through(const MaTimelineRow *row, void *user_data)
{
  DeliveryVisit *dv = user_data;
  return !dv->error && dv->known(row, dv->user_data);
}

static void visit_with_delivery(const MaTimelineItem *item, void *user_data)
{
  DeliveryVisit *dv = user_data;
  MaTimelineItem with = *item;

  if (dv->error)
    return;
  if (item->is_activity || !item->message || item->message->direction != MA_DIRECTION_OUTBOUND ||
      !item->message->message_id) {
    dv->visit(item, dv->user_data);
    return;
  }
  if (storage_outbound_delivery(dv->st, dv->enterprise_id, item->message->message_id, &with.delivery, &dv->error) < 0)
    return;
  dv->visit(&with, dv->user_data);
  if (with.delivery) g_ptr_array_unref(with.delivery);
}

int storage_timeline_each(MaStorage *st, const char *enterprise_id, MaRecordType type, const char *record_id,
                          const MaTimelineFilter *filter, const char *cursor, int limit, MaTimelineVisit visit,
                          void *user_data, char **next_cursor, GError **error)
{
  return storage_timeline_each_known(st, enterprise_id, type, record_id, filter, cursor, limit, NULL, visit, user_data,
                                     next_cursor, error);
}

int storage_timeline_each_known(MaStorage *st, const char *enterprise_id, MaRecordType type, const char *record_id,
                                const MaTimelineFilter *filter, const char *cursor, int limit, MaTimelineKnown known,
                                MaTimelineVisit visit, void *user_data, char **next_cursor, GError **error)
{
  g_assert(st != NULL && visit != NULL);
  *next_cursor = NULL;
  /* what every backend may take as given: a page size in range, a direction it knows */
  if (limit <= 0) limit = TIMELINE_DEFAULT_LIMIT;
  if (limit > TIMELINE_MAX_LIMIT) limit = TIMELINE_MAX_LIMIT;
  if (filter && filter->direction && strcmp(filter->direction, "inbound") != 0 &&
      strcmp(filter->direction, "outbound") != 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "direction must be inbound or outbound");
    return -1;
  }
  DeliveryVisit dv = {st, enterprise_id, known, visit, user_data, NULL};
  int rc = st->be->timeline_each(st->impl, enterprise_id, type, record_id, filter, cursor, limit,
                                 known ? known_through : NULL, visit_with_delivery, &dv, next_cursor, error);
  if (rc < 0) {
    g_clear_error(&dv.error);
    return -1;
  }
  if (dv.error) {
    g_propagate_error(error, dv.error);
    g_clear_pointer(next_cursor, g_free);
    return -1;
  }
  return 0;
}
