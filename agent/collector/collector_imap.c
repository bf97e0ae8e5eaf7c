/* collector_imap.c - one IMAP session of the collector, as one explicit state machine on libetpan's
 * mailimap over our OpenSSL stream (collector_stream).
 *
 *   CONNECT -> [TLS] -> GREETING -> [STARTTLS] -> CAPABILITY -> AUTH -> [ID] -> LIST
 *     -> per folder: EXAMINE -> SEARCH -> SIZES -> FETCH (rounds) -> next folder -> LOGOUT -> DONE
 *   idle mode (RFC 2177): ... AUTH -> [ID] -> IDLE (EXAMINE INBOX, IDLE) -> IDLE_WAIT -> LOGOUT
 *   append mode (the Sent copy of mail sent through the mailbox): ... AUTH -> [ID] -> LIST -> APPEND
 *     (EXAMINE the Sent folder, UID SEARCH HEADER Message-ID, APPEND with \Seen unless found)
 *     -> LOGOUT
 *     IDLE_WAIT waits on the stream (buffered TLS bytes first), ends the IDLE with DONE when the
 *     server says something, and reports new mail when EXISTS grew; otherwise it idles again
 *     until idle_ms passed or the caller asks it to stop.
 *
 * Read-only by construction, but for the append mode's one APPEND: folders are opened with EXAMINE
 * and bodies fetched with BODY.PEEK[], so no flag changes and nothing is deleted. Incremental by UID under UIDVALIDITY; the first sync of
 * a folder (and a sync after UIDVALIDITY changed) covers `since` with SEARCH SINCE. Each FETCH round
 * holds at most batch_bytes of message data; a larger message comes in partial ranges
 * (BODY.PEEK[]<offset.length>) written straight into its spool file, so memory never holds more
 * than one round whatever the message's size. Every response is capped by the stream's byte
 * budget. After each round the sink makes the messages durable and only then advances the
 * checkpoint.
 *
 * CONDSTORE (RFC 7162) where offered: EXAMINE reads HIGHESTMODSEQ, and a folder whose value has
 * not moved since its last complete sync is skipped without a SEARCH.
 *
 * OAuth2: OAUTHBEARER (RFC 7628, written here: libetpan has none) when the server offers it with
 * SASL-IR, else libetpan's XOAUTH2.
 *
 * Refused: a PREAUTH greeting (it would skip our TLS and authentication), STARTTLS when the server
 * does not offer it, data injected after the STARTTLS go-ahead (collector_stream). Errors name the
 * step and quote the server's reply (bounded, control characters removed); never a secret.
 */
#include "collector.h"
#include "collector_folders.h"
#include "collector_stream.h"

#include "agent/lib/error.h"
#include "agent/lib/log.h"
#include "agent/oauth2/oauth2.h"

#include <libetpan/libetpan.h>
#include <string.h>
#include <time.h>

#define IMAP_SIZES_PER_FETCH 1000
#define IMAP_UIDS_PER_ROUND 500
#define IMAP_REPLY_QUOTE_MAX 200
#define IMAP_FAILURES_BEFORE_QUARANTINE MA_MAILBOX_QUARANTINE_AFTER

typedef enum {
  IMAP_CONNECT,
  IMAP_TLS,
  IMAP_GREETING,
  IMAP_STARTTLS,
  IMAP_CAPABILITY,
  IMAP_AUTH,
  IMAP_ID,
  IMAP_LIST,
  IMAP_EXAMINE,
  IMAP_SEARCH,
  IMAP_SIZES,
  IMAP_FETCH,
  IMAP_NEXT_FOLDER,
  IMAP_IDLE,
  IMAP_IDLE_WAIT,
  IMAP_APPEND,
  IMAP_LOGOUT,
  IMAP_DONE,
} ImapState;

typedef struct {
  const CollectorSessionParams *p;
  CollectorSink *sink;
  CollectorSessionResult *res;
  ImapState state;
  mailstream *stream;      /* ours until handed to mailimap_connect */
  gboolean stream_given;   /* mailimap owns (and closes) the stream */
  mailimap *imap;
  GPtrArray *listed;       /* CollectorFolder* */
  GPtrArray *folders;      /* char*: wire names to collect */
  guint folder_idx;
  const char *folder;
  guint32 uidvalidity, uidnext;
  guint64 modseq;          /* the folder's HIGHESTMODSEQ at EXAMINE (CONDSTORE), 0 when not offered */
  MaFolderCheckpoint cp;
  gboolean window;         /* SEARCH SINCE (first sync or UIDVALIDITY changed) */
  GArray *uids;            /* guint32, ascending */
  GArray *sizes;           /* guint32, parallel to uids */
  guint pos;               /* next index in uids to fetch */
  guint32 exists;          /* idle: messages in INBOX when the IDLE began */
  gint64 idle_deadline;    /* idle: monotonic microseconds */
} ImapSession;

