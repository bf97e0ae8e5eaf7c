/* forward_html.c - the HTML front-end of the forward recogniser: parses with libxml2's HTML parser
 * (no network, errors silenced, recover mode) and renders the tree to lines of text that keep the
 * labels and line structure a reader sees: block elements end lines, table cells are joined by a
 * space, <br> breaks, <hr> and Outlook's header containers (#divRplyFwdMsg, the desktop client's
 * border-top <div>) become a line of underscores, <a href="mailto:"> shows its address, script/
 * style/head are dropped. The tree is walked iteratively (no recursion on deep nesting); at most
 * FORWARD_MAX_HTML bytes are parsed and FORWARD_MAX_RENDER bytes rendered.
 */
#include "agent/mime/forward.h"

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>

#include "forward_private.h"

#define FWD_SEPARATOR_LINE "________________________________"

typedef struct {
  GString *out;
  gboolean space; /* whitespace seen since the last character */
  int pre;        /* inside <pre> */
  gboolean full;  /* FORWARD_MAX_RENDER reached */
} Render;

static gboolean at_line_start(const Render *r)
{
  return r->out->len == 0 || r->out->str[r->out->len - 1] == '\n';
}

static void render_append(Render *r, const char *s, gsize n)
{
  if (r->full) return;
  if (r->out->len + n > FORWARD_MAX_RENDER) {
    r->full = TRUE;
    return;
  }
  g_string_append_len(r->out, s, (gssize)n);
}

static void render_newline(Render *r)
{
  render_append(r, "\n", 1);
  r->space = FALSE;
}

static void render_end_line(Render *r)
{
  if (!at_line_start(r)) render_newline(r);
  r->space = FALSE;
}

static void render_text(Render *r, const char *s)
{
  if (r->pre) {
    for (const char *p = s; *p; p++) {
      if (*p == '\r') continue;
      render_append(r, p, 1);
    }
    return;
  }
  const char *p = s;
  while (*p && !r->full) {
    if (fwd_is_ws(*p)) {
      r->space = TRUE;
      p++;
      continue;
    }
    const char *q = p;
    while (*q && !fwd_is_ws(*q)) q++;
    if (r->space && !at_line_start(r)) render_append(r, " ", 1);
    r->space = FALSE;
    render_append(r, p, (gsize)(q - p));
    p = q;
  }
}

static gboolean name_is(const xmlNode *n, const char *name)
{
  return n->name && g_ascii_strcasecmp((const char *)n->name, name) == 0;
}

static gboolean is_block(const xmlNode *n)
{
  static const char *const blocks[] = { "div", "p", "blockquote", "table", "tr", "li", "ul", "ol",
                                        "h1", "h2", "h3", "h4", "h5", "h6", "pre", "section",
                                        "article", "header", "footer", "address", "center", "dl",
                                        "dt", "dd", "form", "fieldset", "body", "caption" };
  for (gsize i = 0; i < G_N_ELEMENTS(blocks); i++)
    if (name_is(n, blocks[i])) return TRUE;
  return FALSE;
}

static gboolean is_skipped(const xmlNode *n)
{
  return name_is(n, "script") || name_is(n, "style") || name_is(n, "head") || name_is(n, "title") ||
         name_is(n, "template") || name_is(n, "noscript");
}

/* Outlook's forward header containers: <div id="divRplyFwdMsg"> (OWA / new Outlook) and the
 * desktop client's <div style="border:none;border-top:solid #E1E1E1 1.0pt;..."> */
static gboolean is_outlook_container(xmlNode *n)
{
  if (!name_is(n, "div")) return FALSE;
  gboolean hit = FALSE;
  xmlChar *id = xmlGetProp(n, (const xmlChar *)"id");
  /* re-forwarded copies prefix the id: "x_divRplyFwdMsg", "x_m_2542158256977656014divRplyFwdMsg" */
  if (id) {
    gsize il = strlen((const char *)id), sl = strlen("divRplyFwdMsg");
    hit = il >= sl && g_ascii_strcasecmp((const char *)id + il - sl, "divRplyFwdMsg") == 0;
  }
  xmlFree(id);
  if (hit) return TRUE;
  xmlChar *style = xmlGetProp(n, (const xmlChar *)"style");
  if (style) {
    GString *s = g_string_new(NULL);
    for (const xmlChar *p = style; *p && s->len < 512; p++)
      if (!fwd_is_ws((char)*p)) g_string_append_c(s, g_ascii_tolower((char)*p));
    hit = strstr(s->str, "border-top:solid") != NULL && strstr(s->str, "border:none") != NULL;
    g_string_free(s, TRUE);
    xmlFree(style);
  }
  return hit;
}

