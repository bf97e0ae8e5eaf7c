/* mime_fields.c - reads a parsed GMimeMessage's header fields into an MaMessage: ids, subject
 * (encoded words by mime_rfc2047.c), date, participants (groups flattened, names decoded by GMime with our fallback charsets,
 * addresses normalised by mime_address_normalise) and the forward signals. Reads values only.
 * Bounds: address groups are followed MIME_MAX_GROUP_DEPTH deep; at most MIME_MAX_PARTICIPANTS
 * participants are kept per message (a 10,000-recipient header cannot blow up matching).
 */
#include "mime_gmime.h"

#include <string.h>

#define MIME_MAX_GROUP_DEPTH 4
#define MIME_MAX_PARTICIPANTS 2000

static char *clean_text(const char *s)
{
  if (!s) return g_strdup("");
  char *v = g_utf8_validate(s, -1, NULL) ? g_strdup(s) : g_utf8_make_valid(s, -1);
  for (char *p = v; *p; p++)
    if (*p == '\r' || *p == '\n' || *p == '\t') *p = ' ';
  return g_strstrip(v);
}

static void add_list(MaMessage *m, InternetAddressList *list, MaRole role, int depth)
{
  if (!list || depth > MIME_MAX_GROUP_DEPTH) return;
  int n = internet_address_list_length(list);
  for (int i = 0; i < n && m->participants->len < MIME_MAX_PARTICIPANTS; i++) {
    InternetAddress *a = internet_address_list_get_address(list, i);
    if (INTERNET_ADDRESS_IS_GROUP(a)) {
      add_list(m, internet_address_group_get_members(INTERNET_ADDRESS_GROUP(a)), role, depth + 1);
      continue;
    }
    if (!INTERNET_ADDRESS_IS_MAILBOX(a)) continue;
    char *addr = mime_address_normalise(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a)));
    if (!addr) continue;
    char *name = clean_text(internet_address_get_name(a));
    g_ptr_array_add(m->participants, ma_participant_new(role, *name ? name : NULL, addr));
    g_free(name);
    g_free(addr);
  }
}

/* Raw 8-bit header values: GMime guesses the charset word by word, so "r\xE9union" alone can
 * pass for GB18030. Decode the whole unfolded value with one guess instead (UTF-8, GB18030,
 * windows-1252 as a unit), then RFC 2047 words. NULL when the header is absent or 7-bit. */
static char *header_8bit_utf8(GMimeObject *obj, const char *name, GMimeParserOptions *options)
{
  GMimeHeader *h = g_mime_header_list_get_header(g_mime_object_get_header_list(obj), name);
  const char *raw = h ? g_mime_header_get_raw_value(h) : NULL;
  if (!raw) return NULL;
  gboolean eight = FALSE;
  for (const char *p = raw; *p && !eight; p++)
    if ((guchar)*p >= 0x80) eight = TRUE;
  if (!eight) return NULL;
  char *unfolded = g_mime_utils_header_unfold(raw);
  char *utf8 = g_mime_utils_decode_8bit(options, unfolded, strlen(unfolded));
  g_free(unfolded);
  return utf8;
}

/* The decoded Subject: the raw value unfolded (8-bit text decoded as a unit, see above), then
 * its encoded words decoded by mime_rfc2047_decode, which joins a character split across two
 * words (GMime's decoder loses it). "" when absent. */
static char *subject_text(GMimeObject *obj, GMimeParserOptions *options)
{
  char *value = header_8bit_utf8(obj, "Subject", options);
  if (!value) {
    GMimeHeader *h = g_mime_header_list_get_header(g_mime_object_get_header_list(obj), "Subject");
    const char *raw = h ? g_mime_header_get_raw_value(h) : NULL;
    if (!raw) return g_strdup("");
    value = g_mime_utils_header_unfold(raw);
  }
  char *decoded = mime_rfc2047_decode(value);
  char *text = clean_text(decoded);
  g_free(decoded);
  g_free(value);
  return text;
}

