/* storage_list.h - list values as one text (records' e-mail addresses, domains and contact ids),
 * the same way in both backends: items joined by SQL_LIST_SEP, a control character no address or
 * id contains. SQLite keeps the joined text in a column; PostgreSQL turns it into a text[] with
 * string_to_array and back with array_to_string.
 */
#ifndef MA_STORAGE_LIST_H
#define MA_STORAGE_LIST_H

#include <glib.h>

#define SQL_LIST_SEP "\x1f"

/* char* items -> "a\x1fb" (caller frees; "" for none). */
char *sql_list_join(GPtrArray *items);
/* Appends the items of joined to out (new strings; nothing for NULL or ""). */
void sql_list_split(const char *joined, GPtrArray *out);

#endif