static void render_enter(Render *r, xmlNode *n)
{
  if (name_is(n, "br")) {
    render_newline(r);
  } else if (name_is(n, "hr")) {
    render_end_line(r);
    render_append(r, FWD_SEPARATOR_LINE "\n", strlen(FWD_SEPARATOR_LINE) + 1);
  } else if (name_is(n, "td") || name_is(n, "th")) {
    r->space = TRUE;
  } else if (is_block(n)) {
    render_end_line(r);
    if (is_outlook_container(n)) render_append(r, FWD_SEPARATOR_LINE "\n", strlen(FWD_SEPARATOR_LINE) + 1);
    if (name_is(n, "pre")) r->pre++;
  }
}

/* <a href="mailto:a@b">Name</a> shows only the name (Foxmail, Outlook): the address is written
 * after it as " <a@b>" unless the link text already holds an '@'. */
static void render_mailto(Render *r, xmlNode *n)
{
  xmlChar *href = xmlGetProp(n, (const xmlChar *)"href");
  if (href && g_ascii_strncasecmp((const char *)href, "mailto:", 7) == 0) {
    const char *addr = (const char *)href + 7;
    gsize alen = strcspn(addr, "?");
    xmlChar *text = xmlNodeGetContent(n);
    if (alen > 0 && alen < 512 && memchr(addr, '@', alen) && !(text && strchr((const char *)text, '@'))) {
      render_append(r, " <", 2);
      render_append(r, addr, alen);
      render_append(r, ">", 1);
    }
    xmlFree(text);
  }
  xmlFree(href);
}

static void render_leave(Render *r, xmlNode *n)
{
  if (name_is(n, "a")) render_mailto(r, n);
  else if (name_is(n, "td") || name_is(n, "th")) r->space = TRUE;
  else if (is_block(n)) {
    if (name_is(n, "pre") && r->pre > 0) r->pre--;
    render_end_line(r);
  }
}

/* Renders the tree under root to lines of text, iteratively (no recursion on deep nesting). */
static void render_tree(Render *r, xmlNode *root)
{
  xmlNode *n = root;
  while (n && !r->full) {
    gboolean descend = FALSE;
    if (n->type == XML_ELEMENT_NODE) {
      if (!is_skipped(n)) {
        render_enter(r, n);
        descend = n->children != NULL;
      }
    } else if (n->type == XML_TEXT_NODE && n->content) {
      render_text(r, (const char *)n->content);
    }
    if (descend) {
      n = n->children;
      continue;
    }
    /* leave n and every ancestor whose children are done, then move to the next sibling */
    for (;;) {
      if (n->type == XML_ELEMENT_NODE && !is_skipped(n)) render_leave(r, n);
      if (n == root) {
        n = NULL;
        break;
      }
      if (n->next) {
        n = n->next;
        break;
      }
      n = n->parent;
      if (!n) break;
    }
  }
}

static gpointer init_libxml(gpointer unused)
{
  xmlInitParser();
  return NULL;
}

char *forward_html_to_text(const char *html, gsize len)
{
  static GOnce once = G_ONCE_INIT;
  g_once(&once, init_libxml, NULL);
  if (!html || len == 0) return g_strdup("");
  if (len > FORWARD_MAX_HTML) len = FORWARD_MAX_HTML;
  htmlDocPtr doc = htmlReadMemory(html, (int)len, NULL, "UTF-8",
                                  HTML_PARSE_NONET | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                                      HTML_PARSE_RECOVER);
  if (!doc) return g_strdup("");
  Render r = { .out = g_string_new(NULL) };
  xmlNode *root = xmlDocGetRootElement(doc);
  if (root) render_tree(&r, root);
  xmlFreeDoc(doc);
  return g_string_free(r.out, FALSE);
}
