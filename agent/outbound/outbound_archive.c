/* outbound_archive.c - hands every queued outgoing message to the archive pipeline: the message as
 * it leaves goes into the node-local spool with route "outbound", and the pipeline workers archive
 * it (or skip it) by the enterprise's archive settings, exactly as received mail, linking it to
 * records by its participants and to the records the send request named (the entry's id is the
 * outbound id, which the pipeline reads them by). Written after the queue's commit, so only queued messages are
 * archived; a spool failure is logged and the message is still delivered (the archive copy is
 * what is lost, never the mail).
 *
 * Each thread keeps its own spool handle (the API loop, the submission worker, a CLI process).
 */
#include "outbound_internal.h"

#include "agent/lib/clock.h"
#include "agent/lib/log.h"
#include "agent/pipeline/pipeline.h"

static void spool_release(gpointer p)
{
  MaSpool *sp = p;
  spool_close(&sp);
}

static GPrivate thread_spool = G_PRIVATE_INIT(spool_release);

MaSpoolEntry *outbound_archive_entry(const MaOutbound *m, const OutboundMessage *msg)
{
  MaSpoolEntry *e = ma_spool_entry_new();
  e->id = g_strdup(m->id); /* the provenance's spool id: the pipeline finds the queued message (its records) */
  e->enterprise_id = g_strdup(m->enterprise_id);
  e->route = g_strdup("outbound");
  e->mail_from = g_strdup(m->mail_from);
  e->rcpts = g_ptr_array_new_with_free_func(g_free);
  for (guint i = 0; i < msg->rcpts->len; i++) g_ptr_array_add(e->rcpts, g_strdup(g_ptr_array_index(msg->rcpts, i)));
  e->received_at = m->created_at;
  e->data = g_bytes_new(msg->raw->data, msg->raw->len);
  return e;
}

void outbound_archive(const MaConfig *cfg, GPtrArray *entries)
{
  if (!entries || entries->len == 0) return;
  g_autoptr(GError) error = NULL;
  MaSpool *sp = g_private_get(&thread_spool);
  if (!sp) {
    if (spool_open(cfg->data_dir, &sp, &error) < 0) {
      ma_warn("outbound", "archive: cannot open the spool: %s (%u message(s) queued but not archived)", error->message,
              entries->len);
      return;
    }
    g_private_set(&thread_spool, sp);
  }
  if (spool_put(sp, (MaSpoolEntry *const *) entries->pdata, entries->len, &error) < 0) {
    ma_warn("outbound", "archive: %s (%u message(s) queued but not archived)", error->message, entries->len);
    return;
  }
  pipeline_workers_notify();
}
