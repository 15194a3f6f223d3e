// COpenSSL.h's functions over OpenSSL 3, called through the table LibCrypto.c fills. The
// OpenSSL macros they need are written out: EVP_EC_gen and EVP_RSA_gen (EVP_PKEY_Q_keygen),
// BIO_get_mem_data (BIO_ctrl), BN_num_bytes (BN_num_bits) and the sk_X509_EXTENSION_* stack.
#include "COpenSSL.h"
#include "LibCrypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LIB cdns_crypto

struct evp_pkey_st *cdns_generate_p256(void) {
    if (!cdns_libcrypto_ready()) return NULL;
    return LIB.EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

struct evp_pkey_st *cdns_generate_rsa(unsigned int bits) {
    if (!cdns_libcrypto_ready()) return NULL;
    return LIB.EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
}

void cdns_key_free(struct evp_pkey_st *key) {
    // A key exists only if libcrypto is loaded.
    if (key != NULL) LIB.EVP_PKEY_free(key);
}

/// Copies what a memory BIO holds into a malloc'd buffer; frees the BIO.
static int bio_take(BIO *bio, unsigned char **out, size_t *length) {
    char *data = NULL;
    long count = LIB.BIO_ctrl(bio, BIO_CTRL_INFO, 0, (char *)&data);
    if (count <= 0) { LIB.BIO_free(bio); return 0; }
    *out = (unsigned char *)malloc((size_t)count);
    if (*out == NULL) { LIB.BIO_free(bio); return 0; }
    memcpy(*out, data, (size_t)count);
    *length = (size_t)count;
    LIB.BIO_free(bio);
    return 1;
}

int cdns_key_to_pem(struct evp_pkey_st *key, unsigned char **out, size_t *length) {
    if (!cdns_libcrypto_ready()) return 0;
    BIO *bio = LIB.BIO_new(LIB.BIO_s_mem());
    if (bio == NULL) return 0;
    if (LIB.PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1) { LIB.BIO_free(bio); return 0; }
    return bio_take(bio, out, length);
}

struct evp_pkey_st *cdns_key_from_pem(const unsigned char *pem, size_t length) {
    if (!cdns_libcrypto_ready()) return NULL;
    BIO *bio = LIB.BIO_new_mem_buf(pem, (int)length);
    if (bio == NULL) return NULL;
    EVP_PKEY *key = LIB.PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    LIB.BIO_free(bio);
    return key;
}

int cdns_key_kind(const struct evp_pkey_st *key) {
    if (key == NULL) return CDNS_KEY_OTHER;
    switch (LIB.EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_EC: return CDNS_KEY_EC;
    case EVP_PKEY_RSA: return CDNS_KEY_RSA;
    default: return CDNS_KEY_OTHER;
    }
}

int cdns_key_bn_param(const struct evp_pkey_st *key, const char *name, unsigned char *out, int capacity, int pad) {
    BIGNUM *value = NULL;
    if (LIB.EVP_PKEY_get_bn_param(key, name, &value) != 1) return -1;
    int length = pad > 0 ? pad : (LIB.BN_num_bits(value) + 7) / 8;
    if (length > capacity) { LIB.BN_free(value); return -1; }
    int written = LIB.BN_bn2binpad(value, out, length);
    LIB.BN_free(value);
    return written;
}

int cdns_sign_sha256(struct evp_pkey_st *key, const unsigned char *data, size_t length, unsigned char *out, size_t capacity) {
    EVP_MD_CTX *context = LIB.EVP_MD_CTX_new();
    if (context == NULL) return -1;
    size_t size = 0;
    int result = -1;
    unsigned char *der = NULL;
    if (LIB.EVP_DigestSignInit(context, NULL, LIB.EVP_sha256(), NULL, key) != 1) goto done;
    if (LIB.EVP_DigestSign(context, NULL, &size, data, length) != 1) goto done;
    der = (unsigned char *)malloc(size);
    if (der == NULL) goto done;
    if (LIB.EVP_DigestSign(context, der, &size, data, length) != 1) goto done;
    if (LIB.EVP_PKEY_get_base_id(key) == EVP_PKEY_EC) {
        const unsigned char *cursor = der;
        ECDSA_SIG *signature = LIB.d2i_ECDSA_SIG(NULL, &cursor, (long)size);
        if (signature == NULL || capacity < 64) {
            if (signature != NULL) LIB.ECDSA_SIG_free(signature);
            goto done;
        }
        const BIGNUM *r = NULL, *s = NULL;
        LIB.ECDSA_SIG_get0(signature, &r, &s);
        if (LIB.BN_bn2binpad(r, out, 32) == 32 && LIB.BN_bn2binpad(s, out + 32, 32) == 32) result = 64;
        LIB.ECDSA_SIG_free(signature);
    } else {
        if (size <= capacity) { memcpy(out, der, size); result = (int)size; }
    }
done:
    free(der);
    LIB.EVP_MD_CTX_free(context);
    return result;
}

int cdns_make_csr(struct evp_pkey_st *key, const char *common_name, const char *names, unsigned char **out, size_t *length) {
    int ok = 0;
    X509_REQ *request = LIB.X509_REQ_new();
    OPENSSL_STACK *extensions = LIB.OPENSSL_sk_new_null();
    X509_EXTENSION *san = NULL;
    if (request == NULL || extensions == NULL) goto done;
    if (LIB.X509_REQ_set_version(request, 0) != 1) goto done;
    X509_NAME *subject = LIB.X509_REQ_get_subject_name(request);
    if (LIB.X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, (const unsigned char *)common_name, -1, -1, 0) != 1) goto done;
    if (LIB.X509_REQ_set_pubkey(request, key) != 1) goto done;
    san = LIB.X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, names);
    if (san == NULL || LIB.OPENSSL_sk_push(extensions, san) == 0) goto done;
    san = NULL;
    if (LIB.X509_REQ_add_extensions(request, (const STACK_OF(X509_EXTENSION) *)extensions) != 1) goto done;
    if (LIB.X509_REQ_sign(request, key, LIB.EVP_sha256()) <= 0) goto done;
    int size = LIB.i2d_X509_REQ(request, NULL);
    if (size <= 0) goto done;
    *out = (unsigned char *)malloc((size_t)size);
    if (*out == NULL) goto done;
    unsigned char *cursor = *out;
    LIB.i2d_X509_REQ(request, &cursor);
    *length = (size_t)size;
    ok = 1;
