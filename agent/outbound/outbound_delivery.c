/* outbound_delivery.c - the delivery thread: takes due recipients from the queue, groups them by
 * message and destination, resolves the destination (the smart host of [relay] default_host, or
 * the recipient domain's MX hosts through agent/dns, null MX refused at once, implicit MX from
 * A records; or, for a message routed through an employee's own mailbox, that binding's SMTP
 * server with its password or OAuth2 token), runs agent/smtp_client connections, and records every
 * recipient's outcome with its webhook event in one transaction per job.
 *
 * The employee-mailbox channel (issue 13; outbound_delivery_mailbox.c): before a connection starts, the job's recipients are
 * reserved against the mailbox's daily limit (storage_mailbox_send_reserve, per calendar day in the
 * enterprise's time zone); those beyond it leave the mailbox's route: to the default path when the
 * From domain may use it (ma_domains_may_send), else they wait for the next day, deferred with the
 * reason. Reserved recipients that are not sent are given back. OAuth2 tokens come from
 * oauth2_async (refreshes off this loop). The first recipient sent records the message's Sent-copy
 * step in the same transaction (outbound_sent_copy.c appends it) unless the provider saves it.
 *
 * Enterprise relays (outbound_delivery_relay.c): a job's recipients are reserved against the
 * relay's daily limit before its connection starts; those beyond it fall back to the default path;
 * a reserved recipient the relay did not accept gives its place back with its outcome. A relay that
 * signs in with XOAUTH2 gets its token from oauth2_async too (owner "relay:<id>"); one that needs
 * sign-in is not used (its recipients fall back).
 *
 * Limits: at most [queue] destination_concurrency connections per destination and
 * [queue] max_connections in all; jobs beyond wait in the destination's queue and take the next
 * free connection to the same host (connection reuse). At most OUT_JOB_RCPTS recipients per
 * transaction. A host-level temporary failure (connection, greeting, TLS policy) moves the job to
 * the next MX host; other temporary failures defer the recipient by the retry schedule, and past
 * [queue] max_age it expires (reported bounced; no bounce mail is ever sent). A message whose
 * return path is bounce management (on the default path the enterprise's choice made at queueing;
 * through an enterprise relay that relay's own `return_path`) leaves with each recipient's own VERP
 * address, so each recipient is a transaction of its own. A 5xx that agent/bounce classifies as hard puts the
 * address on the suppression list; a delivery ends its soft-bounce streak.
 *
 * Crash safety comes from the queue: a claim is a lease of OUT_LEASE seconds; a recipient whose
 * attempt died with the process is claimed again after it. A recipient the remote accepted is
 * sent again only when the process died between the remote's 250 and our commit (the window every
 * MTA has). Threads: everything here runs on the delivery thread, which owns its event loop, its
 * storage handle and its resolver; the only entry from other threads is outbound_delivery_notify.
 */


#include <errno.h>
#include <event2/event.h>
#include <string.h>
#include <unistd.h>
#include "outbound_delivery_internal.h"

static Engine *engine;

void delivery_job_free(Job *j)
{
  if (!j) return;
  ma_outbound_free(j->msg);
  g_free(j->mailbox_id);
  if (j->body) g_bytes_unref(j->body);
  g_ptr_array_unref(j->rcpts);
  g_free(j->addrs);
  g_free(j->mail_from);
  g_free(j);
}

static void host_free(Host *h)
{
  g_free(h->name);
  g_free(h->address);
  g_free(h);
}

static void relay_target_free(RelayTarget *t)
{
  if (!t) return;
  g_free(t->enterprise_id);
  g_free(t->relay_id);
  g_free(t->name);
  g_free(t->host);
  g_free(t->return_path);
  g_free(t->username);
  if (t->password) memset(t->password, 0, strlen(t->password));
  g_free(t->password);
  g_free(t);
}

static void dest_free(Dest *d)
{
  relay_target_free(d->ent);
  g_free(d->key);
  g_ptr_array_unref(d->hosts);
  g_free(d->failure);
  g_queue_clear_full(&d->waiting, (GDestroyNotify) delivery_job_free);
  if (d->mx_names) g_ptr_array_unref(d->mx_names);
  if (d->mx_addrs) g_ptr_array_unref(d->mx_addrs);
  ma_mailbox_free(d->mailbox);
  if (d->secret) memset(d->secret, 0, strlen(d->secret));
  g_free(d->secret);
  g_free(d);
}

/* What a job needs of its message row (the recipients array stays empty). */
MaOutbound *delivery_job_msg_copy(const MaOutbound *m)
{
  MaOutbound *c = ma_outbound_new();
  c->id = g_strdup(m->id);
  c->enterprise_id = g_strdup(m->enterprise_id);
  c->message_id = g_strdup(m->message_id);
  c->mail_from = g_strdup(m->mail_from);
  c->header_from = g_strdup(m->header_from);
  c->created_at = m->created_at;
  c->return_path = g_strdup(m->return_path);
  c->list_unsubscribe = m->list_unsubscribe;
  c->eight_bit = m->eight_bit;
  c->smtputf8 = m->smtputf8;
  return c;
}

