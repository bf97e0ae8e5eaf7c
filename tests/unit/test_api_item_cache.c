/* test_api_item_cache.c - unit tests of the API's cache of rendered timeline items
 * (api_item_cache.c) and of storage's side of it (storage_timeline_each_known).
 *
 * On rows made here: a hit writes exactly the JSON kept, with the page's comma; a miss leaves the
 * page untouched; the same key with other item bytes (a changed row) misses; an activity is kept
 * per record, a message once for all its records; the byte bound holds and the least recently used
 * goes first; what must never be cached is refused (delivery states, a delivery key, no row, an
 * entry too large); clear empties it; threads racing on overlapping keys never read a torn entry.
 * On real storage (SQLite under /api/item_cache/storage/..., PostgreSQL under
 * /api/item_cache/postgresql/... when MAILAGENT_TEST_PG names one, as integration/storage_pg runs):
 * a page through the cache is byte for byte the page storage_timeline_each writes; a second page is
 * all hits and decodes nothing; a changed row misses and shows its new content; an outbound message
 * the queue holds is never answered by the cache and always shows its current delivery states.
 */
#include "agent/api/api_item_cache.h"
#include "agent/codec/codec.h"
#include "agent/codec/codec_writer.h"
#include "storage/storage.h"

#include "testutil.h"
#include "testutil_storage.h"

#include <string.h>

/* ---- on rows made here ---------------------------------------------------------------------- */

static MaTimelineRow row_of(const char *ent, int kind, const char *msg, gint64 date, const char *record,
                            const char *item)
{
  MaTimelineRow r = {ent, MA_RECORD_CONTACT, record, date, msg, kind, item, strlen(item)};
  return r;
}

/* Puts json for row as the item a storage visit would hand over (no delivery). */
static void put(ApiItemCache *c, const MaTimelineRow *row, const char *json)
{
  MaStoredMessage m = {0};
  MaActivity a = {0};
  MaTimelineItem it = {.is_activity = row->kind == 1, .row = row};
  if (row->kind == 1) it.activity = &a;
  else it.message = &m;
  api_item_cache_put(c, &it, json, strlen(json));
}

/* The page text a write produces after one item already in the array. */
static char *write_after_one(ApiItemCache *c, const MaTimelineRow *row, gboolean *hit)
{
  CodecWriter w;
  codec_writer_init(&w, g_string_new(NULL));
  codec_writer_array_begin(&w);
  codec_writer_int(&w, 1);
  *hit = api_item_cache_write(c, row, &w);
  codec_writer_array_end(&w);
  return g_string_free(w.out, FALSE);
}

static void test_hit_miss(void)
{
  ApiItemCache *c = api_item_cache_new(1 << 20);
  ApiItemCacheStats s;
  gboolean hit;
  MaTimelineRow r1 = row_of("e1", 0, "m1", 100, "c1", "item-one");

  g_autofree char *miss = write_after_one(c, &r1, &hit);
  g_assert_false(hit);
  g_assert_cmpstr(miss, ==, "[1]");
  put(c, &r1, "{\"kind\":\"message\",\"id\":\"m1\"}");
  g_autofree char *got = write_after_one(c, &r1, &hit);
  g_assert_true(hit);
  g_assert_cmpstr(got, ==, "[1,{\"kind\":\"message\",\"id\":\"m1\"}]");
  /* a message's entry serves it on every record's timeline */
  MaTimelineRow other_record = row_of("e1", 0, "m1", 100, "c2", "item-one");
  g_free(write_after_one(c, &other_record, &hit));
  g_assert_true(hit);
  /* every other part of the key misses: enterprise, message, date, kind */
  MaTimelineRow misses[] = {row_of("e2", 0, "m1", 100, "c1", "item-one"), row_of("e1", 0, "m2", 100, "c1", "item-one"),
                            row_of("e1", 0, "m1", 101, "c1", "item-one"), row_of("e1", 1, "m1", 100, "c1", "item-one")};
  for (guint i = 0; i < G_N_ELEMENTS(misses); i++) {
    g_free(write_after_one(c, &misses[i], &hit));
    g_assert_false(hit);
  }
  api_item_cache_stats(c, &s);
  g_assert_cmpuint(s.hits, ==, 2);
  g_assert_cmpuint(s.misses, ==, 5);
  g_assert_cmpuint(s.entries, ==, 1);
  api_item_cache_free(c);
}

