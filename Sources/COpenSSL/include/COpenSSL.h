// What ACMEClient (keys, JWS signatures, CSRs, certificate facts) and DNSServer (TSIG HMACs)
// need from OpenSSL 3, as plain C functions over bytes. The system's libcrypto.so.3 is loaded
// the first time one of them runs (LibCrypto.c), so a daemon that never signs, verifies or
// issues anything does not map it. Types stay opaque here: Swift sees OpaquePointer.
#ifndef CDNS_OPENSSL_H
#define CDNS_OPENSSL_H

#include <stddef.h>

struct evp_pkey_st;

/// NULL once libcrypto.so.3 is loaded; otherwise why it could not be (and every function below
/// then fails).
const char *cdns_crypto_load_error(void);

/// A new P-256 key, or NULL.
struct evp_pkey_st *cdns_generate_p256(void);

/// A new RSA key of `bits` bits, or NULL.
struct evp_pkey_st *cdns_generate_rsa(unsigned int bits);

/// Reads a PEM private key (PKCS#8, SEC1 or PKCS#1), or NULL.
struct evp_pkey_st *cdns_key_from_pem(const unsigned char *pem, size_t length);

void cdns_key_free(struct evp_pkey_st *key);

/// The key as unencrypted PKCS#8 PEM (malloc'd; free with free()); 1 on success.
int cdns_key_to_pem(struct evp_pkey_st *key, unsigned char **out, size_t *length);

enum { CDNS_KEY_OTHER = 0, CDNS_KEY_EC = 1, CDNS_KEY_RSA = 2 };

/// CDNS_KEY_EC, CDNS_KEY_RSA or CDNS_KEY_OTHER.
int cdns_key_kind(const struct evp_pkey_st *key);

/// A big-number parameter (`qx`, `qy`, `n`, `e`) big-endian into `out`, left-padded to `pad`
/// bytes when pad > 0; returns the length or -1.
int cdns_key_bn_param(const struct evp_pkey_st *key, const char *name, unsigned char *out, int capacity, int pad);

/// SHA-256 signature of `data`: PKCS#1 v1.5 for RSA; for EC the raw 32-byte r and s
/// concatenated (JWS ES256), not DER. Returns the length or -1.
int cdns_sign_sha256(struct evp_pkey_st *key, const unsigned char *data, size_t length, unsigned char *out, size_t capacity);

/// A CSR (DER, malloc'd) for `names` (comma-separated "DNS:a,DNS:b"), with `common_name` as
/// subject CN, signed by `key` with SHA-256; 1 on success.
int cdns_make_csr(struct evp_pkey_st *key, const char *common_name, const char *names, unsigned char **out, size_t *length);

/// Facts about the first certificate of a PEM chain, for renewal: validity (unix seconds), the
/// serial's content bytes and the authority key identifier (for an ARI certificate ID).
typedef struct {
    long long not_before;
    long long not_after;
    unsigned char serial[64];
    int serial_length;
    unsigned char authority_key_id[64];
    int authority_key_id_length;
} cdns_certificate_info;

/// 1 when `pem` starts with a certificate it could read.
int cdns_certificate_info_from_pem(const unsigned char *pem, size_t length, cdns_certificate_info *info);

/// The most recent OpenSSL error (or why libcrypto is not loaded) as text, for messages.
void cdns_last_error(char *out, size_t capacity);

/// HMAC of `data` under `key` with digest `digest` (0 MD5, 1 SHA-1, 2 SHA-224, 3 SHA-256,
/// 4 SHA-384, 5 SHA-512) into `out` (64 bytes); returns the length or -1.
int cdns_hmac(int digest, const unsigned char *key, size_t key_length, const unsigned char *data, size_t length, unsigned char *out);

/// Compares two buffers in time independent of their contents; 0 when equal, nonzero when not
/// (or when libcrypto is missing).
int cdns_constant_time_compare(const unsigned char *a, const unsigned char *b, size_t length);

#endif
