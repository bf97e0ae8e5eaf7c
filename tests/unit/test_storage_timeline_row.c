/* test_storage_timeline_row.c - unit tests of the timeline row's parts decoder
 * (storage_timeline_row.c): lists decoded whole (names that look like the format's own length
 * prefixes, NULL fields, UTF-8), fed byte by byte (every prefix of a valid list, in a buffer of
 * exactly that length: only the prefixes ending on an entry decode, to those entries), malformed
 * lists refused, and the buffer reused from row to row.
 */
#include "agent/lib/error.h"
#include "storage/storage_timeline_row.h"

#include <string.h>

/* Decodes lists (each NULL or a C string) into rp and m; the lists are copied to exact-size
 * buffers first, so a read past one is caught under ASan. */
static int decode(MaTimelineRowParts *rp, const char *people, const char *files, const char *links,
                  MaStoredMessage *m, GError **error)
{
  gsize np = people ? strlen(people) : 0, nf = files ? strlen(files) : 0, nl = links ? strlen(links) : 0;
  char *p = people ? g_memdup2(people, np) : NULL, *f = files ? g_memdup2(files, nf) : NULL;
  char *l = links ? g_memdup2(links, nl) : NULL;
  memset(m, 0, sizeof *m);
  m->id = "m1";
  int rc = storage_timeline_row_parts(rp, p, np, f, nf, l, nl, m, error);
  g_free(p);
  g_free(f);
  g_free(l);
  return rc;
}

#define PEOPLE "1:05:Alice3:a@x" "1:2~12:bob@acme.com" "1:38:12:~ 3:x9:c@gl\xc3\xb6.de"
#define FILES "5:a.pdf15:application/pdf~1:02:423:abc" "~~5:<cid>1:11:03:def"
#define LINKS "1:12:c1" "1:03:acc"

static void test_whole(void)
{
  MaTimelineRowParts rp;
  MaStoredMessage m;
  GError *error = NULL;
  storage_timeline_row_parts_init(&rp);
  g_assert_cmpint(decode(&rp, PEOPLE, FILES, LINKS, &m, &error), ==, 0);
  g_assert_no_error(error);
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
  MaAttachment *a = m.attachments->pdata[0];
  g_assert_cmpstr(a->filename, ==, "a.pdf");
  g_assert_cmpstr(a->content_type, ==, "application/pdf");
  g_assert_null(a->content_id);
  g_assert_false(a->is_inline);
  g_assert_cmpuint(a->size, ==, 42);
  g_assert_cmpstr(a->sha256, ==, "abc");
  a = m.attachments->pdata[1];
  g_assert_null(a->filename);
  g_assert_cmpstr(a->content_id, ==, "<cid>");
  g_assert_true(a->is_inline);
  g_assert_cmpuint(a->size, ==, 0);
  g_assert_cmpuint(m.links->len, ==, 2);
  g_assert_cmpint(((MaRecordRef *)m.links->pdata[0])->type, ==, MA_RECORD_CONTACT);
  g_assert_cmpstr(((MaRecordRef *)m.links->pdata[0])->id, ==, "c1");
  g_assert_cmpint(((MaRecordRef *)m.links->pdata[1])->type, ==, MA_RECORD_ACCOUNT);
  g_assert_cmpstr(((MaRecordRef *)m.links->pdata[1])->id, ==, "acc");
  /* the next row replaces the previous one's parts; NULL lists are no parts */
  g_assert_cmpint(decode(&rp, NULL, NULL, "1:22:l7", &m, &error), ==, 0);
  g_assert_cmpuint(m.participants->len, ==, 0);
  g_assert_cmpuint(m.attachments->len, ==, 0);
  g_assert_cmpuint(m.links->len, ==, 1);
  g_assert_cmpstr(((MaRecordRef *)m.links->pdata[0])->id, ==, "l7");
  storage_timeline_row_parts_clear(&rp);
}

/* Every prefix of each list, one byte longer each time: it decodes exactly when it ends on an
 * entry's end, to the entries before it, and is refused otherwise. */