/* The server's last reply, fit for an error message. Caller frees. */
static char *server_reply(ImapSession *s)
{
  const char *r = s->imap && s->imap->imap_response ? s->imap->imap_response : "(no reply)";
  GString *out = g_string_new(NULL);
  for (const char *c = r; *c && out->len < IMAP_REPLY_QUOTE_MAX; c++)
    g_string_append_c(out, (unsigned char)*c < 0x20 || *c == 0x7f ? ' ' : *c);
  return g_string_free(out, FALSE);
}

static int fail(ImapSession *s, GError **error, int code, const char *step, int rc)
{
  g_autofree char *reply = server_reply(s);
  if (s->stream && collector_stream_over_budget(s->stream))
    g_set_error(error, MA_ERROR, MA_ERROR_LIMIT, "%s: the server's response exceeded %zu bytes", step,
                s->p->batch_bytes + (1 << 20));
  else if (rc == MAILIMAP_ERROR_STREAM)
    g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "%s: connection lost or timed out", step);
  else
    g_set_error(error, MA_ERROR, code, "%s: %s", step, reply);
  return -1;
}

static void budget(ImapSession *s)
{
  collector_stream_set_budget(s->stream, s->p->batch_bytes + (1 << 20));
}

static gboolean has_cap(ImapSession *s, const char *name)
{
  return mailimap_has_extension(s->imap, name) != 0;
}

/* ---- one function per state; each returns the next state or -1 --------------------------- */

static int imap_connect(ImapSession *s, GError **error)
{
  const MaMailbox *m = s->p->mailbox;
  if (collector_stream_connect(m->host, m->port, s->p->timeout_ms, &s->stream, error) < 0) return -1;
  return g_str_equal(m->security, "tls") ? IMAP_TLS : IMAP_GREETING;
}

static int imap_tls(ImapSession *s, GError **error)
{
  const MaMailbox *m = s->p->mailbox;
  if (collector_stream_start_tls(s->stream, s->p->tls, m->host, !m->allow_untrusted, error) < 0) return -1;
  s->res->untrusted = m->allow_untrusted;
  /* after STARTTLS the capabilities must be asked again (RFC 3501 6.2.1) */
  return s->state == IMAP_STARTTLS ? IMAP_CAPABILITY : IMAP_GREETING;
}

static int imap_greeting(ImapSession *s, GError **error)
{
  budget(s);
  s->stream_given = TRUE;
  int rc = mailimap_connect(s->imap, s->stream);
  /* from here on mailimap owns the stream (it keeps it even when the greeting is refused) */
  if (rc != MAILIMAP_NO_ERROR_AUTHENTICATED && rc != MAILIMAP_NO_ERROR_NON_AUTHENTICATED)
    return fail(s, error, MA_ERROR_TEMPFAIL, "greeting", rc);
  if (rc == MAILIMAP_NO_ERROR_AUTHENTICATED) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "greeting: the server sent PREAUTH; refused (no authentication%s)",
                collector_stream_is_tls(s->stream) ? "" : ", no TLS");
    return -1;
  }
  return collector_stream_is_tls(s->stream) ? IMAP_CAPABILITY : IMAP_STARTTLS;
}

static int imap_starttls(ImapSession *s, GError **error)
{
  budget(s);
  struct mailimap_capability_data *caps = NULL; /* libetpan keeps its own copy for has_cap */
  int rc = mailimap_capability(s->imap, &caps);
  if (caps) mailimap_capability_data_free(caps);
  if (rc != MAILIMAP_NO_ERROR) return fail(s, error, MA_ERROR_TEMPFAIL, "capability", rc);
  if (!has_cap(s, "STARTTLS")) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "starttls: the server does not offer STARTTLS");
    return -1;
  }
  rc = mailimap_starttls(s->imap);
  if (rc != MAILIMAP_NO_ERROR && s->imap->imap_stream && s->imap->imap_stream->read_buffer_len > 0) {
    /* libetpan (CVE-2020-15953 fix) refuses bytes after the go-ahead too; say why */
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID,
                "tls: the server sent data after its STARTTLS go-ahead (response injection); refused");
    return -1;
  }
  if (rc != MAILIMAP_NO_ERROR) return fail(s, error, MA_ERROR_INVALID, "starttls", rc);
  return imap_tls(s, error);
}

static int imap_capability(ImapSession *s, GError **error)
{
  budget(s);
  struct mailimap_capability_data *caps = NULL;
  int rc = mailimap_capability(s->imap, &caps);
  if (caps) mailimap_capability_data_free(caps);
  if (rc != MAILIMAP_NO_ERROR) return fail(s, error, MA_ERROR_TEMPFAIL, "capability", rc);
  return IMAP_AUTH;
}

/* AUTHENTICATE OAUTHBEARER (RFC 7628) written on libetpan's stream (libetpan has no OAUTHBEARER):
 * the initial response goes with the command (SASL-IR, RFC 4959); an error challenge "+ <base64
 * JSON>" is answered with an empty line, as 3.2.3 says, and the tagged NO read. Returns the
 * libetpan-style code: MAILIMAP_NO_ERROR, MAILIMAP_ERROR_LOGIN (refused) or MAILIMAP_ERROR_STREAM. */
