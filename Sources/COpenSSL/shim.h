// Small C wrappers over OpenSSL 3 for ACMEClient (and HMAC for DNSServer's TSIG): the parts OpenSSL offers
// only as macros or variadic functions (EVP_EC_gen, sk_* stacks), and the
// buffer juggling of BIO and DER, so the Swift side handles plain bytes.
#ifndef CDNS_OPENSSL_SHIM_H
#define CDNS_OPENSSL_SHIM_H

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/// A new P-256 key, or NULL.
static inline EVP_PKEY *cdns_generate_p256(void) { return EVP_EC_gen("P-256"); }

/// A new RSA key of `bits` bits, or NULL.
static inline EVP_PKEY *cdns_generate_rsa(unsigned int bits) { return EVP_RSA_gen(bits); }

/// Copies what a memory BIO holds into a malloc'd buffer; frees the BIO.
static inline int cdns_bio_take(BIO *bio, unsigned char **out, size_t *length) {
    char *data = NULL;
    long count = BIO_get_mem_data(bio, &data);
    if (count <= 0) { BIO_free(bio); return 0; }
    *out = (unsigned char *)malloc((size_t)count);
    if (*out == NULL) { BIO_free(bio); return 0; }
    memcpy(*out, data, (size_t)count);
    *length = (size_t)count;
    BIO_free(bio);
    return 1;
}

/// The key as unencrypted PKCS#8 PEM (malloc'd; free with free()).
static inline int cdns_key_to_pem(EVP_PKEY *key, unsigned char **out, size_t *length) {
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL) return 0;
    if (PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1) { BIO_free(bio); return 0; }
    return cdns_bio_take(bio, out, length);
}

/// Reads a PEM private key (PKCS#8, SEC1 or PKCS#1), or NULL.
static inline EVP_PKEY *cdns_key_from_pem(const unsigned char *pem, size_t length) {
    BIO *bio = BIO_new_mem_buf(pem, (int)length);
    if (bio == NULL) return NULL;
    EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    return key;
}

/// EVP_PKEY_EC or EVP_PKEY_RSA.
static inline int cdns_key_type(const EVP_PKEY *key) { return EVP_PKEY_get_base_id(key); }
static inline int cdns_key_bits(const EVP_PKEY *key) { return EVP_PKEY_get_bits(key); }

/// A big-number parameter (`qx`, `qy`, `n`, `e`) big-endian into `out`,
/// left-padded to `pad` bytes when pad > 0; returns the length or -1.
static inline int cdns_key_bn_param(const EVP_PKEY *key, const char *name, unsigned char *out, int capacity, int pad) {
    BIGNUM *value = NULL;
    if (EVP_PKEY_get_bn_param(key, name, &value) != 1) return -1;
    int length = pad > 0 ? pad : BN_num_bytes(value);
    if (length > capacity) { BN_free(value); return -1; }
    int written = BN_bn2binpad(value, out, length);
    BN_free(value);
    return written;
}

/// SHA-256 signature of `data`: PKCS#1 v1.5 for RSA; for EC the raw
/// 32-byte r and s concatenated (JWS ES256), not DER. Returns the length or -1.
static inline int cdns_sign_sha256(EVP_PKEY *key, const unsigned char *data, size_t length, unsigned char *out, size_t capacity) {
    EVP_MD_CTX *context = EVP_MD_CTX_new();
    if (context == NULL) return -1;
    size_t size = 0;
    int result = -1;
    unsigned char *der = NULL;
    if (EVP_DigestSignInit(context, NULL, EVP_sha256(), NULL, key) != 1) goto done;
    if (EVP_DigestSign(context, NULL, &size, data, length) != 1) goto done;
    der = (unsigned char *)malloc(size);
    if (der == NULL) goto done;
    if (EVP_DigestSign(context, der, &size, data, length) != 1) goto done;
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC) {
        const unsigned char *cursor = der;
        ECDSA_SIG *signature = d2i_ECDSA_SIG(NULL, &cursor, (long)size);
        if (signature == NULL || capacity < 64) { ECDSA_SIG_free(signature); goto done; }
        const BIGNUM *r = NULL, *s = NULL;
        ECDSA_SIG_get0(signature, &r, &s);
        if (BN_bn2binpad(r, out, 32) == 32 && BN_bn2binpad(s, out + 32, 32) == 32) result = 64;
        ECDSA_SIG_free(signature);
    } else {
        if (size <= capacity) { memcpy(out, der, size); result = (int)size; }
    }
done:
    free(der);
    EVP_MD_CTX_free(context);
    return result;
}

