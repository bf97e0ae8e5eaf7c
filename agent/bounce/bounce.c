/* bounce.c - finds the failed recipients of a bounce and what the server said about each.
 *
 * GMime parses the message; one bounded walk collects the machine-readable parts
 * (message/delivery-status, message/feedback-report), the human-readable text before the returned
 * message, and the returned message's header block (message/rfc822 or text/rfc822-headers). A
 * DSN gives one recipient per field group (RFC 3464 2.3), with its Remote-MTA and Diagnostic-Code
 * type; a complaint gives Original-Rcpt-To (RFC 5965 3.5); without either, the recipients are the
 * addresses of the error text (X-Failed-Recipients first, as Exim sets it), each with its paragraph
 * as diagnostic (or, in a Sendmail transcript, the reply quoted for it): this is the layout of
 * Postfix, qmail, Exim and Sendmail bounces and of most providers' own. A bounce forwarded in a
 * message's text or attached to it is read from its own headers (one level deep). An auto-reply
 * (RFC 3834 Auto-Submitted: auto-replied, or the de-facto X-Autoreply headers) is reported as such.
 * The reason of each recipient is bounce_reason.c's, given what the reporting MTA's format
 * (bounce_lhost.c) and the remote host's codes (bounce_rhost.c) say. Every copy is bounded: the
 * text to BOUNCE_TEXT_MAX, diagnostics to BOUNCE_DIAGNOSTIC_MAX, recipients to
 * BOUNCE_RECIPIENTS_MAX, MIME parts to PARTS_MAX at depth DEPTH_MAX.
 */
#include "bounce.h"
#include "bounce_private.h"

#include <gmime/gmime.h>
#include <string.h>

#include "agent/mime/mime.h"

#define BOUNCE_TEXT_MAX (256u * 1024)
#define ORIGINAL_HEADERS_MAX (32u * 1024)
#define PARTS_MAX 64u
#define DEPTH_MAX 8u
#define SECTION_MAX (8u * 1024) /* of the error text, read when a paragraph names no reason */

typedef struct {
  GString *text;      /* human-readable text before the returned message */
  GString *status;    /* message/delivery-status bodies */
  GString *feedback;  /* message/feedback-report bodies */
  GString *original;  /* returned message header block */
  char *attached;     /* the first attached message whole (bounded), for a bounce sent on as one */
  guint parts;
} Walk;

static void append_bounded(GString *dst, const char *data, gsize len, gsize max)
{
  if (dst->len >= max) return;
  gsize room = max - dst->len;
  g_string_append_len(dst, data, MIN(len, room));
}

/* The decoded bytes of a leaf part, converted to UTF-8 when it names a charset. Caller frees. */
static GString *part_text(GMimePart *part)
{
  GString *out = g_string_new(NULL);
  GMimeDataWrapper *dw = g_mime_part_get_content(part);
  if (!dw) return out;
  GMimeStream *mem = g_mime_stream_mem_new();
  GMimeStream *filtered = g_mime_stream_filter_new(mem);
  GMimeFilter *unix_ends = g_mime_filter_dos2unix_new(FALSE); /* paragraphs end at "\n\n" */
  g_mime_stream_filter_add(GMIME_STREAM_FILTER(filtered), unix_ends);
  g_object_unref(unix_ends);
  const char *charset = g_mime_object_get_content_type_parameter(GMIME_OBJECT(part), "charset");
  if (charset && g_ascii_strcasecmp(charset, "utf-8") != 0 && g_ascii_strcasecmp(charset, "us-ascii") != 0) {
    GMimeFilter *f = g_mime_filter_charset_new(charset, "UTF-8");
    if (f) {
      g_mime_stream_filter_add(GMIME_STREAM_FILTER(filtered), f);
      g_object_unref(f);
    }
  }
  g_mime_data_wrapper_write_to_stream(dw, filtered);
  g_mime_stream_flush(filtered);
  GByteArray *arr = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
  g_string_append_len(out, (const char *) arr->data, MIN(arr->len, BOUNCE_TEXT_MAX));
  g_object_unref(filtered);
  g_object_unref(mem);
  return out;
}

static void original_from_message(Walk *w, GMimeMessage *msg)
{
  if (!msg || w->original->len) return;
  if (!w->attached) {
    char *whole = g_mime_object_to_string(GMIME_OBJECT(msg), NULL);
    if (whole && strlen(whole) <= BOUNCE_TEXT_MAX) w->attached = whole;
    else g_free(whole);
  }
  g_autofree char *h = g_mime_object_get_headers(GMIME_OBJECT(msg), NULL);
  if (h) append_bounded(w->original, h, strlen(h), ORIGINAL_HEADERS_MAX);
}

