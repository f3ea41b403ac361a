/*
 * reply.h -- the HTTP side above the connections (http.c): the listener, routing of a request
 * to its handler, replies with their stable error codes, query strings and bodies.
 */
#ifndef STELE_SERVER_HTTP_REPLY_H
#define STELE_SERVER_HTTP_REPLY_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "request.h"

/* A complete request read by session.c: route it. Every route answers exactly once. */
void srv_http_dispatch(srv_t *srv, srv_req_t *req);

/* Replies. Each counts the request in the metrics. body is stolen. */
void srv_reply_json(srv_t *srv, srv_req_t *req, int status, json_t *body);
void srv_reply_buffer(srv_t *srv, srv_req_t *req, int status, struct evbuffer *body,
                      const char *content_type);
void srv_reply_empty(srv_t *srv, srv_req_t *req, int status);
/* {"error": code, "message": ...} with the status of the code. extra (may be NULL, stolen) adds
 * keys. */
void srv_reply_error(srv_t *srv, srv_req_t *req, const char *code, json_t *extra, const char *fmt,
                     ...) __attribute__((format(printf, 5, 6)));
/* The error for a libstele code; detail names the problem (NULL = stele_errdetail()). */
void srv_reply_stele_error(srv_t *srv, srv_req_t *req, int rc, const char *detail, json_t *extra);
/* Request helpers. */
typedef struct srv_query {
    struct evkeyvalq kv;
} srv_query_t;
/* Parse the query string; only the names in allowed (NULL-terminated) may appear, each at most
 * once. Returns 0, or -1 after replying 400 naming the parameter. The dispatcher calls it with
 * the route's parameters from the routing table (http.c). */
int srv_query_parse(srv_t *srv, srv_req_t *req, const char *const *allowed, srv_query_t *q);
void srv_query_free(srv_query_t *q);
const char *srv_query_get(const srv_query_t *q, const char *name);
/* A non-negative decimal number; 0 or -1 after replying 400 naming the parameter. */
int srv_query_u64(srv_t *srv, srv_req_t *req, const srv_query_t *q, const char *name,
                  uint64_t deflt, uint64_t *out);
/* "true"/"false"/"1"/"0" (absent = false). */
int srv_query_bool(srv_t *srv, srv_req_t *req, const srv_query_t *q, const char *name, bool *out);
/* The request body as JSON (checks Content-Type). Returns the value or NULL after replying. The
 * body bytes are copied to *raw (malloc'ed, NUL-terminated) when raw is not NULL. */
json_t *srv_body_json(srv_t *srv, srv_req_t *req, char **raw, size_t *raw_len);
/* The parts of srv_body_json(): the body text (Content-Type checked, no raw NUL; malloc'ed and
 * NUL-terminated, taken from req) or -1 after replying; and its parse, NULL after replying. */
int srv_body_text(srv_t *srv, srv_req_t *req, char **text, size_t *len);
json_t *srv_body_parse(srv_t *srv, srv_req_t *req, const char *text, size_t len);

#endif /* STELE_SERVER_HTTP_REPLY_H */
