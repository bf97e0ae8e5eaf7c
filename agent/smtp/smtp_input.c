/* smtp_input.c - command lines and message octets from the SMTP input buffer (see smtp_input.h).
 *
 * A line is searched for its LF within the first SMTP_MAX_TEXT_LINE + 1 octets only, so a client
 * that never sends one costs a bounded search and a bounded buffer, never a scan of everything it
 * sent. Message octets are handed to the decoder straight from the buffer's chains (no copy).
 */
#include "smtp_input.h"

SmtpInputLine smtp_input_line(struct evbuffer *in, char line[SMTP_MAX_TEXT_LINE + 1], gsize *len,
                              gboolean *discarding)
{
  gsize have = evbuffer_get_length(in), scan = MIN(have, (gsize) SMTP_MAX_TEXT_LINE + 1);
  struct evbuffer_ptr end, p;

  if (have == 0) return SMTP_INPUT_NONE;
  evbuffer_ptr_set(in, &end, scan, EVBUFFER_PTR_SET);
  p = evbuffer_search_range(in, "\n", 1, NULL, &end);
  if (p.pos < 0) {
    if (have <= SMTP_MAX_TEXT_LINE) return SMTP_INPUT_NONE;
    evbuffer_drain(in, scan); /* no LF within the bound: drop what was searched, answer at its end */
    *discarding = TRUE;
    return SMTP_INPUT_DROPPED;
  }
  gsize n = (gsize) p.pos; /* octets before the LF */
  if (*discarding || n + 1 > SMTP_MAX_TEXT_LINE) {
    evbuffer_drain(in, n + 1);
    *discarding = FALSE;
    return SMTP_INPUT_TOO_LONG;
  }
  evbuffer_remove(in, line, n + 1);
  if (n > 0 && line[n - 1] == '\r') n--;
  line[n] = '\0';
  *len = n;
  return SMTP_INPUT_LINE;
}

gsize smtp_input_feed(struct evbuffer *in, SmtpDataDecoder *dec, gsize max, gboolean *done)
{
  struct evbuffer_iovec v[8];
  int n = evbuffer_peek(in, -1, NULL, v, G_N_ELEMENTS(v));
  gsize total = 0;

  *done = FALSE;
  for (int i = 0; i < n && i < (int) G_N_ELEMENTS(v) && !*done && total < max; i++) {
    gsize take = MIN(v[i].iov_len, max - total), used = take;
    if (dec) *done = smtp_data_decoder_feed(dec, v[i].iov_base, take, &used) == 1;
    total += used;
  }
  evbuffer_drain(in, total);
  return total;
}