static void walk(Walk *w, GMimeObject *obj, guint depth)
{
  if (!obj || depth > DEPTH_MAX || ++w->parts > PARTS_MAX) return;
  GMimeContentType *ct = g_mime_object_get_content_type(obj);
  const char *type = ct ? g_mime_content_type_get_media_type(ct) : "text";
  const char *sub = ct ? g_mime_content_type_get_media_subtype(ct) : "plain";
  if (!type) type = "text";
  if (!sub) sub = "plain";
  if (GMIME_IS_MULTIPART(obj)) {
    GMimeMultipart *mp = GMIME_MULTIPART(obj);
    int n = g_mime_multipart_get_count(mp);
    if (n == 0 && g_mime_multipart_get_prologue(mp)) {
      /* No boundary line at all (a broken or hand-made report): the body is the text. */
      const char *prologue = g_mime_multipart_get_prologue(mp);
      append_bounded(w->text, prologue, strlen(prologue), BOUNCE_TEXT_MAX);
    }
    for (int i = 0; i < n; i++) walk(w, g_mime_multipart_get_part(mp, i), depth + 1);
    return;
  }
  if (GMIME_IS_MESSAGE_PART(obj)) {
    /* message/rfc822 or message/global: the returned message; do not descend. */
    original_from_message(w, g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj)));
    return;
  }
  if (!GMIME_IS_PART(obj)) return;
  g_autoptr(GString) body = NULL;
  body = part_text(GMIME_PART(obj));
  gboolean is_message = g_ascii_strcasecmp(type, "message") == 0;
  if (is_message && (g_ascii_strcasecmp(sub, "delivery-status") == 0 ||
                     g_ascii_strcasecmp(sub, "global-delivery-status") == 0)) {
    append_bounded(w->status, body->str, body->len, BOUNCE_TEXT_MAX);
    g_string_append(w->status, "\n\n");
  } else if (is_message && g_ascii_strcasecmp(sub, "feedback-report") == 0) {
    append_bounded(w->feedback, body->str, body->len, BOUNCE_TEXT_MAX);
  } else if ((is_message || g_ascii_strcasecmp(type, "text") == 0) &&
             (g_ascii_strcasecmp(sub, "rfc822-headers") == 0 || g_ascii_strcasecmp(sub, "rfc822") == 0 ||
              g_ascii_strcasecmp(sub, "global-headers") == 0)) {
    if (!w->original->len) append_bounded(w->original, body->str, body->len, ORIGINAL_HEADERS_MAX);
  } else if (g_ascii_strcasecmp(type, "text") == 0) {
    if (g_ascii_strcasecmp(sub, "html") == 0) {
      if (w->text->len) return; /* the text/plain alternative was taken */
      g_autofree char *plain = mime_html_to_text(body->str, body->len);
      if (plain) append_bounded(w->text, plain, strlen(plain), BOUNCE_TEXT_MAX);
    } else {
      append_bounded(w->text, body->str, body->len, BOUNCE_TEXT_MAX);
    }
    g_string_append_c(w->text, '\n');
  }
}

static void recipient_free(BounceRecipient *r)
{
  g_free(r->recipient);
  g_free(r->original_recipient);
  g_free(r->action);
  g_free(r->status);
  g_free(r->diagnostic);
  g_free(r->command);
  g_free(r);
}

void bounce_report_free(BounceReport *report)
{
  if (!report) return;
  g_ptr_array_unref(report->recipients);
  g_free(report->original_message_id);
  g_free(report->original_headers);
  g_free(report);
}

static BounceRecipient *find_recipient(BounceReport *rep, const char *addr)
{
  for (guint i = 0; i < rep->recipients->len; i++) {
    BounceRecipient *r = g_ptr_array_index(rep->recipients, i);
    if (strcmp(r->recipient, addr) == 0) return r;
  }
  return NULL;
}

/* Adds a recipient (taking addr) unless present or over the bound; returns it or NULL. */
static BounceRecipient *add_recipient(BounceReport *rep, char *addr)
{
  if (!addr || !*addr || find_recipient(rep, addr) || rep->recipients->len >= BOUNCE_RECIPIENTS_MAX) {
    g_free(addr);
    return NULL;
  }
  BounceRecipient *r = g_new0(BounceRecipient, 1);
  r->recipient = addr;
  r->action = g_strdup("");
  r->status = g_strdup("");
  r->diagnostic = g_strdup("");
  r->command = g_strdup("");
  g_ptr_array_add(rep->recipients, r);
  return r;
}

/* ---- the three readings ---------------------------------------------------------------------- */

/* Per recipient, what the DSN says besides the public fields: the Remote-MTA that answered and the
 * type of the Diagnostic-Code ("smtp", "X-Unix"), both read by the reason rules. */
typedef struct {
  GHashTable *remote_mta;      /* recipient -> host name, owned strings */
  GHashTable *diagnostic_type; /* recipient -> type, owned strings */
  GHashTable *category;        /* recipient -> X-PowerMTA-BounceCategory, owned strings */
  char *reporting_mta;         /* Reporting-MTA host: the remote host when no Remote-MTA is named */
} DsnExtras;

/* "dns; mx.example.org. (192.0.2.1 ...)" -> "mx.example.org", lower-case, or NULL. Caller frees. */
static char *remote_mta_host(const char *value)
{
  if (!value) return NULL;
  const char *semi = strchr(value, ';');
  const char *v = semi ? semi + 1 : value;
  while (*v == ' ' || *v == '\t') v++;
  gsize n = strcspn(v, " \t(;[");
  while (n && v[n - 1] == '.') n--;
  return n ? g_ascii_strdown(v, (gssize) n) : NULL;
}