/* The same key with other stored bytes is a changed row: a miss, then its new JSON replaces the old. */
static void test_changed_row(void)
{
  ApiItemCache *c = api_item_cache_new(1 << 20);
  ApiItemCacheStats s;
  gboolean hit;
  MaTimelineRow old_row = row_of("e1", 0, "m1", 100, "c1", "5:Alice");
  MaTimelineRow renamed = row_of("e1", 0, "m1", 100, "c1", "5:Alica");  /* same length, one byte */
  MaTimelineRow longer = row_of("e1", 0, "m1", 100, "c1", "5:Alice."); /* a prefix of it matches */

  put(c, &old_row, "{\"name\":\"Alice\"}");
  g_free(write_after_one(c, &renamed, &hit));
  g_assert_false(hit);
  g_free(write_after_one(c, &longer, &hit));
  g_assert_false(hit);
  put(c, &renamed, "{\"name\":\"Alica\"}");
  g_autofree char *got = write_after_one(c, &renamed, &hit);
  g_assert_true(hit);
  g_assert_cmpstr(got, ==, "[1,{\"name\":\"Alica\"}]");
  g_free(write_after_one(c, &old_row, &hit));
  g_assert_false(hit); /* replaced, not kept beside */
  api_item_cache_stats(c, &s);
  g_assert_cmpuint(s.entries, ==, 1);
  api_item_cache_free(c);
}

/* An activity's JSON names its record: one entry per record. */
static void test_activity_per_record(void)
{
  ApiItemCache *c = api_item_cache_new(1 << 20);
  gboolean hit;
  MaTimelineRow a1 = row_of("e1", 1, "m1", 100, "c1", "act"), a2 = row_of("e1", 1, "m1", 100, "c2", "act");

  put(c, &a1, "{\"record\":\"c1\"}");
  g_free(write_after_one(c, &a2, &hit));
  g_assert_false(hit);
  put(c, &a2, "{\"record\":\"c2\"}");
  g_autofree char *one = write_after_one(c, &a1, &hit);
  g_assert_cmpstr(one, ==, "[1,{\"record\":\"c1\"}]");
  g_autofree char *two = write_after_one(c, &a2, &hit);
  g_assert_cmpstr(two, ==, "[1,{\"record\":\"c2\"}]");
  api_item_cache_free(c);
}

/* The bound holds after every put; the least recently used goes first (a hit makes an entry new;
 * the order is kept per shard, each holding a sixteenth of the bound: here about five entries). */
static void test_eviction_bound(void)
{
  const gsize bound = API_ITEM_CACHE_SHARDS * 2048;
  ApiItemCache *c = api_item_cache_new(bound);
  ApiItemCacheStats s;
  gboolean hit;
  char json[200], msg[16];
  memset(json, 'x', sizeof json - 1);
  json[0] = '"';
  json[sizeof json - 2] = '"';
  json[sizeof json - 1] = '\0';
  MaTimelineRow first = row_of("e1", 0, "m0", 1, "c1", "item");

  put(c, &first, json);
  for (int i = 1; i < 400; i++) {
    g_snprintf(msg, sizeof msg, "m%d", i);
    MaTimelineRow r = row_of("e1", 0, msg, 1, "c1", "item");
    put(c, &r, json);
    g_free(write_after_one(c, &first, &hit)); /* m0 kept in use: never the oldest */
    g_assert_true(hit);
    api_item_cache_stats(c, &s);
    g_assert_cmpuint(s.bytes, <=, bound);
  }
  api_item_cache_stats(c, &s);
  g_assert_cmpuint(s.evictions, >, 0);
  g_assert_cmpuint(s.entries + s.evictions, ==, 400);
  g_assert_cmpuint(s.entries, >=, 40); /* entries are about 350 bytes: the bound is used, not wasted */
  MaTimelineRow newest = row_of("e1", 0, "m399", 1, "c1", "item"), oldest = row_of("e1", 0, "m1", 1, "c1", "item");
  g_free(write_after_one(c, &newest, &hit));
  g_assert_true(hit);
  g_free(write_after_one(c, &oldest, &hit));
  g_assert_false(hit);
  api_item_cache_clear(c);
  api_item_cache_stats(c, &s);
  g_assert_cmpuint(s.entries, ==, 0);
  g_assert_cmpuint(s.bytes, ==, 0);
  g_free(write_after_one(c, &first, &hit));
  g_assert_false(hit);
  api_item_cache_free(c);
}

/* Refused: an item with delivery states, an outbound message with a delivery key, an item with no
 * row (storage_timeline's copies), an entry over half a shard (2,048 bytes of a 64 KiB bound). */
