/* pipeline.c - one message through dedup, match, store and act (activities, the outbox event),
 * inside one storage transaction (see pipeline.h for the outcomes and their reasons). A MaIngest
 * carries the message from stage to stage; ingest_parsed reads as that sequence. The rules are
 * evaluated before the transaction opens (pipeline_prepare) and only written in it. The octets
 * come as a MaRaw (agent/lib/raw.h): a large spool body is a mapped file that is never read whole,
 * its raw blob (raw_blob.h) and attachments streamed from it into the blob store.
 *
 * Idempotence: a duplicate is found by Message-ID or content hash before anything is written; a
 * replayed spool entry finds its own earlier copy and storage_provenance_add refuses the same
 * spool id twice; links and activities have unique keys; the outbox event's idempotency key is
 * "message.archived:<our id>". A skipped message is not archived; only mail skipped for no
 * matching record is held (pending_hold, keyed by its raw digest) and a throttled loop reported
 * once per window (loop_guard). Outgoing mail from the queue is also linked to the records its
 * send request named (add_named_links). pipeline_preview answers what archiving would do, writing nothing.
 * Never logs bodies or addresses: only enterprise, spool and message ids.
 */
#include "pipeline.h"

#include "activities.h"
#include "loop_guard.h"
#include "pending.h"
#include "raw_blob.h"
#include "agent/codec/codec.h"
#include "agent/lib/clock.h"
#include "agent/lib/crypto.h"
#include "agent/lib/log.h"
#include "agent/tenant/settings.h"
#include "agent/match/match.h"
#include "agent/mime/mime.h"
#include "storage/storage_search.h"

#include <jansson.h>
#include <string.h>

#define SNIPPET_CHARS 200

struct MaParsedMessage {
  const MaRaw *raw;      /* the octets: borrowed (pipeline_parse_raw) or own_raw */
  MaRaw *own_raw;        /* owned view of pipeline_parse's buffer */
  gsize len;
  MaMessage *msg;        /* NULL when unreadable */
  char *error;           /* why it is unreadable */
  gboolean planned;      /* pipeline_prepare ran: plan is the rules' answer (NULL: nothing to do) */
  MaActivityPlan *plan;
};

struct MaPipeline {
  MaStorage *st;          /* borrowed */
  const MaConfig *cfg;    /* borrowed */
  GHashTable *contexts;   /* enterprise id (as asked) -> MaMatchContext* */
  GHashTable *activities_on; /* enterprise id -> 1 rules may make activities, 2 they cannot (activities_on) */
  MaMimeLimits limits;
};

const char *ma_ingest_outcome_name(MaIngestOutcome o)
{
  switch (o) {
  case MA_INGEST_ARCHIVED: return "archived";
  case MA_INGEST_DUPLICATE: return "duplicate";
  default: return "skipped";
  }
}

void ma_ingest_result_free(MaIngestResult *r)
{
  if (!r) return;
  g_free(r->message_id);
  g_free(r->thread_id);
  if (r->links) g_ptr_array_unref(r->links);
  if (r->participants) g_ptr_array_unref(r->participants);
  if (r->warnings) g_ptr_array_unref(r->warnings);
  g_free(r->subject);
  g_free(r->parse_error);
  g_free(r);
}

MaPipeline *pipeline_new(MaStorage *st, const MaConfig *cfg)
{
  MaPipeline *p = g_new0(MaPipeline, 1);
  p->st = st;
  p->cfg = cfg;
  p->contexts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify) match_context_free);
  p->activities_on = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  p->limits = mime_limits_default();
  if (cfg && cfg->max_message_size > 0) p->limits.max_message_size = (gsize) cfg->max_message_size;
  return p;
}

void pipeline_free(MaPipeline *p)
{
  if (!p) return;
  g_hash_table_unref(p->contexts);
  g_hash_table_unref(p->activities_on);
  g_free(p);
}