static void read_dsn(BounceReport *rep, const char *status_text, DsnExtras *extras)
{
  g_autoptr(GPtrArray) groups = bounce_field_groups(status_text);
  for (guint i = 0; i < groups->len; i++) {
    GPtrArray *g = g_ptr_array_index(groups, i);
    if (!extras->reporting_mta) extras->reporting_mta = remote_mta_host(bounce_group_get(g, "Reporting-MTA"));
    char *addr = bounce_typed_address(bounce_group_get(g, "Final-Recipient"));
    if (!addr) addr = bounce_typed_address(bounce_group_get(g, "Original-Recipient"));
    if (!addr) continue;
    BounceRecipient *r = add_recipient(rep, addr);
    if (!r) continue;
    r->original_recipient = bounce_typed_address(bounce_group_get(g, "Original-Recipient"));
    const char *action = bounce_group_get(g, "Action");
    if (action) {
      g_free(r->action);
      r->action = g_ascii_strdown(action, -1);
      g_strstrip(r->action);
    }
    const char *diag = bounce_group_get(g, "Diagnostic-Code");
    char *mta = remote_mta_host(bounce_group_get(g, "Remote-MTA"));
    const char *category = bounce_group_get(g, "X-PowerMTA-BounceCategory");
    if (category) g_hash_table_replace(extras->category, g_strdup(r->recipient), g_strdup(category));
    if (mta) g_hash_table_replace(extras->remote_mta, g_strdup(r->recipient), mta);
    if (diag) {
      const char *semi = strchr(diag, ';');
      if (semi)
        g_hash_table_replace(extras->diagnostic_type, g_strdup(r->recipient),
                             g_strstrip(g_strndup(diag, (gsize) (semi - diag))));
      g_free(r->diagnostic);
      r->diagnostic = bounce_squeeze(semi ? semi + 1 : diag, strlen(semi ? semi + 1 : diag));
    }
    const char *status = bounce_group_get(g, "Status");
    g_free(r->status);
    r->status = bounce_find_status(status ? status : "");
    if (!*r->status) {
      g_free(r->status);
      r->status = bounce_find_status(r->diagnostic);
    }
  }
}

/* The remote server's own code in the diagnostic is the original; a Status field or a code found
 * elsewhere is the reporting MTA's summary (often the catch-all X.0.0). As Sisimai::Data does, a
 * code of the diagnostic replaces it when subject and detail are both specific (X.[1-9].[1-9]). */
static void prefer_diagnostic_status(BounceRecipient *r)
{
  g_autofree char *said = bounce_find_status(r->diagnostic);
  if (strlen(said) == 5 && (said[0] == '4' || said[0] == '5') && said[2] != '0' && said[4] != '0') {
    g_free(r->status);
    r->status = g_steal_pointer(&said);
  }
}

static gboolean is_service_address(const char *addr)
{
  return g_str_has_prefix(addr, "mailer-daemon@") || g_str_has_prefix(addr, "postmaster@") ||
         g_str_has_prefix(addr, "double-bounce@") || g_str_has_prefix(addr, "root@") ||
         g_str_has_prefix(addr, "no-reply@") || g_str_has_prefix(addr, "noreply@");
}

/* Does the line at p start (after blanks, '<' or quotes) with another of rep's recipients? */
static gboolean line_names_other(const BounceReport *rep, const char *p, const char *self)
{
  while (*p == ' ' || *p == '\t' || *p == '<' || *p == '"' || *p == '\'') p++;
  for (guint i = 0; i < rep->recipients->len; i++) {
    const BounceRecipient *r = g_ptr_array_index(rep->recipients, i);
    gsize n = strlen(r->recipient);
    if (strcmp(r->recipient, self) != 0 && g_ascii_strncasecmp(p, r->recipient, n) == 0) return TRUE;
  }
  return FALSE;
}

/* The diagnostic of recipient self whose address is at `at`: from there to the end of the
 * paragraph (a bare address line, as qmail, Exim and Sendmail print it, takes the paragraph that
 * follows), stopping early at a line that names another recipient. */
