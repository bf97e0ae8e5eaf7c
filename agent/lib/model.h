/* model.h - the plain data that flows between modules: addresses, normalised messages, CRM
 * records, provenance. No module's private state lives here, and no library but GLib is needed to
 * use it. Every struct is heap-allocated by its _new function and released by its _free function,
 * which accepts NULL; strings inside are owned by the struct (g_malloc'd UTF-8).
 */
#ifndef MA_MODEL_H
#define MA_MODEL_H

#include <glib.h>

/* ---- addresses ---------------------------------------------------------------------------- */

typedef enum {
  MA_ROLE_FROM,
  MA_ROLE_SENDER,
  MA_ROLE_TO,
  MA_ROLE_CC,
  MA_ROLE_BCC,
  MA_ROLE_REPLY_TO, /* recorded, never matched */
} MaRole;

const char *ma_role_name(MaRole role);        /* "from", "sender", "to", "cc", "bcc", "reply_to" */
int ma_role_parse(const char *name);          /* -1 when unknown */

typedef struct {
  MaRole role;
  char *name;    /* display name, UTF-8, NULL when absent */
  char *address; /* "local@domain", domain lower-cased and IDN-decoded to UTF-8; never NULL */
} MaParticipant;

MaParticipant *ma_participant_new(MaRole role, const char *name, const char *address);
void ma_participant_free(MaParticipant *p);

/* The domain part of an address (pointer into it), or NULL when there is no '@'. */
const char *ma_address_domain(const char *address);

/* s lower-cased as g_utf8_strdown does it in the C locale (mailagent never sets another), with
 * ASCII text taking g_ascii_strdown's path (glib's Unicode case mapping costs ~100 instructions a
 * character). Returns a newly allocated string; the caller frees it. */
char *ma_utf8_lower(const char *s);

/* A domain for display and storage: its IDN A-labels ("xn--...") decoded to UTF-8 when they decode
 * to valid UTF-8, else the domain as given (lower-cased either way). g_hostname_to_unicode returns
 * invalid UTF-8 for some crafted labels (e.g. "xn--fi1020q"), which must never reach storage; the
 * A-label is kept instead. domain must be valid UTF-8. Returns a newly allocated string; the caller
 * frees it. */
char *ma_domain_to_unicode(const char *domain);

/* Canonical key for matching: lower-cased (ma_utf8_lower); with strip_plus, "a+tag@x" becomes "a@x".
 * Returns a newly allocated string; the caller frees it. */
char *ma_address_key(const char *address, gboolean strip_plus);
/* TRUE when ma_address_key(address, strip_plus) would return address unchanged (ASCII without
 * capitals, and no "+" when strip_plus), so a caller holding a key need not fold it again. FALSE
 * means "fold it": it may be a key already (non-ASCII text is not examined). Allocates nothing. */
gboolean ma_address_key_is_folded(const char *address, gboolean strip_plus);

/* ---- attachments -------------------------------------------------------------------------- */

typedef struct {
  char *filename;     /* decoded (RFC 2231 / 2047), UTF-8; NULL when the part has none */
  char *content_type; /* "type/subtype", lower case */
  char *content_id;   /* without <>, NULL when absent */
  gboolean is_inline; /* Content-Disposition inline, or referenced by cid: */
  gsize size;         /* decoded size in bytes */
  char sha256[65];    /* hex digest of the decoded content */
  GBytes *data;       /* decoded content; NULL once stored, or when in_raw */
  /* Parsed mail only (agent/mime): when in_raw, data is NULL and the content is decoded again,
   * in pieces, from the raw message the parser was given, where its encoded octets lie
   * (mime_content_reader_new), so a large attachment is never held whole. */
  gboolean in_raw;
  gsize raw_offset, raw_length;
  int raw_encoding;   /* agent/mime's code for the transfer encoding of those octets */
} MaAttachment;

MaAttachment *ma_attachment_new(void);
void ma_attachment_free(MaAttachment *a);

/* ---- normalised message ------------------------------------------------------------------- */

typedef enum { MA_DIRECTION_INBOUND, MA_DIRECTION_OUTBOUND } MaDirection;
const char *ma_direction_name(MaDirection d); /* "inbound", "outbound" */

/* Header signals the forwarder policy reads (issue: inbound SMTP). All may be NULL. */
typedef struct {
  char *resent_from;      /* address of the first Resent-From */
  char *x_forwarded_for;  /* Gmail: "original-recipient forwarder" -> the forwarder's address */
  char *x_forwarded_to;   /* which mailbox it was forwarded from */
  char *delivered_to;     /* first Delivered-To */
} MaForwardSignals;

/* Header signals of machine-made mail, classified by agent/match (match_machine.c). Values are
 * unfolded, cut at MA_MACHINE_SIGNAL_MAX bytes; NULL when the header is absent. */
#define MA_MACHINE_SIGNAL_MAX 256
/* What the classifier (match_machine_classify) makes of them; stored with the message. */
typedef enum {
  MA_MACHINE_AUTO = 1 << 0,   /* an auto-reply or a delivery report: rules test is_auto */
  MA_MACHINE_BULK = 1 << 1,   /* bulk or list mail: rules test is_bulk */
  MA_MACHINE_REPORT = 1 << 2, /* a delivery, feedback or read report (also AUTO) */
} MaMachineFlag;
typedef struct {
  char *auto_submitted;   /* Auto-Submitted (RFC 3834) */
  char *x_autoreply;      /* X-Autoreply */
  char *x_autorespond;    /* X-Autorespond */
  char *precedence;       /* Precedence */
  char *list_id;          /* List-Id */
  char *list_unsubscribe; /* List-Unsubscribe */
  gboolean report;        /* a multipart/report (delivery status, ARF feedback, read receipt) */
} MaMachineSignals;