static int auth_oauthbearer(ImapSession *s, const MaMailbox *m)
{
  static const char tag[] = "MA1";
  g_autofree char *ir = oauth2_sasl_oauthbearer(m->username, m->host, m->port, s->p->secret);
  g_autofree char *cmd = g_strdup_printf("%s AUTHENTICATE OAUTHBEARER %s\r\n", tag, ir);
  gboolean sent = mailstream_write(s->stream, cmd, strlen(cmd)) >= 0 && mailstream_flush(s->stream) >= 0;
  memset(cmd, 0, strlen(cmd));
  memset(ir, 0, strlen(ir));
  if (!sent) return MAILIMAP_ERROR_STREAM;
  MMAPString *buf = mmap_string_new("");
  int rc = MAILIMAP_ERROR_STREAM;
  for (int lines = 0; lines < 32; lines++) {
    char *line = mailstream_read_line_remove_eol(s->stream, buf);
    if (!line) break;
    if (line[0] == '+') { /* the error challenge */
      if (mailstream_write(s->stream, "\r\n", 2) < 0 || mailstream_flush(s->stream) < 0) break;
      continue;
    }
    if (g_str_has_prefix(line, tag) && line[strlen(tag)] == ' ') {
      const char *status = line + strlen(tag) + 1;
      /* as libetpan keeps it: the text lives in its response buffer */
      if (s->imap->imap_response_buffer && mmap_string_assign(s->imap->imap_response_buffer, status))
        s->imap->imap_response = s->imap->imap_response_buffer->str;
      rc = g_str_has_prefix(status, "OK") ? MAILIMAP_NO_ERROR : MAILIMAP_ERROR_LOGIN;
      break;
    }
    /* untagged lines (CAPABILITY after login) are read again below */
  }
  mmap_string_free(buf);
  if (rc == MAILIMAP_NO_ERROR) s->imap->imap_state = MAILIMAP_STATE_AUTHENTICATED;
  return rc;
}

static int imap_auth(ImapSession *s, GError **error)
{
  const MaMailbox *m = s->p->mailbox;
  budget(s);
  int rc;
  if (g_str_equal(m->auth, "oauth2")) {
    /* OAUTHBEARER, the standard, where offered; else Google's and Microsoft's XOAUTH2 */
    if (mailimap_has_authentication(s->imap, "OAUTHBEARER") && has_cap(s, "SASL-IR")) {
      rc = auth_oauthbearer(s, m);
    } else if (mailimap_has_xoauth2(s->imap)) {
      rc = mailimap_oauth2_authenticate(s->imap, m->username, s->p->secret);
    } else {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "auth: the server offers neither OAUTHBEARER nor XOAUTH2");
      return -1;
    }
  } else {
    if (has_cap(s, "LOGINDISABLED")) {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "auth: the server disabled LOGIN");
      return -1;
    }
    rc = mailimap_login(s->imap, m->username, s->p->secret);
  }
  if (rc != MAILIMAP_NO_ERROR) {
    if (rc != MAILIMAP_ERROR_STREAM) s->res->auth_failed = TRUE;
    return fail(s, error, MA_ERROR_INVALID, "auth", rc);
  }
  /* the server may announce new capabilities after login */
  struct mailimap_capability_data *caps = NULL;
  if (mailimap_capability(s->imap, &caps) == MAILIMAP_NO_ERROR && caps) mailimap_capability_data_free(caps);
  if (m->send_id) return IMAP_ID;
  return s->p->idle ? IMAP_IDLE : IMAP_LIST;
}

static int imap_id(ImapSession *s, GError **error)
{
  budget(s);
  /* mailimap_id with a list whose strings we own: libetpan 1.9 frees the list's cells but not the
   * strings it was given (mailimap_id_basic leaks them; seen under LeakSanitizer) */
  static char k_name[] = "name", v_name[] = "mailagent", k_version[] = "version", v_version[] = "0.1";
  struct mailimap_id_params_list *mine = mailimap_id_params_list_new_empty();
  struct mailimap_id_params_list *theirs = NULL;
  int rc = MAILIMAP_ERROR_MEMORY;
  if (mine && mailimap_id_params_list_add_name_value(mine, k_name, v_name) == 0 &&
      mailimap_id_params_list_add_name_value(mine, k_version, v_version) == 0)
    rc = mailimap_id(s->imap, mine, &theirs);
  if (mine) mailimap_id_params_list_free(mine);
  if (theirs) mailimap_id_params_list_free(theirs);
  if (rc != MAILIMAP_NO_ERROR) return fail(s, error, MA_ERROR_INVALID, "id", rc);
  return s->p->idle ? IMAP_IDLE : IMAP_LIST;
}

static gboolean list_flag(struct mailimap_mailbox_list *mb, const char *flag)
{
  if (!mb->mb_flag) return FALSE;
  if (g_str_equal(flag, "\\Noselect") && mb->mb_flag->mbf_type == MAILIMAP_MBX_LIST_FLAGS_SFLAG &&
      mb->mb_flag->mbf_sflag == MAILIMAP_MBX_LIST_SFLAG_NOSELECT)
    return TRUE;
  for (clistiter *it = clist_begin(mb->mb_flag->mbf_oflags); it; it = clist_next(it)) {
    struct mailimap_mbx_list_oflag *of = clist_content(it);
    if (of->of_type == MAILIMAP_MBX_LIST_OFLAG_FLAG_EXT && of->of_flag_ext &&
        g_ascii_strcasecmp(of->of_flag_ext, flag + 1) == 0)
      return TRUE;
  }
  return FALSE;
}

