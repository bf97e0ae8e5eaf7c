/* test_storage_timeline_row.c - unit tests of the timeline row's item decoder
 * (storage_timeline_row.c): items decoded whole (names that look like the format's own length
 * prefixes, NULL fields, UTF-8, an activity), fed byte by byte (every prefix of a valid item, in a
 * buffer of exactly that length, is refused: an item ends with its lists' ends and nothing
 * after), malformed items refused, and the buffer reused from row to row.
 */
#include "agent/lib/error.h"
#include "storage/storage_timeline_row.h"

#include <string.h>

#define SCALARS "10:t-15:Hello" "1:1" "~" "5:Hello" "~" "1:1" "10:q@acme.com"
#define PEOPLE "1:05:Alice3:a@x" "1:2~12:bob@acme.com" "1:38:12:~ 3:x9:c@gl\xc3\xb6.de"
#define FILES "5:a.pdf15:application/pdf~1:02:423:abc" "~~5:<cid>1:11:03:def"
#define LINKS "1:12:c1" "1:03:acc"
#define ITEM SCALARS PEOPLE "." FILES "." LINKS "."
#define ACTIVITY "4:act12:r1~5:email4:Note~~2:99"

/* Decodes the first len bytes of item (NULL: none) as a message (or an activity) into rp; the
 * bytes are copied to an exact-size buffer first, so a read past them is caught under ASan. */
static int decode(MaTimelineRowParts *rp, const char *item, gsize len, gboolean activity, MaStoredMessage *m,
                  MaActivity *a, GError **error)
{
  char *copy = item ? g_memdup2(item, len) : NULL;
  memset(m, 0, sizeof *m);
  memset(a, 0, sizeof *a);
  m->id = "m1";
  int rc = activity ? storage_timeline_row_activity(rp, copy, len, a, error)
                    : storage_timeline_row_message(rp, copy, len, m, error);
  g_free(copy);
  return rc;
}

