/* bare_gmime.c - the ingest benchmark's peer: what parsing alone costs with GMime, the library
 * mailagent's parser stands on. For each file named on the command line (or one per line on
 * stdin when none are): parse it from a file stream, decode the header fields mailagent reads
 * (Subject, the address lists, Date, Message-ID, In-Reply-To, References) and the text of every
 * text part to UTF-8, and count what it read so the compiler cannot drop the work. No matching,
 * no storage: mailagent's CPU-seconds per message divided by this program's is the share of the
 * pipeline that is parsing. Not part of the build; scripts/bench/ingest/run.sh compiles it.
 */
#include <gmime/gmime.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static gsize total; /* decoded octets, printed at the end */

static void read_part(GMimeObject *parent, GMimeObject *part, gpointer unused)
{
  (void)parent;
  (void)unused;
  if (GMIME_IS_MULTIPART(part)) return; /* g_mime_message_foreach visits containers too */
  if (GMIME_IS_MESSAGE_PART(part)) {
    GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(part));
    if (inner) g_mime_message_foreach(inner, read_part, NULL);
    return;
  }
  if (!GMIME_IS_TEXT_PART(part)) {
    /* decode attachments too, as an archive does to hash and store them */
    GMimeDataWrapper *content = g_mime_part_get_content(GMIME_PART(part));
    if (!content) return;
    GMimeStream *null = g_mime_stream_null_new();
    g_mime_data_wrapper_write_to_stream(content, null);
    total += (gsize)g_mime_stream_length(null);
    g_object_unref(null);
    return;
  }
  char *text = g_mime_text_part_get_text(GMIME_TEXT_PART(part));
  if (text) total += strlen(text);
  g_free(text);
}

static void read_addresses(GMimeMessage *m, GMimeAddressType type)
{
  InternetAddressList *list = g_mime_message_get_addresses(m, type);
  for (int i = 0; list && i < internet_address_list_length(list); i++) {
    InternetAddress *a = internet_address_list_get_address(list, i);
    const char *name = internet_address_get_name(a);
    if (name) total += strlen(name);
    if (INTERNET_ADDRESS_IS_MAILBOX(a)) total += strlen(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a)));
  }
}

/* How many message ids the header field holds (0 when the message has none). */
static gsize read_references(GMimeMessage *m, const char *field)
{
  const char *value = g_mime_object_get_header(GMIME_OBJECT(m), field);
  if (!value) return 0;
  GMimeReferences *refs = g_mime_references_parse(NULL, value);
  gsize n = refs ? (gsize)g_mime_references_length(refs) : 0;
  if (refs) g_mime_references_free(refs);
  return n;
}

static int parse_one(const char *path)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    perror(path);
    return -1;
  }
  GMimeStream *stream = g_mime_stream_fs_new(fd); /* owns fd */
  GMimeParser *parser = g_mime_parser_new_with_stream(stream);
  GMimeMessage *m = g_mime_parser_construct_message(parser, NULL);
  if (m) {
    const char *subject = g_mime_message_get_subject(m);
    if (subject) total += strlen(subject);
    read_addresses(m, GMIME_ADDRESS_TYPE_FROM);
    read_addresses(m, GMIME_ADDRESS_TYPE_TO);
    read_addresses(m, GMIME_ADDRESS_TYPE_CC);
    GDateTime *date = g_mime_message_get_date(m);
    if (date) total += (gsize)g_date_time_to_unix(date) & 1;
    const char *id = g_mime_message_get_message_id(m);
    if (id) total += strlen(id);
    total += read_references(m, "References") + read_references(m, "In-Reply-To");
    g_mime_message_foreach(m, read_part, NULL);
    g_object_unref(m);
  }
  g_object_unref(parser);
  g_object_unref(stream);
  return m ? 0 : -1;
}

int main(int argc, char **argv)
{
  g_mime_init();
  int n = 0, failed = 0;
  if (argc > 1) {
    for (int i = 1; i < argc; i++, n++) failed += parse_one(argv[i]) < 0;
  } else {
    char line[4096];
    while (fgets(line, sizeof line, stdin)) {
      line[strcspn(line, "\n")] = '\0';
      if (!*line) continue;
      failed += parse_one(line) < 0;
      n++;
    }
  }
  printf("parsed %d messages (%d unreadable), %zu octets decoded\n", n, failed, total);
  g_mime_shutdown();
  return failed ? 1 : 0;
}