static char *paragraph_at(const BounceReport *rep, const char *text, const char *at, const char *self)
{
  const char *end = strchr(at, '\n');
  if (!end) return bounce_squeeze(at, strlen(at));
  /* A line that says something besides the address ("Unknown user: a@b", "a@b: host said: 550")
   * is the start of the diagnostic; after a bare address line the next paragraph is. */
  const char *line = at;
  while (line > text && line[-1] != '\n') line--;
  gsize words = 0;
  for (const char *c = line; c < end; c++)
    if (g_ascii_isalnum(*c) && (c < at || c >= at + strlen(self))) words++;
  if (words >= 4) {
    const char *next = end + 1;
    while (*next && *next != '\n' && (gsize) (next - line) < BOUNCE_DIAGNOSTIC_MAX * 2) {
      if (line_names_other(rep, next, self)) break;
      const char *eol = strchr(next, '\n');
      if (!eol) {
        next += strlen(next);
        break;
      }
      next = eol + 1;
    }
    return bounce_squeeze(line, (gsize) (next - line));
  }
  const char *next = end;
  while (*next == '\n' || *next == ' ' || *next == '\t') next++;
  const char *limit = next;
  gsize budget = BOUNCE_DIAGNOSTIC_MAX * 2;
  gboolean heading_only = TRUE; /* ends in "Technical details:", "Reason:": the text is one paragraph on */
  for (int paragraphs = 0; paragraphs < 2 && heading_only; paragraphs++) {
    const char *from = limit;
    while (*limit && (gsize) (limit - next) < budget) {
      const char *eol = strchr(limit, '\n');
      if (!eol) eol = limit + strlen(limit);
      if (line_names_other(rep, limit, self)) return bounce_squeeze(at, (gsize) (limit - at));
      limit = eol;
      if (!*limit || limit[1] == '\n') break; /* blank line: end of the paragraph */
      limit++;
    }
    const char *last = limit;
    while (last > from && g_ascii_isspace(last[-1])) last--;
    const char *last_line = last;
    while (last_line > from && last_line[-1] != '\n') last_line--;
    heading_only = last > from && last - last_line < 64 && last[-1] == ':'; /* the paragraph ends "...:" */
    while (heading_only && *limit == '\n') limit++;
  }
  return bounce_squeeze(at, (gsize) (limit - at));
}

/* The addresses of the To, Cc and Bcc fields of the returned header block, lower-case, as one
 * string with each address between '\n's (for a bounded strstr). Caller frees. */
static char *original_recipients(const char *headers)
{
  GString *out = g_string_new("\n");
  if (!headers) return g_string_free(out, FALSE);
  g_autoptr(GPtrArray) groups = bounce_field_groups(headers);
  if (!groups->len) return g_string_free(out, FALSE);
  GPtrArray *g = g_ptr_array_index(groups, 0);
  for (guint i = 0; i + 1 < g->len && out->len < 4096; i += 2) {
    const char *name = g_ptr_array_index(g, i);
    if (g_ascii_strcasecmp(name, "To") && g_ascii_strcasecmp(name, "Cc") && g_ascii_strcasecmp(name, "Bcc")) continue;
    const char *v = g_ptr_array_index(g, i + 1), *end = v + strlen(v), *at, *after;
    char *addr;
    while ((addr = bounce_next_address(v, end, &at, &after)) != NULL) {
      g_string_append_printf(out, "%s\n", addr);
      g_free(addr);
      v = after;
    }
  }
  return g_string_free(out, FALSE);
}

static gboolean in_original(const char *originals, const char *addr)
{
  g_autofree char *needle = g_strconcat("\n", addr, "\n", NULL);
  return strstr(originals, needle) != NULL;
}

/* Returns TRUE when the only recipient is a guess from the returned message. */
static gboolean read_text(BounceReport *rep, const char *whole, gsize text_len, const char *failed_header,
                          const char *sender, const char *originals)
{
  gboolean guessed = FALSE;
  /* The error text only: a paragraph never runs on into the returned message. */
  g_autofree char *text = g_strndup(whole, text_len);
  text_len = strlen(text);
  if (failed_header) {
    g_auto(GStrv) parts = g_strsplit(failed_header, ",", BOUNCE_RECIPIENTS_MAX);
    for (gsize i = 0; parts[i]; i++) add_recipient(rep, bounce_typed_address(parts[i]));
  }
  const char *end = text + text_len;
  const char *p = text, *at, *after;
  char *addr;
  gboolean any = rep->recipients->len > 0;
  for (int pass = 0; pass < 2 && !any && !rep->recipients->len; pass++, p = text)
  while ((addr = bounce_next_address(p, end, &at, &after)) != NULL) {
    p = after;
    const char *line = at;
    while (line > text && line[-1] != '\n') line--;
    /* The envelope of the failed transaction, as transcripts and reports quote it: the sender
     * (">>> MAIL From:<a@b>", "MAIL FROM: a@b") is no recipient; "RCPT TO: c@d" is one. */
    const char *verb = line;
    while (*verb == ' ' || *verb == '\t' || *verb == '>') verb++;
    gboolean envelope_sender = g_ascii_strncasecmp(verb, "MAIL From:", 10) == 0;
    gboolean envelope_recipient = g_ascii_strncasecmp(verb, "RCPT To:", 8) == 0;
    if (envelope_sender || is_service_address(addr) || (sender && strcmp(addr, sender) == 0)) {
      g_free(addr);
      continue;
    }
    /* An address in a URL or a sentence of boilerplate is not a recipient: accept it at the start
     * of a line, in <>, or quoted, as MTAs print failed addresses. */
    const char *ls = at;
    while (ls > text && ls[-1] != '\n' && (ls[-1] == ' ' || ls[-1] == '\t' || ls[-1] == '<' || ls[-1] == '"' ||
                                           ls[-1] == '\'' || ls[-1] == '*'))
      ls--;
    gboolean bracketed = at > text && (at[-1] == '<' || at[-1] == '"' || at[-1] == '\'');
    /* Second pass, when none stood so: any address of the error text ("Unknown user: a@b"). */
    gboolean stands_out = ls == text || ls[-1] == '\n' || bracketed || envelope_recipient;
    if (pass == 0 && !(stands_out || in_original(originals, addr))) {
      g_free(addr);
      continue;
    }
    add_recipient(rep, addr);
  }
  if (!rep->recipients->len && originals[0] == '\n' && originals[1]) {
    /* The error text names no address (old Sendmail: "Deferred: Connection timed out during user
     * open with example.com"): a returned message with one recipient says whose it was. */
    const char *first = originals + 1, *nl = strchr(first, '\n');
    if (nl && !nl[1]) guessed = add_recipient(rep, g_strndup(first, (gsize) (nl - first))) != NULL;
  }
  g_autofree char *lower = g_ascii_strdown(text, (gssize) text_len);
  for (guint i = 0; i < rep->recipients->len; i++) {
    BounceRecipient *r = g_ptr_array_index(rep->recipients, i);
    const char *hit = strstr(lower, r->recipient);
    g_free(r->diagnostic);
    r->diagnostic = hit ? paragraph_at(rep, text, text + (hit - lower), r->recipient) : bounce_squeeze(text, text_len);
    g_free(r->status);
    r->status = bounce_find_status(r->diagnostic);
    if (!*r->status && rep->recipients->len == 1) {
      /* One recipient: a code anywhere in the error text is about it. */
      g_free(r->status);
      g_autofree char *section = g_strndup(text, text_len);
      r->status = bounce_find_status(section);
    }
    const char *said_command;
    char *transcript;
    if (bounce_sendmail_transcript(text, text_len, r->recipient, &said_command, &transcript)) {
      g_free(r->diagnostic);
      r->diagnostic = bounce_squeeze(transcript, strlen(transcript));
      g_free(transcript);
      g_free(r->command);
      r->command = g_strdup(said_command);
      g_autofree char *code = bounce_find_status(r->diagnostic);
      if (*code) g_free(r->status), r->status = g_steal_pointer(&code);
    }
    g_free(r->action);
    r->action = g_strdup(r->status[0] == '4' || (!*r->status && bounce_temporary_text(r->diagnostic)) ? "delayed" : "failed");
  }
  return guessed;
}

