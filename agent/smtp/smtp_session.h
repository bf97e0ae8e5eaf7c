/* smtp_session.h - one inbound SMTP conversation as an explicit state machine.
 *
 * The session knows no sockets: it reads commands and message octets from an input evbuffer and
 * writes replies to an output evbuffer that its owner (smtp_server.c, or a unit test) supplies.
 * Look-ups, the forwarder policy, the spool hand-over and the TLS upgrade go through hooks, so the
 * whole protocol runs in tests without a network or a database.
 *
 * Bounds: a command line is read only once its LF is within SMTP_MAX_TEXT_LINE octets (longer
 * lines are discarded as they arrive and answered 500 5.5.2); message content goes through the
 * smtp_data_decoder with the size, line and header limits straight into a spool body file (the
 * body_new hook), so a session holds a few small buffers whatever the message size; recipients
 * are capped (every accepted RCPT counts, a repeated address too, though it is delivered once);
 * every 5xx costs one unit of the error budget, and an empty budget ends the session with 421
 * 4.7.0, as does the junk_command_limit+1st NOOP/VRFY/RSET/HELP/ETRN without an accepted message
 * in between. The limits are smtp_limits.h's. No reply is ever written before the spool hand-over completes (durable
 * acknowledgement).
 *
 * Slow clients: during DATA/BDAT the transfer rate is measured over a sliding window of
 * rate_window_ms (since the start of the message while it is shorter), after rate_grace_ms; below
 * min_data_rate the session ends with 421 4.4.2. data_timeout_ms is extended only by progress of
 * SMTP_DATA_PROGRESS octets, never by a single octet.
 */
#ifndef MA_SMTP_SESSION_H
#define MA_SMTP_SESSION_H

#include "forwarder_policy.h"
#include "smtp_limits.h"
#include "storage/spool.h"

#include <event2/buffer.h>
#include <glib.h>

typedef enum {
  SMTP_STATE_GREETING,  /* connected, greeting not yet sent */
  SMTP_STATE_HELO,      /* greeting sent: EHLO/HELO needed */
  SMTP_STATE_IDLE,      /* EHLO/HELO done, no transaction */
  SMTP_STATE_MAIL,      /* MAIL accepted */
  SMTP_STATE_RCPT,      /* at least one RCPT accepted */
  SMTP_STATE_DATA,      /* reading DATA content */
  SMTP_STATE_BDAT,      /* reading the octets of a BDAT chunk into the message */
  SMTP_STATE_BDAT_WAIT, /* between the chunks of a message: BDAT, RSET, NOOP, EHLO/HELO or QUIT */
  SMTP_STATE_BDAT_SKIP, /* reading the octets of a refused BDAT chunk, to answer once they are read */
  SMTP_STATE_SPOOLING,  /* message handed to the spool writer, reply pending */
  SMTP_STATE_TLS,       /* TLS handshake running */
  SMTP_STATE_AUTH,      /* AUTH sent, waiting for the client's next response line (submission) */
  SMTP_STATE_CLOSING,   /* last reply written: close once it is flushed */
  SMTP_STATE__COUNT
} SmtpState;

const char *smtp_state_name(SmtpState st);

typedef enum { SMTP_CONTINUE, SMTP_CLOSE } SmtpAction;

typedef struct SmtpSession SmtpSession;