typedef struct {
  char *message_id;       /* normalised: no <>, domain lower-cased; NULL when absent or junk */
  char *in_reply_to;      /* normalised, NULL when absent */
  GPtrArray *references;  /* char*, normalised ids, oldest first (owned) */
  char *subject;          /* decoded UTF-8, "" when absent */
  gint64 date;            /* Unix seconds, UTC; 0 when absent or unparseable */
  GPtrArray *participants;/* MaParticipant* (owned), in header order: from, sender, to, cc, bcc, reply_to */
  char *text;             /* readable text body, UTF-8, "" when none */
  gsize text_raw_offset;  /* when text_raw_length > 0: text is raw[offset, offset + length) of the
                           * parsed input (one text part, not decoded) with CRLF and lone CR made
                           * LF and trailing white space cut; a hint (the pipeline checks it
                           * before storage keeps a reference instead of the text) */
  gsize text_raw_length;
  char *html;             /* the HTML body as received, converted to UTF-8; NULL when none */
  GPtrArray *attachments; /* MaAttachment* (owned), attachments and inline parts */
  MaForwardSignals signals;
  MaMachineSignals machine; /* always the received message's, also when it was unwrapped */
  /* Hand forwards: when the message was unwrapped, the fields above describe the original and
   * these describe the employee's forwarding message. */
  gboolean unwrapped;
  char *forwarder_address;  /* From of the outer message, NULL unless unwrapped */
  char *forward_kind;       /* "rfc822", "gmail", "outlook", "apple", "qq"; NULL unless unwrapped */
  GPtrArray *warnings;      /* char*, what could not be read (truncated base64, limits hit...) */
} MaMessage;

MaMessage *ma_message_new(void);
/* The line ends of a text body (MaMessage.text has LF only): src[0, len) with CRLF and a lone CR
 * made LF, written to dst (room for len bytes; dst may be src, in place). No NUL is written.
 * Returns the bytes written. The one definition the mime module, the pipeline's check of a raw
 * slice and storage's reading of one (ma_text_slice) share. */
gsize ma_text_lf(const char *src, gsize len, char *dst);
void ma_message_free(MaMessage *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MaMessage, ma_message_free)

/* ---- CRM records -------------------------------------------------------------------------- */

typedef enum {
  MA_RECORD_ACCOUNT,
  MA_RECORD_CONTACT,
  MA_RECORD_LEAD,
  MA_RECORD_OPPORTUNITY,
} MaRecordType;

const char *ma_record_type_name(MaRecordType t); /* "account", "contact", "lead", "opportunity" */
int ma_record_type_parse(const char *name);      /* -1 when unknown */

typedef enum { MA_STAGE_NONE, MA_STAGE_OPEN, MA_STAGE_WON, MA_STAGE_LOST } MaStage;
const char *ma_stage_name(MaStage s); /* NULL for NONE */
int ma_stage_parse(const char *name); /* -1 when unknown */

typedef struct {
  MaRecordType type;
  char *id;               /* the CRM's id, unique per (enterprise, type) */
  char *name;
  GPtrArray *emails;      /* char*, lower-cased (contacts, leads; accounts may have some) */
  GPtrArray *domains;     /* char*, lower-cased (accounts) */
  char *account_id;       /* contacts, opportunities; NULL when none */
  GPtrArray *contact_ids; /* char* (opportunities) */
  MaStage stage;          /* opportunities */
  char *attributes_json;  /* a JSON object as text, "{}" when none */
} MaRecord;

MaRecord *ma_record_new(MaRecordType type, const char *id);
void ma_record_free(MaRecord *r);

/* A reference to a record: what a message is linked to, and why (a link's reason, written by
 * agent/match: "cc carol@customer.example = contact C17"; NULL when not known, e.g. links made
 * before reasons were kept). */
typedef struct {
  MaRecordType type;
  char *id;
  char *reason;
} MaRecordRef;

MaRecordRef *ma_record_ref_new(MaRecordType type, const char *id);
void ma_record_ref_free(MaRecordRef *r);

/* ---- provenance: how one copy of a message reached us -------------------------------------- */

typedef struct {
  char *route;        /* "smtp", "imap", "pop3", "ingest", "api" */
  char *employee_id;  /* the employee whose mail it was, NULL when unknown */
  char *signal;       /* what identified them: "forwarder_network", "envelope_sender", "srs",
                         "resent_from", "x_forwarded_for", "forwarder", "mailbox", NULL */
  char *mailbox;      /* mailbox binding id or address, NULL when none */
  char *client;       /* SMTP client address, NULL otherwise */
  char *envelope_from;/* SMTP MAIL FROM, NULL otherwise */
  char *spool_id;     /* the spool entry this copy came from: makes replays idempotent */
  gint64 received_at; /* Unix seconds */
} MaProvenance;

MaProvenance *ma_provenance_new(const char *route);
void ma_provenance_free(MaProvenance *p);

#endif
