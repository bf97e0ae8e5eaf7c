/* storage_timeline_row.c - decodes the item a timeline row carries (the format is in
 * storage_timeline_row.h) into the message or activity a page visits. Bounded by the item's own
 * length; never reads past it, never trusts a length or a number in it. Also encodes a new
 * message's item for SQLite's insert path, from the values that insert binds, and writes and
 * splits the position SQLite stores before each item.
 */
#include "storage_timeline_row.h"

#include "agent/lib/error.h"

#include <stdlib.h>
#include <string.h>

void storage_timeline_row_parts_init(MaTimelineRowParts *rp)
{
  memset(rp, 0, sizeof *rp); /* the buffers come with the first decode (item_begin) */
}

/* The buffers, made on the first decode: a page whose rows a MaTimelineKnown answers decodes
 * nothing, and making them cost it 4,000 instructions (scripts/bench/api/pages.sh). */
static void parts_alloc(MaTimelineRowParts *rp)
{
  rp->text_cap = 1024;
  rp->text = g_malloc(rp->text_cap);
  rp->text_len = 0;
  rp->participants = g_array_sized_new(FALSE, TRUE, sizeof(MaParticipant), 8);
  rp->attachments = g_array_sized_new(FALSE, TRUE, sizeof(MaAttachment), 4);
  rp->links = g_array_sized_new(FALSE, TRUE, sizeof(MaRecordRef), 4);
  for (int k = 0; k < 3; k++) rp->views[k] = g_ptr_array_sized_new(8);
}

void storage_timeline_row_parts_clear(MaTimelineRowParts *rp)
{
  if (rp->text) {
    g_free(rp->text);
    g_array_unref(rp->participants);
    g_array_unref(rp->attachments);
    g_array_unref(rp->links);
    for (int k = 0; k < 3; k++) g_ptr_array_unref(rp->views[k]);
  }
  memset(rp, 0, sizeof *rp);
}

/* A cursor over one item. */
typedef struct {
  const char *p, *end;
} ListReader;

/* The next field: 1 with *value (NULL for "~") and *len, 0 at the end of a list ('.', consumed),
 * -1 malformed (the item's end included: every list ends with its '.'). */
static int field_next(ListReader *r, const char **value, gsize *len)
{
  if (r->p == r->end) return -1;
  if (*r->p == '.') {
    r->p++;
    return 0;
  }
  if (*r->p == '~') {
    r->p++;
    *value = NULL;
    *len = 0;
    return 1;
  }
  gsize n = 0;
  const char *digits = r->p;
  while (r->p < r->end && *r->p >= '0' && *r->p <= '9') {
    if (r->p - digits >= 8) return -1; /* no field is near 100 MB: TIMELINE_ITEM_MAX bounds the item */
    n = n * 10 + (gsize)(*r->p++ - '0');
  }
  if (r->p == digits || r->p == r->end || *r->p != ':') return -1;
  r->p++;
  if (n > (gsize)(r->end - r->p)) return -1;
  *value = r->p;
  *len = n;
  r->p += n;
  return 1;
}

/* The next entry's count fields: 1 read, 0 at the end of the list (its '.' before any field), -1
 * malformed (an entry cut short included). */
static int entry_next(ListReader *r, int count, const char **values, gsize *lens)
{
  for (int i = 0; i < count; i++) {
    int rc = field_next(r, &values[i], &lens[i]);
    if (rc == 0 && i == 0) return 0;
    if (rc <= 0) return -1;
  }
  return 1;
}

/* A NUL-terminated copy of a field in rp->text, NULL for a NULL field. The buffer was sized for
 * the row's item before decoding (a field of n bytes takes at least n + 2 there and n + 1 here),
 * so it never moves while the row's pointers into it are handed out. */
static char *field_copy(MaTimelineRowParts *rp, const char *value, gsize len)
{
  if (!value) return NULL;
  g_assert(len < rp->text_cap - rp->text_len);
  char *at = rp->text + rp->text_len;
  memcpy(at, value, len);
  at[len] = '\0';
  rp->text_len += len + 1;
  return at;
}

/* A field holding a non-negative decimal integer (at most 18 digits), or -1. */
static gint64 field_int(const char *value, gsize len)
{
  if (!value || len == 0 || len > 18) return -1;
  gint64 v = 0;
  for (gsize i = 0; i < len; i++) {
    if (value[i] < '0' || value[i] > '9') return -1;
    v = v * 10 + (value[i] - '0');
  }
  return v;
}

