/* storage_mailboxes.c - the mailbox bindings' and OAuth2 grants' part of the storage interface
 * (storage.h): the dispatch of storage_mailbox_* and storage_oauth2_* through the backend table,
 * kept apart from storage.c so each file stays one readable job. */
#include "storage.h"
#include "storage_backend.h"

int storage_mailbox_add(MaStorage *st, const MaMailbox *m, GError **error)
{
  g_assert(st != NULL);
  return st->be->mailbox_add(st->impl, m, error);
}

int storage_mailbox_get(MaStorage *st, const char *enterprise_id, const char *id_or_email, MaMailbox **out, GError **error)
{
  g_assert(st != NULL);
  return st->be->mailbox_get(st->impl, enterprise_id, id_or_email, out, error);
}

int storage_mailbox_list(MaStorage *st, const char *enterprise_id, GPtrArray *out, GError **error)
{
  g_assert(st != NULL);
  return st->be->mailbox_list(st->impl, enterprise_id, out, error);
}

int storage_mailbox_remove(MaStorage *st, const char *enterprise_id, const char *id, GError **error)
{
  g_assert(st != NULL);
  return st->be->mailbox_remove(st->impl, enterprise_id, id, error);
}

int storage_mailbox_set_state(MaStorage *st, const char *enterprise_id, const char *id, const char *state, gint64 next_attempt_at, GError **error)
{
  g_assert(st != NULL);
  return st->be->mailbox_set_state(st->impl, enterprise_id, id, state, next_attempt_at, error);
}

int storage_mailbox_report(MaStorage *st, const char *mailbox_id, const MaMailboxSyncReport *r, GError **error)
{
  g_assert(st != NULL);
  return st->be->mailbox_report(st->impl, mailbox_id, r, error);
}

int storage_mailbox_lease(MaStorage *st, const char *mailbox_id, const char *owner, gint64 now, gint64 until, GError **error)
{
  g_assert(st != NULL);
  return st->be->mailbox_lease(st->impl, mailbox_id, owner, now, until, error);
}

int storage_mailbox_release(MaStorage *st, const char *mailbox_id, const char *owner, GError **error)
{
  g_assert(st != NULL);
  return st->be->mailbox_release(st->impl, mailbox_id, owner, error);
}

int storage_mailbox_checkpoint_get(MaStorage *st, const char *mailbox_id, const char *folder, MaFolderCheckpoint *out, GError **error)
{
  g_assert(st != NULL);
  return st->be->mailbox_checkpoint_get(st->impl, mailbox_id, folder, out, error);
}

int storage_mailbox_checkpoint_advance(MaStorage *st, const char *mailbox_id, const char *folder, const MaFolderCheckpoint *cp, guint32 key_uidvalidity, const char *const *keys, guint n, GError **error)
{
  g_assert(st != NULL);
  return st->be->mailbox_checkpoint_advance(st->impl, mailbox_id, folder, cp, key_uidvalidity, keys, n, error);
}

int storage_mailbox_key_seen(MaStorage *st, const char *mailbox_id, const char *folder, guint32 uidvalidity, const char *key, GError **error)
{
  g_assert(st != NULL);
  return st->be->mailbox_key_seen(st->impl, mailbox_id, folder, uidvalidity, key, error);
}

int storage_mailbox_failure_count(MaStorage *st, const char *mailbox_id, const char *folder, const char *key, const char *error_text, gint64 now, int *count, GError **error)
{
  g_assert(st != NULL);
  return st->be->mailbox_failure_count(st->impl, mailbox_id, folder, key, error_text, now, count, error);
}

int storage_mailbox_quarantine_list(MaStorage *st, const char *mailbox_id, int min_failures, GPtrArray *out, GError **error)
{
  g_assert(st != NULL);
  return st->be->mailbox_quarantine_list(st->impl, mailbox_id, min_failures, out, error);
}

int storage_oauth2_grant_put(MaStorage *st, const MaOAuth2Grant *g, GError **error)
{
  g_assert(st != NULL);
  return st->be->oauth2_grant_put(st->impl, g, error);
}

int storage_oauth2_grant_get(MaStorage *st, const char *owner, MaOAuth2Grant **out, GError **error)
{
  g_assert(st != NULL);
  return st->be->oauth2_grant_get(st->impl, owner, out, error);
}

int storage_oauth2_grant_rotate(MaStorage *st, const char *owner, gint64 expect_generation, const char *access_sealed, gint64 access_expires_at, const char *refresh_sealed, gint64 now, GError **error)
{
  g_assert(st != NULL);
  return st->be->oauth2_grant_rotate(st->impl, owner, expect_generation, access_sealed, access_expires_at, refresh_sealed, now, error);
}

int storage_oauth2_grant_revoke(MaStorage *st, const char *owner, gint64 now, GError **error)
{
  g_assert(st != NULL);
  return st->be->oauth2_grant_revoke(st->impl, owner, now, error);
}

int storage_oauth2_state_add(MaStorage *st, const char *state, const char *owner, const char *enterprise_id, const char *verifier_sealed, gint64 expires_at, GError **error)
{
  g_assert(st != NULL);
  return st->be->oauth2_state_add(st->impl, state, owner, enterprise_id, verifier_sealed, expires_at, error);
}

int storage_oauth2_state_take(MaStorage *st, const char *state, gint64 now, char **owner, char **verifier_sealed, GError **error)
{
  g_assert(st != NULL);
  return st->be->oauth2_state_take(st->impl, state, now, owner, verifier_sealed, error);
}

int storage_mailbox_states(MaStorage *st, GHashTable *out, gint64 *quarantined, GError **error)
{
  g_assert(st != NULL && out != NULL && quarantined != NULL);
  return st->be->mailbox_states(st->impl, out, quarantined, error);
}

int storage_mailbox_quarantine(MaStorage *st, const char *mailbox_id, const char *folder, const char *key,
                               const char *error_text, gint64 now, GError **error)
{
  g_assert(st != NULL);
  return st->be->mailbox_quarantine(st->impl, mailbox_id, folder, key, error_text, now, error);
}

int storage_oauth2_state_find(MaStorage *st, const char *state, gint64 now, char **owner, char **enterprise_id,
                              GError **error)
{
  g_assert(st != NULL);
  return st->be->oauth2_state_find(st->impl, state, now, owner, enterprise_id, error);
}

int storage_mailbox_set_secret(MaStorage *st, const char *mailbox_id, const char *secret_sealed, GError **error)
{
  g_assert(st != NULL);
  return st->be->mailbox_set_secret(st->impl, mailbox_id, secret_sealed, error);
}
