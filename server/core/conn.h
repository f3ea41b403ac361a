/*
 * conn.h -- the connections of steled (conn.c): accepting, non-blocking I/O (plain or TLS),
 * keep-alive, limits, timeouts and closing.
 */
#ifndef STELE_SERVER_CONN_H
#define STELE_SERVER_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#include "srv.h"

typedef struct srv_req srv_req_t;
typedef struct srv_pending srv_pending_t;

/* Results of a non-blocking read or write besides a byte count (0 = end of stream). */
#define SRV_IO_AGAIN (-2)
#define SRV_IO_ERROR (-1)

struct srv_conn {
    srv_conn_t *prev, *next; /* every open connection */
    srv_t *srv;
    int fd;
    void *tls; /* the TLS session, NULL for plain HTTP */
    struct event *rev, *wev;
    struct evbuffer *in, *out;
    srv_req_t *req;         /* the request being read or answered */
    srv_pending_t *pending; /* its wait for another thread, if any */
    srv_sub_t *sub;         /* the SSE stream this connection carries, or NULL */
    uint64_t last_active_ns;
    bool eof, broken, close_after_write, write_armed, read_paused, busy;
    bool output_paused; /* unsent output over --output-buffer-bytes: no new request is read */
    bool over_limit;    /* beyond --max-connections: its first request gets 429 (conn.c) */
    uint64_t accepted_ns;
    bool tls_read_wants_write, tls_write_wants_read;
};

int srv_conn_listen(srv_t *srv, const struct sockaddr *sa, int salen);
int srv_conn_listen_fd(const srv_t *srv);
void srv_conn_stop_accepting(srv_t *srv);
/* Close every connection (shutdown), writing what each has pending first, best effort. */
void srv_conn_close_all(srv_t *srv);
/* Write the response to req (freed) on its connection; closes after it when it must. */
void srv_conn_respond(srv_t *srv, srv_req_t *req, int status, const char *reason,
                      const char *content_type, struct evbuffer *body);
/* A streamed 200 response (SSE): headers now, then chunks, then the end (the connection closes
 * after it). req stays with its connection until the end. */
int srv_conn_stream_start(srv_t *srv, srv_req_t *req, const char *content_type);
void srv_conn_stream_write(srv_req_t *req, struct evbuffer *chunk);
void srv_conn_stream_end(srv_req_t *req);
size_t srv_conn_output_length(const srv_conn_t *c);
/* No connection has output waiting for its socket (shutdown). */
bool srv_conn_all_flushed(const srv_t *srv);

/* The memory the open connections hold for their clients, summed over all and the largest one
 * (for /metrics): unsent output, and input (read but not yet handled, plus request bodies). */
typedef struct srv_conn_memory {
    uint64_t output_bytes, output_max_bytes;
    uint64_t input_bytes, input_max_bytes;
    uint64_t output_paused; /* connections whose requests wait for their output to drain */
} srv_conn_memory_t;
void srv_conn_memory(const srv_t *srv, srv_conn_memory_t *m);

#endif /* STELE_SERVER_CONN_H */