static int people_decode(MaTimelineRowParts *rp, ListReader *r)
{
  const char *v[3];
  gsize n[3];
  int rc;
  while ((rc = entry_next(r, 3, v, n)) == 1) {
    gint64 role = field_int(v[0], n[0]);
    if (role < MA_ROLE_FROM || role > MA_ROLE_REPLY_TO || !v[2]) return -1;
    MaParticipant p = {(MaRole)role, field_copy(rp, v[1], n[1]), field_copy(rp, v[2], n[2])};
    g_array_append_val(rp->participants, p);
  }
  return rc;
}

static int files_decode(MaTimelineRowParts *rp, ListReader *r)
{
  const char *v[6];
  gsize n[6];
  int rc;
  while ((rc = entry_next(r, 6, v, n)) == 1) {
    gint64 is_inline = field_int(v[3], n[3]), size = field_int(v[4], n[4]);
    if (is_inline < 0 || is_inline > 1 || size < 0 || !v[5] || n[5] >= sizeof(((MaAttachment *)NULL)->sha256))
      return -1;
    MaAttachment a = {0};
    a.filename = field_copy(rp, v[0], n[0]);
    a.content_type = field_copy(rp, v[1], n[1]);
    a.content_id = field_copy(rp, v[2], n[2]);
    a.is_inline = is_inline == 1;
    a.size = (gsize)size;
    memcpy(a.sha256, v[5], n[5]);
    a.sha256[n[5]] = '\0';
    g_array_append_val(rp->attachments, a);
  }
  return rc;
}

static int links_decode(MaTimelineRowParts *rp, ListReader *r)
{
  const char *v[2];
  gsize n[2];
  int rc;
  while ((rc = entry_next(r, 2, v, n)) == 1) {
    gint64 type = field_int(v[0], n[0]);
    if (type < 0 || type > MA_RECORD_OPPORTUNITY || !v[1]) return -1;
    MaRecordRef ref = {(MaRecordType)type, field_copy(rp, v[1], n[1]), NULL};
    g_array_append_val(rp->links, ref);
  }
  return rc;
}

/* Points view at every element of values (whose elements are size bytes). */
static GPtrArray *view_of(GPtrArray *view, GArray *values, gsize size)
{
  g_ptr_array_set_size(view, 0);
  for (guint i = 0; i < values->len; i++) g_ptr_array_add(view, values->data + (gsize)i * size);
  return view;
}

/* One field that must be there (not the end of a list): 1, or -1. */
static int field_get(ListReader *r, const char **value, gsize *len)
{
  return field_next(r, value, len) == 1 ? 1 : -1;
}

/* Starts decoding an item: the buffer sized for every field's copy (see field_copy), the parts
 * emptied. FALSE when the item is missing or too long. */
static gboolean item_begin(MaTimelineRowParts *rp, ListReader *r, const char *item, gsize len)
{
  if (!rp->text) parts_alloc(rp);
  rp->text_len = 0;
  g_array_set_size(rp->participants, 0);
  g_array_set_size(rp->attachments, 0);
  g_array_set_size(rp->links, 0);
  if (!item || len > TIMELINE_ITEM_MAX) return FALSE;
  if (len + 1 > rp->text_cap) {
    rp->text_cap = MAX(len + 1, 2 * rp->text_cap);
    rp->text = g_realloc(rp->text, rp->text_cap);
  }
  r->p = item;
  r->end = item + len;
  return TRUE;
}

static int malformed(GError **error, const char *what, const char *id)
{
  g_set_error(error, MA_ERROR, MA_ERROR_INTERNAL, "timeline row of %s %s: malformed item", what, id ? id : "?");
  return -1;
}