static void test_never_cached(void)
{
  ApiItemCache *c = api_item_cache_new(64 * 1024);
  ApiItemCacheStats s;
  MaTimelineRow r = row_of("e1", 0, "m1", 100, "c1", "item");
  MaStoredMessage held = {.direction = MA_DIRECTION_OUTBOUND, .message_id = "q1@acme.example"};
  MaStoredMessage plain = {0};
  GPtrArray *states = g_ptr_array_new();

  MaTimelineItem with_key = {.message = &held, .row = &r};
  api_item_cache_put(c, &with_key, "{}", 2);
  MaTimelineItem with_states = {.message = &plain, .delivery = states, .row = &r};
  api_item_cache_put(c, &with_states, "{}", 2);
  MaTimelineItem no_row = {.message = &plain};
  api_item_cache_put(c, &no_row, "{}", 2);
  char big[2048];
  memset(big, 'x', sizeof big);
  MaTimelineItem fine = {.message = &plain, .row = &r};
  api_item_cache_put(c, &fine, big, sizeof big);
  api_item_cache_stats(c, &s);
  g_assert_cmpuint(s.entries, ==, 0);
  api_item_cache_put(c, &fine, "{}", 2); /* the same item, plain and small: kept */
  api_item_cache_stats(c, &s);
  g_assert_cmpuint(s.entries, ==, 1);
  g_ptr_array_unref(states);
  api_item_cache_free(c);
}

/* Threads put and read overlapping keys under a bound small enough to evict all the time: every
 * hit is exactly the JSON of its key and bytes (nothing torn or crossed), the counts add up. */
#define RACE_THREADS 4
#define RACE_ROUNDS 4000
#define RACE_KEYS 64

typedef struct {
  ApiItemCache *c;
  int seed;
  guint64 writes;
} Racer;

static gpointer race(gpointer p)
{
  Racer *rc = p;
  char msg[16], item[32], json[64];
  for (int i = 0; i < RACE_ROUNDS; i++) {
    int k = (i * 7 + rc->seed * 13) % RACE_KEYS, version = (i / RACE_KEYS) % 2;
    g_snprintf(msg, sizeof msg, "m%d", k);
    g_snprintf(item, sizeof item, "item-%d-v%d", k, version);
    g_snprintf(json, sizeof json, "{\"id\":\"m%d\",\"v\":%d}", k, version);
    MaTimelineRow r = row_of("e1", 0, msg, 100, "c1", item);
    CodecWriter w;
    codec_writer_init(&w, g_string_new(NULL));
    codec_writer_array_begin(&w);
    if (api_item_cache_write(rc->c, &r, &w)) {
      codec_writer_array_end(&w);
      g_autofree char *want = g_strdup_printf("[%s]", json);
      g_assert_cmpstr(w.out->str, ==, want);
    } else {
      put(rc->c, &r, json);
    }
    rc->writes++;
    g_string_free(w.out, TRUE);
  }
  return NULL;
}

static void test_threads(void)
{
  ApiItemCache *c = api_item_cache_new(16 * 1024);
  Racer racers[RACE_THREADS];
  GThread *threads[RACE_THREADS];
  ApiItemCacheStats s;
  for (int t = 0; t < RACE_THREADS; t++) {
    racers[t] = (Racer){c, t, 0};
    threads[t] = g_thread_new("racer", race, &racers[t]);
  }
  for (int t = 0; t < RACE_THREADS; t++) g_thread_join(threads[t]);
  api_item_cache_stats(c, &s);
  g_assert_cmpuint(s.hits + s.misses, ==, (guint64)RACE_THREADS * RACE_ROUNDS);
  g_assert_cmpuint(s.hits, >, 0);
  g_assert_cmpuint(s.bytes, <=, 16 * 1024);
  api_item_cache_free(c);
}

/* ---- on real storage (both backends) -------------------------------------------------------- */

typedef struct {
  char *dir;
  MaStorage *st;
} Fixture;

static void fx_setup(Fixture *fx, gconstpointer data)
{
  fx->dir = testutil_tempdir("ma-item-cache-XXXXXX");
  fx->st = testutil_storage_open(fx->dir, data);
  MaEnterprise e = {.id = "e1", .slug = "e1", .name = "e1", .created_at = 1};
  GError *error = NULL;
  g_assert_cmpint(storage_enterprise_create(fx->st, &e, &error), ==, 0);
  g_assert_no_error(error);
}