void pipeline_forget(MaPipeline *p)
{
  g_hash_table_remove_all(p->contexts);
  g_hash_table_remove_all(p->activities_on);
}

static MaMatchContext *context_for(MaPipeline *p, const char *enterprise_id, GError **error)
{
  MaMatchContext *ctx = g_hash_table_lookup(p->contexts, enterprise_id);
  if (ctx) return ctx;
  if (match_context_load(p->st, p->cfg, enterprise_id, &ctx, error) < 0) return NULL;
  g_hash_table_insert(p->contexts, g_strdup(enterprise_id), ctx);
  return ctx;
}

static MaIngestResult *result_new(MaIngestOutcome outcome)
{
  MaIngestResult *r = g_new0(MaIngestResult, 1);
  r->outcome = outcome;
  r->links = g_ptr_array_new_with_free_func((GDestroyNotify) ma_record_ref_free);
  r->participants = g_ptr_array_new_with_free_func((GDestroyNotify) ma_participant_free);
  r->warnings = g_ptr_array_new_with_free_func(g_free);
  r->subject = g_strdup("");
  return r;
}

static void result_take_message(MaIngestResult *r, const MaMessage *msg, const MaMatch *match)
{
  g_free(r->subject);
  r->subject = g_strdup(msg->subject ? msg->subject : "");
  r->unwrapped = msg->unwrapped;
  for (guint i = 0; msg->warnings && i < msg->warnings->len; i++) g_ptr_array_add(r->warnings, g_strdup(msg->warnings->pdata[i]));
  if (!match) return;
  r->direction = match->direction;
  for (guint i = 0; i < match->participants->len; i++) {
    const MaParticipant *pp = match->participants->pdata[i];
    g_ptr_array_add(r->participants, ma_participant_new(pp->role, pp->name, pp->address));
  }
}

/* What the rules' evaluation left to report: its budget ran out (logged and counted by the caller
 * after the commit), and the units it used. */
static void result_take_plan(MaIngestResult *r, const MaParsedMessage *pm)
{
  r->rules_budget_exhausted = activities_plan_exhausted(pm->plan);
  r->rules_units = activities_plan_units(pm->plan);
}

static void copy_links(GPtrArray *dst, GPtrArray *src)
{
  for (guint i = 0; i < src->len; i++) {
    const MaRecordRef *ref = src->pdata[i];
    match_link_add_why(dst, ref->type, ref->id, ref->reason);
  }
}

/* First SNIPPET_CHARS characters of the folded text (folds no more of the text than that). */
static char *snippet_of(const char *text)
{
  char *s = match_fold_whitespace_n(text, SNIPPET_CHARS);
  gsize n = strlen(s);
  if (n && s[n - 1] == ' ') s[n - 1] = '\0';
  return s;
}

/* One message on its way through the stages of pipeline_ingest_parsed_in_tx: what each stage
 * needs and what it leaves for the next, instead of a dozen loose parameters. Lives on the stack
 * of one call; the fields marked owned are freed by ingest_clear. */
typedef struct {
  MaPipeline *p;
  MaMatchContext *ctx;        /* the enterprise's (cached by the pipeline) */
  const MaParsedMessage *pm;  /* the octets, the parsed message, the planned activities */
  const MaMessage *msg;       /* pm->msg */
  const MaProvenance *prov;
  gint64 date;                /* archive_date */
  char dedup_key[65];
  MaMatch *match;             /* owned: participants, links, direction (ingest_match) */
  char *thread;               /* owned: the thread the message continues, NULL for a new one */
  MaIngestResult *r;          /* the answer being built (the caller's) */
} MaIngest;

static void ingest_clear(MaIngest *in)
{
  g_clear_pointer(&in->match, match_free);
  g_clear_pointer(&in->thread, g_free);
}

