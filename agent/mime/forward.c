/* forward.c - recognises the header block a mail client writes above a hand-forwarded original
 * (Gmail, Outlook in English and Chinese, Apple Mail, QQ Mail/Exmail/Foxmail, Thunderbird) and
 * reads its From/To/Cc/Subject/Date and the original's text. NetEase (163/126) webmail's
 * "-------- 转发邮件信息 --------" block is recognised too.
 *
 * One recogniser, two front-ends: forward_find_in_text works on lines of plain text;
 * forward_find_in_html parses HTML with libxml2's HTML parser, renders it to lines of text (block
 * elements end lines, table cells are joined by a space, <hr> and Outlook's reply/forward <div>s
 * become an underscore separator line) and hands the result to the same recogniser.
 *
 * Limits: only the first FORWARD_MAX_SCAN_LINES lines are searched for a block start; a block has
 * at most FORWARD_MAX_BLOCK_LINES lines; a header value keeps at most FORWARD_MAX_VALUE bytes;
 * HTML input beyond FORWARD_MAX_HTML bytes and rendered text beyond FORWARD_MAX_RENDER bytes are
 * ignored, and HTML larger than FORWARD_HTML_PROBE is parsed whole only when a prefix of it could
 * hold a block. Every pass over the input is linear. Nothing here does I/O, logs, or touches GMime;
 * this file must never look at more than the bounded prefix when deciding whether a block exists.
 */
#include "agent/mime/forward.h"

#include "agent/lib/model.h"

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <string.h>

#define FORWARD_MAX_SCAN_LINES 400       /* lines searched for the start of a block */
#define FORWARD_MAX_BLOCK_LINES 32       /* header lines (with blanks/continuations) in a block */
#define FORWARD_MAX_VALUE 8192           /* bytes kept of one header value / normalised line */
#define FORWARD_MAX_DATE_SCAN 512        /* bytes of a date string looked at */
#define FORWARD_MAX_HTML (8u << 20)      /* HTML bytes handed to libxml2 */
#define FORWARD_HTML_PROBE (256u << 10)  /* larger HTML is first probed on this prefix */
#define FORWARD_MAX_RENDER (16u << 20)   /* bytes of text rendered from HTML */

/* ---- small string helpers --------------------------------------------------------------- */

