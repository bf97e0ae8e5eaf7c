/* test_pipeline_raw_blob.c - raw_blob_text_slice: when a text body is a slice of the raw message
 * (CRLF and lone CR made LF, trailing white space cut), so that storage may keep the slice's place
 * instead of the text. Table driven: each row a raw message, the slice the mime module proposed,
 * the text, and the length that must come back (0: not a slice). */
#include "testutil.h"
#include "agent/pipeline/raw_blob.h"

#include <string.h>

typedef struct {
  const char *name;
  const char *raw;
  gsize raw_len;   /* 0: strlen(raw) */
  gsize at, len;   /* len 0: to the end of raw */
  const char *text;
  gsize want;
} SliceCase;

static void test_text_slice(void)
{
  static const SliceCase cases[] = {
    {"CRLF lines", "H: v\r\n\r\nab\r\ncd\r\n\r\n", 0, 8, 0, "ab\ncd", 6},
    {"lone CR", "H: v\r\n\r\nab\rcd\r\n", 0, 8, 0, "ab\ncd", 5},
    {"LF already", "H: v\n\nab\ncd \t\n", 0, 6, 0, "ab\ncd", 5},
    {"CR CR LF is two line ends", "xab\r\r\ncd", 0, 1, 0, "ab\n\ncd", 7},
    {"one slice in the middle", "xxab\r\ncdyy", 0, 2, 6, "ab\ncd", 6},
    {"whole raw", "ab", 0, 0, 0, "ab", 2},
    {"a byte differs", "H: v\r\n\r\nab\r\ncd\r\n", 0, 8, 0, "ab\nce", 0},
    {"text longer", "H: v\r\n\r\nab\r\ncd\r\n", 0, 8, 0, "ab\ncd\nef", 0},
    {"text shorter", "H: v\r\n\r\nab\r\ncd\r\n", 0, 8, 0, "ab\nc", 0},
    {"text ends at a line end", "ab\r\ncd", 0, 0, 0, "ab", 0},
    {"a CRLF where text has none", "ab\r\ncd", 0, 0, 0, "abcd", 0},
    {"NUL in raw", "ab\0cd", 5, 0, 0, "abcd", 0},
    {"NUL in raw where text ends", "ab\0", 3, 0, 0, "ab", 0},
    {"empty text, white space", "H: v\r\n\r\n \r\n", 0, 8, 0, "", 0},
    {"slice past raw", "abc", 0, 1, 5, "bc", 0},
    {"offset past raw", "abc", 0, 4, 1, "", 0},
    {"UTF-8 kept", "x\xc3\xa9t\xc3\xa9\r\n", 0, 1, 0, "\xc3\xa9t\xc3\xa9", 5},
  };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    const SliceCase *c = &cases[i];
    gsize raw_len = c->raw_len ? c->raw_len : strlen(c->raw);
    g_autoptr(MaRaw) raw = ma_raw_new_static(c->raw, raw_len);
    gsize len = c->len ? c->len : (c->at <= raw_len ? raw_len - c->at : 1);
    g_test_message("%s", c->name);
    g_assert_cmpuint(raw_blob_text_slice(raw, c->at, len, c->text), ==, c->want);
  }
  g_autoptr(MaRaw) raw = ma_raw_new_static("ab", 2);
  g_assert_cmpuint(raw_blob_text_slice(raw, 0, 2, NULL), ==, 0);
  g_assert_cmpuint(raw_blob_text_slice(raw, 0, 0, ""), ==, 0);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/pipeline/raw_blob/text_slice", test_text_slice);
  return g_test_run();
}