static int imap_list(ImapSession *s, GError **error)
{
  budget(s);
  clist *list = NULL;
  int rc = mailimap_list(s->imap, "", "*", &list);
  if (rc != MAILIMAP_NO_ERROR) {
    if (list) mailimap_list_result_free(list); /* libetpan may hand back an empty list with an error */
    return fail(s, error, MA_ERROR_INVALID, "list", rc);
  }
  for (clistiter *it = list ? clist_begin(list) : NULL; it; it = clist_next(it)) {
    struct mailimap_mailbox_list *mb = clist_content(it);
    if (!mb->mb_name || strlen(mb->mb_name) > COLLECTOR_FOLDER_NAME_MAX) continue;
    CollectorFolder *f = g_new0(CollectorFolder, 1);
    f->name = g_strdup(mb->mb_name);
    f->sent = list_flag(mb, "\\Sent");
    f->noselect = list_flag(mb, "\\Noselect") || list_flag(mb, "\\NonExistent");
    g_ptr_array_add(s->listed, f);
  }
  if (list) mailimap_list_result_free(list);
  if (s->p->verify_only) {
    for (guint i = 0; i < s->listed->len; i++) {
      const CollectorFolder *f = g_ptr_array_index(s->listed, i);
      char *utf8 = collector_mutf7_decode(f->name, strlen(f->name));
      if (utf8 && s->res->folders) g_ptr_array_add(s->res->folders, utf8);
      else g_free(utf8);
    }
  }
  if (s->p->append) return IMAP_APPEND;
  g_autofree char *missing = NULL;
  collector_folders_choose(s->listed, s->p->mailbox->folders, s->folders, &missing);
  if (missing) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "list: the server has no folder %s", missing);
    return -1;
  }
  if (s->p->verify_only) return IMAP_LOGOUT;
  s->folder_idx = 0;
  return s->folders->len ? IMAP_EXAMINE : IMAP_LOGOUT;
}

static int imap_examine(ImapSession *s, GError **error)
{
  s->folder = g_ptr_array_index(s->folders, s->folder_idx);
  budget(s);
  uint64_t modseq = 0;
  int rc = mailimap_has_condstore(s->imap) ? mailimap_examine_condstore(s->imap, s->folder, &modseq)
                                          : mailimap_examine(s->imap, s->folder);
  if (rc != MAILIMAP_NO_ERROR) return fail(s, error, MA_ERROR_TEMPFAIL, "examine", rc);
  struct mailimap_selection_info *sel = s->imap->imap_selection_info;
  s->uidvalidity = sel ? sel->sel_uidvalidity : 0;
  s->uidnext = sel ? sel->sel_uidnext : 0;
  s->modseq = modseq;
  if (s->uidvalidity == 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "examine: %s: the server gave no UIDVALIDITY", s->folder);
    return -1;
  }
  if (collector_sink_checkpoint(s->sink, s->folder, &s->cp, error) < 0) return -1;
  /* a new folder, or one whose UIDs were renumbered: take the window again; spool ids and the
   * archive's dedup make messages seen before a no-op */
  s->window = s->cp.uidvalidity != s->uidvalidity;
  if (s->window) s->cp = (MaFolderCheckpoint){.uidvalidity = s->uidvalidity};
  /* CONDSTORE (RFC 7162): a HIGHESTMODSEQ that has not moved since the folder was last synced to
   * the end means nothing arrived (nor changed): no SEARCH, no FETCH. It is stored only when a
   * sync reached the end of the folder, so a sync cut short never makes a folder look done. */
  if (!s->window && s->modseq != 0 && s->modseq == s->cp.highest_modseq) {
    ma_debug("collector", "mailbox=%s folder \"%s\" unchanged since modseq %" G_GUINT64_FORMAT ": not searched",
             s->p->mailbox->id, s->folder, s->modseq);
    return IMAP_NEXT_FOLDER;
  }
  return IMAP_SEARCH;
}

static int imap_search(ImapSession *s, GError **error)
{
  struct mailimap_search_key *key;
  if (s->window) {
    time_t t = (time_t)s->p->since;
    struct tm tm;
    gmtime_r(&t, &tm);
    key = mailimap_search_key_new_since(mailimap_date_new(tm.tm_mday, tm.tm_mon + 1, tm.tm_year + 1900));
  } else {
    key = mailimap_search_key_new_uid(mailimap_set_new_interval(s->cp.last_uid + 1, 0));
  }
  budget(s);
  clist *found = NULL;
  int rc = mailimap_uid_search(s->imap, NULL, key, &found);
  mailimap_search_key_free(key);
  if (rc != MAILIMAP_NO_ERROR) return fail(s, error, MA_ERROR_TEMPFAIL, "search", rc);
  g_array_set_size(s->uids, 0);
  g_array_set_size(s->sizes, 0);
  for (clistiter *it = found ? clist_begin(found) : NULL; it; it = clist_next(it)) {
    guint32 uid = *(uint32_t *)clist_content(it);
    if (uid > s->cp.last_uid) g_array_append_val(s->uids, uid); /* "n:*" always answers the last */
  }
  if (found) mailimap_search_result_free(found);
  s->pos = 0;
  return IMAP_SIZES;
}