static gboolean is_ws(char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

/* Length of the Unicode space at p (NBSP, ideographic space, narrow NBSP...), 0 if none. */
static gsize unicode_space_len(const char *p)
{
  const guchar *u = (const guchar *)p;
  if (u[0] == 0xC2 && u[1] == 0xA0) return 2;                                   /* U+00A0 */
  if (u[0] == 0xE3 && u[1] == 0x80 && u[2] == 0x80) return 3;                   /* U+3000 */
  if (u[0] == 0xE2 && u[1] == 0x80 && (u[2] == 0xAF || (u[2] >= 0x80 && u[2] <= 0x8B)))
    return 3;                                                                   /* U+2000..200B, U+202F */
  return 0;
}

static gboolean starts_with(const char *s, const char *prefix)
{
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Moves len back so that s[0..len) does not end inside a UTF-8 sequence. */
static gsize utf8_clip(const char *s, gsize len)
{
  gsize end = len;
  while (end > 0 && ((guchar)s[end - 1] & 0xC0) == 0x80) end--;
  if (end > 0) {
    guchar lead = (guchar)s[end - 1];
    gsize need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if (end - 1 + need <= len) return len;
    return end - 1;
  }
  return len;
}

/* Trims ASCII and Unicode spaces at both ends, in place. Returns s. */
static char *trim_inplace(char *s)
{
  char *p = s;
  for (;;) {
    gsize u;
    if (is_ws(*p)) p++;
    else if ((u = unicode_space_len(p)) > 0) p += u;
    else break;
  }
  if (p != s) memmove(s, p, strlen(p) + 1);
  gsize n = strlen(s);
  for (;;) {
    if (n > 0 && is_ws(s[n - 1])) { n--; continue; }
    if (n >= 2 && (guchar)s[n - 2] == 0xC2 && (guchar)s[n - 1] == 0xA0) { n -= 2; continue; }
    if (n >= 3 && unicode_space_len(s + n - 3) == 3) { n -= 3; continue; }
    break;
  }
  s[n] = '\0';
  return s;
}

/* Copies at most max bytes of src[0..len) into a new string, decoding the few HTML entities that
 * clients leave in text bodies (QQ writes "&nbsp;" and "&gt;" into text/plain), turning Unicode
 * spaces into ' ' and collapsing runs of spaces. Caller frees. */
static char *normalise_copy(const char *src, gsize len, gsize max)
{
  static const struct { const char *ent; char ch; } ents[] = {
    { "&nbsp;", ' ' }, { "&lt;", '<' }, { "&gt;", '>' }, { "&quot;", '"' }, { "&amp;", '&' },
    { "&#160;", ' ' }, { "&#60;", '<' }, { "&#62;", '>' }, { "&#34;", '"' }, { "&#39;", '\'' },
  };
  if (len > max) len = utf8_clip(src, max);
  GString *out = g_string_sized_new(len + 1);
  gsize i = 0;
  while (i < len) {
    char c = src[i];
    if (c == '&') {
      gboolean hit = FALSE;
      for (gsize k = 0; k < G_N_ELEMENTS(ents); k++) {
        gsize el = strlen(ents[k].ent);
        if (i + el <= len && g_ascii_strncasecmp(src + i, ents[k].ent, el) == 0) {
          c = ents[k].ch;
          i += el;
          hit = TRUE;
          break;
        }
      }
      if (!hit) i++;
    } else {
      gsize u = unicode_space_len(src + i);
      if (u > 0 && i + u <= len) {
        c = ' ';
        i += u;
      } else {
        i++;
      }
    }
    if (c == '\t' || c == '\r' || c == '\0') c = ' ';
    if (c == ' ' && out->len > 0 && out->str[out->len - 1] == ' ') continue;
    g_string_append_c(out, c);
  }
  char *s = g_string_free(out, FALSE);
  return trim_inplace(s);
}

/* ---- lines ------------------------------------------------------------------------------- */

typedef struct {
  const char *raw;  /* start of the line in the input */
  gsize len;        /* bytes, without the line end */
  const char *next; /* start of the following line (or the terminating NUL) */
  int depth;        /* number of leading '>' quote markers */
  char *norm;       /* quote markers stripped, entities decoded, spaces collapsed, trimmed */
} FwdLine;

/* Finds the end of the line starting at p: returns its length, sets *next. Handles LF, CRLF and
 * bare CR line ends. */
static gsize line_span(const char *p, const char **next)
{
  const char *q = p + strcspn(p, "\r\n");
  gsize len = (gsize)(q - p);
  if (*q == '\r' && q[1] == '\n') q += 2;
  else if (*q) q++;
  *next = q;
  return len;
}

/* Counts and skips leading quote markers ("> > ", ">>"). Returns the offset of the text. */
static gsize skip_quote(const char *p, gsize len, int *depth)
{
  gsize i = 0;
  int d = 0;
  for (;;) {
    gsize j = i;
    while (j < len && (p[j] == ' ' || p[j] == '\t')) j++;
    if (j < len && p[j] == '>') {
      d++;
      i = j + 1;
      continue;
    }
    break;
  }
  *depth = d;
  return i;
}

/* Records where the line at p is; its normalised text is made on demand by line_norm. */
static void line_init(FwdLine *l, const char *p)
{
  l->raw = p;
  l->len = line_span(p, &l->next);
  l->depth = 0;
  l->norm = NULL;
}

/* The normalised text of a line (made once, owned by the line). */
static const char *line_norm(FwdLine *l)
{
  if (l->norm) return l->norm;
  gsize off = skip_quote(l->raw, l->len, &l->depth);
  l->norm = normalise_copy(l->raw + off, l->len - off, FORWARD_MAX_VALUE);
  /* Outlook's text rendering of bold labels: "*From:* Name" */
  if (l->norm[0] == '*') {
    char *star = strchr(l->norm + 1, '*');
    if (star && star - l->norm < 48) {
      memmove(star, star + 1, strlen(star + 1) + 1);
      memmove(l->norm, l->norm + 1, strlen(l->norm + 1) + 1);
      trim_inplace(l->norm);
    }
  }
  return l->norm;
}

/* ---- labels and separators ------------------------------------------------------------------ */

typedef enum { F_FROM, F_DATE, F_TO, F_CC, F_SUBJECT, F_OTHER, F_COUNT } FwdField;

static const struct {
  const char *label;
  gsize len;
  FwdField field;
} fwd_labels[] = {
  { "From", sizeof("From") - 1, F_FROM }, { "发件人", sizeof("发件人") - 1, F_FROM }, { "寄件者", sizeof("寄件者") - 1, F_FROM }, { "寄件人", sizeof("寄件人") - 1, F_FROM },
  { "發件人", sizeof("發件人") - 1, F_FROM }, { "De", sizeof("De") - 1, F_FROM }, { "Von", sizeof("Von") - 1, F_FROM }, { "Van", sizeof("Van") - 1, F_FROM },
  { "Sent", sizeof("Sent") - 1, F_DATE }, { "Sent Time", sizeof("Sent Time") - 1, F_DATE }, { "Date", sizeof("Date") - 1, F_DATE }, { "发送时间", sizeof("发送时间") - 1, F_DATE },
  { "發送時間", sizeof("發送時間") - 1, F_DATE }, { "傳送時間", sizeof("傳送時間") - 1, F_DATE }, { "寄件日期", sizeof("寄件日期") - 1, F_DATE }, { "发送日期", sizeof("发送日期") - 1, F_DATE }, { "日期", sizeof("日期") - 1, F_DATE },
  { "时间", sizeof("时间") - 1, F_DATE }, { "時間", sizeof("時間") - 1, F_DATE }, { "Datum", sizeof("Datum") - 1, F_DATE }, { "Gesendet", sizeof("Gesendet") - 1, F_DATE },
  { "Envoyé", sizeof("Envoyé") - 1, F_DATE }, { "Enviado", sizeof("Enviado") - 1, F_DATE }, { "Fecha", sizeof("Fecha") - 1, F_DATE },
  { "To", sizeof("To") - 1, F_TO }, { "收件人", sizeof("收件人") - 1, F_TO }, { "收件者", sizeof("收件者") - 1, F_TO }, { "An", sizeof("An") - 1, F_TO }, { "À", sizeof("À") - 1, F_TO },
  { "Para", sizeof("Para") - 1, F_TO }, { "Aan", sizeof("Aan") - 1, F_TO }, { "Pour", sizeof("Pour") - 1, F_TO },
  { "Cc", sizeof("Cc") - 1, F_CC }, { "抄送", sizeof("抄送") - 1, F_CC }, { "抄送人", sizeof("抄送人") - 1, F_CC }, { "副本", sizeof("副本") - 1, F_CC }, { "Kopie", sizeof("Kopie") - 1, F_CC },
  { "Subject", sizeof("Subject") - 1, F_SUBJECT }, { "主题", sizeof("主题") - 1, F_SUBJECT }, { "主旨", sizeof("主旨") - 1, F_SUBJECT }, { "主題", sizeof("主題") - 1, F_SUBJECT },
  { "標題", sizeof("標題") - 1, F_SUBJECT }, { "Betreff", sizeof("Betreff") - 1, F_SUBJECT }, { "Objet", sizeof("Objet") - 1, F_SUBJECT }, { "Asunto", sizeof("Asunto") - 1, F_SUBJECT },
  { "Assunto", sizeof("Assunto") - 1, F_SUBJECT }, { "Onderwerp", sizeof("Onderwerp") - 1, F_SUBJECT }, { "Oggetto", sizeof("Oggetto") - 1, F_SUBJECT },
  /* Outlook in Japanese and Korean */
  { "差出人", sizeof("差出人") - 1, F_FROM }, { "送信日時", sizeof("送信日時") - 1, F_DATE }, { "宛先", sizeof("宛先") - 1, F_TO }, { "件名", sizeof("件名") - 1, F_SUBJECT },
  { "보낸 사람", sizeof("보낸 사람") - 1, F_FROM }, { "보낸 날짜", sizeof("보낸 날짜") - 1, F_DATE }, { "받는 사람", sizeof("받는 사람") - 1, F_TO }, { "참조", sizeof("참조") - 1, F_CC },
  { "제목", sizeof("제목") - 1, F_SUBJECT },
  { "Reply-To", sizeof("Reply-To") - 1, F_OTHER }, { "Bcc", sizeof("Bcc") - 1, F_OTHER }, { "密送", sizeof("密送") - 1, F_OTHER }, { "回复至", sizeof("回复至") - 1, F_OTHER },
  { "Importance", sizeof("Importance") - 1, F_OTHER }, { "重要性", sizeof("重要性") - 1, F_OTHER }, { "Attachments", sizeof("Attachments") - 1, F_OTHER }, { "附件", sizeof("附件") - 1, F_OTHER },
};

/* If s starts with a known label followed by ':' or '：', returns the field and sets *value to
 * the text after the colon (leading spaces skipped). Returns -1 otherwise. */
static int match_label(const char *s, const char **value)
{
  for (gsize k = 0; k < G_N_ELEMENTS(fwd_labels); k++) {
    const char *lab = fwd_labels[k].label;
    gsize n = fwd_labels[k].len;
    if (g_ascii_tolower(*s) != g_ascii_tolower(*lab) || g_ascii_strncasecmp(s, lab, n) != 0) continue;
    const char *p = s + n;
    while (*p == ' ') p++;
    if (*p == ':') p++;
    else if (starts_with(p, "：")) p += strlen("：");
    else continue;
    while (*p == ' ') p++;
    *value = p;
    return (int)fwd_labels[k].field;
  }
  return -1;
}

/* Recognises a separator line. Returns the client kind, or NULL. */
static const char *match_separator(const char *s)
{
  if (g_ascii_strcasecmp(s, "Begin forwarded message:") == 0 ||
      g_ascii_strcasecmp(s, "Begin forwarded message :") == 0 ||
      strcmp(s, "下面是被转发的邮件：") == 0 || strcmp(s, "下面是被转发的邮件:") == 0)
    return "apple";
  /* the newer QQ Mail web client: a lone "Original" / "原始邮件" label beside a rule */
  if (strcmp(s, "Original") == 0 || strcmp(s, "原始邮件") == 0) return "qq";
  gsize n = strlen(s);
  if (n >= 10 && strspn(s, "_") == n) return "outlook";
  if (s[0] != '-') return NULL;
  gsize lead = strspn(s, "-");
  if (lead < 4 || lead >= n) return NULL;
  gsize trail = 0;
  while (trail < n - lead && s[n - 1 - trail] == '-') trail++;
  if (trail < 4) return NULL;
  char *mid = g_strndup(s + lead, n - lead - trail);
  trim_inplace(mid);
  const char *kind = NULL;
  if (g_ascii_strcasecmp(mid, "Forwarded message") == 0) kind = lead == 8 ? "thunderbird" : "gmail";
  else if (strcmp(mid, "转发的邮件") == 0 || strcmp(mid, "轉寄的郵件") == 0) kind = "gmail";
  else if (g_ascii_strcasecmp(mid, "Original Message") == 0) kind = "outlook";
  else if (strcmp(mid, "邮件原件") == 0 || strcmp(mid, "郵件原件") == 0) kind = "outlook";
  else if (strcmp(mid, "原始邮件") == 0 || strcmp(mid, "原始郵件") == 0)
    kind = lead >= 10 ? "qq" : "outlook";
  else if (strcmp(mid, "Original") == 0) kind = "qq";
  else if (strcmp(mid, "转发邮件信息") == 0 || strcmp(mid, "以下是转发邮件信息") == 0) kind = "netease";
  g_free(mid);
  return kind;
}

/* ---- the recogniser ------------------------------------------------------------------------ */

typedef struct {
  char *value[F_COUNT];
  int fields;     /* distinct known fields seen */
  gsize end;      /* index of the first line after the block */
  int depth;      /* quote depth of the block's lines */
} FwdHeader;

static void header_clear(FwdHeader *h)
{
  for (int i = 0; i < F_COUNT; i++) g_clear_pointer(&h->value[i], g_free);
  h->fields = 0;
}

static gboolean is_blank(FwdLine *l)
{
  return line_norm(l)[0] == '\0';
}

/* First bytes a line must start with (after quote markers and spaces) to be worth normalising in
 * the scan: separators, From labels, and whatever normalisation could strip (NBSP, ideographic
 * and other Unicode spaces, "&nbsp;", '*'). Built once. */
static gboolean scan_first_byte[256];

static gpointer init_scan_table(gpointer unused)
{
  static const char *const starts[] = { "-", "_", "*", "&", "B", "b", "O", "o",
                                        "下面是被转发的邮件", "原始邮件",
                                        "\xC2\xA0", "\xE3\x80\x80", "\xE2\x80\x80" };
  for (gsize k = 0; k < G_N_ELEMENTS(starts); k++) scan_first_byte[(guchar)starts[k][0]] = TRUE;
  for (gsize k = 0; k < G_N_ELEMENTS(fwd_labels); k++) {
    if (fwd_labels[k].field != F_FROM) continue;
    guchar c = (guchar)fwd_labels[k].label[0];
    scan_first_byte[c] = TRUE;
    scan_first_byte[(guchar)g_ascii_tolower((char)c)] = TRUE;
    scan_first_byte[(guchar)g_ascii_toupper((char)c)] = TRUE;
  }
  return NULL;
}

/* Cheap test on the raw line: can it be a separator or a From line? */
static gboolean line_candidate(const FwdLine *l)
{
  int depth;
  gsize i = skip_quote(l->raw, l->len, &depth);
  while (i < l->len && is_ws(l->raw[i])) i++;
  return i < l->len && scan_first_byte[(guchar)l->raw[i]];
}

/* Reads header lines from lines[start]. After a separator, leading blank lines and further
 * separators are skipped and the block may start with any label; without one the block must start
 * with a From label. Returns TRUE when at least one field was read; h->end is set. */
static gboolean read_header(FwdLine *lines, gsize n, gsize start, gboolean after_sep, FwdHeader *h)
{
  gsize i = start;
  if (after_sep) {
    gsize skipped = 0;
    while (i < n && skipped < 4 && (is_blank(&lines[i]) || match_separator(line_norm(&lines[i])))) {
      i++;
      skipped++;
    }
  }
  if (i >= n) return FALSE;
  line_norm(&lines[i]);
  h->depth = lines[i].depth;
  int last = -1;
  gsize limit = MIN(n, i + FORWARD_MAX_BLOCK_LINES);
  while (i < limit) {
    FwdLine *l = &lines[i];
    const char *value = NULL;
    if (is_blank(l)) {
      /* one blank line inside a block is tolerated when another new label follows it */
      if (i + 1 < limit) {
        int f = match_label(line_norm(&lines[i + 1]), &value);
        if (f >= 0 && (f == F_OTHER || !h->value[f]) && h->fields > 0) {
          i++;
          continue;
        }
      }
      break;
    }
    int f = match_label(l->norm, &value);
    if (f < 0) {
      /* a wrapped address list: "To: a <a@x>;\n b <b@x>" */
      if ((last == F_TO || last == F_CC || last == F_FROM) && strchr(l->norm, '@') &&
          !match_separator(l->norm)) {
        gsize have = strlen(h->value[last]);
        if (have + 1 + strlen(l->norm) <= FORWARD_MAX_VALUE) {
          char *joined = g_strconcat(h->value[last], " ", l->norm, NULL);
          g_free(h->value[last]);
          h->value[last] = joined;
        }
        i++;
        continue;
      }
      break;
    }
    if (h->fields == 0 && !after_sep && f != F_FROM) return FALSE;
    if (f != F_OTHER) {
      if (h->value[f]) break; /* a second From: starts something else */
      h->value[f] = g_strdup(value);
      h->fields++;
    }
    last = f;
    i++;
  }
  h->end = i;
  return h->fields > 0;
}

static void parse_addresses(const char *list, int role, GPtrArray *out, guint max);

static gboolean has_address(const char *s)
{
  if (!s) return FALSE;
  GPtrArray *tmp = g_ptr_array_new_with_free_func((GDestroyNotify)ma_participant_free);
  parse_addresses(s, MA_ROLE_FROM, tmp, 1);
  gboolean ok = tmp->len > 0;
  g_ptr_array_free(tmp, TRUE);
  return ok;
}

/* Decides whether a header block is a forward header. With a separator line: From plus one more
 * field. Without: From first, at least three fields including a date, and either a readable date
 * or an address in From (prose that happens to start with "From:" is not enough). */
static gboolean header_accept(const FwdHeader *h, gboolean after_sep)
{
  if (!h->value[F_FROM] || !h->value[F_FROM][0]) return FALSE;
  if (after_sep) return h->fields >= 2;
  if (h->fields < 3 || !h->value[F_DATE]) return FALSE;
  return forward_parse_date(h->value[F_DATE]) != 0 || has_address(h->value[F_FROM]);
}

/* The original's text: every raw line from `from` to the end of the input, with `depth` quote
 * markers removed from each line, leading blank lines dropped. Linear in the remaining input. */
static char *body_from(const char *from, int depth)
{
  GString *out = g_string_new(NULL);
  const char *p = from;
  gboolean started = FALSE;
  while (*p) {
    const char *next;
    gsize len = line_span(p, &next);
    gsize off = 0;
    for (int d = 0; d < depth; d++) {
      gsize j = off;
      while (j < len && (p[j] == ' ' || p[j] == '\t')) j++;
      if (j < len && p[j] == '>') {
        off = j + 1;
        if (off < len && p[off] == ' ') off++;
      } else {
        break;
      }
    }
    /* trailing spaces (also NBSP: "<div>&nbsp;</div>" lines) are dropped */
    gsize end = len;
    for (;;) {
      if (end > off && is_ws(p[end - 1])) end--;
      else if (end >= off + 2 && (guchar)p[end - 2] == 0xC2 && (guchar)p[end - 1] == 0xA0) end -= 2;
      else if (end >= off + 3 && unicode_space_len(p + end - 3) == 3) end -= 3;
      else break;
    }
    if (started || end > off) {
      started = TRUE;
      g_string_append_len(out, p + off, (gssize)(end - off));
      g_string_append_c(out, '\n');
    }
    p = next;
  }
  while (out->len > 0 && is_ws(out->str[out->len - 1])) g_string_truncate(out, out->len - 1);
  return g_string_free(out, FALSE);
}

void ma_forward_block_free(MaForwardBlock *b)
{
  if (!b) return;
  g_free(b->from);
  g_free(b->to);
  g_free(b->cc);
  g_free(b->subject);
  g_free(b->date);
  g_free(b->body);
  g_free(b);
}

int forward_find_in_text(const char *text, MaForwardBlock **out)
{
  g_return_val_if_fail(out != NULL, 0);
  *out = NULL;
  if (!text || !*text) return 0;

  static GOnce once = G_ONCE_INIT;
  g_once(&once, init_scan_table, NULL);

  /* Split the bounded prefix (the scan window plus room for a block at its end) into lines;
   * a line is normalised only when the scan or a block reader looks at it. */
  gsize cap = FORWARD_MAX_SCAN_LINES + FORWARD_MAX_BLOCK_LINES + 8;
  FwdLine small[64];
  FwdLine *lines = small;
  gsize alloc = G_N_ELEMENTS(small);
  gsize n = 0;
  const char *p = text;
  while (*p && n < cap) {
    if (n == alloc) {
      gsize grow = MIN(cap, alloc * 4);
      FwdLine *bigger = g_new(FwdLine, grow);
      memcpy(bigger, lines, n * sizeof *lines);
      if (lines != small) g_free(lines);
      lines = bigger;
      alloc = grow;
    }
    line_init(&lines[n], p);
    p = lines[n].next;
    n++;
  }

  int found = 0;
  gsize scan = MIN(n, (gsize)FORWARD_MAX_SCAN_LINES);
  for (gsize i = 0; i < scan && !found; i++) {
    if (!line_candidate(&lines[i])) continue;
    const char *norm = line_norm(&lines[i]);
    const char *kind = match_separator(norm);
    gboolean after_sep = kind != NULL;
    const char *dummy;
    if (!after_sep && match_label(norm, &dummy) != F_FROM) continue;
    FwdHeader h = { 0 };
    if (read_header(lines, n, after_sep ? i + 1 : i, after_sep, &h) && header_accept(&h, after_sep)) {
      MaForwardBlock *b = g_new0(MaForwardBlock, 1);
      b->kind = kind ? kind : "outlook";
      b->marked = kind && (strcmp(kind, "gmail") == 0 || strcmp(kind, "apple") == 0 ||
                           strcmp(kind, "thunderbird") == 0 || strcmp(kind, "netease") == 0);
      for (gsize k = 0; k < i; k++)
        if (!is_blank(&lines[k])) b->note_lines++;
      b->from = g_steal_pointer(&h.value[F_FROM]);
      b->to = g_steal_pointer(&h.value[F_TO]);
      b->cc = g_steal_pointer(&h.value[F_CC]);
      b->subject = g_steal_pointer(&h.value[F_SUBJECT]);
      b->date = g_steal_pointer(&h.value[F_DATE]);
      if (h.end < n) b->body = body_from(lines[h.end].raw, h.depth);
      else b->body = p && *p ? body_from(p, h.depth) : g_strdup("");
      *out = b;
      found = 1;
    }
    header_clear(&h);
  }

  for (gsize i = 0; i < n; i++) g_free(lines[i].norm);
  if (lines != small) g_free(lines);
  return found;
}

/* ---- addresses ----------------------------------------------------------------------------- */

static gboolean domain_char_ok(guchar c)
{
  return g_ascii_isalnum(c) || c == '-' || c == '.' || c == '_' || c >= 0x80;
}

/* Validates and normalises "local@domain": trims quotes and "mailto:", lower-cases the domain and
 * decodes IDN labels. Returns a new string or NULL when it is not an address. */
static char *clean_address(const char *s, gsize len)
{
  char *a = g_strndup(s, len);
  trim_inplace(a);
  char *p = a;
  if (g_ascii_strncasecmp(p, "mailto:", 7) == 0) p += 7;
  gsize n = strlen(p);
  while (n > 0 && strchr("'\"`.,;:)]>", p[n - 1])) p[--n] = '\0';
  while (*p && strchr("'\"`(<[", *p)) p++;
  char *at = strrchr(p, '@');
  char *result = NULL;
  if (at && at != p && at[1]) {
    gboolean ok = TRUE;
    for (const char *q = p; q < at && ok; q++)
      if (is_ws(*q) || strchr("<>[](),;:\"", *q)) ok = FALSE;
    gboolean alnum = FALSE;
    for (const char *q = at + 1; *q && ok; q++) {
      if (!domain_char_ok((guchar)*q)) ok = FALSE;
      if (g_ascii_isalnum(*q) || (guchar)*q >= 0x80) alnum = TRUE;
    }
    if (ok && alnum && at[1] != '.' && !strstr(at + 1, "..") && g_utf8_validate(p, -1, NULL)) {
      char *dom = g_utf8_strdown(at + 1, -1);
      if (strstr(dom, "xn--")) {
        char *uni = g_hostname_to_unicode(dom);
        if (uni) {
          g_free(dom);
          dom = uni;
        }
      }
      result = g_strdup_printf("%.*s@%s", (int)(at - p), p, dom);
      g_free(dom);
    }
  }
  g_free(a);
  return result;
}

/* Cleans a display name: quotes and stray separators removed, spaces collapsed. NULL when empty. */
static char *clean_name(const char *s, gsize len)
{
  char *t = normalise_copy(s, len, FORWARD_MAX_VALUE);
  static const char *const strip[] = { "\"", "'", "“", "”", "‘", "’", ";", ",", "；", "，", " " };
  /* strip from both ends by moving indices: linear however many quotes there are */
  gsize b = 0, e = strlen(t);
  gboolean changed = TRUE;
  while (changed && b < e) {
    changed = FALSE;
    for (gsize k = 0; k < G_N_ELEMENTS(strip); k++) {
      gsize sl = strlen(strip[k]);
      if (e - b >= sl && memcmp(t + b, strip[k], sl) == 0) {
        b += sl;
        changed = TRUE;
      }
      if (e - b >= sl && memcmp(t + e - sl, strip[k], sl) == 0) {
        e -= sl;
        changed = TRUE;
      }
    }
  }
  if (b >= e) {
    g_free(t);
    return NULL;
  }
  char *r = g_strndup(t + b, e - b);
  g_free(t);
  return r;
}

/* Finds the address in one list element: a_start, a_len give the address text; cut_start,
 * cut_len the span to remove to leave the display name. */
static gboolean find_address(const char *s, gsize len, gsize *a_start, gsize *a_len, gsize *cut_start,
                             gsize *cut_len)
{
  /* "<a@b>" (also "<mailto:a@b>"), then "[mailto:a@b]" / "[a@b]", then "(a@b)": last one wins
   * ("a@b <mailto:a@b>" names itself; the bracketed one is the address). */
  static const char open[] = "<[(";
  static const char close[] = ">])";
  for (int k = 0; k < 3; k++) {
    gssize best = -1;
    gsize best_end = 0;
    for (gsize i = 0; i < len; i++) {
      if (s[i] != open[k]) continue;
      gsize j = i + 1;
      while (j < len && s[j] != close[k] && s[j] != open[k]) j++;
      if (j >= len || s[j] != close[k]) continue;
      if (memchr(s + i + 1, '@', j - i - 1)) {
        best = (gssize)i;
        best_end = j;
      }
      i = j;
    }
    if (best >= 0) {
      *a_start = (gsize)best + 1;
      *a_len = best_end - (gsize)best - 1;
      *cut_start = (gsize)best;
      *cut_len = best_end - (gsize)best + 1;
      return TRUE;
    }
  }
  /* a bare token containing '@' */
  const char *at = memchr(s, '@', len);
  if (!at) return FALSE;
  gsize i = (gsize)(at - s), b = i, e = i;
  while (b > 0 && !is_ws(s[b - 1]) && !strchr("<>[]()\"", s[b - 1])) b--;
  while (e < len && !is_ws(s[e]) && !strchr("<>[]()\"", s[e])) e++;
  *a_start = b;
  *a_len = e - b;
  *cut_start = b;
  *cut_len = e - b;
  return TRUE;
}

/* Adds the participant of one list element unless its address is already in `seen` (lower-cased
 * addresses of this list, owned by the caller). Returns TRUE when one was added. */
static gboolean add_element(const char *s, gsize len, int role, GPtrArray *out, GHashTable *seen)
{
  /* "A <a@x> on behalf of B <b@y>", "A <a@x> 代表 B <b@y>": the author is B */
  static const char *const behalf[] = { " on behalf of ", "代表" };
  for (gsize k = 0; k < G_N_ELEMENTS(behalf); k++) {
    const char *m = g_strstr_len(s, (gssize)len, behalf[k]);
    if (m) {
      const char *after = m + strlen(behalf[k]);
      gsize rest = len - (gsize)(after - s);
      if (memchr(after, '@', rest)) {
        s = after;
        len = rest;
      }
    }
  }
  gsize as, al, cs, cl;
  if (!find_address(s, len, &as, &al, &cs, &cl)) return FALSE;
  char *addr = clean_address(s + as, al);
  if (!addr) return FALSE;
  char *key = g_ascii_strdown(addr, -1);
  if (g_hash_table_contains(seen, key)) {
    g_free(key);
    g_free(addr);
    return FALSE;
  }
  g_hash_table_add(seen, key);
  GString *name_src = g_string_new_len(s, (gssize)cs);
  g_string_append_c(name_src, ' ');
  g_string_append_len(name_src, s + cs + cl, (gssize)(len - cs - cl));
  char *name = clean_name(name_src->str, name_src->len);
  g_string_free(name_src, TRUE);
  if (name) {
    char *name_addr = clean_address(name, strlen(name));
    if (name_addr && g_ascii_strcasecmp(name_addr, addr) == 0) g_clear_pointer(&name, g_free);
    g_free(name_addr);
  }
  g_ptr_array_add(out, ma_participant_new((MaRole)role, name, addr));
  g_free(name);
  g_free(addr);
  return TRUE;
}

typedef struct {
  gsize start, len;
} Span;

/* forward_parse_addresses with a cap: stops after `max` participants were added. */
static void parse_addresses(const char *list, int role, GPtrArray *out, guint max)
{
  if (!list) return;
  gsize len = strlen(list);
  if (len > FORWARD_MAX_VALUE) {
    /* keep whole elements: cut after the last separator before the cap */
    len = utf8_clip(list, FORWARD_MAX_VALUE);
    gsize cut = len;
    while (cut > 0 && list[cut - 1] != ',' && list[cut - 1] != ';') cut--;
    if (cut > 0) len = cut;
  }
  guint added = 0;

  /* Pass 1: is ';' used as the separator at top level? Then ',' belongs to names ("Pan, Xinhui"). */
  gboolean semicolons = FALSE;
  {
    int angle = 0, square = 0, paren = 0;
    gboolean quote = FALSE;
    for (gsize i = 0; i < len; i++) {
      char c = list[i];
      if (c == '"') quote = !quote;
      else if (quote) continue;
      else if (c == '<') angle++;
      else if (c == '>' && angle > 0) angle--;
      else if (c == '[') square++;
      else if (c == ']' && square > 0) square--;
      else if (c == '(') paren++;
      else if (c == ')' && paren > 0) paren--;
      else if (!angle && !square && !paren &&
               (c == ';' || (i + 3 <= len && memcmp(list + i, "；", 3) == 0)))
        semicolons = TRUE;
    }
  }

  /* Pass 2: split at top-level separators. */
  GArray *spans = g_array_new(FALSE, FALSE, sizeof(Span));
  {
    int angle = 0, square = 0, paren = 0;
    gboolean quote = FALSE;
    gsize start = 0;
    for (gsize i = 0; i <= len; i++) {
      gsize sep = 0;
      if (i == len) {
        sep = 1;
      } else {
        char c = list[i];
        if (c == '"') quote = !quote;
        else if (quote) continue;
        else if (c == '<') angle++;
        else if (c == '>' && angle > 0) angle--;
        else if (c == '[') square++;
        else if (c == ']' && square > 0) square--;
        else if (c == '(') paren++;
        else if (c == ')' && paren > 0) paren--;
        else if (!angle && !square && !paren) {
          if (semicolons) {
            if (c == ';') sep = 1;
            else if (i + 3 <= len && memcmp(list + i, "；", 3) == 0) sep = 3;
          } else {
            if (c == ',') sep = 1;
            else if (i + 3 <= len && memcmp(list + i, "，", 3) == 0) sep = 3;
          }
        }
      }
      if (sep) {
        Span sp = { start, i - start };
        g_array_append_val(spans, sp);
        start = i + sep;
        i += sep - 1;
      }
    }
  }

  GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  /* Pass 3: in a ','-separated list an element without '@' is the start of the next one's name
   * ("Smith, John <j@x>"); in a ';'-separated list it is a name without an address, dropped. */
  gsize pending = G_MAXSIZE;
  for (guint k = 0; k < spans->len; k++) {
    Span sp = g_array_index(spans, Span, k);
    gsize start = pending != G_MAXSIZE ? pending : sp.start;
    gsize end = sp.start + sp.len;
    if (!memchr(list + sp.start, '@', sp.len)) {
      if (!semicolons && pending == G_MAXSIZE) pending = sp.start; /* ';' lists: a bare name */
      continue;
    }
    pending = G_MAXSIZE;
    if (add_element(list + start, end - start, role, out, seen) && ++added >= max) break;
  }
  g_array_free(spans, TRUE);
  g_hash_table_destroy(seen);
}

void forward_parse_addresses(const char *list, int role, GPtrArray *out)
{
  g_return_if_fail(out != NULL);
  parse_addresses(list, role, out, G_MAXUINT);
}

/* ---- dates --------------------------------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static gint64 days_from_civil(int y, int m, int d)
{
  y -= m <= 2;
  gint64 era = (y >= 0 ? y : y - 399) / 400;
  gint64 yoe = y - era * 400;
  gint64 doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  gint64 doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
  static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
  if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
  return dm[m - 1];
}

/* Month of an English, French, German or Spanish month name or abbreviation (lower case, UTF-8,
 * at least 3 bytes, a prefix of the full name: "jan", "sept", "févr", "märz", "dic"); 0 if none. */
static int month_from_word(const char *w)
{
  static const char *const months[][12] = {
    { "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
      "november", "december" },
    { "janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
      "novembre", "décembre" },
    { "januar", "februar", "märz", "april", "mai", "juni", "juli", "august", "september", "oktober",
      "november", "dezember" },
    { "enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
      "noviembre", "diciembre" },
  };
  gsize n = strlen(w);
  if (n < 3) return 0;
  for (gsize l = 0; l < G_N_ELEMENTS(months); l++)
    for (int i = 0; i < 12; i++)
      if (n <= strlen(months[l][i]) && strncmp(w, months[l][i], n) == 0) return i + 1;
  return 0;
}

/* Offset in minutes east of UTC of a zone abbreviation; G_MININT when unknown. */
static int zone_from_word(const char *w)
{
  static const struct { const char *name; int minutes; } zones[] = {
    { "ut", 0 },     { "utc", 0 },     { "gmt", 0 },    { "z", 0 },      { "wet", 0 },
    { "west", 60 },  { "bst", 60 },    { "cet", 60 },   { "cest", 120 }, { "eet", 120 },
    { "eest", 180 }, { "msk", 180 },   { "ist", 330 },  { "hkt", 480 },  { "sgt", 480 },
    { "awst", 480 }, { "jst", 540 },   { "kst", 540 },  { "aest", 600 }, { "aedt", 660 },
    { "nzst", 720 }, { "nzdt", 780 },  { "est", -300 }, { "edt", -240 }, { "cst", -360 },
    { "cdt", -300 }, { "mst", -420 },  { "mdt", -360 }, { "pst", -480 }, { "pdt", -420 },
    { "akst", -540 }, { "akdt", -480 }, { "hst", -600 },
  };
  for (gsize i = 0; i < G_N_ELEMENTS(zones); i++)
    if (strcmp(w, zones[i].name) == 0) return zones[i].minutes;
  return G_MININT;
}

/* Reads digits at *p (at most 9). Returns the value, sets *ndig and advances *p. */
static int read_num(const char **p, int *ndig)
{
  int v = 0, n = 0;
  while (g_ascii_isdigit(**p)) {
    if (n < 9) v = v * 10 + (**p - '0');
    n++;
    (*p)++;
  }
  *ndig = n;
  return v;
}

/* "+0800", "+08:00", "+8", "-05" after GMT/UTC or a time. Returns minutes, G_MININT if none. */
static int read_offset(const char **pp)
{
  const char *p = *pp;
  int sign = 0;
  if (*p == '+') sign = 1;
  else if (*p == '-') sign = -1;
  else if (starts_with(p, "−")) { sign = -1; p += strlen("−") - 1; }
  if (!sign || !g_ascii_isdigit(p[1])) return G_MININT;
  p++;
  int nd;
  int v = read_num(&p, &nd);
  int minutes;
  if (nd == 4) minutes = (v / 100) * 60 + v % 100;
  else if (nd <= 2) {
    minutes = v * 60;
    if (*p == ':' && g_ascii_isdigit(p[1])) {
      p++;
      int nd2;
      int mm = read_num(&p, &nd2);
      minutes += mm;
    }
  } else return G_MININT;
  if (minutes > 14 * 60) return G_MININT;
  *pp = p;
  return sign * minutes;
}

gint64 forward_parse_date(const char *text)
{
  if (!text) return 0;
  int year = -1, mon = -1, day = -1, hour = -1, min = -1, sec = 0;
  int ampm = 0; /* 1 am, 2 pm, 3 noon (中午) */
  gboolean mon_word = FALSE; /* mon came from a month name */
  int tz = G_MININT;
  const char *p = text;
  const char *end = text + strlen(text);
  if (end - text > FORWARD_MAX_DATE_SCAN) end = text + FORWARD_MAX_DATE_SCAN;

  while (p < end && *p) {
    guchar c = (guchar)*p;
    if (g_ascii_isdigit(c)) {
      int nd;
      int v = read_num(&p, &nd);
      if (*p == ':' && g_ascii_isdigit(p[1]) && hour < 0) {
        hour = v;
        p++;
        int nd2;
        min = read_num(&p, &nd2);
        if (*p == ':' && g_ascii_isdigit(p[1])) {
          p++;
          sec = read_num(&p, &nd2);
        }
        if (*p == '.' && g_ascii_isdigit(p[1])) { /* fractions */
          p++;
          read_num(&p, &nd2);
        }
        continue;
      }
      if (starts_with(p, "年")) { year = nd == 2 ? 2000 + v : v; p += strlen("年"); continue; }
      if (starts_with(p, "月")) { mon = v; p += strlen("月"); continue; }
      if (starts_with(p, "日") || starts_with(p, "号") || starts_with(p, "號")) {
        day = v;
        p += 3;
        continue;
      }
      if (starts_with(p, "点") || starts_with(p, "时") || starts_with(p, "時") || starts_with(p, "點")) {
        if (hour < 0) { hour = v; min = 0; }
        p += 3;
        continue;
      }
      if (starts_with(p, "分")) { if (hour >= 0) min = v; p += 3; continue; }
      if (starts_with(p, "秒")) { sec = v; p += 3; continue; }
      if ((*p == '-' || *p == '/' || *p == '.') && g_ascii_isdigit(p[1]) && mon < 0) {
        char sepc = *p;
        const char *q = p + 1;
        int nd2, nd3 = 0;
        int b = read_num(&q, &nd2), cval = -1;
        if (*q == sepc && g_ascii_isdigit(q[1])) {
          q++;
          cval = read_num(&q, &nd3);
        }
        if (cval >= 0) {
          if (nd == 4) { year = v; mon = b; day = cval; }
          else if (nd3 == 4 || nd3 == 2) {
            year = nd3 == 2 ? 2000 + cval : cval;
            if (sepc == '.' || v > 12) { day = v; mon = b; }
            else { mon = v; day = b; }
          }
          p = q;
          continue;
        }
      }
      if (nd == 4 && year < 0) year = v;
      else if (nd <= 2 && day < 0) day = v;
      else if (nd <= 2 && year < 0 && mon > 0) year = 2000 + v;
      continue;
    }
    if ((c == '+' || c == '-' || starts_with(p, "−")) && hour >= 0 && tz == G_MININT) {
      const char *q = p;
      int off = read_offset(&q);
      if (off != G_MININT) {
        tz = off;
        p = q;
        continue;
      }
    }
    if (g_ascii_isalpha(c)) {
      /* a word: ASCII letters and Latin-1 letters (é, ä, û: lead byte 0xC3), dots dropped */
      char word[24];
      gsize wn = 0;
      while (p < end) {
        if (g_ascii_isalpha(*p)) {
          if (wn + 1 < sizeof word) word[wn++] = g_ascii_tolower(*p);
          p++;
        } else if ((guchar)p[0] == 0xC3 && ((guchar)p[1] & 0xC0) == 0x80) {
          if (wn + 2 < sizeof word) {
            word[wn++] = p[0];
            /* Latin-1 capitals (U+00C0..U+00DE) to small: +0x20 */
            guchar c2 = (guchar)p[1];
            word[wn++] = (char)((c2 >= 0x80 && c2 <= 0x9E && c2 != 0x97) ? c2 + 0x20 : c2);
          }
          p += 2;
        } else if (*p == '.') {
          p++;
        } else {
          break;
        }
      }
      word[wn] = '\0';
      int m;
      if (strcmp(word, "am") == 0) ampm = 1;
      else if (strcmp(word, "pm") == 0) ampm = 2;
      /* a later month name wins over an earlier word ("mar., 9 ene 2024": Spanish Tuesday) */
      else if ((m = month_from_word(word)) > 0 && (mon < 0 || mon_word)) { mon = m; mon_word = TRUE; }
      else if ((m = zone_from_word(word)) != G_MININT && tz == G_MININT) {
        tz = m;
        if (strcmp(word, "gmt") == 0 || strcmp(word, "utc") == 0 || strcmp(word, "ut") == 0) {
          const char *q = p;
          int off = read_offset(&q);
          if (off != G_MININT) {
            tz = off;
            p = q;
          }
        }
      }
      continue;
    }
    if (c >= 0x80) {
      if (starts_with(p, "上午") || starts_with(p, "凌晨") || starts_with(p, "早上") || starts_with(p, "清晨"))
        ampm = 1, p += 6;
      else if (starts_with(p, "下午") || starts_with(p, "晚上") || starts_with(p, "傍晚") || starts_with(p, "夜里"))
        ampm = 2, p += 6;
      else if (starts_with(p, "中午"))
        ampm = 3, p += 6;
      else {
        p++;
        while (p < end && ((guchar)*p & 0xC0) == 0x80) p++;
      }
      continue;
    }
    p++;
  }

  if (year < 0 || mon < 0 || day < 0) return 0;
  if (hour < 0) { hour = 0; min = 0; }
  if (min < 0) min = 0;
  if (ampm == 2 && hour < 12) hour += 12;
  else if (ampm == 1 && hour == 12) hour = 0;
  else if (ampm == 3 && hour < 11) hour += 12;
  if (year < 1970 || year > 2200 || mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon))
    return 0;
  if (hour > 23 || min > 59 || sec > 60) return 0;
  if (tz == G_MININT) tz = 0;
  gint64 t = days_from_civil(year, mon, day) * 86400 + hour * 3600 + min * 60 + sec;
  return t - (gint64)tz * 60;
}

/* ---- HTML front-end -------------------------------------------------------------------------- */

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
    if (is_ws(*p)) {
      r->space = TRUE;
      p++;
      continue;
    }
    const char *q = p;
    while (*q && !is_ws(*q)) q++;
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
      if (!is_ws((char)*p)) g_string_append_c(s, g_ascii_tolower((char)*p));
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

int forward_find_in_html(const char *html, gsize len, MaForwardBlock **out)
{
  g_return_val_if_fail(out != NULL, 0);
  *out = NULL;
  if (!html || len == 0) return 0;
  if (len > FORWARD_HTML_PROBE) {
    /* Large HTML: render a prefix first. The block must start within the first
     * FORWARD_MAX_SCAN_LINES lines, and a prefix renders those lines exactly as the whole document
     * would, so when the prefix already yields more lines than the recogniser reads and has no
     * block, the whole document has none either. Otherwise render everything (for the body). */
    char *probe = forward_html_to_text(html, utf8_clip(html, FORWARD_HTML_PROBE));
    gsize lines = 0;
    for (const char *p = probe; *p && lines <= FORWARD_MAX_SCAN_LINES + FORWARD_MAX_BLOCK_LINES + 8; p++)
      if (*p == '\n') lines++;
    MaForwardBlock *b = NULL;
    int hit = forward_find_in_text(probe, &b);
    ma_forward_block_free(b);
    g_free(probe);
    if (!hit && lines > FORWARD_MAX_SCAN_LINES + FORWARD_MAX_BLOCK_LINES + 8) return 0;
  }
  char *text = forward_html_to_text(html, len);
  int found = forward_find_in_text(text, out);
  g_free(text);
  return found;
}