static void fx_teardown(Fixture *fx, gconstpointer data)
{
  storage_close(&fx->st);
  testutil_rm_rf(fx->dir);
  g_free(fx->dir);
}

static void insert_message(MaStorage *st, const char *id, gint64 date, MaDirection dir, const char *msgid)
{
  MaStoredMessage *m = ma_stored_message_new();
  GError *error = NULL;
  m->id = g_strdup(id);
  m->enterprise_id = g_strdup("e1");
  m->message_id = g_strdup(msgid);
  m->dedup_key = g_strdup_printf("dk-%s", id);
  m->subject = g_strdup_printf("Subject %s", id);
  m->direction = dir;
  m->date = date;
  m->archived_at = date;
  g_ptr_array_add(m->participants, ma_participant_new(MA_ROLE_FROM, "Hank", "hank@globex.com"));
  g_ptr_array_add(m->participants, ma_participant_new(MA_ROLE_TO, NULL, "ann@acme.com"));
  g_ptr_array_add(m->links, ma_record_ref_new(MA_RECORD_CONTACT, "c1"));
  g_assert_cmpint(storage_message_insert(st, m, &error), ==, 0);
  g_assert_no_error(error);
  ma_stored_message_free(m);
}

/* A page as api_timeline.c computes it, counting what storage asked and visited. */
typedef struct {
  CodecWriter w;
  ApiItemCache *cache;
  guint known_calls, visits;
} Page;

static gboolean page_known(const MaTimelineRow *row, void *user_data)
{
  Page *p = user_data;
  p->known_calls++;
  return api_item_cache_write(p->cache, row, &p->w);
}

static void page_visit(const MaTimelineItem *item, void *user_data)
{
  Page *p = user_data;
  p->visits++;
  api_item_cache_render(p->cache, &p->w, item);
}

/* The page's JSON (caller frees); cache NULL: storage_timeline_each, no cache at all. */
static char *page(MaStorage *st, ApiItemCache *cache, guint *known_calls, guint *visits)
{
  Page p = {.cache = cache};
  GError *error = NULL;
  char *next = NULL;
  codec_writer_init(&p.w, g_string_new(NULL));
  codec_write_page_begin(&p.w);
  int rc = cache ? storage_timeline_each_known(st, "e1", MA_RECORD_CONTACT, "c1", NULL, NULL, 10, page_known,
                                               page_visit, &p, &next, &error)
                 : storage_timeline_each(st, "e1", MA_RECORD_CONTACT, "c1", NULL, NULL, 10, page_visit, &p, &next,
                                         &error);
  g_assert_no_error(error);
  g_assert_cmpint(rc, ==, 0);
  codec_write_page_end(&p.w, next);
  g_free(next);
  if (known_calls) *known_calls = p.known_calls;
  if (visits) *visits = p.visits;
  return g_string_free(p.w.out, FALSE);
}

/* Cached pages equal uncached ones byte for byte; the second decodes nothing; a changed row (a
 * link added, an activity created) misses and shows, the rest still hit. */
static void test_storage_pages(Fixture *fx, gconstpointer data)
{
  ApiItemCache *c = api_item_cache_new(1 << 20);
  GError *error = NULL;
  guint known_calls = 0, visits = 0;
  for (int i = 1; i <= 5; i++) {
    char id[8];
    g_snprintf(id, sizeof id, "m%d", i);
    insert_message(fx->st, id, 100 * i, MA_DIRECTION_INBOUND, NULL);
  }
  MaActivity a = {.id = "act3", .enterprise_id = "e1", .message_id = "m3", .record = {MA_RECORD_CONTACT, "c1"},
                  .rule_id = "r1", .rule_name = "Log", .activity_type = "email", .title = "Logged", .created_at = 99};
  g_assert_cmpint(storage_activity_create(fx->st, &a, &error), ==, 1);

  g_autofree char *plain = page(fx->st, NULL, NULL, NULL);
  g_autofree char *first = page(fx->st, c, &known_calls, &visits);
  g_assert_cmpstr(first, ==, plain);
  g_assert_cmpuint(known_calls, ==, 6);
  g_assert_cmpuint(visits, ==, 6);
  g_autofree char *second = page(fx->st, c, &known_calls, &visits);
  g_assert_cmpstr(second, ==, plain);
  g_assert_cmpuint(known_calls, ==, 6);
  g_assert_cmpuint(visits, ==, 0); /* every row answered by the cache, none decoded */

  /* m2 gains a link: its row's item changes; the page shows the new record */
  MaRecordRef acct = {MA_RECORD_ACCOUNT, "acct9", NULL};
  g_assert_cmpint(storage_link_add(fx->st, "e1", "m2", &acct, &error), ==, 1);
  g_assert_no_error(error);
  g_autofree char *after = page(fx->st, c, &known_calls, &visits);
  g_autofree char *after_plain = page(fx->st, NULL, NULL, NULL);
  g_assert_cmpstr(after, ==, after_plain);
  g_assert_cmpstr(after, !=, plain);
  g_assert_nonnull(strstr(after, "\"acct9\""));
  g_assert_cmpuint(visits, ==, 1);
  api_item_cache_free(c);
}