/* ---- connections ------------------------------------------------------------------------------ */

static void dispatch(Engine *e, Dest *d);

static void build_client_job(const Job *j, SmtpClientJob *cj)
{
  /* the job's own return path (VERP, or an enterprise relay's choice), else the message's */
  cj->mail_from = j->mail_from ? j->mail_from : j->msg->mail_from;
  cj->rcpts = j->addrs;
  cj->n_rcpts = j->rcpts->len;
  cj->body = j->body;
  cj->eight_bit = j->msg->eight_bit;
  cj->smtputf8 = j->msg->smtputf8;
}

static void enqueue_job(Engine *e, Job *j)
{
  g_queue_push_tail(&j->dest->waiting, j);
  e->waiting_jobs++;
}

/* The next waiting job of d for host (G_MAXUINT: any host), removed from the queue, or NULL. */
static Job *take_waiting(Engine *e, Dest *d, guint host)
{
  for (GList *l = d->waiting.head; l; l = l->next) {
    Job *j = l->data;
    if (host == G_MAXUINT || j->host == host) {
      g_queue_delete_link(&d->waiting, l);
      e->waiting_jobs--;
      return j;
    }
  }
  return NULL;
}

static void on_conn_job_done(void *arg, SmtpClientConn *sc, const SmtpRcptResult *res, guint n)
{
  Conn *c = arg;
  Engine *e = engine;
  Job *j = c->job;
  c->job = NULL;
  Job *next = delivery_apply_results(e, j, res, n);
  delivery_job_free(j);
  if (next) enqueue_job(e, next);
  Job *again = smtp_client_conn_ready(sc) && !e->stopping ? take_waiting(e, c->dest, c->host) : NULL;
  if (again) {
    SmtpClientJob cj;
    c->job = again;
    build_client_job(again, &cj);
    smtp_client_conn_next(sc, &cj);
  } else if (smtp_client_conn_ready(sc)) {
    smtp_client_conn_quit(sc);
  }
}

static void on_conn_closed(void *arg, SmtpClientConn *sc)
{
  Conn *c = arg;
  Engine *e = engine;
  Dest *d = c->dest;
  g_assert(c->job == NULL); /* the session always reports its job before it ends */
  g_hash_table_steal(e->conns, c);
  smtp_client_conn_free(sc);
  g_free(c);
  d->active--;
  e->active--;
  if (!e->stopping) dispatch(e, d);
}

static SmtpClientConfig client_config(Engine *e, gboolean relay, int port, const RelayTarget *ent)
{
  if (ent) {
    SmtpClientConfig cfg = {.helo_name = e->helo, .implicit_tls = ent->implicit_tls, .tls_mode = ent->tls_mode};
    if (ent->auth != SMTP_AUTH_NONE && ent->username && (ent->password || ent->auth == SMTP_AUTH_XOAUTH2)) {
      cfg.auth = ent->auth;
      cfg.auth_user = ent->username;
      cfg.auth_secret = ent->password; /* XOAUTH2: NULL, the token provider answers */
      cfg.server_host = ent->host;
      cfg.server_port = ent->port;
    }
    return cfg;
  }
  SmtpClientConfig cfg = {.helo_name = e->helo, .implicit_tls = port == 465};
  smtp_tls_mode_parse(e->tls_mode, &cfg.tls_mode);
  if (relay && e->username && e->password && smtp_auth_mech_parse(e->auth_mech, &cfg.auth) == 0) {
    cfg.auth_user = e->username;
    cfg.auth_secret = e->password;
  }
  return cfg;
}


