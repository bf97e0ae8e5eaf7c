/* pipeline.h - one message through the archive: parse (agent/mime) -> match (agent/match) ->
 * dedup -> archive (raw blob, attachment blobs, message row with participants and links, thread)
 * -> provenance -> activities_apply -> outbox "message.archived". Everything for one message
 * happens in one storage transaction, and every step is idempotent, so replaying a spool entry
 * (same spool id) after a crash adds nothing.
 *
 * Evaluate, then write: rules are evaluated by pipeline_prepare before the transaction opens and
 * only their activities are written inside it (pipeline_ingest and the workers do this; see
 * activities.h).
 *
 * Outcomes:
 *   archived   - a new message (id, thread, links). Input mime_parse refuses (empty, no header
 *                section, a first line that is no header field, over the size limit) is archived
 *                too, unparsed: raw kept, parse_error set (visible in the message's JSON), no
 *                header fields, thread, links or activities, whatever the data-minimisation
 *                settings (there is nothing to match); so mail acknowledged with 250 never
 *                disappears. A second copy of the same octets is a duplicate of it.
 *   duplicate  - the same mail is archived already (normalised Message-ID, else the content hash):
 *                this copy's provenance is added (unless the same spool id brought it before),
 *                links are re-evaluated against the current records, activities re-applied.
 *   skipped    - nothing is archived. Reasons:
 *                "archiving_off"      the enterprise's `archiving` setting is off;
 *                "never_log"          every external participant is on the `never_log` list;
 *                "auto_reply", "bulk_mail" machine mail the `auto_replies` / `bulk_mail`
 *                                     settings skip (match_machine.c);
 *                "internal_only"      every participant is internal (setting `archive_internal`);
 *                "no_matching_record" data minimisation: external participants exist but none
 *                                     matches a record and the thread carries no opportunity
 *                                     (setting `archive_unmatched`, default off); held in the
 *                                     pending store for late re-matching (pending.h: its raw
 *                                     copy, `pending_days`);
 *                "loop_throttled"     its outside sender passed `loop_limit` messages to a linked
 *                                     record within the window (loop_guard.h).
 *
 * A MaPipeline is per thread: it borrows one MaStorage handle and the config, and caches each
 * enterprise's match context (domains, employees, settings) and whether its rules can make
 * activities until pipeline_forget() (the workers forget before each batch).
 */
#ifndef MA_PIPELINE_H
#define MA_PIPELINE_H

#include "agent/lib/config.h"
#include "agent/lib/model.h"
#include "agent/lib/raw.h"
#include "storage/spool.h"
#include "storage/storage.h"

#include <glib.h>

typedef enum { MA_INGEST_ARCHIVED, MA_INGEST_DUPLICATE, MA_INGEST_SKIPPED } MaIngestOutcome;

const char *ma_ingest_outcome_name(MaIngestOutcome o); /* "archived", "duplicate", "skipped" */

typedef struct {
  MaIngestOutcome outcome;
  const char *skip_reason;    /* static string (see above) when skipped, else NULL */
  char *message_id;           /* our id: the new message, or the existing one for a duplicate */
  char *thread_id;            /* archived: its thread; duplicate: NULL */
  gboolean thread_created;
  GPtrArray *links;           /* MaRecordRef*: all links of the message after this ingest */
  guint links_added;          /* links new with this copy */
  gboolean provenance_added;  /* duplicate: FALSE when this spool id was seen already (a replay) */
  int activities_created;
  MaDirection direction;
  GPtrArray *participants;    /* MaParticipant*: the message's, without inbound addresses */
  char *subject;              /* decoded subject ("" when none or unreadable) */
  gboolean unwrapped;         /* a hand forward: the original was archived */
  GPtrArray *warnings;        /* char*: what the parser could not read */
  gboolean rules_budget_exhausted; /* the rules' budget ran out: no activity from the remaining rules */
  guint64 rules_units;        /* regex units the rules used (rules.h budget) */
  char *parse_error;          /* archived unparsed: why the parser refused it; else NULL */
  gboolean held;              /* skipped for no matching record, held in the pending store (pending.h) */
} MaIngestResult;

