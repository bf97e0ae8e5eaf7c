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
 * Addresses, dates and the HTML renderer live in forward_address.c, forward_date.c and
 * forward_html.c; forward_private.h holds the shared limits.
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
#include "forward_private.h"

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
  l->norm = fwd_normalise_copy(l->raw + off, l->len - off, FORWARD_MAX_VALUE);
  /* Outlook's text rendering of bold labels: "*From:* Name" */
  if (l->norm[0] == '*') {
    char *star = strchr(l->norm + 1, '*');
    if (star && star - l->norm < 48) {
      memmove(star, star + 1, strlen(star + 1) + 1);
      memmove(l->norm, l->norm + 1, strlen(l->norm + 1) + 1);
      fwd_trim_inplace(l->norm);
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
static inline char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c + ('a' - 'A')) : c; }

static int match_label(const char *s, const char **value)
{
  const char first = ascii_lower(*s);
  for (gsize k = 0; k < G_N_ELEMENTS(fwd_labels); k++) {
    const char *lab = fwd_labels[k].label;
    gsize n = fwd_labels[k].len;
    if (first != ascii_lower(*lab) || g_ascii_strncasecmp(s, lab, n) != 0) continue;
    const char *p = s + n;
    while (*p == ' ') p++;
    if (*p == ':') p++;
    else if (fwd_starts_with(p, "：")) p += strlen("：");
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
  fwd_trim_inplace(mid);
  const char *kind = NULL;
  if (g_ascii_strcasecmp(mid, "Forwarded message") == 0)
    kind = lead == 8 ? "thunderbird" : lead == 5 ? "yahoo" : "gmail"; /* 10 dashes: Gmail */
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

/* Cheap test on the raw line: can it be a separator or a From line? A line that starts with an
 * ASCII letter can only be a From label ("From", "De", "Von", "Van": a colon follows, ':' or '：')
 * or an ASCII separator ("Begin forwarded message:", or "Original" alone). Normalisation copies
 * ':', '：' and letters as they are (it only turns spaces and entities into spaces and trims),
 * so a line with neither colon that does not start with "Original" is no candidate: prose lines
 * that merely start with b, d, f, o or v are not normalised (most lines of most mail). */
static gboolean line_candidate(const FwdLine *l)
{
  int depth;
  const char *p = l->raw;
  gsize i = skip_quote(p, l->len, &depth);
  while (i < l->len && fwd_is_ws(p[i])) i++;
  if (i >= l->len || !scan_first_byte[(guchar)p[i]]) return FALSE;
  if (!g_ascii_isalpha(p[i])) return TRUE;
  if (l->len - i >= 8 && memcmp(p + i, "Original", 8) == 0) return TRUE;
  for (gsize j = i + 1; j < l->len; j++)
    if (p[j] == ':' || ((guchar)p[j] == 0xEF && j + 2 < l->len && (guchar)p[j + 1] == 0xBC && (guchar)p[j + 2] == 0x9A))
      return TRUE;
  return FALSE;
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
      /* a label alone on its line, its value on the next ("<p><b>Sent:</b></p><p>Monday...") */
      if (last >= 0 && last != F_OTHER && h->value[last][0] == '\0' && !match_separator(l->norm)) {
        g_free(h->value[last]);
        h->value[last] = g_strdup(l->norm);
        i++;
        continue;
      }
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

/* Decides whether a header block is a forward header. With a separator line: From plus one more
 * field. Without: From first, at least three fields including a date, and either a readable date
 * or an address in From (prose that happens to start with "From:" is not enough). */
static gboolean header_accept(const FwdHeader *h, gboolean after_sep)
{
  if (!h->value[F_FROM] || !h->value[F_FROM][0]) return FALSE;
  if (after_sep) return h->fields >= 2;
  if (h->fields < 3 || !h->value[F_DATE]) return FALSE;
  return forward_parse_date(h->value[F_DATE]) != 0 || fwd_has_address(h->value[F_FROM]);
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
      if (end > off && fwd_is_ws(p[end - 1])) end--;
      else if (end >= off + 2 && (guchar)p[end - 2] == 0xC2 && (guchar)p[end - 1] == 0xA0) end -= 2;
      else if (end >= off + 3 && fwd_unicode_space_len(p + end - 3) == 3) end -= 3;
      else break;
    }
    if (started || end > off) {
      started = TRUE;
      g_string_append_len(out, p + off, (gssize)(end - off));
      g_string_append_c(out, '\n');
    }
    p = next;
  }
  while (out->len > 0 && fwd_is_ws(out->str[out->len - 1])) g_string_truncate(out, out->len - 1);
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
                           strcmp(kind, "thunderbird") == 0 || strcmp(kind, "netease") == 0 ||
                           strcmp(kind, "yahoo") == 0);
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
    char *probe = forward_html_to_text(html, fwd_utf8_clip(html, FORWARD_HTML_PROBE));
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
