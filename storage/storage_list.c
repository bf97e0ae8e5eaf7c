/* storage_list.c - list values joined into one text (see storage_list.h). */
#include "storage_list.h"

char *sql_list_join(GPtrArray *items)
{
  GString *out = g_string_new(NULL);
  for (guint i = 0; items && i < items->len; i++) {
    if (i) g_string_append(out, SQL_LIST_SEP);
    g_string_append(out, g_ptr_array_index(items, i));
  }
  return g_string_free(out, FALSE);
}

void sql_list_split(const char *joined, GPtrArray *out)
{
  if (!joined || !*joined) return;
  char **parts = g_strsplit(joined, SQL_LIST_SEP, -1);
  for (char **p = parts; *p; p++) g_ptr_array_add(out, *p);
  g_free(parts); /* the strings now belong to out */
}
