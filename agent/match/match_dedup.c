/* match_dedup.c - the dedup key of a parsed message. Pure: no storage.
 *
 * With a Message-ID the key is sha256("mid\n" + normalised id), so two forwards and an IMAP copy of
 * one mail meet. Without one it is sha256("hash\n" + From address (lower-case) + "\n" + folded
 * subject + "\n" + Date in whole minutes + "\n" + folded text): minutes because hand-forward header
 * blocks show no seconds, folded text because forwarders re-wrap whitespace.
 */
#include "match.h"

#include "agent/lib/crypto.h"

#include <string.h>

static const char *from_address(const MaMessage *m)
{
  const char *sender = NULL;
  for (guint i = 0; m->participants && i < m->participants->len; i++) {
    const MaParticipant *p = m->participants->pdata[i];
    if (p->role == MA_ROLE_FROM) return p->address;
    if (p->role == MA_ROLE_SENDER && !sender) sender = p->address;
  }
  return sender ? sender : "";
}

void match_dedup_key(const MaMessage *m, char out[65])
{
  if (m->message_id && *m->message_id) {
    MaSha256 *h = ma_sha256_new();
    ma_sha256_update(h, "mid\n", 4);
    ma_sha256_update(h, m->message_id, strlen(m->message_id));
    ma_sha256_finish(h, out);
    return;
  }
  g_autofree char *from = g_utf8_strdown(from_address(m), -1);
  g_autofree char *subject = match_fold_whitespace(m->subject);
  g_autofree char *text = match_fold_whitespace(m->text);
  char minute[32];
  g_snprintf(minute, sizeof minute, "%" G_GINT64_FORMAT, m->date > 0 ? m->date / 60 : (gint64) 0);
  MaSha256 *h = ma_sha256_new();
  const char *parts[] = {"hash", from, subject, minute, text};
  for (guint i = 0; i < G_N_ELEMENTS(parts); i++) {
    ma_sha256_update(h, parts[i], strlen(parts[i]));
    ma_sha256_update(h, "\n", 1);
  }
  ma_sha256_finish(h, out);
}
