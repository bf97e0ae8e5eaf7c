/* log.c - writes log records to stderr, one write(2) per record so lines from threads never mix. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile int min_level = MA_LOG_INFO;

void ma_log_set_level(MaLogLevel level) { min_level = level; }

int ma_log_level_parse(const char *name)
{
  static const char *const names[] = {"debug", "info", "warn", "error"};
  for (int i = 0; i < 4; i++)
    if (name && g_ascii_strcasecmp(name, names[i]) == 0) return i;
  return -1;
}

void ma_log(MaLogLevel level, const char *component, const char *fmt, ...)
{
  static const char *const tags[] = {"DEBUG", "INFO", "WARN", "ERROR"};
  if ((int)level < min_level) return;
  char line[2048];
  GDateTime *now = g_date_time_new_now_utc();
  g_autofree char *stamp = g_date_time_format(now, "%Y-%m-%dT%H:%M:%S");
  g_date_time_unref(now);
  int n = snprintf(line, sizeof line, "%s.%03dZ %s %s: ", stamp,
                   (int)(g_get_real_time() / 1000 % 1000), tags[level], component);
  if (n < 0) return;
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
  va_end(ap);
  size_t len = (m < 0) ? (size_t)n : MIN((size_t)n + (size_t)m, sizeof line - 2);
  /* Control characters from peers must not forge extra log lines. */
  for (size_t i = (size_t)n; i < len; i++)
    if ((unsigned char)line[i] < 0x20) line[i] = ' ';
  line[len++] = '\n';
  ssize_t w = write(STDERR_FILENO, line, len);
  (void)w;
}
