/* test_bounce_verp.c - VERP return-path and unsubscribe tokens: the format (length, alphabet,
 * kind letter), round trips over the whole id range, either case accepted, and every forgery
 * refused: a changed MAC or id octet, another key, the other kind's MAC, wrong lengths, characters
 * outside the alphabet, ids 0 and above 2^63-1. A golden token pins the format, so a change to it
 * cannot pass unnoticed (old return paths in flight must still verify). */
#include "agent/bounce/bounce_verp.h"

#include <string.h>

static void key_of(guint8 seed, guint8 key[BOUNCE_TOKEN_KEY_LEN])
{
  guint8 master[32];
  memset(master, seed, sizeof master);
  bounce_token_key(master, key);
}

static void test_round_trip(void)
{
  guint8 key[BOUNCE_TOKEN_KEY_LEN];
  key_of(7, key);
  static const gint64 ids[] = {1, 2, 31, 32, 1000, 4294967296LL, G_MAXINT64};
  for (guint i = 0; i < G_N_ELEMENTS(ids); i++) {
    for (int k = 0; k < 2; k++) {
      BounceTokenKind kind = k ? BOUNCE_TOKEN_UNSUBSCRIBE : BOUNCE_TOKEN_RETURN_PATH;
      char tok[BOUNCE_TOKEN_LEN + 1];
      bounce_token_encode(key, kind, ids[i], tok);
      g_assert_cmpuint(strlen(tok), ==, BOUNCE_TOKEN_LEN);
      g_assert_cmpint(tok[0], ==, (char) kind);
      for (const char *p = tok + 1; *p; p++) g_assert_true((*p >= 'a' && *p <= 'z') || (*p >= '2' && *p <= '7'));
      BounceTokenKind got_kind = 0;
      gint64 got = 0;
      g_assert_cmpint(bounce_token_decode(key, tok, strlen(tok), &got_kind, &got), ==, 1);
      g_assert_cmpint(got, ==, ids[i]);
      g_assert_cmpint(got_kind, ==, kind);
      /* an MTA that upper-cases the local part */
      char *upper = g_ascii_strup(tok, -1);
      g_assert_cmpint(bounce_token_decode(key, upper, strlen(upper), &got_kind, &got), ==, 1);
      g_assert_cmpint(got, ==, ids[i]);
      g_free(upper);
    }
  }
  char *addr = bounce_token_address(key, BOUNCE_TOKEN_RETURN_PATH, 42, "bounces.example");
  g_assert_true(g_str_has_suffix(addr, "@bounces.example"));
  g_assert_cmpuint(strlen(addr), ==, BOUNCE_TOKEN_LEN + strlen("@bounces.example"));
  g_free(addr);
}

static void test_golden(void)
{
  /* master key of 32 octets 0x01; computed once with an independent Python implementation:
   * k = hmac(master, b"mailagent bounce token v1"); mac = hmac(k, b"b" + (42).to_bytes(8, "big"))[:10] */
  guint8 key[BOUNCE_TOKEN_KEY_LEN];
  key_of(1, key);
  char tok[BOUNCE_TOKEN_LEN + 1];
  bounce_token_encode(key, BOUNCE_TOKEN_RETURN_PATH, 42, tok);
  g_assert_cmpstr(tok, ==, "baaaaaaaaaaabkx4mpnywer4jnmqsk");
}

static void test_forgeries(void)
{
  guint8 key[BOUNCE_TOKEN_KEY_LEN], other[BOUNCE_TOKEN_KEY_LEN];
  key_of(7, key);
  key_of(8, other);
  char tok[BOUNCE_TOKEN_LEN + 1];
  bounce_token_encode(key, BOUNCE_TOKEN_RETURN_PATH, 12345, tok);
  BounceTokenKind kind;
  gint64 id;
  /* another key */
  g_assert_cmpint(bounce_token_decode(other, tok, BOUNCE_TOKEN_LEN, &kind, &id), ==, 0);
  /* each position changed to another letter of the alphabet */
  for (int i = 0; i < BOUNCE_TOKEN_LEN; i++) {
    char f[BOUNCE_TOKEN_LEN + 1];
    memcpy(f, tok, sizeof f);
    f[i] = f[i] == 'c' ? 'd' : 'c';
    g_assert_cmpint(bounce_token_decode(key, f, BOUNCE_TOKEN_LEN, &kind, &id), ==, 0);
  }
  /* the unsubscribe kind letter with the return path's MAC */
  char f[BOUNCE_TOKEN_LEN + 1];
  memcpy(f, tok, sizeof f);
  f[0] = 'u';
  g_assert_cmpint(bounce_token_decode(key, f, BOUNCE_TOKEN_LEN, &kind, &id), ==, 0);
  /* lengths, alphabet */
  g_assert_cmpint(bounce_token_decode(key, tok, BOUNCE_TOKEN_LEN - 1, &kind, &id), ==, 0);
  g_assert_cmpint(bounce_token_decode(key, "", 0, &kind, &id), ==, 0);
  g_assert_cmpint(bounce_token_decode(key, NULL, 0, &kind, &id), ==, 0);
  memcpy(f, tok, sizeof f);
  f[5] = '1'; /* 0, 1, 8, 9 are not base32 */
  g_assert_cmpint(bounce_token_decode(key, f, BOUNCE_TOKEN_LEN, &kind, &id), ==, 0);
  memcpy(f, tok, sizeof f);
  f[20] = '=';
  g_assert_cmpint(bounce_token_decode(key, f, BOUNCE_TOKEN_LEN, &kind, &id), ==, 0);
  /* id 0 and ids of 64 bits are never issued */
  g_assert_cmpint(bounce_token_decode(key, "baaaaaaaaaaaaaaaaaaaaaaaaaaaaa", BOUNCE_TOKEN_LEN, &kind, &id), ==, 0);
  g_assert_cmpint(bounce_token_decode(key, "bqaaaaaaaaaaaaaaaaaaaaaaaaaaaa", BOUNCE_TOKEN_LEN, &kind, &id), ==, 0);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/bounce_verp/round_trip", test_round_trip);
  g_test_add_func("/bounce_verp/golden", test_golden);
  g_test_add_func("/bounce_verp/forgeries", test_forgeries);
  return g_test_run();
}