/* Outgoing mail from the queue (route "outbound", spool id = outbound id) is linked to the records
 * its send request named, besides those its recipients match: the queued message keeps them
 * (checked to exist when it was queued). Added to links with the reason; nothing for other
 * routes or a message no longer queued. 0, or -1 with *error (storage failed). */
#define NAMED_BY_REQUEST "named by the send request"

static int add_named_links(MaStorage *st, const char *enterprise_id, const MaProvenance *prov, GPtrArray *links,
                           GError **error)
{
  if (!prov || !prov->spool_id || g_strcmp0(prov->route, "outbound") != 0) return 0;
  MaOutbound *m = NULL;
  int rc = storage_outbound_get(st, enterprise_id, prov->spool_id, &m, error);
  if (rc <= 0) return rc;
  json_t *doc = m->records_json ? json_loads(m->records_json, 0, NULL) : NULL;
  size_t i;
  json_t *rec;
  json_array_foreach(doc, i, rec) {
    int type = ma_record_type_parse(json_string_value(json_object_get(rec, "type")));
    const char *id = json_string_value(json_object_get(rec, "id"));
    if (type >= 0 && id) match_link_add_why(links, (MaRecordType) type, id, NAMED_BY_REQUEST);
  }
  json_decref(doc);
  ma_outbound_free(m);
  return 0;
}

/* Matching, as one call for every stage that needs it: participants and links from the current
 * records and the send request (in->match), then, with_thread, the thread the message continues
 * (in->thread), whose opportunity links it inherits. A duplicate and the rules' plan read the links
 * without the thread: a duplicate keeps the thread it has, and the plan before the transaction
 * covers the links matching finds (the transaction writes only those still linked). Reads only. */
static int ingest_match(MaIngest *in, gboolean with_thread, GError **error)
{
  const char *ent = in->ctx->enterprise_id;
  if (match_message(in->p->st, in->ctx, in->msg, &in->match, error) < 0) return -1;
  if (add_named_links(in->p->st, ent, in->prov, in->match->links, error) < 0) return -1;
  if (!with_thread) return 0;
  if (match_thread_find(in->p->st, ent, in->msg, in->match, in->date, &in->thread, error) < 0) return -1;
  if (in->thread && match_thread_inherit(in->p->st, ent, in->thread, in->match, error) < 0) return -1;
  return 0;
}

/* Why a matched message is not archived (a static reason, see pipeline.h), or NULL. */
static const char *ingest_skip_reason(const MaIngest *in)
{
  const MaSettings *set = in->ctx->settings;
  const char *skip = match_skip_reason(in->ctx, in->match); /* never_log, machine mail the settings skip */
  if (skip) return skip;
  if (in->match->external_keys->len == 0 && !set->archive_internal) return "internal_only";
  if (in->match->external_keys->len > 0 && in->match->links->len == 0 && !set->archive_unmatched)
    return "no_matching_record";
  return NULL;
}

/* The activities of the message id (new or existing) with these links: the plan's, when the
 * caller planned before the transaction, else evaluated here. */
static int ingest_act(MaIngest *in, const char *message_id, GPtrArray *links, GError **error)
{
  if (!in->ctx->settings->activities) return 0;
  const char *ent = in->ctx->enterprise_id;
  int n = in->pm->planned ? activities_write(in->p->st, ent, message_id, in->date, links, in->pm->plan, error)
                          : activities_apply(in->p->st, ent, message_id, in->prov, error);
  if (n < 0) return -1;
  in->r->activities_created = n;
  return 0;
}

/* A duplicate copy: provenance, links re-evaluated against the current records, activities
 * re-applied (for links of the existing message still without an activity). */