typedef struct {
  void *ctx;
  /* RCPT: 1 when local_part is a live virtual address (*enterprise_id_r newly allocated), 0 when
   * not, -1 with *error for a temporary failure. */
  int (*rcpt_lookup)(void *ctx, const char *local_part, char **enterprise_id_r, GError **error);
  /* Forwarder policy for the enterprise; msg NULL at RCPT (envelope only). See forwarder_policy.h.
   * An unsatisfied decision marked final at RCPT refuses that recipient (550 5.7.1), before DATA. */
  int (*policy)(void *ctx, const char *enterprise_id, const char *client_ip, const char *mail_from,
                const guint8 *msg, gsize len, FwdDecision *out, GError **error);
  /* MAIL: FALSE when free disk space is below the reserve (452 4.3.1). */
  gboolean (*disk_ok)(void *ctx);
  /* A finished, accepted message (its body in e->body; received_at is the callee's to set, the
   * session reads no clock): ownership of e moves to the callee, who later calls
   * smtp_session_spooled exactly once (unless the session is freed first). */
  void (*submit)(void *ctx, SmtpSession *s, MaSpoolEntry *e);
  /* "220 Ready to start TLS" is in the output: start the handshake on the connection, then call
   * smtp_session_tls_done. */
  void (*starttls)(void *ctx, SmtpSession *s);
  /* DATA/BDAT begins: a new spool body for the message, under a new spool id the hook picks
   * (spool_body_new_buffered: a file only once it outgrows its buffer; the id is spool_body_id). The session owns *out and frees it, unlinking the
   * file, unless it submits the message. 0, or -1 with *error (the message is answered 451 4.3.0). */
  int (*body_new)(void *ctx, MaSpoolBody **out, GError **error);
  /* Submission: checks a user name and password; 1 valid (*enterprise_id_r newly allocated), 0
   * not, -1 with *error for a temporary failure. */
  int (*auth)(void *ctx, const char *user, const char *password, char **enterprise_id_r, GError **error);
  /* RCPT to an address on bounce_domain: 1 when local_part is one of our return-path or unsubscribe
   * tokens (agent/bounce/bounce_verp.h), 0 when it is not (forged). Pure: no look-up. Such a
   * transaction holds only those addresses, skips the forwarder policy and is spooled with route
   * "bounce" and no enterprise (the worker finds it from the token). */
  int (*bounce_lookup)(void *ctx, const char *local_part);
} SmtpSessionHooks;

/* A new session for a client (client_ip copied). lim (with its strings) and hooks are copied.
 * Free with smtp_session_free. */
SmtpSession *smtp_session_new(const SmtpLimits *lim, const SmtpSessionHooks *hooks, const char *client_ip,
                              gint64 now_ms);
void smtp_session_free(SmtpSession *s);

/* The buffers to read from and write to (borrowed; replaced after STARTTLS). */
void smtp_session_set_buffers(SmtpSession *s, struct evbuffer *in, struct evbuffer *out);

/* Writes the greeting; when input arrived before it (early_input, or octets already in the input
 * buffer), writes "554 5.5.0 protocol synchronization" instead and returns SMTP_CLOSE. */
SmtpAction smtp_session_greet(SmtpSession *s, gboolean early_input, gint64 now_ms);

/* Consumes what it can from the input (stops while spooling, during TLS, or when the output holds
 * more than 64 KiB of unread replies). SMTP_CLOSE: flush the output, then close. */
SmtpAction smtp_session_process(SmtpSession *s, gint64 now_ms);

/* The TLS handshake ended. ok: the session restarts in SMTP_STATE_HELO (EHLO required again);
 * not ok: the caller closes the connection. */
void smtp_session_tls_done(SmtpSession *s, gboolean ok, gint64 now_ms);

/* What became of a submitted message: stored (250), or not, because the disk is full (452 4.3.1:
 * the client should wait rather than retry at once) or for another reason (451 4.3.0). */
typedef enum {
  SMTP_SPOOL_FAILED,
  SMTP_SPOOL_STORED,
  SMTP_SPOOL_NO_SPACE,
} SmtpSpoolResult;

/* The spool writer's verdict for the submitted message. Call smtp_session_process afterwards for
 * pipelined commands. */
void smtp_session_spooled(SmtpSession *s, SmtpSpoolResult result, const char *spool_id, gint64 now_ms);

/* Submission: the verdict on the submitted message as a complete reply ("250 2.0.0 Ok: queued as
 * ID", "550 5.7.1 ...", "451 4.3.0 ..."). Call smtp_session_process afterwards. */
void smtp_session_finished(SmtpSession *s, const char *reply_text, gint64 now_ms);

/* Times are monotonic milliseconds (g_get_monotonic_time() / 1000) everywhere in this API: the
 * session reads no clock of its own.
 * Timeouts and the minimum data rate. SMTP_CLOSE after writing 421 when one is exceeded. */
SmtpAction smtp_session_timer(SmtpSession *s, gint64 now_ms);
/* When smtp_session_timer should run next (absolute ms). */
gint64 smtp_session_next_wakeup(const SmtpSession *s, gint64 now_ms);

/* The server is stopping: an idle session gets 421 4.3.2 and SMTP_CLOSE; one in a transaction may
 * finish it, and its next MAIL gets 421. */
SmtpAction smtp_session_shutdown(SmtpSession *s, gint64 now_ms);

SmtpState smtp_session_state(const SmtpSession *s);
const char *smtp_session_client(const SmtpSession *s);
gboolean smtp_session_is_tls(const SmtpSession *s);

#endif