/* Starts connections for d's waiting jobs while the limits allow. */
static void dispatch(Engine *e, Dest *d)
{
  if (d->resolving) return; /* a mailbox's binding is being read again: dest_ready dispatches */
  while (d->waiting.length > 0 && d->active < (guint) e->concurrency && e->active < (guint) e->max_connections) {
    Job *j = take_waiting(e, d, G_MAXUINT);
    if (d->mailbox && !delivery_mailbox_admit(e, j)) continue;
    if (d->ent && !delivery_relay_admit(e, j)) continue;
    Host *h = g_ptr_array_index(d->hosts, j->host);
    gboolean relay = strcmp(d->key, "relay") == 0;
    int port = d->mailbox ? d->mailbox->smtp_port : d->ent ? d->ent->port : relay ? e->relay_port : e->mx_port;
    SmtpClientTarget target = {.host = h->name, .address = h->address, .port = port, .ssl_ctx = e->ssl,
                               .connect_timeout_s = (guint) e->connect_timeout,
                               .command_timeout_s = (guint) e->command_timeout};
    SmtpClientConfig cfg = client_config(e, relay, port, d->ent);
    g_autofree char *owner = NULL;
    if (d->mailbox) {
      collector_smtp_client_config(d->mailbox, e->helo, d->secret, &cfg);
      target.ssl_ctx = e->mailbox_ssl;
      target.tokens = &e->token_provider;
      target.token_owner = owner = collector_secret_aad(d->mailbox->id);
    } else if (d->ent && d->ent->auth == SMTP_AUTH_XOAUTH2) {
      target.tokens = &e->token_provider;
      target.token_owner = owner = relay_oauth2_owner(d->ent->relay_id);
    }
    SmtpClientJob cj;
    build_client_job(j, &cj);
    Conn *c = g_new0(Conn, 1);
    c->dest = d;
    c->host = j->host;
    c->job = j;
    SmtpClientConnHooks hooks = {.arg = c, .job_done = on_conn_job_done, .closed = on_conn_closed};
    g_autoptr(GError) error = NULL;
    c->conn = smtp_client_conn_open(e->base, &target, &cfg, &cj, &hooks, &error);
    if (!c->conn) {
      g_free(c);
      SmtpRcptResult *res = g_new0(SmtpRcptResult, j->rcpts->len);
      for (guint i = 0; i < j->rcpts->len; i++) {
        res[i].outcome = SMTP_OUTCOME_TEMP;
        res[i].host_level = TRUE;
        g_strlcpy(res[i].reply, error->message, sizeof res[i].reply);
      }
      Job *next = delivery_apply_results(e, j, res, j->rcpts->len);
      g_free(res);
      delivery_job_free(j);
      if (next) enqueue_job(e, next);
      continue;
    }
    g_hash_table_add(e->conns, c);
    d->active++;
    e->active++;
  }
}

/* ---- destinations ----------------------------------------------------------------------------- */

/* The destination is known (hosts) or failed (failure): start or fail its waiting jobs. */
static void dest_ready(Engine *e, Dest *d)
{
  d->resolving = FALSE;
  if (d->hosts->len == 0 && !d->failure) d->failure = g_strdup("no address for any MX host");
  if (d->ent && d->failure) {
    /* an enterprise relay that cannot be found is the relay's failure (fallback), not a bounce */
    d->failure_perm = FALSE;
    g_autofree char *why = g_strdup_printf("relay %s (%s): %s", d->ent->name, d->ent->host, d->failure);
    g_free(d->failure);
    d->failure = g_steal_pointer(&why);
  }
  if (d->failure) {
    Job *j;
    while ((j = take_waiting(e, d, G_MAXUINT)))
      delivery_fail_job(e, j, d->failure_perm ? SMTP_OUTCOME_PERM : SMTP_OUTCOME_TEMP, d->failure);
    /* the next batch asks again (the resolver caches answers by their TTL) */
    d->resolved = FALSE;
    g_clear_pointer(&d->failure, g_free);
    return;
  }
  d->resolved = TRUE;
  dispatch(e, d);
}

static void on_mx_addr(const MaDnsResult *r, void *arg);

static void lookup_addresses(Engine *e, Dest *d)
{
  d->mx_addrs = g_ptr_array_new_full(d->mx_names->len, g_free);
  g_ptr_array_set_size(d->mx_addrs, (gint) d->mx_names->len);
  d->mx_left = d->mx_names->len;
  for (guint i = 0; i < d->mx_names->len; i++)
    ma_dns_query(e->dns, g_ptr_array_index(d->mx_names, i), MA_DNS_A, on_mx_addr, d);
}

static void on_mx_addr(const MaDnsResult *r, void *arg)
{
  Dest *d = arg;
  Engine *e = engine;
  if (r->status == MA_DNS_CANCELLED) return;
  for (guint i = 0; i < d->mx_names->len; i++)
    if (g_ascii_strcasecmp(g_ptr_array_index(d->mx_names, i), r->name) == 0 && !g_ptr_array_index(d->mx_addrs, i) &&
        r->status == MA_DNS_OK && r->n > 0) {
      char buf[64];
      evutil_inet_ntop(AF_INET, &r->addr[0].addr.v4, buf, sizeof buf);
      g_ptr_array_index(d->mx_addrs, i) = g_strdup(buf);
    }
  if (--d->mx_left > 0) return;
  for (guint i = 0; i < d->mx_names->len; i++) {
    const char *addr = g_ptr_array_index(d->mx_addrs, i);
    if (!addr) continue;
    Host *h = g_new0(Host, 1);
    h->name = g_strdup(g_ptr_array_index(d->mx_names, i));
    h->address = g_strdup(addr);
    g_ptr_array_add(d->hosts, h);
  }
  g_clear_pointer(&d->mx_names, g_ptr_array_unref);
  g_clear_pointer(&d->mx_addrs, g_ptr_array_unref);
  dest_ready(e, d);
}

