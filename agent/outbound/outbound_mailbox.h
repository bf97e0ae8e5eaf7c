/* outbound_mailbox.h - the employee-mailbox channel of the delivery engine (issue 13): which bound
 * mailbox a message leaves through, the route recorded for it, the calendar day its daily limit
 * counts in, and the Sent copy appended to the mailbox afterwards (outbound_sent_copy.c).
 *
 * The choice of mailbox is one small function (outbound_mailbox_choose) so the routing of
 * agent/relay can replace it; everything after the choice reads only the route recorded on the
 * queue row: {"channel": "employee_mailbox", "mailbox_id", "mailbox", "reason"}.
 */
#ifndef MA_OUTBOUND_MAILBOX_H
#define MA_OUTBOUND_MAILBOX_H

#include "agent/lib/config.h"
#include "storage/storage.h"

#include <glib.h>

/* The mailbox a message of enterprise_id sent as `employee` (id or address; NULL: the From
 * address's owner) leaves through: the employee's oldest active binding that may send (has an
 * SMTP server). 1 with *out (caller frees), 0 none (with *why, newly allocated), -1 storage error. */
int outbound_mailbox_choose(MaStorage *st, const char *enterprise_id, const char *employee, const char *from,
                            MaMailbox **out, char **why, GError **error);

/* The route JSON text of a message sent through m, and why (newly allocated). */
char *outbound_mailbox_route(const MaMailbox *m, const char *reason);
/* The default path's route after leaving the mailbox (a fallback), and why (newly allocated). */
char *outbound_fallback_route(const char *from_mailbox_id, const char *reason);
/* The mailbox id of an employee_mailbox route (newly allocated), or NULL for any other route. */
char *outbound_route_mailbox_id(const char *route_json);

/* The calendar day of now in the enterprise's time zone (setting "timezone", an IANA name; UTC
 * when unset or unknown) as "YYYY-MM-DD" into day, and when the next day starts (Unix seconds). */
void outbound_mailbox_day(MaStorage *st, const char *enterprise_id, gint64 now, char day[16], gint64 *next_day);

/* ---- the Sent copy (outbound_sent_copy.c) ----------------------------------------------------- */

/* Starts the thread that appends the Sent copies recorded in the queue (storage_sent_copy_*) to
 * their mailboxes over IMAP: its own storage handle, the collector's environment (master key,
 * presets, trust), one message at a time. cfg must outlive it. 0, or -1 with *error; without a
 * master key (no `mailagent init`) it starts nothing and returns 0. */
int outbound_sent_copy_start(const MaConfig *cfg, GError **error);
/* Due copies now (any thread; never blocks). */
void outbound_sent_copy_notify(void);
/* Stops and joins; a copy in flight stays "appending" and is claimed again after its lease. */
void outbound_sent_copy_stop(void);

#endif