static gint cmp_u32(gconstpointer a, gconstpointer b)
{
  guint32 x = *(const guint32 *)a, y = *(const guint32 *)b;
  return x < y ? -1 : x > y;
}

/* Fetches attributes for uids[from, to) and calls fn for each message answered. */
typedef void (*ImapEach)(ImapSession *s, guint32 uid, struct mailimap_msg_att *att, gpointer data);

static int uid_fetch(ImapSession *s, guint from, guint to, struct mailimap_fetch_type *ft, ImapEach fn, gpointer data,
                     const char *step, GError **error)
{
  struct mailimap_set *set = mailimap_set_new_empty();
  for (guint i = from; i < to; i++) {
    guint32 u = g_array_index(s->uids, guint32, i);
    mailimap_set_add_single(set, u);
  }
  budget(s);
  clist *result = NULL;
  int rc = mailimap_uid_fetch(s->imap, set, ft, &result);
  mailimap_set_free(set);
  mailimap_fetch_type_free(ft);
  if (rc != MAILIMAP_NO_ERROR) return fail(s, error, MA_ERROR_TEMPFAIL, step, rc);
  for (clistiter *it = result ? clist_begin(result) : NULL; it; it = clist_next(it)) {
    struct mailimap_msg_att *att = clist_content(it);
    guint32 uid = 0;
    for (clistiter *j = clist_begin(att->att_list); j; j = clist_next(j)) {
      struct mailimap_msg_att_item *item = clist_content(j);
      if (item->att_type == MAILIMAP_MSG_ATT_ITEM_STATIC && item->att_data.att_static->att_type == MAILIMAP_MSG_ATT_UID)
        uid = item->att_data.att_static->att_data.att_uid;
    }
    if (uid) fn(s, uid, att, data);
  }
  if (result) mailimap_fetch_list_free(result);
  return 0;
}

static guint index_of(ImapSession *s, guint32 uid)
{
  guint lo = 0, hi = s->uids->len;
  while (lo < hi) {
    guint mid = (lo + hi) / 2;
    guint32 v = g_array_index(s->uids, guint32, mid);
    if (v == uid) return mid;
    if (v < uid) lo = mid + 1;
    else hi = mid;
  }
  return G_MAXUINT;
}

static void each_size(ImapSession *s, guint32 uid, struct mailimap_msg_att *att, gpointer data)
{
  guint i = index_of(s, uid);
  if (i == G_MAXUINT) return;
  for (clistiter *j = clist_begin(att->att_list); j; j = clist_next(j)) {
    struct mailimap_msg_att_item *item = clist_content(j);
    if (item->att_type == MAILIMAP_MSG_ATT_ITEM_STATIC &&
        item->att_data.att_static->att_type == MAILIMAP_MSG_ATT_RFC822_SIZE)
      g_array_index(s->sizes, guint32, i) = item->att_data.att_static->att_data.att_rfc822_size;
  }
}

static int imap_sizes(ImapSession *s, GError **error)
{
  g_array_sort(s->uids, cmp_u32);
  g_array_set_size(s->sizes, s->uids->len);
  if (s->uids->len > 0) memset(s->sizes->data, 0, sizeof(guint32) * s->uids->len); /* data is NULL when empty */
  for (guint from = 0; from < s->uids->len; from += IMAP_SIZES_PER_FETCH) {
    guint to = MIN(s->uids->len, from + IMAP_SIZES_PER_FETCH);
    struct mailimap_fetch_type *ft = mailimap_fetch_type_new_fetch_att_list_empty();
    mailimap_fetch_type_new_fetch_att_list_add(ft, mailimap_fetch_att_new_uid());
    mailimap_fetch_type_new_fetch_att_list_add(ft, mailimap_fetch_att_new_rfc822_size());
    if (uid_fetch(s, from, to, ft, each_size, NULL, "fetch sizes", error) < 0) return -1;
  }
  return IMAP_FETCH;
}

typedef struct {
  GHashTable *bodies;   /* uid -> GBytes*: a round of messages that fit in batch_bytes */
  CollectorBody *large; /* or one message larger than that, streamed into its spool file */
  guint32 large_uid;
} FetchRound;

static void each_body(ImapSession *s, guint32 uid, struct mailimap_msg_att *att, gpointer data)
{
  FetchRound *r = data;
  for (clistiter *j = clist_begin(att->att_list); j; j = clist_next(j)) {
    struct mailimap_msg_att_item *item = clist_content(j);
    if (item->att_type != MAILIMAP_MSG_ATT_ITEM_STATIC ||
        item->att_data.att_static->att_type != MAILIMAP_MSG_ATT_BODY_SECTION)
      continue;
    struct mailimap_msg_att_body_section *b = item->att_data.att_static->att_data.att_body_section;
    if (b && b->sec_body_part)
      g_hash_table_replace(r->bodies, GUINT_TO_POINTER(uid), g_bytes_new(b->sec_body_part, b->sec_length));
  }
}

