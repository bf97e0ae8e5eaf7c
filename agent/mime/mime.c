/* mime.c - mime_parse(): pre-scan, GMime parse straight from the caller's memory or file (a
 * mapped file is parsed through its descriptor), headers, body walk, forward unwrapping. Also GMime's one-time initialisation, each thread's reused parser and the default limits.
 * Never writes a parsed object back out (see mime.h); never logs header values or bodies.
 */
#include "mime_gmime.h"

#include <string.h>

#include <libxml/parser.h>

#include "agent/lib/error.h"

MaMimeLimits mime_limits_default(void)
{
  MaMimeLimits l = {
    .max_message_size = 50 * 1024 * 1024,
    .max_parts = 1000,
    .max_depth = 20,
    .max_header_block = 1024 * 1024,
    .max_header_field = 64 * 1024,
    .max_text = 4 * 1024 * 1024,
  };
  return l;
}

static GMimeParserOptions *base_options;

/* Each thread's parser, made once and re-initialised on every message's stream (a new parser
 * per message cost its allocation and finalisation, and the parse grew its fresh buffers again:
 * 38k instructions per message in scripts/bench/ingest/cost.sh; issue 15). Between
 * parses it reads idle_stream, a shared empty memory stream, so it never holds a message's
 * stream, whose memory view or descriptor is the caller's. Owned by the thread (freed at its exit). */
static GMimeStream *idle_stream;
static GPrivate thread_parser = G_PRIVATE_INIT(g_object_unref);

/* The calling thread's parser reading stream (borrowed: give it back with parser_release). */
static GMimeParser *parser_take(GMimeStream *stream)
{
  GMimeParser *parser = g_private_get(&thread_parser);
  if (parser) {
    g_mime_parser_init_with_stream(parser, stream);
  } else {
    parser = g_mime_parser_new_with_stream(stream);
    g_private_set(&thread_parser, parser);
  }
  g_mime_parser_set_persist_stream(parser, TRUE);
  g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
  return parser;
}

/* Lets go of the message's stream and of what the parse left in the parser. */
static void parser_release(GMimeParser *parser)
{
  g_mime_parser_init_with_stream(parser, idle_stream);
}

static gpointer init_once(gpointer unused)
{
  g_mime_init();
  xmlInitParser();
  mime_charset_pin_modules();
  base_options = g_mime_parser_options_new();
  static const char *fallback[] = {"UTF-8", "GB18030", "windows-1252", NULL};
  g_mime_parser_options_set_fallback_charsets(base_options, fallback);
  g_mime_parser_options_set_rfc2047_compliance_mode(base_options, GMIME_RFC_COMPLIANCE_LOOSE);
  g_mime_parser_options_set_address_compliance_mode(base_options, GMIME_RFC_COMPLIANCE_LOOSE);
  g_mime_parser_options_set_parameter_compliance_mode(base_options, GMIME_RFC_COMPLIANCE_LOOSE);
  idle_stream = g_mime_stream_mem_new();
  return NULL;
}

void mime_global_init(void)
{
  static GOnce once = G_ONCE_INIT;
  g_once(&once, init_once, NULL);
}

char *mime_library_version(void)
{
  return g_strdup_printf("GMime %u.%u.%u", gmime_major_version, gmime_minor_version, gmime_micro_version);
}

static void on_parser_warning(gint64 offset, GMimeParserWarning code, const gchar *item, gpointer user_data)
{
  GPtrArray *warnings = user_data;
  const char *text = NULL;
  switch (code) {
  case GMIME_WARN_MALFORMED_MULTIPART: text = "malformed multipart: no parts found"; break;
  case GMIME_WARN_TRUNCATED_MESSAGE: text = "message is truncated"; break;
  case GMIME_WARN_MALFORMED_MESSAGE: text = "message is malformed"; break;
  case GMIME_CRIT_MULTIPART_WITHOUT_BOUNDARY: text = "multipart without boundary read as one part"; break;
  case GMIME_CRIT_NESTING_OVERFLOW: text = "MIME nesting overflow"; break;
  case GMIME_CRIT_PART_WITHOUT_HEADERS_OR_CONTENT: text = "MIME part without headers or content"; break;
  case GMIME_CRIT_INVALID_HEADER_NAME: text = "invalid header name"; break;
  default: break;
  }
  if (text) mime_warn(warnings, text);
}

/* TRUE when the message has any header field. GMime files Content-* fields under the MIME part
 * only, so a message of only Content-* fields (still a message) shows none on the message. */
