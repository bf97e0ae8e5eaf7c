/* relink.h - the archived half of late re-matching (pending.h): recent archived mail matched again
 * after records change, and mail unlinked from deleted records. Called by pending_rematch only.
 */
#ifndef MA_RELINK_H
#define MA_RELINK_H

#include "pending.h"

/* Archived messages of the last relink_days (an enterprise setting; 0: none) with a participant at
 * one of changes' emails or account domains are matched again; links they lacked are added with their reasons, and the rules
 * run for those links alone (one activity per message and record at most). Counts stats->relinked. */
int relink_changed(MaStorage *st, const MaConfig *cfg, const char *enterprise_id, const MaRecordChanges *changes,
                   MaRematchStats *stats, GError **error);
/* Unlinks the deleted records (MaRecordRef*) and moves what is linked to nothing any more back to
 * the pending store, as pending.h says. Counts stats->unlinked and stats->returned. */
int relink_deleted(MaStorage *st, const MaConfig *cfg, const char *enterprise_id, const GPtrArray *deleted,
                   MaRematchStats *stats, GError **error);

#endif