static struct mailimap_fetch_type *body_fetch_type(guint32 offset, guint32 length)
{
  struct mailimap_fetch_type *ft = mailimap_fetch_type_new_fetch_att_list_empty();
  mailimap_fetch_type_new_fetch_att_list_add(ft, mailimap_fetch_att_new_uid());
  struct mailimap_section *sec = mailimap_section_new(NULL);
  mailimap_fetch_type_new_fetch_att_list_add(
    ft, length ? mailimap_fetch_att_new_body_peek_section_partial(sec, offset, length)
               : mailimap_fetch_att_new_body_peek_section(sec));
  return ft;
}

/* A message larger than one round, in partial ranges (BODY.PEEK[]<offset.length>) straight into its
 * spool file: memory holds one range, whatever the message's size. Stops once the message is past
 * max_message (the caller refuses it by its size). NULL when a range failed or the file could not
 * be made (*error set). */
static CollectorBody *fetch_large(ImapSession *s, guint idx, guint32 size, GError **error)
{
  CollectorBody *body = collector_sink_body_new(s->sink, s->folder, error);
  if (!body) return NULL;
  guint32 chunk = (guint32)s->p->batch_bytes;
  guint32 uid = g_array_index(s->uids, guint32, idx);
  for (guint32 off = 0;; off += chunk) {
    GHashTable *part_of = g_hash_table_new_full(NULL, NULL, NULL, (GDestroyNotify)g_bytes_unref);
    FetchRound r = {.bodies = part_of};
    int rc = uid_fetch(s, idx, idx + 1, body_fetch_type(off, chunk), each_body, &r, "fetch", error);
    GBytes *part = g_hash_table_lookup(part_of, GUINT_TO_POINTER(uid));
    gsize plen = 0;
    const guint8 *pd = part ? g_bytes_get_data(part, &plen) : NULL;
    if (rc == 0 && pd) collector_body_append(body, pd, plen);
    g_hash_table_unref(part_of);
    if (rc == 0 && !pd && off > 0 && off >= size) break; /* nothing past the announced size: the end */
    if (rc < 0 || !pd) {
      collector_body_free(body);
      return NULL;
    }
    /* A short range is the end. RFC822.SIZE is exact by RFC 3501, but a full range is followed
     * whatever it said, so a server that under-reports loses nothing; max_message bounds it. */
    if (plen < chunk || collector_body_size(body) > (gint64)s->p->max_message) break;
  }
  return body;
}

/* Counts a failure of one message; TRUE when it is now quarantined (skip it). */
static gboolean message_failed(ImapSession *s, guint32 uid, const char *why, gboolean permanent)
{
  char key[16];
  g_snprintf(key, sizeof key, "%u", uid);
  int count = 0;
  for (int i = 0; i < (permanent ? IMAP_FAILURES_BEFORE_QUARANTINE : 1); i++)
    if (collector_sink_fail(s->sink, s->folder, key, why, &count) < 0) return FALSE;
  if (count < IMAP_FAILURES_BEFORE_QUARANTINE) return FALSE;
  s->res->quarantined++;
  return TRUE;
}

