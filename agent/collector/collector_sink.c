/* collector_sink.c - where a mailbox session puts what it fetched: first the spool (one fsync per
 * round), then the folder's checkpoint and collected keys in storage. Never the other way round: a
 * crash between the two re-fetches the round, and the content-derived spool ids make that replay
 * a no-op in the archive and its provenance.
 *
 * Memory: holds one round (at most the session's batch_bytes plus one message).
 */
#include "collector.h"

#include "agent/lib/clock.h"
#include "agent/lib/crypto.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

struct CollectorSink {
  MaStorage *st;
  MaSpool *sp;
  const MaMailbox *m;
  GPtrArray *entries;  /* MaSpoolEntry* of the round */
  GPtrArray *keys;     /* char*: keys of the round (messages and skips) */
  gint64 spooled;
  char *lease_owner;   /* renewed at each commit; NULL: no lease */
  int lease_seconds;
};

void collector_sink_set_lease(CollectorSink *s, const char *owner, int seconds)
{
  g_free(s->lease_owner);
  s->lease_owner = g_strdup(owner);
  s->lease_seconds = seconds;
}

void collector_crash_point(const char *name)
{
  const char *at = g_getenv("MAILAGENT_COLLECTOR_CRASH_AT");
  if (!at || g_strcmp0(at, name) != 0) return;
  const char *mark = g_getenv("MAILAGENT_COLLECTOR_CRASH_MARK");
  if (mark) g_file_set_contents(mark, name, -1, NULL);
  kill(getpid(), SIGKILL);
}

CollectorSink *collector_sink_new(MaStorage *st, MaSpool *sp, const MaMailbox *m)
{
  CollectorSink *s = g_new0(CollectorSink, 1);
  s->st = st;
  s->sp = sp;
  s->m = m;
  s->entries = g_ptr_array_new_with_free_func((GDestroyNotify)ma_spool_entry_free);
  s->keys = g_ptr_array_new_with_free_func(g_free);
  return s;
}

void collector_sink_free(CollectorSink *s)
{
  if (!s) return;
  g_ptr_array_unref(s->entries);
  g_ptr_array_unref(s->keys);
  g_free(s->lease_owner);
  g_free(s);
}

int collector_sink_checkpoint(CollectorSink *s, const char *folder, MaFolderCheckpoint *out, GError **error)
{
  return storage_mailbox_checkpoint_get(s->st, s->m->id, folder, out, error);
}

int collector_sink_seen(CollectorSink *s, const char *folder, guint32 uidvalidity, const char *key, GError **error)
{
  return storage_mailbox_key_seen(s->st, s->m->id, folder, uidvalidity, key, error);
}

/* "<route>-" + 32 hex digits of SHA-256(binding id, folder, content): the same message from the same
 * folder of the same binding always gets the same spool id. content_hash_start hashes the prefix,
 * content_hash_id finishes (and frees) the hash into the id. */
static MaSha256 *content_hash_start(const MaMailbox *m, const char *folder)
{
  MaSha256 *h = ma_sha256_new();
  ma_sha256_update(h, m->id, strlen(m->id) + 1);
  ma_sha256_update(h, folder, strlen(folder) + 1);
  return h;
}

static char *content_hash_id(const MaMailbox *m, MaSha256 *h)
{
  char hex[MA_SHA256_HEX_LEN + 1];
  ma_sha256_finish(h, hex);
  return g_strdup_printf("%s-%.32s", m->protocol, hex);
}

static char *content_spool_id(const MaMailbox *m, const char *folder, GBytes *data)
{
  MaSha256 *h = content_hash_start(m, folder);
  gsize len = 0;
  const void *raw = g_bytes_get_data(data, &len);
  ma_sha256_update(h, raw, len);
  return content_hash_id(m, h);
}

/* A new spool entry of this binding, without its message (the caller sets id and body or data). */
static MaSpoolEntry *round_entry(CollectorSink *s)
{
  MaSpoolEntry *e = ma_spool_entry_new();
  e->enterprise_id = g_strdup(s->m->enterprise_id);
  e->route = g_strdup(s->m->protocol);
  e->mail_from = g_strdup("");
  e->employee_id = g_strdup(s->m->employee_id);
  e->signal = g_strdup("mailbox");
  e->mailbox = g_strdup(s->m->id);
  e->received_at = ma_now();
  return e;
}

struct CollectorBody {
  MaSpoolBody *file;
  MaSha256 *hash; /* NULL once finished */
};

