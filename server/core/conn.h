/*
 * conn.h -- the connections of steled (conn.c): accepting, non-blocking I/O (plain or TLS),
 * limits, idle sweeps and closing, behind a small protocol interface (srv_proto_t): the core
 * tells a protocol that bytes came in, that the output drained, that the connection closed; the
 * protocol (http/session.c, later grpc/) reads c->in, writes c->out and owns what they mean.
 */
#ifndef STELE_SERVER_CONN_H
#define STELE_SERVER_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <sys/socket.h>

#include "srv.h"

typedef struct srv_pending srv_pending_t;

/* Results of a non-blocking read or write besides a byte count (0 = end of stream). */
#define SRV_IO_AGAIN (-2)
#define SRV_IO_ERROR (-1)

/* What a protocol does with its connections. Each callback runs on the loop thread, from the
 * connection's own event callbacks or the sweep, where the core may free the connection after it
 * returns; the protocol never frees one itself (it sets c->broken or c->close_after_write and
 * pokes it). */
typedef struct srv_proto {
    const char *name;
    /* A connection was accepted: set up c->proto_state. 0, or -1 to close it (no memory). */
    int (*open)(srv_conn_t *c);
    /* The connection's callback ran (bytes may have arrived in c->in, c->eof may be set): take
     * what is complete and answer what can be answered now. */
    void (*input)(srv_conn_t *c);
    /* Everything that was waiting in c->out reached the socket: a stream may send more. */
    void (*drained)(srv_conn_t *c);
    /* The connection is being freed (its pending wait already cut): release c->proto_state. */
    void (*closed)(srv_conn_t *c);
    /* Does a request wait for its answer (from another thread)? Such a connection is not closed
     * at the client's end of stream nor for idleness. */
    bool (*busy)(const srv_conn_t *c);
    /* Once a second: the protocol's timeouts (it may answer). false: close the connection now. */
    bool (*sweep)(srv_conn_t *c, uint64_t now_ns);
    /* Bytes held for the client besides c->in (request bodies being read), for the metrics. */
    uint64_t (*held_bytes)(const srv_conn_t *c);
    /* The bytes that refuse a connection the server does not take (code "too_many_requests" or
     * "unavailable", and a message), written into out; their length, 0 for none. */
    size_t (*refusal)(char *out, size_t cap, const char *code, const char *message);
} srv_proto_t;

struct srv_conn {
    srv_conn_t *prev, *next; /* every open connection */
    srv_t *srv;
    const srv_proto_t *proto;
    void *proto_state; /* the protocol's own (open() to closed()) */
    int fd;
    void *tls; /* the TLS session, NULL for plain TCP */
    struct event *rev, *wev;
    struct evbuffer *in, *out;
    srv_pending_t *pending; /* its wait for another thread, if any */
    uint64_t last_active_ns;
    bool eof, broken, close_after_write, write_armed, read_paused, busy;
    bool output_paused; /* unsent output over --output-buffer-bytes: no new request is read */
    bool over_limit;    /* beyond --max-connections: the protocol refuses its first request */
    uint64_t accepted_ns;
    bool tls_read_wants_write, tls_write_wants_read;
};

/* Listen on sa; every accepted connection speaks proto. */
int srv_conn_listen(srv_t *srv, const struct sockaddr *sa, int salen, const srv_proto_t *proto);
/* Resolve host (numeric or a name) and listen on port (0: any free port; *bound_port is the
 * port bound). Returns 0 or -1 after logging why. */
int srv_conn_listen_at(srv_t *srv, const char *host, uint16_t port, const srv_proto_t *proto,
                       uint16_t *bound_port);
int srv_conn_listen_fd(const srv_t *srv);
void srv_conn_stop_accepting(srv_t *srv);
/* Close every connection (shutdown), writing what each has pending first, best effort. */
void srv_conn_close_all(srv_t *srv);
/* Write what the socket takes of c->out now. Sets c->broken on an error. */
void srv_conn_flush(srv_conn_t *c);
/* Something outside c's callbacks (an answer, a stream's write) changed c: settle it from its
 * read callback, where freeing it is safe (no-op while c's callback runs: it settles after). */
void srv_conn_poke(srv_conn_t *c);
/* Wait for the socket to take c->out (arms the write event once). */
void srv_conn_want_write(srv_conn_t *c);
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