static int ingest_duplicate(MaIngest *in, const char *existing, GError **error)
{
  const char *ent = in->ctx->enterprise_id;
  MaIngestResult *r = in->r;
  if (ingest_match(in, FALSE, error) < 0) return -1;
  result_take_message(r, in->msg, in->match);
  r->message_id = g_strdup(existing);
  int rc = storage_provenance_add(in->p->st, ent, existing, in->prov, error);
  if (rc < 0) return -1;
  r->provenance_added = rc == 1;
  for (guint i = 0; i < in->match->links->len; i++) {
    rc = storage_link_add(in->p->st, ent, existing, in->match->links->pdata[i], error);
    if (rc < 0) return -1;
    r->links_added += rc;
  }
  if (storage_message_links(in->p->st, ent, existing, r->links, error) < 0) return -1;
  return ingest_act(in, existing, r->links, error);
}

/* Fills the fields of m that the archive row and the rules read (subject, direction, size, text,
 * html, snippet as the capture level allows, participants, attachment metadata). Writes nothing,
 * so the rules can be evaluated on it before the write transaction opens. text and html are
 * BORROWED from msg, not copied (a 50 MB body would otherwise be held twice): free m with
 * view_free, never ma_stored_message_free. */
static void fill_view(const MaMatchContext *ctx, gsize len, const MaMessage *msg, const MaMatch *match,
                      MaStoredMessage *m)
{
  m->subject = g_strdup(msg->subject ? msg->subject : "");
  m->direction = match->direction;
  m->size = (gint64) len;
  m->machine = match->machine;
  m->machine_reason = g_strdup(match->machine_reason);
  if (ctx->settings->capture_level == MA_CAPTURE_METADATA) {
    m->text = (char *) "";
    m->snippet = g_strdup("");
  } else {
    m->text = (char *) (msg->text ? msg->text : "");
    m->html = msg->html;
    m->snippet = snippet_of(m->text);
  }
  for (guint i = 0; i < match->participants->len; i++) {
    const MaParticipant *pp = match->participants->pdata[i];
    g_ptr_array_add(m->participants, ma_participant_new(pp->role, pp->name, pp->address));
  }
  for (guint i = 0; msg->attachments && i < msg->attachments->len; i++) {
    const MaAttachment *a = msg->attachments->pdata[i];
    MaAttachment *copy = ma_attachment_new();
    copy->filename = g_strdup(a->filename);
    copy->content_type = g_strdup(a->content_type);
    copy->content_id = g_strdup(a->content_id);
    copy->is_inline = a->is_inline;
    copy->size = a->size;
    memcpy(copy->sha256, a->sha256, sizeof copy->sha256);
    g_ptr_array_add(m->attachments, copy);
  }
}

/* Frees a message filled by fill_view, giving back the text and html it borrowed. */
static void view_free(MaStoredMessage *m)
{
  if (!m) return;
  m->text = NULL;
  m->html = NULL;
  ma_stored_message_free(m);
}

/* Stores the raw and attachment blobs as the capture level allows; sets m->raw_sha256, and
 * m->text_raw_at/len when the raw blob holds the text (checked here: storage trusts it). raw holds
 * the octets msg was parsed from: attachments that lie in it are streamed from it. */
static int store_blobs(MaPipeline *p, const MaMatchContext *ctx, const MaRaw *raw, const MaMessage *msg,
                       MaStoredMessage *m, GError **error)
{
  MaCaptureLevel level = ctx->settings->capture_level;
  char digest[65];
  if (level == MA_CAPTURE_METADATA) {
    ma_raw_sha256_hex(raw, digest);
  } else if (raw_blob_put(p->st, raw, digest, error) < 0) {
    return -1;
  }
  m->raw_sha256 = g_strdup(digest);
  if (level != MA_CAPTURE_METADATA && msg->text_raw_length > 0 && m->text == msg->text) {
    m->text_raw_len = (gint64) raw_blob_text_slice(raw, msg->text_raw_offset, msg->text_raw_length, m->text);
    m->text_raw_at = m->text_raw_len > 0 ? (gint64) msg->text_raw_offset : 0;
  }
  for (guint i = 0; level == MA_CAPTURE_FULL && msg->attachments && i < msg->attachments->len; i++) {
    const MaAttachment *a = msg->attachments->pdata[i];
    if (a->in_raw) { /* decoded again from raw as the blob store pulls it: never whole in memory */
      MimeContentReader *r = mime_content_reader_new(raw, a);
      int rc = r ? storage_blob_put_stream(p->st, a->sha256, a->size, mime_content_reader_read, r, error) : -1;
      if (!r) g_set_error(error, MA_ERROR, MA_ERROR_INTERNAL, "attachment %u lies outside its message", i);
      mime_content_reader_free(r);
      if (rc < 0) return -1;
      continue;
    }
    if (!a->data) continue;
    gsize n = 0;
    const void *d = g_bytes_get_data(a->data, &n);
    if (storage_blob_put(p->st, d ? d : "", n, digest, error) < 0) return -1;
  }
  return 0;
}