static int imap_fetch(ImapSession *s, GError **error)
{
  if (s->pos >= s->uids->len) {
    /* the folder is done: everything below UIDNEXT (as of EXAMINE) was seen or is outside the window */
    MaFolderCheckpoint cp = s->cp;
    if (s->uidnext > 0 && s->uidnext - 1 > cp.last_uid) cp.last_uid = s->uidnext - 1;
    cp.highest_modseq = s->modseq;
    if (collector_sink_commit(s->sink, s->folder, s->uidvalidity, &cp, error) < 0) return -1;
    return IMAP_NEXT_FOLDER;
  }
  /* one round: consecutive messages up to batch_bytes (at least one) */
  guint from = s->pos, to = s->pos;
  gsize bytes = 0;
  while (to < s->uids->len && to - from < IMAP_UIDS_PER_ROUND) {
    guint32 size = g_array_index(s->sizes, guint32, to);
    if (to > from && bytes + size > s->p->batch_bytes) break;
    bytes += size;
    to++;
    if (size > s->p->batch_bytes) break; /* a large one goes alone */
  }
  FetchRound r = {.bodies = g_hash_table_new_full(NULL, NULL, NULL, (GDestroyNotify)g_bytes_unref)};
  guint32 first_size = g_array_index(s->sizes, guint32, from);
  if (to == from + 1 && first_size > s->p->batch_bytes) {
    if (first_size <= s->p->max_message) {
      r.large = fetch_large(s, from, first_size, error);
      if (!r.large && error && *error && (*error)->code == MA_ERROR_TEMPFAIL) {
        g_hash_table_unref(r.bodies);
        return -1;
      }
      g_clear_error(error);
      r.large_uid = g_array_index(s->uids, guint32, from);
    }
  } else if (uid_fetch(s, from, to, body_fetch_type(0, 0), each_body, &r, "fetch", error) < 0) {
    g_hash_table_unref(r.bodies);
    return -1;
  }
  collector_crash_point("after_fetch");
  guint32 last_done = s->cp.last_uid;
  guint i;
  for (i = from; i < to; i++) {
    guint32 uid = g_array_index(s->uids, guint32, i);
    char key[16];
    g_snprintf(key, sizeof key, "%u", uid);
    GBytes *b = g_hash_table_lookup(r.bodies, GUINT_TO_POINTER(uid));
    CollectorBody *large = r.large && uid == r.large_uid ? r.large : NULL;
    gint64 got = b ? (gint64)g_bytes_get_size(b) : large ? collector_body_size(large) : -1;
    guint32 size = g_array_index(s->sizes, guint32, i);
    if (got >= 0 && got <= (gint64)s->p->max_message) {
      if (b) {
        collector_sink_add(s->sink, key, b);
      } else {
        r.large = NULL; /* the sink takes it */
        if (collector_sink_add_body(s->sink, key, large, error) < 0) {
          g_hash_table_unref(r.bodies);
          return -1;
        }
      }
    } else if (size > s->p->max_message || got > (gint64)s->p->max_message) {
      message_failed(s, uid, "larger than the message size limit", TRUE);
      collector_sink_skip(s->sink, key);
      s->res->skipped++;
    } else if (message_failed(s, uid, "the server sent no body", FALSE)) {
      collector_sink_skip(s->sink, key);
      s->res->skipped++;
    } else {
      break; /* retried next sync: the checkpoint stays before it */
    }
    last_done = uid;
  }
  g_hash_table_unref(r.bodies);
  collector_body_free(r.large); /* still here when it was refused */
  MaFolderCheckpoint cp = s->cp;
  cp.last_uid = last_done;
  gint64 before = collector_sink_spooled(s->sink);
  if (collector_sink_commit(s->sink, s->folder, s->uidvalidity, &cp, error) < 0) return -1;
  s->res->fetched += collector_sink_spooled(s->sink) - before;
  s->cp = cp;
  if (i < to) return IMAP_NEXT_FOLDER; /* a message failed this time: move on, retry later */
  s->pos = to;
  return IMAP_FETCH;
}

static int imap_next_folder(ImapSession *s, GError **error)
{
  s->folder_idx++;
  return s->folder_idx < s->folders->len ? IMAP_EXAMINE : IMAP_LOGOUT;
}

static int imap_idle(ImapSession *s, GError **error)
{
  if (!mailimap_has_idle(s->imap)) {
    s->res->no_idle = TRUE;
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "idle: the server does not offer IDLE");
    return -1;
  }
  budget(s);
  if (s->idle_deadline == 0) {
    int rc = mailimap_examine(s->imap, "INBOX");
    if (rc != MAILIMAP_NO_ERROR) return fail(s, error, MA_ERROR_TEMPFAIL, "examine", rc);
    s->exists = s->imap->imap_selection_info ? s->imap->imap_selection_info->sel_exists : 0;
    s->idle_deadline = g_get_monotonic_time() + (gint64)MAX(s->p->idle_ms, 1000) * 1000;
  }
  int rc = mailimap_idle(s->imap);
  if (rc != MAILIMAP_NO_ERROR) return fail(s, error, MA_ERROR_TEMPFAIL, "idle", rc);
  return IMAP_IDLE_WAIT;
}

static int imap_idle_wait(ImapSession *s, GError **error)
{
  int ready = 0;
  while (!ready && g_get_monotonic_time() < s->idle_deadline && !(s->p->stop && g_atomic_int_get(s->p->stop)))
    ready = collector_stream_wait_readable(s->stream, 250);
  if (ready < 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "idle: connection lost");
    return -1;
  }
  budget(s);
  int rc = mailimap_idle_done(s->imap); /* reads what the server said, EXISTS included */
  if (rc != MAILIMAP_NO_ERROR) return fail(s, error, MA_ERROR_TEMPFAIL, "idle", rc);
  guint32 now_exists = s->imap->imap_selection_info ? s->imap->imap_selection_info->sel_exists : 0;
  if (now_exists > s->exists) {
    s->res->new_mail = TRUE;
    return IMAP_LOGOUT;
  }
  s->exists = now_exists; /* an expunge or a keep-alive: idle on */
  if (!ready || g_get_monotonic_time() >= s->idle_deadline) return IMAP_LOGOUT;
  return IMAP_IDLE;
}

/* The Sent folder of the listing: SPECIAL-USE \Sent, else a usual Sent name; NULL when none. */
static const CollectorFolder *sent_folder(ImapSession *s)
{
  for (guint i = 0; i < s->listed->len; i++) {
    const CollectorFolder *f = g_ptr_array_index(s->listed, i);
    if (f->sent && !f->noselect) return f;
  }
  for (guint i = 0; i < s->listed->len; i++) {
    const CollectorFolder *f = g_ptr_array_index(s->listed, i);
    g_autofree char *utf8 = collector_mutf7_decode(f->name, strlen(f->name));
    if (!f->noselect && utf8 && collector_folder_is_sent_name(utf8)) return f;
  }
  return NULL;
}