static void test_byte_by_byte(void)
{
  static const struct {
    const char *list;
    int which;               /* 0 people, 1 files, 2 links */
    const gsize ends[4];     /* lengths at which an entry ends (0-terminated after the first) */
  } lists[] = {
    {PEOPLE, 0, {15, 34, 58, 0}},
    {FILES, 1, {38, 58, 0, 0}},
    {LINKS, 2, {7, 15, 0, 0}},
  };
  MaTimelineRowParts rp;
  storage_timeline_row_parts_init(&rp);
  for (guint k = 0; k < G_N_ELEMENTS(lists); k++) {
    gsize len = strlen(lists[k].list);
    guint entries = 0;
    for (gsize n = 0; n <= len; n++) {
      g_autofree char *prefix = g_strndup(lists[k].list, n);
      const char *as[3] = {NULL, NULL, NULL};
      as[lists[k].which] = prefix;
      MaStoredMessage m;
      GError *error = NULL;
      gboolean at_end = n == 0;
      for (guint e = 0; e < G_N_ELEMENTS(lists[k].ends) && lists[k].ends[e]; e++)
        if (lists[k].ends[e] == n) {
          at_end = TRUE;
          entries = e + 1;
        }
      int rc = decode(&rp, as[0], as[1], as[2], &m, &error);
      if (at_end) {
        g_assert_no_error(error);
        g_assert_cmpint(rc, ==, 0);
        GPtrArray *got = lists[k].which == 0 ? m.participants : lists[k].which == 1 ? m.attachments : m.links;
        g_assert_cmpuint(got->len, ==, n == 0 ? 0 : entries);
      } else {
        g_assert_cmpint(rc, ==, -1);
        g_assert_error(error, MA_ERROR, MA_ERROR_INTERNAL);
        g_clear_error(&error);
      }
    }
    g_assert_cmpuint(entries, >=, 2);
  }
  storage_timeline_row_parts_clear(&rp);
}

static void test_malformed(void)
{
  static const struct {
    const char *people, *files, *links;
  } bad[] = {
    {"1:05Alice3:a@x", NULL, NULL},                 /* no ':' after a length */
    {"1:05:Alice30:a@x", NULL, NULL},               /* a length past the end */
    {"1:05:Alice~", NULL, NULL},                    /* a NULL address */
    {"1:95:Alice3:a@x", NULL, NULL},                /* a role out of range */
    {"2:105:Alice3:a@x", NULL, NULL},               /* a role out of range, two digits */
    {"1:x5:Alice3:a@x", NULL, NULL},                /* a role that is no number */
    {"999999999:x", NULL, NULL},                    /* a length of nine digits */
    {":x", NULL, NULL},                             /* no length */
    {NULL, "~~~1:21:0~", NULL},                     /* inline neither 0 nor 1, no digest */
    {NULL, "~~~1:01:0~", NULL},                     /* no digest */
    {NULL, "~~~1:02:-13:abc", NULL},                /* a negative size */
    {NULL, "~~~1:01:065:00000000000000000000000000000000000000000000000000000000000000000", NULL}, /* digest too long */
    {NULL, NULL, "1:9~"},                           /* no record id, type out of range */
    {NULL, NULL, "1:42:c1"},                        /* a record type out of range */
    {NULL, NULL, "1:12:c11:1"},                     /* an entry cut short */
  };
  MaTimelineRowParts rp;
  storage_timeline_row_parts_init(&rp);
  for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
    MaStoredMessage m;
    GError *error = NULL;
    g_test_message("case %u", i);
    g_assert_cmpint(decode(&rp, bad[i].people, bad[i].files, bad[i].links, &m, &error), ==, -1);
    g_assert_error(error, MA_ERROR, MA_ERROR_INTERNAL);
    g_clear_error(&error);
  }
  storage_timeline_row_parts_clear(&rp);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/storage/timeline_row/whole", test_whole);
  g_test_add_func("/storage/timeline_row/byte-by-byte", test_byte_by_byte);
  g_test_add_func("/storage/timeline_row/malformed", test_malformed);
  return g_test_run();
}