/* An outbound message the queue holds is asked about but never answered by the cache (its delivery
 * states change without its row: the cache kept nothing of it) and shows its current states on
 * every page. */
static void test_storage_delivery(Fixture *fx, gconstpointer data)
{
  ApiItemCache *c = api_item_cache_new(1 << 20);
  GError *error = NULL;
  guint known_calls = 0, visits = 0;
  MaOutbound *q = ma_outbound_new();
  q->id = g_strdup("o1");
  q->enterprise_id = g_strdup("e1");
  q->mail_from = g_strdup("ann@acme.com");
  q->raw_sha256 = g_strdup("00");
  q->size = 10;
  q->created_at = 1000;
  q->message_id = g_strdup("q1@acme.example");
  MaOutboundRecipient *rcpt = g_new0(MaOutboundRecipient, 1);
  rcpt->address = g_strdup("hank@globex.com");
  rcpt->state = MA_OUT_QUEUED;
  g_ptr_array_add(q->recipients, rcpt);
  g_assert_cmpint(storage_outbound_enqueue(fx->st, q, NULL, NULL, NULL, 1000, NULL, NULL, &error), ==, 1);
  ma_outbound_free(q);
  insert_message(fx->st, "m1", 100, MA_DIRECTION_INBOUND, NULL);
  insert_message(fx->st, "out", 1000, MA_DIRECTION_OUTBOUND, "q1@acme.example");

  g_autofree char *first = page(fx->st, c, &known_calls, &visits);
  g_assert_cmpuint(known_calls, ==, 2); /* both asked, both missed */
  g_assert_cmpuint(visits, ==, 2);
  g_assert_nonnull(strstr(first, "\"state\":\"queued\""));
  g_autofree char *second = page(fx->st, c, &known_calls, &visits);
  g_assert_cmpuint(known_calls, ==, 2);
  g_assert_cmpuint(visits, ==, 1); /* the held message missed again, decoded with its states */
  g_assert_cmpstr(second, ==, first);

  g_autoptr(GPtrArray) claimed = g_ptr_array_new_with_free_func((GDestroyNotify)ma_outbound_recipient_free);
  g_assert_cmpint(storage_outbound_claim(fx->st, 1000, 1060, 10, claimed, &error), ==, 0);
  g_assert_cmpuint(claimed->len, ==, 1);
  MaOutboundRecipient *r = claimed->pdata[0];
  g_assert_cmpint(storage_outbound_result(fx->st, r->id, MA_OUT_SENT, "250 ok", 0, NULL, 1001, &error), ==, 1);
  g_assert_no_error(error);
  g_autofree char *sent = page(fx->st, c, &known_calls, &visits);
  g_assert_null(strstr(sent, "\"state\":\"queued\""));
  g_assert_nonnull(strstr(sent, "\"state\":\"sent\""));
  g_autofree char *sent_plain = page(fx->st, NULL, NULL, NULL);
  g_assert_cmpstr(sent, ==, sent_plain);
  api_item_cache_free(c);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/api/item_cache/hit_miss", test_hit_miss);
  g_test_add_func("/api/item_cache/changed_row", test_changed_row);
  g_test_add_func("/api/item_cache/activity_per_record", test_activity_per_record);
  g_test_add_func("/api/item_cache/eviction_bound", test_eviction_bound);
  g_test_add_func("/api/item_cache/never_cached", test_never_cached);
  g_test_add_func("/api/item_cache/threads", test_threads);
  testutil_storage_add("/api/item_cache/storage/pages", "/api/item_cache/postgresql/pages", Fixture, fx_setup,
                       test_storage_pages, fx_teardown);
  testutil_storage_add("/api/item_cache/storage/delivery", "/api/item_cache/postgresql/delivery", Fixture, fx_setup,
                       test_storage_delivery, fx_teardown);
  return g_test_run();
}
