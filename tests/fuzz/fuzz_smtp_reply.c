/* fuzz_smtp_reply.c - libFuzzer target for agent/smtp/smtp_reply: any octets fed in any split must
 * leave the parser within its bounds, and whole-input and byte-at-a-time feeding must yield the
 * same replies. The EHLO keyword reader runs on every reply. */
#include "agent/smtp/smtp_reply.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Returns the number of replies (a negative count after an error) and a checksum of their codes. */
static long run(const uint8_t *data, size_t size, size_t step, unsigned long *sum)
{
  static SmtpReplyParser p;
  SmtpReply r;
  SmtpEhloCaps caps;
  smtp_reply_parser_init(&p);
  long n = 0;
  *sum = 0;
  size_t off = 0;
  while (off < size) {
    size_t piece = step && step < size - off ? step : size - off;
    size_t done = 0;
    while (done < piece) {
      gsize used = 0;
      const char *err = NULL;
      int rc = smtp_reply_feed(&p, (const char *) data + off + done, piece - done, &used, &r, &err);
      if (rc < 0) return -(n + 1);
      if (used == 0 && rc == 0) abort();
      done += used;
      if (rc == 1) {
        if (r.code < 200 || r.code > 599 || strlen(r.text) > SMTP_REPLY_MAX_TEXT) abort();
        smtp_reply_ehlo_caps(&r, &caps);
        *sum = *sum * 31 + (unsigned long) r.code + strlen(r.text);
        n++;
      }
    }
    off += piece;
  }
  return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  unsigned long a, b;
  long whole = run(data, size, 0, &a);
  long bytes = run(data, size, 1, &b);
  if (whole != bytes || (whole >= 0 && a != b)) abort();
  return 0;
}