static gboolean header_is(GMimeObject *obj, const char *name, const char *prefix)
{
  const char *v = g_mime_object_get_header(obj, name);
  return v && g_ascii_strncasecmp(g_strchug((char *) v), prefix, strlen(prefix)) == 0;
}

static char *header_address(GMimeObject *obj, const char *name)
{
  const char *v = g_mime_object_get_header(obj, name);
  return v ? bounce_typed_address(v) : NULL;
}

/* Subjects that clients put on automatic replies (Outlook "Automatic reply:", "Out of Office:"...). */
static gboolean subject_is_autoreply(GMimeObject *top)
{
  static const char *const prefixes[] = {"auto:", "auto response:", "automatic reply:", "autoreply:",
                                         "auto-reply:", "out of office:", "out of the office:", "autorespons"};
  const char *subject = g_mime_message_get_subject(GMIME_MESSAGE(top));
  if (!subject) return FALSE;
  while (*subject == ' ') subject++;
  for (gsize i = 0; i < G_N_ELEMENTS(prefixes); i++)
    if (g_ascii_strncasecmp(subject, prefixes[i], strlen(prefixes[i])) == 0) return TRUE;
  return FALSE;
}

/* Lines that start with "* " in text: Google Groups lists the four reasons it may have refused a
 * post this way (the group does not exist, or the sender may not post to it), in every language. */
static guint bullet_lines(const char *text, gsize len)
{
  guint n = 0;
  for (gsize i = 0; i + 1 < len; i++)
    if ((i == 0 || text[i - 1] == '\n') && (text[i] == '*' || (text[i] == ' ' && text[i + 1] == '*'))) n++;
  return n;
}

/* Whether a message without machine-readable parts may be a bounce at all, so that ordinary mail
 * that happens to quote addresses is never read as one: it comes from a mail system (null return
 * path, MAILER-DAEMON or postmaster), names failed recipients, is a report, or says so in its
 * subject as MTAs word it. */
static gboolean looks_like_bounce(GMimeObject *top, const char *sender, const char *failed)
{
  static const char *const words[] = {"undeliver", "undelivered", "delivery status", "delivery fail",
                                      "delivery notification", "returned mail", "failure notice", "mail delivery",
                                      "could not be delivered", "non remis", "unzustellbar", "nondeliverable",
                                      "bounce", "rejected", "error", "failed", "warning: message", "not delivered",
                                      "delayed"};
  if (failed || (sender && (is_service_address(sender) || g_str_has_prefix(sender, "mailer-daemon") ||
                            g_str_has_prefix(sender, "postmaster"))))
    return TRUE;
  const char *rp = g_mime_object_get_header(top, "Return-Path");
  if (rp && strstr(rp, "<>")) return TRUE;
  const char *from = g_mime_object_get_header(top, "From");
  if (from && (g_strrstr(from, "MAILER-DAEMON") || g_strrstr(from, "Mailer-Daemon") || strstr(from, "<>")))
    return TRUE;
  GMimeContentType *ct = g_mime_object_get_content_type(top);
  if (ct && g_mime_content_type_is_type(ct, "multipart", "report")) return TRUE;
  const char *subject = g_mime_message_get_subject(GMIME_MESSAGE(top));
  if (!subject) return FALSE;
  g_autofree char *lower = g_utf8_strdown(subject, -1);
  for (gsize i = 0; i < G_N_ELEMENTS(words); i++)
    if (strstr(lower, words[i])) return TRUE;
  return FALSE;
}

