/*
 * tls.c -- HTTPS: an OpenSSL server context from --tls-cert/--tls-key, and the TLS session of
 * each accepted connection, read and written without blocking (conn.c calls these in place of
 * recv and send when the server has TLS).
 */
#include <limits.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "log.h"
#include "conn.h"
#include "tls.h"

static void log_ssl_error(const char *what, const char *file) {
    char buf[256];
    unsigned long e = ERR_get_error();
    ERR_error_string_n(e, buf, sizeof(buf));
    srv_log(SRV_LOG_ERROR, what, json_pack("{s:s, s:s}", "file", file, "error", buf));
}

int srv_tls_init(srv_t *srv) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        log_ssl_error("cannot create the TLS context", "");
        return -1;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_use_certificate_chain_file(ctx, srv->cfg->tls_cert) != 1) {
        log_ssl_error("cannot load the TLS certificate", srv->cfg->tls_cert);
        SSL_CTX_free(ctx);
        return -1;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, srv->cfg->tls_key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        log_ssl_error("cannot load the TLS key (or it does not match the certificate)",
                      srv->cfg->tls_key);
        SSL_CTX_free(ctx);
        return -1;
    }
    srv->ssl_ctx = ctx;
    return 0;
}

void srv_tls_free(srv_t *srv) {
    if (srv->ssl_ctx != NULL) {
        SSL_CTX_free(srv->ssl_ctx);
        srv->ssl_ctx = NULL;
    }
}

void *srv_tls_session_new(srv_t *srv, int fd) {
    SSL *ssl = SSL_new(srv->ssl_ctx);
    if (ssl == NULL) {
        return NULL;
    }
    if (SSL_set_fd(ssl, fd) != 1) {
        SSL_free(ssl);
        return NULL;
    }
    /* The output buffer hands SSL_write pieces that may move between retries. */
    SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_set_accept_state(ssl);
    return ssl;
}

/* The outcome of an SSL_read or SSL_write that returned n <= 0. */
static ssize_t io_result(SSL *ssl, int n, int *want) {
    switch (SSL_get_error(ssl, n)) {
    case SSL_ERROR_WANT_READ: *want = EV_READ; return SRV_IO_AGAIN;
    case SSL_ERROR_WANT_WRITE: *want = EV_WRITE; return SRV_IO_AGAIN;
    case SSL_ERROR_ZERO_RETURN: return 0;
    default: ERR_clear_error(); return SRV_IO_ERROR;
    }
}

ssize_t srv_tls_read(void *session, void *buf, size_t cap, int *want) {
    SSL *ssl = session;
    int n = SSL_read(ssl, buf, cap > INT_MAX ? INT_MAX : (int)cap);
    return n > 0 ? n : io_result(ssl, n, want);
}

ssize_t srv_tls_write(void *session, const void *buf, size_t len, int *want) {
    SSL *ssl = session;
    int n = SSL_write(ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
    return n > 0 ? n : io_result(ssl, n, want);
}

void srv_tls_session_free(void *session, bool clean) {
    SSL *ssl = session;
    if (ssl == NULL) {
        return;
    }
    if (clean) {
        SSL_shutdown(ssl); /* best effort: one close_notify, no waiting for the peer's */
    }
    SSL_free(ssl);
    ERR_clear_error();
}
