/* log.c - log records through GLib's structured logging (see log.h). ma_log builds the fields and
 * hands them to the one writer, which is also installed as GLib's writer so the libraries' own
 * messages are formatted and routed alike. The writer is called directly rather than through
 * g_log_structured_array, whose G_LOG_LEVEL_CRITICAL would abort under G_DEBUG=fatal-criticals:
 * an error record is an answer to a failure, not a bug. stderr records are one write(2) each so
 * lines from threads never mix; the journal gets GLib's native-protocol writer; syslog uses the
 * mail facility. */
#include "log.h"

#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

typedef enum { TARGET_STDERR, TARGET_JOURNAL, TARGET_SYSLOG } LogTarget;

static volatile int min_level = MA_LOG_INFO;
static volatile int target = TARGET_STDERR;
static const char *const level_names[] = {"debug", "info", "warn", "error"};
static const char *const level_tags[] = {"DEBUG", "INFO", "WARN", "ERROR"};
static const char *const level_priorities[] = {"7", "6", "4", "3"}; /* syslog(3) numbers */

#define LOG_LINE_MAX 2048
#define LOG_MAX_FIELDS 16

void ma_log_set_level(MaLogLevel level) { min_level = level; }
gboolean ma_log_enabled(MaLogLevel level) { return (int) level >= min_level; }

int ma_log_level_parse(const char *name)
{
  for (int i = 0; i < 4; i++)
    if (name && g_ascii_strcasecmp(name, level_names[i]) == 0) return i;
  return -1;
}

static GLogWriterOutput writer(GLogLevelFlags glevel, const GLogField *fields, gsize n_fields, gpointer unused);

int ma_log_configure(const char *level, const char *target_name, GError **error)
{
  static gsize writer_installed;
  if (level) {
    int l = ma_log_level_parse(level);
    if (l < 0) {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "[log] level: \"%s\" is not one of debug, info, warn, error", level);
      return -1;
    }
    min_level = l;
  }
  if (target_name) {
    if (strcmp(target_name, "auto") == 0)
      target = g_log_writer_is_journald(STDERR_FILENO) ? TARGET_JOURNAL : TARGET_STDERR;
    else if (strcmp(target_name, "stderr") == 0)
      target = TARGET_STDERR;
    else if (strcmp(target_name, "journal") == 0)
      target = TARGET_JOURNAL;
    else if (strcmp(target_name, "syslog") == 0)
      target = TARGET_SYSLOG;
    else {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID,
                  "[log] target: \"%s\" is not one of auto, stderr, journal, syslog", target_name);
      return -1;
    }
    if (target == TARGET_SYSLOG) openlog("mailagent", LOG_PID | LOG_NDELAY, LOG_MAIL);
  }
  if (g_once_init_enter(&writer_installed)) {
    g_log_set_writer_func(writer, NULL, NULL);
    g_once_init_leave(&writer_installed, 1);
  }
  return 0;
}

static const char *field_text(const GLogField *fields, gsize n, const char *key)
{
  for (gsize i = 0; i < n; i++)
    if (strcmp(fields[i].key, key) == 0 && fields[i].length < 0) return fields[i].value;
  return NULL;
}

static int level_of(GLogLevelFlags glevel)
{
  if (glevel & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL)) return MA_LOG_ERROR;
  if (glevel & G_LOG_LEVEL_WARNING) return MA_LOG_WARN;
  if (glevel & (G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO)) return MA_LOG_INFO;
  return MA_LOG_DEBUG;
}

static void write_stderr_line(int level, const char *component, const char *message)
{
  char line[LOG_LINE_MAX];
  GDateTime *now = g_date_time_new_now_utc();
  g_autofree char *stamp = g_date_time_format(now, "%Y-%m-%dT%H:%M:%S");
  int ms = g_date_time_get_microsecond(now) / 1000;
  g_date_time_unref(now);
  int n = snprintf(line, sizeof line, "%s.%03dZ %s %s: %s", stamp, ms, level_tags[level], component, message);
  if (n < 0) return;
  size_t len = MIN((size_t) n, sizeof line - 2);
  line[len++] = '\n';
  ssize_t w = write(STDERR_FILENO, line, len);
  (void) w;
}