static void on_mx(const MaDnsResult *r, void *arg)
{
  Dest *d = arg;
  Engine *e = engine;
  if (r->status == MA_DNS_CANCELLED) return;
  const char *name = d->ent ? d->ent->host : d->key;
  d->mx_names = g_ptr_array_new_with_free_func(g_free);
  if (r->status == MA_DNS_OK && r->null_mx) {
    d->failure = g_strdup_printf("556 5.1.10 %s accepts no mail (null MX, RFC 7505)", name);
    d->failure_perm = TRUE;
  } else if (r->status == MA_DNS_OK) {
    for (guint i = 0; i < r->n && i < OUT_MAX_MX_HOSTS; i++) g_ptr_array_add(d->mx_names, g_strdup(r->mx[i].exchange));
  } else if (r->status == MA_DNS_NODATA) {
    g_ptr_array_add(d->mx_names, g_strdup(name)); /* implicit MX (RFC 5321 5.1) */
  } else if (r->status == MA_DNS_NXDOMAIN) {
    d->failure = g_strdup_printf("550 5.1.2 domain %s does not exist", name);
    d->failure_perm = TRUE;
  } else {
    d->failure = g_strdup_printf("MX look-up for %s: %s", name, ma_dns_status_name(r->status));
  }
  if (d->failure || d->mx_names->len == 0) {
    g_clear_pointer(&d->mx_names, g_ptr_array_unref);
    dest_ready(e, d);
    return;
  }
  lookup_addresses(e, d);
}

static Dest *dest_get(Engine *e, const char *key)
{
  Dest *d = g_hash_table_lookup(e->dests, key);
  if (d) return d;
  d = g_new0(Dest, 1);
  d->key = g_strdup(key);
  d->hosts = g_ptr_array_new_with_free_func((GDestroyNotify) host_free);
  g_queue_init(&d->waiting);
  g_hash_table_insert(e->dests, d->key, d);
  return d;
}

/* Queues j on its destination, resolving it first when needed. */
static void route_job(Engine *e, Job *j)
{
  Dest *d = j->dest;
  enqueue_job(e, j);
  /* a mailbox's binding is read again for every batch (limit, state, password may have changed) */
  if (d->resolved && g_str_has_prefix(d->key, "mailbox:") && !d->resolving) d->resolved = FALSE;
  if (d->resolved) {
    dispatch(e, d);
    return;
  }
  if (d->resolving) return;
  d->resolving = TRUE;
  g_ptr_array_set_size(d->hosts, 0);
  if (d->ent) {
    /* an IP address as is; a name by its MX records, else its address (a mail domain or a host) */
    struct sockaddr_storage ss;
    int len = sizeof ss;
    g_autofree char *probe = strchr(d->ent->host, ':') ? g_strdup_printf("[%s]:1", d->ent->host)
                                                        : g_strdup_printf("%s:1", d->ent->host);
    if (evutil_parse_sockaddr_port(probe, (struct sockaddr *) &ss, &len) == 0) {
      Host *h = g_new0(Host, 1);
      h->name = g_strdup(d->ent->host);
      h->address = g_strdup(d->ent->host);
      g_ptr_array_add(d->hosts, h);
      dest_ready(e, d);
      return;
    }
    ma_dns_query(e->dns, d->ent->host, MA_DNS_MX, on_mx, d);
    return;
  }
  if (g_str_has_prefix(d->key, "mailbox:")) {
    if (delivery_mailbox_load(e, d) < 0) {
      dest_ready(e, d);
      return;
    }
    struct sockaddr_storage ss;
    int len = sizeof ss;
    g_autofree char *probe = g_strdup_printf(strchr(d->mailbox->smtp_host, ':') ? "[%s]:1" : "%s:1", d->mailbox->smtp_host);
    if (evutil_parse_sockaddr_port(probe, (struct sockaddr *) &ss, &len) == 0) {
      Host *h = g_new0(Host, 1);
      h->name = g_strdup(d->mailbox->smtp_host);
      h->address = g_strdup(d->mailbox->smtp_host);
      g_ptr_array_add(d->hosts, h);
      dest_ready(e, d);
      return;
    }
    d->mx_names = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(d->mx_names, g_strdup(d->mailbox->smtp_host));
    lookup_addresses(e, d);
    return;
  }
  if (strcmp(d->key, "relay") == 0) {
    struct sockaddr_storage ss;
    int len = sizeof ss;
    g_autofree char *probe = strchr(e->relay_host, ':') ? g_strdup_printf("[%s]:1", e->relay_host)
                                                         : g_strdup_printf("%s:1", e->relay_host);
    if (evutil_parse_sockaddr_port(probe, (struct sockaddr *) &ss, &len) == 0) {
      Host *h = g_new0(Host, 1);
      h->name = g_strdup(e->relay_host);
      h->address = g_strdup(e->relay_host);
      g_ptr_array_add(d->hosts, h);
      dest_ready(e, d);
      return;
    }
    /* a host name: its A record, like a single MX host */
    d->mx_names = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(d->mx_names, g_strdup(e->relay_host));
    lookup_addresses(e, d);
    return;
  }
  ma_dns_query(e->dns, d->key, MA_DNS_MX, on_mx, d);
}

/* ---- the scan --------------------------------------------------------------------------------- */

