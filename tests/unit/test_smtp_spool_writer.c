/* test_smtp_spool_writer.c - the group-commit spool writer against a real spool in a temporary
 * directory: many messages share one commit, every one is reported on the loop thread after the
 * commit, a failed sync fails the whole batch (nothing stored), a cancelled ticket gets no callback. */
#include "agent/lib/clock.h"
#include "agent/smtp/smtp_spool_writer.h"

#include <event2/event.h>
#include <glib/gstdio.h>
#include <string.h>

typedef struct {
  struct event_base *base;
  guint done_ok, done_failed, commits, committed_msgs, expected;
} Ctx;

static void on_done(void *arg, gboolean ok, gboolean no_space, const char *id)
{
  Ctx *c = arg;
  g_assert_nonnull(id);
  if (ok) g_assert_false(no_space);
  if (ok) c->done_ok++;
  else c->done_failed++;
  if (c->done_ok + c->done_failed == c->expected) event_base_loopbreak(c->base);
}

static void on_committed(void *arg, guint n)
{
  Ctx *c = arg;
  c->commits++;
  c->committed_msgs += n;
}

static MaSpoolEntry *entry(int i)
{
  MaSpoolEntry *e = ma_spool_entry_new();
  char *body = g_strdup_printf("Subject: m%d\r\n\r\nbody %d\r\n", i, i);
  e->id = ma_id_new();
  e->enterprise_id = g_strdup("ent");
  e->route = g_strdup("smtp");
  e->client = g_strdup("127.0.0.1");
  e->helo = g_strdup("t");
  e->mail_from = g_strdup("a@b.example");
  g_ptr_array_add(e->rcpts, g_strdup("x@inbound.test"));
  e->received_at = ma_now();
  e->data = g_bytes_new_take(body, strlen(body));
  return e;
}

static gint64 depth(const char *dir)
{
  MaSpool *sp = NULL;
  gint64 n = -1;
  g_assert_cmpint(spool_open(dir, &sp, NULL), ==, 0);
  g_assert_cmpint(spool_depth(sp, &n, NULL), ==, 0);
  spool_close(&sp);
  return n;
}

static void test_group_commit(void)
{
  g_autofree char *dir = g_dir_make_tmp("smtp-spool-XXXXXX", NULL);
  Ctx c = {0};
  GError *error = NULL;
  SmtpSpoolWriter *w;
  SmtpSpoolTicket *cancelled;

  c.base = event_base_new();
  w = smtp_spool_writer_new(c.base, dir, &error);
  g_assert_no_error(error);
  smtp_spool_writer_set_committed(w, on_committed, &c);

  /* 200 messages handed over at once (as 200 sessions finishing together) */
  c.expected = 200;
  for (int i = 0; i < 200; i++) smtp_spool_writer_submit(w, entry(i), on_done, &c);
  event_base_dispatch(c.base);
  g_assert_cmpuint(c.done_ok, ==, 200);
  g_assert_cmpuint(c.committed_msgs, ==, 200);
  g_assert_cmpuint(c.commits, <, 200 / 4); /* group commit: far fewer commits than messages */
  g_assert_cmpint(depth(dir), ==, 200);

  /* a failed sync fails every message of the batch, and stores none */
  smtp_spool_writer_inject_failures(w, 1000);
  c.done_ok = c.done_failed = 0;
  c.expected = 20;
  for (int i = 0; i < 20; i++) smtp_spool_writer_submit(w, entry(i), on_done, &c);
  event_base_dispatch(c.base);
  g_assert_cmpuint(c.done_failed, ==, 20);
  g_assert_cmpuint(c.done_ok, ==, 0);
  g_assert_cmpint(depth(dir), ==, 200);
  smtp_spool_writer_inject_failures(w, 0);

  /* a cancelled ticket: no callback, the others are reported */
  c.done_ok = c.done_failed = 0;
  c.expected = 2;
  cancelled = smtp_spool_writer_submit(w, entry(1), on_done, &c);
  smtp_spool_writer_cancel(cancelled);
  smtp_spool_writer_submit(w, entry(2), on_done, &c);
  smtp_spool_writer_submit(w, entry(3), on_done, &c);
  event_base_dispatch(c.base);
  g_assert_cmpuint(c.done_ok, ==, 2);
  smtp_spool_writer_free(w); /* drains; the cancelled one was written but not reported */
  g_assert_cmpuint(c.done_ok, ==, 2);
  g_assert_cmpint(depth(dir), ==, 203);
  event_base_free(c.base);
  {
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);
    g_assert_cmpint(system(cmd), ==, 0);
  }
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/smtp/spool_writer/group_commit", test_group_commit);
  return g_test_run();
}