void ma_ingest_result_free(MaIngestResult *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MaIngestResult, ma_ingest_result_free)

typedef struct MaPipeline MaPipeline;

/* st and cfg are borrowed and must outlive the pipeline. */
MaPipeline *pipeline_new(MaStorage *st, const MaConfig *cfg);
void pipeline_free(MaPipeline *p);
/* Drops cached enterprise contexts (employees, domains, settings may have changed). */
void pipeline_forget(MaPipeline *p);

/* Runs one message in its own transaction. raw is not retained. prov: how this copy arrived
 * (route "smtp", "imap", "ingest"...); its spool_id makes a replay a no-op. *out owned by the
 * caller. Returns 0 (any outcome, including skipped), or -1 with *error: MA_ERROR_NOT_FOUND for an
 * unknown enterprise, MA_ERROR_TEMPFAIL when storage is busy or failed (nothing was written). */
int pipeline_ingest(MaPipeline *p, const char *enterprise_id, const void *raw, gsize len, const MaProvenance *prov,
                    MaIngestResult **out, GError **error);
/* pipeline_ingest of a message in memory or in a mapped file (raw.h; borrowed, not retained). */
int pipeline_ingest_raw(MaPipeline *p, const char *enterprise_id, const MaRaw *raw, const MaProvenance *prov,
                        MaIngestResult **out, GError **error);

/* Group commit of many messages in one transaction the caller opens (storage_begin_batch, no
 * savepoint per write; on -1 the caller rolls the whole transaction back): parse and prepare each
 * message first, with no transaction open, then pipeline_ingest_parsed_in_tx each inside it.
 * Parsing is pure and needs no transaction. raw is borrowed and must outlive the result (the
 * attachments that lie in it are decoded from it again as they are stored). Never
 * fails: unreadable input is remembered and archived unparsed. */
typedef struct MaParsedMessage MaParsedMessage;
MaParsedMessage *pipeline_parse(MaPipeline *p, const void *raw, gsize len);
/* pipeline_parse of a message in memory or in a mapped file (raw.h: a spool body, a file to
 * ingest): raw is borrowed and must outlive the result. A mapped message is never read whole into
 * memory: parsed through its file, its attachments and raw blob streamed from it as they are
 * stored. */
MaParsedMessage *pipeline_parse_raw(MaPipeline *p, const MaRaw *raw);
void pipeline_parsed_free(MaParsedMessage *pm);
/* Evaluates the enterprise's rules for a parsed message before the write transaction opens
 * (reads only: match context, records, rules), keeping the outcome in pm for
 * pipeline_ingest_parsed_in_tx, which then only writes it. Rules are evaluated under the budget of
 * rules.h; see MaIngestResult.rules_budget_exhausted. Call it outside any transaction: evaluating
 * hostile rules must never hold the archive's write lock. 0, or -1 with *error (storage failed,
 * unknown enterprise). */
int pipeline_prepare(MaPipeline *p, const char *enterprise_id, MaParsedMessage *pm, const MaProvenance *prov,
                     GError **error);
/* One parsed (and normally prepared) message inside the caller's transaction; same outcomes and
 * errors as pipeline_ingest. A message not prepared has its rules evaluated inside the
 * transaction. *out owned by the caller. */
int pipeline_ingest_parsed_in_tx(MaPipeline *p, const char *enterprise_id, const MaParsedMessage *pm,
                                 const MaProvenance *prov, MaIngestResult **out, GError **error);

/* What archiving a parsed message would do (pipeline_preview), all owned by the struct. */
typedef struct {
  MaStoredMessage *view;    /* the archive row's fields the rules read; NULL for input the parser refused */
  GPtrArray *links;         /* MaRecordRef*, with their reasons */
  GPtrArray *external;      /* char*: external address keys matched against records */
  GPtrArray *excluded;      /* char*: "address (never_log entry)" */
  const char *skip_reason;  /* static: why it would be skipped; NULL when it would be archived */
} MaPreview;