/* The destination of an enterprise relay as stored now (a changed relay is a new destination; the
 * old one finishes its connections and stays idle), or NULL with *why when it cannot be used. */
static Dest *relay_dest(Engine *e, GHashTable *relays, const char *enterprise_id, const char *relay_id, gint64 now,
                        char **why)
{
  MaRelay *rel = g_hash_table_lookup(relays, relay_id);
  g_autoptr(GError) error = NULL;
  if (!rel && !g_hash_table_contains(relays, relay_id)) {
    if (storage_relay_get(e->st, enterprise_id, relay_id, &rel, &error) < 0)
      ma_error("outbound", "relay %s: %s", relay_id, error->message);
    g_hash_table_insert(relays, g_strdup(relay_id), rel);
  }
  if (!rel) {
    *why = g_strdup_printf("relay %s no longer exists", relay_id);
    return NULL;
  }
  /* changed since the message was routed so that it is untested again: not used until a test passes */
  gboolean untested = g_strcmp0(rel->status, "untested") == 0;
  gboolean sign_in = relay_needs_sign_in(rel);
  if (!rel->enabled || relay_is_suspended(rel, now) || untested || sign_in || (relay_uses_oauth2(rel) && !e->tokens)) {
    *why = g_strdup_printf("relay %s %s", rel->name,
                           !rel->enabled ? "is disabled"
                           : sign_in     ? "needs OAuth2 sign-in: run relay authorize"
                           : untested    ? "is untested (changed): run relay test"
                           : relay_is_suspended(rel, now) ? "is suspended"
                                                          : "signs in with XOAUTH2, but OAuth2 is not available here (master key, presets)");
    return NULL;
  }
  /* the key names what the destination copies, so a change within the same second is seen too */
  g_autofree char *settings = g_strdup_printf("%s\n%d\n%s\n%s\n%d\n%s\n%s\n%s\n%s\n%s", rel->host, rel->port, rel->security,
                                              rel->tls_mode, rel->auth_enabled, rel->auth_mechanism ? rel->auth_mechanism : "",
                                              rel->username ? rel->username : "",
                                              rel->password_sealed ? rel->password_sealed : "",
                                              rel->return_path ? rel->return_path : "",
                                              rel->auth_provider ? rel->auth_provider : "");
  g_autofree char *digest = g_compute_checksum_for_string(G_CHECKSUM_SHA256, settings, -1);
  g_autofree char *key = g_strdup_printf("relay:%s:%" G_GINT64_FORMAT ":%.16s", rel->id, rel->updated_at, digest);
  Dest *d = g_hash_table_lookup(e->dests, key);
  if (d) return d;
  RelayTarget *t = g_new0(RelayTarget, 1);
  t->enterprise_id = g_strdup(enterprise_id);
  t->relay_id = g_strdup(rel->id);
  t->name = g_strdup(rel->name);
  t->host = g_strdup(rel->host);
  t->return_path = g_strdup(rel->return_path);
  t->port = rel->port;
  t->daily_limit = rel->daily_limit;
  t->implicit_tls = g_strcmp0(rel->security, "implicit") == 0;
  if (smtp_tls_mode_parse(rel->tls_mode, &t->tls_mode) < 0) t->tls_mode = SMTP_TLS_REQUIRED_VERIFY;
  if (relay_uses_oauth2(rel) && smtp_auth_mech_parse(rel->auth_mechanism, &t->auth) == 0) {
    t->username = g_strdup(rel->username); /* the token comes from the provider at AUTH */
  } else if (rel->auth_enabled && rel->auth_mechanism && smtp_auth_mech_parse(rel->auth_mechanism, &t->auth) == 0 &&
             rel->password_sealed) {
    guint8 master[32];
    g_autofree char *aad = g_strdup_printf("relay:%s", rel->id);
    if (ma_master_key_load(e->cfg->master_key_file, FALSE, master, &error) == 0)
      t->password = ma_secret_open(master, aad, rel->password_sealed, &error);
    memset(master, 0, sizeof master);
    if (!t->password) {
      *why = g_strdup_printf("relay %s: cannot open its password: %s", rel->name, error ? error->message : "?");
      relay_target_free(t);
      return NULL;
    }
    t->username = g_strdup(rel->username);
  }
  d = dest_get(e, key);
  d->ent = t;
  return d;
}

/* A recipient that goes nowhere this time: its outcome waits for the group commit. */
static void outcome_now(Engine *e, const MaOutbound *msg, MaOutboundRecipient *r, const char *reply,
                        const char *fallback_from)
{
  Outcome *o = g_new0(Outcome, 1);
  o->msg = delivery_job_msg_copy(msg);
  o->r = r;
  o->outcome = SMTP_OUTCOME_TEMP;
  g_strlcpy(o->reply, reply, sizeof o->reply);
  o->fallback_from = g_strdup(fallback_from);
  g_ptr_array_add(e->outcomes, o);
  event_active(e->flush_ev, EV_TIMEOUT, 1);
}