/// A CSR (DER, malloc'd) for `names` (comma-separated "DNS:a,DNS:b"), with
/// `common_name` as subject CN, signed by `key` with SHA-256.
static inline int cdns_make_csr(EVP_PKEY *key, const char *common_name, const char *names, unsigned char **out, size_t *length) {
    int ok = 0;
    X509_REQ *request = X509_REQ_new();
    STACK_OF(X509_EXTENSION) *extensions = sk_X509_EXTENSION_new_null();
    X509_EXTENSION *san = NULL;
    if (request == NULL || extensions == NULL) goto done;
    if (X509_REQ_set_version(request, 0) != 1) goto done;
    X509_NAME *subject = X509_REQ_get_subject_name(request);
    if (X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, (const unsigned char *)common_name, -1, -1, 0) != 1) goto done;
    if (X509_REQ_set_pubkey(request, key) != 1) goto done;
    san = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, names);
    if (san == NULL || sk_X509_EXTENSION_push(extensions, san) == 0) goto done;
    san = NULL;
    if (X509_REQ_add_extensions(request, extensions) != 1) goto done;
    if (X509_REQ_sign(request, key, EVP_sha256()) <= 0) goto done;
    int size = i2d_X509_REQ(request, NULL);
    if (size <= 0) goto done;
    *out = (unsigned char *)malloc((size_t)size);
    if (*out == NULL) goto done;
    unsigned char *cursor = *out;
    i2d_X509_REQ(request, &cursor);
    *length = (size_t)size;
    ok = 1;
done:
    X509_EXTENSION_free(san);
    sk_X509_EXTENSION_pop_free(extensions, X509_EXTENSION_free);
    X509_REQ_free(request);
    return ok;
}

/// Facts about the first certificate of a PEM chain, for renewal: validity
/// (unix seconds), the serial's content bytes and the authority key
/// identifier (for an ARI certificate ID).
typedef struct {
    long long not_before;
    long long not_after;
    unsigned char serial[64];
    int serial_length;
    unsigned char authority_key_id[64];
    int authority_key_id_length;
} cdns_certificate_info;

static inline long long cdns_asn1_time(const ASN1_TIME *time) {
    struct tm parsed;
    if (time == NULL || ASN1_TIME_to_tm(time, &parsed) != 1) return 0;
    return (long long)timegm(&parsed);
}

static inline int cdns_certificate_info_from_pem(const unsigned char *pem, size_t length, cdns_certificate_info *info) {
    BIO *bio = BIO_new_mem_buf(pem, (int)length);
    if (bio == NULL) return 0;
    X509 *certificate = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (certificate == NULL) return 0;
    memset(info, 0, sizeof(*info));
    info->not_before = cdns_asn1_time(X509_get0_notBefore(certificate));
    info->not_after = cdns_asn1_time(X509_get0_notAfter(certificate));
    const ASN1_INTEGER *serial = X509_get0_serialNumber(certificate);
    int serial_length = ASN1_STRING_length(serial);
    if (serial_length > 0 && serial_length <= 64) {
        memcpy(info->serial, ASN1_STRING_get0_data(serial), (size_t)serial_length);
        info->serial_length = serial_length;
    }
    const ASN1_OCTET_STRING *aki = X509_get0_authority_key_id(certificate);
    if (aki != NULL && ASN1_STRING_length(aki) <= 64) {
        memcpy(info->authority_key_id, ASN1_STRING_get0_data(aki), (size_t)ASN1_STRING_length(aki));
        info->authority_key_id_length = ASN1_STRING_length(aki);
    }
    X509_free(certificate);
    return 1;
}

/// The most recent OpenSSL error as text, for messages.
static inline void cdns_last_error(char *out, size_t capacity) {
    unsigned long code = ERR_get_error();
    if (code == 0) { snprintf(out, capacity, "no OpenSSL error queued"); return; }
    ERR_error_string_n(code, out, capacity);
}

/// HMAC of `data` under `key` with digest `digest` (0 MD5, 1 SHA-1, 2 SHA-224,
/// 3 SHA-256, 4 SHA-384, 5 SHA-512) into `out` (64 bytes); returns the length or -1.
static inline int cdns_hmac(int digest, const unsigned char *key, size_t key_length, const unsigned char *data, size_t length, unsigned char *out) {
    const EVP_MD *md = NULL;
    switch (digest) {
    case 0: md = EVP_md5(); break;
    case 1: md = EVP_sha1(); break;
    case 2: md = EVP_sha224(); break;
    case 3: md = EVP_sha256(); break;
    case 4: md = EVP_sha384(); break;
    case 5: md = EVP_sha512(); break;
    default: return -1;
    }
    static const unsigned char empty = 0;
    unsigned int size = 0;
    if (HMAC(md, key_length ? key : &empty, (int)key_length, length ? data : &empty, length, out, &size) == NULL) return -1;
    return (int)size;
}

/// Compares two buffers in time independent of their contents; 0 when equal.
static inline int cdns_constant_time_compare(const unsigned char *a, const unsigned char *b, size_t length) {
    return CRYPTO_memcmp(a, b, length);
}

#endif