static int emit_archived(MaStorage *st, const MaStoredMessage *m, GError **error)
{
  g_autofree char *payload = codec_message_json_text(m, FALSE);
  g_autofree char *key = g_strconcat("message.archived:", m->id, NULL);
  int rc = storage_outbox_add(st, m->enterprise_id, "message.archived", key, payload, ma_now(), error);
  return rc < 0 ? -1 : 0;
}

/* A new message: its thread, blobs, the row with participants and links, provenance and the
 * "message.archived" event. m is filled here (through fill_view: the caller frees it with
 * view_free). */
static int ingest_store(MaIngest *in, MaStoredMessage *m, GError **error)
{
  const char *ent = in->ctx->enterprise_id;
  const MaMessage *msg = in->msg;
  MaIngestResult *r = in->r;
  m->id = ma_id_new();
  m->enterprise_id = g_strdup(ent);
  if (match_thread_assign(in->p->st, ent, msg, in->match, in->date, in->thread, &m->thread_id, &r->thread_created,
                          error) < 0)
    return -1;
  m->message_id = g_strdup(msg->message_id && *msg->message_id ? msg->message_id : NULL);
  m->dedup_key = g_strdup(in->dedup_key);
  m->date = in->date;
  m->archived_at = ma_now();
  fill_view(in->ctx, in->pm->len, msg, in->match, m);
  if (store_blobs(in->p, in->ctx, in->pm->raw, msg, m, error) < 0) return -1;
  copy_links(m->links, in->match->links);
  if (storage_message_archive(in->p->st, m, in->prov, error) < 0) return -1; /* row, search document, provenance */
  r->provenance_added = TRUE;
  /* the event before the activities: outbox order is delivery order, and activity events refer
   * to the message */
  if (emit_archived(in->p->st, m, error) < 0) return -1;
  r->message_id = g_strdup(m->id);
  r->thread_id = g_strdup(m->thread_id);
  r->links_added = in->match->links->len;
  copy_links(r->links, in->match->links);
  return 0;
}

MaParsedMessage *pipeline_parse_raw(MaPipeline *p, const MaRaw *raw)
{
  MaParsedMessage *pm = g_new0(MaParsedMessage, 1);
  pm->raw = raw;
  pm->len = ma_raw_len(raw);
  g_autoptr(GError) parse_error = NULL;
  if (mime_parse_raw(raw, &p->limits, &pm->msg, &parse_error) < 0) {
    pm->msg = NULL;
    pm->error = g_strdup(parse_error ? parse_error->message : "unreadable");
  }
  return pm;
}

MaParsedMessage *pipeline_parse(MaPipeline *p, const void *raw, gsize len)
{
  MaRaw *view = ma_raw_new_static(raw, len);
  MaParsedMessage *pm = pipeline_parse_raw(p, view);
  pm->own_raw = view;
  return pm;
}

void pipeline_parsed_free(MaParsedMessage *pm)
{
  if (!pm) return;
  activities_plan_free(pm->plan);
  ma_message_free(pm->msg);
  g_free(pm->error);
  ma_raw_free(pm->own_raw);
  g_free(pm);
}

