/* gen_archive.c - builds the API benchmark's archive directly through the storage interface (not
 * through SMTP): one enterprise "bench" with an API key, one contact "big" holding N_BIG messages,
 * and the rest of N_TOTAL messages spread over other contacts, 10 per contact. Inserts run in
 * large transactions (one fsync each), so 500,000 messages take a minute or so, not hours.
 *
 * Usage: gen_archive DATA_DIR TOTAL BIG [index]   -> prints the enterprise API key on stdout.
 * The data directory must be new (created here). Message content is synthetic and small; every
 * message has two participants and one record link, and one in ten an attachment row.
 * With "index" (the search benchmark, scripts/bench/search) each body also carries three words of
 * a 2,000-word vocabulary ("w0042"), drawn with a skew so a few words are common and
 * most rare, and every message is added to the full-text index as the pipeline does.
 */
#include "agent/tenant/apikey_store.h"
#include "agent/lib/clock.h"
#include "storage/storage.h"
#include "storage/storage_search.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 20000

static void die(const char *what, GError *error)
{
  fprintf(stderr, "gen_archive: %s: %s\n", what, error ? error->message : "failed");
  exit(1);
}

int main(int argc, char **argv)
{
  GError *error = NULL;
  MaStorage *st = NULL;
  MaEnterprise e = {0};
  MaApiKey *key = NULL;
  char *secret = NULL;
  char raw_sha[65], att_sha[65];
  const char *raw = "From: customer@example.com\r\nSubject: hello\r\n\r\nsynthetic benchmark message\r\n";
  long total, big;
  gint64 t0 = 1600000000;

  if (argc != 4 && !(argc == 5 && strcmp(argv[4], "index") == 0)) {
    fprintf(stderr, "usage: gen_archive DATA_DIR TOTAL BIG [index]\n");
    return 2;
  }
  gboolean index = argc == 5;
  GRand *rng = g_rand_new_with_seed(42);
  total = atol(argv[2]);
  big = atol(argv[3]);
  if (storage_open(argv[1], TRUE, &st, &error) < 0)
    die("open", error);

  e.id = ma_id_new();
  e.slug = "bench";
  e.name = "Bench";
  e.inbound_local = "bench-in";
  e.domains = g_ptr_array_new_with_free_func(g_free);
  g_ptr_array_add(e.domains, g_strdup("bench.test"));
  e.created_at = ma_now();
  if (storage_begin(st, &error) < 0 || storage_enterprise_create(st, &e, &error) < 0 ||
      apikey_create(st, e.id, "bench", &key, &secret, &error) < 0 ||
      storage_blob_put(st, raw, strlen(raw), raw_sha, &error) < 0 ||
      storage_blob_put(st, "attachment", 10, att_sha, &error) < 0 || storage_commit(st, &error) < 0)
    die("setup", error);

  for (long i = 0; i < total; i++) {
    MaStoredMessage *m = ma_stored_message_new();
    g_autofree char *record_id = NULL;
    char contact_email[64];
    long contact = i < big ? -1 : (i - big) / 10;

    if (i % BATCH == 0 && storage_begin(st, &error) < 0)
      die("begin", error);
    record_id = contact < 0 ? g_strdup("big") : g_strdup_printf("c%ld", contact);
    if (i == 0 || (contact >= 0 && (i - big) % 10 == 0)) {
      MaRecord *r = ma_record_new(MA_RECORD_CONTACT, record_id);
      r->name = g_strdup_printf("Contact %s", record_id);
      g_snprintf(contact_email, sizeof contact_email, "%s@customer.test", record_id);
      g_ptr_array_add(r->emails, g_strdup(contact_email));
      if (storage_record_upsert(st, e.id, r, &error) < 0)
        die("record", error);
      ma_record_free(r);
    }
    g_snprintf(contact_email, sizeof contact_email, "%s@customer.test", record_id);
    m->id = ma_id_new();
    m->enterprise_id = g_strdup(e.id);
    m->thread_id = g_strdup_printf("t%ld", i / 5);
    m->message_id = g_strdup_printf("%ld.%s@bench.test", i, m->id);
    m->dedup_key = g_strdup(m->id);
    m->subject = g_strdup_printf("Benchmark message %ld", i);
    m->direction = i % 2 ? MA_DIRECTION_OUTBOUND : MA_DIRECTION_INBOUND;
    m->date = t0 + i * 37;
    m->archived_at = m->date + 5;
    m->size = (gint64)strlen(raw);
    m->raw_sha256 = g_strdup(raw_sha);
    if (index) {
      /* the cube of a uniform draw: w0000 is in about a fifth of the messages, w1000 in 0.1% */
      guint w[3];
      for (int k = 0; k < 3; k++) {
        double u = g_rand_double(rng);
        w[k] = (guint)(u * u * u * 2000);
      }
      m->text = g_strdup_printf("synthetic benchmark message about w%04u w%04u w%04u", w[0], w[1], w[2]);
    } else {
      m->text = g_strdup("synthetic benchmark message");
    }
    g_ptr_array_add(m->participants, ma_participant_new(MA_ROLE_FROM, "Customer", contact_email));
    g_ptr_array_add(m->participants, ma_participant_new(MA_ROLE_TO, "Employee", "sales@bench.test"));
    if (i % 10 == 0) {
      MaAttachment *a = ma_attachment_new();
      a->filename = g_strdup("quote.pdf");
      a->content_type = g_strdup("application/pdf");
      a->size = 10;
      memcpy(a->sha256, att_sha, sizeof a->sha256);
      g_ptr_array_add(m->attachments, a);
    }
    g_ptr_array_add(m->links, ma_record_ref_new(MA_RECORD_CONTACT, record_id));
    if (storage_message_insert(st, m, &error) < 0)
      die("message", error);
    if (index && storage_search_index(st, m, &error) < 0)
      die("index", error);
    ma_stored_message_free(m);
    if ((i + 1) % BATCH == 0 || i + 1 == total) {
      if (storage_commit(st, &error) < 0)
        die("commit", error);
      fprintf(stderr, "\rgen_archive: %ld/%ld messages", i + 1, total);
    }
  }
  fprintf(stderr, "\n");
  g_rand_free(rng);
  printf("%s\n", secret);
  storage_close(&st);
  return 0;
}
