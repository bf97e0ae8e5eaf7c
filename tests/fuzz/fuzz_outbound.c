/* fuzz_outbound.c - libFuzzer target for agent/outbound's message preparation (the header-block
 * reader of outbound_message.c): any octets either prepare into a message whose every line ends
 * in CRLF, holds no Bcc field and has at least one recipient, or are refused with an error. */
#include "agent/outbound/outbound_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  OutboundMessage m;
  GError *error = NULL;
  if (outbound_message_from_mime((const char *) data, size, NULL, "fuzz.test", 1800000000, &m, &error) < 0) {
    if (!error) abort();
    g_error_free(error);
    return 0;
  }
  if (m.rcpts->len == 0 || !m.header_from || !m.message_id) abort();
  for (guint i = 0; i < m.raw->len; i++) {
    if (m.raw->data[i] == '\n' && (i == 0 || m.raw->data[i - 1] != '\r')) abort();
    if (m.raw->data[i] == '\r' && (i + 1 == m.raw->len || m.raw->data[i + 1] != '\n')) abort();
  }
  /* no Bcc field in the header block (the body may say anything) */
  const char *raw = (const char *) m.raw->data;
  const char *end = g_strstr_len(raw, (gssize) m.raw->len, "\r\n\r\n");
  gsize header_len = end ? (gsize) (end - raw) + 2 : m.raw->len;
  if (g_ascii_strncasecmp(raw, "Bcc:", MIN(4, header_len)) == 0 && header_len >= 4) abort();
  for (gsize i = 0; i + 6 <= header_len; i++)
    if (raw[i] == '\n' && g_ascii_strncasecmp(raw + i + 1, "Bcc:", 4) == 0) abort();
  outbound_message_clear(&m);
  return 0;
}