static int imap_append(ImapSession *s, GError **error)
{
  const CollectorFolder *sent = sent_folder(s);
  if (!sent) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "append: the mailbox has no Sent folder (no \\Sent attribute, no usual name)");
    return -1;
  }
  s->res->appended_to = collector_mutf7_decode(sent->name, strlen(sent->name));
  budget(s);
  int rc = mailimap_examine(s->imap, sent->name);
  if (rc != MAILIMAP_NO_ERROR) return fail(s, error, MA_ERROR_TEMPFAIL, "append: examine", rc);
  if (s->p->append_message_id) {
    /* already there (a retry after a crash between the APPEND and its record)? */
    char *value = g_strdup_printf("<%s>", s->p->append_message_id);
    struct mailimap_search_key *key = mailimap_search_key_new_header(strdup("Message-ID"), strdup(value));
    g_free(value);
    clist *found = NULL;
    rc = key ? mailimap_uid_search(s->imap, NULL, key, &found) : MAILIMAP_ERROR_MEMORY;
    if (key) mailimap_search_key_free(key);
    gboolean there = found && clist_count(found) > 0;
    if (found) mailimap_search_result_free(found);
    if (rc != MAILIMAP_NO_ERROR) return fail(s, error, MA_ERROR_TEMPFAIL, "append: search", rc);
    if (there) {
      s->res->append_found = TRUE;
      return IMAP_LOGOUT;
    }
  }
  struct mailimap_flag_list *flags = mailimap_flag_list_new_empty();
  if (!flags || mailimap_flag_list_add(flags, mailimap_flag_new_seen()) != MAILIMAP_NO_ERROR) {
    if (flags) mailimap_flag_list_free(flags);
    g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "append: out of memory");
    return -1;
  }
  gsize len = 0;
  const char *data = g_bytes_get_data(s->p->append, &len);
  rc = mailimap_append(s->imap, sent->name, flags, NULL, data, len);
  mailimap_flag_list_free(flags);
  if (rc != MAILIMAP_NO_ERROR) return fail(s, error, MA_ERROR_TEMPFAIL, "append", rc);
  return IMAP_LOGOUT;
}

static int imap_logout(ImapSession *s, GError **error)
{
  budget(s);
  mailimap_logout(s->imap); /* the server's answer changes nothing */
  return IMAP_DONE;
}

/* The one place the state changes. */
static int imap_step(ImapSession *s, GError **error)
{
  int next;
  switch (s->state) {
  case IMAP_CONNECT: next = imap_connect(s, error); break;
  case IMAP_TLS: next = imap_tls(s, error); break;
  case IMAP_GREETING: next = imap_greeting(s, error); break;
  case IMAP_STARTTLS: next = imap_starttls(s, error); break;
  case IMAP_CAPABILITY: next = imap_capability(s, error); break;
  case IMAP_AUTH: next = imap_auth(s, error); break;
  case IMAP_ID: next = imap_id(s, error); break;
  case IMAP_LIST: next = imap_list(s, error); break;
  case IMAP_EXAMINE: next = imap_examine(s, error); break;
  case IMAP_SEARCH: next = imap_search(s, error); break;
  case IMAP_SIZES: next = imap_sizes(s, error); break;
  case IMAP_FETCH: next = imap_fetch(s, error); break;
  case IMAP_NEXT_FOLDER: next = imap_next_folder(s, error); break;
  case IMAP_IDLE: next = imap_idle(s, error); break;
  case IMAP_IDLE_WAIT: next = imap_idle_wait(s, error); break;
  case IMAP_APPEND: next = imap_append(s, error); break;
  case IMAP_LOGOUT: next = imap_logout(s, error); break;
  default: g_assert_not_reached();
  }
  if (next < 0) return -1;
  s->state = (ImapState)next;
  return 0;
}

int collector_imap_run(const CollectorSessionParams *p, CollectorSink *sink, CollectorSessionResult *res,
                       GError **error)
{
  g_assert(p && p->mailbox && p->secret && (sink || p->verify_only || p->idle || p->append));
  ImapSession s = {.p = p, .sink = sink, .res = res, .state = IMAP_CONNECT};
  s.imap = mailimap_new(0, NULL);
  s.listed = g_ptr_array_new_with_free_func((GDestroyNotify)collector_folder_free);
  s.folders = g_ptr_array_new_with_free_func(g_free);
  s.uids = g_array_new(FALSE, FALSE, sizeof(guint32));
  s.sizes = g_array_new(FALSE, TRUE, sizeof(guint32));
  int rc = 0;
  while (s.state != IMAP_DONE && (rc = imap_step(&s, error)) == 0) {
  }
  if (!s.stream_given && s.stream) mailstream_close(s.stream);
  mailimap_free(s.imap);
  g_ptr_array_unref(s.listed);
  g_ptr_array_unref(s.folders);
  g_array_unref(s.uids);
  g_array_unref(s.sizes);
  return rc;
}
