/* fuzz_smtp.c - libFuzzer target for agent/smtp/smtp_parse: the first octet picks the entry point
 * (command line, MAIL/RCPT argument with the relay check, BDAT argument, DATA or BDAT decoder fed
 * in pieces whose sizes come from the input). Checks the decoder's invariants: stored octets never
 * exceed the size cap, and the same input fed whole or in pieces gives the same result; a BDAT
 * argument accepted reads back the same. */
#include "agent/smtp/smtp_parse.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void decode(const uint8_t *data, size_t size, gboolean dot_mode, size_t step, GByteArray *out,
                   int *done, SmtpDataError *err, gint64 *header_size)
{
  SmtpDataLimits lim = {.max_size = 4096, .max_line = 1000, .max_header = 512, .max_headers = 50};
  SmtpDataDecoder *d = smtp_data_decoder_new(&lim, dot_mode, out);
  size_t off = 0;
  *done = 0;
  while (off < size) {
    size_t n = MIN(step, size - off), used = 0;
    if (smtp_data_decoder_feed(d, data + off, n, &used) == 1) {
      *done = 1;
      break;
    }
    off += used;
  }
  if (!dot_mode) smtp_data_decoder_finish(d);
  *err = smtp_data_decoder_error(d);
  *header_size = smtp_data_decoder_header_size(d);
  if (out->len > (guint) lim.max_size) __builtin_trap();
  /* the header section read back for the policy is a prefix of what was stored */
  if (*err == SMTP_DATA_OK && (*header_size < 0 || *header_size > (gint64) out->len)) __builtin_trap();
  smtp_data_decoder_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1) return 0;
  uint8_t mode = data[0] % 4;
  data++, size--;
  if (mode == 0 || mode == 1) {
    char *line = g_strndup((const char *) data, MIN(size, 1000));
    const char *arg, *reply;
    gboolean bad;
    SmtpPath p;
    char local[SMTP_MAX_LOCAL + 1];
    smtp_parse_command(line, strlen(line), &arg, &bad);
    if (smtp_parse_mail(line, &p, &reply) == 0 && strlen(p.address) > SMTP_MAX_PATH) __builtin_trap();
    if (smtp_parse_rcpt(line, &p, &reply) == 0 && smtp_rcpt_local_part(&p, "inbound.test", local, &reply) == 0) {
      /* anything accepted as ours is plain: no routing characters */
      if (strpbrk(local, "%!@:\"[]") != NULL) __builtin_trap();
    }
    /* BDAT's argument: a size only from digits, and what is accepted reads back the same */
    gint64 chunk = -1;
    gboolean last = FALSE;
    if (smtp_parse_bdat(line, &chunk, &last) == 0) {
      g_autofree char *again = g_strdup_printf("%" G_GINT64_FORMAT "%s", chunk, last ? " LAST" : "");
      gint64 chunk2 = -1;
      gboolean last2 = FALSE;
      if (chunk < 0 || strspn(line, "0123456789") == 0 || smtp_parse_bdat(again, &chunk2, &last2) != 0 ||
          chunk2 != chunk || last2 != last)
        __builtin_trap();
    }
    g_free(line);
  } else {
    GByteArray *a = g_byte_array_new(), *b = g_byte_array_new();
    int da, db;
    SmtpDataError ea, eb;
    gint64 ha, hb;
    size_t step = size ? (size_t) (data[0] % 7) + 1 : 1;
    decode(data, size, mode == 2, size ? size : 1, a, &da, &ea, &ha);
    decode(data, size, mode == 2, step, b, &db, &eb, &hb);
    if (da != db || ea != eb || ha != hb || a->len != b->len || (a->len > 0 && memcmp(a->data, b->data, a->len) != 0)) __builtin_trap();
    g_byte_array_unref(a);
    g_byte_array_unref(b);
  }
  return 0;
}
