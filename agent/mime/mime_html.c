/* mime_html.c - HTML bodies: readable text (mime_html_to_text) and safe HTML for display
 * (mime_html_sanitize). Uses libxml2's HTML parser (htmlReadMemory without network, errors or
 * warnings, ignoring <meta charset>: the input is already UTF-8) and walks the tree iteratively
 * (no recursion, so deeply nested input cannot exhaust the stack). Never regular expressions over
 * tags. The sanitizer is an allowlist: what is not known to be harmless is dropped.
 */
#include "mime_private.h"

#include <string.h>

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

#define HTML_OPTIONS                                                                             \
  (HTML_PARSE_NONET | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_IGNORE_ENC |        \
   HTML_PARSE_RECOVER)

/* Input that is not valid UTF-8 (or holds NULs) is repaired first, so the output always is. */
static htmlDocPtr html_parse(const char *html, gsize len)
{
  if (!html || len == 0 || len > G_MAXINT) return NULL;
  const char *end = NULL;
  if (g_utf8_validate_len(html, len, &end)) return htmlReadMemory(html, (int)len, NULL, "UTF-8", HTML_OPTIONS);
  char *valid = mime_charset_to_utf8(html, len, "utf-8");
  htmlDocPtr doc = htmlReadMemory(valid, (int)strlen(valid), NULL, "UTF-8", HTML_OPTIONS);
  g_free(valid);
  return doc;
}

static gboolean name_in(const xmlChar *name, const char *const *list)
{
  if (!name) return FALSE;
  for (; *list; list++)
    if (g_ascii_strcasecmp((const char *)name, *list) == 0) return TRUE;
  return FALSE;
}

/* Iterative pre/post-order walk of the nodes under `first` and its siblings. enter() returns
 * TRUE to visit the children (leave() is then called after them). */
typedef gboolean (*EnterFn)(xmlNodePtr n, void *ctx);
typedef void (*LeaveFn)(xmlNodePtr n, void *ctx);

static void walk(xmlNodePtr first, EnterFn enter, LeaveFn leave, void *ctx)
{
  if (!first) return;
  xmlNodePtr stop = first->parent;
  xmlNodePtr n = first;
  while (n) {
    gboolean descend = enter(n, ctx);
    if (descend && n->children) {
      n = n->children;
      continue;
    }
    if (descend) leave(n, ctx);
    while (n && !n->next) {
      n = n->parent;
      if (!n || n == stop) {
        n = NULL;
        break;
      }
      leave(n, ctx);
    }
    if (n) n = n->next;
  }
}

/* ---- HTML to text --------------------------------------------------------------------------- */

static const char *const skip_tags[] = {
  "script", "style", "head", "title", "noscript", "template", "object", "iframe", "svg", "math",
  "applet", "embed", "frameset", "noframes", "xml", NULL,
};
static const char *const block_tags[] = {
  "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "dl", "dt", "dd", "table", "tr",
  "blockquote", "pre", "hr", "address", "section", "article", "header", "footer", "nav", "aside",
  "form", "fieldset", "figure", "figcaption", "main", "center", "caption", "thead", "tbody",
  "tfoot", "details", "summary", "body", "html", "li", NULL,
};

typedef struct {
  GString *out;
  guint want_nl;      /* line breaks owed before the next text */
  gboolean want_space;
  guint pre;          /* inside <pre> */
} TextCtx;

static void text_flush(TextCtx *t)
{
  if (t->out->len > 0) {
    for (guint i = 0; i < t->want_nl; i++) g_string_append_c(t->out, '\n');
    if (t->want_nl == 0 && t->want_space) g_string_append_c(t->out, ' ');
  }
  t->want_nl = 0;
  t->want_space = FALSE;
}

static void text_break(TextCtx *t, guint n)
{
  if (t->want_nl < n) t->want_nl = n;
  t->want_space = FALSE;
}

