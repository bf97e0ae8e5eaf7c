/* rcpt_snapshot.h - what the SMTP server needs to answer RCPT and judge the forwarder policy,
 * held in memory: live inbound addresses (with their grace expiry), and per enterprise its
 * domains, employees and settings. The SMTP loop reads a snapshot and never the database, so a
 * locked or slow database cannot stall a reply (issue 9); rcpt_refresher.h builds new snapshots
 * off the loop.
 *
 * A snapshot is immutable once loaded and reference-counted (atomically), so the loop may keep
 * one across a look-up while the refresher publishes the next. Size: one hash entry per live
 * address and per employee, one settings record per enterprise.
 */
#ifndef MA_RCPT_SNAPSHOT_H
#define MA_RCPT_SNAPSHOT_H

#include "forwarder_policy.h"
#include "storage/storage.h"

#include <glib.h>

typedef struct RcptSnapshot RcptSnapshot;

/* Reads everything from st (blocking: never on the event loop). default_policy is the config's
 * [smtp] forwarder_policy (the default of the per-enterprise setting). version is stored as is
 * (the storage_tenant_version it was read at). Returns a snapshot with one reference (drop it with
 * rcpt_snapshot_unref), or NULL with *error from storage. */
RcptSnapshot *rcpt_snapshot_load(MaStorage *st, const char *default_policy, gint64 version, GError **error);

/* An empty snapshot: every address unknown (tests, and a server before its first load). */
RcptSnapshot *rcpt_snapshot_new_empty(const char *default_policy);

RcptSnapshot *rcpt_snapshot_ref(RcptSnapshot *snap);
/* Accepts NULL. */
void rcpt_snapshot_unref(RcptSnapshot *snap);

gint64 rcpt_snapshot_version(const RcptSnapshot *snap);
guint rcpt_snapshot_address_count(const RcptSnapshot *snap);

/* 1 when local_part (any case) is an address live at now, with *enterprise_id_r newly allocated;
 * 0 when not. Never fails. */
int rcpt_snapshot_inbound(const RcptSnapshot *snap, const char *local_part, gint64 now, char **enterprise_id_r);

/* The forwarder policy (forwarder_policy_decide) for enterprise_id, with its settings, domains
 * and employees from the snapshot. An enterprise the snapshot does not hold (deleted meanwhile)
 * is judged with the default settings and no employees. msg NULL: envelope only (at RCPT). 0, or
 * -1 with *error (not from look-ups, which cannot fail here). */
int rcpt_snapshot_policy(const RcptSnapshot *snap, const char *enterprise_id, const char *client_ip,
                         const char *mail_from, const guint8 *msg, gsize len, FwdDecision *out, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(RcptSnapshot, rcpt_snapshot_unref)

#endif
