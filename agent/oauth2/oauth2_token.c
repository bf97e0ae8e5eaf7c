/* oauth2_token.c - the pure parts of OAuth2: token-endpoint response parsing (bounded, hostile
 * input), PKCE verifier and challenge, and the SASL initial responses for XOAUTH2 and OAUTHBEARER.
 * No I/O.
 */
#include "oauth2.h"

#include "agent/lib/crypto.h"
#include "agent/lib/error.h"

#include <jansson.h>
#include <openssl/sha.h>
#include <string.h>

#define TOKEN_MAX 8192

void ma_oauth2_token_response_clear(MaOAuth2TokenResponse *r)
{
  if (r->access_token) memset(r->access_token, 0, strlen(r->access_token));
  if (r->refresh_token) memset(r->refresh_token, 0, strlen(r->refresh_token));
  g_free(r->access_token);
  g_free(r->refresh_token);
  g_free(r->error);
  memset(r, 0, sizeof *r);
}

/* A token is printable ASCII without spaces, bounded. */
static gboolean token_ok(const char *t)
{
  gsize n = strlen(t);
  if (n == 0 || n > TOKEN_MAX) return FALSE;
  for (const char *c = t; *c; c++)
    if (*c <= 0x20 || *c >= 0x7f) return FALSE;
  return TRUE;
}

int oauth2_token_response_parse(const char *body, gsize len, MaOAuth2TokenResponse *out, GError **error)
{
  memset(out, 0, sizeof *out);
  if (len > OAUTH2_RESPONSE_MAX) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "token response larger than %d bytes", OAUTH2_RESPONSE_MAX);
    return -1;
  }
  json_error_t jerr;
  json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!doc || !json_is_object(doc)) {
    if (doc) json_decref(doc);
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "token response is not a JSON object");
    return -1;
  }
  const char *err = json_string_value(json_object_get(doc, "error"));
  const char *access = json_string_value(json_object_get(doc, "access_token"));
  const char *refresh = json_string_value(json_object_get(doc, "refresh_token"));
  json_t *exp = json_object_get(doc, "expires_in");
  int rc = 0;
  if (err) {
    /* the code only: descriptions may echo request data */
    gboolean code_ok = strlen(err) <= 64;
    for (const char *c = err; code_ok && *c; c++) code_ok = g_ascii_isalnum(*c) || *c == '_' || *c == '-';
    out->error = g_strdup(code_ok ? err : "invalid_error_code");
  } else if (!access || !token_ok(access) || (refresh && !token_ok(refresh))) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "token response without a usable access_token");
    rc = -1;
  } else {
    out->access_token = g_strdup(access);
    out->refresh_token = refresh ? g_strdup(refresh) : NULL;
    gint64 e = 3600;
    if (json_is_integer(exp)) e = json_integer_value(exp);
    else if (json_is_string(exp)) e = g_ascii_strtoll(json_string_value(exp), NULL, 10); /* some send "3599" */
    out->expires_in = CLAMP(e, 0, 365 * 86400);
  }
  json_decref(doc);
  return rc;
}

static char *base64url(const guint8 *data, gsize len)
{
  char *b = g_base64_encode(data, len);
  for (char *c = b; *c; c++) {
    if (*c == '+') *c = '-';
    else if (*c == '/') *c = '_';
  }
  char *eq = strchr(b, '=');
  if (eq) *eq = '\0';
  return b;
}

char *oauth2_pkce_verifier(void)
{
  guint8 raw[32];
  ma_random_bytes(raw, sizeof raw);
  return base64url(raw, sizeof raw); /* 43 characters of [A-Za-z0-9-_] */
}

char *oauth2_pkce_challenge(const char *verifier)
{
  guint8 digest[SHA256_DIGEST_LENGTH];
  SHA256((const unsigned char *)verifier, strlen(verifier), digest);
  return base64url(digest, sizeof digest);
}

char *oauth2_sasl_xoauth2(const char *user, const char *token)
{
  g_autofree char *raw = g_strdup_printf("user=%s\001auth=Bearer %s\001\001", user, token);
  char *b = g_base64_encode((const guchar *)raw, strlen(raw));
  memset(raw, 0, strlen(raw));
  return b;
}

char *oauth2_sasl_oauthbearer(const char *user, const char *host, int port, const char *token)
{
  /* RFC 7628 3.1: the authzid's "," and "=" are escaped as =2C and =3D */
  GString *authz = g_string_new(NULL);
  for (const char *c = user; *c; c++) {
    if (*c == ',') g_string_append(authz, "=2C");
    else if (*c == '=') g_string_append(authz, "=3D");
    else g_string_append_c(authz, *c);
  }
  g_autofree char *raw =
    g_strdup_printf("n,a=%s,\001host=%s\001port=%d\001auth=Bearer %s\001\001", authz->str, host, port, token);
  g_string_free(authz, TRUE);
  char *b = g_base64_encode((const guchar *)raw, strlen(raw));
  memset(raw, 0, strlen(raw));
  return b;
}
