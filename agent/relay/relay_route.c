/* relay_route.c - the routing decision, exactly as docs/routing.md numbers it:
 *   1. an employee named with a channel (or auto); a channel the enterprise does not allow its
 *      employees is refused;
 *   2. auto, with the employee's mailbox channel allowed and a mailbox bound: the employee mailbox;
 *   3. otherwise the enterprise relays: filters in ascending priority (ties by creation), matching
 *      the From domain exactly and the recipient's domain by pattern, the message's email type, the
 *      relay enabled, signed in (XOAUTH2: a valid grant), tested (a new or changed relay is untested
 *      until `relay test` passes), not suspended and under its daily limit; recipients that match
 *      different filters form
 *      separate groups;
 *   4. no relay: the default path (mailagent's own delivery) when the From domain is in the
 *      verified domain scope, else refused with the reason.
 * Pure: inputs are values (relay_plan.c reads them), output is a list of recipient groups. The
 * daily limit is applied per recipient, so a message that crosses it is split: the recipients up
 * to the limit through the relay, the rest by the next rule.
 */
#include "relay.h"

#include <string.h>

void relay_route_group_free(RelayRouteGroup *g)
{
  if (!g) return;
  g_free(g->channel);
  g_free(g->relay_id);
  g_free(g->relay_name);
  g_free(g->mailbox_id);
  g_free(g->filter_sender);
  g_free(g->filter_patterns);
  g_free(g->reason);
  if (g->rcpts) g_ptr_array_unref(g->rcpts);
  g_free(g);
}

static gboolean word_in(const char *list, const char *word)
{
  if (!list || !word) return FALSE;
  g_auto(GStrv) words = g_strsplit(list, " ", -1);
  for (char **w = words; *w; w++)
    if (strcmp(*w, word) == 0) return TRUE;
  return FALSE;
}

/* A (relay, filter) pair in evaluation order. */
typedef struct {
  RelayCandidate *cand;
  const MaRelayFilter *filter;
  gint64 left;           /* recipients left today (G_MAXINT64: no limit) */
} FilterSlot;

static gint slot_cmp(gconstpointer a, gconstpointer b)
{
  const FilterSlot *x = a, *y = b;
  if (x->filter->priority != y->filter->priority) return x->filter->priority < y->filter->priority ? -1 : 1;
  return x->filter->seq < y->filter->seq ? -1 : x->filter->seq > y->filter->seq;
}

/* Adds rcpt to the group with the same destination and reason, or a new one. */
static RelayRouteGroup *group_for(GPtrArray *out, guint first, const char *channel, const char *relay_id,
                                  const MaRelayFilter *f, const char *mailbox_id, const char *reason)
{
  for (guint i = first; i < out->len; i++) {
    RelayRouteGroup *g = g_ptr_array_index(out, i);
    if (g_strcmp0(g->channel, channel) == 0 && g_strcmp0(g->relay_id, relay_id) == 0 &&
        g_strcmp0(g->mailbox_id, mailbox_id) == 0 && g_strcmp0(g->reason, reason) == 0 &&
        (!f || (g->filter_priority == f->priority && g_strcmp0(g->filter_sender, f->sender_domain) == 0 &&
                g_strcmp0(g->filter_patterns, f->recipient_patterns) == 0)))
      return g;
  }
  RelayRouteGroup *g = g_new0(RelayRouteGroup, 1);
  g->channel = g_strdup(channel);
  g->relay_id = g_strdup(relay_id);
  g->mailbox_id = g_strdup(mailbox_id);
  g->reason = g_strdup(reason);
  if (f) {
    g->filter_priority = f->priority;
    g->filter_sender = g_strdup(f->sender_domain);
    g->filter_patterns = g_strdup(f->recipient_patterns);
  }
  g->rcpts = g_ptr_array_new_with_free_func(g_free);
  g_ptr_array_add(out, g);
  return g;
}