/* r's copy of a message with List-Unsubscribe; the plain copy (logged) if its signature fails. */
static GBytes *list_unsubscribe_copy(Engine *e, const MaOutbound *msg, GBytes *body, const MaOutboundRecipient *r)
{
  g_autoptr(GError) error = NULL;
  GBytes *copy = outbound_list_unsubscribe_copy(e->st, e->master_key, e->token_key, e->bounce_domain, e->public_url,
                                                msg->enterprise_id, body, r->id, &error);
  if (copy) return copy;
  ma_error("outbound", "%s to=<%s>: List-Unsubscribe not added: %s", msg->id, r->address, error->message);
  return g_bytes_ref(body);
}

/* The envelope sender of msg through enterprise relay t when it is not VERP (the relay's return
 * path: "from" or an address; "bounce" without [relay] bounce_domain is the From address), or NULL:
 * the message's own (a null sender stays null). Caller frees. */
static char *relay_mail_from(const Engine *e, const RelayTarget *t, const MaOutbound *msg)
{
  if (!msg->mail_from[0]) return NULL;
  const char *choice = t->return_path ? t->return_path : "bounce";
  if (strchr(choice, '@')) return g_strdup(choice);
  return g_strdup(msg->header_from ? msg->header_from : msg->mail_from);
}

/* Adds r to the open job of (msg, d) in jobs, or to a new one, which is returned (NULL when an
 * existing job took r). */
static Job *add_to_job(Engine *e, GHashTable *jobs, MaOutbound *msg, GBytes *body, Dest *d, MaOutboundRecipient *r)
{
  /* the return path: an enterprise relay's own choice (docs/bounces.md), else the message's; a VERP
   * return path and List-Unsubscribe name one recipient: one transaction (one copy) each */
  const char *choice = d->ent ? (d->ent->return_path ? d->ent->return_path : "bounce") : msg->return_path;
  gboolean verp = e->bounce_domain && g_strcmp0(choice, "bounce") == 0 && msg->mail_from[0];
  gboolean unsub = e->bounce_domain && msg->list_unsubscribe;
  g_autofree char *key = verp || unsub ? g_strdup_printf("%s\n%s\n%" G_GINT64_FORMAT, msg->id, d->key, r->id)
                              : g_strdup_printf("%s\n%s", msg->id, d->key);
  Job *j = g_hash_table_lookup(jobs, key), *created = NULL;
  if (!j || j->rcpts->len >= OUT_JOB_RCPTS) {
    j = created = g_new0(Job, 1);
    j->msg = delivery_job_msg_copy(msg);
    j->body = unsub ? list_unsubscribe_copy(e, msg, body, r) : g_bytes_ref(body);
    j->rcpts = g_ptr_array_new_with_free_func((GDestroyNotify) ma_outbound_recipient_free);
    j->dest = d;
    if (verp) j->mail_from = outbound_verp_address(e->token_key, e->bounce_domain, r->id);
    else if (d->ent) j->mail_from = relay_mail_from(e, d->ent, msg);
    g_hash_table_replace(jobs, g_steal_pointer(&key), j);
  }
  g_ptr_array_add(j->rcpts, r);
  return created;
}

