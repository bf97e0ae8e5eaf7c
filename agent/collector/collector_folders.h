/* collector_folders.h - which IMAP folders a binding collects, from the server's LIST answer: INBOX
 * and the Sent folder (the SPECIAL-USE \Sent attribute, else a known name in several languages),
 * or exactly the folders the binding names. Also the folder-name codec (IMAP's modified UTF-7).
 * Pure: no I/O, bounded input, unit-tested and fuzzed.
 */
#ifndef MA_COLLECTOR_FOLDERS_H
#define MA_COLLECTOR_FOLDERS_H

#include <glib.h>

#define COLLECTOR_FOLDER_NAME_MAX 1024

/* One LIST line as the session saw it. */
typedef struct {
  char *name;          /* as on the wire (modified UTF-7) */
  gboolean sent;       /* carries \Sent */
  gboolean noselect;   /* \Noselect or \NonExistent */
} CollectorFolder;

void collector_folder_free(CollectorFolder *f);

/* Decodes modified UTF-7 (RFC 3501 5.1.3) into new UTF-8 text. NULL when malformed or longer than
 * COLLECTOR_FOLDER_NAME_MAX bytes. */
char *collector_mutf7_decode(const char *in, gsize len);

/* The folders to collect, in order, as wire names appended to out (char*, new strings).
 * chosen: NULL for the default (INBOX and the Sent folder), else UTF-8 names joined by "\n"
 * compared with the decoded names (INBOX case-insensitively). Returns the number chosen; a chosen
 * name the server does not list is reported in *missing (new string, NULL when all exist). */
guint collector_folders_choose(GPtrArray *listed, const char *chosen, GPtrArray *out, char **missing);

/* TRUE when the decoded name is a usual name of the Sent folder ("Sent", "Sent Items",
 * "Sent Messages", "已发送", "Gesendete Elemente", ... possibly under a parent such as "INBOX."). */
gboolean collector_folder_is_sent_name(const char *utf8_name);

#endif
