#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/md5.h>
#include <openssl/crypto.h>
/* Function-like macros are not imported into Swift; wrap the ones we need. */
static inline long copenssl_ctx_set_min_proto(SSL_CTX *ctx, int version) {
    return SSL_CTX_set_min_proto_version(ctx, version);
}
#include <openssl/x509.h>
#include <openssl/x509v3.h>
static inline long copenssl_ctx_set_max_proto(SSL_CTX *ctx, int version) {
    return SSL_CTX_set_max_proto_version(ctx, version);
}
static inline long copenssl_set_tlsext_host_name(SSL *ssl, const char *name) {
    return SSL_set_tlsext_host_name(ssl, name);
}
/* Partial writes (SSL_write returns what one record took) and a retry from a buffer that may
   have moved (our outbound buffer grows): the non-blocking write contract of Connection. */
static inline long copenssl_ctx_set_nonblocking_write_modes(SSL_CTX *ctx) {
    return SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER
                                 | SSL_MODE_RELEASE_BUFFERS);
}
/* A peer that closes without close_notify (libpq, most drivers) is an end of file, not an error;
   no renegotiation; TLS compression off (CRIME). */
static inline uint64_t copenssl_ctx_set_default_options(SSL_CTX *ctx) {
    return SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION
                                    | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
}
static inline int copenssl_tls1_2_version(void) { return TLS1_2_VERSION; }
static inline int copenssl_tls1_3_version(void) { return TLS1_3_VERSION; }
