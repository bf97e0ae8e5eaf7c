/* dkim.h - DKIM (RFC 6376, RFC 8463): key pairs, signing and verifying, on OpenSSL.
 *
 * Keys: rsa-2048, rsa-1024 and ed25519 pairs are generated or imported from PEM; the private key
 * leaves this module only as PEM text, which callers seal with agent/lib/crypto before storing it.
 * The public half is written as the TXT record to publish ("v=DKIM1; k=rsa; p=<SPKI base64>", or
 * for ed25519 "k=ed25519; p=<raw 32-byte key base64>" as RFC 8463 requires).
 *
 * Signing: relaxed/relaxed canonicalisation, rsa-sha256 or ed25519-sha256, a fixed set of header
 * fields (those present are signed; From is signed once more than it occurs so none can be added),
 * t= always, x= when asked, never l=. The message must be final: whatever changes its body or its
 * signed header fields afterwards breaks the signature. Lines may end in CRLF or LF (canonicalised
 * as CRLF either way).
 *
 * Verifying: every DKIM-Signature field of a message, each with its own result; the key records
 * are fetched through a caller-supplied look-up, so this module never touches DNS or storage.
 *
 * Limits: a message of any size is hashed in one pass without copies of the body; at most
 * MA_DKIM_MAX_SIGNATURES signatures are verified per message; a tag list (signature field or key
 * record) longer than MA_DKIM_MAX_TAG_LIST is refused. Never logs keys or message text.
 */
#ifndef MA_DKIM_H
#define MA_DKIM_H

#include <glib.h>

#define MA_DKIM_MAX_SIGNATURES 8
#define MA_DKIM_MAX_TAG_LIST 16384

typedef enum {
  MA_DKIM_KEY_RSA_2048,
  MA_DKIM_KEY_RSA_1024,
  MA_DKIM_KEY_ED25519,
} MaDkimKeyType;

/* "rsa-2048", "rsa-1024", "ed25519". */
const char *ma_dkim_key_type_name(MaDkimKeyType type);
/* Returns 0 and sets *out, or -1 with *error (MA_ERROR_INVALID naming the accepted values). */
int ma_dkim_key_type_parse(const char *name, MaDkimKeyType *out, GError **error);

/* A private key. Opaque; owned by whoever created it, released with ma_dkim_key_free. */
typedef struct MaDkimKey MaDkimKey;

/* A new random key pair. Returns NULL with *error (MA_ERROR_INTERNAL) when OpenSSL fails. */
MaDkimKey *ma_dkim_key_generate(MaDkimKeyType type, GError **error);
/* Reads a PEM private key (PKCS#8 or traditional RSA). RSA keys below 1024 bits and key types
 * other than RSA and Ed25519 are refused (MA_ERROR_INVALID). */
MaDkimKey *ma_dkim_key_from_pem(const char *pem, gsize len, GError **error);
void ma_dkim_key_free(MaDkimKey *key);
/* The type of a key; an imported RSA key of another size than 1024 reports RSA_2048. */
MaDkimKeyType ma_dkim_key_type(const MaDkimKey *key);
/* "rsa" or "ed25519" (the k= tag). */
const char *ma_dkim_key_k_tag(const MaDkimKey *key);
/* PKCS#8 PEM of the private key. Newly allocated; the caller frees it with ma_dkim_secret_free
 * (which wipes it). */
char *ma_dkim_key_private_pem(const MaDkimKey *key);
void ma_dkim_secret_free(char *secret);
/* The p= value: base64 of the SubjectPublicKeyInfo (RSA) or of the raw 32-byte key (Ed25519).
 * Newly allocated; the caller frees it. */
char *ma_dkim_key_public_b64(const MaDkimKey *key);
/* The whole TXT record value, "v=DKIM1; k=rsa; p=...". Newly allocated; the caller frees it. */
char *ma_dkim_key_record(const MaDkimKey *key);

/* A record value cut into character-strings of at most 255 octets, as DNS consoles and zone files
 * that need it want them: "\"v=DKIM1; k=rsa; p=MIIB...\" \"...\"". Newly allocated. */
char *ma_dkim_record_split(const char *record);

/* Reads a published key record: sets *k_r ("rsa" when absent) and *p_r (base64, white space
 * removed; "" for a revoked key), both newly allocated. Returns 0, or -1 with *error_r (static
 * text) when the record does not parse as a tag list, has v= other than DKIM1, or has no p=. */
int ma_dkim_record_parse(const char *txt, gsize len, char **k_r, char **p_r, const char **error_r);

/* One signature to add: the signing domain (d=, an A-label), the selector (s=) and the key. The
 * strings and key are borrowed for the call. */
typedef struct {
  const char *domain;
  const char *selector;
  const MaDkimKey *key;
} MaDkimSigner;

typedef struct {
  gint64 timestamp;     /* t=, Unix seconds (callers pass ma_now()) */
  gint64 expire_after;  /* x = t + expire_after when > 0; no x= when 0 */
} MaDkimSignOptions;

/* Signs message (header, empty line, body) once per signer, in order. On success *headers_r is a
 * newly allocated string holding one folded "DKIM-Signature: ...\r\n" field per signer, to be put
 * in front of the message as it is; the caller frees it. Returns 0, or -1 with *error:
 * MA_ERROR_INVALID when the message has no From field or no header/body separator, or a signer's
 * domain or selector is not a valid name. */
int ma_dkim_sign(const MaDkimSigner *signers, guint n_signers, const char *message, gsize len,
                 const MaDkimSignOptions *options, char **headers_r, GError **error);

/* The domain of the (first) From address of message, lower-cased, newly allocated; NULL when the
 * message has no From field or its address has no domain. For choosing the signing domain. */
char *ma_dkim_from_domain(const char *message, gsize len);

/* Result of one DKIM-Signature field (RFC 8601 names). */
typedef enum {
  MA_DKIM_PASS,
  MA_DKIM_FAIL,      /* the signature or body hash does not match, or the signature expired */
  MA_DKIM_NEUTRAL,   /* the signature field is malformed or uses what we do not support */
  MA_DKIM_TEMPERROR, /* the key could not be fetched now */
  MA_DKIM_PERMERROR, /* no key record, or a malformed / revoked one */
} MaDkimResultCode;

const char *ma_dkim_result_name(MaDkimResultCode code); /* "pass", "fail", ... */

typedef struct {
  MaDkimResultCode result;
  char *domain;     /* d=, NULL when unreadable */
  char *selector;   /* s=, NULL when unreadable */
  char *algorithm;  /* a=, NULL when unreadable */
  char *reason;     /* why, for every result but pass; NULL on pass */
} MaDkimResult;

void ma_dkim_result_free(MaDkimResult *r);

/* Fetches the TXT record at name ("<selector>._domainkey.<domain>"). Returns 1 with *txt_r (the
 * joined strings of one record, newly allocated, freed by the caller), 0 when there is none, -1 on
 * a temporary failure (time-out, SERVFAIL). */
typedef int (*MaDkimKeyLookup)(const char *name, char **txt_r, void *user_data);

/* Verifies every DKIM-Signature of message (at most MA_DKIM_MAX_SIGNATURES; further ones are
 * reported as neutral). Appends one MaDkimResult per signature to results (created by the caller
 * with ma_dkim_result_free as its free function); none when the message is unsigned. now is used
 * for x=. Returns the number of results appended. */
guint ma_dkim_verify(const char *message, gsize len, gint64 now, MaDkimKeyLookup lookup,
                     void *user_data, GPtrArray *results);

#endif