static void test_whole(void)
{
  MaTimelineRowParts rp;
  MaStoredMessage m;
  MaActivity a;
  GError *error = NULL;
  storage_timeline_row_parts_init(&rp);
  g_assert_cmpint(decode(&rp, ITEM, strlen(ITEM), FALSE, &m, &a, &error), ==, 0);
  g_assert_no_error(error);
  g_assert_cmpstr(m.thread_id, ==, "t-15:Hello"); /* a field may hold what looks like another */
  g_assert_cmpint(m.direction, ==, MA_DIRECTION_OUTBOUND);
  g_assert_null(m.subject);
  g_assert_cmpstr(m.snippet, ==, "Hello");
  g_assert_null(m.parse_error);
  g_assert_cmpuint(m.machine, ==, 1);
  g_assert_cmpstr(m.message_id, ==, "q@acme.com");
  g_assert_cmpuint(m.participants->len, ==, 3);
  MaParticipant *p = m.participants->pdata[0];
  g_assert_cmpint(p->role, ==, MA_ROLE_FROM);
  g_assert_cmpstr(p->name, ==, "Alice");
  g_assert_cmpstr(p->address, ==, "a@x");
  p = m.participants->pdata[1];
  g_assert_cmpint(p->role, ==, MA_ROLE_TO);
  g_assert_null(p->name);
  g_assert_cmpstr(p->address, ==, "bob@acme.com");
  p = m.participants->pdata[2];
  g_assert_cmpint(p->role, ==, MA_ROLE_CC);
  g_assert_cmpstr(p->name, ==, "12:~ 3:x");
  g_assert_cmpstr(p->address, ==, "c@gl\xc3\xb6.de");
  g_assert_cmpuint(m.attachments->len, ==, 2);
  MaAttachment *x = m.attachments->pdata[0];
  g_assert_cmpstr(x->filename, ==, "a.pdf");
  g_assert_cmpstr(x->content_type, ==, "application/pdf");
  g_assert_null(x->content_id);
  g_assert_false(x->is_inline);
  g_assert_cmpuint(x->size, ==, 42);
  g_assert_cmpstr(x->sha256, ==, "abc");
  x = m.attachments->pdata[1];
  g_assert_null(x->filename);
  g_assert_cmpstr(x->content_id, ==, "<cid>");
  g_assert_true(x->is_inline);
  g_assert_cmpuint(x->size, ==, 0);
  g_assert_cmpuint(m.links->len, ==, 2);
  g_assert_cmpint(((MaRecordRef *)m.links->pdata[0])->type, ==, MA_RECORD_CONTACT);
  g_assert_cmpstr(((MaRecordRef *)m.links->pdata[0])->id, ==, "c1");
  g_assert_cmpint(((MaRecordRef *)m.links->pdata[1])->type, ==, MA_RECORD_ACCOUNT);
  g_assert_cmpstr(((MaRecordRef *)m.links->pdata[1])->id, ==, "acc");
  /* the next row replaces the previous one's fields and parts; empty lists are no parts */
  static const char next[] = "~1:0~~~1:0~..1:22:l7.";
  g_assert_cmpint(decode(&rp, next, strlen(next), FALSE, &m, &a, &error), ==, 0);
  g_assert_null(m.thread_id);
  g_assert_null(m.message_id);
  g_assert_cmpuint(m.participants->len, ==, 0);
  g_assert_cmpuint(m.attachments->len, ==, 0);
  g_assert_cmpuint(m.links->len, ==, 1);
  g_assert_cmpstr(((MaRecordRef *)m.links->pdata[0])->id, ==, "l7");
  /* an activity */
  g_assert_cmpint(decode(&rp, ACTIVITY, strlen(ACTIVITY), TRUE, &m, &a, &error), ==, 0);
  g_assert_cmpstr(a.id, ==, "act1");
  g_assert_cmpstr(a.rule_id, ==, "r1");
  g_assert_null(a.rule_name);
  g_assert_cmpstr(a.activity_type, ==, "email");
  g_assert_cmpstr(a.title, ==, "Note");
  g_assert_null(a.content);
  g_assert_null(a.owner);
  g_assert_cmpint(a.created_at, ==, 99);
  storage_timeline_row_parts_clear(&rp);
}

/* Every prefix of a message item and of an activity item, one byte longer each time: only the
 * whole item decodes; every shorter one is refused (never read past). */
static void test_byte_by_byte(void)
{
  static const struct {
    const char *item;
    gboolean activity;
  } items[] = {{ITEM, FALSE}, {ACTIVITY, TRUE}};
  MaTimelineRowParts rp;
  storage_timeline_row_parts_init(&rp);
  for (guint k = 0; k < G_N_ELEMENTS(items); k++) {
    gsize len = strlen(items[k].item);
    for (gsize n = 0; n <= len; n++) {
      MaStoredMessage m;
      MaActivity a;
      GError *error = NULL;
      int rc = decode(&rp, items[k].item, n, items[k].activity, &m, &a, &error);
      if (n == len) {
        g_assert_no_error(error);
        g_assert_cmpint(rc, ==, 0);
      } else {
        g_assert_cmpint(rc, ==, -1);
        g_assert_error(error, MA_ERROR, MA_ERROR_INTERNAL);
        g_clear_error(&error);
      }
    }
  }
  storage_timeline_row_parts_clear(&rp);
}

