/* search_tokenize.c - the search index's tokenizer (see search_tokenize.h for the rules). One pass
 * over the bytes with a small state: the word being read (its byte range) and the CJK run being
 * cut (its previous character), and a loop of its own for ASCII (most mail: words of ASCII letters
 * and digits, handed out where they lie when lower case already, and the separators between them).
 * Normalisation (NFKC, case folding) runs on at most SEARCH_WORD_SCAN bytes of a word, so a
 * hostile 10 MB "word" costs one bounded token.
 *
 * Must never read past len, allocate in proportion to the input, or keep state between calls.
 */
#include "search_tokenize.h"

#include <string.h>

/* Bytes of a word that are normalised; the token is cut to SEARCH_TOKEN_MAX afterwards. */
#define SEARCH_WORD_SCAN (SEARCH_TOKEN_MAX * 2)

gboolean search_is_cjk(gunichar c)
{
  if (c < 0x1100) return FALSE; /* fast path: Latin, Greek, Cyrillic... */
  switch (c) {
  case 0x3005: /* 々 ideographic iteration mark */
  case 0x3006: /* 〆 */
  case 0x303B: /* 〻 */
  case 0x30FC: /* ー katakana prolonged sound mark (script Common) */
  case 0xFF70: /* ｰ its half-width form */
    return TRUE;
  default:
    break;
  }
  switch (g_unichar_get_script(c)) {
  case G_UNICODE_SCRIPT_HAN:
  case G_UNICODE_SCRIPT_HIRAGANA:
  case G_UNICODE_SCRIPT_KATAKANA:
  case G_UNICODE_SCRIPT_HANGUL:
    return TRUE;
  default:
    return FALSE;
  }
}

/* Length of s[0..n) cut to at most max bytes without splitting a UTF-8 sequence. */
static gsize utf8_cut(const char *s, gsize n, gsize max)
{
  if (n <= max) return n;
  gsize cut = max;
  while (cut > 0 && ((guchar)s[cut] & 0xC0) == 0x80) cut--;
  return cut;
}

typedef struct {
  SearchTokenFn emit;
  void *ctx;
} Sink;

/* An ASCII letter or digit lower-cased: bit 0x20 makes 'A'..'Z' 'a'..'z' and is set in every
 * digit and lower-case letter already (g_ascii_tolower is a call per byte, a range test a branch). */
#define ASCII_ALNUM_LOWER(c) ((char)((c) | 0x20))

/* Per byte: an ASCII letter or digit lower-cased; 1 for any other ASCII byte (a separator between
 * words); 0 for a byte above 0x7F. One load answers both questions the ASCII loops ask of a byte,
 * where g_ascii_isalnum, a range test and a lower-casing took three. */