static void scan(Engine *e)
{
  if (e->stopping) return;
  guint room = (guint) e->max_connections * 2;
  if (e->waiting_jobs >= room) return;
  gint64 now = ma_now();
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) due = g_ptr_array_new();
  if (storage_outbound_claim(e->st, now, now + OUT_LEASE, (int) (room - e->waiting_jobs) * 10, due, &error) < 0) {
    ma_error("outbound", "queue scan: %s", error->message);
    return;
  }
  GHashTable *jobs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GHashTable) relays = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify) ma_relay_free);
  GPtrArray *order = g_ptr_array_new();
  MaOutbound *msg = NULL;
  GBytes *body = NULL;
  for (guint i = 0; i < due->len; i++) {
    MaOutboundRecipient *r = g_ptr_array_index(due, i);
    if (!msg || strcmp(msg->id, r->outbound_id) != 0) {
      ma_outbound_free(msg);
      g_clear_pointer(&body, g_bytes_unref);
      msg = NULL;
      if (storage_outbound_get(e->st, NULL, r->outbound_id, &msg, &error) <= 0 ||
          storage_blob_get(e->st, msg->raw_sha256, &body, &error) <= 0) {
        ma_error("outbound", "%s: cannot load the message: %s", r->outbound_id, error ? error->message : "gone");
        g_clear_error(&error);
        ma_outbound_free(msg);
        msg = NULL;
        ma_outbound_recipient_free(r);
        continue;
      }
    }
    /* the route decided at queueing (agent/relay; a recipient's own route after it left an employee's
     * mailbox), or its fallback */
    const char *route = r->route_json ? r->route_json : msg->route_json;
    g_autofree char *mailbox = outbound_route_mailbox_id(route);
    RelayRecipientRoute rt;
    relay_route_of(route, r->address, &rt);
    if (!mailbox && strcmp(rt.channel, "employee_mailbox") == 0 && rt.mailbox_id[0]) mailbox = g_strdup(rt.mailbox_id);
    Dest *d = NULL;
    if (mailbox) {
      g_autofree char *mailbox_key = g_strconcat("mailbox:", mailbox, NULL);
      d = dest_get(e, mailbox_key);
    } else if (strcmp(rt.channel, "enterprise_relay") == 0) {
      g_autofree char *why = NULL;
      d = relay_dest(e, relays, msg->enterprise_id, rt.relay_id, now, &why);
      if (!d) {
        outcome_now(e, msg, r, why, rt.relay_id);
        continue;
      }
    } else {
      const char *at = strrchr(r->address, '@');
      g_autofree char *domain = g_ascii_strdown(at ? at + 1 : "", -1);
      d = dest_get(e, e->relay_host ? "relay" : domain);
    }
    Job *created = add_to_job(e, jobs, msg, body, d, r);
    if (created) g_ptr_array_add(order, created);
  }
  ma_outbound_free(msg);
  if (body) g_bytes_unref(body);
  g_hash_table_unref(jobs);
  for (guint i = 0; i < order->len; i++) {
    Job *j = g_ptr_array_index(order, i);
    j->addrs = g_new0(const char *, j->rcpts->len);
    for (guint k = 0; k < j->rcpts->len; k++) j->addrs[k] = ((MaOutboundRecipient *) g_ptr_array_index(j->rcpts, k))->address;
    route_job(e, j);
  }
  g_ptr_array_unref(order);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
  scan(arg);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
  char buf[64];
  while (read(fd, buf, sizeof buf) > 0) {
  }
  Engine *e = arg;
  if (e->stopping) {
    event_base_loopbreak(e->base);
    return;
  }
  scan(e);
}

static gpointer thread_main(gpointer arg)
{
  Engine *e = arg;
  event_base_dispatch(e->base);
  return NULL;
}

/* ---- life cycle ------------------------------------------------------------------------------- */

/* Drops a connection at shutdown: its job's recipients stay "sending" until their lease ends. */
static void conn_drop(gpointer data)
{
  Conn *c = data;
  smtp_client_conn_free(c->conn);
  delivery_job_free(c->job);
  g_free(c);
}


static void engine_free(Engine *e)
{
  if (!e) return;
  if (e->conns) g_hash_table_unref(e->conns);
  if (e->flush_ev) event_free(e->flush_ev);
  if (e->outcomes) g_ptr_array_unref(e->outcomes); /* not recorded: retried after their lease */
  if (e->relay_failures) g_ptr_array_unref(e->relay_failures);
  if (e->dests) g_hash_table_unref(e->dests);
  oauth2_async_free(e->tokens);
  if (e->mailbox_ssl) SSL_CTX_free(e->mailbox_ssl);
  if (e->coll_ok) collector_env_clear(&e->coll);
  ma_dns_free(e->dns);
  if (e->tick) event_free(e->tick);
  if (e->wake_ev) event_free(e->wake_ev);
  if (e->base) event_base_free(e->base);
  if (e->wake_pipe[0] > 0) close(e->wake_pipe[0]);
  if (e->wake_pipe[1] > 0) close(e->wake_pipe[1]);
  storage_close(&e->st);
  if (e->ssl) SSL_CTX_free(e->ssl);
  g_free(e->data_dir);
  g_free(e->helo);
  g_free(e->relay_host);
  g_free(e->tls_mode);
  g_free(e->auth_mech);
  g_free(e->username);
  if (e->password) memset(e->password, 0, strlen(e->password));
  g_free(e->password);
  g_free(e->bounce_domain);
  g_free(e->public_url);
  memset(e->token_key, 0, sizeof e->token_key);
  memset(e->master_key, 0, sizeof e->master_key);
  g_free(e);
}

