/* fuzz_smtp_session.c - libFuzzer target for the inbound SMTP state machine (smtp_session) driven
 * the way smtp_server drives it, with fake hooks instead of storage and TLS: the input is the
 * client's byte stream, fed in pieces whose size comes from the input's length (so seed files are
 * used as they are); every accepted
 * message is answered by the spool (alternately accepted and refused), STARTTLS "succeeds", the
 * clock moves 50 ms per piece and the timer runs. Checks: every reply line is "ddd" then ' ' or '-'
 * and ends in CRLF, no accepted message exceeds the size limit, and nothing crashes, leaks or
 * hangs. Seeds: tests/fixtures/smtp_sessions (client sides of the golden transcripts).
 */
#include "agent/lib/clock.h"
#include "agent/lib/log.h"
#include "agent/smtp/smtp_session.h"
#include "storage/spool_body.h"

#include <glib/gstdio.h>

#include <event2/buffer.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SIZE 4096

typedef struct {
  GPtrArray *submitted; /* MaSpoolEntry* waiting for the spool's verdict */
  int starttls;
  guint spooled;
} Fake;

static int lookup(void *ctx, const char *local, char **ent, GError **error)
{
  if (g_str_has_prefix(local, "acme-")) {
    *ent = g_strdup("ent-acme");
    return 1;
  }
  if (strcmp(local, "busy") == 0) {
    g_set_error(error, g_quark_from_static_string("fuzz"), 1, "db busy");
    return -1;
  }
  return 0;
}

static int policy(void *ctx, const char *ent, const char *client, const char *from, const guint8 *msg, gsize len,
                  FwdDecision *out, GError **error)
{
  memset(out, 0, sizeof *out);
  if (g_str_has_prefix(from, "employee@")) {
    out->satisfied = TRUE;
    out->employee_id = g_strdup("emp-1");
    out->signal = "envelope_sender";
  } else {
    out->reason = g_strdup("no trusted signal names a registered employee");
  }
  return 0;
}

static gboolean disk_ok(void *ctx) { return TRUE; }

static void submit(void *ctx, SmtpSession *s, MaSpoolEntry *e)
{
  Fake *f = ctx;
  if (e->data && g_bytes_get_size(e->data) > MAX_SIZE) abort();
  g_ptr_array_add(f->submitted, e);
}

static void starttls(void *ctx, SmtpSession *s) { ((Fake *) ctx)->starttls++; }

/* Bodies stream into real files (as in serve) under one scratch data directory per process; each
 * input's files are removed when it is done. */
static char *scratch_dir;

static void remove_scratch(void)
{
  g_autofree char *dir = g_build_filename(scratch_dir, SPOOL_BODY_DIR, NULL);
  g_rmdir(dir);
  g_rmdir(scratch_dir);
}

static int body_new(void *ctx, MaSpoolBody **out, GError **error)
{
  g_autofree char *id = ma_id_new();
  if (!scratch_dir) {
    scratch_dir = g_dir_make_tmp("fuzz-smtp-session-XXXXXX", error);
    if (!scratch_dir) return -1;
    atexit(remove_scratch);
  }
  return spool_body_new_buffered(scratch_dir, id, out, error); /* as the server: a file past 64 KiB */
}

static void remove_bodies(void)
{
  if (!scratch_dir) return;
  g_autofree char *dir = g_build_filename(scratch_dir, SPOOL_BODY_DIR, NULL);
  GDir *d = g_dir_open(dir, 0, NULL);
  const char *name;
  while (d && (name = g_dir_read_name(d))) {
    g_autofree char *path = g_build_filename(dir, name, NULL);
    g_unlink(path);
  }
  if (d) g_dir_close(d);
}

/* Checks and drops what the session wrote: whole reply lines only. */
static void check_output(struct evbuffer *out)
{
  size_t n = evbuffer_get_length(out);
  if (n == 0) return;
  char *text = g_malloc(n + 1);
  evbuffer_remove(out, text, n);
  text[n] = '\0';
  for (char *line = text; *line;) {
    char *crlf = strstr(line, "\r\n");
    if (!crlf || crlf - line < 4 || !g_ascii_isdigit(line[0]) || !g_ascii_isdigit(line[1]) ||
        !g_ascii_isdigit(line[2]) || (line[3] != ' ' && line[3] != '-')) {
      fprintf(stderr, "bad reply line: %.80s\n", line);
      abort();
    }
    line = crlf + 2;
  }
  g_free(text);
}

/* Bounce addresses: "bgood..." on bounces.test is ours (the session's bounce path is fuzzed too). */
static int bounce_lookup(void *ctx, const char *local)
{
  (void) ctx;
  return strncmp(local, "bgood", 5) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  ma_log_set_level(MA_LOG_ERROR); /* a line per session closed would slow the run down */
  size_t step = size % 64 + 1;
  Fake f = {.submitted = g_ptr_array_new_with_free_func((GDestroyNotify) ma_spool_entry_free)};
  SmtpSessionHooks hooks = {&f, lookup, policy, disk_ok, submit, starttls, body_new, NULL, bounce_lookup};
  SmtpLimits lim;
  smtp_limits_defaults(&lim);
  lim.hostname = "mx.inbound.test";
  lim.inbound_domain = "inbound.test";
  lim.bounce_domain = "bounces.test";
  lim.tls_available = TRUE;
  lim.max_message_size = MAX_SIZE;
  lim.data.max_size = MAX_SIZE;
  lim.max_recipients = 3;
  lim.error_budget = 5;
  gint64 now = 0;
  struct evbuffer *in = evbuffer_new(), *out = evbuffer_new();
  SmtpSession *s = smtp_session_new(&lim, &hooks, "192.0.2.7", now);
  smtp_session_set_buffers(s, in, out);
  SmtpAction act = smtp_session_greet(s, FALSE, now);
  for (size_t off = 0; act == SMTP_CONTINUE && off < size; off += step) {
    evbuffer_add(in, data + off, MIN(step, size - off));
    now += 50;
    act = smtp_session_process(s, now);
    /* answer what the session handed over, as the spool writer and the TLS layer would */
    while (act == SMTP_CONTINUE && (f.submitted->len > 0 || f.starttls > 0)) {
      if (f.submitted->len > 0) {
        g_ptr_array_remove_index(f.submitted, 0);
        smtp_session_spooled(s, (SmtpSpoolResult) (f.spooled++ % 3), "spool-1", now);
      } else {
        f.starttls--;
        smtp_session_tls_done(s, TRUE, now);
      }
      act = smtp_session_process(s, now);
    }
    check_output(out);
    if (act == SMTP_CONTINUE) act = smtp_session_timer(s, now);
  }
  if (act == SMTP_CONTINUE) smtp_session_shutdown(s, now);
  check_output(out);
  smtp_session_free(s);
  evbuffer_free(in);
  evbuffer_free(out);
  g_ptr_array_unref(f.submitted);
  remove_bodies();
  return 0;
}