static gboolean has_header(GMimeMessage *msg)
{
  if (g_mime_header_list_get_count(g_mime_object_get_header_list(GMIME_OBJECT(msg))) > 0) return TRUE;
  GMimeObject *root = g_mime_message_get_mime_part(msg);
  return root && g_mime_header_list_get_count(g_mime_object_get_header_list(root)) > 0;
}

/* The stream GMime parses: a mapped file's descriptor when the pre-scan kept the input as it is
 * (GMime's scan then reads the file, not the mapping, and its parts are substreams of the file
 * that stream_slice in mime_body.c finds in the mapping again), else a non-owning memory view of
 * the bytes (read-only use only). view is the caller's, filled for the memory case. */
static GMimeStream *parse_stream(const MaRaw *raw, const MimePrescan *ps, GByteArray *view)
{
  int fd = ps->copy ? -1 : ma_raw_fd(raw);
  if (fd >= 0) {
    GMimeStream *stream = g_mime_stream_fs_new_with_bounds(fd, 0, (gint64) ps->len);
    g_mime_stream_fs_set_owner(GMIME_STREAM_FS(stream), FALSE);
    return stream;
  }
  view->data = (guint8 *) ps->data;
  view->len = (guint) ps->len;
  GMimeStream *stream = g_mime_stream_mem_new_with_byte_array(view);
  g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(stream), FALSE);
  return stream;
}

int mime_parse(const void *raw, gsize len, const MaMimeLimits *limits, MaMessage **out, GError **error)
{
  g_autoptr(MaRaw) input = ma_raw_new_static(raw, len);
  return mime_parse_raw(input, limits, out, error);
}

int mime_parse_raw(const MaRaw *raw, const MaMimeLimits *limits, MaMessage **out, GError **error)
{
  g_assert(out);
  *out = NULL;
  mime_global_init();
  MaMimeLimits defaults = mime_limits_default();
  if (!limits) limits = &defaults;

  GPtrArray *warnings = g_ptr_array_new_with_free_func(g_free);
  MimePrescan ps;
  if (mime_prescan_raw(raw, limits, &ps, warnings, error) < 0) {
    g_ptr_array_unref(warnings);
    return -1;
  }

  GByteArray view = {NULL, 0};
  GMimeStream *stream = parse_stream(raw, &ps, &view);
  GMimeParser *parser = parser_take(stream);
  GMimeParserOptions *options = g_mime_parser_options_clone(base_options);
  g_mime_parser_options_set_warning_callback(options, on_parser_warning, warnings);
  GMimeMessage *msg = g_mime_parser_construct_message(parser, options);

  int rc = 0;
  if (!msg || !has_header(msg)) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "no message header found");
    rc = -1;
  } else {
    MimeSource src = {ps.data, ps.len, &view, GMIME_IS_STREAM_FS(stream) ? ma_raw_fd(raw) : -1,
                      ps.copy ? NULL : raw, limits, warnings, options, FALSE};
    MaMessage *m = ma_message_new();
    mime_fill_headers(m, msg, options);
    mime_fill_signals(m, msg, ps.data, ps.header_len);
    MimeBody body;
    mime_body_init(&body);
    GMimeObject *root = g_mime_message_get_mime_part(msg);
    if (root) mime_body_walk(&src, root, &body);
    mime_fill_body(m, &body);
    m->machine.report = body.report;
    mime_unwrap(&src, &m, msg, &body);
    mime_body_clear(&body);
    for (guint i = 0; i < warnings->len; i++)
      mime_warn(m->warnings, g_ptr_array_index(warnings, i));
    *out = m;
  }
  if (msg) g_object_unref(msg);
  parser_release(parser);
  g_object_unref(stream);
  g_mime_parser_options_free(options);
  mime_prescan_clear(&ps);
  g_ptr_array_unref(warnings);
  ma_raw_release(raw, 0, ma_raw_len(raw)); /* what the walk read of a mapped file */
  return rc;
}

int mime_bounded_input(const void *raw, gsize len, const MaMimeLimits *limits, const char **data,
                       gsize *data_len, char **owned)
{
  MaMimeLimits defaults = mime_limits_default();
  if (!limits) limits = &defaults;
  g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func(g_free);
  MimePrescan ps;
  if (mime_prescan(raw, len, limits, &ps, warnings, NULL) < 0) return -1;
  *data = ps.data;
  *data_len = ps.len;
  *owned = ps.copy; /* ownership passes to the caller; nothing else in ps is owned */
  return 0;
}
