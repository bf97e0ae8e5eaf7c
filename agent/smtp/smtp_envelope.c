/* smtp_envelope.c - one SMTP transaction's envelope (see smtp_envelope.h). */
#include "smtp_envelope.h"

#include <string.h>

void smtp_envelope_init(SmtpEnvelope *env)
{
  memset(env, 0, sizeof *env);
  env->rcpts = g_ptr_array_new_with_free_func(g_free);
}

void smtp_envelope_reset(SmtpEnvelope *env)
{
  memset(&env->mail, 0, sizeof env->mail);
  if (env->rcpts) g_ptr_array_set_size(env->rcpts, 0);
  env->rcpt_accepted = 0;
  g_clear_pointer(&env->enterprise_id, g_free);
  env->bounce = FALSE;
  forwarder_decision_clear(&env->decision);
}

void smtp_envelope_clear(SmtpEnvelope *env)
{
  smtp_envelope_reset(env);
  g_clear_pointer(&env->rcpts, g_ptr_array_unref);
}

gboolean smtp_envelope_has_rcpt(const SmtpEnvelope *env, const char *addr, gboolean caseless)
{
  for (guint i = 0; i < env->rcpts->len; i++) {
    const char *have = g_ptr_array_index(env->rcpts, i);
    if (caseless ? g_ascii_strcasecmp(have, addr) == 0 : strcmp(have, addr) == 0) return TRUE;
  }
  return FALSE;
}

void smtp_envelope_add_rcpt(SmtpEnvelope *env, char *addr)
{
  if (addr) g_ptr_array_add(env->rcpts, addr);
  env->rcpt_accepted++;
}

void smtp_envelope_set_decision(SmtpEnvelope *env, FwdDecision *d)
{
  forwarder_decision_clear(&env->decision);
  env->decision = *d;
  memset(d, 0, sizeof *d);
}

void smtp_envelope_describe(const SmtpEnvelope *env, const char *client, GString *g)
{
  g_string_append_printf(g, "client=%s from=<%s> rcpts=", client, env->mail.address);
  for (guint i = 0; i < env->rcpts->len; i++)
    g_string_append_printf(g, "%s%s", i ? "," : "", (const char *) g_ptr_array_index(env->rcpts, i));
}

MaSpoolEntry *smtp_envelope_spool_entry(const SmtpEnvelope *env, const char *route, const char *client,
                                        const char *helo, MaSpoolBody *body)
{
  MaSpoolEntry *e = ma_spool_entry_new();
  e->id = g_strdup(spool_body_id(body));
  e->enterprise_id = g_strdup(env->enterprise_id);
  e->route = g_strdup(route);
  e->client = g_strdup(client);
  e->helo = g_strdup(helo);
  e->mail_from = g_strdup(env->mail.address);
  for (guint i = 0; i < env->rcpts->len; i++) g_ptr_array_add(e->rcpts, g_strdup(g_ptr_array_index(env->rcpts, i)));
  e->employee_id = g_strdup(env->decision.employee_id);
  e->signal = g_strdup(env->decision.signal);
  e->body = body;
  return e;
}