done:
    if (san != NULL) LIB.X509_EXTENSION_free(san);
    if (extensions != NULL) LIB.OPENSSL_sk_pop_free(extensions, (OPENSSL_sk_freefunc)LIB.X509_EXTENSION_free);
    if (request != NULL) LIB.X509_REQ_free(request);
    return ok;
}

static long long asn1_time(const ASN1_TIME *time) {
    struct tm parsed;
    if (time == NULL || LIB.ASN1_TIME_to_tm(time, &parsed) != 1) return 0;
    return (long long)timegm(&parsed);
}

int cdns_certificate_info_from_pem(const unsigned char *pem, size_t length, cdns_certificate_info *info) {
    if (!cdns_libcrypto_ready()) return 0;
    BIO *bio = LIB.BIO_new_mem_buf(pem, (int)length);
    if (bio == NULL) return 0;
    X509 *certificate = LIB.PEM_read_bio_X509(bio, NULL, NULL, NULL);
    LIB.BIO_free(bio);
    if (certificate == NULL) return 0;
    memset(info, 0, sizeof(*info));
    info->not_before = asn1_time(LIB.X509_get0_notBefore(certificate));
    info->not_after = asn1_time(LIB.X509_get0_notAfter(certificate));
    const ASN1_INTEGER *serial = LIB.X509_get0_serialNumber(certificate);
    int serial_length = LIB.ASN1_STRING_length(serial);
    if (serial_length > 0 && serial_length <= 64) {
        memcpy(info->serial, LIB.ASN1_STRING_get0_data(serial), (size_t)serial_length);
        info->serial_length = serial_length;
    }
    const ASN1_OCTET_STRING *aki = LIB.X509_get0_authority_key_id(certificate);
    if (aki != NULL && LIB.ASN1_STRING_length(aki) <= 64) {
        memcpy(info->authority_key_id, LIB.ASN1_STRING_get0_data(aki), (size_t)LIB.ASN1_STRING_length(aki));
        info->authority_key_id_length = LIB.ASN1_STRING_length(aki);
    }
    LIB.X509_free(certificate);
    return 1;
}

void cdns_last_error(char *out, size_t capacity) {
    const char *load_error = cdns_crypto_load_error();
    if (load_error != NULL) { snprintf(out, capacity, "%s", load_error); return; }
    unsigned long code = LIB.ERR_get_error();
    if (code == 0) { snprintf(out, capacity, "no OpenSSL error queued"); return; }
    LIB.ERR_error_string_n(code, out, capacity);
}

int cdns_hmac(int digest, const unsigned char *key, size_t key_length, const unsigned char *data, size_t length, unsigned char *out) {
    if (!cdns_libcrypto_ready()) return -1;
    const EVP_MD *md = NULL;
    switch (digest) {
    case 0: md = LIB.EVP_md5(); break;
    case 1: md = LIB.EVP_sha1(); break;
    case 2: md = LIB.EVP_sha224(); break;
    case 3: md = LIB.EVP_sha256(); break;
    case 4: md = LIB.EVP_sha384(); break;
    case 5: md = LIB.EVP_sha512(); break;
    default: return -1;
    }
    static const unsigned char empty = 0;
    unsigned int size = 0;
    if (LIB.HMAC(md, key_length ? key : &empty, (int)key_length, length ? data : &empty, length, out, &size) == NULL) return -1;
    return (int)size;
}

int cdns_constant_time_compare(const unsigned char *a, const unsigned char *b, size_t length) {
    if (!cdns_libcrypto_ready()) return -1;
    return LIB.CRYPTO_memcmp(a, b, length);
}