/* Message-ID of the returned header block, without <>. */
static char *original_message_id(const char *headers)
{
  g_autoptr(GPtrArray) groups = bounce_field_groups(headers);
  if (!groups->len) return NULL;
  const char *v = bounce_group_get(g_ptr_array_index(groups, 0), "Message-ID");
  if (!v) return NULL;
  const char *lt = strchr(v, '<'), *gt = lt ? strchr(lt, '>') : NULL;
  return lt && gt && gt > lt + 1 ? g_strndup(lt + 1, (gsize) (gt - lt - 1)) : g_strdup(v);
}

/* A bounce forwarded inside another message's text (an ISP's postmaster passing a bounce on, a
 * mailbox's forwarding): the header block that starts at an mbox "From MAILER-DAEMON" line or at a
 * "Return-Path: <>" line, or NULL. */
static const char *embedded_bounce(const char *text)
{
  const char *from = strstr(text, "\nFrom MAILER-DAEMON ");
  if (from) {
    const char *eol = strchr(from + 1, '\n');
    return eol ? eol + 1 : NULL;
  }
  const char *rp = strstr(text, "\nReturn-Path: <>\n");
  return rp ? rp + 1 : NULL;
}

static int parse_at_depth(const void *raw, gsize len, BounceReport **out, guint depth);

int bounce_parse(const void *raw, gsize len, BounceReport **out)
{
  return parse_at_depth(raw, len, out, 0);
}