CollectorBody *collector_sink_body_new(CollectorSink *s, const char *folder, GError **error)
{
  MaSpoolBody *file = NULL;
  if (spool_body_start(s->sp, &file, error) < 0) return NULL;
  CollectorBody *b = g_new0(CollectorBody, 1);
  b->file = file;
  b->hash = content_hash_start(s->m, folder);
  return b;
}

void collector_body_append(CollectorBody *b, const void *data, gsize len)
{
  ma_sha256_update(b->hash, data, len);
  spool_body_write(b->file, data, len);
}

gint64 collector_body_size(const CollectorBody *b)
{
  return spool_body_size(b->file);
}

void collector_body_free(CollectorBody *b)
{
  if (!b) return;
  spool_body_free(b->file);
  if (b->hash) {
    char hex[MA_SHA256_HEX_LEN + 1];
    ma_sha256_finish(b->hash, hex); /* finishing is how the hash is released */
  }
  g_free(b);
}

int collector_sink_add_body(CollectorSink *s, const char *key, CollectorBody *b, GError **error)
{
  if (spool_body_flush(b->file, error) < 0) {
    collector_body_free(b);
    return -1;
  }
  MaSpoolEntry *e = round_entry(s);
  e->id = content_hash_id(s->m, b->hash);
  b->hash = NULL;
  e->body = b->file;
  g_free(b);
  g_ptr_array_add(s->entries, e);
  g_ptr_array_add(s->keys, g_strdup(key));
  return 0;
}


void collector_sink_add(CollectorSink *s, const char *key, GBytes *data)
{
  MaSpoolEntry *e = round_entry(s);
  e->data = g_bytes_ref(data);
  e->id = NULL; /* the folder is known at commit */
  g_ptr_array_add(s->entries, e);
  g_ptr_array_add(s->keys, g_strdup(key));
}

int collector_sink_fail(CollectorSink *s, const char *folder, const char *key, const char *why, int *count)
{
  return storage_mailbox_failure_count(s->st, s->m->id, folder, key, why, ma_now(), count, NULL);
}

void collector_sink_skip(CollectorSink *s, const char *key)
{
  g_ptr_array_add(s->keys, g_strdup(key));
}

/* Puts the round in the spool. An entry whose id is there already (spooled before a crash, not yet
 * archived) is durable already: the round is retried one entry at a time, skipping those. */
static int spool_round(CollectorSink *s, GError **error)
{
  if (s->entries->len == 0) return 0;
  GError *e = NULL;
  if (spool_put(s->sp, (MaSpoolEntry *const *)s->entries->pdata, s->entries->len, &e) == 0) return 0;
  if (e->code != MA_ERROR_CONFLICT) {
    g_propagate_error(error, e);
    return -1;
  }
  g_clear_error(&e);
  for (guint i = 0; i < s->entries->len; i++) {
    MaSpoolEntry *one = g_ptr_array_index(s->entries, i);
    if (spool_put(s->sp, &one, 1, &e) == 0) continue;
    if (e->code != MA_ERROR_CONFLICT) {
      g_propagate_error(error, e);
      return -1;
    }
    g_clear_error(&e);
  }
  return 0;
}

int collector_sink_commit(CollectorSink *s, const char *folder, guint32 uidvalidity, const MaFolderCheckpoint *cp,
                          GError **error)
{
  for (guint i = 0; i < s->entries->len; i++) {
    MaSpoolEntry *e = g_ptr_array_index(s->entries, i);
    if (!e->id) e->id = content_spool_id(s->m, folder, e->data);
  }
  int rc = spool_round(s, error);
  if (rc == 0) {
    s->spooled += s->entries->len;
    if (s->entries->len) collector_crash_point("after_spool");
    rc = storage_mailbox_checkpoint_advance(s->st, s->m->id, folder, cp, uidvalidity,
                                            (const char *const *)s->keys->pdata, s->keys->len, error);
    if (rc == 0 && s->entries->len) collector_crash_point("after_checkpoint");
  }
  if (rc == 0 && s->lease_owner) {
    gint64 now = ma_now();
    int held = storage_mailbox_lease(s->st, s->m->id, s->lease_owner, now, now + s->lease_seconds, error);
    if (held == 0)
      g_set_error(error, MA_ERROR, MA_ERROR_CONFLICT, "sync: another process took the mailbox over (lease expired)");
    if (held <= 0) rc = -1;
  }
  g_ptr_array_set_size(s->entries, 0);
  g_ptr_array_set_size(s->keys, 0);
  return rc;
}

gint64 collector_sink_spooled(CollectorSink *s)
{
  return s->spooled;
}