static void test_malformed(void)
{
  static const struct {
    const char *item;
    gboolean activity;
  } bad[] = {
    {SCALARS "1:05Alice3:a@x..." , FALSE},            /* no ':' after a length */
    {SCALARS "1:05:Alice30:a@x...", FALSE},           /* a length past the end */
    {SCALARS "1:05:Alice~...", FALSE},                /* a NULL address */
    {SCALARS "1:95:Alice3:a@x...", FALSE},            /* a role out of range */
    {SCALARS "2:105:Alice3:a@x...", FALSE},           /* a role out of range, two digits */
    {SCALARS "1:x5:Alice3:a@x...", FALSE},            /* a role that is no number */
    {SCALARS "999999999:x...", FALSE},                /* a length of nine digits */
    {SCALARS ":x...", FALSE},                         /* no length */
    {SCALARS ".~~~1:21:0~..", FALSE},                 /* inline neither 0 nor 1, no digest */
    {SCALARS ".~~~1:01:0~..", FALSE},                 /* no digest */
    {SCALARS ".~~~1:02:-13:abc..", FALSE},            /* a negative size */
    {SCALARS ".~~~1:01:065:00000000000000000000000000000000000000000000000000000000000000000..", FALSE},
    {SCALARS "..1:9~.", FALSE},                       /* no record id, type out of range */
    {SCALARS "..1:42:c1.", FALSE},                    /* a record type out of range */
    {SCALARS "..1:12:c11:1.", FALSE},                 /* an entry cut short */
    {SCALARS "...", FALSE},                           /* fine so far: see the next ones */
    {SCALARS "....", FALSE},                          /* a byte after the item */
    {SCALARS "..", FALSE},                            /* a list missing */
    {"~1:2~~~1:0~...", FALSE},                        /* a direction out of range */
    {"~1:0~~~~~...", FALSE},                          /* no machine flags */
    {"~1:0~~~1:0...", FALSE},                         /* a scalar missing */
    {"~~~~~~~2:99", TRUE},                            /* an activity without an id */
    {"4:act1~~~~~~~", TRUE},                          /* an activity without a creation time */
    {ACTIVITY "~", TRUE},                             /* a field left over */
    {ACTIVITY ".", TRUE},                             /* a byte after the item */
  };
  MaTimelineRowParts rp;
  storage_timeline_row_parts_init(&rp);
  for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
    MaStoredMessage m;
    MaActivity a;
    GError *error = NULL;
    g_test_message("case %u: %s", i, bad[i].item);
    int rc = decode(&rp, bad[i].item, strlen(bad[i].item), bad[i].activity, &m, &a, &error);
    if (i == 15) { /* the one well-formed item of the table: every list empty */
      g_assert_cmpint(rc, ==, 0);
      continue;
    }
    g_assert_cmpint(rc, ==, -1);
    g_assert_error(error, MA_ERROR, MA_ERROR_INTERNAL);
    g_clear_error(&error);
  }
  /* no item at all */
  MaStoredMessage m;
  MaActivity a;
  GError *error = NULL;
  g_assert_cmpint(decode(&rp, NULL, 0, FALSE, &m, &a, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_INTERNAL);
  g_clear_error(&error);
  storage_timeline_row_parts_clear(&rp);
}

/* The delivery-key check that keeps held outbound messages away from a MaTimelineKnown: the seventh
 * field's NULL or not, for every cut of an item (a cut item is malformed: TRUE, so it is decoded
 * and its error reported), and never for an activity. */
static void test_delivery_key(void)
{
  static const char with_key[] = "1:03:abc5:Hello~~1:05:q@x.y..1:12:c1.";
  static const char without[] = "1:03:abc5:Hello~~1:0~..1:12:c1.";
  MaTimelineRow row = {"e1", MA_RECORD_CONTACT, "c1", 100, "m1", 0, with_key, strlen(with_key)};
  g_assert_true(storage_timeline_row_has_delivery_key(&row));
  row.item = without;
  row.item_len = strlen(without);
  g_assert_false(storage_timeline_row_has_delivery_key(&row));
  /* cut before the seventh field is whole: malformed, so TRUE */
  for (gsize cut = 0; cut < 20; cut++) {
    row.item_len = cut;
    g_assert_true(storage_timeline_row_has_delivery_key(&row));
  }
  row.item_len = strlen(without);
  row.kind = 1;
  row.item = with_key;
  g_assert_false(storage_timeline_row_has_delivery_key(&row));
  row.kind = 0;
  row.item = NULL;
  g_assert_true(storage_timeline_row_has_delivery_key(&row));
}

