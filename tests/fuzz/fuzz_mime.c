/* fuzz_mime.c - libFuzzer target for the MIME normaliser: mime_parse on arbitrary bytes (the
 * pre-scan, GMime, the body walk, charset conversion, forward unwrapping), then the HTML
 * converters on the same bytes. Must never crash, leak, hang or hand out invalid UTF-8 in any
 * field that reaches storage (subject, bodies, ids, addresses, names, attachment names...), and
 * mime_header_start_problem (the SMTP server's 554 5.6.0) must never refuse what mime_parse reads;
 * an attachment left in the input (in_raw) must decode again to its size and digest; the forward
 * signals' reading the forwarder policy shares (mime_forward_signals_read) keeps its bounds.
 * Run: scripts/fuzz.sh mime SECONDS.
 * Seed corpus: the .eml files of tests/fixtures/mime.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/lib/crypto.h"
#include "agent/mime/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts, naming the field, when s (may be NULL) is not valid UTF-8. */
static void utf8(const char *what, const char *s)
{
  if (s && !g_utf8_validate(s, -1, NULL)) {
    fprintf(stderr, "invalid UTF-8 in %s\n", what);
    abort();
  }
}

/* The forwarder policy's reading of the header block: at most MIME_SIGNAL_ADDRESSES_MAX addresses
 * a list, each with one '@' that is neither first nor last. */
static void forward_signals(const uint8_t *data, size_t size)
{
  MimeForwardFields f;
  mime_forward_signals_read(data, size, &f);
  const GPtrArray *lists[] = {f.resent_from, f.x_forwarded_for, f.x_forwarded_to, f.delivered_to};
  for (gsize i = 0; i < G_N_ELEMENTS(lists); i++) {
    if (lists[i] && lists[i]->len > MIME_SIGNAL_ADDRESSES_MAX) abort();
    for (guint j = 0; lists[i] && j < lists[i]->len; j++) {
      const char *a = lists[i]->pdata[j], *at = strchr(a, '@');
      if (!at || at == a || !at[1] || strchr(at + 1, '@')) abort();
    }
  }
  mime_forward_signals_clear(&f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  mime_global_init();
  forward_signals(data, size);
  MaMimeLimits limits = mime_limits_default();
  limits.max_parts = 200; /* keep each run short; the logic is the same */
  MaMessage *m = NULL;
  GError *error = NULL;
  /* the SMTP server refuses what this calls unreadable: the parser must never read it */
  const char *start_problem = mime_header_start_problem(data, size);
  if (mime_parse(data, size, &limits, &m, &error) == 0) {
    if (start_problem) abort();
    /* every string that reaches storage is valid UTF-8 */
    utf8("subject", m->subject);
    utf8("text", m->text);
    utf8("html", m->html);
    utf8("message_id", m->message_id);
    utf8("in_reply_to", m->in_reply_to);
    utf8("forwarder_address", m->forwarder_address);
    utf8("resent_from", m->signals.resent_from);
    utf8("x_forwarded_for", m->signals.x_forwarded_for);
    utf8("x_forwarded_to", m->signals.x_forwarded_to);
    utf8("delivered_to", m->signals.delivered_to);
    for (guint i = 0; m->references && i < m->references->len; i++) utf8("references", m->references->pdata[i]);
    for (guint i = 0; i < m->participants->len; i++) {
      MaParticipant *p = g_ptr_array_index(m->participants, i);
      utf8("participant address", p->address);
      utf8("participant name", p->name);
    }
    for (guint i = 0; m->attachments && i < m->attachments->len; i++) {
      MaAttachment *a = g_ptr_array_index(m->attachments, i);
      utf8("attachment filename", a->filename);
      utf8("attachment content_type", a->content_type);
      utf8("attachment content_id", a->content_id);
      /* content referred to in the input (in_raw) decodes again, in odd pieces, to its size and
       * digest */
      if (a->in_raw != (a->data == NULL)) abort();
      if (a->in_raw) {
        MaRaw *input = ma_raw_new_static(data, size);
        MimeContentReader *r = mime_content_reader_new(input, a);
        if (!r) abort();
        MaSha256 *h = ma_sha256_new();
        guint8 piece[333];
        gsize total = 0;
        gssize n;
        while ((n = mime_content_reader_read(r, piece, sizeof piece, NULL)) > 0) {
          ma_sha256_update(h, piece, (gsize)n);
          total += (gsize)n;
        }
        char digest[65];
        ma_sha256_finish(h, digest);
        mime_content_reader_free(r);
        ma_raw_free(input);
        if (total != a->size || strcmp(digest, a->sha256) != 0) abort();
      }
    }
    for (guint i = 0; m->warnings && i < m->warnings->len; i++) utf8("warning", m->warnings->pdata[i]);
    if (m->html) {
      char *s = mime_html_sanitize(m->html, strlen(m->html));
      g_free(s);
    }
    ma_message_free(m);
  } else {
    g_clear_error(&error);
  }
  char *t = mime_html_to_text((const char *)data, size);
  if (!g_utf8_validate(t, -1, NULL)) abort();
  g_free(t);
  return 0;
}