static void text_append(TextCtx *t, const char *s)
{
  if (t->pre) {
    text_flush(t);
    g_string_append(t->out, s);
    return;
  }
  const char *p = s;
  while (*p) {
    guchar c = (guchar)*p;
    gboolean space = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
    gsize clen = 1;
    if (c == 0xC2 && (guchar)p[1] == 0xA0) { /* &nbsp; */
      space = TRUE;
      clen = 2;
    }
    if (space) {
      if (t->out->len > 0 || t->want_nl) t->want_space = TRUE;
      p += clen;
      continue;
    }
    const char *start = p;
    while (*p) {
      guchar d = (guchar)*p;
      if (d == ' ' || d == '\t' || d == '\n' || d == '\r' || d == '\f' || d == '\v') break;
      if (d == 0xC2 && (guchar)p[1] == 0xA0) break;
      p++;
    }
    text_flush(t);
    g_string_append_len(t->out, start, (gssize)(p - start));
  }
}

static gboolean has_cell_before(xmlNodePtr n)
{
  for (xmlNodePtr s = n->prev; s; s = s->prev)
    if (s->type == XML_ELEMENT_NODE && name_in(s->name, (const char *const[]){"td", "th", NULL}))
      return TRUE;
  return FALSE;
}

static gboolean text_enter(xmlNodePtr n, void *ctx)
{
  TextCtx *t = ctx;
  switch (n->type) {
  case XML_TEXT_NODE:
  case XML_CDATA_SECTION_NODE:
    if (n->content) text_append(t, (const char *)n->content);
    return FALSE;
  case XML_ELEMENT_NODE:
    break;
  default:
    return FALSE; /* comments, processing instructions, DTD */
  }
  const char *name = (const char *)n->name;
  if (name_in(n->name, skip_tags)) return FALSE;
  if (g_ascii_strcasecmp(name, "br") == 0) {
    text_flush(t);
    g_string_append_c(t->out, '\n');
    return FALSE;
  }
  if (g_ascii_strcasecmp(name, "td") == 0 || g_ascii_strcasecmp(name, "th") == 0) {
    if (has_cell_before(n)) {
      text_flush(t);
      if (t->out->len > 0) g_string_append_c(t->out, '\t');
    }
    return TRUE;
  }
  if (name_in(n->name, block_tags)) {
    text_break(t, 1);
    if (g_ascii_strcasecmp(name, "li") == 0) {
      text_flush(t);
      g_string_append(t->out, "- ");
    } else if (g_ascii_strcasecmp(name, "pre") == 0) {
      t->pre++;
    } else if (g_ascii_strcasecmp(name, "hr") == 0) {
      text_flush(t);
      g_string_append(t->out, "----");
      text_break(t, 1);
    }
  }
  return TRUE;
}

static void text_leave(xmlNodePtr n, void *ctx)
{
  TextCtx *t = ctx;
  if (n->type != XML_ELEMENT_NODE) return;
  if (name_in(n->name, block_tags)) {
    if (g_ascii_strcasecmp((const char *)n->name, "pre") == 0 && t->pre > 0) t->pre--;
    text_break(t, 1);
  }
}

/* Trims trailing spaces of lines, keeps at most one blank line in a row, trims the ends. */
static char *text_tidy(GString *in)
{
  GString *out = g_string_sized_new(in->len);
  const char *p = in->str, *end = in->str + in->len;
  guint blank = 0;
  while (p < end) {
    const char *nl = memchr(p, '\n', (gsize)(end - p));
    const char *le = nl ? nl : end;
    const char *te = le;
    while (te > p && (te[-1] == ' ' || te[-1] == '\t' || te[-1] == '\r')) te--;
    if (te == p) {
      blank++;
    } else {
      if (out->len > 0) g_string_append(out, blank > 0 ? "\n\n" : "\n");
      blank = 0;
      g_string_append_len(out, p, (gssize)(te - p));
    }
    p = nl ? nl + 1 : end;
  }
  return g_string_free(out, FALSE);
}

