/* downgrade_bench.c - times mime_downgrade_bytes (both passes) on the message file argv[1] and
 * prints seconds, MB/s and the output size; the message is read into memory first (as the send
 * API holds it), so the time is the converter's alone. Built by run.sh against build/. */
#include "agent/mime/mime_downgrade.h"

#include <stdio.h>

int main(int argc, char **argv)
{
  gchar *data = NULL;
  gsize len = 0;
  if (argc != 2 || !g_file_get_contents(argv[1], &data, &len, NULL)) {
    fprintf(stderr, "usage: downgrade_bench FILE.eml\n");
    return 2;
  }
  GByteArray *out = NULL;
  GError *error = NULL;
  MimeDowngradeSummary sum;
  gint64 t0 = g_get_monotonic_time();
  int rc = mime_downgrade_bytes(data, len, 0, &out, &sum, &error);
  gint64 t1 = g_get_monotonic_time();
  if (rc != 1) {
    fprintf(stderr, "nothing converted (%d): %s\n", rc, error ? error->message : "no 8-bit part");
    return 1;
  }
  double s = (double) (t1 - t0) / 1e6;
  printf("%.3f %.1f %u\n", s, (double) len / 1048576.0 / s, out->len);
  g_byte_array_unref(out);
  g_free(data);
  return 0;
}