/* SQLite's stored row: the position written in C reads back with the item after it, a date
 * before 1970 included; a position that is cut, not an integer, without a message id or with
 * another kind is malformed. */
static void test_position(void)
{
  MaTimelinePositioned at;
  g_autofree char *stored = storage_timeline_row_positioned(1700000000, "m1", 1, "2:ab");
  g_assert_cmpstr(stored, ==, "10:17000000002:m11:12:ab");
  g_assert_cmpint(storage_timeline_row_position(stored, strlen(stored), &at), ==, 0);
  g_assert_cmpint(at.date, ==, 1700000000);
  g_assert_cmpint(at.kind, ==, 1);
  g_assert_cmpmem(at.message_id, at.message_id_len, "m1", 2);
  g_assert_cmpmem(at.item, at.item_len, "2:ab", 4);
  g_autofree char *old = storage_timeline_row_positioned(-5, "m2", 0, "");
  g_assert_cmpint(storage_timeline_row_position(old, strlen(old), &at), ==, 0);
  g_assert_cmpint(at.date, ==, -5);
  g_assert_cmpuint(at.item_len, ==, 0);
  /* dates of every length up to 18 digits and the ends of gint64, a bad byte at every place; one past the ends */
  for (gint64 d = 1, k = 1; k <= 18; k++, d = d * 10 + (k % 10)) {
    g_autofree char *p = storage_timeline_row_positioned(d, "m", 0, "");
    g_assert_cmpint(storage_timeline_row_position(p, strlen(p), &at), ==, 0);
    g_assert_cmpint(at.date, ==, d);
  }
  const gint64 ends[] = {G_MAXINT64, G_MININT64, G_MININT64 + 1};
  for (gsize i = 0; i < G_N_ELEMENTS(ends); i++) {
    g_autofree char *p = storage_timeline_row_positioned(ends[i], "m", 0, "");
    g_assert_cmpint(storage_timeline_row_position(p, strlen(p), &at), ==, 0);
    g_assert_cmpint(at.date, ==, ends[i]);
  }
  const char *past[] = {"19:92233720368547758081:m1:0", "20:-92233720368547758091:m1:0", "19:99999999999999999991:m1:0"};
  for (gsize i = 0; i < G_N_ELEMENTS(past); i++)
    g_assert_cmpint(storage_timeline_row_position(past[i], strlen(past[i]), &at), ==, -1);
  for (gsize i = 3; i < 3 + 18; i++) {
    char p[] = "18:1234567890123456781:m1:0";
    p[i] = i % 2 ? '/' : ':'; /* just below '0', just above '9' */
    g_assert_cmpint(storage_timeline_row_position(p, strlen(p), &at), ==, -1);
  }
  const char *bad[] = {"", "10:1700000000", "10:17000000002:m1", "10:17000000002:m11:2", "1:x2:m11:0",
                       "10:1700000000~1:0", "10:17000000000:1:0", "1:-2:m11:0", "2:--2:m11:0"};
  for (gsize i = 0; i < G_N_ELEMENTS(bad); i++)
    g_assert_cmpint(storage_timeline_row_position(bad[i], strlen(bad[i]), &at), ==, -1);
  g_assert_cmpint(storage_timeline_row_position(NULL, 0, &at), ==, -1);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/storage/timeline_row/whole", test_whole);
  g_test_add_func("/storage/timeline_row/byte-by-byte", test_byte_by_byte);
  g_test_add_func("/storage/timeline_row/malformed", test_malformed);
  g_test_add_func("/storage/timeline_row/delivery_key", test_delivery_key);
  g_test_add_func("/storage/timeline_row/position", test_position);
  return g_test_run();
}
