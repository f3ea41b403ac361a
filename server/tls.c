/*
 * tls.c -- HTTPS: an OpenSSL server context from --tls-cert/--tls-key, and the bufferevent
 * callback through which evhttp wraps every accepted connection in TLS (bufferevent_openssl).
 */
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>

#include "server.h"

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

struct bufferevent *srv_tls_bevcb(struct event_base *base, void *arg) {
    srv_t *srv = arg;
    SSL *ssl = SSL_new(srv->ssl_ctx);
    if (ssl == NULL) {
        return NULL;
    }
    struct bufferevent *bev = bufferevent_openssl_socket_new(
        base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL) {
        SSL_free(ssl);
    }
    return bev;
}
