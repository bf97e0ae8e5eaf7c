/* forward_date.c - reads the Date/Sent line of a forward header block as the clients write it:
 * Gmail ("Mon, Jan 8, 2024 at 10:12 AM", localised "2024年1月8日周一 上午10:12", French/German/
 * Spanish month names), Outlook ("Tuesday, March 12, 2024 3:45 PM", "2024年3月5日 星期二 14:30",
 * "3/5/2024 2:30 PM" in US order unless the first number exceeds 12), Apple ("October 27, 2024 at
 * 8:41:32 PM EDT", "GMT+8"), QQ ("2024年1月8日(星期一) 晚上10:25"), RFC 5322 and ISO 8601.
 * A token scanner, not a grammar: at most FORWARD_MAX_DATE_SCAN bytes are looked at; no timezone
 * means UTC; anything it cannot place yields 0, never a guess outside 1970..2200.
 */
#include "agent/mime/forward.h"

#include "forward_private.h"

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
  else if (fwd_starts_with(p, "−")) { sign = -1; p += strlen("−") - 1; }
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
      if (fwd_starts_with(p, "年")) { year = nd == 2 ? 2000 + v : v; p += strlen("年"); continue; }
      if (fwd_starts_with(p, "月")) { mon = v; p += strlen("月"); continue; }
      if (fwd_starts_with(p, "日") || fwd_starts_with(p, "号") || fwd_starts_with(p, "號")) {
        day = v;
        p += 3;
        continue;
      }
      if (fwd_starts_with(p, "点") || fwd_starts_with(p, "时") || fwd_starts_with(p, "時") || fwd_starts_with(p, "點")) {
        if (hour < 0) { hour = v; min = 0; }
        p += 3;
        continue;
      }
      if (fwd_starts_with(p, "分")) { if (hour >= 0) min = v; p += 3; continue; }
      if (fwd_starts_with(p, "秒")) { sec = v; p += 3; continue; }
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
    if ((c == '+' || c == '-' || fwd_starts_with(p, "−")) && hour >= 0 && tz == G_MININT) {
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
      if (fwd_starts_with(p, "上午") || fwd_starts_with(p, "凌晨") || fwd_starts_with(p, "早上") || fwd_starts_with(p, "清晨"))
        ampm = 1, p += 6;
      else if (fwd_starts_with(p, "下午") || fwd_starts_with(p, "晚上") || fwd_starts_with(p, "傍晚") || fwd_starts_with(p, "夜里"))
        ampm = 2, p += 6;
      else if (fwd_starts_with(p, "中午"))
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
