/* codec_spool.c - the JSON of a spool entry, shared by `mailagent spool --json` and the admin API's
 * /v1/spool routes so both print the same fields: id, state ("queued", "retrying", "dead"),
 * enterprise_id, route, client, helo, mail_from, rcpts, employee_id, signal, mailbox, received_at,
 * size, attempts, next_attempt_at, last_error, dead_at. Never the message itself.
 */
#include "codec.h"

json_t *codec_spool_entry_to_json(const MaSpoolEntry *e)
{
  json_t *o = json_object();
  json_object_set_new_nocheck(o, "id", codec_string(e->id));
  json_object_set_new_nocheck(o, "state", json_string(ma_spool_entry_state(e)));
  json_object_set_new_nocheck(o, "enterprise_id", codec_string(e->enterprise_id));
  json_object_set_new_nocheck(o, "route", codec_string(e->route));
  json_object_set_new_nocheck(o, "client", codec_string(e->client));
  json_object_set_new_nocheck(o, "helo", codec_string(e->helo));
  json_object_set_new_nocheck(o, "mail_from", codec_string(e->mail_from));
  json_object_set_new_nocheck(o, "rcpts", codec_string_array(e->rcpts));
  json_object_set_new_nocheck(o, "employee_id", codec_string(e->employee_id));
  json_object_set_new_nocheck(o, "signal", codec_string(e->signal));
  json_object_set_new_nocheck(o, "mailbox", codec_string(e->mailbox));
  json_object_set_new_nocheck(o, "received_at", codec_time(e->received_at));
  json_object_set_new_nocheck(o, "size", json_integer(e->size));
  json_object_set_new_nocheck(o, "attempts", json_integer(e->attempts));
  /* 0 (due at once) and dead entries: null */
  json_object_set_new_nocheck(o, "next_attempt_at",
                              e->dead_at > 0 ? json_null() : codec_time((e->next_attempt_at + 999) / 1000));
  json_object_set_new_nocheck(o, "last_error", codec_string(e->last_error));
  json_object_set_new_nocheck(o, "dead_at", codec_time(e->dead_at));
  return o;
}