void mime_fill_headers(MaMessage *m, GMimeMessage *msg, GMimeParserOptions *options)
{
  GMimeObject *obj = GMIME_OBJECT(msg);
  g_free(m->message_id);
  m->message_id = mime_msgid_normalise(g_mime_object_get_header(obj, "Message-ID"));

  const char *irt = g_mime_object_get_header(obj, "In-Reply-To");
  if (irt) {
    GPtrArray *ids = g_ptr_array_new_with_free_func(g_free);
    mime_msgid_list(irt, ids);
    g_free(m->in_reply_to);
    m->in_reply_to = ids->len > 0 ? g_strdup(g_ptr_array_index(ids, 0)) : mime_msgid_normalise(irt);
    g_ptr_array_unref(ids);
  }
  mime_msgid_list(g_mime_object_get_header(obj, "References"), m->references);

  g_free(m->subject);
  m->subject = subject_text(obj, options);

  GDateTime *date = g_mime_message_get_date(msg);
  m->date = date ? g_date_time_to_unix(date) : 0;
  if (m->date < 0) m->date = 0;

  static const struct {
    GMimeAddressType type;
    MaRole role;
    const char *header;
  } roles[] = {
    {GMIME_ADDRESS_TYPE_FROM, MA_ROLE_FROM, "From"}, {GMIME_ADDRESS_TYPE_SENDER, MA_ROLE_SENDER, "Sender"},
    {GMIME_ADDRESS_TYPE_TO, MA_ROLE_TO, "To"},       {GMIME_ADDRESS_TYPE_CC, MA_ROLE_CC, "Cc"},
    {GMIME_ADDRESS_TYPE_BCC, MA_ROLE_BCC, "Bcc"},    {GMIME_ADDRESS_TYPE_REPLY_TO, MA_ROLE_REPLY_TO, "Reply-To"},
  };
  for (gsize i = 0; i < G_N_ELEMENTS(roles); i++) {
    char *value8 = header_8bit_utf8(obj, roles[i].header, options);
    if (value8) {
      InternetAddressList *list = internet_address_list_parse(options, value8);
      add_list(m, list, roles[i].role, 0);
      if (list) g_object_unref(list);
      g_free(value8);
    } else {
      add_list(m, g_mime_message_get_addresses(msg, roles[i].type), roles[i].role, 0);
    }
  }
}

/* The first address of a signal's list that normalises (mime_address_normalise), or NULL. */
static char *first_address(const GPtrArray *list)
{
  char *res = NULL;
  for (guint i = 0; list && i < list->len && !res; i++) res = mime_address_normalise(list->pdata[i]);
  return res;
}

void mime_fill_signals(MaMessage *m, GMimeMessage *msg, const char *head, gsize head_len)
{
  GMimeObject *obj = GMIME_OBJECT(msg);
  MimeForwardFields fwd; /* the forwarder policy's reading of the same fields (mime_signals.c) */
  mime_forward_signals_read(head, head_len, &fwd);
  m->signals.resent_from = first_address(fwd.resent_from);
  m->signals.x_forwarded_for = first_address(fwd.x_forwarded_for);
  m->signals.x_forwarded_to = first_address(fwd.x_forwarded_to);
  m->signals.delivered_to = first_address(fwd.delivered_to);
  mime_forward_signals_clear(&fwd);
  static const struct {
    const char *header;
    gsize offset;
  } machine[] = {
    {"Auto-Submitted", G_STRUCT_OFFSET(MaMachineSignals, auto_submitted)},
    {"X-Autoreply", G_STRUCT_OFFSET(MaMachineSignals, x_autoreply)},
    {"X-Autorespond", G_STRUCT_OFFSET(MaMachineSignals, x_autorespond)},
    {"Precedence", G_STRUCT_OFFSET(MaMachineSignals, precedence)},
    {"List-Id", G_STRUCT_OFFSET(MaMachineSignals, list_id)},
    {"List-Unsubscribe", G_STRUCT_OFFSET(MaMachineSignals, list_unsubscribe)},
  };
  for (gsize i = 0; i < G_N_ELEMENTS(machine); i++) {
    const char *value = g_mime_object_get_header(obj, machine[i].header);
    if (!value) continue;
    char *v = clean_text(value);
    if (strlen(v) > MA_MACHINE_SIGNAL_MAX) {
      char *cut = g_utf8_make_valid(v, MA_MACHINE_SIGNAL_MAX);
      g_free(v);
      v = cut;
    }
    G_STRUCT_MEMBER(char *, &m->machine, machine[i].offset) = v;
  }
}
