/* log.h - one-line structured log records to stderr.
 *
 * A record is "LEVEL component: message key=value...". Never pass passwords, tokens, API keys or
 * message bodies: log identifiers (spool id, message id, enterprise id) instead.
 */
#ifndef MA_LOG_H
#define MA_LOG_H

#include <glib.h>

typedef enum { MA_LOG_DEBUG, MA_LOG_INFO, MA_LOG_WARN, MA_LOG_ERROR } MaLogLevel;

void ma_log_set_level(MaLogLevel level);
/* Parses "debug", "info", "warn", "error"; returns -1 for anything else. */
int ma_log_level_parse(const char *name);
void ma_log(MaLogLevel level, const char *component, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

#define ma_debug(comp, ...) ma_log(MA_LOG_DEBUG, comp, __VA_ARGS__)
#define ma_info(comp, ...) ma_log(MA_LOG_INFO, comp, __VA_ARGS__)
#define ma_warn(comp, ...) ma_log(MA_LOG_WARN, comp, __VA_ARGS__)
#define ma_error(comp, ...) ma_log(MA_LOG_ERROR, comp, __VA_ARGS__)

#endif
