/* cli_send.c - `mailagent send ENTERPRISE FILE.eml | --from ... --to ... --subject ... --text ...`:
 * queues an outgoing message exactly as POST /v1/messages:send does (agent/outbound), durably, and
 * prints its outbound id (the running `serve` delivers it within a second). `--record TYPE:ID`
 * names records to link the archived copy to (the API's `records`). Reads at most
 * [smtp] max_message_size octets of the file ("-" is standard input).
 */
#include "cli.h"

#include "agent/outbound/outbound.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int read_message(const char *path, gint64 max, GByteArray **out)
{
  FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
  if (!f) return cli_usage_error("cannot open %s", path);
  GByteArray *buf = g_byte_array_new();
  guint8 chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
    if ((gint64) (buf->len + n) > max) {
      if (f != stdin) fclose(f);
      g_byte_array_unref(buf);
      return cli_usage_error("%s is over [smtp] max_message_size (%" G_GINT64_FORMAT " bytes)", path, max);
    }
    g_byte_array_append(buf, chunk, (guint) n);
  }
  gboolean failed = ferror(f);
  if (f != stdin) fclose(f);
  if (failed) {
    g_byte_array_unref(buf);
    fprintf(stderr, "mailagent: cannot read %s\n", path);
    return 1;
  }
  *out = buf;
  return 0;
}

static GPtrArray *strv_array(char **v)
{
  if (!v) return NULL;
  GPtrArray *a = g_ptr_array_new();
  for (; *v; v++) g_ptr_array_add(a, *v);
  return a;
}

static void attachment_free(OutboundAttachment *a)
{
  if (a->data) g_bytes_unref(a->data);
  g_free((char *) a->filename);
  g_free(a);
}

/* --record TYPE:ID... as the API's records array ([{"type","id"}], newly allocated in *out). 0, or
 * the usage error's exit code. Whether each record exists is checked by outbound_submit. */
static int records_arg(char **records, char **out)
{
  json_t *arr = json_array();
  for (char **r = records; *r; r++) {
    const char *colon = strchr(*r, ':');
    g_autofree char *type = colon ? g_strndup(*r, (gsize) (colon - *r)) : NULL;
    if (!type || ma_record_type_parse(type) < 0 || !colon[1]) {
      json_decref(arr);
      return cli_usage_error("--record %s: TYPE:ID with TYPE account, contact, lead or opportunity", *r);
    }
    json_array_append_new(arr, json_pack("{s:s, s:s}", "type", type, "id", colon + 1));
  }
  char *text = json_dumps(arr, JSON_COMPACT);
  json_decref(arr);
  *out = g_strdup(text);
  free(text);
  return 0;
}

