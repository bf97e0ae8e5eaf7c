/* match.h - who a message is about: participants classified as internal or external, external
 * participants matched to CRM records, the direction, the dedup key and the thread.
 *
 * Rules (issue 2, "Matching, dedup, threading"):
 * - Participants are From, Sender, To, Cc, Bcc; Reply-To is kept but never matched. Addresses in
 *   the inbound domain (virtual inbound and bounce addresses) are never participants.
 * - Internal: the enterprise's domains (and their subdomains) and its employees' addresses. Internal
 *   participants are never matched to records.
 * - Contacts and leads (and accounts listing the address) match by address, case-insensitively,
 *   ignoring "+tag" when the ignore_plus_tags setting is on. Accounts match through a matched
 *   contact's account_id, and by domain unless the domain is public; all accounts claiming a domain
 *   are linked. Opportunities: open ones having a matched contact in contact_ids; for a linked
 *   account none of whose opportunities got linked that way, its open opportunity when it is its
 *   only open one. Won and lost opportunities are never linked by matching (a reply still inherits
 *   its thread's opportunity links: match_thread_inherit).
 * - Never logged: external participants covered by the never_log setting (address, domain,
 *   *.domain) are never matched; a message with no other external participant is skipped.
 * - Direction: outbound when From (or Sender when there is no From) is internal.
 * - Dedup key: sha256 of the normalised Message-ID, else of From, Subject, Date to the minute and
 *   the whitespace-folded text.
 * - Every link carries its reason, in words explain shows: "cc carol@customer.example = contact
 *   C17", "domain customer.example = account A3", "contact C17's account = account A3", "contact
 *   C17 in open opportunity O5", "only open opportunity of account A3 = opportunity O5", "thread of
 *   message M88 -> opportunity O5", followed by "(hand-forward by bob@acme.example unwrapped)"
 *   when the message was unwrapped.
 * - Threads: References/In-Reply-To first, else the normalised subject with the same set of
 *   external participants within 30 days of the thread's latest message, else a new thread.
 *
 * The pure functions (subject key, dedup key, participants key) need no storage. Nothing here
 * writes to storage except match_thread_assign (thread rows). Never logs addresses or bodies.
 */
#ifndef MA_MATCH_H
#define MA_MATCH_H

#include "agent/lib/model.h"
#include "agent/tenant/settings.h"
#include "storage/storage.h"

#include <glib.h>

#define MA_MATCH_THREAD_WINDOW (30 * 24 * 3600) /* seconds after a thread's latest message */

/* ---- pure helpers --------------------------------------------------------------------------- */

/* The subject with reply/forward prefixes of many languages (Re, RE, Fwd, FW, Fw, AW, WG, SV, VS,
 * Antw, Réf, TR, 回复, 转发, 答复, 回覆, 轉寄 ...; followed by ":" or "："), repeated, bracketed
 * counters ("Re[2]:", "Re(3):", "[2]", "(3)") and "[ext]"-style tags stripped, whitespace folded
 * and case folded. "" when nothing is left. Newly allocated. */
char *match_subject_key(const char *subject);

/* Whitespace runs folded to one space, trimmed. Newly allocated. */
char *match_fold_whitespace(const char *text);
/* The same, stopping after max_chars characters of output (a space may be among them). */
char *match_fold_whitespace_n(const char *text, gsize max_chars);

/* The dedup key (64 hex digits) of a parsed message: from its Message-ID when present, else from
 * From, Subject, Date (to the minute) and the folded text. out: 65 bytes. */
void match_dedup_key(const MaMessage *m, char out[65]);

/* ---- per-enterprise context ----------------------------------------------------------------- */

typedef struct {
  char *enterprise_id;
  char *inbound_domain;     /* lower-case; addresses there are never participants */
  GHashTable *domains;      /* enterprise domains, lower-case (set) */
  GHashTable *employees;    /* employee address keys (set) */
  MaSettings *settings;     /* owned */
} MaMatchContext;

/* Loads the enterprise's domains, employees and settings. cfg gives the inbound domain and config
 * defaults (may be NULL: "inbound.localhost"). *out owned by the caller. 0, or -1 (NOT_FOUND when
 * the enterprise does not exist). */
int match_context_load(MaStorage *st, const MaConfig *cfg, const char *enterprise_id, MaMatchContext **out,
                       GError **error);