char *mime_html_to_text(const char *html, gsize len)
{
  htmlDocPtr doc = html_parse(html, len);
  if (!doc) return g_strdup("");
  TextCtx t = {g_string_sized_new(len / 2 + 16), 0, FALSE, 0};
  walk(doc->children, text_enter, text_leave, &t);
  xmlFreeDoc(doc);
  char *res = text_tidy(t.out);
  g_string_free(t.out, TRUE);
  return res;
}

/* ---- sanitizer ------------------------------------------------------------------------------ */

/* Dropped with their content. object/embed/applet/param are not listed: they are removed as
 * unknown tags but their children (fallback content, or text libxml2 nests in an unclosed
 * <embed>) are kept after sanitising like everything else. */
static const char *const drop_tags[] = {
  "script", "style", "iframe", "frame", "frameset", "form", "input", "button", "select",
  "textarea", "head", "title", "noscript", "template", "svg", "math", "link", "meta", "base",
  "audio", "video", "source", "track", "canvas", "xml", "noembed", "noframes", "dialog", "portal",
  "isindex", "keygen", "marquee", NULL,
};
static const char *const allowed_tags[] = {
  "a", "abbr", "acronym", "address", "b", "bdi", "bdo", "big", "blockquote", "br", "caption",
  "center", "cite", "code", "col", "colgroup", "dd", "del", "dfn", "div", "dl", "dt", "em", "font",
  "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre",
  "q", "s", "samp", "small", "span", "strike", "strong", "sub", "sup", "table", "tbody", "td",
  "tfoot", "th", "thead", "tr", "tt", "u", "ul", "wbr", "section", "article", "header", "footer",
  "nav", "aside", "main", "figure", "figcaption", "details", "summary", "time", NULL,
};
static const char *const void_tags[] = {"br", "hr", "img", "col", "wbr", NULL};
static const char *const allowed_attrs[] = {
  "alt", "title", "dir", "lang", "align", "valign", "style", "class", "width", "height", "bgcolor",
  "color", "border", "colspan", "rowspan", "nowrap", "cellpadding", "cellspacing", "face", "size",
  "start", "span", "summary", NULL,
};

static void escape_into(GString *out, const char *s, gboolean attr)
{
  for (const char *p = s; *p; p++) {
    switch (*p) {
    case '&': g_string_append(out, "&amp;"); break;
    case '<': g_string_append(out, "&lt;"); break;
    case '>': g_string_append(out, "&gt;"); break;
    case '"':
      if (attr) g_string_append(out, "&quot;");
      else g_string_append_c(out, '"');
      break;
    case '\'':
      if (attr) g_string_append(out, "&#39;");
      else g_string_append_c(out, '\'');
      break;
    default: g_string_append_c(out, *p);
    }
  }
}

/* Lower-cased copy without whitespace and control characters (as browsers read URL schemes). */
static char *url_squash(const char *v)
{
  GString *s = g_string_new(NULL);
  for (const char *p = v; *p; p++) {
    guchar c = (guchar)*p;
    if (c <= 0x20 || c == 0x7f) continue;
    g_string_append_c(s, (char)g_ascii_tolower((char)c));
  }
  return g_string_free(s, FALSE);
}

static gboolean url_allowed(const char *value, gboolean image)
{
  char *u = url_squash(value);
  gboolean ok;
  if (image) {
    ok = g_str_has_prefix(u, "cid:") ||
         (g_str_has_prefix(u, "data:image/") && !g_str_has_prefix(u, "data:image/svg"));
  } else {
    gsize scheme_end = strcspn(u, ":/?#");
    if (u[scheme_end] != ':') {
      ok = TRUE; /* relative or fragment */
    } else {
      ok = g_str_has_prefix(u, "http:") || g_str_has_prefix(u, "https:") ||
           g_str_has_prefix(u, "mailto:") || g_str_has_prefix(u, "tel:") || g_str_has_prefix(u, "cid:");
    }
  }
  g_free(u);
  return ok;
}