int cli_send(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autofree char *from = NULL, *subject = NULL, *text = NULL, *html = NULL, *type = NULL, *channel = NULL,
                  *employee = NULL, *key = NULL;
  g_auto(GStrv) to = NULL, cc = NULL, bcc = NULL, attach = NULL, records = NULL;
  GOptionEntry entries[] = {
    {"from", 0, 0, G_OPTION_ARG_STRING, &from, "From address (\"Name <a@b>\")", "ADDR"},
    {"to", 0, 0, G_OPTION_ARG_STRING_ARRAY, &to, "Recipient (repeat); with FILE.eml: the envelope recipients", "ADDR"},
    {"cc", 0, 0, G_OPTION_ARG_STRING_ARRAY, &cc, "Copy recipient (repeat)", "ADDR"},
    {"bcc", 0, 0, G_OPTION_ARG_STRING_ARRAY, &bcc, "Blind copy recipient (repeat)", "ADDR"},
    {"subject", 0, 0, G_OPTION_ARG_STRING, &subject, "Subject", "TEXT"},
    {"text", 0, 0, G_OPTION_ARG_STRING, &text, "Plain-text body", "TEXT"},
    {"html", 0, 0, G_OPTION_ARG_STRING, &html, "HTML body", "HTML"},
    {"attach", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &attach, "Attach a file (repeat)", "FILE"},
    {"type", 0, 0, G_OPTION_ARG_STRING, &type, "workflow, mass or individual (default)", "TYPE"},
    {"channel", 0, 0, G_OPTION_ARG_STRING, &channel, "auto (default), employee_mailbox, enterprise_relay, mailagent_relay", "CHANNEL"},
    {"employee", 0, 0, G_OPTION_ARG_STRING, &employee, "On whose behalf (employee address or id)", "EMPLOYEE"},
    {"record", 0, 0, G_OPTION_ARG_STRING_ARRAY, &records,
     "Link the archived copy to this record (repeat): account, contact, lead or opportunity", "TYPE:ID"},
    {"idempotency-key", 0, 0, G_OPTION_ARG_STRING, &key, "Repeat-safe key: the same key within 24 h queues once", "KEY"},
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr(GOptionContext) ctx = cli_context("send", "ENTERPRISE [FILE.eml|-]",
    "Queue an outgoing message: a complete message from FILE.eml, or one made from --from, --to, --subject,\n"
    "--text/--html and --attach. Prints the outbound id once it is durably queued. Parts with 8-bit octets\n"
    "or lines over 998 octets are re-encoded as quoted-printable before DKIM signing. --record TYPE:ID links\n"
    "the archived copy to that record as well as to the records its recipients match; an unknown record\n"
    "refuses the message.",
    &common, entries);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  const char *usage = "mailagent send ENTERPRISE FILE.eml [--to ADDR...] | mailagent send ENTERPRISE --from ADDR --to ADDR "
                      "--subject TEXT --text TEXT";
  if ((rc = cli_positional(argc, argv, 1, 2, usage)) >= 0) return rc;
  if (argc == 3 && (from || subject || text || html || cc || bcc || attach))
    return cli_usage_error("give FILE.eml or the structured options (--from, --subject...), not both");

  g_autofree char *records_json = NULL;
  if (records && (rc = records_arg(records, &records_json)) != 0) return rc;
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *ent = NULL;
  if ((rc = cli_open_enterprise(&common, argv[1], &cfg, &st, &ent)) != 0) return rc;
  OutboundRequest req = {.type = type, .channel = channel, .employee = employee, .records_json = records_json};
  /* declared before the first goto: a jump past an auto-cleaned variable's initialisation frees garbage */
  g_autoptr(GError) error = NULL;
  g_autofree char *response = NULL, *id = NULL;
  g_autoptr(GByteArray) raw = NULL;
  g_autoptr(GPtrArray) to_list = strv_array(to), cc_list = strv_array(cc), bcc_list = strv_array(bcc);
  g_autoptr(GPtrArray) atts = g_ptr_array_new_with_free_func((GDestroyNotify) attachment_free);
  if (argc == 3) {
    if ((rc = read_message(argv[2], cfg->max_message_size, &raw)) != 0) goto out;
    req.mime = raw->len ? (const char *) raw->data : "";
    req.mime_len = raw->len;
    req.envelope_to = to_list;
  } else {
    req.from = from;
    req.to = to_list;
    req.cc = cc_list;
    req.bcc = bcc_list;
    req.subject = subject;
    req.text = text;
    req.html = html;
    for (char **a = attach; a && *a; a++) {
      gchar *data = NULL;
      gsize len = 0;
      g_autoptr(GError) ferr = NULL;
      if (!g_file_get_contents(*a, &data, &len, &ferr)) {
        rc = cli_usage_error("--attach: %s", ferr->message);
        goto out;
      }
      OutboundAttachment *att = g_new0(OutboundAttachment, 1);
      att->filename = g_path_get_basename(*a);
      att->data = g_bytes_new_take(data, len);
      g_ptr_array_add(atts, att);
    }
    req.attachments = atts;
  }
  char hash[65] = "";
  if (key) {
    /* the CLI has no request body: the key alone identifies the request */
    g_strlcpy(hash, "cli", sizeof hash);
  }
  int queued = outbound_submit(st, cfg, ent->id, &req, key, key ? hash : NULL, &response, &id, &error);
  if (queued < 0) {
    rc = cli_fail("send", error);
  } else if (common.json) {
    cli_print_json(json_loads(response, 0, NULL), FALSE);
  } else {
    printf("%s %s\n", queued ? "queued" : "already queued (same Idempotency-Key)", id ? id : "");
    json_t *doc = json_loads(response, 0, NULL);
    json_t *rcpts = json_object_get(doc, "recipients");
    for (size_t i = 0; i < json_array_size(rcpts); i++) { /* not sent, and why */
      const char *reason = json_string_value(json_object_get(json_array_get(rcpts, i), "reason"));
      if (reason) printf("  %s\n", reason);
    }
    json_decref(doc);
  }
out:
  storage_close(&st);
  ma_enterprise_free(ent);
  return rc;
}