int storage_timeline_row_message(MaTimelineRowParts *rp, const char *item, gsize len, MaStoredMessage *m,
                                 GError **error)
{
  enum { THREAD, DIRECTION, SUBJECT, SNIPPET, PARSE_ERROR, MACHINE, DELIVERY_KEY, FIELDS };
  const char *v[FIELDS];
  gsize n[FIELDS];
  ListReader r;
  if (!item_begin(rp, &r, item, len)) return malformed(error, "message", m->id);
  for (int i = 0; i < FIELDS; i++)
    if (field_get(&r, &v[i], &n[i]) < 0) return malformed(error, "message", m->id);
  gint64 direction = field_int(v[DIRECTION], n[DIRECTION]), machine = field_int(v[MACHINE], n[MACHINE]);
  if (direction < MA_DIRECTION_INBOUND || direction > MA_DIRECTION_OUTBOUND || machine < 0 || machine > G_MAXUINT ||
      people_decode(rp, &r) < 0 || files_decode(rp, &r) < 0 || links_decode(rp, &r) < 0 || r.p != r.end)
    return malformed(error, "message", m->id);
  m->thread_id = field_copy(rp, v[THREAD], n[THREAD]);
  m->direction = (MaDirection)direction;
  m->subject = field_copy(rp, v[SUBJECT], n[SUBJECT]);
  m->snippet = field_copy(rp, v[SNIPPET], n[SNIPPET]);
  m->parse_error = field_copy(rp, v[PARSE_ERROR], n[PARSE_ERROR]);
  m->machine = (guint)machine;
  m->message_id = field_copy(rp, v[DELIVERY_KEY], n[DELIVERY_KEY]);
  m->participants = view_of(rp->views[0], rp->participants, sizeof(MaParticipant));
  m->attachments = view_of(rp->views[1], rp->attachments, sizeof(MaAttachment));
  m->links = view_of(rp->views[2], rp->links, sizeof(MaRecordRef));
  return 0;
}

int storage_timeline_row_activity(MaTimelineRowParts *rp, const char *item, gsize len, MaActivity *a,
                                  GError **error)
{
  enum { ID, RULE_ID, RULE_NAME, TYPE, TITLE, CONTENT, OWNER, CREATED_AT, FIELDS };
  const char *v[FIELDS];
  gsize n[FIELDS];
  ListReader r;
  if (!item_begin(rp, &r, item, len)) return malformed(error, "activity", a->id);
  for (int i = 0; i < FIELDS; i++)
    if (field_get(&r, &v[i], &n[i]) < 0) return malformed(error, "activity", a->id);
  gint64 created_at = field_int(v[CREATED_AT], n[CREATED_AT]);
  if (!v[ID] || created_at < 0 || r.p != r.end) return malformed(error, "activity", a->id);
  a->id = field_copy(rp, v[ID], n[ID]);
  a->rule_id = field_copy(rp, v[RULE_ID], n[RULE_ID]);
  a->rule_name = field_copy(rp, v[RULE_NAME], n[RULE_NAME]);
  a->activity_type = field_copy(rp, v[TYPE], n[TYPE]);
  a->title = field_copy(rp, v[TITLE], n[TITLE]);
  a->content = field_copy(rp, v[CONTENT], n[CONTENT]);
  a->owner = field_copy(rp, v[OWNER], n[OWNER]);
  a->created_at = created_at;
  return 0;
}

/* Past one field ("~" or a length, ':' and its bytes) starting at p: where the next starts, or NULL
 * when it is malformed or runs past end. field_next's checks, without keeping the value (this runs
 * for every row a cache answers: it is most of what such a row costs storage). */
static const char *field_skip(const char *p, const char *end)
{
  if (p == end) return NULL;
  if (*p == '~') return p + 1;
  const char *digits = p;
  gsize n = 0;
  while (p < end && (guchar)(*p - '0') < 10) {
    if (p - digits >= 8) return NULL;
    n = n * 10 + (gsize)(*p++ - '0');
  }
  if (p == digits || p == end || *p != ':') return NULL;
  p++;
  return n <= (gsize)(end - p) ? p + n : NULL;
}

/* One field of a position at *p (a length, ':' and that many bytes; never "~": no part of a
 * position is NULL): its bytes in *value and *len, *p moved past it. FALSE when it is malformed
 * or runs past end. Inline, with no calls: a page runs it three times a row (pages.sh). */
static inline gboolean position_field(const char **p, const char *end, const char **value, gsize *len)
{
  const char *at = *p, *digits = at;
  const char *stop = end - at > 8 ? at + 8 : end; /* TIMELINE_ITEM_MAX bounds every length: 8 digits */
  gsize n = 0;
  for (guint d; at < stop && (d = (guchar)(*at - '0')) < 10; at++) n = n * 10 + d;
  if (at == digits || at == end || *at != ':') return FALSE; /* a ninth digit is no ':' either */
  at++;
  if (n > (gsize)(end - at)) return FALSE;
  *value = at;
  *len = n;
  *p = at + n;
  return TRUE;
}

/* The value of n decimal digits at s (n <= 19) into *out; FALSE when one is not a digit. Eight
 * at a time as one word (a date has ten; a digit loop was half of what splitting a row cost). */
