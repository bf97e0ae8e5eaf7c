/* smtp_auth.c - AUTH PLAIN and LOGIN decoding (see smtp_auth.h). Base64 is checked strictly
 * (alphabet, length a multiple of 4, padding only at the end) before GLib decodes it, so junk is
 * refused instead of being decoded to something. */
#include "smtp_auth.h"

#include <string.h>

#define BAD_B64 "501 5.5.2 Error: invalid base64 in the authentication response"
#define TOO_LONG "501 5.5.2 Error: authentication response too long"

SmtpSaslMech smtp_auth_mechanism(const char *arg, const char **initial)
{
  const char *sp = strchr(arg, ' ');
  gsize n = sp ? (gsize) (sp - arg) : strlen(arg);
  *initial = sp ? sp + 1 : "";
  if (n == 5 && g_ascii_strncasecmp(arg, "PLAIN", 5) == 0) return SMTP_SASL_PLAIN;
  if (n == 5 && g_ascii_strncasecmp(arg, "LOGIN", 5) == 0) return SMTP_SASL_LOGIN;
  return SMTP_SASL_UNKNOWN;
}

/* Decodes b64 into out (size octets at most); the decoded length, or -1. */
static gssize decode(const char *b64, guchar *out, gsize size, const char **reply_r)
{
  gsize n = strlen(b64);
  if (n == 1 && b64[0] == '=') return 0; /* RFC 4954: an empty response */
  if (n % 4 != 0) {
    *reply_r = BAD_B64;
    return -1;
  }
  for (gsize i = 0; i < n; i++) {
    gboolean pad_ok = b64[i] == '=' && i >= n - 2 && (i == n - 1 || b64[n - 1] == '=');
    if (!g_ascii_isalnum(b64[i]) && b64[i] != '+' && b64[i] != '/' && !pad_ok) {
      *reply_r = BAD_B64;
      return -1;
    }
  }
  if (n / 4 * 3 > size + 2) {
    *reply_r = TOO_LONG;
    return -1;
  }
  gint state = 0;
  guint save = 0;
  guchar tmp[SMTP_AUTH_MAX * 2 + 8];
  gsize len = g_base64_decode_step(b64, n, tmp, &state, &save);
  if (len > size) {
    *reply_r = TOO_LONG;
    return -1;
  }
  memcpy(out, tmp, len);
  memset(tmp, 0, sizeof tmp);
  return (gssize) len;
}

int smtp_auth_decode_line(const char *b64, char out[SMTP_AUTH_MAX + 1], const char **reply_r)
{
  gssize n = decode(b64, (guchar *) out, SMTP_AUTH_MAX, reply_r);
  if (n < 0) return -1;
  if (memchr(out, '\0', (gsize) n)) {
    *reply_r = BAD_B64;
    return -1;
  }
  out[n] = '\0';
  return 0;
}

int smtp_auth_decode_plain(const char *b64, char user[SMTP_AUTH_MAX + 1], char password[SMTP_AUTH_MAX + 1],
                           const char **reply_r)
{
  guchar buf[SMTP_AUTH_MAX * 2 + 4];
  gssize n = decode(b64, buf, sizeof buf - 1, reply_r);
  if (n < 0) return -1;
  const guchar *nul1 = memchr(buf, '\0', (gsize) n);
  const guchar *nul2 = nul1 ? memchr(nul1 + 1, '\0', (gsize) (buf + n - nul1 - 1)) : NULL;
  gsize zlen = nul1 ? (gsize) (nul1 - buf) : 0;
  gsize ulen = nul2 ? (gsize) (nul2 - nul1 - 1) : 0;
  gsize plen = nul2 ? (gsize) (buf + n - nul2 - 1) : 0;
  if (!nul2 || ulen == 0 || ulen > SMTP_AUTH_MAX || plen > SMTP_AUTH_MAX || memchr(nul2 + 1, '\0', plen) ||
      (zlen && (zlen != ulen || memcmp(buf, nul1 + 1, ulen) != 0))) {
    memset(buf, 0, sizeof buf);
    *reply_r = "501 5.5.2 Error: malformed PLAIN response";
    return -1;
  }
  memcpy(user, nul1 + 1, ulen);
  user[ulen] = '\0';
  memcpy(password, nul2 + 1, plen);
  password[plen] = '\0';
  memset(buf, 0, sizeof buf);
  return 0;
}

SmtpAuthStep smtp_auth_next(SmtpAuthExchange *x, const char *line, const char **text)
{
  const char *why = NULL;
  if (strcmp(line, "*") == 0) {
    *text = "501 5.0.0 Authentication cancelled";
    return SMTP_AUTH_FAILED;
  }
  if (x->mech == SMTP_SASL_PLAIN) {
    if (smtp_auth_decode_plain(line, x->user, x->password, &why) < 0) goto bad;
    return SMTP_AUTH_CREDENTIALS;
  }
  if (!x->have_user) {
    if (smtp_auth_decode_line(line, x->user, &why) < 0 || !x->user[0]) goto bad;
    x->have_user = TRUE;
    *text = "334 UGFzc3dvcmQ6"; /* "Password:" */
    return SMTP_AUTH_CONTINUE;
  }
  if (smtp_auth_decode_line(line, x->password, &why) < 0) goto bad;
  return SMTP_AUTH_CREDENTIALS;
bad:
  *text = why ? why : "501 5.5.2 Error: malformed authentication response";
  return SMTP_AUTH_FAILED;
}

SmtpAuthStep smtp_auth_start(SmtpAuthExchange *x, const char *arg, const char **text)
{
  const char *initial;
  memset(x, 0, sizeof *x);
  x->mech = smtp_auth_mechanism(arg, &initial);
  if (*initial) return smtp_auth_next(x, initial, text);
  *text = x->mech == SMTP_SASL_PLAIN ? "334 " : "334 VXNlcm5hbWU6"; /* "Username:" */
  return SMTP_AUTH_CONTINUE;
}