static int parse_at_depth(const void *raw, gsize len, BounceReport **out, guint depth)
{
  *out = NULL;
  if (len > BOUNCE_INPUT_MAX) return -1;
  mime_global_init();
  BounceReport *rep = g_new0(BounceReport, 1);
  rep->recipients = g_ptr_array_new_with_free_func((GDestroyNotify) recipient_free);
  *out = rep;

  /* GMime has no limits of its own: it reads what mime's pre-scan lets through (nesting, parts
   * and header sizes bounded, bare CRs and NULs repaired). */
  const char *data;
  gsize data_len;
  g_autofree char *owned = NULL;
  if (mime_bounded_input(raw, len, NULL, &data, &data_len, &owned) < 0) return 0;
  GMimeStream *stream = g_mime_stream_mem_new_with_buffer(data, data_len);
  GMimeParser *parser = g_mime_parser_new_with_stream(stream);
  GMimeMessage *msg = g_mime_parser_construct_message(parser, NULL);
  g_object_unref(parser);
  g_object_unref(stream);
  if (!msg) return 0;

  Walk w = {g_string_new(NULL), g_string_new(NULL), g_string_new(NULL), g_string_new(NULL), NULL, 0};
  DsnExtras extras = {g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free),
                      g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free),
                      g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free), NULL};
  walk(&w, g_mime_message_get_mime_part(msg), 0);
  GMimeObject *top = GMIME_OBJECT(msg);
  g_autofree char *sender = header_address(top, "From");
  gboolean guessed = FALSE; /* the recipient is the returned message's only one, not the text's */

  /* In a single-part bounce the returned message follows the error text. */
  gsize text_len = w.text->len;
  if (!w.original->len) {
    const char *start = bounce_returned_message_start(w.text->str);
    text_len = (gsize) (start - w.text->str);
    if (*start) {
      const char *hdr = strstr(start + 1, "\n");
      if (hdr) append_bounded(w.original, hdr + 1, strlen(hdr + 1), ORIGINAL_HEADERS_MAX);
    }
  }
  if (w.original->len) {
    rep->original_headers = g_strdup(w.original->str);
    rep->original_message_id = original_message_id(w.original->str);
  }

  gboolean autoreply = header_is(top, "Auto-Submitted", "auto-replied") || g_mime_object_get_header(top, "X-Autoreply") ||
                       g_mime_object_get_header(top, "X-Autorespond") || header_is(top, "Precedence", "auto_reply");
  /* Exim and Google mark their bounces auto-replied too (RFC 3834 allows it): a message from the
   * mailer daemon or naming failed recipients is read as a bounce. */
  const char *failed = g_mime_object_get_header(top, "X-Failed-Recipients");
  if (!autoreply) autoreply = header_is(top, "X-Apple-Action", "vacation") || subject_is_autoreply(top);
  if (!sender || g_str_has_prefix(sender, "mailer-daemon@") || g_str_has_prefix(sender, "postmaster@") || failed)
    autoreply = FALSE;
  /* Microsoft's complaint loop (JMRP) predates ARF: the complained-about message comes back with
   * the complaining recipient in X-HmXmrOriginalRecipient. */
  g_autofree char *jmrp = NULL;
  if (!w.feedback->len && w.original->len) {
    g_autoptr(GPtrArray) oh = bounce_field_groups(w.original->str);
    if (oh->len) jmrp = bounce_typed_address(bounce_group_get(g_ptr_array_index(oh, 0), "X-HmXmrOriginalRecipient"));
  }
  if (jmrp) {
    rep->kind = BOUNCE_KIND_FEEDBACK;
    add_recipient(rep, g_steal_pointer(&jmrp));
  } else if (w.feedback->len) {
    rep->kind = BOUNCE_KIND_FEEDBACK;
    g_autoptr(GPtrArray) groups = bounce_field_groups(w.feedback->str);
    for (guint i = 0; i < groups->len; i++) {
      GPtrArray *g = g_ptr_array_index(groups, i);
      for (guint j = 0; j + 1 < g->len; j += 2)
        if (g_ascii_strcasecmp(g_ptr_array_index(g, j), "Original-Rcpt-To") == 0 ||
            g_ascii_strcasecmp(g_ptr_array_index(g, j), "Removal-Recipient") == 0)
          add_recipient(rep, bounce_typed_address(g_ptr_array_index(g, j + 1)));
    }
    if (!rep->recipients->len && w.original->len) {
      g_autoptr(GPtrArray) oh = bounce_field_groups(w.original->str);
      if (oh->len) add_recipient(rep, bounce_typed_address(bounce_group_get(g_ptr_array_index(oh, 0), "To")));
    }
    for (guint i = 0; i < rep->recipients->len; i++) {
      BounceRecipient *r = g_ptr_array_index(rep->recipients, i);
      g_free(r->diagnostic);
      r->diagnostic = bounce_squeeze(w.text->str, MIN(w.text->len, BOUNCE_DIAGNOSTIC_MAX));
    }
  } else if (w.status->len && (read_dsn(rep, w.status->str, &extras), rep->recipients->len > 0)) {
    rep->kind = BOUNCE_KIND_DSN;
    const char *said_command;
    g_autofree char *transcript = NULL;
    if (rep->recipients->len == 1 &&
        bounce_sendmail_transcript(w.text->str, text_len, NULL, &said_command, &transcript)) {
      /* Sendmail cuts the Diagnostic-Code of a multi-line reply; its transcript has it whole. */
      BounceRecipient *r = g_ptr_array_index(rep->recipients, 0);
      g_autofree char *whole = bounce_squeeze(transcript, strlen(transcript));
      gsize had = strlen(r->diagnostic);
      if (strlen(whole) > had && strncmp(whole, r->diagnostic, MIN(had, 16)) == 0) {
        g_free(r->diagnostic);
        r->diagnostic = g_steal_pointer(&whole);
        g_free(r->command);
        r->command = g_strdup(said_command);
      }
    }
    g_autofree char *lower = g_ascii_strdown(w.text->str, (gssize) text_len);
    for (guint i = 0; i < rep->recipients->len; i++) {
      BounceRecipient *r = g_ptr_array_index(rep->recipients, i);
      if (*r->diagnostic || !w.text->len) continue;
      /* No Diagnostic-Code: the human-readable part says it (Exchange, Gmail, ...). */
      const char *hit = strstr(lower, r->recipient);
      g_free(r->diagnostic);
      r->diagnostic =
        hit ? paragraph_at(rep, w.text->str, w.text->str + (hit - lower), r->recipient) : bounce_squeeze(w.text->str, text_len);
      if (!*r->status) {
        g_free(r->status);
        r->status = bounce_find_status(r->diagnostic);
      }
    }
  } else if (autoreply) {
    rep->kind = BOUNCE_KIND_AUTOREPLY;
    BounceRecipient *r = add_recipient(rep, g_strdup(sender ? sender : ""));
    if (r) {
      g_free(r->diagnostic);
      r->diagnostic = bounce_squeeze(w.text->str, MIN(text_len, BOUNCE_DIAGNOSTIC_MAX));
    }
  } else {
    g_autofree char *originals = original_recipients(w.original->len ? w.original->str : NULL);
    /* Sendmail of old and some gateways write the DSN fields into the text itself. */
    g_autofree char *lower = g_ascii_strdown(w.text->str, (gssize) text_len);
    if (strstr(lower, "\nfinal-recipient:")) {
      g_autofree char *section = g_strndup(w.text->str, text_len);
      read_dsn(rep, section, &extras);
      for (guint i = 0; i < rep->recipients->len; i++) {
        BounceRecipient *r = g_ptr_array_index(rep->recipients, i);
        const char *hit = strstr(lower, r->recipient);
        if (*r->diagnostic || !hit) continue;
        g_free(r->diagnostic);
        r->diagnostic = paragraph_at(rep, w.text->str, w.text->str + (hit - lower), r->recipient);
      }
    }
    if (!rep->recipients->len && looks_like_bounce(top, sender, failed))
      guessed = read_text(rep, w.text->str, text_len, failed, sender, originals);
    if (rep->recipients->len) rep->kind = BOUNCE_KIND_TEXT;
  }

  g_autofree char *section_command = NULL; /* of the whole error text, computed once */
  g_autofree char *section = NULL;         /* the error text squeezed, computed once */
  int lhost = rep->recipients->len ? bounce_lhost_identify(top) : -1;
  /* A local delivery agent speaks through a generic DSN; an MTA of known format says it itself. */
  const char *mda = rep->recipients->len && lhost < 0 ? bounce_mda_reason(w.text->str, text_len) : "";
  gboolean group_refused = rep->kind == BOUNCE_KIND_TEXT && failed &&
                           g_mime_object_get_header(top, "X-Google-Smtp-Source") &&
                           bullet_lines(w.text->str, text_len) >= 4;
  for (guint i = 0; i < rep->recipients->len; i++) {
    BounceRecipient *r = g_ptr_array_index(rep->recipients, i);
    if (rep->kind == BOUNCE_KIND_FEEDBACK) r->reason = "feedback";
    else if (group_refused) r->reason = "rejected";
    else if (rep->kind == BOUNCE_KIND_AUTOREPLY) r->reason = "vacation";
    else {
      bounce_join_reply(r->diagnostic);
      prefer_diagnostic_status(r);
      if (!*r->command) { /* unless a transcript quoted it */
        g_free(r->command);
        r->command = bounce_smtp_command(r->diagnostic, strlen(r->diagnostic));
      }
      if (!*r->command) {
        g_free(r->command);
        if (!section_command) section_command = bounce_smtp_command(w.text->str, text_len);
        r->command = g_strdup(section_command);
      }
      if (!*r->command) {
        g_free(r->command);
        r->command = g_strdup(bounce_lhost_command(lhost, r->diagnostic));
      }
      const char *mta = g_hash_table_lookup(extras.remote_mta, r->recipient);
      g_autofree char *said_by = mta ? NULL : bounce_host_said(r->diagnostic);
      BounceFacts facts = {r->status, r->action, r->command, r->diagnostic,
                           g_hash_table_lookup(extras.diagnostic_type, r->recipient), NULL, NULL};
      facts.mta_reason = bounce_lhost_reason(lhost, r->status, r->diagnostic,
                                             g_hash_table_lookup(extras.category, r->recipient));
      if (!*facts.mta_reason && lhost >= 0 && text_len) {
        /* The MTA's sentence may stand in a paragraph of its own, apart from the address. */
        if (!section) section = bounce_squeeze_to(w.text->str, text_len, SECTION_MAX);
        facts.mta_reason = bounce_lhost_reason(lhost, r->status, section, NULL);
      }
      if (!*facts.mta_reason) facts.mta_reason = mda;
      const char *rhost = mta ? mta : said_by ? said_by : extras.reporting_mta;
      facts.host_reason = bounce_rhost_reason(rhost, r->recipient, r->status,
                                              bounce_reply_code(r->diagnostic), r->command, r->diagnostic);
      r->reason = bounce_reason_decide(&facts);
      if (strcmp(r->reason, "onhold") == 0 && text_len) {
        /* The paragraph did not say why; the rest of the error text often does (Gmail, Lotus,
         * Exchange write the address and the reason in separate paragraphs). */
        if (!section) section = bounce_squeeze_to(w.text->str, text_len, SECTION_MAX);
        facts.diagnostic = section;
        const char *wider = bounce_reason_decide(&facts);
        if (strcmp(wider, "undefined") != 0) r->reason = wider;
      }
    }
    r->hard = bounce_severity(r->reason, r->status);
  }
  if (depth == 0 && (rep->kind == BOUNCE_KIND_TEXT || rep->kind == BOUNCE_KIND_NONE)) {
    /* The text's own addresses may be the forwarder's: a complete bounce inside it says more, in
     * the text or attached (a bounce forwarded as an attachment, when this message found none). */
    const char *inner = embedded_bounce(w.text->str);
    if (!inner && (!rep->recipients->len || guessed)) inner = w.attached;
    BounceReport *sub = NULL;
    if (inner && parse_at_depth(inner, strlen(inner), &sub, depth + 1) == 0 && sub->recipients->len &&
        (sub->kind == BOUNCE_KIND_DSN || sub->kind == BOUNCE_KIND_TEXT)) {
      bounce_report_free(rep);
      rep = *out = sub;
    } else {
      bounce_report_free(sub);
    }
  }
  g_string_free(w.text, TRUE);
  g_string_free(w.status, TRUE);
  g_string_free(w.feedback, TRUE);
  g_string_free(w.original, TRUE);
  g_free(w.attached);
  g_hash_table_unref(extras.remote_mta);
  g_hash_table_unref(extras.diagnostic_type);
  g_hash_table_unref(extras.category);
  g_free(extras.reporting_mta);
  g_object_unref(msg);
  return 0;
}

const char *bounce_kind_name(BounceKind kind)
{
  switch (kind) {
  case BOUNCE_KIND_DSN: return "dsn";
  case BOUNCE_KIND_TEXT: return "text";
  case BOUNCE_KIND_FEEDBACK: return "feedback";
  case BOUNCE_KIND_AUTOREPLY: return "autoreply";
  default: return "none";
  }
}
