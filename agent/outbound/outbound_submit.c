/* outbound_submit.c - accepts one outgoing message into the queue: prepares it (outbound_message.c
 * or outbound_compose.c), checks who may send it, stores its octets and queues every recipient in
 * one transaction (one fsync), with the Idempotency-Key answer when there is one.
 *
 * The sender check: the From address's domain must be one of the enterprise's domains, or the
 * address must be one of its employees'. (Which domains may use mailagent's own delivery path is
 * the domain scope of agent/domains, applied by routing; this check only stops a tenant from
 * sending in another's name.)
 *
 * Routing: the route of every recipient group is decided here, at queueing (agent/relay,
 * docs/routing.md), stored with the message, and the chosen relays' daily counters move in the
 * same transaction; a recipient no channel may carry refuses the whole message with the reason.
 *
 * Return path: outbound_return_path (the enterprise's `return_path` setting; VERP per recipient
 * with bounce management). Suppression: a recipient on the enterprise's suppression list is
 * queued in state suppressed, never attempted, and the answer says why.
 * Channel employee_mailbox: the message leaves through the employee's own bound mailbox
 * (outbound_mailbox_choose: `employee`, else the From address's owner); its From must be that
 * mailbox's address, the envelope sender becomes it, and the route names the mailbox.
 *
 * Records: the request's `records` must all exist in the enterprise (else the whole request is
 * refused, naming the first unknown one); they are stored with the queued message, and the
 * archive pipeline links the archived copy to them (agent/pipeline, "named by the send request").
 *
 * DKIM: the message is signed here, once, with the enterprise's active keys for the From domain
 * (agent/domains), after it was prepared and before it is stored, so the stored octets are the
 * ones that leave and nothing changes them afterwards. No active key: it leaves unsigned.
 */
#include "outbound_internal.h"
#include "outbound_mailbox.h"

#include "agent/domains/domains.h"
#include "agent/lib/clock.h"
#include "agent/lib/crypto.h"
#include "agent/relay/relay.h"

#include <jansson.h>
#include <string.h>

static const char *const types[] = {"workflow", "mass", "individual", NULL};
static const char *const channels[] = {"auto", "employee_mailbox", "enterprise_relay", "mailagent_relay", NULL};

static gboolean one_of(const char *v, const char *const *set)
{
  for (; *set; set++)
    if (strcmp(v, *set) == 0) return TRUE;
  return FALSE;
}

/* 1 when the enterprise may send as from, 0 when not, -1 on a storage error. */
static int sender_allowed(MaStorage *st, const char *enterprise_id, const char *from, GError **error)
{
  MaEnterprise *e = NULL;
  int rc = storage_enterprise_get(st, enterprise_id, &e, error);
  if (rc <= 0) {
    if (rc == 0) g_set_error(error, MA_ERROR, MA_ERROR_NOT_FOUND, "no enterprise %s", enterprise_id);
    return -1;
  }
  const char *domain = strrchr(from, '@') + 1;
  int allowed = 0;
  for (guint i = 0; i < e->domains->len && !allowed; i++)
    allowed = g_ascii_strcasecmp(g_ptr_array_index(e->domains, i), domain) == 0;
  ma_enterprise_free(e);
  if (allowed) return 1;
  g_autofree char *lower = g_ascii_strdown(from, -1);
  MaEmployee *emp = NULL;
  rc = storage_employee_find(st, enterprise_id, lower, &emp, error);
  ma_employee_free(emp);
  return rc;
}

/* The request's records must name records of the enterprise: 0 when each one exists, -1 with
 * MA_ERROR_INVALID naming the first that is malformed or unknown (a CRM answer, 422, before
 * anything is queued), or a storage error. records_json NULL: nothing to check. */
static int records_check(MaStorage *st, const char *enterprise_id, const char *records_json, GError **error)
{
  if (!records_json) return 0;
  json_t *doc = json_loads(records_json, 0, NULL);
  int ret = 0;
  if (!json_is_array(doc) || json_array_size(doc) > OUTBOUND_MAX_RECORDS) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "records: an array of at most %d {type, id} is required",
                OUTBOUND_MAX_RECORDS);
    ret = -1;
  }
  size_t i;
  json_t *rec;
  json_array_foreach(doc, i, rec) {
    if (ret < 0) break;
    const char *type = json_string_value(json_object_get(rec, "type"));
    const char *id = json_string_value(json_object_get(rec, "id"));
    int t = type ? ma_record_type_parse(type) : -1;
    if (t < 0 || !id || !*id || strlen(id) > OUTBOUND_MAX_RECORD_ID) {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "records[%zu]: {type: account|contact|lead|opportunity, id}", i);
      ret = -1;
      break;
    }
    MaRecord *r = NULL;
    int found = storage_record_get(st, enterprise_id, (MaRecordType) t, id, &r, error);
    ma_record_free(r);
    if (found == 0)
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "records[%zu]: no %s \"%s\" in this enterprise", i, type, id);
    if (found <= 0) ret = -1;
  }
  json_decref(doc);
  return ret;
}

