/* clock.c - the clock (real, or the test clock of clock.h), RFC 3339 conversions and time-ordered
 * ids (random bits from a per-thread pool refilled from the CSPRNG, dropped after fork). */
#include "clock.h"
#include "crypto.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The test clock's state. test_ms > 0 overrides everything (unit tests). Otherwise the environment
 * is read once: fixed_ms from MAILAGENT_FAKE_NOW, or clock_file from MAILAGENT_CLOCK_FILE, whose
 * value (file_ms, 0 while unreadable) is re-read at most every CLOCK_FILE_POLL_US. */
#define CLOCK_FILE_POLL_US 50000
static gint64 test_ms; /* set by a unit test before it starts threads */
static gint64 fixed_ms;
static char *clock_file;
static gint64 file_ms;
static gint64 file_read_at_us; /* monotonic time of the last read; 0 before the first */
static GMutex file_lock;

static gpointer clock_env_init(gpointer unused)
{
  const char *fake = g_getenv("MAILAGENT_FAKE_NOW");
  if (fake && *fake) fixed_ms = g_ascii_strtoll(fake, NULL, 10) * 1000;
  const char *file = g_getenv("MAILAGENT_CLOCK_FILE");
  if (!fixed_ms && file && *file) clock_file = g_strdup(file);
  return NULL;
}

/* "<seconds>[.<milliseconds>]" -> milliseconds, 0 when the text is not that. */
static gint64 clock_parse_file_text(const char *text)
{
  char *end = NULL;
  gint64 s = g_ascii_strtoll(text, &end, 10);
  if (end == text || s <= 0) return 0;
  gint64 ms = 0;
  if (*end == '.') {
    int digits = 0;
    for (end++; g_ascii_isdigit(*end) && digits < 3; end++, digits++) ms = ms * 10 + (*end - '0');
    for (; digits < 3; digits++) ms *= 10;
  }
  return s * 1000 + ms;
}

static gint64 clock_file_now_ms(void)
{
  gint64 mono = g_get_monotonic_time();
  g_mutex_lock(&file_lock);
  if (file_read_at_us == 0 || mono - file_read_at_us >= CLOCK_FILE_POLL_US) {
    g_autofree char *text = NULL;
    file_ms = g_file_get_contents(clock_file, &text, NULL, NULL) ? clock_parse_file_text(text) : 0;
    file_read_at_us = mono;
  }
  gint64 ms = file_ms;
  g_mutex_unlock(&file_lock);
  return ms;
}

gint64 ma_now_ms(void)
{
  static GOnce once = G_ONCE_INIT;
  if (test_ms > 0) return test_ms;
  g_once(&once, clock_env_init, NULL);
  if (fixed_ms) return fixed_ms;
  if (clock_file) {
    gint64 ms = clock_file_now_ms();
    if (ms > 0) return ms;
  }
  return g_get_real_time() / 1000;
}

gint64 ma_now(void) { return ma_now_ms() / 1000; }

void ma_clock_set_for_test(gint64 unix_ms) { test_ms = unix_ms; }

/* The random part of ids comes from a per-thread pool filled by ma_random_bytes ID_POOL bytes at a
 * time: one RAND_bytes call (thousands of instructions and a getpid() system call) served every
 * id before, several per archived message. A forked child drops the pool it inherited, so parent
 * and child never hand out the same bits. */
#define ID_POOL 512
static volatile gint id_fork_generation;
static _Thread_local guint8 id_pool[ID_POOL];
static _Thread_local gsize id_pool_used = ID_POOL;
static _Thread_local gint id_pool_generation;

static void id_after_fork_child(void) { id_fork_generation++; }

static gpointer id_pool_init(gpointer unused)
{
  pthread_atfork(NULL, NULL, id_after_fork_child);
  return NULL;
}

static guint64 id_random_bits(void)
{
  static GOnce once = G_ONCE_INIT;
  g_once(&once, id_pool_init, NULL);
  if (id_pool_used + sizeof(guint64) > ID_POOL || id_pool_generation != id_fork_generation) {
    ma_random_bytes(id_pool, ID_POOL);
    id_pool_used = 0;
    id_pool_generation = id_fork_generation;
  }
  guint64 rnd;
  memcpy(&rnd, id_pool + id_pool_used, sizeof rnd);
  memset(id_pool + id_pool_used, 0, sizeof rnd); /* handed out once */
  id_pool_used += sizeof rnd;
  return rnd;
}