void match_context_free(MaMatchContext *ctx);

/* TRUE when the address (any case) is internal to the enterprise. */
gboolean match_is_internal(const MaMatchContext *ctx, const char *address);
/* TRUE when the address belongs to the inbound domain (never a participant). */
gboolean match_is_inbound(const MaMatchContext *ctx, const char *address);

/* ---- matching a message --------------------------------------------------------------------- */

typedef struct {
  GPtrArray *participants;  /* MaParticipant* (owned copies): the message's minus inbound addresses */
  GPtrArray *external_keys; /* char*: sorted, unique address keys of external matchable participants */
  guint n_internal;         /* internal matchable participants (roles other than reply_to) */
  MaDirection direction;
  GPtrArray *links;         /* MaRecordRef* (owned), unique, contacts/leads then accounts then opportunities */
  char *participants_key;   /* sha256 hex of external_keys joined (the thread participant key) */
  GPtrArray *excluded;      /* char*: "address (never_log entry)" of external participants the
                               never_log setting covers: neither matched nor in external_keys */
  guint machine;            /* MA_MACHINE_* flags (match_machine_classify) */
  const char *machine_reason; /* static: the first machine signal found, NULL when none */
  char *subject_key;        /* match_subject_key of the message's subject: NULL until the first
                               thread call that needs it computes it for the others (owned) */
} MaMatch;

void match_free(MaMatch *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MaMatch, match_free)

/* Classifies the message's participants and matches the external ones to records. *out owned by
 * the caller. 0 or -1 (storage error). */
int match_message(MaStorage *st, const MaMatchContext *ctx, const MaMessage *msg, MaMatch **out, GError **error);

/* Why the pipeline must not archive this matched message, or NULL: "never_log" (every external
 * participant is on the never_log list), "auto_reply" / "bulk_mail" (machine mail the settings
 * skip). Static string. */
const char *match_skip_reason(const MaMatchContext *ctx, const MaMatch *match);

/* Adds a link unless an equal one is there. Returns TRUE when added. */
gboolean match_link_add(GPtrArray *links, MaRecordType type, const char *id);
/* Appends "(hand-forward by FORWARDER unwrapped)" to every link's reason, once. */
void match_reasons_note_forward(GPtrArray *links, const char *forwarder);
/* The same, with the link's reason (copied; may be NULL). The first reason found for a link stays. */
gboolean match_link_add_why(GPtrArray *links, MaRecordType type, const char *id, const char *reason);

/* ---- machine mail (match_machine.c) ---------------------------------------------------------- */

/* TRUE when the subject starts with an out-of-office / automatic-reply phrase (English, Chinese,
 * Japanese, German, French, Spanish), case-insensitively, as a whole phrase. */
gboolean match_subject_is_auto_reply(const char *subject);
/* MA_MACHINE_* flags of the message from its machine signals and subject; *reason (optional) is a
 * static description of the first signal found, NULL when none. */
guint match_machine_classify(const MaMessage *msg, const char **reason);
/* The pipeline's skip reason ("auto_reply", "bulk_mail") when the enterprise's settings skip mail
 * with these flags, else NULL (the message is archived with its flags). Static string. */
const char *match_machine_skip_reason(const MaSettings *settings, guint flags);

/* ---- threading ------------------------------------------------------------------------------ */

/* Finds the message's thread without writing: References/In-Reply-To, then subject key +
 * participants key within the window before date. 1 found (*thread_id newly allocated), 0 none,
 * -1 error. match is the message's (its subject key is kept there for match_thread_assign). */
int match_thread_find(MaStorage *st, const char *enterprise_id, const MaMessage *msg, MaMatch *match,
                      gint64 date, char **thread_id, GError **error);

/* Joins the thread `found` (raising its latest time to date) or, when found is NULL, creates a new
 * thread for the message. *thread_id newly allocated; *created TRUE for a new thread. Runs in the
 * caller's transaction. 0 or -1. */
int match_thread_assign(MaStorage *st, const char *enterprise_id, const MaMessage *msg, MaMatch *match,
                        gint64 date, const char *found, char **thread_id, gboolean *created, GError **error);

/* Adds to match->links the opportunity links of the thread's earlier messages. Returns the number
 * added, or -1. */
int match_thread_inherit(MaStorage *st, const char *enterprise_id, const char *thread_id, MaMatch *match,
                         GError **error);

#endif