/* Style declarations that load or run nothing; NULL when none is left. */
static char *style_filter(const char *style)
{
  static const char *const bad[] = {"url(", "expression", "javascript:", "vbscript:", "@import",
                                    "behavior", "-moz-binding", "\\", "/*", "image-set(", NULL};
  GString *out = g_string_new(NULL);
  char **decls = g_strsplit(style, ";", -1);
  for (char **d = decls; *d; d++) {
    char *sq = url_squash(*d);
    gboolean ok = *sq != '\0';
    for (const char *const *b = bad; ok && *b; b++)
      if (strstr(sq, *b)) ok = FALSE;
    g_free(sq);
    if (!ok) continue;
    char *trimmed = g_strstrip(g_strdup(*d));
    if (out->len > 0) g_string_append(out, "; ");
    g_string_append(out, trimmed);
    g_free(trimmed);
  }
  g_strfreev(decls);
  if (out->len == 0) {
    g_string_free(out, TRUE);
    return NULL;
  }
  return g_string_free(out, FALSE);
}

static void sanitize_attrs(GString *out, xmlNodePtr n)
{
  gboolean is_a = g_ascii_strcasecmp((const char *)n->name, "a") == 0;
  gboolean is_img = g_ascii_strcasecmp((const char *)n->name, "img") == 0;
  for (xmlAttrPtr a = n->properties; a; a = a->next) {
    const char *name = (const char *)a->name;
    if (!name || a->ns) continue;
    xmlChar *raw = xmlNodeGetContent((xmlNodePtr)a);
    const char *value = raw ? (const char *)raw : "";
    char *keep = NULL;
    if ((is_a && g_ascii_strcasecmp(name, "href") == 0) ||
        (is_img && g_ascii_strcasecmp(name, "src") == 0)) {
      if (url_allowed(value, is_img)) keep = g_strdup(value);
    } else if (is_a && g_ascii_strcasecmp(name, "target") == 0) {
      keep = g_strdup("_blank");
    } else if (g_ascii_strcasecmp(name, "style") == 0) {
      keep = style_filter(value);
    } else if (name_in(a->name, allowed_attrs)) {
      keep = g_strdup(value);
    }
    if (keep) {
      char *lname = g_ascii_strdown(name, -1);
      g_string_append_printf(out, " %s=\"", lname);
      escape_into(out, keep, TRUE);
      g_string_append_c(out, '"');
      g_free(lname);
      g_free(keep);
    }
    if (raw) xmlFree(raw);
  }
  if (is_a) g_string_append(out, " rel=\"noopener noreferrer nofollow\"");
}

static gboolean sanitize_enter(xmlNodePtr n, void *ctx)
{
  GString *out = ctx;
  switch (n->type) {
  case XML_TEXT_NODE:
  case XML_CDATA_SECTION_NODE:
    if (n->content) escape_into(out, (const char *)n->content, FALSE);
    return FALSE;
  case XML_ELEMENT_NODE:
    break;
  default:
    return FALSE;
  }
  if (name_in(n->name, drop_tags)) return FALSE;
  if (name_in(n->name, allowed_tags)) {
    char *lname = g_ascii_strdown((const char *)n->name, -1);
    g_string_append_printf(out, "<%s", lname);
    g_free(lname);
    sanitize_attrs(out, n);
    g_string_append_c(out, '>');
  }
  return TRUE; /* unknown tags (html, body, o:p...) are unwrapped: children kept */
}

static void sanitize_leave(xmlNodePtr n, void *ctx)
{
  GString *out = ctx;
  if (n->type != XML_ELEMENT_NODE || !name_in(n->name, allowed_tags) || name_in(n->name, void_tags))
    return;
  char *lname = g_ascii_strdown((const char *)n->name, -1);
  g_string_append_printf(out, "</%s>", lname);
  g_free(lname);
}

char *mime_html_sanitize(const char *html, gsize len)
{
  htmlDocPtr doc = html_parse(html, len);
  if (!doc) return g_strdup("");
  GString *out = g_string_sized_new(len + 16);
  walk(doc->children, sanitize_enter, sanitize_leave, out);
  xmlFreeDoc(doc);
  return g_string_free(out, FALSE);
}
