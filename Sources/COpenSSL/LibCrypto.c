#include "LibCrypto.h"
#include "COpenSSL.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

struct cdns_libcrypto cdns_crypto;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int loaded;
static char load_error[256];

static void load(void) {
    // RTLD_LOCAL: its symbols stay out of the global scope, where the BoringSSL inside
    // swift-nio-ssl and swift-crypto lives under prefixed names anyway.
    void *library = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        const char *reason = dlerror();
        snprintf(load_error, sizeof load_error, "cannot load libcrypto.so.3 (install libssl3): %s", reason ? reason : "unknown error");
        return;
    }
#define CDNS_LIBCRYPTO_RESOLVE(name) \
    cdns_crypto.name = (__typeof__(&name))dlsym(library, #name); \
    if (cdns_crypto.name == NULL) { \
        snprintf(load_error, sizeof load_error, "libcrypto.so.3 has no %s", #name); \
        return; \
    }
    CDNS_LIBCRYPTO_FUNCTIONS(CDNS_LIBCRYPTO_RESOLVE)
#undef CDNS_LIBCRYPTO_RESOLVE
    loaded = 1;
}

int cdns_libcrypto_ready(void) {
    pthread_once(&load_once, load);
    return loaded;
}

const char *cdns_crypto_load_error(void) {
    return cdns_libcrypto_ready() ? NULL : load_error;
}