static void add_rcpt(RelayRouteGroup *g, const char *rcpt)
{
  g_ptr_array_add(g->rcpts, g_strdup(rcpt));
}

static void note(GPtrArray *skipped, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void note(GPtrArray *skipped, const char *fmt, ...)
{
  if (!skipped) return;
  va_list ap;
  va_start(ap, fmt);
  char *line = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  for (guint i = 0; i < skipped->len; i++)
    if (strcmp(g_ptr_array_index(skipped, i), line) == 0) {
      g_free(line);
      return;
    }
  g_ptr_array_add(skipped, line);
}

/* Rule 4 for one recipient: the default path, or refused. why: what rule 3 found. */
static void default_path(const RelayRouteInput *in, GPtrArray *out, guint first, const char *rcpt, const char *why)
{
  gboolean employee_may = !in->employee || word_in(in->employee_channels, "mailagent_relay");
  if (in->default_path_ok && employee_may) {
    g_autofree char *reason = g_strdup_printf("%s: mailagent's own delivery (%s is in the verified domain scope)",
                                              why, in->from_domain);
    add_rcpt(group_for(out, first, "mailagent_relay", NULL, NULL, NULL, reason), rcpt);
    return;
  }
  g_autofree char *reason =
    !employee_may ? g_strdup_printf("%s, and the enterprise does not allow its employees mailagent's own delivery", why)
                  : g_strdup_printf("%s, and mailagent's own delivery is not open to %s: %s", why, in->from_domain,
                                    in->default_path_reason ? in->default_path_reason : "not in the verified domain scope");
  add_rcpt(group_for(out, first, NULL, NULL, NULL, NULL, reason), rcpt);
}

void relay_route_decide(const RelayRouteInput *in, GPtrArray *out, GPtrArray *skipped)
{
  const guint first = out->len;
  const char *channel = in->channel ? in->channel : "auto";
  /* 1. an employee's channel must be one the enterprise allows its employees */
  if (in->employee && strcmp(channel, "auto") != 0 && !word_in(in->employee_channels, channel)) {
    g_autofree char *reason =
      g_strdup_printf("rule 1: the enterprise does not allow its employees the %s channel (allowed: %s)", channel,
                      in->employee_channels && *in->employee_channels ? in->employee_channels : "none");
    for (guint i = 0; i < in->n_rcpts; i++) add_rcpt(group_for(out, first, NULL, NULL, NULL, NULL, reason), in->rcpts[i]);
    return;
  }
  /* 2. the employee's own mailbox */
  gboolean want_mailbox = strcmp(channel, "employee_mailbox") == 0 ||
                          (strcmp(channel, "auto") == 0 && in->employee && word_in(in->employee_channels, "employee_mailbox"));
  if (want_mailbox && in->employee && in->employee_mailbox_id) {
    for (guint i = 0; i < in->n_rcpts; i++)
      add_rcpt(group_for(out, first, "employee_mailbox", NULL, NULL, in->employee_mailbox_id,
                         "rule 2: the employee's default sending mailbox"),
               in->rcpts[i]);
    return;
  }
  if (strcmp(channel, "employee_mailbox") == 0) {
    const char *why = in->employee ? "rule 2: channel employee_mailbox, but the employee has no bound mailbox"
                                   : "rule 2: channel employee_mailbox needs an employee";
    for (guint i = 0; i < in->n_rcpts; i++) add_rcpt(group_for(out, first, NULL, NULL, NULL, NULL, why), in->rcpts[i]);
    return;
  }
  if (strcmp(channel, "mailagent_relay") == 0) {
    for (guint i = 0; i < in->n_rcpts; i++)
      default_path(in, out, first, in->rcpts[i], "rule 4: channel mailagent_relay asked for");
    return;
  }
  /* 3. the enterprise relays, filter by filter */
  gboolean relays_allowed = !in->employee || word_in(in->employee_channels, "enterprise_relay");
  g_autoptr(GArray) slots = g_array_new(FALSE, FALSE, sizeof(FilterSlot));
  for (guint i = 0; relays_allowed && in->relays && i < in->relays->len; i++) {
    RelayCandidate *c = g_ptr_array_index(in->relays, i);
    if (c->relay->filters->len == 0) note(skipped, "relay %s: no filter, so it carries nothing", c->relay->name);
    gint64 left = c->relay->daily_limit > 0 ? MAX(0, c->relay->daily_limit - c->used_today) : G_MAXINT64;
    for (guint k = 0; k < c->relay->filters->len; k++) {
      FilterSlot s = {.cand = c, .filter = g_ptr_array_index(c->relay->filters, k), .left = left};
      g_array_append_val(slots, s);
    }
  }
  g_array_sort(slots, slot_cmp);
  /* the left counts are per relay: every slot of a relay shares its first slot's count */
  for (guint i = 0; i < in->n_rcpts; i++) {
    const char *rcpt = in->rcpts[i];
    const char *at = strrchr(rcpt, '@');
    const char *rdomain = at ? at + 1 : "";
    FilterSlot *won = NULL;
    g_autofree char *why = NULL;
    for (guint k = 0; k < slots->len && !won; k++) {
      FilterSlot *s = &g_array_index(slots, FilterSlot, k);
      const MaRelay *r = s->cand->relay;
      if (!relay_filter_match(s->filter, in->from_domain, rdomain)) continue;
      const char *skip = NULL;
      gint64 left = G_MAXINT64;
      for (guint m = 0; m < slots->len; m++) {
        FilterSlot *o = &g_array_index(slots, FilterSlot, m);
        if (o->cand == s->cand) {
          left = o->left;
          break;
        }
      }
      if (!r->enabled) skip = "disabled";
      else if (s->cand->suspended) skip = "suspended";
      else if (relay_needs_sign_in(r)) skip = "needs OAuth2 sign-in: run relay authorize";
      else if (g_strcmp0(r->status, "untested") == 0) skip = "untested: run relay test";
      else if (!word_in(r->email_types, in->type)) skip = "does not carry this email type";
      else if (left <= 0) skip = "reached its daily limit";
      if (skip) {
        note(skipped, "relay %s filter %d (%s%s%s) matched but the relay %s", r->name, s->filter->priority,
             s->filter->sender_domain, s->filter->recipient_patterns ? " -> " : "",
             s->filter->recipient_patterns ? s->filter->recipient_patterns : "", skip);
        if (!why) why = g_strdup_printf("relay %s %s", r->name, skip);
        continue;
      }
      won = s;
    }
    if (!won && strcmp(channel, "enterprise_relay") == 0) {
      g_autofree char *reason = g_strdup_printf("rule 3: channel enterprise_relay asked for, but %s",
                                                why ? why : "no relay filter matches");
      add_rcpt(group_for(out, first, NULL, NULL, NULL, NULL, reason), rcpt);
      continue;
    }
    if (!won) {
      default_path(in, out, first, rcpt,
                   why ? why
                       : !relays_allowed ? "rule 3: the enterprise does not allow its employees its relays"
                                         : "rule 3: no relay filter matches");
      continue;
    }
    for (guint m = 0; m < slots->len; m++) {
      FilterSlot *o = &g_array_index(slots, FilterSlot, m);
      if (o->cand == won->cand && o->left != G_MAXINT64) o->left--;
    }
    g_autofree char *reason = g_strdup_printf("rule 3: relay %s, filter priority %d", won->cand->relay->name,
                                              won->filter->priority);
    RelayRouteGroup *g = group_for(out, first, "enterprise_relay", won->cand->relay->id, won->filter, NULL, reason);
    if (!g->relay_name) g->relay_name = g_strdup(won->cand->relay->name);
    add_rcpt(g, rcpt);
  }
}
