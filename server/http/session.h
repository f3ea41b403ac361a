/*
 * session.h -- HTTP/1.1 as a protocol of the core's connections (session.c): the protocol
 * object, and the answers written on a request's connection.
 */
#ifndef STELE_SERVER_HTTP_SESSION_H
#define STELE_SERVER_HTTP_SESSION_H

#include <event2/buffer.h>

#include "../core/conn.h"
#include "request.h"

/* What the listener's connections speak (srv_conn_listen). */
extern const srv_proto_t srv_http_proto;

/* Write the response to req (freed) on its connection; closes after it when it must. */
void srv_http_respond(srv_t *srv, srv_req_t *req, int status, const char *reason,
                      const char *content_type, struct evbuffer *body);
/* A streamed 200 response (SSE): headers now, then chunks, then the end (the connection closes
 * after it). req stays with its connection until the end. */
int srv_http_stream_start(srv_t *srv, srv_req_t *req, const char *content_type);
void srv_http_stream_write(srv_req_t *req, struct evbuffer *chunk);
void srv_http_stream_end(srv_req_t *req);
/* The subscription feed the connection carries (NULL: none). */
void srv_http_set_feed(srv_conn_t *c, srv_feed_t *feed);

#endif /* STELE_SERVER_HTTP_SESSION_H */
