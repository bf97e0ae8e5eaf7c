/* log.h - structured log records, written to standard error, the systemd journal or syslog.
 *
 * A record is a level, a component and a message whose `key=value` words (client=..., enterprise=...,
 * message=..., session=...) are also fields: on standard error the record is one line
 * "TIME LEVEL component: message"; in the journal it carries PRIORITY (3 error, 4 warn, 6 info,
 * 7 debug), MAILAGENT_COMPONENT and MAILAGENT_<KEY> for each key=value word (message= becomes
 * MAILAGENT_MESSAGE_ID), so `journalctl MAILAGENT_ENTERPRISE=...` finds one tenant's records.
 * GLib's own warnings from the libraries go the same way. Never pass passwords, tokens, API keys
 * or message bodies: log identifiers (spool id, message id, enterprise id) instead.
 */
#ifndef MA_LOG_H
#define MA_LOG_H

#include <glib.h>

typedef enum { MA_LOG_DEBUG, MA_LOG_INFO, MA_LOG_WARN, MA_LOG_ERROR } MaLogLevel;

void ma_log_set_level(MaLogLevel level);
/* Parses "debug", "info", "warn", "error"; returns -1 for anything else. */
int ma_log_level_parse(const char *name);
/* Applies [log] level and target ("auto", "stderr", "journal", "syslog"; NULL keeps the current).
 * "auto" is the journal when standard error is connected to it (as under systemd), else stderr.
 * Returns 0, or -1 with *error for a name it does not know. Any thread; affects later records. */
int ma_log_configure(const char *level, const char *target, GError **error);
void ma_log(MaLogLevel level, const char *component, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
/* TRUE when records of this level are written: a caller that builds a record's text ahead of
 * ma_log (an allocation, a formatted summary) asks first, so nothing is formatted to be dropped. */
gboolean ma_log_enabled(MaLogLevel level);

#define ma_debug(comp, ...) ma_log(MA_LOG_DEBUG, comp, __VA_ARGS__)
#define ma_info(comp, ...) ma_log(MA_LOG_INFO, comp, __VA_ARGS__)
#define ma_warn(comp, ...) ma_log(MA_LOG_WARN, comp, __VA_ARGS__)
#define ma_error(comp, ...) ma_log(MA_LOG_ERROR, comp, __VA_ARGS__)

#endif