int outbound_delivery_start(const MaConfig *cfg, GError **error)
{
  g_assert(engine == NULL);
  Engine *e = g_new0(Engine, 1);
  e->data_dir = g_strdup(cfg->data_dir);
  e->helo = g_strdup(cfg->hostname);
  e->tls_mode = g_strdup(cfg->relay_tls_mode);
  e->auth_mech = g_strdup(cfg->relay_auth_mechanism);
  e->username = g_strdup(cfg->relay_username);
  e->mx_port = cfg->relay_mx_port;
  e->max_age = cfg->queue_max_age;
  e->retry_initial = cfg->queue_retry_initial;
  e->retry_max = cfg->queue_retry_max;
  e->concurrency = cfg->queue_destination_concurrency;
  e->max_connections = cfg->queue_max_connections;
  e->connect_timeout = cfg->queue_connect_timeout;
  e->command_timeout = cfg->queue_command_timeout;
  e->wake_pipe[0] = e->wake_pipe[1] = -1;
  if (cfg->relay_bounce_domain && *cfg->relay_bounce_domain) {
    guint8 master[32];
    if (ma_master_key_load(cfg->master_key_file, FALSE, master, error) < 0) goto fail;
    bounce_token_key(master, e->token_key);
    memcpy(e->master_key, master, sizeof master);
    memset(master, 0, sizeof master);
    e->bounce_domain = g_strdup(cfg->relay_bounce_domain);
    e->public_url = g_strdup(cfg->api_public_url);
  }
  if (cfg->relay_default_host) {
    g_autofree char *host = NULL;
    int port = 25;
    if (strchr(cfg->relay_default_host, ':') && ma_config_split_listen(cfg->relay_default_host, &host, &port, NULL) == 0)
      e->relay_host = g_steal_pointer(&host);
    else
      e->relay_host = g_strdup(cfg->relay_default_host);
    e->relay_port = port;
  }
  if (cfg->relay_password_file) {
    gchar *text = NULL;
    if (!g_file_get_contents(cfg->relay_password_file, &text, NULL, error)) goto fail;
    char *nl = strpbrk(text, "\r\n");
    if (nl) *nl = '\0';
    e->password = text;
  }
  e->ssl = ma_tls_client_ctx_new(cfg->tls_ca_file, error);
  if (!e->ssl || storage_open(cfg->data_dir, FALSE, &e->st, error) < 0) goto fail;
  e->base = event_base_new();
  MaDnsOptions dopts;
  ma_dns_options_from_config(&dopts, cfg);
  if (!e->base || !(e->dns = ma_dns_new(e->base, &dopts, error))) goto fail;
  if (pipe(e->wake_pipe) < 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "outbound: pipe: %s", g_strerror(errno));
    goto fail;
  }
  evutil_make_socket_nonblocking(e->wake_pipe[0]);
  evutil_make_socket_nonblocking(e->wake_pipe[1]);
  e->dests = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify) dest_free);
  e->conns = g_hash_table_new_full(g_direct_hash, g_direct_equal, conn_drop, NULL);
  e->outcomes = g_ptr_array_new_with_free_func((GDestroyNotify) delivery_outcome_free);
  e->relay_failures = g_ptr_array_new_with_free_func((GDestroyNotify) delivery_relay_failure_free);
  e->flush_ev = event_new(e->base, -1, 0, delivery_on_flush, e);
  e->wake_ev = event_new(e->base, e->wake_pipe[0], EV_READ | EV_PERSIST, on_wake, e);
  e->tick = event_new(e->base, -1, EV_PERSIST, on_tick, e);
  /* the employee-mailbox channel: the collector's environment (master key, presets, trust) */
  e->cfg = cfg;
  {
    GError *coll_error = NULL;
    e->coll_ok = collector_env_init(&e->coll, cfg, &coll_error) == 0;
    if (!e->coll_ok) ma_info("outbound", "employee mailboxes cannot send: %s", coll_error->message);
    g_clear_error(&coll_error);
  }
  if (e->coll_ok && (!(e->mailbox_ssl = ma_tls_client_ctx_new(cfg->collector_ca_file, error)) ||
                     !(e->tokens = oauth2_async_new(e->base, &e->coll.oauth2, cfg->data_dir, error))))
    goto fail;
  e->token_provider = (SmtpTokenProvider){.ctx = e->tokens, .get = delivery_token_get, .cancel = oauth2_async_cancel};
  if (e->tokens) oauth2_async_set_revoked(e->tokens, delivery_grant_revoked, NULL);
  struct timeval tv = {.tv_sec = OUT_TICK_MS / 1000, .tv_usec = (OUT_TICK_MS % 1000) * 1000};
  event_add(e->wake_ev, NULL);
  event_add(e->tick, &tv);
  if (outbound_sent_copy_start(cfg, error) < 0) goto fail;
  engine = e;
  e->thread = g_thread_new("outbound", thread_main, e);
  ma_info("outbound", "delivery: %s%s%s, TLS %s, %d connection(s) per destination", e->relay_host ? "smart host " : "MX delivery",
          e->relay_host ? e->relay_host : "", "", e->tls_mode, e->concurrency);
  return 0;
fail:
  engine_free(e);
  return -1;
}

void outbound_delivery_notify(void)
{
  Engine *e = engine;
  if (e && write(e->wake_pipe[1], "w", 1) < 0 && errno != EAGAIN) {
    /* the pipe is full: a wake-up is pending already */
  }
}

void outbound_delivery_stop(void)
{
  Engine *e = engine;
  if (!e) return;
  outbound_sent_copy_stop();
  e->stopping = TRUE;
  outbound_delivery_notify();
  g_thread_join(e->thread);
  if (e->outcomes->len > 0 || e->relay_failures->len > 0) delivery_on_flush(-1, 0, e); /* outcomes of the last loop turn */
  /* connections still open are dropped with the loop; their recipients stay "sending" and are
   * claimed again after the lease */
  g_hash_table_remove_all(e->conns);
  engine = NULL;
  engine_free(e);
}