/* Input mime_parse refused, archived raw (see pipeline.h): the raw blob as the capture level
 * allows, a message row with parse_error and no header fields, provenance, the archived event. */
static int ingest_unparsed(MaPipeline *p, MaMatchContext *ctx, const MaParsedMessage *pm, const MaProvenance *prov,
                           MaIngestResult *r, GError **error)
{
  const char *ent = ctx->enterprise_id;
  char digest[65];
  ma_raw_sha256_hex(pm->raw, digest);
  g_autofree char *dedup_key = g_strconcat("unparsed:", digest, NULL); /* never a parsed message's key */
  r->parse_error = g_strdup(pm->error);
  g_ptr_array_add(r->warnings, g_strdup(pm->error));
  g_autofree char *existing = NULL;
  int rc = storage_message_find_duplicate(p->st, ent, NULL, dedup_key, &existing, error);
  if (rc < 0) return -1;
  if (rc == 1) {
    r->outcome = MA_INGEST_DUPLICATE;
    r->message_id = g_steal_pointer(&existing);
    rc = storage_provenance_add(p->st, ent, r->message_id, prov, error);
    if (rc < 0) return -1;
    r->provenance_added = rc == 1;
    return 0;
  }
  MaStoredMessage *m = ma_stored_message_new();
  m->id = ma_id_new();
  m->enterprise_id = g_strdup(ent);
  m->dedup_key = g_strdup(dedup_key);
  m->subject = g_strdup("");
  m->direction = MA_DIRECTION_INBOUND;
  m->date = prov && prov->received_at > 0 ? prov->received_at : ma_now();
  m->archived_at = ma_now();
  m->size = (gint64) pm->len;
  m->text = g_strdup("");
  m->snippet = g_strdup("");
  m->parse_error = g_strdup(pm->error);
  char stored[65];
  if (ctx->settings->capture_level == MA_CAPTURE_METADATA)
    g_strlcpy(stored, digest, sizeof stored);
  else
    rc = raw_blob_put(p->st, pm->raw, stored, error);
  if (rc == 0) {
    m->raw_sha256 = g_strdup(stored);
    rc = storage_message_insert(p->st, m, error);
  }
  if (rc == 0) rc = storage_provenance_add(p->st, ent, m->id, prov, error) < 0 ? -1 : 0;
  if (rc == 0) rc = emit_archived(p->st, m, error);
  if (rc == 0) {
    r->provenance_added = TRUE;
    r->message_id = g_strdup(m->id);
  }
  ma_stored_message_free(m);
  return rc < 0 ? -1 : 0;
}

/* The date a message is archived under: its Date header, else when it was received, else now. */
static gint64 archive_date(const MaMessage *msg, const MaProvenance *prov)
{
  return msg->date > 0 ? msg->date : (prov && prov->received_at > 0 ? prov->received_at : ma_now());
}

/* Whether the enterprise's rules can make activities (the setting on and at least one rule),
 * asked once per pipeline until pipeline_forget: the rules' evaluation reads them again when on. */
static int activities_on(MaPipeline *p, const MaMatchContext *ctx, gboolean *on, GError **error)
{
  gpointer known = g_hash_table_lookup(p->activities_on, ctx->enterprise_id);
  if (known) {
    *on = GPOINTER_TO_INT(known) == 1;
    return 0;
  }
  *on = FALSE;
  if (ctx->settings->activities && activities_enabled(p->st, ctx->enterprise_id, on, error) < 0) return -1;
  g_hash_table_insert(p->activities_on, g_strdup(ctx->enterprise_id), GINT_TO_POINTER(*on ? 1 : 2));
  return 0;
}

