/* smtp_limits.c - the defaults of an inbound SMTP session's limits (see smtp_limits.h). */
#include "smtp_limits.h"

#include <string.h>

void smtp_limits_defaults(SmtpLimits *lim)
{
  memset(lim, 0, sizeof *lim);
  lim->max_message_size = 52428800;
  lim->max_recipients = 100;
  lim->error_budget = 10;
  lim->junk_command_limit = 100;
  lim->command_timeout_ms = 300000;
  lim->data_timeout_ms = 600000;
  lim->tls_timeout_ms = 30000;
  lim->min_data_rate = 1024;
  lim->rate_grace_ms = 5000;
  lim->rate_window_ms = 10000;
  lim->data.max_size = lim->max_message_size;
  lim->data.max_line = SMTP_MAX_TEXT_LINE;
  lim->data.max_header = 102400;
  lim->data.max_headers = 1000;
}