static GLogWriterOutput writer(GLogLevelFlags glevel, const GLogField *fields, gsize n_fields, gpointer unused)
{
  int level = level_of(glevel);
  if (level < min_level) return G_LOG_WRITER_HANDLED;
  const char *component = field_text(fields, n_fields, "MAILAGENT_COMPONENT");
  if (!component) component = field_text(fields, n_fields, "GLIB_DOMAIN");
  if (!component) component = "glib";
  const char *message = field_text(fields, n_fields, "MESSAGE");
  if (!message) message = "";
  switch (target) {
  case TARGET_JOURNAL:
    if (g_log_writer_journald(glevel, fields, n_fields, NULL) == G_LOG_WRITER_HANDLED) return G_LOG_WRITER_HANDLED;
    break; /* no journal after all: standard error still gets the record */
  case TARGET_SYSLOG:
    syslog(level == MA_LOG_ERROR ? LOG_ERR : level == MA_LOG_WARN ? LOG_WARNING : level == MA_LOG_INFO ? LOG_INFO : LOG_DEBUG,
           "%s: %s", component, message);
    return G_LOG_WRITER_HANDLED;
  default:
    break;
  }
  write_stderr_line(level, component, message);
  return G_LOG_WRITER_HANDLED;
}

/* Adds a MAILAGENT_<KEY> field for each key=value word of message (value up to the next space, or
 * a double-quoted value), into fields[*n...] with storage in names/values. Keys are lower-case
 * words; message= is the message id. */
static void add_word_fields(const char *message, GLogField *fields, gsize *n, char names[][40], char values[][256])
{
  const char *p = message;
  gsize first = *n;
  while (*p && *n < LOG_MAX_FIELDS) {
    while (*p == ' ') p++;
    const char *key = p;
    while (g_ascii_islower(*p) || *p == '_') p++;
    gsize key_len = (gsize) (p - key);
    if (key_len == 0 || key_len > 24 || *p != '=' || (key != message && key[-1] != ' ')) {
      while (*p && *p != ' ') p++;
      continue;
    }
    p++;
    const char *value = p;
    gsize value_len;
    if (*p == '"') {
      value = ++p;
      while (*p && *p != '"') p++;
      value_len = (gsize) (p - value);
      if (*p) p++;
    } else {
      while (*p && *p != ' ') p++;
      value_len = (gsize) (p - value);
    }
    gsize slot = *n - first;
    char *name = names[slot];
    if (key_len == 7 && strncmp(key, "message", 7) == 0) g_strlcpy(name, "MAILAGENT_MESSAGE_ID", 40);
    else {
      g_strlcpy(name, "MAILAGENT_", 40);
      for (gsize i = 0; i < key_len; i++) name[10 + i] = g_ascii_toupper(key[i]);
      name[10 + key_len] = '\0';
    }
    g_strlcpy(values[slot], value, MIN(value_len + 1, 256));
    fields[*n] = (GLogField){name, values[slot], -1};
    (*n)++;
  }
}

void ma_log(MaLogLevel level, const char *component, const char *fmt, ...)
{
  if ((int) level < min_level) return;
  char message[LOG_LINE_MAX];
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(message, sizeof message, fmt, ap);
  va_end(ap);
  if (m < 0) return;
  /* Control characters from peers must not forge extra log lines. */
  for (char *c = message; *c; c++)
    if ((unsigned char) *c < 0x20) *c = ' ';
  static const GLogLevelFlags glevels[] = {G_LOG_LEVEL_DEBUG, G_LOG_LEVEL_INFO, G_LOG_LEVEL_WARNING,
                                           G_LOG_LEVEL_CRITICAL};
  GLogField fields[LOG_MAX_FIELDS] = {
    {"MESSAGE", message, -1},
    {"PRIORITY", level_priorities[level], -1},
    {"SYSLOG_IDENTIFIER", "mailagent", -1},
    {"MAILAGENT_COMPONENT", component, -1},
  };
  gsize n = 4;
  char names[LOG_MAX_FIELDS][40];
  char values[LOG_MAX_FIELDS][256];
  if (target == TARGET_JOURNAL) add_word_fields(message, fields, &n, names, values);
  writer(glevels[level], fields, n, NULL);
}