int pipeline_prepare(MaPipeline *p, const char *enterprise_id, MaParsedMessage *pm, const MaProvenance *prov,
                     GError **error)
{
  g_clear_pointer(&pm->plan, activities_plan_free);
  pm->planned = FALSE;
  MaMatchContext *ctx = context_for(p, enterprise_id, error);
  if (!ctx) return -1;
  gboolean on = FALSE;
  if (pm->msg && ctx->settings->archiving && activities_on(p, ctx, &on, error) < 0) return -1;
  if (on) {
    /* the links as matching finds them now; the transaction matches again and writes only the
     * planned activities of records that are still linked */
    MaIngest in = {.p = p, .ctx = ctx, .pm = pm, .msg = pm->msg, .prov = prov};
    int rc = ingest_match(&in, FALSE, error);
    if (rc == 0) {
      MaStoredMessage *view = ma_stored_message_new();
      fill_view(ctx, pm->len, pm->msg, in.match, view);
      rc = activities_plan(p->st, ctx->enterprise_id, view, in.match->links, prov, &pm->plan, error);
      view_free(view);
    }
    ingest_clear(&in);
    if (rc < 0) return -1;
  }
  pm->planned = TRUE;
  return 0;
}

/* The stages in order: dedup -> match -> store -> act. */
static int ingest_parsed(MaIngest *in, GError **error)
{
  const MaMessage *msg = in->msg;
  g_autofree char *existing = NULL;
  match_dedup_key(msg, in->dedup_key);
  int rc = storage_message_find_duplicate(in->p->st, in->ctx->enterprise_id,
                                          msg->message_id && *msg->message_id ? msg->message_id : NULL,
                                          in->dedup_key, &existing, error);
  if (rc < 0) return -1;
  if (rc == 1) {
    in->r->outcome = MA_INGEST_DUPLICATE;
    return ingest_duplicate(in, existing, error);
  }
  if (ingest_match(in, TRUE, error) < 0) return -1;
  result_take_message(in->r, msg, in->match);
  in->r->skip_reason = ingest_skip_reason(in);
  if (in->r->skip_reason) {
    in->r->outcome = MA_INGEST_SKIPPED;
    if (strcmp(in->r->skip_reason, "no_matching_record") != 0) return 0;
    /* held for late re-matching while pending_days lasts (pending.h) */
    int held = pending_hold(in->p->st, in->ctx->enterprise_id, in->ctx->settings, in->pm->raw,
                            in->match->external_keys, in->r->skip_reason, in->prov, error);
    if (held < 0) return -1;
    in->r->held = held == 1;
    return 0;
  }
  rc = loop_guard(in->p->st, in->ctx, in->match, in->r, error); /* a sender flooding one record (loop_guard.h) */
  if (rc != 0) return rc < 0 ? -1 : 0;
  MaStoredMessage *m = ma_stored_message_new();
  rc = ingest_store(in, m, error);
  if (rc == 0) rc = ingest_act(in, m->id, in->match->links, error);
  view_free(m);
  return rc;
}

int pipeline_ingest_parsed_in_tx(MaPipeline *p, const char *enterprise_id, const MaParsedMessage *pm,
                                 const MaProvenance *prov, MaIngestResult **out, GError **error)
{
  *out = NULL;
  MaMatchContext *ctx = context_for(p, enterprise_id, error);
  if (!ctx) return -1;
  if (!ctx->settings->archiving) {
    MaIngestResult *r = result_new(MA_INGEST_SKIPPED);
    r->skip_reason = "archiving_off";
    *out = r;
    return 0;
  }
  g_autoptr(MaIngestResult) r = result_new(MA_INGEST_ARCHIVED);
  if (!pm->msg) {
    if (ingest_unparsed(p, ctx, pm, prov, r, error) < 0) return -1;
    *out = g_steal_pointer(&r);
    return 0;
  }
  MaIngest in = {.p = p, .ctx = ctx, .pm = pm, .msg = pm->msg, .prov = prov, .date = archive_date(pm->msg, prov), .r = r};
  int rc = ingest_parsed(&in, error);
  ingest_clear(&in);
  if (rc < 0) return -1;
  if (r->outcome != MA_INGEST_SKIPPED) result_take_plan(r, pm);
  *out = g_steal_pointer(&r);
  return 0;
}