/* Puts the DKIM-Signature fields of the enterprise's active keys in front of msg->raw. 0 (signed
 * or no key), -1 with *error. */
static int dkim_sign(MaStorage *st, const MaConfig *cfg, const char *enterprise_id, OutboundMessage *msg,
                     GError **error)
{
  if (!g_file_test(cfg->master_key_file, G_FILE_TEST_EXISTS)) return 0; /* no key was ever sealed */
  guint8 master[32];
  if (ma_master_key_load(cfg->master_key_file, FALSE, master, error) < 0) return -1;
  const char *domain = strrchr(msg->header_from, '@') + 1;
  char *headers = NULL;
  int rc = ma_domains_dkim_sign(st, master, enterprise_id, domain, (const char *) msg->raw->data, msg->raw->len, NULL,
                                &headers, error);
  memset(master, 0, sizeof master);
  if (rc < 0) return -1;
  if (rc > 0 && headers) {
    g_byte_array_prepend(msg->raw, (const guint8 *) headers, (guint) strlen(headers));
    g_free(headers);
  }
  return 0;
}

/* FALSE only when every recipient goes through enterprise relays that do not want DKIM signing (the
 * relay signs, or the enterprise chose so); the message is signed once, for all its routes. */
static gboolean wants_dkim(const RelayPlan *plan)
{
  for (guint i = 0; i < plan->groups->len; i++) {
    const RelayRouteGroup *g = g_ptr_array_index(plan->groups, i);
    if (!g->relay_id) return TRUE;
    for (guint k = 0; k < plan->relays->len; k++) {
      const MaRelay *r = g_ptr_array_index(plan->relays, k);
      if (strcmp(r->id, g->relay_id) == 0 && r->dkim) return TRUE;
    }
  }
  return FALSE;
}

/* A recipient on the enterprise's suppression list is queued as suppressed, never attempted, with
 * the reason in its reply (which the answer shows). 0, or -1 with *error. */
static int suppression_check(MaStorage *st, const char *enterprise_id, MaOutboundRecipient *r, GError **error)
{
  g_autofree char *key = g_ascii_strdown(r->address, -1);
  MaSuppression *s = NULL;
  int rc = storage_suppression_get(st, enterprise_id, key, &s, error);
  if (rc <= 0) return rc;
  char since[32];
  ma_time_format(s->created_at, since);
  r->state = MA_OUT_SUPPRESSED;
  r->last_reply = g_strdup_printf("suppressed: %s is on the enterprise's suppression list (%s since %s)", key,
                                  s->reason, since);
  ma_suppression_free(s);
  return 0;
}

static char *response_json(const MaOutbound *m)
{
  json_t *doc = json_object();
  json_object_set_new(doc, "id", json_string(m->id));
  json_object_set_new(doc, "message_id", json_string(m->message_id));
  json_object_set_new(doc, "state", json_string("queued"));
  json_t *rcpts = json_array();
  for (guint i = 0; i < m->recipients->len; i++) {
    const MaOutboundRecipient *r = g_ptr_array_index(m->recipients, i);
    json_t *o = json_object();
    json_object_set_new(o, "address", json_string(r->address));
    json_object_set_new(o, "state", json_string(ma_outbound_state_name(r->state)));
    if (r->state == MA_OUT_SUPPRESSED) json_object_set_new(o, "reason", json_string(r->last_reply));
    json_array_append_new(rcpts, o);
  }
  json_object_set_new(doc, "recipients", rcpts);
  char *text = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  return text;
}

/* own_txn: one transaction (one fsync) for this message, archived at once; FALSE: inside the
 * caller's, and *archive_r gets the archive entry the caller spools after its commit. */
