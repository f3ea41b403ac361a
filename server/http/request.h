/*
 * request.h -- one HTTP/1.1 request read from a connection's input, within the limits
 * (request.c).
 */
#ifndef STELE_SERVER_HTTP_REQUEST_H
#define STELE_SERVER_HTTP_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>

#include "../core/config.h"
#include "../core/conn.h"

typedef struct srv_req srv_req_t;

typedef enum srv_method {
    SRV_UNKNOWN = 0, /* a token that is no HTTP method: 405 */
    SRV_GET,
    SRV_HEAD,
    SRV_POST,
    SRV_PUT,
    SRV_DELETE,
    SRV_OTHER, /* a method no route serves: 405 */
} srv_method_t;

typedef struct srv_header {
    const char *name;
    const char *value;
} srv_header_t;

struct srv_req {
    srv_conn_t *conn; /* NULL when the connection is gone */
    srv_method_t method;
    const char *method_name;
    int minor;         /* HTTP/1.minor */
    char *head;        /* request line and headers, split in place (owned) */
    char *path;        /* percent-encoded, without the query */
    const char *query; /* after '?', or NULL */
    srv_header_t *headers;
    size_t nheaders;
    char *body; /* NUL-terminated (owned); NULL when empty */
    size_t body_len, body_cap;
    uint64_t content_length, chunk_left;
    size_t trailer_bytes;
    size_t head_scanned; /* bytes already searched for the end of the head */
    uint64_t
        start_ns; /* its first bytes arrived (monotonic): it must be whole within the timeout */
    int body_state;
    bool chunked, keep_alive, want_continue, continue_sent, head_done;
    bool dispatched;              /* handed to a route: it answers */
    bool streaming;               /* an SSE response in progress */
    struct evbuffer *out_headers; /* response headers added by the route */
    const char *ticket; /* GET /subscribe?ticket=: the identity instead of a token (auth.c) */
};

/* Why a request cannot be read: the status and error code to answer with. */
typedef struct srv_req_error {
    int status;
    const char *code;
    char message[256];
} srv_req_error_t;

enum { SRV_REQ_ERROR = -1, SRV_REQ_OK = 0, SRV_REQ_INCOMPLETE = 1 };

srv_req_t *srv_req_new(srv_conn_t *conn);
void srv_req_free(srv_req_t *req);
/* Take the request's bytes from `in` as they arrive: SRV_REQ_OK when it is complete (head and
 * body), SRV_REQ_INCOMPLETE when more is needed, SRV_REQ_ERROR with *e filled. */
int srv_req_feed(srv_req_t *req, struct evbuffer *in, const struct srv_config *cfg,
                 srv_req_error_t *e);
srv_method_t srv_req_method(const srv_req_t *req);
/* The first header of that name (case-insensitive), or NULL. */
const char *srv_req_header(const srv_req_t *req, const char *name);
/* Add a header to the response (no-op when req is NULL). */
void srv_req_add_header(srv_req_t *req, const char *name, const char *value);

#endif /* STELE_SERVER_HTTP_REQUEST_H */
