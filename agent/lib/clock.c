/* clock.c - wall clock, RFC 3339 conversions and time-ordered ids (random bits from a per-thread
 * pool refilled from the CSPRNG, dropped after fork). */
#include "clock.h"
#include "crypto.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

gint64 ma_now(void)
{
  const char *fake = g_getenv("MAILAGENT_FAKE_NOW");
  if (fake && *fake) return g_ascii_strtoll(fake, NULL, 10);
  return g_get_real_time() / G_USEC_PER_SEC;
}

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

void ma_time_format(gint64 unix_seconds, char out[32])
{
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
