/* bounce_verp.c - VERP return-path and unsubscribe tokens (bounce_verp.h): encoding, and a decoder
 * that treats its input as hostile (fixed length checked first, alphabet checked per octet, MAC
 * compared in constant time). The MAC comes from agent/lib/crypto's HMAC-SHA256. */
#include "bounce_verp.h"

#include "agent/lib/crypto.h"

#include <string.h>

#define ID_DIGITS 13  /* 64 bits in base32 digits */
#define MAC_DIGITS 16 /* 80 bits */
#define MAC_OCTETS 10

static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

static int digit_value(char c)
{
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= '2' && c <= '7') return c - '2' + 26;
  return -1;
}

static void hex_to_octets(const char *hex, guint8 *out, gsize n)
{
  for (gsize i = 0; i < n; i++)
    out[i] = (guint8) (g_ascii_xdigit_value(hex[2 * i]) << 4 | g_ascii_xdigit_value(hex[2 * i + 1]));
}

void bounce_token_key(const guint8 master[32], guint8 key[BOUNCE_TOKEN_KEY_LEN])
{
  static const char label[] = "mailagent bounce token v1";
  char hex[MA_SHA256_HEX_LEN + 1];
  ma_hmac_sha256_hex(master, 32, label, sizeof label - 1, hex);
  hex_to_octets(hex, key, BOUNCE_TOKEN_KEY_LEN);
  memset(hex, 0, sizeof hex);
}

/* The MAC digits of (kind, id) into out (MAC_DIGITS, no NUL). */
static void mac_digits(const guint8 key[BOUNCE_TOKEN_KEY_LEN], char kind, guint64 id, char *out)
{
  guint8 msg[9];
  msg[0] = (guint8) kind;
  for (int i = 0; i < 8; i++) msg[1 + i] = (guint8) (id >> (56 - 8 * i));
  char hex[MA_SHA256_HEX_LEN + 1];
  ma_hmac_sha256_hex(key, BOUNCE_TOKEN_KEY_LEN, msg, sizeof msg, hex);
  guint8 mac[MAC_OCTETS];
  hex_to_octets(hex, mac, MAC_OCTETS);
  /* 80 bits = 16 groups of 5, most significant first */
  for (int i = 0; i < MAC_DIGITS; i++) {
    int bit = i * 5, v = 0;
    for (int b = 0; b < 5; b++, bit++) v = v << 1 | ((mac[bit / 8] >> (7 - bit % 8)) & 1);
    out[i] = alphabet[v];
  }
}

void bounce_token_encode(const guint8 key[BOUNCE_TOKEN_KEY_LEN], BounceTokenKind kind, gint64 row_id,
                         char out[BOUNCE_TOKEN_LEN + 1])
{
  g_assert(row_id > 0);
  g_assert(kind == BOUNCE_TOKEN_RETURN_PATH || kind == BOUNCE_TOKEN_UNSUBSCRIBE);
  guint64 id = (guint64) row_id;
  out[0] = (char) kind;
  for (int i = ID_DIGITS; i >= 1; i--, id >>= 5) out[i] = alphabet[id & 31];
  mac_digits(key, (char) kind, (guint64) row_id, out + 1 + ID_DIGITS);
  out[BOUNCE_TOKEN_LEN] = '\0';
}

int bounce_token_decode(const guint8 key[BOUNCE_TOKEN_KEY_LEN], const char *text, gsize len,
                        BounceTokenKind *kind_r, gint64 *row_id_r)
{
  if (!text || len != BOUNCE_TOKEN_LEN) return 0;
  char kind = g_ascii_tolower(text[0]);
  if (kind != BOUNCE_TOKEN_RETURN_PATH && kind != BOUNCE_TOKEN_UNSUBSCRIBE) return 0;
  guint64 id = 0;
  for (int i = 1; i <= ID_DIGITS; i++) {
    int v = digit_value(text[i]);
    if (v < 0) return 0;
    if (i == 1 && v > 7) return 0; /* the id would exceed 2^63 - 1 (13 digits hold 65 bits) */
    id = id << 5 | (guint64) v;
  }
  if (id == 0) return 0;
  char given[MAC_DIGITS + 1], expected[MAC_DIGITS + 1];
  for (int i = 0; i < MAC_DIGITS; i++) {
    int v = digit_value(text[1 + ID_DIGITS + i]);
    if (v < 0) return 0;
    given[i] = alphabet[v];
  }
  given[MAC_DIGITS] = '\0';
  mac_digits(key, kind, id, expected);
  expected[MAC_DIGITS] = '\0';
  if (!ma_crypto_equal(given, expected)) return 0;
  *kind_r = (BounceTokenKind) kind;
  *row_id_r = (gint64) id;
  return 1;
}

char *bounce_token_address(const guint8 key[BOUNCE_TOKEN_KEY_LEN], BounceTokenKind kind, gint64 row_id,
                           const char *domain)
{
  char token[BOUNCE_TOKEN_LEN + 1];
  bounce_token_encode(key, kind, row_id, token);
  return g_strdup_printf("%s@%s", token, domain);
}
