/*
 * tls.h -- the OpenSSL context and each connection's TLS session (tls.c).
 */
#ifndef STELE_SERVER_TLS_H
#define STELE_SERVER_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "srv.h"

/* Load cert and key; sets srv->ssl_ctx. 0 or -1. */
int srv_tls_init(srv_t *srv);
void srv_tls_free(srv_t *srv);
/* The TLS session of an accepted socket (server side), or NULL. */
void *srv_tls_session_new(srv_t *srv, int fd);
/* Like recv/send: a byte count, 0 at the end of the stream (read), SRV_IO_ERROR, or SRV_IO_AGAIN
 * with *want = EV_READ or EV_WRITE: what the session waits for. */
ssize_t srv_tls_read(void *session, void *buf, size_t cap, int *want);
ssize_t srv_tls_write(void *session, const void *buf, size_t len, int *want);
/* clean: send close_notify first. NULL is ignored. */
void srv_tls_session_free(void *session, bool clean);

#endif /* STELE_SERVER_TLS_H */