static inline gboolean digits_value(const char *s, gsize n, guint64 *out)
{
  const guint64 ones = 0x0101010101010101u;
  guint64 v = 0;
  for (; n >= 8; s += 8, n -= 8) {
    guint64 w;
    memcpy(&w, s, sizeof w);
    w = GUINT64_FROM_LE(w); /* the first digit in the low byte */
    /* every byte 0x30..0x39: high nibble 3, and adding 6 keeps it 3 */
    if ((w & (0xF0 * ones)) != 0x30 * ones || ((w + 0x06 * ones) & (0xF0 * ones)) != 0x30 * ones) return FALSE;
    w &= 0x0F * ones;
    w = (w * 10 + (w >> 8)) & 0x00FF00FF00FF00FFu;    /* pairs of digits */
    w = (w * 100 + (w >> 16)) & 0x0000FFFF0000FFFFu;  /* fours */
    w = (w * 10000 + (w >> 32)) & 0x00000000FFFFFFFFu; /* all eight */
    v = v * 100000000u + w;
  }
  for (; n > 0; s++, n--) {
    guint d = (guchar)(*s - '0');
    if (d >= 10) return FALSE;
    v = v * 10 + d;
  }
  *out = v;
  return TRUE;
}

int storage_timeline_row_position(const char *stored, gsize len, MaTimelinePositioned *out)
{
  if (!stored || len > TIMELINE_ITEM_MAX) return -1; /* before any arithmetic: NULL + 0 is undefined */
  const char *p = stored, *end = stored + len, *date, *kind;
  gsize date_len, kind_len;
  if (!position_field(&p, end, &date, &date_len) ||
      !position_field(&p, end, &out->message_id, &out->message_id_len) || !position_field(&p, end, &kind, &kind_len))
    return -1;
  /* the date: decimal, maybe negative (a message dated before 1970), at most 19 digits, any gint64 */
  gboolean negative = date_len > 1 && date[0] == '-';
  gsize first = negative ? 1 : 0;
  guint64 v;
  if (date_len == first || date_len - first > 19 || !digits_value(date + first, date_len - first, &v) ||
      v > (guint64)G_MAXINT64 + (negative ? 1 : 0)) /* any gint64, no more */
    return -1;
  if (out->message_id_len == 0 || kind_len != 1 || (kind[0] != '0' && kind[0] != '1')) return -1;
  out->date = negative ? (gint64)(0 - v) : (gint64)v;
  out->kind = kind[0] - '0';
  out->item = p;
  out->item_len = (gsize)(end - p);
  return 0;
}

gboolean storage_timeline_row_has_delivery_key(const MaTimelineRow *row)
{
  enum { DELIVERY_KEY = 6 }; /* the seventh field of a message row's item (storage_timeline_row.h) */
  const char *p = row->item, *end = row->item + row->item_len;

  if (row->kind == 1) return FALSE;
  if (!row->item || row->item_len > TIMELINE_ITEM_MAX) return TRUE;
  for (int i = 0; i < DELIVERY_KEY; i++)
    if (!(p = field_skip(p, end))) return TRUE;
  return p == end || *p != '~'; /* a NULL field is "~"; anything else names a key (or is malformed) */
}

int storage_timeline_row_visit(MaTimelineRowParts *rp, const MaTimelineRow *row, MaTimelineKnown known,
                               MaTimelineVisit visit, void *user_data, GError **error)
{
  if (known && known(row, user_data)) {
    /* known refuses rows with a delivery key (MaTimelineKnown); checked only where asserts are */
#ifndef NDEBUG
    g_assert(!storage_timeline_row_has_delivery_key(row));
#endif
    return 0;
  }
  if (row->kind == 1) {
    MaActivity a = {0};
    MaTimelineItem it = {.is_activity = TRUE, .activity = &a, .row = row};
    a.enterprise_id = (char *)row->enterprise_id;
    a.message_id = (char *)row->message_id;
    a.record.type = row->record_type;
    a.record.id = (char *)row->record_id;
    a.message_date = row->date;
    if (storage_timeline_row_activity(rp, row->item, row->item_len, &a, error) < 0) return -1;
    visit(&it, user_data);
    return 0;
  }
  MaStoredMessage m = {0};
  MaTimelineItem it = {.is_activity = FALSE, .message = &m, .row = row};
  m.id = (char *)row->message_id;
  m.enterprise_id = (char *)row->enterprise_id;
  m.date = row->date;
  if (storage_timeline_row_message(rp, row->item, row->item_len, &m, error) < 0) return -1;
  visit(&it, user_data);
  return 0;
}

/* ---- encoding: a new message's item on SQLite's insert path ------------------------------------ */

