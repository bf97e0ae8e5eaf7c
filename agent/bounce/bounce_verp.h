/* bounce_verp.h - the tokens mailagent puts in addresses it owns on [relay] bounce_domain: the VERP
 * return path of one outbound recipient row ("b" + id + MAC) and the unsubscribe token of one
 * recipient row ("u" + id + MAC, used in the List-Unsubscribe mailto and HTTPS URL). Pure: no
 * storage, no I/O.
 *
 * Format of a token (BOUNCE_TOKEN_LEN octets, lower-case RFC 4648 base32 alphabet, no padding):
 *   kind letter | the row id as 13 base32 digits, most significant first | the first 80 bits of
 *   HMAC-SHA256(key, kind letter || row id as 8 octets big-endian) as 16 base32 digits.
 * 30 octets: well within RFC 5321's 64-octet local part. The key is derived from the master key
 * (bounce_token_key), never the master key itself, so the MAC cannot serve another purpose.
 * Decoding accepts either case (some MTAs upper-case addresses) and compares the MAC in constant
 * time; anything else - a wrong length, a character outside the alphabet, an id of 0 or above
 * 2^63-1, a MAC that does not match - is a forgery.
 */
#ifndef MAILAGENT_BOUNCE_VERP_H
#define MAILAGENT_BOUNCE_VERP_H

#include <glib.h>

#define BOUNCE_TOKEN_LEN 30
#define BOUNCE_TOKEN_KEY_LEN 32

typedef enum {
  BOUNCE_TOKEN_RETURN_PATH = 'b', /* VERP return path: DSNs come back to it */
  BOUNCE_TOKEN_UNSUBSCRIBE = 'u', /* List-Unsubscribe (mailto local part and URL token) */
} BounceTokenKind;

/* The token key from the 32-octet master key: HMAC-SHA256(master, "mailagent bounce token v1"). */
void bounce_token_key(const guint8 master[32], guint8 key[BOUNCE_TOKEN_KEY_LEN]);

/* Writes the token of (kind, row_id) and a NUL into out. row_id must be > 0. */
void bounce_token_encode(const guint8 key[BOUNCE_TOKEN_KEY_LEN], BounceTokenKind kind, gint64 row_id,
                         char out[BOUNCE_TOKEN_LEN + 1]);

/* Decodes text (len octets, not necessarily NUL-terminated). 1 with *kind_r and *row_id_r when it
 * is a token made with key; 0 when it is not (forged, altered, malformed). Never fails otherwise. */
int bounce_token_decode(const guint8 key[BOUNCE_TOKEN_KEY_LEN], const char *text, gsize len,
                        BounceTokenKind *kind_r, gint64 *row_id_r);

/* "<token>@<domain>": the address of (kind, row_id) on domain. Caller frees. */
char *bounce_token_address(const guint8 key[BOUNCE_TOKEN_KEY_LEN], BounceTokenKind kind, gint64 row_id,
                           const char *domain);

#endif
