/* search_snippet.c - marked excerpt -> HTML or terminal text (see search_snippet.h). */
#include "search_snippet.h"

#include <string.h>

char *search_snippet_render(const char *marked, SearchSnippetStyle style)
{
  g_autofree char *valid = g_utf8_make_valid(marked ? marked : "", -1);
  GString *out = g_string_sized_new(strlen(valid) + 16);
  gboolean open = FALSE;
  const char *mark_on = style == SEARCH_SNIPPET_HTML ? "<mark>" : "[";
  const char *mark_off = style == SEARCH_SNIPPET_HTML ? "</mark>" : "]";
  for (const char *p = valid; *p; p++) {
    char c = *p;
    if (c == SEARCH_MARK_OPEN[0]) {
      if (!open) g_string_append(out, mark_on);
      open = TRUE;
    } else if (c == SEARCH_MARK_CLOSE[0]) {
      if (open) g_string_append(out, mark_off);
      open = FALSE;
    } else if ((guchar)c < 0x20 || c == 0x7f) {
      g_string_append_c(out, ' ');
    } else if (style == SEARCH_SNIPPET_HTML && c == '<') {
      g_string_append(out, "&lt;");
    } else if (style == SEARCH_SNIPPET_HTML && c == '>') {
      g_string_append(out, "&gt;");
    } else if (style == SEARCH_SNIPPET_HTML && c == '&') {
      g_string_append(out, "&amp;");
    } else if (style == SEARCH_SNIPPET_HTML && c == '"') {
      g_string_append(out, "&quot;");
    } else {
      g_string_append_c(out, c);
    }
  }
  if (open) g_string_append(out, mark_off);
  return g_string_free(out, FALSE);
}
