// The OpenSSL 3 functions COpenSSL calls, resolved from libcrypto.so.3 at first use instead of
// at start-up: `cdns_crypto.NAME(...)` after `cdns_libcrypto_ready()` returned 1. Nothing in this
// target calls libcrypto directly (the package does not link it), so a function missing from
// this list fails the link instead of the run.
#ifndef CDNS_LIBCRYPTO_H
#define CDNS_LIBCRYPTO_H

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define CDNS_LIBCRYPTO_FUNCTIONS(X) \
    X(ASN1_STRING_get0_data) X(ASN1_STRING_length) X(ASN1_TIME_to_tm) \
    X(BIO_ctrl) X(BIO_free) X(BIO_new) X(BIO_new_mem_buf) X(BIO_s_mem) \
    X(BN_bn2binpad) X(BN_free) X(BN_num_bits) \
    X(CRYPTO_memcmp) \
    X(d2i_ECDSA_SIG) X(ECDSA_SIG_free) X(ECDSA_SIG_get0) \
    X(ERR_error_string_n) X(ERR_get_error) \
    X(EVP_DigestSign) X(EVP_DigestSignInit) X(EVP_MD_CTX_free) X(EVP_MD_CTX_new) \
    X(EVP_PKEY_free) X(EVP_PKEY_get_base_id) X(EVP_PKEY_get_bn_param) X(EVP_PKEY_Q_keygen) \
    X(EVP_md5) X(EVP_sha1) X(EVP_sha224) X(EVP_sha256) X(EVP_sha384) X(EVP_sha512) \
    X(HMAC) \
    X(i2d_X509_REQ) \
    X(OPENSSL_sk_new_null) X(OPENSSL_sk_pop_free) X(OPENSSL_sk_push) \
    X(PEM_read_bio_PrivateKey) X(PEM_read_bio_X509) X(PEM_write_bio_PrivateKey) \
    X(X509_EXTENSION_free) X(X509_NAME_add_entry_by_txt) X(X509_REQ_add_extensions) \
    X(X509_REQ_free) X(X509_REQ_get_subject_name) X(X509_REQ_new) X(X509_REQ_set_pubkey) \
    X(X509_REQ_set_version) X(X509_REQ_sign) X(X509_free) X(X509_get0_authority_key_id) \
    X(X509_get0_notAfter) X(X509_get0_notBefore) X(X509_get0_serialNumber) \
    X(X509V3_EXT_conf_nid)

struct cdns_libcrypto {
#define CDNS_LIBCRYPTO_POINTER(name) __typeof__(&name) name;
    CDNS_LIBCRYPTO_FUNCTIONS(CDNS_LIBCRYPTO_POINTER)
#undef CDNS_LIBCRYPTO_POINTER
};

/// Filled by the first `cdns_libcrypto_ready()`, read-only after.
extern struct cdns_libcrypto cdns_crypto;

/// Loads libcrypto.so.3 once (thread-safe); 1 when every function above was found.
int cdns_libcrypto_ready(void);

#endif