void ma_preview_clear(MaPreview *pv)
{
  ma_stored_message_free(pv->view);
  if (pv->links) g_ptr_array_unref(pv->links);
  if (pv->external) g_ptr_array_unref(pv->external);
  if (pv->excluded) g_ptr_array_unref(pv->excluded);
  memset(pv, 0, sizeof *pv);
}

int pipeline_preview(MaPipeline *p, const char *enterprise_id, const MaParsedMessage *pm, MaPreview *out,
                     GError **error)
{
  ma_preview_clear(out);
  out->links = g_ptr_array_new_with_free_func((GDestroyNotify) ma_record_ref_free);
  out->external = g_ptr_array_new_with_free_func(g_free);
  out->excluded = g_ptr_array_new_with_free_func(g_free);
  MaMatchContext *ctx = context_for(p, enterprise_id, error);
  if (!ctx) return -1;
  if (!pm->msg) return 0; /* archived unparsed, with no participant and no link */
  /* the stages of ingest_parsed that read: match (with the thread), then the skip decision */
  MaIngest in = {.p = p, .ctx = ctx, .pm = pm, .msg = pm->msg, .date = archive_date(pm->msg, NULL)};
  if (ingest_match(&in, TRUE, error) < 0) {
    ingest_clear(&in);
    return -1;
  }
  const MaMatch *match = in.match;
  out->skip_reason = !ctx->settings->archiving ? "archiving_off" : ingest_skip_reason(&in);
  copy_links(out->links, match->links);
  for (guint i = 0; i < match->excluded->len; i++) g_ptr_array_add(out->excluded, g_strdup(match->excluded->pdata[i]));
  for (guint i = 0; i < match->external_keys->len; i++) g_ptr_array_add(out->external, g_strdup(match->external_keys->pdata[i]));
  out->view = ma_stored_message_new();
  fill_view(ctx, pm->len, pm->msg, match, out->view);
  ingest_clear(&in);
  /* fill_view borrows text and html from the parsed message; the preview outlives it */
  out->view->text = g_strdup(out->view->text);
  out->view->html = g_strdup(out->view->html);
  return 0;
}

int pipeline_ingest(MaPipeline *p, const char *enterprise_id, const void *raw, gsize len, const MaProvenance *prov,
                    MaIngestResult **out, GError **error)
{
  g_autoptr(MaRaw) view = ma_raw_new_static(raw, len);
  return pipeline_ingest_raw(p, enterprise_id, view, prov, out, error);
}

int pipeline_ingest_raw(MaPipeline *p, const char *enterprise_id, const MaRaw *raw, const MaProvenance *prov,
                        MaIngestResult **out, GError **error)
{
  *out = NULL;
  MaParsedMessage *pm = pipeline_parse_raw(p, raw);
  /* evaluate, then write: the rules run before the write transaction opens */
  int rc = pipeline_prepare(p, enterprise_id, pm, prov, error);
  if (rc == 0) rc = storage_begin_batch(p->st, error);
  if (rc < 0) {
    pipeline_parsed_free(pm);
    pipeline_forget(p);
    return -1;
  }
  if (pipeline_ingest_parsed_in_tx(p, enterprise_id, pm, prov, out, error) < 0) {
    storage_rollback(p->st);
    /* a context loaded inside the failed transaction may be stale */
    pipeline_forget(p);
    rc = -1;
  } else if (storage_commit(p->st, error) < 0) {
    storage_rollback(p->st);
    ma_ingest_result_free(*out);
    *out = NULL;
    pipeline_forget(p);
    rc = -1;
  }
  pipeline_parsed_free(pm);
  return rc;
}