static const char ascii_class[256] = {
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 1, 1, 1, 1, 1, 1,
  1, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
  'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 1, 1, 1, 1, 1,
  1, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
  'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 1, 1, 1, 1, 1,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/* A word of ASCII letters and digits text[start..end), lower-cased and cut to SEARCH_TOKEN_MAX bytes. */
static int emit_ascii_word(const Sink *k, const char *text, gsize start, gsize end)
{
  char buf[SEARCH_TOKEN_MAX];
  gsize m = MIN(end - start, (gsize)SEARCH_TOKEN_MAX);
  for (gsize i = 0; i < m; i++) buf[i] = ASCII_ALNUM_LOWER(text[start + i]);
  return k->emit(k->ctx, buf, (int)m, (int)start, (int)end);
}

/* Emits text[start..end) normalised: ASCII lower-cased in place, anything else NFKC + case fold. */
static int emit_normalised(const Sink *k, const char *text, gsize start, gsize end, gboolean fold)
{
  const char *s = text + start;
  gsize n = utf8_cut(s, end - start, SEARCH_WORD_SCAN);
  gboolean ascii = TRUE;
  for (gsize i = 0; i < n && ascii; i++) ascii = (guchar)s[i] < 0x80;
  if (ascii && fold) return emit_ascii_word(k, text, start, end); /* unfolded ASCII: NFKC keeps it */
  /* s[0..n) is valid UTF-8: the caller only extends a token over validated characters */
  g_autofree char *nfkc = g_utf8_normalize(s, (gssize)n, G_NORMALIZE_NFKC);
  if (!nfkc) return 0;
  g_autofree char *folded = fold ? g_utf8_casefold(nfkc, -1) : NULL;
  const char *t = folded ? folded : nfkc;
  gsize m = utf8_cut(t, strlen(t), SEARCH_TOKEN_MAX);
  if (m == 0) return 0;
  return k->emit(k->ctx, t, (int)m, (int)start, (int)end);
}

/* A CJK token (one or two characters): raw bytes unless a character has a compatibility form
 * (half-width katakana, full-width forms, compatibility ideographs), which NFKC maps. */
static int emit_cjk(const Sink *k, const char *text, gsize start, gsize end, gboolean compat)
{
  if (compat) return emit_normalised(k, text, start, end, FALSE);
  return k->emit(k->ctx, text + start, (int)(end - start), (int)start, (int)end);
}

/* ASCII from text[*pos] on, while no word or CJK run is open: separators skipped and words of
 * ASCII letters and digits emitted, one after another, without the general loop's questions per
 * byte (most mail is ASCII: about a third of the indexing's own instructions went to them). A
 * word that is lower case already (most words) is emitted where it lies, one pass over its bytes;
 * one with capitals is lower-cased into a buffer. Stops at a byte above 0x7F (*pos there, and
 * *word_start at the word it continues, else G_MAXSIZE: the general loop takes it over as if it
 * had read it byte by byte), at len, or at a callback's non-zero return, which it returns. */
static int ascii_run(const Sink *k, const char *text, gsize len, gsize *pos, gsize *word_start)
{
  gsize i = *pos;
  int rc = 0;
  *word_start = G_MAXSIZE;
  while (i < len && rc == 0) {
    guchar b = (guchar)text[i];
    char c = ascii_class[b];
    if (c == 0) break;  /* above 0x7F */
    if (c == 1) {       /* a separator */
      i++;
      continue;
    }
    gsize start = i;
    guchar upper = 0;   /* non-zero when a capital was read (its class is the byte | 0x20) */
    do {
      upper |= (guchar)c ^ b;
      i++;
    } while (i < len && (c = ascii_class[b = (guchar)text[i]]) > 1);
    if (i < len && b >= 0x80) { /* an accent, a mark or CJK follows: not an ASCII word */
      *word_start = start;
      break;
    }
    gsize m = MIN(i - start, (gsize)SEARCH_TOKEN_MAX);
    rc = upper ? emit_ascii_word(k, text, start, i) : k->emit(k->ctx, text + start, (int)m, (int)start, (int)i);
  }
  *pos = i;
  return rc;
}

int search_tokenize(const char *text, gsize len, SearchTokenFn emit, void *ctx)
{
  if (!text || !emit) return 0;
  Sink k = {emit, ctx};
  gboolean in_word = FALSE;
  gsize word_start = G_MAXSIZE;
  guint run = 0;                 /* CJK characters in the current run */
  gsize prev_start = 0, prev_end = 0;
  gboolean prev_compat = FALSE;
  int rc = 0;
  gsize i = 0;
  while (i <= len && rc == 0) {
    if (!in_word && run == 0 && i < len && (guchar)text[i] < 0x80) {
      rc = ascii_run(&k, text, len, &i, &word_start);
      in_word = word_start != G_MAXSIZE;
      continue;
    }
    gunichar c = 0;
    gsize clen = 1;
    gboolean valid = FALSE;
    gboolean cjk = FALSE, wordish = FALSE;
    if (i < len && (guchar)text[i] < 0x80) { /* ASCII: most mail, without the Unicode tables */
      c = (guchar)text[i];
      valid = c != 0;
      wordish = g_ascii_isalnum((char)c);
    } else if (i < len) {
      c = g_utf8_get_char_validated(text + i, (gssize)(len - i));
      valid = c != (gunichar)-1 && c != (gunichar)-2 && c != 0;
      if (valid) clen = (gsize)g_utf8_skip[(guchar)text[i]];
      cjk = valid && search_is_cjk(c);
      wordish = valid && !cjk && (g_unichar_isalnum(c) || (in_word && g_unichar_ismark(c)));
    }
    if (in_word && !wordish) {
      rc = emit_normalised(&k, text, word_start, i, TRUE);
      in_word = FALSE;
    }
    if (rc == 0 && run > 0 && !cjk) {
      if (run == 1) rc = emit_cjk(&k, text, prev_start, prev_end, prev_compat);
      run = 0;
    }
    if (rc != 0 || i == len) break;
    if (wordish && !in_word) {
      in_word = TRUE;
      word_start = i;
    } else if (cjk) {
      gboolean compat = c >= 0xF900;
      if (run > 0) rc = emit_cjk(&k, text, prev_start, i + clen, compat || prev_compat);
      run++;
      prev_start = i;
      prev_end = i + clen;
      prev_compat = compat;
    }
    i += clen;
  }
  return rc;
}

static int count_one(void *ctx, const char *token, int len, int start, int end)
{
  (*(guint *)ctx)++;
  return 0;
}

guint search_token_count(const char *text, gsize len)
{
  guint n = 0;
  search_tokenize(text, len, count_one, &n);
  return n;
}