/* Appends v in decimal (no g_snprintf: this runs for every field of every archived message). */
static void put_decimal(GString *s, guint64 v)
{
  char digits[24];
  int n = 0;
  do {
    digits[sizeof digits - 1 - n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  g_string_append_len(s, digits + sizeof digits - n, n);
}

/* The field of n bytes at v, as TIMELINE_FIELD writes it: its byte length in decimal, ':', its bytes. */
static void field_put_len(GString *s, const char *v, gsize n)
{
  put_decimal(s, n);
  g_string_append_c(s, ':');
  g_string_append_len(s, v, (gssize)n);
}

/* The field of v ("~" for NULL). */
static void field_put(GString *s, const char *v)
{
  if (!v)
    g_string_append_c(s, '~');
  else
    field_put_len(s, v, strlen(v));
}

/* The field of an integer column: SQLite writes it as decimal text ('-' first when negative). */
static void field_put_int(GString *s, gint64 v)
{
  guint64 magnitude = v < 0 ? -(guint64)v : (guint64)v;
  gsize digits = 1;
  for (guint64 x = magnitude; x >= 10; x /= 10) digits++;
  put_decimal(s, digits + (v < 0 ? 1 : 0));
  g_string_append_c(s, ':');
  if (v < 0) g_string_append_c(s, '-');
  put_decimal(s, magnitude);
}

/* A row's position as TIMELINE_POSITION writes it: date, message id, kind. */
static void position_put(GString *s, gint64 date, const char *message_id, int kind)
{
  g_assert(kind == 0 || kind == 1);
  field_put_int(s, date);
  field_put(s, message_id);
  field_put_int(s, kind);
}

static gint link_order(gconstpointer a, gconstpointer b)
{
  const MaRecordRef *x = *(const MaRecordRef *const *)a, *y = *(const MaRecordRef *const *)b;
  if (x->type != y->type) return x->type < y->type ? -1 : 1;
  return strcmp(x->id, y->id); /* bytes, as the key (message_id, record_type, record_id) orders them */
}

char *storage_timeline_row_message_stored(const MaStoredMessage *m, const char *snippet, gboolean delivery_key)
{
  GString *s = g_string_sized_new(512);
  position_put(s, m->date, m->id, 0);
  field_put(s, m->thread_id);
  field_put_int(s, (gint64)m->direction);
  field_put(s, m->subject ? m->subject : "");
  field_put(s, snippet);
  field_put(s, m->parse_error);
  field_put_int(s, (int)m->machine); /* bound as an int */
  if (delivery_key)
    field_put(s, m->message_id);
  else
    g_string_append_c(s, '~');
  for (guint i = 0; m->participants && i < m->participants->len; i++) {
    const MaParticipant *p = g_ptr_array_index(m->participants, i);
    if (p->role != MA_ROLE_FROM && p->role != MA_ROLE_TO && p->role != MA_ROLE_CC) continue;
    field_put_int(s, (gint64)p->role);
    field_put(s, p->name);
    field_put(s, p->address ? p->address : "");
  }
  g_string_append_c(s, '.');
  for (guint i = 0; m->attachments && i < m->attachments->len; i++) {
    const MaAttachment *a = g_ptr_array_index(m->attachments, i);
    field_put(s, a->filename);
    field_put(s, a->content_type);
    field_put(s, a->content_id);
    field_put_int(s, a->is_inline ? 1 : 0);
    field_put_int(s, (gint64)a->size);
    field_put(s, a->sha256);
  }
  g_string_append_c(s, '.');
  /* the message's links as its rows hold them: in key order, each once */
  guint n = m->links ? m->links->len : 0;
  g_autofree gpointer *links = g_new(gpointer, n + 1);
  guint k = 0;
  for (guint i = 0; i < n; i++)
    if (((const MaRecordRef *)g_ptr_array_index(m->links, i))->id) links[k++] = g_ptr_array_index(m->links, i);
  qsort(links, k, sizeof *links, (int (*)(const void *, const void *))link_order);
  for (guint i = 0; i < k; i++) {
    if (i > 0 && link_order(&links[i - 1], &links[i]) == 0) continue;
    const MaRecordRef *r = links[i];
    field_put_int(s, (gint64)r->type);
    field_put(s, r->id);
  }
  g_string_append_c(s, '.');
  return g_string_free(s, FALSE);
}

char *storage_timeline_row_positioned(gint64 date, const char *message_id, int kind, const char *item)
{
  GString *s = g_string_sized_new(48 + strlen(message_id) + (item ? strlen(item) : 0));
  position_put(s, date, message_id, kind);
  g_string_append(s, item ? item : "");
  return g_string_free(s, FALSE);
}