static int submit(MaStorage *st, const MaConfig *cfg, const char *enterprise_id, const OutboundRequest *req,
                  const char *idem_key, const char *request_hash, char **response_r, char **id_r,
                  gboolean own_txn, MaSpoolEntry **archive_r, GError **error)
{
  *response_r = NULL;
  const char *type = req->type ? req->type : "individual";
  const char *channel = req->channel ? req->channel : "auto";
  if (!one_of(type, types)) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "type: \"%s\" is not one of workflow, mass, individual", type);
    return -1;
  }
  if (!one_of(channel, channels)) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID,
                "channel: \"%s\" is not one of auto, employee_mailbox, enterprise_relay, mailagent_relay", channel);
    return -1;
  }
  gint64 now = ma_now();
  /* workflow mail without a From is sent from the enterprise's channel system account */
  OutboundRequest with_from;
  g_autofree char *system_from = NULL;
  if (!req->mime && !req->from && strcmp(type, "workflow") == 0) {
    if (relay_channel_default_from(st, enterprise_id, &system_from, error) < 0) return -1;
    with_from = *req;
    with_from.from = system_from;
    req = &with_from;
  }
  if (records_check(st, enterprise_id, req->records_json, error) < 0) return -1;
  OutboundMessage msg;
  int rc = req->mime ? outbound_message_from_mime(req->mime, req->mime_len, req->envelope_to, cfg->hostname, now, &msg, error)
                     : outbound_message_compose(req, cfg->hostname, now, &msg, error);
  if (rc < 0) return -1;
  int allowed = sender_allowed(st, enterprise_id, msg.header_from, error);
  if (allowed == 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID,
                "from: %s is neither in one of the enterprise's domains nor an employee's address", msg.header_from);
  }
  if (allowed > 0 && req->employee) {
    MaEmployee *emp = NULL;
    g_autofree char *lower = g_ascii_strdown(req->employee, -1);
    int found = storage_employee_find(st, enterprise_id, lower, &emp, error);
    ma_employee_free(emp);
    if (found == 0) g_set_error(error, MA_ERROR, MA_ERROR_NOT_FOUND, "employee: no employee %s", req->employee);
    if (found <= 0) allowed = -1;
  }
  g_autoptr(RelayPlan) plan = NULL;
  /* channel employee_mailbox asked for by name: the mailbox transport chooses (below); else routing */
  if (allowed > 0 && strcmp(channel, "employee_mailbox") != 0) {
    RelayPlanRequest preq = {.enterprise_id = enterprise_id, .type = type, .channel = channel,
                             .from = msg.header_from, .employee = req->employee,
                             .rcpts = (const char *const *) msg.rcpts->pdata, .n_rcpts = msg.rcpts->len};
    if (relay_plan_decide(st, cfg, &preq, now, &plan, error) < 0) {
      allowed = -1;
    } else if (relay_plan_refusal(plan)) {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "route: %s", relay_plan_refusal(plan));
      allowed = -1;
    }
  }
  g_autofree char *mail_from = NULL;
  gboolean verp = FALSE;
  if (allowed > 0 && outbound_return_path(st, cfg, enterprise_id, NULL, msg.header_from, req->envelope_from, &mail_from,
                                          &verp, error) < 0)
    allowed = -1;
  g_autoptr(MaMailbox) mailbox = NULL;
  if (allowed > 0 && strcmp(channel, "employee_mailbox") == 0) {
    g_autofree char *why = NULL;
    int found = outbound_mailbox_choose(st, enterprise_id, req->employee, msg.header_from, &mailbox, &why, error);
    if (found == 0)
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "channel employee_mailbox: %s", why);
    else if (found > 0 && g_ascii_strcasecmp(mailbox->email, msg.header_from) != 0) {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID,
                  "channel employee_mailbox: the From address must be the mailbox's, %s (not %s)", mailbox->email,
                  msg.header_from);
      found = -1;
    }
    if (found <= 0) allowed = -1;
    else { /* the mailbox's own SMTP server: its address is the envelope sender, never a VERP address */
      g_free(mail_from);
      mail_from = g_strdup(mailbox->email);
      verp = FALSE;
    }
  }
  if (allowed > 0 && (!plan || wants_dkim(plan)) && dkim_sign(st, cfg, enterprise_id, &msg, error) < 0) allowed = -1;
  if (allowed <= 0) {
    outbound_message_clear(&msg);
    return -1;
  }

  MaOutbound *m = ma_outbound_new();
  m->id = ma_id_new();
  m->enterprise_id = g_strdup(enterprise_id);
  m->type = g_strdup(type);
  m->channel = g_strdup(channel);
  m->employee = g_strdup(req->employee);
  m->mail_from = g_strdup(mail_from);
  m->header_from = g_strdup(msg.header_from);
  m->subject = g_strdup(msg.subject);
  m->message_id = g_strdup(msg.message_id);
  m->size = msg.raw->len;
  m->eight_bit = msg.eight_bit;
  m->smtputf8 = msg.smtputf8;
  m->records_json = g_strdup(req->records_json);
  m->created_at = now;
  if (mailbox) {
    m->route_json = outbound_mailbox_route(mailbox, "channel employee_mailbox requested: the employee's bound mailbox");
  } else {
    json_t *route = relay_route_to_json(plan->groups, now);
    m->route_json = json_dumps(route, JSON_COMPACT);
    json_decref(route);
  }
  m->return_path = verp ? g_strdup("bounce") : NULL;
  m->list_unsubscribe = req->list_unsubscribe_set ? req->list_unsubscribe > 0 : strcmp(type, "mass") == 0;
  int checked = 0;
  for (guint i = 0; i < msg.rcpts->len && checked >= 0; i++) {
    MaOutboundRecipient *r = g_new0(MaOutboundRecipient, 1);
    r->address = g_strdup(g_ptr_array_index(msg.rcpts, i));
    r->state = MA_OUT_QUEUED;
    g_ptr_array_add(m->recipients, r);
    checked = suppression_check(st, enterprise_id, r, error);
  }
  if (checked < 0) {
    outbound_message_clear(&msg);
    ma_outbound_free(m);
    return -1;
  }
  char sha[65];
  g_autofree char *response = response_json(m);
  g_autofree char *prior_hash = NULL, *prior_response = NULL;
  int queued = -1;
  if (!own_txn || storage_begin(st, error) == 0) {
    if (storage_blob_put(st, msg.raw->data, msg.raw->len, sha, error) == 0) {
      m->raw_sha256 = g_strdup(sha);
      /* the relays' daily counters and the default path's log move with the message, in the same
       * transaction. Without an Idempotency-Key (always so inside the caller's transaction) the
       * message is queued unless storage fails, so they are counted first: a failure then never
       * leaves a queued message answered as refused (the caller's commit keeps what succeeded);
       * at worst a limit counts a message that storage could not queue. With a key, only a message
       * actually queued counts, and a failure rolls back both (own transaction). */
      if (!idem_key && plan && relay_plan_reserve(st, enterprise_id, m->id, plan, now, error) < 0) {
        queued = -1;
      } else {
        queued = storage_outbound_enqueue(st, m, idem_key, request_hash, response, now, &prior_hash, &prior_response,
                                          error);
        if (idem_key && plan && queued == 1 && relay_plan_reserve(st, enterprise_id, m->id, plan, now, error) < 0)
          queued = -1;
      }
    }
    if (own_txn && queued >= 0 && storage_commit(st, error) < 0) queued = -1;
    else if (own_txn && queued < 0) storage_rollback(st);
  }
  if (queued == 1) {
    MaSpoolEntry *entry = outbound_archive_entry(m, &msg);
    if (own_txn) {
      g_autoptr(GPtrArray) one = g_ptr_array_new_with_free_func((GDestroyNotify) ma_spool_entry_free);
      g_ptr_array_add(one, entry);
      outbound_archive(cfg, one);
    } else {
      *archive_r = entry;
    }
  }
  outbound_message_clear(&msg);
  if (queued == 1) {
    *response_r = g_steal_pointer(&response);
    if (id_r) *id_r = g_strdup(m->id);
  } else if (queued == 0) {
    if (g_strcmp0(prior_hash, request_hash) != 0) {
      g_set_error(error, MA_ERROR, MA_ERROR_CONFLICT,
                  "Idempotency-Key %s was used in the last 24 h for a different request", idem_key);
      queued = -1;
    } else {
      *response_r = g_steal_pointer(&prior_response);
      if (id_r) {
        json_t *doc = json_loads(*response_r, 0, NULL);
        *id_r = g_strdup(doc ? json_string_value(json_object_get(doc, "id")) : NULL);
        json_decref(doc);
      }
    }
  }
  ma_outbound_free(m);
  return queued;
}

int outbound_submit(MaStorage *st, const MaConfig *cfg, const char *enterprise_id, const OutboundRequest *req,
                    const char *idem_key, const char *request_hash, char **response_r, char **id_r,
                    GError **error)
{
  return submit(st, cfg, enterprise_id, req, idem_key, request_hash, response_r, id_r, TRUE, NULL, error);
}

int outbound_submit_in_transaction(MaStorage *st, const MaConfig *cfg, const char *enterprise_id,
                                   const OutboundRequest *req, char **response_r, char **id_r,
                                   MaSpoolEntry **archive_r, GError **error)
{
  *archive_r = NULL;
  return submit(st, cfg, enterprise_id, req, NULL, NULL, response_r, id_r, FALSE, archive_r, error);
}

void outbound_archive_entries(const MaConfig *cfg, GPtrArray *entries)
{
  outbound_archive(cfg, entries);
}