char *ma_id_new(void)
{
  static const char alphabet[] = "0123456789abcdefghjkmnpqrstvwxyz"; /* Crockford base32 */
  guint64 ms = (guint64)(g_get_real_time() / 1000) & 0xFFFFFFFFFFFFull;
  guint64 rnd = id_random_bits();
  char *id = g_malloc(MA_ID_LEN + 1);
  for (int i = 9; i >= 0; i--) { /* 10 chars x 5 bits = 50 bits of time */
    id[i] = alphabet[ms & 31];
    ms >>= 5;
  }
  for (int i = 10; i < MA_ID_LEN; i++) {
    id[i] = alphabet[rnd & 31];
    rnd >>= 5;
  }
  id[MA_ID_LEN] = '\0';
  return id;
}

/* Years 1000-9999 ("1000-01-01" .. "9999-12-31T23:59:59Z"): four-digit years, formatted by
 * arithmetic (the civil-from-days algorithm of H. Hinnant's "chrono-Compatible Low-Level Date
 * Algorithms"), without GDateTime, which allocates, and without gmtime_r and printf: glibc's
 * gmtime_r takes the process-wide tz lock, and a timeline page formats two dates per item. */
#define FAST_FORMAT_MIN G_GINT64_CONSTANT(-30610224000)
#define FAST_FORMAT_MAX G_GINT64_CONSTANT(253402300799)

static void put_digits(char *at, int value, int width)
{
  for (int i = width - 1; i >= 0; i--) {
    at[i] = (char)('0' + value % 10);
    value /= 10;
  }
}

void ma_time_format(gint64 unix_seconds, char out[32])
{
  if (unix_seconds >= FAST_FORMAT_MIN && unix_seconds <= FAST_FORMAT_MAX) {
    gint64 days = unix_seconds >= 0 ? unix_seconds / 86400 : -((-unix_seconds + 86399) / 86400);
    int secs = (int)(unix_seconds - days * 86400);
    gint64 z = days + 719468;
    gint64 era = (z >= 0 ? z : z - 146096) / 146097;
    gint64 doe = z - era * 146097;                                 /* [0, 146096] */
    gint64 yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    gint64 doy = doe - (365 * yoe + yoe / 4 - yoe / 100);           /* [0, 365] */
    gint64 mp = (5 * doy + 2) / 153;                                /* [0, 11], March first */
    int day = (int)(doy - (153 * mp + 2) / 5 + 1);
    int month = (int)(mp < 10 ? mp + 3 : mp - 9);
    int year = (int)(yoe + era * 400 + (month <= 2));
    memcpy(out, "0000-00-00T00:00:00Z", 21);
    put_digits(out, year, 4);
    put_digits(out + 5, month, 2);
    put_digits(out + 8, day, 2);
    put_digits(out + 11, secs / 3600, 2);
    put_digits(out + 14, secs / 60 % 60, 2);
    put_digits(out + 17, secs % 60, 2);
    return;
  }
  GDateTime *dt = g_date_time_new_from_unix_utc(unix_seconds);
  if (!dt) {
    g_strlcpy(out, "1970-01-01T00:00:00Z", 32);
    return;
  }
  g_autofree char *s = g_date_time_format(dt, "%Y-%m-%dT%H:%M:%SZ");
  g_strlcpy(out, s, 32);
  g_date_time_unref(dt);
}

int ma_time_parse(const char *text, gint64 *out)
{
  if (!text) return -1;
  g_autofree char *full = NULL;
  if (strlen(text) == 10) full = g_strconcat(text, "T00:00:00Z", NULL);
  else full = g_strdup(text);
  g_autoptr(GTimeZone) utc = g_time_zone_new_utc();
  GDateTime *dt = g_date_time_new_from_iso8601(full, utc);
  if (!dt) return -1;
  *out = g_date_time_to_unix(dt);
  g_date_time_unref(dt);
  return 0;
}