void ma_preview_clear(MaPreview *pv);
/* Fills *out (zero-initialised before the first call; cleared and refilled on later ones) with what
 * archiving this parsed message would do, writing nothing (dry runs, `ingest --explain`).
 * Duplicates and the loop limit are not looked at. 0, or -1 with *error. */
int pipeline_preview(MaPipeline *p, const char *enterprise_id, const MaParsedMessage *pm, MaPreview *out,
                     GError **error);

/* ---- worker pool (pipeline_workers.c) -------------------------------------------------------- */

/* Starts n threads, each with its own MaStorage and MaSpool under cfg->data_dir, that take spooled
 * entries in batches (one transaction, one fsync per batch), call spool_done after the commit, defer
 * entries with a stored, capped backoff on temporary failures and park them as dead on permanent
 * ones (pipeline_workers.c says which is which). Whatever the spool holds at start is processed.
 * cfg must outlive the workers. 0, or -1 with *error (storage or spool could not be opened; no
 * thread is left running). Only one pool per process. */
int pipeline_workers_start(const MaConfig *cfg, int n, GError **error);
/* Called by a worker after each commit that archived something (e.g. webhook_notify: new outbox
 * events). Set before pipeline_workers_start; must be thread-safe and must not block. */
void pipeline_workers_set_committed_hook(void (*fn)(void));
/* Returned mail (the bounce issue): fn sees every spooled entry (octets loaded) before the archive
 * does. 1: it applied the entry (a report about the enterprise's own outbound mail, or mail to a
 * bounce address: route "bounce"), which is then done and never archived; 0: not returned mail,
 * archive it as usual (route "bounce" then parks as dead); -1 with *error: MA_ERROR_TEMPFAIL
 * defers the entry, anything else parks it. Set before pipeline_workers_start; called on the
 * worker threads with the worker's storage handle; ctx is the caller's and must outlive the pool. */
typedef int (*PipelineBounceHook)(void *ctx, MaStorage *st, const MaSpoolEntry *e, const void *raw, gsize len,
                                  GError **error);
void pipeline_workers_set_bounce_hook(PipelineBounceHook fn, void *ctx);
/* Wakes the workers: new entries are in the spool. Any thread; never blocks. */
void pipeline_workers_notify(void);
/* The SMTP listener committed n messages to the spool: while it keeps committing, the workers
 * defer within [pipeline] defer_max / defer_backlog (pipeline_workers.c, "Priority"), then wake.
 * Any thread; never blocks. */
void pipeline_workers_spooled(guint n);
/* Times a worker waited for the listener's burst since the process started (tests, logs). */
guint64 pipeline_workers_deferrals(void);
/* TRUE while a burst window is open (from the listener's first commit until a worker finds the
 * spool drained), for tests. */
gboolean pipeline_workers_burst_open(void);
/* Test hook: TRUE parks every worker at the top of its loop, holding no entry and having decided
 * nothing, and returns once all n are parked (FALSE if they were not within 30 s); FALSE lets them
 * go. Between the two a test can change the spool and report it as one step, with no worker reading
 * in between (which the listener's real order, commit then pipeline_workers_spooled, allows). */
gboolean pipeline_workers_hold_for_test(gboolean hold);
/* Test hook: the listener counts as busy for ms after its last commit (-1: the default, 100 ms). */
void pipeline_workers_set_quiet_for_test(gint64 ms);
/* Finishes what is in the spool now (entries waiting out a backoff are left for the next start),
 * stops and joins the threads. Accepts being called when not started. */
void pipeline_workers_stop(void);
/* Test hook: the next n storage commits of every worker fail with MA_ERROR_TEMPFAIL (as if fsync
 * failed). Call after pipeline_workers_start. */
void pipeline_workers_fault_inject_commit_failures(int n);
/* Test hook: fn(worker index, entries read) runs on a worker between its read of the spool and
 * its claims from what it read. Set before pipeline_workers_start (NULL: none). */
void pipeline_workers_set_read_hook(void (*fn)(int worker, guint entries));
/* Entries processed since start (archived, duplicate, skipped or parked as dead), for tests and logs. */
guint64 pipeline_workers_processed(void);

#endif
